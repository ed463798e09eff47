/* httpd: libmicrohttpd glue. Bodies are gathered in a per-connection buffer
 * with a hard cap (MHD hands them over in chunks); past the cap we keep
 * reading but discard, then answer 413, so the client gets an answer rather
 * than a reset. A connection timeout is set because MHD's default is none. */
#include "httpd.h"
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <uuid/uuid.h>
#include "log.h"

struct httpd_t {
    struct MHD_Daemon *mhd;
    httpd_config_t config;
};

typedef struct {
    char *buf;
    size_t len, cap;
    bool too_large;
    struct timespec started;
} upload_t;

static const double latency_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,   0.25,   0.5,   1,    2.5,   5};

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

void http_response_json(http_response_t *res, int status, cJSON *doc)
{
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    http_response_text(res, status, "application/json", text, text ? strlen(text) : 0);
}

void http_response_error(http_response_t *res, int status, const char *code,
                         const char *message, cJSON *details)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *err = cJSON_AddObjectToObject(doc, "error");
    cJSON_AddStringToObject(err, "code", code);
    cJSON_AddStringToObject(err, "message", message);
    if (details)
        cJSON_AddItemToObject(err, "details", details);
    http_response_json(res, status, doc);
}

void http_response_method_not_allowed(http_response_t *res, const char *route,
                                      const char *message)
{
    res->route = route;
    http_response_error(res, 405, "METHOD_NOT_ALLOWED", message, NULL);
}

void http_response_not_found(http_response_t *res)
{
    res->route = "unmatched";
    http_response_error(res, 404, "NOT_FOUND", "no such endpoint", NULL);
}

static void upload_append(upload_t *up, const char *data, size_t size, size_t max)
{
    if (up->too_large || up->len + size > max) {
        up->too_large = true;
        return;
    }
    if (up->len + size + 1 > up->cap) {
        size_t cap = up->cap ? up->cap : 4096;
        while (cap < up->len + size + 1)
            cap *= 2;
        up->buf = realloc(up->buf, cap);
        up->cap = cap;
    }
    memcpy(up->buf + up->len, data, size);
    up->len += size;
    up->buf[up->len] = '\0';
}

static void builtin_endpoints(httpd_t *self, const http_request_t *req,
                              http_response_t *res, bool *handled)
{
    *handled = true;
    if (strcmp(req->path, "/healthz") == 0) {
        res->route = "/healthz";
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "status", "ok");
        http_response_json(res, 200, doc);
    } else if (strcmp(req->path, "/readyz") == 0) {
        res->route = "/readyz";
        char why[256] = "";
        bool ready = !self->config.ready ||
                     self->config.ready(self->config.ready_arg, why, sizeof why);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "status", ready ? "ready" : "unready");
        if (!ready)
            cJSON_AddStringToObject(doc, "reason", why);
        http_response_json(res, ready ? 200 : 503, doc);
    } else if (strcmp(req->path, "/metrics") == 0 && self->config.metrics) {
        res->route = "/metrics";
        char *text = metrics_render(self->config.metrics);
        http_response_text(res, 200, "text/plain; version=0.0.4; charset=utf-8", text,
                           text ? strlen(text) : 0);
    } else {
        *handled = false;
    }
}

static void record_request(httpd_t *self, const http_request_t *req,
                           const http_response_t *res, const upload_t *up)
{
    if (!self->config.metrics)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double seconds = (double)(now.tv_sec - up->started.tv_sec) +
                     (double)(now.tv_nsec - up->started.tv_nsec) / 1e9;
    char labels[256];
    snprintf(labels, sizeof labels, "method=\"%s\",route=\"%s\",status=\"%d\"",
             strcmp(req->method, "GET") == 0 || strcmp(req->method, "POST") == 0
                 ? req->method
                 : "other",
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

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    httpd_t *self = cls;
    upload_t *up = *con_cls;
    if (!up) {
        up = calloc(1, sizeof *up);
        clock_gettime(CLOCK_MONOTONIC, &up->started);
        *con_cls = up;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        upload_append(up, upload_data, *upload_data_size, self->config.max_body);
        *upload_data_size = 0;
        return MHD_YES;
    }
    char request_id[72];
    new_request_id(conn, request_id);
    http_request_t req = {.conn = conn,
                          .method = method,
                          .path = url,
                          .body = up->buf ? up->buf : "",
                          .body_len = up->len,
                          .request_id = request_id};
    http_response_t res = {.status = 500};
    bool handled = false;
    if (up->too_large) {
        char msg[128];
        snprintf(msg, sizeof msg, "request body is larger than %zu bytes",
                 self->config.max_body);
        res.route = "too_large";
        http_response_error(&res, 413, "BODY_TOO_LARGE", msg, NULL);
        handled = true;
    } else {
        builtin_endpoints(self, &req, &res, &handled);
    }
    if (!handled && self->config.handler)
        self->config.handler(&req, &res, self->config.arg);
    else if (!handled)
        http_response_not_found(&res);
    record_request(self, &req, &res, up);
    return queue(conn, &res, request_id);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    upload_t *up = *con_cls;
    if (!up)
        return;
    free(up->buf);
    free(up);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    char *nl = strchr(msg, '\n');
    if (nl)
        *nl = '\0';
    log_warn("http.server", "detail", msg);
}

httpd_t *httpd_new(const httpd_config_t *config, char *err, size_t errcap)
{
    httpd_t *self = calloc(1, sizeof *self);
    self->config = *config;
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_EPOLL_LINUX_ONLY;
    /* The logger must be the first option, or MHD prints early messages itself;
     * a pool of one is no pool (MHD warns), so one thread means no pool option. */
    unsigned threads = (unsigned)(config->threads > 1 ? config->threads : 0);
    self->mhd = MHD_start_daemon(
        flags, (uint16_t)config->port, NULL, NULL, on_request, self,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, self, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)(config->timeout_s > 0 ? config->timeout_s : 30),
        MHD_OPTION_CONNECTION_LIMIT, 1000u, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        self, threads ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads,
        MHD_OPTION_END);
    if (!self->mhd) {
        snprintf(err, errcap, "cannot listen on HTTP port %d", config->port);
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
    free(self);
    *self_p = NULL;
}
