/* control: the request/reply socket operators use (lindungctl billing run).
 * Requests and replies are JSON: {"command": "run", "period": "YYYY-MM"}.
 * Not the bus: control is for people and tools, the bus for daemons. */
#ifndef LINDUNG_CONTROL_H
#define LINDUNG_CONTROL_H
#include "db.h"
#include "metrics.h"

typedef struct control_t control_t;

control_t *control_new(void *zmq_ctx, const char *endpoint, char *err, size_t errcap);
void control_destroy(control_t **self_p);
void *control_socket(control_t *self);

/* Answer one waiting request, if any. */
void control_serve(control_t *self, db_t *db, metrics_t *metrics);
#endif
