/* ready: the /readyz check every daemon shares: PostgreSQL answers and its
 * schema is at the version this build expects. Uses its own connection, so
 * HTTP threads never touch a main loop's, and reconnects within the probe
 * when PostgreSQL has restarted. Not liveness (that is /healthz). */
#ifndef LINDUNG_READY_H
#define LINDUNG_READY_H
#include <stdbool.h>
#include <stddef.h>

/* LINDUNG_SCHEMA_VERSION, the highest migration in db/migrations, is set by
 * CMake from the file names, so adding a migration cannot forget to bump it. */
#ifndef LINDUNG_SCHEMA_VERSION
#error "LINDUNG_SCHEMA_VERSION must be defined by the build"
#endif

typedef struct ready_t ready_t;

struct bus_t;

/* NULL when out of memory. */
ready_t *ready_new(const char *conninfo);
/* Also require this bus to be ready (its peer connected, when it connects). */
void ready_watch(ready_t *self, struct bus_t *bus);
void ready_destroy(ready_t **self_p);
/* An httpd_ready_fn: arg is a ready_t. Ready: the database answers, is a
 * primary at the schema this build needs, and every watched bus is ready;
 * then `text` names the database server ("host:port"), else says why not. */
bool ready_check(void *arg, char *text, size_t cap);
#endif
