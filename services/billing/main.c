/* lindung-billing: accrues monthly premiums. Runs are requested over the
 * control socket (lindungctl billing run YYYY-MM); enrolments.changed
 * prompts, start-up, and a sweep that notices new enrolments re-run months
 * already billed, so late enrolments get supplementary lines. */
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>
#include "billing.h"
#include "bus.h"
#include "config.h"
#include "control.h"
#include "db.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "ready.h"
#include "signals.h"

static const char *SQL_ENROLMENT_WATERMARK = "SELECT coalesce(max(id), 0) FROM enrolments";

typedef struct {
    const char *db, *enrolments, *control;
    long port, sweep_ms;
} settings_t;

static int read_settings(settings_t *s)
{
    char err[256];
    s->db = config_str("LINDUNG_DB", "dbname=lindung");
    s->enrolments = config_str("LINDUNG_BUS_ENROLMENTS", "tcp://127.0.0.1:5562");
    s->control = config_str("LINDUNG_BILLING_CONTROL", "tcp://127.0.0.1:5563");
    if (config_int("LINDUNG_BILLING_PORT", 8082, 1, 65535, &s->port, err, sizeof err) ||
        config_int("LINDUNG_SWEEP_MS", 5000, 10, 3600000, &s->sweep_ms, err, sizeof err)) {
        log_error("config.invalid", "detail", err);
        return -1;
    }
    return 0;
}

/* The highest enrolment id, or -1 when the database is unavailable. */
static long long enrolment_watermark(db_t *db)
{
    PGresult *r = db_exec(db, SQL_ENROLMENT_WATERMARK, 0, NULL);
    long long mark = db_ok(r) && PQntuples(r) == 1 ? atoll(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return mark;
}

/* Catch up when enrolments appeared since the last catch-up, whether or not
 * their prompt arrived. */
static void sweep(db_t *db, metrics_t *metrics, long long *seen, const char *trigger)
{
    long long mark = enrolment_watermark(db);
    if (mark < 0) {
        log_warn("db.unavailable", "detail", db_error(db));
        return;
    }
    if (mark != *seen && billing_catch_up(db, metrics, trigger) == 0)
        *seen = mark;
    billing_observe(db, metrics);
}

int main(void)
{
    log_init("billing");
    signals_install();
    settings_t s;
    if (read_settings(&s) != 0)
        return 2;

    char err[256];
    void *zmq = zmq_ctx_new();
    metrics_t *metrics = metrics_new();
    bus_t *in = bus_new(zmq, BUS_SUBSCRIBER, s.enrolments, true, metrics, err, sizeof err);
    control_t *control = in ? control_new(zmq, s.control, err, sizeof err) : NULL;
    if (!in || !control) {
        log_error("bus.failed", "detail", err);
        return 1;
    }
    ready_t *ready = ready_new(s.db);
    httpd_config_t http = {.port = (int)s.port, .threads = 1, .max_body = 1024, .timeout_s = 10,
                           .ready = ready_check, .ready_arg = ready, .metrics = metrics};
    httpd_t *server = httpd_new(&http, err, sizeof err);
    if (!server) {
        log_error("http.failed", "detail", err);
        return 1;
    }
    db_t *db = db_new(s.db);
    log_info("started", "bus_in", s.enrolments, "control", s.control);

    long long seen = -1; /* forces a catch-up at start */
    sweep(db, metrics, &seen, "startup");
    zmq_pollitem_t items[] = {{.socket = bus_socket(in), .events = ZMQ_POLLIN},
                              {.socket = control_socket(control), .events = ZMQ_POLLIN}};
    long idle_ms = 0;
    while (!signals_stop_requested()) {
        int n = zmq_poll(items, 2, 200);
        if (n > 0 && (items[1].revents & ZMQ_POLLIN))
            control_serve(control, db, metrics);
        envelope_t env;
        bool prompted = false;
        while (bus_recv(in, &env) == 0)
            prompted = true;
        idle_ms += 200;
        if (prompted || idle_ms >= s.sweep_ms) {
            sweep(db, metrics, &seen, prompted ? "enrolments" : "sweep");
            idle_ms = 0;
        }
    }

    log_info("stopping");
    db_destroy(&db);
    httpd_destroy(&server);
    control_destroy(&control);
    bus_destroy(&in);
    zmq_ctx_term(zmq);
    ready_destroy(&ready);
    metrics_destroy(&metrics);
    log_info("stopped");
    return 0;
}
