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

int main(void)
{
    log_init("verify");
    signals_install();
    settings_t s;
    if (read_settings(&s) != 0)
        return 2;

    char err[256];
    void *zmq = zmq_ctx_new();
    metrics_t *metrics = metrics_new();
    if (!metrics) {
        log_error("startup.failed", "detail", "out of memory");
        return 1;
    }
    db_observe(metrics);
    zmqauth_t *auth = zmqauth_new(zmq, ZMQAUTH_CLIENT, metrics, err, sizeof err);
    if (!auth) {
        log_error("config.invalid", "detail", err);
        return 2;
    }
    bus_t *in = bus_new(zmq, BUS_SUBSCRIBER, s.submissions, false, auth, metrics, err,
                        sizeof err);
    bus_t *out = in ? bus_new(zmq, BUS_PUBLISHER, s.enrolments, false, auth, metrics, err,
                              sizeof err)
                    : NULL;
    if (!in || !out) {
        log_error("bus.failed", "detail", err);
        return 1;
    }
    ready_t *ready = ready_new(s.db);
    if (!ready) {
        log_error("startup.failed", "detail", "out of memory");
        return 1;
    }
    ready_watch(ready, in);
    ready_watch(ready, out);
    httpd_t *server =
        httpd_new_ops((int)s.port, ready_check, ready, metrics, err, sizeof err);
    if (!server) {
        log_error("http.failed", "detail", err);
        return 1;
    }
    verifier_t *verifier = verifier_new(s.db, out, metrics);
    if (!verifier) {
        log_error("startup.failed", "detail", "out of memory");
        return 1;
    }
    verifier_set_batch(verifier, (int)s.batch);
    log_info("started", "bus_in", s.submissions, "bus_out", s.enrolments);

    while (!signals_stop_requested()) {
        if (verifier_drain(verifier, signals_stop_requested) < 0)
            log_warn("db.unavailable", "detail", "will retry at the next sweep");
        verifier_observe_queue(verifier);
        wait_for_work(in, out, s.sweep_ms);
    }

    log_info("stopping");
    verifier_destroy(&verifier);
    httpd_destroy(&server);
    bus_destroy(&in);
    bus_destroy(&out);
    zmqauth_destroy(&auth);
    zmq_ctx_term(zmq);
    ready_destroy(&ready);
    metrics_destroy(&metrics);
    log_info("stopped");
    return 0;
}
