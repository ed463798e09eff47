/* httpd: libmicrohttpd glue. A request that carries a body is looked at as
 * soon as its head is in: a Content-Length over the cap gets 413, a built-in
 * endpoint answers without the body, and the admit hook may answer (no key,
 * a wrong route or media type), all before a body byte is read; after such
 * an answer libmicrohttpd closes the connection rather than read on. A body
 * that is read goes into an anonymous mapping of its own, sized from
 * Content-Length when there is one and counted against one budget for all
 * connections; unmapping gives the memory straight back to the system,
 * where malloc would keep freed multi-megabyte blocks in its arenas. A body
 * that outgrows the cap or the budget is read on and discarded, up to as
 * much again, then answered 413 or 503, so the client hears why rather than
 * a reset. Deadlines and the connection limit are httpguard's; the idle
 * timeout is set because libmicrohttpd's default is none. With a
 * certificate and key, libmicrohttpd speaks TLS (GnuTLS) on the same
 * connections: httpguard's deadlines run from the TCP accept, so a TLS
 * handshake that never finishes is cut as a slow head is. */
#define _GNU_SOURCE /* mremap */
#include "httpd.h"
#include "utf8.h"
#include <errno.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>
#include "httpguard.h"
#include "log.h"

#define DEFAULT_MAX_CONNECTIONS 2048
#define DEFAULT_HEADER_TIMEOUT_S 10
#define DEFAULT_BUDGET_BODIES 8    /* the default budget, in bodies of the cap */
#define BODY_GRACE_S 30            /* before a body's minimum rate applies */
#define BODY_MIN_RATE 1024         /* bytes a second, averaged over the body */
#define BODY_FIRST_CAP (16 * 1024) /* a chunked body's first buffer */
#define POOL_BYTES (16 * 1024)     /* libmicrohttpd's memory per connection */
#define FD_RESERVE 128             /* descriptors for PostgreSQL, ZeroMQ, files */
#define WARN_EVERY_MS 60000        /* libmicrohttpd's messages: one warning a minute */
/* GnuTLS priorities: its usual ciphers, TLS 1.3 and 1.2 only. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct httpd_t {
    struct MHD_Daemon *mhd;
    httpd_config_t config;
    httpguard_t *guard;
    size_t body_cap;          /* largest body buffer: the cap and a NUL, in pages */
    _Atomic size_t body_held; /* bytes mapped for bodies, all connections */
    _Atomic int64_t warned_ms;
    _Atomic long unwarned;
};

typedef struct {
    char *buf; /* an anonymous mapping of cap bytes, or NULL */
    size_t len, cap;
    size_t seen;   /* body bytes received, kept or not */
    int refusal;   /* 413 or 503 once the rest of the body is discarded */
    bool answered; /* queued: nothing more to do for this request */
    void *admitted;
    char request_id[72];
    struct timespec started;
} upload_t;

/* What the head says of a body: none, a length, or chunks (length 0). */
typedef struct {
    bool present;
    size_t length;
} body_head_t;

static const double latency_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,   0.25,   0.5,   1,    2.5,   5};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *http_request_header(const http_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_request_query(const http_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

bool http_request_media_type_is(const http_request_t *req, const char *type)
{
    const char *ct = http_request_header(req, "Content-Type");
    size_t n = strlen(type);
    if (!ct || strncasecmp(ct, type, n) != 0)
        return false;
    const char *rest = ct + n;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    return *rest == '\0' || *rest == ';';
}

void http_response_text(http_response_t *res, int status, const char *content_type,
                        char *text, size_t len)
{
    free(res->body);
    res->status = status;
    res->content_type = content_type;
    res->body = text;
    res->body_len = len;
}

/* The answer when an answer could not be made: memory ran out. Copied, as
 * every body is freed with the response. */
static const char OUT_OF_MEMORY_BODY[] =
    "{\"error\":{\"code\":\"INTERNAL\",\"message\":\"the server ran out of memory "
    "while answering; a request that stores something may have been stored: retry it "
    "with the same Idempotency-Key\"}}";

void http_response_json(http_response_t *res, int status, cJSON *doc)
{
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (!text) {
        text = strdup(OUT_OF_MEMORY_BODY); /* an empty 500 if even this fails */
        status = 500;
    }
    http_response_text(res, status, "application/json", text, text ? strlen(text) : 0);
}

void http_response_error(http_response_t *res, int status, const char *code,
                         const char *message, cJSON *details)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *err = doc ? cJSON_AddObjectToObject(doc, "error") : NULL;
    bool whole = err && cJSON_AddStringToObject(err, "code", code) &&
                 cJSON_AddStringToObject(err, "message", message);
    bool kept = whole && details && cJSON_AddItemToObject(err, "details", details);
    if (details && !kept) {
        cJSON_Delete(details);
        whole = false; /* the error's details are part of the answer */
    }
    if (!whole) {
        cJSON_Delete(doc);
        doc = NULL; /* answered as out of memory */
    }
    http_response_json(res, status, doc);
}

bool http_response_header(http_response_t *res, const char *name, const char *value)
{
    if (strlen(value) >= sizeof res->headers[0].value)
        return false;
    int i = 0;
    while (i < res->header_count && strcasecmp(res->headers[i].name, name) != 0)
        i++;
    if (i == HTTP_RESPONSE_HEADERS)
        return false;
    res->headers[i].name = name;
    snprintf(res->headers[i].value, sizeof res->headers[i].value, "%s", value);
    if (i == res->header_count)
        res->header_count++;
    return true;
}

void http_response_unauthenticated(http_response_t *res, const char *error,
                                   const char *message)
{
    char challenge[96];
    snprintf(challenge, sizeof challenge, "Bearer realm=\"lindung\"%s%s%s",
             error ? ", error=\"" : "", error ? error : "", error ? "\"" : "");
    http_response_header(res, "WWW-Authenticate", challenge);
    http_response_error(res, 401, "UNAUTHENTICATED", message, NULL);
}

void http_response_method_not_allowed(http_response_t *res, const char *route,
                                      const char *allow, const char *message)
{
    res->route = route;
    http_response_header(res, "Allow", allow);
    http_response_error(res, 405, "METHOD_NOT_ALLOWED", message, NULL);
}

void http_response_not_found(http_response_t *res)
{
    res->route = "unmatched";
    http_response_error(res, 404, "NOT_FOUND", "no such endpoint", NULL);
}

/* ---------------------------------------------------------------- bodies */

static size_t page_round(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) / page * page;
}

static bool budget_take(httpd_t *self, size_t n)
{
    size_t held = atomic_fetch_add(&self->body_held, n) + n;
    if (held <= self->config.body_budget)
        return true;
    atomic_fetch_sub(&self->body_held, n);
    return false;
}

/* Resize the body's mapping to cap bytes (a whole number of pages). */
static bool body_map(httpd_t *self, upload_t *up, size_t cap)
{
    if (!budget_take(self, cap - up->cap))
        return false;
    void *p = up->buf ? mremap(up->buf, up->cap, cap, MREMAP_MAYMOVE)
                      : mmap(NULL, cap, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        atomic_fetch_sub(&self->body_held, cap - up->cap);
        return false;
    }
    up->buf = p;
    up->cap = cap;
    return true;
}

/* Room for `need` bytes, doubling (a chunked body's size shows as it comes). */
static bool body_reserve(httpd_t *self, upload_t *up, size_t need)
{
    if (need <= up->cap)
        return true;
    size_t cap = up->cap ? up->cap : BODY_FIRST_CAP;
    while (cap < need)
        cap *= 2;
    cap = page_round(cap);
    return body_map(self, up, cap < self->body_cap ? cap : self->body_cap);
}

static void body_free(httpd_t *self, upload_t *up)
{
    if (!up->buf)
        return;
    munmap(up->buf, up->cap);
    atomic_fetch_sub(&self->body_held, up->cap);
    up->buf = NULL;
    up->len = up->cap = 0;
}

/* Keep the next piece of a body. False to drop the connection: a refused
 * body went on for as long again as the cap. */
static bool upload_append(httpd_t *self, upload_t *up, const char *data, size_t size)
{
    up->seen += size;
    if (!up->refusal && up->len + size > self->config.max_body)
        up->refusal = 413;
    else if (!up->refusal && !body_reserve(self, up, up->len + size + 1))
        up->refusal = 503;
    if (up->refusal) {
        body_free(self, up); /* discarded from here on: give the memory back now */
        return up->seen <= 2 * self->config.max_body;
    }
    memcpy(up->buf + up->len, data, size);
    up->len += size;
    up->buf[up->len] = '\0';
    return true;
}

static body_head_t body_head(struct MHD_Connection *conn)
{
    body_head_t h = {0};
    if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding")) {
        h.present = true;
        return h;
    }
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (!cl)
        return h;
    errno = 0;
    unsigned long long n = strtoull(cl, NULL, 10);
    h.length = errno || n > SIZE_MAX ? SIZE_MAX : (size_t)n;
    h.present = h.length > 0;
    return h;
}

/* ---------------------------------------------------------------- answers */

static void answer_too_large(const httpd_t *self, http_response_t *res)
{
    char msg[128];
    snprintf(msg, sizeof msg, "request body is larger than %zu bytes",
             self->config.max_body);
    res->route = "too_large";
    http_response_error(res, 413, "BODY_TOO_LARGE", msg, NULL);
}

static void answer_busy(http_response_t *res)
{
    res->route = "busy";
    res->retry_after_s = 1;
    http_response_error(res, 503, "SERVER_BUSY",
                        "the server holds as many request bodies as it may; "
                        "try again in a moment",
                        NULL);
}

/* The built-in endpoints; false when the path is none of them. */
static bool builtin_endpoints(httpd_t *self, http_response_t *res, const char *path)
{
    if (strcmp(path, "/healthz") == 0) {
        res->route = "/healthz";
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "status", "ok");
        http_response_json(res, 200, doc);
    } else if (strcmp(path, "/readyz") == 0) {
        res->route = "/readyz";
        char text[256] = "";
        bool ready = !self->config.ready ||
                     self->config.ready(self->config.ready_arg, text, sizeof text);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "status", ready ? "ready" : "unready");
        if (text[0])
            cJSON_AddStringToObject(doc, ready ? "database" : "reason", text);
        http_response_json(res, ready ? 200 : 503, doc);
    } else if (strcmp(path, "/metrics") == 0 && self->config.metrics) {
        res->route = "/metrics";
        char *text = metrics_render(self->config.metrics);
        http_response_text(res, 200, "text/plain; version=0.0.4; charset=utf-8", text,
                           text ? strlen(text) : 0);
    } else {
        return false;
    }
    return true;
}

/* MHD's iterator over the query: stops at the first name or value that is
 * not UTF-8 (MHD has already decoded %XX). */
static enum MHD_Result query_value_ok(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    bool *ok = cls;
    if ((key && !utf8_valid(key, strlen(key))) ||
        (value && !utf8_valid(value, strlen(value))))
        *ok = false;
    return *ok ? MHD_YES : MHD_NO;
}

/* The path and every query parameter are text a handler may pass to
 * PostgreSQL as it is; %FF would otherwise reach it and come back as an
 * error, a 500. */
static bool request_text_ok(struct MHD_Connection *conn, const char *path)
{
    bool ok = utf8_valid(path, strlen(path));
    if (ok)
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, query_value_ok, &ok);
    return ok;
}

static void answer_malformed_request(http_response_t *res)
{
    res->route = "malformed";
    http_response_error(res, 400, "MALFORMED_REQUEST",
                        "the path or a query parameter is not UTF-8 text", NULL);
}

static void dispatch(httpd_t *self, const http_request_t *req, http_response_t *res)
{
    if (!request_text_ok(req->conn, req->path)) {
        answer_malformed_request(res);
        return;
    }
    if (builtin_endpoints(self, res, req->path))
        return;
    if (self->config.handler)
        self->config.handler(req, res, self->config.arg);
    else
        http_response_not_found(res);
}

static void record_request(httpd_t *self, const char *method, const http_response_t *res,
                           const upload_t *up)
{
    if (!self->config.metrics)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double seconds = (double)(now.tv_sec - up->started.tv_sec) +
                     (double)(now.tv_nsec - up->started.tv_nsec) / 1e9;
    char labels[256];
    snprintf(labels, sizeof labels, "method=\"%s\",route=\"%s\",status=\"%d\"",
             strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0 ? method : "other",
             res->route ? res->route : "unmatched", res->status);
    metrics_counter_add(self->config.metrics, "lindung_http_requests_total",
                        "HTTP requests answered, by method, route and status.", labels,
                        1);
    snprintf(labels, sizeof labels, "route=\"%s\"",
             res->route ? res->route : "unmatched");
    metrics_histogram_observe(
        self->config.metrics, "lindung_http_request_duration_seconds",
        "Time from the first byte of a request to its answer.", labels, latency_bounds,
        sizeof latency_bounds / sizeof latency_bounds[0], seconds);
}

static enum MHD_Result queue(struct MHD_Connection *conn, http_response_t *res,
                             const char *request_id)
{
    struct MHD_Response *r =
        res->body
            ? MHD_create_response_from_buffer(res->body_len, res->body,
                                              MHD_RESPMEM_MUST_FREE)
            : MHD_create_response_from_buffer(0, (char *)"", MHD_RESPMEM_PERSISTENT);
    res->body = NULL; /* MHD owns it now */
    MHD_add_response_header(r, "Content-Type",
                            res->content_type ? res->content_type : "application/json");
    MHD_add_response_header(r, "X-Request-Id", request_id);
    if (res->location[0])
        MHD_add_response_header(r, "Location", res->location);
    if (res->retry_after_s > 0) {
        char secs[16];
        snprintf(secs, sizeof secs, "%d", res->retry_after_s);
        MHD_add_response_header(r, "Retry-After", secs);
    }
    for (int i = 0; i < res->header_count; i++)
        MHD_add_response_header(r, res->headers[i].name, res->headers[i].value);
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)res->status, r);
    MHD_destroy_response(r);
    return rc;
}

static void new_request_id(struct MHD_Connection *conn, char out[72])
{
    const char *given =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    size_t n = given ? strlen(given) : 0;
    bool usable = n > 0 && n < 64;
    for (size_t i = 0; usable && i < n; i++) {
        char c = given[i];
        usable = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                 (c >= 'A' && c <= 'Z') || c == '-' || c == '_' || c == '.';
    }
    if (usable) {
        snprintf(out, 72, "%s", given);
        return;
    }
    uuid_t id;
    uuid_generate_random(id);
    uuid_unparse_lower(id, out);
}

static enum MHD_Result answer(httpd_t *self, struct MHD_Connection *conn, upload_t *up,
                              const char *method, http_response_t *res)
{
    up->answered = true;
    httpguard_answering(self->guard, httpguard_conn(conn));
    record_request(self, method, res, up);
    return queue(conn, res, up->request_id);
}

/* ---------------------------------------------------------------- requests */

/* The head is in. A request without a body is answered at the final call,
 * as libmicrohttpd keeps a connection alive only then; one with a body may
 * be answered now, from its head alone. */
static enum MHD_Result request_begin(httpd_t *self, struct MHD_Connection *conn,
                                     const char *url, const char *method, void **con_cls)
{
    upload_t *up = calloc(1, sizeof *up);
    if (!up)
        return MHD_NO;
    clock_gettime(CLOCK_MONOTONIC, &up->started);
    new_request_id(conn, up->request_id);
    *con_cls = up;
    body_head_t head = body_head(conn);
    httpguard_head_done(self->guard, httpguard_conn(conn), head.present);
    if (!head.present)
        return MHD_YES;
    http_request_t req = {.conn = conn,
                          .method = method,
                          .path = url,
                          .body = "",
                          .request_id = up->request_id};
    http_response_t res = {.status = 500};
    if (head.length > self->config.max_body)
        answer_too_large(self, &res);
    else if (!request_text_ok(conn, url))
        answer_malformed_request(&res);
    else if (builtin_endpoints(self, &res, url))
        ;
    else if (self->config.admit &&
             !self->config.admit(&req, &res, &up->admitted, self->config.arg))
        ;
    else if (head.length && !body_map(self, up, page_round(head.length + 1)))
        answer_busy(&res);
    else
        return MHD_YES;
    return answer(self, conn, up, method, &res);
}

static enum MHD_Result request_body(httpd_t *self, struct MHD_Connection *conn,
                                    upload_t *up, const char *data, size_t *size)
{
    size_t n = *size;
    *size = 0;
    httpguard_body_read(self->guard, httpguard_conn(conn), n);
    return upload_append(self, up, data, n) ? MHD_YES : MHD_NO;
}

static enum MHD_Result request_end(httpd_t *self, struct MHD_Connection *conn,
                                   const char *url, const char *method, upload_t *up)
{
    http_request_t req = {.conn = conn,
                          .method = method,
                          .path = url,
                          .body = up->buf ? up->buf : "",
                          .body_len = up->len,
                          .request_id = up->request_id,
                          .admitted = up->admitted};
    http_response_t res = {.status = 500};
    if (up->refusal == 413)
        answer_too_large(self, &res);
    else if (up->refusal == 503)
        answer_busy(&res);
    else
        dispatch(self, &req, &res);
    body_free(self, up); /* now: a client slow to read its answer must not hold it */
    return answer(self, conn, up, method, &res);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    httpd_t *self = cls;
    upload_t *up = *con_cls;
    if (!up)
        return request_begin(self, conn, url, method, con_cls);
    if (up->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0)
        return request_body(self, conn, up, upload_data, upload_data_size);
    return request_end(self, conn, url, method, up);
}

static const char *abort_reason(enum MHD_RequestTerminationCode toe)
{
    switch (toe) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK:
        return NULL;
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return "timeout";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
        return "shutdown";
    case MHD_REQUEST_TERMINATED_READ_ERROR:
        return "read_error";
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
        return "client_abort";
    default:
        return "error";
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    httpd_t *self = cls;
    upload_t *up = *con_cls;
    if (!up)
        return;
    const char *reason = abort_reason(toe);
    if (reason && self->config.metrics) {
        char labels[64];
        snprintf(labels, sizeof labels, "reason=\"%s\"", reason);
        metrics_counter_add(self->config.metrics, "lindung_http_requests_aborted_total",
                            "Requests that ended without their answer delivered.", labels,
                            1);
    }
    httpguard_request_done(self->guard, httpguard_conn(conn));
    body_free(self, up);
    free(up->admitted);
    free(up);
    *con_cls = NULL;
}

/* ---------------------------------------------------------------- server */

/* Whether this libmicrohttpd message may be a warning: one a minute, so that
 * clients hanging up by the thousand cannot flood the log; the others go out
 * at debug. `skipped`: how many went to debug since the last warning. */
static bool warning_due(httpd_t *self, long *skipped)
{
    int64_t now = mono_ms();
    int64_t last = atomic_load(&self->warned_ms);
    if (now - last < WARN_EVERY_MS ||
        !atomic_compare_exchange_strong(&self->warned_ms, &last, now)) {
        atomic_fetch_add(&self->unwarned, 1);
        return false;
    }
    *skipped = atomic_exchange(&self->unwarned, 0);
    return true;
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt,
                                                             va_list ap)
{
    httpd_t *self = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    char *nl = strchr(msg, '\n');
    if (nl)
        *nl = '\0';
    if (self->config.metrics)
        metrics_counter_add(self->config.metrics, "lindung_http_server_messages_total",
                            "Messages from libmicrohttpd, mostly clients that hung up "
                            "mid-request.",
                            NULL, 1);
    long skipped = 0;
    if (!warning_due(self, &skipped)) {
        log_debug("http.server", "detail", msg);
        return;
    }
    char n[24];
    snprintf(n, sizeof n, "%ld", skipped);
    log_warn("http.server", "detail", msg, "debug_since_last_warning", n);
}

/* The descriptors this process may open, after raising the soft limit to
 * the hard one: each connection takes one, and the usual soft limit of
 * 1,024 would stop the server short of its connection limit. */
static unsigned long fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    rlim_t most = rl.rlim_max == RLIM_INFINITY ? (rlim_t)1 << 20 : rl.rlim_max;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= most)
        return (unsigned long)most;
    struct rlimit raised = {.rlim_cur = most, .rlim_max = rl.rlim_max};
    return (unsigned long)(setrlimit(RLIMIT_NOFILE, &raised) == 0 ? most : rl.rlim_cur);
}

/* Our connection limit, lowered to what the descriptors allow, and
 * libmicrohttpd's (returned), twice ours: it splits its limit evenly over
 * the pool's threads, and one thread may hold more than its share. */
static unsigned connection_limits(httpd_t *self)
{
    unsigned long fds = fd_limit();
    unsigned long usable = fds > 2 * FD_RESERVE ? fds - FD_RESERVE : fds / 2;
    if ((unsigned long)self->config.max_connections > usable / 2) {
        char wanted[24], allowed[24];
        snprintf(wanted, sizeof wanted, "%d", self->config.max_connections);
        self->config.max_connections = (int)(usable / 2);
        snprintf(allowed, sizeof allowed, "%d", self->config.max_connections);
        log_warn("http.max_connections_lowered", "wanted", wanted, "allowed", allowed,
                 "detail", "the open-file limit (ulimit -n) is too low");
    }
    unsigned long mhd = 2 * (unsigned long)self->config.max_connections;
    return (unsigned)(mhd < usable ? mhd : usable);
}

static void apply_defaults(httpd_t *self)
{
    httpd_config_t *c = &self->config;
    if (c->timeout_s <= 0)
        c->timeout_s = 30;
    if (c->max_connections <= 0)
        c->max_connections = DEFAULT_MAX_CONNECTIONS;
    if (c->header_timeout_s <= 0)
        c->header_timeout_s = DEFAULT_HEADER_TIMEOUT_S;
    self->body_cap = page_round(c->max_body + 1);
    if (c->body_budget == 0)
        c->body_budget = DEFAULT_BUDGET_BODIES * self->body_cap;
    if (c->body_budget < self->body_cap)
        c->body_budget = self->body_cap; /* one body of the cap always fits */
}

/* An option's pointer for libmicrohttpd, whose struct MHD_OptionItem holds
 * every pointer as `void *`: it only reads the PEM texts and the priority
 * string, so giving it a const one is safe. */
static void *mhd_text(const char *text)
{
    return (void *)(uintptr_t)text;
}

/* The TLS options for libmicrohttpd (MHD_OPTION_ARRAY), ending in
 * MHD_OPTION_END, and MHD_USE_TLS in *flags; none for plain HTTP. -1 with
 * err when only one of certificate and key is given or libmicrohttpd was
 * built without TLS. */
static int tls_options(const httpd_config_t *c, struct MHD_OptionItem opts[4],
                       unsigned *flags, char *err, size_t errcap)
{
    opts[0] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    if (!c->tls_cert_pem && !c->tls_key_pem)
        return 0;
    if (!c->tls_cert_pem || !c->tls_key_pem) {
        snprintf(err, errcap, "HTTPS needs both a certificate and a key");
        return -1;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, errcap,
                 "this libmicrohttpd was built without TLS: "
                 "serve plain HTTP behind a TLS proxy instead");
        return -1;
    }
    opts[0] =
        (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, mhd_text(c->tls_cert_pem)};
    opts[1] =
        (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, mhd_text(c->tls_key_pem)};
    opts[2] =
        (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, mhd_text(TLS_PRIORITIES)};
    opts[3] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    *flags |= MHD_USE_TLS;
    return 0;
}

static void start_failed(const httpd_t *self, char *err, size_t errcap)
{
    if (self->config.tls_cert_pem)
        snprintf(err, errcap,
                 "cannot serve HTTPS on port %d: the port is taken, or the "
                 "certificate and key are unusable or do not match "
                 "(libmicrohttpd's http.server message above says which)",
                 self->config.port);
    else
        snprintf(err, errcap, "cannot listen on HTTP port %d", self->config.port);
}

httpd_t *httpd_new(const httpd_config_t *config, char *err, size_t errcap)
{
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_EPOLL_LINUX_ONLY;
    struct MHD_OptionItem tls[4];
    if (tls_options(config, tls, &flags, err, errcap) != 0)
        return NULL;
    httpd_t *self = calloc(1, sizeof *self);
    self->config = *config;
    apply_defaults(self);
    atomic_init(&self->body_held, 0);
    atomic_init(&self->warned_ms, INT64_MIN / 2);
    atomic_init(&self->unwarned, 0);
    unsigned mhd_limit = connection_limits(self);
    httpguard_config_t guard = {.max_connections = self->config.max_connections,
                                .header_timeout_s = self->config.header_timeout_s,
                                .body_grace_s = BODY_GRACE_S,
                                .body_min_rate = BODY_MIN_RATE,
                                .metrics = self->config.metrics};
    self->guard = httpguard_new(&guard);
    if (!self->guard) {
        snprintf(err, errcap, "cannot start the HTTP connection guard");
        free(self);
        return NULL;
    }
    /* The logger must be the first option, or MHD prints early messages itself;
     * a pool of one is no pool (MHD warns), so one thread means no pool option. */
    unsigned threads = (unsigned)(config->threads > 1 ? config->threads : 0);
    self->mhd = MHD_start_daemon(
        flags, (uint16_t)config->port, NULL, NULL, on_request, self,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, self, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)self->config.timeout_s, MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)POOL_BYTES,
        MHD_OPTION_NOTIFY_CONNECTION, httpguard_notify, self->guard,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, self, MHD_OPTION_ARRAY, tls,
        threads ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, MHD_OPTION_END);
    if (!self->mhd) {
        start_failed(self, err, errcap);
        httpguard_destroy(&self->guard);
        free(self);
        return NULL;
    }
    return self;
}

httpd_t *httpd_new_ops(int port, httpd_ready_fn ready, void *ready_arg,
                       metrics_t *metrics, char *err, size_t errcap)
{
    httpd_config_t config = {.port = port,
                             .threads = 1,
                             .max_body = 1024,
                             .timeout_s = 10,
                             .max_connections = 512,
                             .ready = ready,
                             .ready_arg = ready_arg,
                             .metrics = metrics};
    return httpd_new(&config, err, errcap);
}

void httpd_destroy(httpd_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    httpd_t *self = *self_p;
    MHD_stop_daemon(self->mhd);
    httpguard_destroy(&self->guard); /* after: stopping closes every connection */
    free(self);
    *self_p = NULL;
}
