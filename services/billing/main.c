/* lindung-billing: accrues monthly premiums. On start it catches up every
 * month from the earliest programme coverage start to the month now due; then
 * it runs each month at its scheduled time (LINDUNG_BILLING_SCHEDULE, default
 * the 1st at 01:00 Asia/Jakarta), answers run requests on the control socket
 * (lindungctl billing run YYYY-MM), and re-runs months already billed when
 * enrolments appear (prompted by enrolments.changed or found by the sweep),
 * so late enrolments get supplementary invoices, ended enrolments and
 * changed rates get credit notes or supplementary invoices, and renewing
 * programmes take over their predecessors' participants. Every run is accrual_run():
 * one transaction, exactly once, one run per month at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>
#include "accrual.h"
#include "billing.h"
#include "bus.h"
#include "config.h"
#include "control.h"
#include "db.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "ready.h"
#include "schedule.h"
#include "signals.h"
#include "zmqauth.h"

#define POLL_MS 200

/* What makes months already billed worth running again: new enrolments
 * (late lines), enrolments whose months changed since (reversals, an end
 * undone), other rates or reliefs (re-rating). Three parts,
 * "id/time/rates": the newest enrolment id, the time the state was read,
 * and a fingerprint of the rate tables. Read under the lock that
 * accrual_watermark takes (SQL_STATE_LOCK): it waits for every transaction
 * writing enrolments to end, so that a change made before the time is
 * committed and seen, and one made after it has a later id or
 * coverage_changed_at (a change that committed after the newest id or
 * change time had been read was never seen: a review found a late
 * acceptance never billed, and an end only partly credited). */
/* While the lock waits, new writers (verify) queue behind it, so a sweep
 * takes it only when the quick look below saw a change, or a minute after
 * it last did (a change that committed out of order changes neither maximum
 * of the quick look), and waits at most 200 ms for it. After ten tries in a
 * row without it (long transactions writing enrolments, one after the
 * other) one try a minute waits up to 5 s: writers stall that long at most
 * once a minute (a review measured them stalled 5 s every sweep when each
 * try after the tenth waited). Start-up (the first catch-up) keeps the same
 * rules, but after three misses it catches up without the lock rather than
 * wait for writers to pause (a review measured no scheduled run for 49 s
 * under overlapping 12 s writers): it then keeps no state, so the first
 * sweep that has the lock runs every month billed again. A sweep whose
 * re-runs (or start-up catch-up) failed is tried again on the next sweep, then after 2,
 * 4, ... up to 60 s (a month that keeps failing re-ran every later month every sweep: a
 * review). */
static const char *SQL_STATE_LOCK_TIMEOUT = "SELECT set_config('lock_timeout', $1, true)";
#define STATE_LOCK_QUICK "200ms"
#define STATE_LOCK_PATIENT "5s"
#define STATE_TRIES_BEFORE_PATIENT 10
#define STATE_LOCKED_EVERY_S 60
#define STATE_PATIENT_EVERY_S 60
#define RETRY_MAX_S 60
#define STARTUP_TRIES 3

/* The quick look, without a lock: the newest id and change time, and the
 * rates. It differs from the last one when a change became visible. */
static const char *SQL_QUICK_STATE =
    "SELECT coalesce(max(id), 0) || '/' || "
    "  coalesce((SELECT max(coverage_changed_at) FROM enrolments "
    "            WHERE coverage_changed_at IS NOT NULL)::text, '') "
    "  || '/' || billing_rates_mark() FROM enrolments";
static const char *SQL_STATE_LOCK = "LOCK TABLE enrolments IN SHARE MODE";
static const char *SQL_BILLING_STATE =
    "SELECT coalesce(max(id), 0) || '/' || clock_timestamp()::text || '/' || "
    "  billing_rates_mark() FROM enrolments";

/* The earliest month the changes since a state can touch: the first month
 * of every enrolment newer than $1 or whose months changed at or after $2.
 * Months before it need no re-run (rates unchanged); NULL: nothing changed. */
static const char *SQL_EARLIEST_AFFECTED =
    "SELECT to_char(least((SELECT min(start_month) FROM enrolments WHERE id > "
    "$1::bigint), "
    "  (SELECT min(start_month) FROM enrolments "
    "   WHERE coverage_changed_at >= $2::timestamptz)), 'YYYY-MM')";

/* Renewing programmes take over their predecessors' participants (verify
 * decides them): queued again on every sweep that saw a change, so people
 * accepted into the old programme late are carried too. Idempotent. */
static const char *SQL_QUEUE_RENEWALS =
    "SELECT coalesce(sum(program_renewal_queue(id)), 0) FROM programs "
    "WHERE renews IS NOT NULL";

typedef struct {
    const char *db, *enrolments, *control, *schedule;
    long port, sweep_ms, catch_up_months, load_parts, load_memory_mb;
    long max_past_months, max_future_months; /* control's window (control.h) */
} settings_t;

static int read_settings(settings_t *s)
{
    char err[256];
    s->db = config_str("LINDUNG_DB", "dbname=lindung");
    s->enrolments = config_str("LINDUNG_BUS_ENROLMENTS", "tcp://127.0.0.1:5562");
    s->control = config_str("LINDUNG_BILLING_CONTROL", "tcp://127.0.0.1:5563");
    s->schedule = config_str("LINDUNG_BILLING_SCHEDULE", SCHEDULE_DEFAULT);
    if (config_int("LINDUNG_BILLING_PORT", 8082, 1, 65535, &s->port, err, sizeof err) ||
        config_int("LINDUNG_SWEEP_MS", 5000, 10, 3600000, &s->sweep_ms, err,
                   sizeof err) ||
        config_int("LINDUNG_BILLING_CATCHUP_MONTHS", 60, 1, 1200, &s->catch_up_months,
                   err, sizeof err) ||
        config_int("LINDUNG_BILLING_LOAD_PARTS", 2, 1, 16, &s->load_parts, err,
                   sizeof err) ||
        config_int("LINDUNG_BILLING_LOAD_MEMORY_MB", 512, LOAD_MEMORY_MIN_MB,
                   LOAD_MEMORY_MAX_MB, &s->load_memory_mb, err, sizeof err) ||
        config_int("LINDUNG_BILLING_MAX_PAST_MONTHS", 60, 0, 1200, &s->max_past_months,
                   err, sizeof err) ||
        config_int("LINDUNG_BILLING_MAX_FUTURE_MONTHS", 12, 0, 1200,
                   &s->max_future_months, err, sizeof err)) {
        log_error("config.invalid", "detail", err);
        return -1;
    }
    return 0;
}

/* SQL_QUICK_STATE into out; false when the database is unavailable. */
static bool quick_state(db_t *db, char *out, size_t cap)
{
    PGresult *r = db_exec(db, SQL_QUICK_STATE, 0, NULL);
    bool ok = db_ok(r) && PQntuples(r) == 1;
    snprintf(out, cap, "%s", ok ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return ok;
}

/* SQL_BILLING_STATE into out, in a short transaction of its own under
 * SQL_STATE_LOCK, waiting at most `wait` for it; false when the database is
 * unavailable or the lock was not granted in time. */
static bool billing_state(db_t *db, const char *wait, char *out, size_t cap)
{
    out[0] = '\0';
    if (!db_begin(db))
        return false;
    PGresult *r = NULL;
    const char *params[] = {wait};
    if (db_run(db, SQL_STATE_LOCK_TIMEOUT, 1, params) &&
        db_run(db, SQL_STATE_LOCK, 0, NULL))
        r = db_exec(db, SQL_BILLING_STATE, 0, NULL);
    bool ok = db_ok(r) && PQntuples(r) == 1;
    if (ok)
        snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (ok && db_commit(db))
        return true;
    db_rollback(db);
    out[0] = '\0';
    return false;
}

static void queue_renewals(db_t *db)
{
    PGresult *r = db_exec(db, SQL_QUEUE_RENEWALS, 0, NULL);
    if (db_ok(r) && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "0") != 0)
        log_info("billing.renewals_queued", "applicants", PQgetvalue(r, 0, 0));
    else if (!db_ok(r))
        log_warn("billing.renewals_failed", "detail", db_error(db));
    PQclear(r);
}

typedef struct {
    db_t *db;
    metrics_t *metrics;
    schedule_t *schedule;
    long catch_up_months;
    bool caught_up;  /* the start-up catch-up has succeeded */
    period_t next;   /* the next month to run on schedule */
    char seen[128];  /* billing state (SQL_BILLING_STATE) of the last catch-up */
    char quick[128]; /* the last quick look (SQL_QUICK_STATE) */
    /* times below are steady_s(): intervals, not dates */
    time_t locked_at;    /* when the state was last read under the lock */
    int lock_misses;     /* tries in a row that could not have the lock */
    time_t patient_at;   /* when a try last waited STATE_LOCK_PATIENT */
    int failures;        /* sweeps in a row whose re-runs failed */
    time_t retry_at;     /* after failures: no re-run before then */
    int run_failures;    /* tries in a row of the scheduled month that failed */
    time_t run_retry_at; /* after those: no scheduled try before then */
    billing_owed_t owed; /* months whose re-run failed: the sweep's next try */
} state_t;

/* Seconds on a clock that the wall clock's jumps (NTP, an operator's date)
 * never move: a clock set back an hour held every re-run back an hour, one
 * set forward ended a back-off at once (a review). The schedule itself keeps
 * the calendar (time(NULL)). */
static time_t steady_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* The state under the lock (billing_state), waiting as the rules above
 * say; false when not had (the caller tries again on its next sweep). */
static bool locked_state(state_t *st, char *mark, size_t cap)
{
    time_t now = steady_s();
    bool patient = st->lock_misses >= STATE_TRIES_BEFORE_PATIENT &&
                   now - st->patient_at >= STATE_PATIENT_EVERY_S;
    if (patient)
        st->patient_at = now;
    if (!billing_state(st->db, patient ? STATE_LOCK_PATIENT : STATE_LOCK_QUICK, mark,
                       cap)) {
        if (!strstr(db_error(st->db), "lock timeout"))
            log_warn("db.unavailable", "detail", db_error(st->db));
        else if (st->lock_misses++ == 0) /* once per streak, not every sweep */
            log_info("billing.sweep_deferred", "detail", "enrolments are being written");
        return false;
    }
    if (st->lock_misses > 0) {
        char n[16];
        snprintf(n, sizeof n, "%d", st->lock_misses);
        log_info("billing.sweep_resumed", "deferred_sweeps", n);
    }
    st->lock_misses = 0;
    return true;
}

/* The id part of a state ("id/time/rates"): the runs' watermark, read under
 * the watermark's own lock (one lock, not two). */
static void state_id(const char *mark, char *out, size_t cap)
{
    snprintf(out, cap, "%.*s", (int)strcspn(mark, "/"), mark);
}

/* After a failed catch-up, re-run or scheduled run: the next try comes at
 * once, then after 2, 4, ... up to RETRY_MAX_S seconds; logged once per delay
 * as `event`. */
static void back_off(int *failures, time_t *retry_at, const char *event)
{
    int n = (*failures)++;
    long delay = n == 0 ? 0 : n >= 6 ? RETRY_MAX_S : 1L << n;
    *retry_at = delay ? steady_s() + delay : 0;
    if (delay) {
        char text[16];
        snprintf(text, sizeof text, "%ld", delay);
        log_warn(event, "after_s", text);
    }
}

static void sweep_back_off(state_t *st)
{
    back_off(&st->failures, &st->retry_at, "billing.sweep_retry");
}

/* Months owed a re-run, for operators: while more than 0, some month's
 * corrections have not been issued (billing.failed names it). */
static void observe_owed(const state_t *st)
{
    metrics_gauge_set(st->metrics, "lindung_billing_reruns_owed_months",
                      "Months already billed whose re-run (supplementary lines, "
                      "corrections) failed and is being tried again.",
                      NULL, st->owed.n);
}

/* Start-up (and, until it succeeds, every sweep): bill every month up to the
 * one now due, and run again the months already billed after it (billed in
 * advance: a change made while billing was down touches them too; a review
 * found their corrections never issued after a restart). The watermark is
 * read first, so enrolments made during the catch-up are caught by the next
 * sweep. Without the lock after three tries, no watermark and no state: the
 * next locked sweep re-runs every month. */
static void catch_up(state_t *st)
{
    period_t due = schedule_due_month(st->schedule, time(NULL));
    period_t after = period_next(due);
    char mark[128] = "", id[24];
    bool locked = locked_state(st, mark, sizeof mark);
    if (!locked && st->lock_misses < STARTUP_TRIES)
        return;
    if (locked)
        state_id(mark, id, sizeof id);
    /* "" is no watermark: the runs' own would wait 10 s for the lock */
    const char *watermark = locked ? id : "";
    /* the months billed in advance run even when an older one failed (it
     * held them up: a review) */
    st->owed.every = false;
    st->owed.n = 0;
    int due_rc = billing_catch_up_to(st->db, st->metrics, due, (int)st->catch_up_months,
                                     "startup", watermark, &st->owed);
    billing_owed_t *later = calloc(1, sizeof *later);
    int failed_after =
        later ? billing_catch_up(st->db, st->metrics, "startup", &after, watermark, later)
              : -1;
    for (int i = 0; later && i < later->n; i++)
        billing_owed_add(&st->owed, later->month[i]);
    free(later);
    if (due_rc != 0 || failed_after != 0)
        log_warn("billing.catch_up_incomplete", "detail", db_error(st->db));
    /* only a month never billed (or a catch-up that could not even list
     * the months) holds start-up, backing off: the sweep never bills a
     * month for the first time. A re-run that failed is a correction, owed
     * and left to the sweep, which tries that month again, backing off as
     * it does (start-up re-ran every month every minute and never caught
     * up, so nothing was scheduled and no renewal queued: a review) */
    if (due_rc < 0 || failed_after < 0) {
        sweep_back_off(st);
        return;
    }
    st->lock_misses = 0;
    st->failures = 0;
    st->retry_at = 0;
    bool pending = st->owed.n > 0;
    if (pending) {
        st->failures = 1; /* start-up was the first try: the sweep's waits */
        sweep_back_off(st);
    }
    st->caught_up = true;
    st->next = after;
    /* "" when the lock was not had: the first locked sweep runs every month */
    snprintf(st->seen, sizeof st->seen, "%s", mark);
    observe_owed(st);
    queue_renewals(st->db);
    char month[8];
    period_format(due, month);
    /* every month is billed; with re-runs that failed, their corrections
     * are still to come (the log said caught up as if all were done: a
     * review) */
    log_info("billing.caught_up", "through", month, "corrections",
             pending ? "pending" : "done");
}

/* Run the month whose scheduled time has come. `next` only moves on
 * success; a failed run is tried again at once, then after 2, 4, ... up to
 * 60 s (it was tried again every POLL_MS, a whole run each time, for as long
 * as it kept failing: a review). */
static void run_scheduled(state_t *st)
{
    if (!st->caught_up || time(NULL) < schedule_time_of(st->schedule, st->next) ||
        steady_s() < st->run_retry_at)
        return;
    cJSON *doc = billing_run_json(st->db, st->metrics, st->next, "schedule");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "ok"))) {
        st->next = period_next(st->next);
        st->run_failures = 0;
        st->run_retry_at = 0;
    } else {
        back_off(&st->run_failures, &st->run_retry_at, "billing.run_retry");
    }
    cJSON_Delete(doc);
}

/* What changed since st->seen, by the state `now`. */
typedef enum {
    AFFECTED_UNKNOWN = -1, /* the database could not be asked */
    AFFECTED_ALL,          /* rates changed: every month billed */
    AFFECTED_FROM,         /* the months from *from on */
    AFFECTED_NONE          /* nothing since st->seen */
} affected_t;

/* A prompt for one accepted list then re-runs this month, not every month
 * since the first programme began. */
static affected_t months_affected(const state_t *st, const char *now, period_t *from)
{
    const char *seen_rates = strrchr(st->seen, '/'), *now_rates = strrchr(now, '/');
    const char *seen_time = strchr(st->seen, '/');
    if (!seen_rates || !now_rates || !seen_time || seen_time == seen_rates ||
        strcmp(seen_rates, now_rates) != 0)
        return AFFECTED_ALL;
    char id[24], since[64];
    snprintf(id, sizeof id, "%.*s", (int)(seen_time - st->seen), st->seen);
    snprintf(since, sizeof since, "%.*s", (int)(seen_rates - seen_time - 1),
             seen_time + 1);
    const char *params[] = {id, since};
    PGresult *r = db_exec(st->db, SQL_EARLIEST_AFFECTED, 2, params);
    affected_t rc = !db_ok(r) || PQntuples(r) != 1            ? AFFECTED_UNKNOWN
                    : PQgetisnull(r, 0, 0)                    ? AFFECTED_NONE
                    : period_parse(PQgetvalue(r, 0, 0), from) ? AFFECTED_FROM
                                                              : AFFECTED_ALL;
    PQclear(r);
    return rc;
}

/* Re-run months already billed when enrolments appeared or changed, or rates
 * changed, since the state of the last catch-up, whether or not a prompt
 * arrived. st->seen moves on only when the re-runs succeeded. */
static void sweep(state_t *st, const char *trigger)
{
    if (!st->caught_up) {
        if (steady_s() >= st->retry_at)
            catch_up(st);
        return;
    }
    char quick[128], mark[128];
    if (!quick_state(st->db, quick, sizeof quick)) {
        log_warn("db.unavailable", "detail", db_error(st->db));
        return;
    }
    bool moved = strcmp(quick, st->quick) != 0;
    time_t now = steady_s();
    if ((!moved && now - st->locked_at < STATE_LOCKED_EVERY_S) || now < st->retry_at) {
        billing_observe(st->db, st->metrics);
        return;
    }
    if (!locked_state(st, mark, sizeof mark))
        return;
    period_t from;
    affected_t scope = months_affected(st, mark, &from);
    if (scope == AFFECTED_UNKNOWN) {
        billing_observe(st->db, st->metrics);
        return;
    }
    int failed = 0;
    if (scope == AFFECTED_ALL || scope == AFFECTED_FROM || st->owed.n > 0) {
        if (scope != AFFECTED_NONE)
            queue_renewals(st->db);
        st->owed.every = scope == AFFECTED_ALL;
        char id[24];
        state_id(mark, id, sizeof id);
        /* the changes since st->seen are now in every month run, or in
         * st->owed where its run failed: only those are tried again */
        failed = billing_catch_up(st->db, st->metrics, trigger,
                                  scope == AFFECTED_FROM ? &from : NULL, id, &st->owed);
        if (failed >= 0)
            snprintf(st->seen, sizeof st->seen, "%s", mark);
        observe_owed(st);
    }
    /* only then is the quick look's change dealt with: a failed re-run is
     * tried again on the next sweep, not a minute later (a review), then
     * less and less often */
    if (failed == 0) {
        st->locked_at = steady_s();
        snprintf(st->quick, sizeof st->quick, "%s", quick);
        st->failures = 0;
        st->retry_at = 0;
    } else {
        sweep_back_off(st);
    }
    billing_observe(st->db, st->metrics);
}

/* Between the months of a long catch-up: let the sockets process their
 * pending commands (new peers, subscriptions) without taking a message. */
static void tend_sockets(void *arg)
{
    zmq_pollitem_t *items = arg;
    zmq_poll(items, 2, 0);
}

/* Everything main starts, so that one function stops it, whether start-up
 * got all the way or failed half-way (nothing left for a leak checker). */
typedef struct {
    schedule_t *schedule;
    void *zmq;
    metrics_t *metrics;
    zmqauth_t *auth;
    bus_t *in;
    control_t *control;
    ready_t *ready;
    httpd_t *server;
    db_t *db;
} parts_t;

static void parts_stop(parts_t *p)
{
    db_destroy(&p->db);
    httpd_destroy(&p->server);
    control_destroy(&p->control);
    bus_destroy(&p->in);
    zmqauth_destroy(&p->auth);
    if (p->zmq)
        zmq_ctx_term(p->zmq);
    p->zmq = NULL;
    ready_destroy(&p->ready);
    metrics_destroy(&p->metrics);
    schedule_destroy(&p->schedule);
}

/* 0 when everything is up; else the exit code (2: configuration, 1: other). */
static int parts_start(parts_t *p, const settings_t *s)
{
    char err[256];
    p->schedule = schedule_new(s->schedule, err, sizeof err);
    if (!p->schedule) {
        log_error("config.invalid", "detail", err);
        return 2;
    }
    p->zmq = zmq_ctx_new();
    p->metrics = metrics_new();
    if (!p->zmq || !p->metrics) {
        log_error("startup.failed", "detail", "out of memory");
        return 1;
    }
    db_observe(p->metrics);
    billing_metrics_init(p->metrics);
    p->auth = zmqauth_new(p->zmq, ZMQAUTH_SERVER, p->metrics, err, sizeof err);
    if (!p->auth) {
        log_error("config.invalid", "detail", err);
        return 2;
    }
    p->in = bus_new(p->zmq, BUS_SUBSCRIBER, s->enrolments, true, p->auth, p->metrics, err,
                    sizeof err);
    p->control = p->in ? control_new(p->zmq, s->control, p->auth, err, sizeof err) : NULL;
    if (!p->in || !p->control) {
        log_error("bus.failed", "detail", err);
        return 1;
    }
    control_set_window(p->control, (int)s->max_past_months, (int)s->max_future_months,
                       (int)s->catch_up_months);
    p->ready = ready_new(s->db);
    if (!p->ready) {
        log_error("startup.failed", "detail", "out of memory");
        return 1;
    }
    ready_watch(p->ready, p->in);
    p->server =
        httpd_new_ops((int)s->port, ready_check, p->ready, p->metrics, err, sizeof err);
    if (!p->server) {
        log_error("http.failed", "detail", err);
        return 1;
    }
    p->db = db_new(s->db);
    if (!p->db) {
        log_error("startup.failed", "detail", "out of memory");
        return 1;
    }
    return 0;
}

int main(void)
{
    log_init("billing");
    signals_install();
    settings_t s;
    if (read_settings(&s) != 0)
        return 2;
    accrual_set_load_parts((int)s.load_parts);
    accrual_set_load_memory((int)s.load_memory_mb);

    parts_t p = {0};
    int rc = parts_start(&p, &s);
    if (rc != 0) {
        parts_stop(&p);
        return rc;
    }
    db_t *db = p.db;
    metrics_t *metrics = p.metrics;
    bus_t *in = p.in;
    control_t *control = p.control;
    log_info("started", "bus_in", s.enrolments, "control", s.control, "schedule",
             s.schedule);

    state_t st = {.db = db,
                  .metrics = metrics,
                  .schedule = p.schedule,
                  .catch_up_months = s.catch_up_months,
                  /* as long ago as the wall clock's 0 was */
                  .locked_at = steady_s() - 3600,
                  .patient_at = steady_s() - 3600};
    zmq_pollitem_t items[] = {{.socket = bus_socket(in), .events = ZMQ_POLLIN},
                              {.socket = control_socket(control), .events = ZMQ_POLLIN}};
    billing_on_month(tend_sockets, items);
    catch_up(&st);
    long idle_ms = 0;
    while (!signals_stop_requested()) {
        int n = zmq_poll(items, 2, POLL_MS);
        if (n > 0 && (items[1].revents & ZMQ_POLLIN))
            control_serve(control, db, metrics);
        envelope_t env;
        bool prompted = false;
        while (bus_recv(in, &env) == 0) {
            prompted = true;
            log_info("enrolments.prompted", "submission_id", env.id, "request_id",
                     env.request_id);
        }
        run_scheduled(&st);
        idle_ms += POLL_MS;
        if (prompted || idle_ms >= s.sweep_ms) {
            sweep(&st, prompted ? "enrolments" : "sweep");
            idle_ms = 0;
        }
    }

    log_info("stopping");
    parts_stop(&p);
    log_info("stopped");
    return 0;
}
