/* api: the HTTP routes of lindung-intake (docs/api.md). Each worker thread
 * keeps its own database connection. Not the HTTP server (common/httpd). */
#ifndef LINDUNG_API_H
#define LINDUNG_API_H
#include "auth.h"
#include "bus.h"
#include "db.h"
#include "httpd.h"
#include "metrics.h"

typedef struct {
    const char *conninfo;
    bus_t *bus; /* submission.received goes here */
    metrics_t *metrics;
    int db_answer_ms; /* LINDUNG_DB_ANSWER_TIMEOUT_S: a statement's answer, at most */
} api_t;

/* This worker thread's database connection. */
db_t *api_db(api_t *api);
/* Check the bearer key (or take the one api_admit found in the request
 * head); on failure the 401/503 answer is already in res. */
bool api_authenticate(db_t *db, const http_request_t *req, http_response_t *res,
                      auth_t *auth);
/* Answer 503 when the database is gone, 500 otherwise; nothing was written. */
void api_db_failure(db_t *db, http_response_t *res);

void api_handle(const http_request_t *req, http_response_t *res, void *arg);
/* An httpd_admit_fn: reads a body only for a route that takes one, with a
 * good key and a media type the route takes; the key found is kept for the
 * handler (api_authenticate). */
bool api_admit(const http_request_t *req, http_response_t *res, void **keep, void *arg);
#endif
