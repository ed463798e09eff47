/* billing: logging, metrics and summaries around accrual_run. */
#include "billing.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "accrual.h"
#include "config.h"
#include "log.h"
#include "pgjson.h"

static const char *SQL_EARLIEST_COVERAGE =
    "SELECT to_char(min(coverage_start), 'YYYY-MM') FROM programs";

static const char *SQL_LATEST_PERIOD = "SELECT extract(epoch FROM max(period))::float8 "
                                       "FROM billing_runs "
                                       "WHERE finished_at IS NOT NULL";

static const char *SQL_ACCRUED_BY_SOURCE = "SELECT funding_source, sum(total) "
                                           "FROM invoices "
                                           "GROUP BY funding_source";
enum { AS_FUNDING_SOURCE, AS_TOTAL };

/* Enrolments BPJS has neither registered nor refused $1 days after their
 * acceptance (019_bpjs.sql), that cover at least one month: the same rule as
 * `lindungctl bpjs unconfirmed`. Reads the partial index of pending ones. */
static const char *SQL_BPJS_UNCONFIRMED =
    "SELECT count(*) "
    "FROM enrolments e "
    "WHERE e.bpjs_status = 'pending' "
    "    AND e.created_at < now() - make_interval(days => $1::int) "
    "    AND NOT isempty(enrolment_months(e.start_month, e.end_month))";

#define BPJS_CONFIRM_DAYS_DEFAULT 14

static const double duration_bounds[] = {0.01, 0.05, 0.1, 0.5, 1,  2.5,
                                         5,    10,   30,  60,  300};

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void count_run(metrics_t *metrics, bool ok, double n)
{
    metrics_counter_add(metrics, "lindung_billing_runs_total", "Billing runs, by result.",
                        ok ? "result=\"success\"" : "result=\"failure\"", n);
}

void billing_metrics_init(metrics_t *metrics)
{
    count_run(metrics, true, 0);
    count_run(metrics, false, 0);
}

static void record(metrics_t *metrics, const char *month, bool ok, double seconds)
{
    char labels[64];
    count_run(metrics, ok, 1);
    metrics_histogram_observe(metrics, "lindung_billing_run_duration_seconds",
                              "Duration of billing runs.", NULL, duration_bounds,
                              sizeof duration_bounds / sizeof duration_bounds[0],
                              seconds);
    if (!ok)
        return;
    snprintf(labels, sizeof labels, "period=\"%s\"", month);
    metrics_gauge_set(metrics, "lindung_billing_last_success_timestamp_seconds",
                      "When the last successful run for a month finished (Unix time).",
                      labels, (double)time(NULL));
}

/* Called after every month of a catch-up (billing_on_month). */
static void (*month_done)(void *) = NULL;
static void *month_done_arg = NULL;

void billing_on_month(void (*fn)(void *), void *arg)
{
    month_done = fn;
    month_done_arg = arg;
}

static void between_months(void)
{
    if (month_done)
        month_done(month_done_arg);
}

/* The answer for a run that succeeded; NULL when out of memory. */
static cJSON *done_json(const char *month, const accrual_result_t *r)
{
    cJSON *doc = cJSON_CreateObject();
    /* Integers below 2^53 are exact in JSON numbers; rupiah totals stay far below. */
    return pgjson_whole(
        doc,
        doc && cJSON_AddTrueToObject(doc, "ok") &&
            cJSON_AddStringToObject(doc, "period", month) &&
            cJSON_AddNumberToObject(doc, "run_id", (double)r->run_id) &&
            cJSON_AddNumberToObject(doc, "lines_added", (double)r->lines_added) &&
            cJSON_AddNumberToObject(doc, "amount_added", (double)r->amount_added) &&
            cJSON_AddNumberToObject(doc, "lapsed", (double)r->lapsed) &&
            cJSON_AddNumberToObject(doc, "programme_ended", (double)r->programme_ended) &&
            cJSON_AddNumberToObject(doc, "corrections", (double)r->corrections) &&
            cJSON_AddNumberToObject(doc, "correction_amount",
                                    (double)r->correction_amount) &&
            cJSON_AddBoolToObject(doc, "supplementary", r->supplementary));
}

/* One run; `watermark` as accrual_run() takes it. NULL when out of memory,
 * the run made or not. */
static cJSON *run_json(db_t *db, metrics_t *metrics, period_t period, const char *trigger,
                       const char *watermark)
{
    char month[8];
    period_format(period, month);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    accrual_result_t result;
    int rc = accrual_run(db, period, trigger, watermark, &result);
    record(metrics, month, rc == 0, seconds_since(&t0));
    if (rc != 0) {
        log_error("billing.failed", "period", month, "trigger", trigger, "detail",
                  result.error);
        cJSON *doc = cJSON_CreateObject();
        return pgjson_whole(doc,
                            doc && cJSON_AddFalseToObject(doc, "ok") &&
                                cJSON_AddStringToObject(doc, "period", month) &&
                                cJSON_AddStringToObject(doc, "error", "RUN_FAILED") &&
                                cJSON_AddStringToObject(doc, "message", result.error));
    }
    char lines[24], amount[24], lapsed[24], corrections[24], corrected[24];
    snprintf(lines, sizeof lines, "%" PRId64, result.lines_added);
    snprintf(amount, sizeof amount, "%" PRId64, result.amount_added);
    snprintf(lapsed, sizeof lapsed, "%" PRId64, result.lapsed);
    snprintf(corrections, sizeof corrections, "%" PRId64, result.corrections);
    snprintf(corrected, sizeof corrected, "%" PRId64, result.correction_amount);
    log_info("billing.run", "period", month, "trigger", trigger, "lines_added", lines,
             "amount_added", amount, "lapsed", lapsed, "corrections", corrections,
             "correction_amount", corrected, "supplementary",
             result.supplementary ? "true" : "false");
    return done_json(month, &result);
}

cJSON *billing_run_json(db_t *db, metrics_t *metrics, period_t period,
                        const char *trigger)
{
    return run_json(db, metrics, period, trigger, NULL);
}

static bool month_in(const period_t *months, int n, period_t p)
{
    for (int i = 0; i < n; i++)
        if (period_compare(months[i], p) == 0)
            return true;
    return false;
}

void billing_owed_add(billing_owed_t *owed, period_t month)
{
    if (month_in(owed->month, owed->n, month))
        return;
    if (owed->n == BILLING_MONTHS_MAX)
        owed->every = true; /* cannot happen: no more months are ever billed */
    else
        owed->month[owed->n++] = month;
}

static bool owed_has(const billing_owed_t *owed, period_t month)
{
    return owed->every || month_in(owed->month, owed->n, month);
}

/* A catch-up runs many months; one watermark serves them all, so verify is
 * held once, not once a month. */
int billing_catch_up(db_t *db, metrics_t *metrics, const char *trigger,
                     const period_t *from, const char *watermark, billing_owed_t *owed)
{
    char mark[24];
    if (watermark)
        snprintf(mark, sizeof mark, "%s", watermark);
    else
        accrual_watermark(db, mark, sizeof mark);
    period_t *months = calloc(BILLING_MONTHS_MAX, sizeof *months);
    billing_owed_t *before = malloc(sizeof *before);
    int n = months && before ? accrual_months_run(db, months, BILLING_MONTHS_MAX) : -1;
    if (n < 0) {
        free(months);
        free(before);
        return -1;
    }
    *before = *owed;
    owed->every = false;
    owed->n = 0;
    for (int i = 0; i < n; i++)
        if ((from && period_compare(months[i], *from) >= 0) ||
            owed_has(before, months[i])) {
            cJSON *doc = run_json(db, metrics, months[i], trigger, mark);
            between_months();
            if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "ok")))
                billing_owed_add(owed, months[i]);
            cJSON_Delete(doc);
        }
    free(months);
    free(before);
    /* a month that failed stays owed: the next sweep runs it again rather
     * than leave its corrections for some later change */
    return owed->n;
}

int billing_catch_up_to(db_t *db, metrics_t *metrics, period_t due, int max_months,
                        const char *trigger, const char *watermark, billing_owed_t *owed)
{
    PGresult *r = db_exec(db, SQL_EARLIEST_COVERAGE, 0, NULL);
    if (!db_ok(r) || PQntuples(r) != 1) {
        PQclear(r);
        return -1;
    }
    period_t first;
    bool any = !PQgetisnull(r, 0, 0) && period_parse(PQgetvalue(r, 0, 0), &first);
    PQclear(r);
    if (!any)
        return 0; /* no programme yet: nothing to bill */
    period_t bound = period_add(due, 1 - max_months);
    if (period_compare(first, bound) < 0)
        first = bound;
    char mark[24];
    if (watermark)
        snprintf(mark, sizeof mark, "%s", watermark);
    else
        accrual_watermark(db, mark, sizeof mark);
    period_t *billed = calloc(BILLING_MONTHS_MAX, sizeof *billed);
    int n = billed ? accrual_months_run(db, billed, BILLING_MONTHS_MAX) : -1;
    if (n < 0) {
        free(billed);
        return -1;
    }
    int failed = 0, failed_first = 0;
    for (period_t p = first; period_compare(p, due) <= 0; p = period_next(p)) {
        /* after a month never billed failed, no later one is billed for
         * the first time: its lapse check, run later, would find their
         * lines and end nobody (a review: a person three months behind
         * billed from April to December) */
        if (failed_first && !month_in(billed, n, p))
            continue;
        cJSON *doc = run_json(db, metrics, p, trigger, mark);
        between_months();
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "ok"))) {
            failed++;
            if (month_in(billed, n, p))
                billing_owed_add(owed, p);
            else
                failed_first++;
        }
        cJSON_Delete(doc);
    }
    free(billed);
    return failed_first ? -1 : failed ? 1 : 0;
}

/* LINDUNG_BPJS_CONFIRM_DAYS is read on every sweep (cheap), so a bad value
 * is warned about each time and the default used: the gauge never stops. */
static void observe_bpjs(db_t *db, metrics_t *metrics)
{
    long days = BPJS_CONFIRM_DAYS_DEFAULT;
    char err[256], text[16];
    if (config_int("LINDUNG_BPJS_CONFIRM_DAYS", BPJS_CONFIRM_DAYS_DEFAULT, 0, 3650, &days,
                   err, sizeof err) != 0) {
        log_warn("config.invalid", "detail", err);
        days = BPJS_CONFIRM_DAYS_DEFAULT;
    }
    snprintf(text, sizeof text, "%ld", days);
    const char *params[] = {text};
    PGresult *r = db_exec(db, SQL_BPJS_UNCONFIRMED, 1, params);
    if (db_ok(r) && PQntuples(r) == 1)
        metrics_gauge_set(
            metrics, "lindung_bpjs_unconfirmed_enrolments",
            "Enrolments accepted more than LINDUNG_BPJS_CONFIRM_DAYS days ago that BPJS "
            "has neither registered nor refused; read from the database.",
            NULL, strtod(PQgetvalue(r, 0, 0), NULL));
    PQclear(r);
}

/* Open claims (reported or filed, 018_claims.sql) by kind and age since
 * they were recorded, every bucket present (zero too) so that a bucket
 * emptied does not keep its last value; and the age of the oldest. */
static const char *SQL_CLAIMS_OPEN =
    "SELECT k.kind, b.bucket, count(c.id), "
    "    coalesce(max(extract(epoch FROM now() - c.created_at)), 0)::bigint "
    "FROM (VALUES ('JKM'), ('JKK')) k (kind) "
    "CROSS JOIN (VALUES ('under_30d', 0, 30), ('30d_to_90d', 30, 90), "
    "                   ('over_90d', 90, 1000000)) b (bucket, lo, hi) "
    "LEFT JOIN claims c ON c.kind = k.kind AND c.status IN ('reported', 'filed') "
    "    AND c.created_at <= now() - make_interval(days => b.lo) "
    "    AND c.created_at > now() - make_interval(days => b.hi) "
    "GROUP BY k.kind, b.bucket, b.lo "
    "ORDER BY k.kind, b.lo";
enum { CO_KIND, CO_BUCKET, CO_COUNT, CO_OLDEST_S };

static void observe_claims(db_t *db, metrics_t *metrics)
{
    PGresult *r = db_exec(db, SQL_CLAIMS_OPEN, 0, NULL);
    double oldest[2] = {0, 0}; /* JKM, JKK */
    for (int i = 0; db_ok(r) && i < PQntuples(r); i++) {
        char labels[64];
        snprintf(labels, sizeof labels, "kind=\"%s\",age_bucket=\"%s\"",
                 PQgetvalue(r, i, CO_KIND), PQgetvalue(r, i, CO_BUCKET));
        metrics_gauge_set(metrics, "lindung_claims_open",
                          "Claims reported or filed and not yet paid or refused, by kind "
                          "and age since recorded; read from the database.",
                          labels, strtod(PQgetvalue(r, i, CO_COUNT), NULL));
        int k = PQgetvalue(r, i, CO_KIND)[2] == 'K'; /* JKK, not JKM */
        double age = strtod(PQgetvalue(r, i, CO_OLDEST_S), NULL);
        oldest[k] = age > oldest[k] ? age : oldest[k];
    }
    for (int k = 0; db_ok(r) && k < 2; k++)
        metrics_gauge_set(metrics, "lindung_claims_open_oldest_age_seconds",
                          "Age of the oldest open (reported or filed) claim, by kind; 0 "
                          "when none is open.",
                          k ? "kind=\"JKK\"" : "kind=\"JKM\"", oldest[k]);
    PQclear(r);
}

void billing_observe(db_t *db, metrics_t *metrics)
{
    PGresult *latest = db_exec(db, SQL_LATEST_PERIOD, 0, NULL);
    if (db_ok(latest) && PQntuples(latest) == 1 && !PQgetisnull(latest, 0, 0))
        metrics_gauge_set(
            metrics, "lindung_billing_latest_period_timestamp_seconds",
            "First day (UTC) of the latest month with a finished billing run; "
            "read from the database, so true across restarts and processes.",
            NULL, strtod(PQgetvalue(latest, 0, 0), NULL));
    PQclear(latest);
    PGresult *r = db_exec(db, SQL_ACCRUED_BY_SOURCE, 0, NULL);
    for (int i = 0; db_ok(r) && i < PQntuples(r); i++) {
        char labels[64];
        snprintf(labels, sizeof labels, "funding_source=\"%s\"",
                 PQgetvalue(r, i, AS_FUNDING_SOURCE));
        metrics_gauge_set(metrics, "lindung_billing_accrued_rupiah",
                          "Premiums accrued so far, in rupiah, by funding source.",
                          labels, strtod(PQgetvalue(r, i, AS_TOTAL), NULL));
    }
    PQclear(r);
    observe_bpjs(db, metrics);
    observe_claims(db, metrics);
}
