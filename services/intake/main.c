/* lindung-intake: accepts submissions over HTTP, or HTTPS when given a
 * certificate and key, stores them, and prompts verify over ZeroMQ.
 * Configuration: README.md ("Configuration"). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>
#include "api.h"
#include "bus.h"
#include "config.h"
#include "db.h"
#include "eventparts.h"
#include "route.h"
#include "events.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "pemfile.h"
#include "ready.h"
#include "signals.h"
#include "zmqauth.h"

#define TLS_CERT_VAR "LINDUNG_INTAKE_TLS_CERT_FILE"
#define TLS_KEY_VAR "LINDUNG_INTAKE_TLS_KEY_FILE"
#define RECOVER_AFTER_S 60  /* a stored batch this old is no request's any more */
#define SECOND_IDLE_S 60    /* a second session unused this long is closed (route.h) */
#define RECOVER_BATCHES 100 /* at most this many batches per sweep */

typedef struct {
    const char *db;
    const char *bus_endpoint;
    long port, threads, max_body, timeout_s;
    long max_connections, header_timeout_s, body_budget_mb, db_answer_s;
    long events_split_from, sweep_ms;
    const char *tls_cert_file, *tls_key_file; /* both, or neither: plain HTTP */
} settings_t;

/* The certificate and key files' text, for as long as the server runs. */
typedef struct {
    char *cert, *key;
} tls_pem_t;

/* Both HTTPS files, or neither. */
static int read_tls_settings(settings_t *s)
{
    s->tls_cert_file = config_str(TLS_CERT_VAR, NULL);
    s->tls_key_file = config_str(TLS_KEY_VAR, NULL);
    if (!s->tls_cert_file == !s->tls_key_file)
        return 0;
    char err[256];
    snprintf(err, sizeof err,
             "%s is set but %s is not: set both for HTTPS, or neither for plain HTTP",
             s->tls_cert_file ? TLS_CERT_VAR : TLS_KEY_VAR,
             s->tls_cert_file ? TLS_KEY_VAR : TLS_CERT_VAR);
    log_error("config.invalid", "detail", err);
    return -1;
}

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
                   sizeof err) ||
        config_int("LINDUNG_DB_ANSWER_TIMEOUT_S", 30, 1, 3600, &s->db_answer_s, err,
                   sizeof err) ||
        config_int("LINDUNG_EVENTS_SPLIT_FROM", 1000, 2, 1000000, &s->events_split_from,
                   err, sizeof err) ||
        config_int("LINDUNG_SWEEP_MS", 5000, 10, 3600000, &s->sweep_ms, err,
                   sizeof err)) {
        log_error("config.invalid", "detail", err);
        return -1;
    }
    return read_tls_settings(s);
}

/* One HTTPS file into *pem; false, logged with its variable, when unusable. */
static bool read_pem(const char *variable, const char *path, pemfile_kind_t kind,
                     char **pem)
{
    char err[512];
    if (pemfile_read(path, kind, pem, err, sizeof err) == 0)
        return true;
    log_error("config.invalid", "variable", variable, "detail", err);
    return false;
}

/* HTTPS files are read now, so that a wrong one stops the start. */
static int read_tls(const settings_t *s, tls_pem_t *tls)
{
    if (!s->tls_cert_file)
        return 0;
    if (read_pem(TLS_CERT_VAR, s->tls_cert_file, PEMFILE_CERTIFICATE, &tls->cert) &&
        read_pem(TLS_KEY_VAR, s->tls_key_file, PEMFILE_PRIVATE_KEY, &tls->key))
        return 0;
    pemfile_free(&tls->cert);
    return -1;
}

static void log_started(const settings_t *s)
{
    char port[8];
    snprintf(port, sizeof port, "%ld", s->port);
    log_info("started", "http_port", port, "scheme", s->tls_cert_file ? "https" : "http",
             "tls_cert_file", s->tls_cert_file, "bus", s->bus_endpoint);
    if (!s->tls_cert_file)
        log_warn("http.plaintext", "detail",
                 "intake serves plain HTTP: API keys and NIKs cross the network in "
                 "clear unless a TLS proxy is in front (docs/operations.md, HTTPS)");
}

/* Everything main starts, so that one function stops it, whether start-up
 * got all the way or failed half-way (nothing left for a leak checker). */
typedef struct {
    tls_pem_t tls;
    void *zmq;
    metrics_t *metrics;
    zmqauth_t *auth;
    bus_t *bus;
    ready_t *ready;
    route_ctx_t routes; /* the handlers' context: lives as long as the server */
    httpd_t *server;
    db_t *sweep_db; /* the main loop's: batches of events stored, not applied */
} parts_t;

static void parts_stop(parts_t *p)
{
    httpd_destroy(&p->server);
    route_second_close();
    db_destroy(&p->sweep_db);
    bus_destroy(&p->bus);
    ready_destroy(&p->ready);
    zmqauth_destroy(&p->auth);
    if (p->zmq)
        zmq_ctx_term(p->zmq);
    p->zmq = NULL;
    metrics_destroy(&p->metrics);
    pemfile_free(&p->tls.cert);
    pemfile_free(&p->tls.key);
}

/* 0 when everything is up; else the exit code (2: configuration, 1: other). */
static int parts_start(parts_t *p, const settings_t *s)
{
    char err[256];
    p->zmq = zmq_ctx_new();
    p->metrics = metrics_new();
    if (!p->zmq || !p->metrics) {
        log_error("startup.failed", "detail", "out of memory");
        return 1;
    }
    eventparts_metrics_init(p->metrics);
    db_observe(p->metrics);
    p->auth = zmqauth_new(p->zmq, ZMQAUTH_SERVER, p->metrics, err, sizeof err);
    if (!p->auth) {
        log_error("config.invalid", "detail", err);
        return 2;
    }
    p->bus = bus_new(p->zmq, BUS_PUBLISHER, s->bus_endpoint, true, p->auth, p->metrics,
                     err, sizeof err);
    if (!p->bus) {
        log_error("bus.failed", "detail", err);
        return 1;
    }
    p->ready = ready_new(s->db);
    p->sweep_db = db_new(s->db);
    if (!p->ready || !p->sweep_db) {
        log_error("startup.failed", "detail", "out of memory");
        return 1;
    }
    ready_watch(p->ready, p->bus);
    p->routes = (route_ctx_t){.conninfo = s->db,
                              .bus = p->bus,
                              .metrics = p->metrics,
                              .db_answer_ms = (int)s->db_answer_s * 1000,
                              .events_split_from = (int)s->events_split_from};
    httpd_config_t http = {.port = (int)s->port,
                           .threads = (int)s->threads,
                           .max_body = (size_t)s->max_body,
                           .timeout_s = (int)s->timeout_s,
                           .max_connections = (int)s->max_connections,
                           .header_timeout_s = (int)s->header_timeout_s,
                           .body_budget = (size_t)s->body_budget_mb << 20,
                           .handler = api_handle,
                           .admit = api_admit,
                           .ready = ready_check,
                           .ready_arg = p->ready,
                           .arg = &p->routes,
                           .metrics = p->metrics,
                           .tls_cert_pem = p->tls.cert,
                           .tls_key_pem = p->tls.key};
    p->server = httpd_new(&http, err, sizeof err);
    if (!p->server) {
        log_error("http.failed", "detail", err);
        return 1;
    }
    return 0;
}

int main(void)
{
    log_init("intake");
    signals_install();
    settings_t s;
    parts_t p = {0};
    if (read_settings(&s) != 0 || read_tls(&s, &p.tls) != 0) {
        parts_stop(&p);
        return 2;
    }
    int rc = parts_start(&p, &s);
    if (rc != 0) {
        parts_stop(&p);
        return rc;
    }
    log_started(&s);

    /* Batches of events a killed intake stored and never applied: all of
     * them now, then every sweep those a minute old (younger ones are most
     * likely being applied by the request that stored them). */
    eventparts_recover(p.sweep_db, 0, RECOVER_BATCHES, p.metrics);
    eventparts_observe(p.sweep_db, p.metrics);
    while (!signals_stop_requested()) {
        signals_sleep_ms((int)s.sweep_ms);
        eventparts_recover(p.sweep_db, RECOVER_AFTER_S, RECOVER_BATCHES, p.metrics);
        eventparts_observe(p.sweep_db, p.metrics);
        route_second_trim(SECOND_IDLE_S);
    }

    log_info("stopping");
    parts_stop(&p);
    log_info("stopped");
    return 0;
}
