/* route: what every route module of lindung-intake shares, beneath them
 * all: this worker thread's database connection, the key check (taking the
 * one api_admit made from the request head), the answer to a failed
 * statement, the one-entry list of a 422, and a paged list's limit, cursor
 * and answer. The route modules (submissions, invoices, claims, events,
 * reads, reports) include this and never api.h; api.c dispatches to them.
 * Not the HTTP server (common/httpd). */
#ifndef LINDUNG_ROUTE_H
#define LINDUNG_ROUTE_H
#include <cjson/cJSON.h>
#include <stdbool.h>
#include "auth.h"
#include "bus.h"
#include "db.h"
#include "httpd.h"
#include "metrics.h"

/* What the routes are given: one for the daemon, shared by its threads. */
typedef struct {
    const char *conninfo;
    bus_t *bus; /* submission.received goes here */
    metrics_t *metrics;
    int db_answer_ms; /* LINDUNG_DB_ANSWER_TIMEOUT_S: a statement's answer, at most */
    int events_split_from; /* LINDUNG_EVENTS_SPLIT_FROM: applied in two parts from here */
} route_ctx_t;

/* What api_admit learnt of a request's key from its head, for the handler
 * (http_request_t.admitted): the same answer, not a second look that may
 * differ (a database back between the two looks would let a handler read a
 * body never read). */
typedef struct {
    auth_result_t result;
    auth_t auth;
} admission_t;

/* This worker thread's database connection (NULL when out of memory). */
db_t *route_db(route_ctx_t *ctx);
/* Second sessions, for the second part of a big batch of life events
 * (eventparts.h): at most ROUTE_SECOND_SESSIONS for the whole daemon, kept
 * between batches (a new session is a new server process, which plans every
 * statement of the apply again). take gives one, or NULL when all are in
 * use or none can be made (the part is then applied after the first, on the
 * request's own session); give puts it back; close ends those free (at
 * shutdown). Connections: LINDUNG_INTAKE_THREADS + 1 (the sweep) + these. */
#define ROUTE_SECOND_SESSIONS 2
db_t *route_second_take(route_ctx_t *ctx);
void route_second_give(db_t *db);
/* Close the free second sessions unused for idle_s seconds or more (intake's
 * sweep: a session idle since the last big batch holds a connection the
 * threads' own sessions may need). */
void route_second_trim(int idle_s);
void route_second_close(void);

/* Check the bearer key, or take the admission_t api_admit left in
 * req->admitted; on failure the 401/503 answer is already in res. */
bool route_authenticate(db_t *db, const http_request_t *req, http_response_t *res,
                        auth_t *auth);

/* Answer 503 when the database is gone or late, 500 otherwise; nothing was
 * written. */
void route_db_failure(db_t *db, http_response_t *res);
/* 500 INTERNAL: the server ran out of memory and nothing was stored. */
void route_out_of_memory(http_response_t *res);
/* http_response_json, or route_out_of_memory when doc is NULL (it could
 * not be built). */
void route_answer_json(http_response_t *res, int status, cJSON *doc);
/* http_response_error with details (taken), or route_out_of_memory when
 * they are NULL or not whole (fields_errors_whole: out of memory). */
void route_answer_error(http_response_t *res, int status, const char *code,
                        const char *message, cJSON *details);

/* A 422's list of errors holding the one entry {"field", "message"}; NULL
 * when out of memory (route_answer_error answers it so). */
cJSON *route_field_error(const char *field, const char *message);
/* The request's Idempotency-Key in *key (NULL when none). False, with the
 * 400 BAD_IDEMPOTENCY_KEY answer in res, when it is empty or too long. */
bool route_idempotency_key(const http_request_t *req, http_response_t *res,
                           const char **key);

/* A list's page size (default 100, 1 to 1000) and its cursor (the id of the
 * previous page's last row, up to 18 digits), the query parameters `limit`
 * and `cursor` of the invoice and claim lists. A wrong one appends its entry
 * to `errors` (the default limit is written into `limit` all the same;
 * *cursor is NULL when absent). */
#define ROUTE_PAGE_DEFAULT 100
#define ROUTE_PAGE_MAX 1000
void route_page_limit(const http_request_t *req, cJSON *errors, char limit[8]);
void route_page_id_cursor(const http_request_t *req, cJSON *errors, const char **cursor);
/* The same two for the reads' lists, whose cursor is the text of the
 * previous page's last key (up to 64 bytes; "" when absent): false, with
 * the 422 answered, when either is wrong. */
bool route_page_args(const http_request_t *req, http_response_t *res, char limit[8],
                     const char **cursor);

/* Answer 200 {"items": items, "next_cursor": last}, next_cursor null unless
 * the page was full (another may follow) and last is not NULL. Takes items;
 * items NULL (out of memory) answers route_out_of_memory. */
void route_answer_page(http_response_t *res, cJSON *items, const char *last, bool full);
#endif
