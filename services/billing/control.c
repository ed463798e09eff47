/* control: REP socket. Each request gets exactly one reply, errors included,
 * or the REQ peer would be stuck. A run requested here is the same run as a
 * scheduled one (accrual_run), so it is idempotent; but a month far off
 * issues real invoices to every payer (a run for 2099-12 once made 43), so
 * months outside the window need "force": true, and each refusal and forced
 * run is logged with who asked (the CURVE client's key name, when CURVE is
 * on). */
#include "control.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include "billing.h"
#include "ctlsock.h"
#include "date.h"
#include "log.h"
#include "period.h"
#include "pgjson.h"

/* The reply when the real one cannot be made: a REQ peer must get one. */
#define OUT_OF_MEMORY_REPLY                                                              \
    "{\"ok\":false,\"error\":\"OUT_OF_MEMORY\",\"message\":\"billing ran out of "        \
    "memory; the run may or may not have been made: run it again\"}"

#define CONTROL_DEFAULT_PAST 60
#define CONTROL_DEFAULT_FUTURE 12

struct control_t {
    void *socket;
    int max_past, max_future; /* the window, in months from the current one */
    int catch_up;             /* months start-up bills in order (gap_refusal) */
};

control_t *control_new(void *zmq_ctx, const char *endpoint, const zmqauth_t *auth,
                       char *err, size_t errcap)
{
    void *sock = zmq_socket(zmq_ctx, ZMQ_REP);
    int linger = 0;
    int64_t maxmsg = CTLSOCK_MAX_REQUEST;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (zmqauth_apply(auth, sock, err, errcap) != 0) {
        zmq_close(sock);
        return NULL;
    }
    if (zmq_bind(sock, endpoint) != 0) {
        snprintf(err, errcap, "bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zmq_close(sock);
        return NULL;
    }
    control_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errcap, "out of memory");
        zmq_close(sock);
        return NULL;
    }
    self->socket = sock;
    self->max_past = CONTROL_DEFAULT_PAST;
    self->catch_up = CONTROL_DEFAULT_PAST;
    self->max_future = CONTROL_DEFAULT_FUTURE;
    return self;
}

void control_destroy(control_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zmq_close((*self_p)->socket);
    free(*self_p);
    *self_p = NULL;
}

void *control_socket(control_t *self)
{
    return self->socket;
}

void control_set_window(control_t *self, int max_past, int max_future, int catch_up)
{
    self->max_past = max_past;
    self->max_future = max_future;
    self->catch_up = catch_up;
}

/* Every reply is NULL when out of memory; control_serve then sends
 * OUT_OF_MEMORY_REPLY. The formats are ctlsock's (common/ctlsock.h), which
 * lindungctl reads them with. */

/* The refusal of a month outside the window: machine-readable (the code,
 * the month, the window's ends) and a message saying what to do. */
static cJSON *window_refusal(period_t period, period_t earliest, period_t latest,
                             const char *by)
{
    char p[8], from[8], to[8], message[256];
    period_format(period, p);
    period_format(earliest, from);
    period_format(latest, to);
    snprintf(message, sizeof message,
             "%s is outside the months billing runs without force (%s to %s); check "
             "the month, or repeat with force (lindungctl billing run %s --force)",
             p, from, to, p);
    log_warn("billing.run_refused", "period", p, "earliest", from, "latest", to, "by",
             by);
    cJSON *doc = ctlsock_error_reply("PERIOD_OUT_OF_WINDOW", message);
    return pgjson_whole(doc, doc && cJSON_AddStringToObject(doc, "period", p) &&
                                 cJSON_AddStringToObject(doc, "earliest", from) &&
                                 cJSON_AddStringToObject(doc, "latest", to));
}

/* The earliest month before $1 (from the first programme's coverage_start,
 * and not before $2, the first month start-up's catch-up bills) that no run
 * has finished,
 * when $1 itself has never been billed and is not later than this month
 * ($3); none otherwise. Billing such a month first would leave the earlier
 * one's lapse check nothing to end: its lines from that month to this one
 * protect everyone (a review: an operator's run of November while April's
 * first run kept failing kept a person three months behind billed for nine
 * months). Months billed in advance are not protected by their lines and
 * are not refused. */
static const char *SQL_EARLIER_UNBILLED =
    "SELECT to_char(min(m), 'YYYY-MM') "
    "FROM generate_series(greatest((SELECT min(coverage_start) FROM programs), "
    "                              $2::date)::timestamp, "
    "                     $1::date - interval '1 month', interval '1 month') m "
    "WHERE $1::date <= $3::date "
    "    AND NOT EXISTS (SELECT 1 FROM billing_runs r "
    "                    WHERE r.period = $1::date AND r.finished_at IS NOT NULL) "
    "    AND NOT EXISTS (SELECT 1 FROM billing_runs r "
    "                    WHERE r.period = m::date AND r.finished_at IS NOT NULL)";

/* The refusal of a first run past a month not billed yet, from `earliest`
 * (the first month start-up's catch-up bills, LINDUNG_BILLING_CATCHUP_MONTHS)
 * on; NULL (no refusal) when there is none or the database cannot say (the
 * run then fails or succeeds on its own). */
static cJSON *gap_refusal(db_t *db, period_t period, period_t earliest, const char *by)
{
    char p[8], first[11], from[11], now[11];
    period_format(period, p);
    date_format(period_first_day(period), first);
    date_format(period_first_day(earliest), from);
    date_format(period_first_day(period_of(date_today())), now);
    const char *params[] = {first, from, now};
    PGresult *r = db_exec(db, SQL_EARLIER_UNBILLED, 3, params);
    if (!db_ok(r) || PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
        PQclear(r);
        return NULL;
    }
    char gap[8], message[256];
    snprintf(gap, sizeof gap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    snprintf(message, sizeof message,
             "%s has not been billed yet and %s, before it, has no finished run: billing "
             "runs months in order (bill %s first, or repeat with force: lindungctl "
             "billing run %s --force)",
             p, gap, gap, p);
    log_warn("billing.run_refused", "period", p, "unbilled", gap, "by", by);
    cJSON *doc = ctlsock_error_reply("EARLIER_MONTH_NOT_BILLED", message);
    return pgjson_whole(doc, doc && cJSON_AddStringToObject(doc, "period", p) &&
                                 cJSON_AddStringToObject(doc, "unbilled", gap));
}

/* Run the month, or refuse it when it is outside the window or past a month
 * not billed yet, unforced. */
static cJSON *run(const control_t *self, period_t period, bool force, const char *by,
                  db_t *db, metrics_t *metrics)
{
    period_t now = period_of(date_today());
    period_t earliest = period_add(now, -self->max_past);
    period_t latest = period_add(now, self->max_future);
    bool inside =
        period_compare(period, earliest) >= 0 && period_compare(period, latest) <= 0;
    if (!inside && !force)
        return window_refusal(period, earliest, latest, by);
    cJSON *gap =
        force ? NULL : gap_refusal(db, period, period_add(now, 1 - self->catch_up), by);
    if (gap)
        return gap;
    char p[8];
    period_format(period, p);
    if (inside)
        log_info("billing.run_requested", "period", p, "by", by);
    else
        log_warn("billing.run_forced", "period", p, "by", by);
    cJSON *reply = billing_run_json(db, metrics, period, "manual");
    return pgjson_whole(reply, reply && cJSON_AddBoolToObject(reply, "forced", !inside));
}

static cJSON *handle(const control_t *self, const char *text, size_t len, const char *by,
                     db_t *db, metrics_t *metrics)
{
    period_t period;
    bool force = false;
    const char *code = NULL, *message = NULL;
    if (!ctlsock_request_parse(text, len, &period, &force, &code, &message))
        return ctlsock_error_reply(code, message);
    return run(self, period, force, by, db, metrics);
}

void control_serve(control_t *self, db_t *db, metrics_t *metrics)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, self->socket, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return;
    }
    /* Swallow any further frames: one request is one frame. */
    while (zmq_msg_more(&msg)) {
        zmq_msg_close(&msg);
        zmq_msg_init(&msg);
        zmq_msg_recv(&msg, self->socket, 0);
    }
    /* The name of the CURVE client's key (zap.h); none without CURVE. */
    const char *user = zmq_msg_gets(&msg, "User-Id");
    char by[80];
    snprintf(by, sizeof by, "%s", user && *user ? user : "unauthenticated");
    cJSON *reply = handle(self, zmq_msg_data(&msg), zmq_msg_size(&msg), by, db, metrics);
    zmq_msg_close(&msg);
    char *text = reply ? cJSON_PrintUnformatted(reply) : NULL;
    cJSON_Delete(reply);
    const char *out = text ? text : OUT_OF_MEMORY_REPLY;
    zmq_send(self->socket, out, strlen(out), 0);
    free(text);
}
