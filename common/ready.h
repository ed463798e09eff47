/* ready: the /readyz check every daemon shares: PostgreSQL answers and its
 * schema is at the version this build expects. Uses its own connection, so
 * HTTP threads never touch a main loop's. Not liveness (that is /healthz). */
#ifndef LINDUNG_READY_H
#define LINDUNG_READY_H
#include <stdbool.h>
#include <stddef.h>

/* The highest migration in db/migrations this build knows. */
#define LINDUNG_SCHEMA_VERSION 2

typedef struct ready_t ready_t;

ready_t *ready_new(const char *conninfo);
void ready_destroy(ready_t **self_p);
/* An httpd_ready_fn: arg is a ready_t. */
bool ready_check(void *arg, char *why, size_t whycap);
#endif
