/* lindung-intake: accepts submissions over HTTP, stores them, and prompts
 * verify over ZeroMQ. Configuration: README.md ("Configuration"). */
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>
#include "api.h"
#include "bus.h"
#include "config.h"
#include "events.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "ready.h"
#include "signals.h"
#include "zmqauth.h"

typedef struct {
    const char *db;
    const char *bus_endpoint;
    long port, threads, max_body, timeout_s;
    long max_connections, header_timeout_s, body_budget_mb;
} settings_t;

static int read_settings(settings_t *s)
{
    char err[256];
    s->db = config_str("LINDUNG_DB", "dbname=lindung");
    s->bus_endpoint = config_str("LINDUNG_BUS_SUBMISSIONS", "tcp://127.0.0.1:5561");
    if (config_int("LINDUNG_INTAKE_PORT", 8080, 1, 65535, &s->port, err, sizeof err) ||
        config_int("LINDUNG_INTAKE_THREADS", 8, 1, 64, &s->threads, err, sizeof err) ||
        config_int("LINDUNG_MAX_BODY", 8 << 20, 1024, 64 << 20, &s->max_body, err,
                   sizeof err) ||
        config_int("LINDUNG_HTTP_TIMEOUT_S", 30, 1, 3600, &s->timeout_s, err,
                   sizeof err) ||
        config_int("LINDUNG_HTTP_MAX_CONNECTIONS", 2048, 16, 65536, &s->max_connections,
                   err, sizeof err) ||
        config_int("LINDUNG_HTTP_HEADER_TIMEOUT_S", 10, 1, 300, &s->header_timeout_s, err,
                   sizeof err) ||
        config_int("LINDUNG_HTTP_BODY_BUDGET_MB", 64, 1, 65536, &s->body_budget_mb, err,
                   sizeof err)) {
        log_error("config.invalid", "detail", err);
        return -1;
    }
    return 0;
}

int main(void)
{
    log_init("intake");
    signals_install();
    settings_t s;
    if (read_settings(&s) != 0)
        return 2;

    char err[256];
    void *zmq = zmq_ctx_new();
    metrics_t *metrics = metrics_new();
    events_metrics_init(metrics);
    zmqauth_t *auth = zmqauth_new(zmq, ZMQAUTH_SERVER, metrics, err, sizeof err);
    if (!auth) {
        log_error("config.invalid", "detail", err);
        return 2;
    }
    bus_t *bus =
        bus_new(zmq, BUS_PUBLISHER, s.bus_endpoint, true, auth, metrics, err, sizeof err);
    if (!bus) {
        log_error("bus.failed", "detail", err);
        return 1;
    }
    ready_t *ready = ready_new(s.db);
    ready_watch(ready, bus);
    api_t api = {.conninfo = s.db, .bus = bus, .metrics = metrics};
    httpd_config_t http = {.port = (int)s.port,
                           .threads = (int)s.threads,
                           .max_body = (size_t)s.max_body,
                           .timeout_s = (int)s.timeout_s,
                           .max_connections = (int)s.max_connections,
                           .header_timeout_s = (int)s.header_timeout_s,
                           .body_budget = (size_t)s.body_budget_mb << 20,
                           .handler = api_handle,
                           .admit = api_admit,
                           .ready = ready_check,
                           .ready_arg = ready,
                           .arg = &api,
                           .metrics = metrics};
    httpd_t *server = httpd_new(&http, err, sizeof err);
    if (!server) {
        log_error("http.failed", "detail", err);
        return 1;
    }
    char port[8];
    snprintf(port, sizeof port, "%ld", s.port);
    log_info("started", "http_port", port, "bus", s.bus_endpoint);

    while (!signals_stop_requested())
        signals_sleep_ms(1000);

    log_info("stopping");
    httpd_destroy(&server);
    bus_destroy(&bus);
    ready_destroy(&ready);
    zmqauth_destroy(&auth);
    zmq_ctx_term(zmq);
    metrics_destroy(&metrics);
    log_info("stopped");
    return 0;
}
