/* httpd: the HTTP server every daemon runs, on libmicrohttpd with a thread
 * pool, over TLS when given a certificate and key. It collects the request
 * body up to a cap, answers /healthz, /readyz and /metrics itself, counts
 * requests per route and status, and hands every other request to the
 * daemon's handler. Slow clients are cut off by httpguard; a body is read
 * only once an admit hook has passed its request head, and bodies share one
 * memory budget (docs/security.md, "HTTP limits"). Not a router: the
 * handler routes. */
#ifndef LINDUNG_HTTPD_H
#define LINDUNG_HTTPD_H
#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "metrics.h"

struct MHD_Connection;

typedef struct {
    struct MHD_Connection *conn;
    const char *method;
    const char *path; /* without the query string */
    const char *body; /* NUL-terminated copy; may contain NULs before body_len */
    size_t body_len;
    const char *request_id; /* X-Request-Id from the caller or a new uuid */
    const void *admitted;   /* what the admit hook kept for the handler, or NULL */
} http_request_t;

#define HTTP_RESPONSE_HEADERS 4 /* extra headers one response may carry */

/* A response header beyond those httpd sets itself: http_response_header. */
typedef struct {
    const char *name; /* static string */
    char value[112];
} http_header_t;

typedef struct {
    int status;
    char *body; /* malloc'd; httpd frees it */
    size_t body_len;
    const char *content_type; /* static string */
    const char *route; /* static route pattern for metrics, e.g. "/v1/submissions/{id}" */
    char location[128]; /* optional Location header */
    int retry_after_s;  /* optional Retry-After header, when above 0 */
    http_header_t headers[HTTP_RESPONSE_HEADERS];
    int header_count;
} http_response_t;

typedef void (*httpd_handler_fn)(const http_request_t *req, http_response_t *res,
                                 void *arg);
/* Readiness: true when ready, and then `text` may name what it is ready
 * with (the database server, shown as "database"); otherwise `text` says
 * why not (shown as "reason"). */
typedef bool (*httpd_ready_fn)(void *arg, char *text, size_t cap);
/* Admission of a request that carries a body (a Content-Length above 0, or
 * Transfer-Encoding), called once its head is in and before any body byte
 * is read: req has an empty body. Return true to read the body and then
 * call the handler; false to answer now with res: the body is never read
 * and the connection closes after the answer, so a refused request costs
 * no body memory. *keep: optionally a malloc'd block the handler then gets
 * as req->admitted; httpd frees it. Runs on the connection's worker thread,
 * as the handler does. */
typedef bool (*httpd_admit_fn)(const http_request_t *req, http_response_t *res,
                               void **keep, void *arg);

typedef struct {
    int port;
    int threads;              /* worker threads in the pool */
    size_t max_body;          /* bytes; larger bodies get 413 */
    int timeout_s;            /* idle connection timeout */
    int max_connections;      /* 0: 2048; beyond it the oldest unfinished head goes */
    int header_timeout_s;     /* 0: 10; to complete a request head, trickled or not */
    size_t body_budget;       /* 0: 8 x max_body; bodies held at once, all together */
    httpd_handler_fn handler; /* NULL: only the built-in endpoints */
    httpd_admit_fn admit;     /* NULL: every body is read */
    httpd_ready_fn ready;
    void *ready_arg;
    void *arg; /* for handler and admit */
    metrics_t *metrics;
    /* HTTPS: both PEM texts (pemfile.h), or both NULL for plain HTTP. They
     * must stay valid for the server's life. TLS 1.2 and 1.3 only. */
    const char *tls_cert_pem;
    const char *tls_key_pem;
} httpd_config_t;

typedef struct httpd_t httpd_t;

httpd_t *httpd_new(const httpd_config_t *config, char *err, size_t errcap);

/* The server of a daemon with no API of its own (verify, billing): /healthz,
 * /readyz and /metrics on one thread, small bodies, short timeouts. */
httpd_t *httpd_new_ops(int port, httpd_ready_fn ready, void *ready_arg,
                       metrics_t *metrics, char *err, size_t errcap);
void httpd_destroy(httpd_t **self_p);

const char *http_request_header(const http_request_t *req, const char *name);
const char *http_request_query(const http_request_t *req, const char *name);
/* True when Content-Type is exactly `type` (any case), with or without
 * ";" parameters such as charset: "application/jsonx" is not JSON. */
bool http_request_media_type_is(const http_request_t *req, const char *type);

/* Fill a response; each takes ownership of what it is given. */
void http_response_json(http_response_t *res, int status, cJSON *doc);
void http_response_text(http_response_t *res, int status, const char *content_type,
                        char *text, size_t len);
/* Send the header `name` (a static string) with `value` (copied) in the
 * answer, in place of one of that name set before. False, and nothing set,
 * when the value does not fit or the response has no room for another. */
bool http_response_header(http_response_t *res, const char *name, const char *value);
/* {"error": {"code", "message", "details"?}} */
void http_response_error(http_response_t *res, int status, const char *code,
                         const char *message, cJSON *details);
/* 401 UNAUTHENTICATED with the challenge RFC 6750 asks for:
 * `WWW-Authenticate: Bearer realm="lindung"`, and `error="invalid_token"`
 * after it when `error` says so (a key was sent but is no good; NULL when
 * none was sent). */
void http_response_unauthenticated(http_response_t *res, const char *error,
                                   const char *message);
/* What a router answers when no handler fits: 405 METHOD_NOT_ALLOWED on a
 * known path asked with the wrong method, with `Allow: <allow>` (the
 * methods the path takes, e.g. "GET" or "GET, POST"; RFC 9110), 404
 * NOT_FOUND ("no such endpoint") anywhere else. Each also sets the route
 * label of the request metric. */
void http_response_method_not_allowed(http_response_t *res, const char *route,
                                      const char *allow, const char *message);
void http_response_not_found(http_response_t *res);
#endif
