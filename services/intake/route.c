/* route: the request layer beneath intake's route modules (route.h). Each
 * worker thread keeps its own database connection, made on its first
 * request and closed when the thread ends. The second sessions that big
 * batches of life events use for their second part are a small pool shared
 * by all threads (ROUTE_SECOND_SESSIONS), kept between batches. */
#include "route.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fields.h"
#include "log.h"
#include "pgjson.h"

/* A worker thread's connection, closed when the thread ends. */
static pthread_key_t db_key;
static pthread_once_t db_key_once = PTHREAD_ONCE_INIT;

/* The pool of second sessions: those free, and how many exist. A session
 * per thread would hold up to LINDUNG_INTAKE_THREADS more connections for
 * good, idle between batches, and could keep a thread's first session from
 * being made (a review found requests answered 503 so). */
static pthread_mutex_t second_lock = PTHREAD_MUTEX_INITIALIZER;
static db_t *second_free[ROUTE_SECOND_SESSIONS];
static time_t second_free_since[ROUTE_SECOND_SESSIONS];
static int second_free_n, second_made;

static void db_key_free(void *p)
{
    db_t *db = p;
    db_destroy(&db);
}

static void db_key_make(void)
{
    pthread_key_create(&db_key, db_key_free);
}

db_t *route_db(route_ctx_t *ctx)
{
    pthread_once(&db_key_once, db_key_make);
    db_t *db = pthread_getspecific(db_key);
    if (!db) {
        db = db_new(ctx->conninfo);
        if (db)
            db_set_answer_timeout(db, ctx->db_answer_ms);
        pthread_setspecific(db_key, db);
    }
    return db;
}

db_t *route_second_take(route_ctx_t *ctx)
{
    db_t *db = NULL;
    bool make = false;
    pthread_mutex_lock(&second_lock);
    if (second_free_n > 0)
        db = second_free[--second_free_n];
    else if (second_made < ROUTE_SECOND_SESSIONS)
        make = true, second_made++;
    pthread_mutex_unlock(&second_lock);
    if (!make)
        return db;
    db = db_new(ctx->conninfo);
    if (db) {
        db_set_answer_timeout(db, ctx->db_answer_ms);
        return db;
    }
    pthread_mutex_lock(&second_lock);
    second_made--;
    pthread_mutex_unlock(&second_lock);
    return NULL;
}

void route_second_give(db_t *db)
{
    if (!db)
        return;
    pthread_mutex_lock(&second_lock);
    if (second_free_n < ROUTE_SECOND_SESSIONS) {
        second_free_since[second_free_n] = time(NULL);
        second_free[second_free_n++] = db;
        db = NULL;
    }
    pthread_mutex_unlock(&second_lock);
    db_destroy(&db); /* (never: at most ROUTE_SECOND_SESSIONS exist) */
}

void route_second_trim(int idle_s)
{
    time_t now = time(NULL);
    pthread_mutex_lock(&second_lock);
    /* the oldest are first: a stack, given back last on top */
    int keep = 0;
    for (int i = 0; i < second_free_n; i++) {
        if (now - second_free_since[i] >= idle_s) {
            db_destroy(&second_free[i]);
            second_made--;
        } else {
            second_free_since[keep] = second_free_since[i];
            second_free[keep++] = second_free[i];
        }
    }
    second_free_n = keep;
    pthread_mutex_unlock(&second_lock);
}

void route_second_close(void)
{
    pthread_mutex_lock(&second_lock);
    while (second_free_n > 0)
        db_destroy(&second_free[--second_free_n]);
    second_made = 0;
    pthread_mutex_unlock(&second_lock);
}

void route_db_failure(db_t *db, http_response_t *res)
{
    if (db_timed_out(db)) {
        http_response_error(res, 503, "DATABASE_UNAVAILABLE",
                            "the database did not answer in time; what was sent may have "
                            "been stored: retry with the same Idempotency-Key",
                            NULL);
        return;
    }
    if (db_lost(db)) {
        http_response_error(res, 503, "DATABASE_UNAVAILABLE",
                            "the database is unavailable; nothing was stored, try again",
                            NULL);
        return;
    }
    log_error("db.error", "detail", db_error(db));
    http_response_error(res, 500, "INTERNAL", "internal error; nothing was stored", NULL);
}

bool route_authenticate(db_t *db, const http_request_t *req, http_response_t *res,
                        auth_t *auth)
{
    auth_result_t result;
    if (req->admitted) { /* checked from the request head: api_admit */
        const admission_t *adm = req->admitted;
        result = adm->result;
        *auth = adm->auth;
    } else {
        result = auth_check(db, http_request_header(req, "Authorization"), auth);
    }
    switch (result) {
    case AUTH_OK:
        return true;
    case AUTH_MISSING:
        http_response_unauthenticated(res, NULL,
                                      "send an API key as 'Authorization: Bearer <key>'");
        return false;
    case AUTH_INVALID:
        http_response_unauthenticated(res, "invalid_token", "unknown or revoked API key");
        return false;
    case AUTH_UNAVAILABLE:
        route_db_failure(db, res);
        return false;
    }
    return false;
}

void route_out_of_memory(http_response_t *res)
{
    http_response_error(res, 500, "INTERNAL",
                        "the server ran out of memory; nothing was stored", NULL);
}

void route_answer_json(http_response_t *res, int status, cJSON *doc)
{
    if (doc)
        http_response_json(res, status, doc);
    else
        route_out_of_memory(res);
}

void route_answer_error(http_response_t *res, int status, const char *code,
                        const char *message, cJSON *details)
{
    if (fields_errors_whole(details)) {
        http_response_error(res, status, code, message, details);
        return;
    }
    cJSON_Delete(details);
    route_out_of_memory(res);
}

cJSON *route_field_error(const char *field, const char *message)
{
    cJSON *list = cJSON_CreateArray();
    cJSON *e = cJSON_CreateObject();
    bool ok = e && cJSON_AddStringToObject(e, "field", field) &&
              cJSON_AddStringToObject(e, "message", message);
    return pgjson_whole(list, pgjson_append(list, pgjson_whole(e, ok)));
}

void route_page_limit(const http_request_t *req, cJSON *errors, char limit[8])
{
    const char *text = http_request_query(req, "limit");
    long n = text && fields_all_digits(text, 4) ? atol(text) : ROUTE_PAGE_DEFAULT;
    if (text && (!fields_all_digits(text, 4) || n < 1 || n > ROUTE_PAGE_MAX))
        fields_add_error(errors, "limit", "must be a whole number from 1 to 1000");
    snprintf(limit, 8, "%ld", n);
}

void route_page_id_cursor(const http_request_t *req, cJSON *errors, const char **cursor)
{
    *cursor = http_request_query(req, "cursor");
    if (*cursor && !fields_all_digits(*cursor, 18))
        fields_add_error(errors, "cursor", "must be a next_cursor from a previous page");
}

bool route_page_args(const http_request_t *req, http_response_t *res, char limit[8],
                     const char **cursor)
{
    const char *l = http_request_query(req, "limit");
    long n = ROUTE_PAGE_DEFAULT;
    if (l) {
        char *end = NULL;
        n = strtol(l, &end, 10);
        if (!*l || strspn(l, "0123456789") != strlen(l) || *end || n < 1 ||
            n > ROUTE_PAGE_MAX) {
            route_answer_error(
                res, 422, "INVALID_FIELDS", "the query has invalid fields",
                route_field_error("limit", "must be a whole number from 1 to 1000"));
            return false;
        }
    }
    snprintf(limit, 8, "%ld", n);
    const char *c = http_request_query(req, "cursor");
    *cursor = c ? c : "";
    if (strlen(*cursor) > 64) {
        route_answer_error(
            res, 422, "INVALID_FIELDS", "the query has invalid fields",
            route_field_error("cursor", "must be a next_cursor from a previous page"));
        return false;
    }
    return true;
}

void route_answer_page(http_response_t *res, cJSON *items, const char *last, bool full)
{
    cJSON *doc = cJSON_CreateObject();
    if (!doc) {
        cJSON_Delete(items);
        route_out_of_memory(res);
        return;
    }
    bool ok = pgjson_put(doc, "items", items) &&
              (full && last ? cJSON_AddStringToObject(doc, "next_cursor", last) != NULL
                            : cJSON_AddNullToObject(doc, "next_cursor") != NULL);
    route_answer_json(res, 200, pgjson_whole(doc, ok));
}

bool route_idempotency_key(const http_request_t *req, http_response_t *res,
                           const char **key)
{
    *key = http_request_header(req, "Idempotency-Key");
    if (!*key || (strlen(*key) > 0 && strlen(*key) <= FIELDS_MAX_IDEMPOTENCY_KEY &&
                  fields_text_ok(*key, strlen(*key))))
        return true;
    http_response_error(res, 400, "BAD_IDEMPOTENCY_KEY",
                        "Idempotency-Key must be 1 to 200 bytes of UTF-8 text", NULL);
    return false;
}
