/* accrual: billing as set-based SQL. Rounding: JKK is income x basis points,
 * rounded half up to whole rupiah ((income * bp + 5000) / 10000 in integer
 * arithmetic); JKM is a flat amount. No floating point touches money. */
#include "accrual.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"

/* One run per month at a time, across every billing process. */
static const char *SQL_LOCK_MONTH = "SELECT pg_advisory_xact_lock(4242, $1::int)";

static const char *SQL_RATES_IN_FORCE =
    "SELECT (SELECT count(*) FROM premium_rates WHERE component = 'JKK' AND "
    "effective_month <= $1) "
    "     > 0 AND "
    "       (SELECT count(*) FROM premium_rates WHERE component = 'JKM' AND "
    "effective_month <= $1) "
    "     > 0";

static const char *SQL_RUN_BEFORE = "SELECT EXISTS (SELECT 1 FROM billing_runs WHERE "
                                    "period = $1 AND finished_at IS NOT NULL)";

static const char *SQL_START_RUN =
    "INSERT INTO billing_runs (period, trigger) VALUES ($1, $2) RETURNING id";

/* An invoice for every payer with an enrolment active in the month. */
static const char *SQL_OPEN_INVOICES =
    "INSERT INTO invoices (period, funding_source, payer_code, payer_name, due_date) "
    "SELECT DISTINCT ON (e.funding_source, e.payer_code) $1::date, e.funding_source, "
    "  e.payer_code, coalesce(CASE WHEN e.funding_source = 'CSR' THEN p.payer_name END, "
    "  r.name, e.payer_code), $1::date + 14 "
    "FROM enrolments e JOIN programs p ON p.id = e.program_id "
    "LEFT JOIN regions r ON r.code = e.payer_code "
    "WHERE e.start_month <= $1 AND (e.end_month IS NULL OR e.end_month >= $1) "
    "ORDER BY e.funding_source, e.payer_code "
    "ON CONFLICT (period, funding_source, payer_code) DO NOTHING";

static const char *SQL_ACCRUE =
    "WITH jkk AS (SELECT income_bp, min_income FROM premium_rates "
    "             WHERE component = 'JKK' AND effective_month <= $1 "
    "             ORDER BY effective_month DESC LIMIT 1), "
    "     jkm AS (SELECT flat_amount FROM premium_rates "
    "             WHERE component = 'JKM' AND effective_month <= $1 "
    "             ORDER BY effective_month DESC LIMIT 1), "
    "     ins AS (INSERT INTO accruals (enrolment_id, period, jkk, jkm, amount, "
    "invoice_id, "
    "                                   run_id, supplementary) "
    "             SELECT e.id, $1, c.jkk, jkm.flat_amount, c.jkk + jkm.flat_amount, "
    "i.id, $2, $3 "
    "             FROM enrolments e "
    "             JOIN invoices i ON i.period = $1 AND i.funding_source = "
    "e.funding_source "
    "                            AND i.payer_code = e.payer_code "
    "             CROSS JOIN jkk CROSS JOIN jkm "
    "             CROSS JOIN LATERAL (SELECT (greatest(e.declared_income, "
    "jkk.min_income) "
    "                                 * jkk.income_bp + 5000) / 10000 AS jkk) c "
    "             WHERE e.start_month <= $1 AND (e.end_month IS NULL OR e.end_month >= "
    "$1) "
    "               AND NOT EXISTS (SELECT 1 FROM accruals a "
    "                               WHERE a.enrolment_id = e.id AND a.period = $1) "
    "             ON CONFLICT (enrolment_id, period) DO NOTHING "
    "             RETURNING invoice_id, amount), "
    "     per_invoice AS (SELECT invoice_id, count(*) AS n, sum(amount) AS total "
    "                     FROM ins GROUP BY invoice_id), "
    "     upd AS (UPDATE invoices i SET total = i.total + p.total, "
    "                    line_count = i.line_count + p.n, updated_at = now() "
    "             FROM per_invoice p WHERE i.id = p.invoice_id RETURNING p.n, p.total) "
    "SELECT coalesce(sum(n), 0), coalesce(sum(total), 0) FROM upd";

static const char *SQL_FINISH_RUN =
    "UPDATE billing_runs SET finished_at = now(), lines_added = $2, amount_added = $3 "
    "WHERE id = $1";

static const char *SQL_MONTHS_RUN =
    "SELECT DISTINCT to_char(period, 'YYYY-MM') FROM billing_runs "
    "WHERE finished_at IS NOT NULL ORDER BY 1";

static int fail(db_t *db, accrual_result_t *result, const char *what)
{
    snprintf(result->error, sizeof result->error, "%s: %s", what, db_error(db));
    db_rollback(db);
    return -1;
}

/* One row, one column. */
static bool query_value(db_t *db, const char *sql, int n, const char *const *params,
                        char *out, size_t cap)
{
    PGresult *r = db_exec(db, sql, n, params);
    bool ok = db_ok(r) && PQntuples(r) == 1;
    if (ok)
        snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return ok;
}

int accrual_run(db_t *db, period_t period, const char *trigger, accrual_result_t *result)
{
    memset(result, 0, sizeof *result);
    char month[11], key[8], value[32], run_id[24];
    date_format(period_first_day(period), month);
    snprintf(key, sizeof key, "%04d%02d", period.year, period.month);
    const char *p_month[] = {month};
    const char *p_key[] = {key};
    if (!db_begin(db))
        return fail(db, result, "begin");
    if (!db_run(db, SQL_LOCK_MONTH, 1, p_key))
        return fail(db, result, "lock");
    if (!query_value(db, SQL_RATES_IN_FORCE, 1, p_month, value, sizeof value))
        return fail(db, result, "rates");
    if (strcmp(value, "t") != 0) {
        snprintf(result->error, sizeof result->error,
                 "no JKK and JKM rates in force for %s", month);
        db_rollback(db);
        return -1;
    }
    if (!query_value(db, SQL_RUN_BEFORE, 1, p_month, value, sizeof value))
        return fail(db, result, "history");
    result->supplementary = strcmp(value, "t") == 0;
    const char *p_start[] = {month, trigger};
    if (!query_value(db, SQL_START_RUN, 2, p_start, run_id, sizeof run_id))
        return fail(db, result, "start");
    if (!db_run(db, SQL_OPEN_INVOICES, 1, p_month))
        return fail(db, result, "invoices");
    const char *p_accrue[] = {month, run_id, result->supplementary ? "t" : "f"};
    PGresult *r = db_exec(db, SQL_ACCRUE, 3, p_accrue);
    if (!db_ok(r) || PQntuples(r) != 1) {
        PQclear(r);
        return fail(db, result, "accrue");
    }
    result->lines_added = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    result->amount_added = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    char lines[24], amount[24];
    snprintf(lines, sizeof lines, "%" PRId64, result->lines_added);
    snprintf(amount, sizeof amount, "%" PRId64, result->amount_added);
    const char *p_finish[] = {run_id, lines, amount};
    if (!db_run(db, SQL_FINISH_RUN, 3, p_finish) || !db_commit(db))
        return fail(db, result, "finish");
    result->run_id = strtoll(run_id, NULL, 10);
    return 0;
}

int accrual_months_run(db_t *db, period_t *out, int cap)
{
    PGresult *r = db_exec(db, SQL_MONTHS_RUN, 0, NULL);
    if (!db_ok(r)) {
        PQclear(r);
        return -1;
    }
    int n = 0;
    for (int i = 0; i < PQntuples(r) && n < cap; i++)
        if (period_parse(PQgetvalue(r, i, 0), &out[n]))
            n++;
    PQclear(r);
    return n;
}
