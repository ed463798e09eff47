/* billing: logging, metrics and summaries around accrual_run. */
#include "billing.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "accrual.h"
#include "log.h"

#define MAX_MONTHS 1200

static const char *SQL_EARLIEST_COVERAGE =
    "SELECT to_char(min(coverage_start), 'YYYY-MM') FROM programs";

static const char *SQL_LATEST_PERIOD = "SELECT extract(epoch FROM max(period))::float8 "
                                       "FROM billing_runs WHERE finished_at IS NOT NULL";

static const char *SQL_ACCRUED_BY_SOURCE =
    "SELECT funding_source, sum(total) FROM invoices GROUP BY funding_source";

static const double duration_bounds[] = {0.01, 0.05, 0.1, 0.5, 1,  2.5,
                                         5,    10,   30,  60,  300};

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void record(metrics_t *metrics, const char *month, bool ok, double seconds)
{
    char labels[64];
    snprintf(labels, sizeof labels, "result=\"%s\"", ok ? "success" : "failure");
    metrics_counter_add(metrics, "lindung_billing_runs_total", "Billing runs, by result.",
                        labels, 1);
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

/* One run; `watermark` as accrual_run() takes it. */
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
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddBoolToObject(doc, "ok", rc == 0);
    cJSON_AddStringToObject(doc, "period", month);
    if (rc != 0) {
        log_error("billing.failed", "period", month, "trigger", trigger, "detail",
                  result.error);
        cJSON_AddStringToObject(doc, "error", "RUN_FAILED");
        cJSON_AddStringToObject(doc, "message", result.error);
        return doc;
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
    /* Integers below 2^53 are exact in JSON numbers; rupiah totals stay far below. */
    cJSON_AddNumberToObject(doc, "run_id", (double)result.run_id);
    cJSON_AddNumberToObject(doc, "lines_added", (double)result.lines_added);
    cJSON_AddNumberToObject(doc, "amount_added", (double)result.amount_added);
    cJSON_AddNumberToObject(doc, "lapsed", (double)result.lapsed);
    cJSON_AddNumberToObject(doc, "programme_ended", (double)result.programme_ended);
    cJSON_AddNumberToObject(doc, "corrections", (double)result.corrections);
    cJSON_AddNumberToObject(doc, "correction_amount", (double)result.correction_amount);
    cJSON_AddBoolToObject(doc, "supplementary", result.supplementary);
    return doc;
}

cJSON *billing_run_json(db_t *db, metrics_t *metrics, period_t period,
                        const char *trigger)
{
    return run_json(db, metrics, period, trigger, NULL);
}

/* A catch-up runs many months; one watermark serves them all, so verify is
 * held once, not once a month. */
int billing_catch_up(db_t *db, metrics_t *metrics, const char *trigger)
{
    char mark[24];
    accrual_watermark(db, mark, sizeof mark);
    period_t *months = calloc(MAX_MONTHS, sizeof *months);
    int n = accrual_months_run(db, months, MAX_MONTHS);
    for (int i = 0; i < n; i++)
        cJSON_Delete(run_json(db, metrics, months[i], trigger, mark));
    free(months);
    return n < 0 ? -1 : 0;
}

int billing_catch_up_to(db_t *db, metrics_t *metrics, period_t due, int max_months,
                        const char *trigger)
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
    accrual_watermark(db, mark, sizeof mark);
    int failed = 0;
    for (period_t p = first; period_compare(p, due) <= 0; p = period_next(p)) {
        cJSON *doc = run_json(db, metrics, p, trigger, mark);
        failed += !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "ok"));
        cJSON_Delete(doc);
    }
    return failed ? -1 : 0;
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
        snprintf(labels, sizeof labels, "funding_source=\"%s\"", PQgetvalue(r, i, 0));
        metrics_gauge_set(metrics, "lindung_billing_accrued_rupiah",
                          "Premiums accrued so far, in rupiah, by funding source.",
                          labels, strtod(PQgetvalue(r, i, 1), NULL));
    }
    PQclear(r);
}
