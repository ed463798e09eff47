/* lindung-verify: decides submitted applicants and enrols the accepted ones.
 * Woken by submission.received; also sweeps the database on start and every
 * LINDUNG_SWEEP_MS, so a lost message or a crash never strands a submission. */
#include <stdio.h>
#include <zmq.h>
#include "bus.h"
#include "config.h"
#include "db.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "ready.h"
#include "signals.h"
#include "verifier.h"
#include "zmqauth.h"

typedef struct {
    const char *db, *submissions, *enrolments;
    long port, sweep_ms, batch;
} settings_t;

static int read_settings(settings_t *s)
{
    char err[256];
    s->db = config_str("LINDUNG_DB", "dbname=lindung");
    s->submissions = config_str("LINDUNG_BUS_SUBMISSIONS", "tcp://127.0.0.1:5561");
    s->enrolments = config_str("LINDUNG_BUS_ENROLMENTS", "tcp://127.0.0.1:5562");
    if (config_int("LINDUNG_VERIFY_PORT", 8081, 1, 65535, &s->port, err, sizeof err) ||
        config_int("LINDUNG_SWEEP_MS", 5000, 10, 3600000, &s->sweep_ms, err,
                   sizeof err) ||
        config_int("LINDUNG_VERIFY_BATCH", 16, 1, 64, &s->batch, err, sizeof err)) {
        log_error("config.invalid", "detail", err);
        return -1;
    }
    return 0;
}

/* Wait for a prompt or the sweep interval; drain the prompts (they only say
 * "there is work": the database says what). */
static void wait_for_work(bus_t *in, bus_t *out, long sweep_ms)
{
    zmq_pollitem_t item = {.socket = bus_socket(in), .events = ZMQ_POLLIN};
    long waited = 0;
    while (waited < sweep_ms && !signals_stop_requested()) {
        bus_update(in);
        bus_update(out);
        long step = sweep_ms - waited < 200 ? sweep_ms - waited : 200;
        if (zmq_poll(&item, 1, step) > 0)
            break;
        waited += step;
    }
    envelope_t env;
    while (bus_recv(in, &env) == 0)
        log_debug("prompt", "type", env.type, "submission_id", env.id, "request_id",
                  env.request_id);
}

/* Everything main starts, so that one function stops it, whether start-up
 * got all the way or failed half-way (nothing left for a leak checker). */
typedef struct {
    void *zmq;
    metrics_t *metrics;
    zmqauth_t *auth;
    bus_t *in, *out;
    ready_t *ready;
    httpd_t *server;
    verifier_t *verifier;
} parts_t;

static void parts_stop(parts_t *p)
{
    verifier_destroy(&p->verifier);
    httpd_destroy(&p->server);
    bus_destroy(&p->in);
    bus_destroy(&p->out);
    zmqauth_destroy(&p->auth);
    if (p->zmq)
        zmq_ctx_term(p->zmq);
    p->zmq = NULL;
    ready_destroy(&p->ready);
    metrics_destroy(&p->metrics);
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
    db_observe(p->metrics);
    p->auth = zmqauth_new(p->zmq, ZMQAUTH_CLIENT, p->metrics, err, sizeof err);
    if (!p->auth) {
        log_error("config.invalid", "detail", err);
        return 2;
    }
    p->in = bus_new(p->zmq, BUS_SUBSCRIBER, s->submissions, false, p->auth, p->metrics,
                    err, sizeof err);
    p->out = p->in ? bus_new(p->zmq, BUS_PUBLISHER, s->enrolments, false, p->auth,
                             p->metrics, err, sizeof err)
                   : NULL;
    if (!p->in || !p->out) {
        log_error("bus.failed", "detail", err);
        return 1;
    }
    p->ready = ready_new(s->db);
    if (!p->ready) {
        log_error("startup.failed", "detail", "out of memory");
        return 1;
    }
    ready_watch(p->ready, p->in);
    ready_watch(p->ready, p->out);
    p->server =
        httpd_new_ops((int)s->port, ready_check, p->ready, p->metrics, err, sizeof err);
    if (!p->server) {
        log_error("http.failed", "detail", err);
        return 1;
    }
    p->verifier = verifier_new(s->db, p->out, p->metrics);
    if (!p->verifier) {
        log_error("startup.failed", "detail", "out of memory");
        return 1;
    }
    verifier_set_batch(p->verifier, (int)s->batch);
    return 0;
}

int main(void)
{
    log_init("verify");
    signals_install();
    settings_t s;
    if (read_settings(&s) != 0)
        return 2;
    parts_t p = {0};
    int rc = parts_start(&p, &s);
    if (rc != 0) {
        parts_stop(&p);
        return rc;
    }
    log_info("started", "bus_in", s.submissions, "bus_out", s.enrolments);

    while (!signals_stop_requested()) {
        if (verifier_drain(p.verifier, signals_stop_requested) < 0)
            log_warn("db.unavailable", "detail", "will retry at the next sweep");
        verifier_observe_queue(p.verifier);
        wait_for_work(p.in, p.out, s.sweep_ms);
    }

    log_info("stopping");
    parts_stop(&p);
    log_info("stopped");
    return 0;
}
