/* control: the request/reply socket operators use (lindungctl billing run).
 * Requests and replies are JSON: {"command": "run", "period": "YYYY-MM"},
 * optionally with "force": true. A month outside the window (max_past months
 * before the current month, Asia/Jakarta, to max_future after it) is refused
 * with {"ok": false, "error": "PERIOD_OUT_OF_WINDOW", "period", "earliest",
 * "latest", "message"} unless forced: a typo or a stranger's 2099-12 must not
 * issue invoices. So is a first run of a month up to the current one while
 * an earlier month has no finished run ("EARLIER_MONTH_NOT_BILLED", with
 * "unbilled"): months are billed in order, or a lapse is missed. The formats and the
 * client's side are common/ctlsock.h, shared with lindungctl. Not the bus: control is for
 * people and tools, the bus for daemons. */
#ifndef LINDUNG_CONTROL_H
#define LINDUNG_CONTROL_H
#include "db.h"
#include "metrics.h"
#include "zmqauth.h"

typedef struct control_t control_t;

/* Bind the REP socket; `auth` (may be NULL: none) makes it a CURVE server. */
control_t *control_new(void *zmq_ctx, const char *endpoint, const zmqauth_t *auth,
                       char *err, size_t errcap);
void control_destroy(control_t **self_p);
void *control_socket(control_t *self);

/* Months a run may be requested for without force, counted from the
 * current month: [now - max_past, now + max_future]; and how many months
 * back start-up bills in order (catch_up), the months a first run must not
 * skip (EARLIER_MONTH_NOT_BILLED). */
void control_set_window(control_t *self, int max_past, int max_future, int catch_up);

/* Answer one waiting request, if any. */
void control_serve(control_t *self, db_t *db, metrics_t *metrics);
#endif
