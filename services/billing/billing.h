/* billing: what a billing run means to the daemon around the SQL: logging,
 * metrics, a JSON summary, and supplementary catch-up of months already run.
 * The accrual itself is accrual.c. */
#ifndef LINDUNG_BILLING_H
#define LINDUNG_BILLING_H
#include <cjson/cJSON.h>
#include <stdbool.h>
#include "db.h"
#include "metrics.h"
#include "period.h"

/* Run one month; returns {"ok", "period", "run_id", "lines_added",
 * "amount_added", "supplementary"} or {"ok": false, "error", "message"};
 * NULL when out of memory, the run made or not (running it again is
 * harmless: accrual is idempotent). */
cJSON *billing_run_json(db_t *db, metrics_t *metrics, period_t period,
                        const char *trigger);

/* The most months billing_catch_up looks at (a century). */
#define BILLING_MONTHS_MAX 1200

/* Months already billed that must be run again whatever else changed: those
 * whose re-run failed, or every month. A sweep that saw a change re-ran
 * every month it touched; when one of them failed, each retry re-ran all of
 * them again, where only the failed one was owed (at national size a minute
 * of re-runs per retry for one bad month). */
typedef struct {
    bool every; /* every month billed (rates changed) */
    int n;
    period_t month[BILLING_MONTHS_MAX];
} billing_owed_t;

/* Add `month` to `owed` once. */
void billing_owed_add(billing_owed_t *owed, period_t month);

/* Run again the months already run that are from `from` on (none by that
 * rule when NULL) or owed, so an enrolment accepted late gets its
 * supplementary lines and changed coverage or rates their corrections.
 * `watermark`: the newest enrolment id read under accrual_watermark's lock
 * (billing's sweep reads one with its state), or NULL to take one here.
 * Afterwards `owed` holds exactly the months whose run failed. Returns how
 * many failed, or -1 when the months billed could not be read or memory ran
 * out (nothing run, `owed` unchanged). */
int billing_catch_up(db_t *db, metrics_t *metrics, const char *trigger,
                     const period_t *from, const char *watermark, billing_owed_t *owed);

/* Run every month from the earliest programme coverage start (but at most
 * max_months back) up to and including `due`: months never run are billed,
 * months run before get their supplementary lines. `watermark` as for
 * billing_catch_up. -1 when a month never billed before failed or the
 * database is unavailable (try again later: nothing else bills that month);
 * 1 when only runs of months billed before failed (their corrections: they
 * are added to `owed` and the sweep tries them again); 0 otherwise. */
int billing_catch_up_to(db_t *db, metrics_t *metrics, period_t due, int max_months,
                        const char *trigger, const char *watermark, billing_owed_t *owed);

/* fn(arg) is called after each month of a catch-up: the daemon lets its
 * ZeroMQ sockets take in new peers there (a socket's new connections and
 * subscriptions are processed only when its own thread calls into it, and a
 * publisher drops what it sends before a subscriber's subscription arrives). */
void billing_on_month(void (*fn)(void *), void *arg);

/* lindung_billing_runs_total{result} at 0 for both results, from the start,
 * so that LindungBillingRunFailed (an increase of the failures) can fire on
 * the first failure after a start. */
void billing_metrics_init(metrics_t *metrics);

/* Refresh gauges read from the database (accrued amount by funding source). */
void billing_observe(db_t *db, metrics_t *metrics);
#endif
