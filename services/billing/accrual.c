/* accrual: billing as set-based SQL, one transaction per run: lock the month,
 * end lapsed enrolments, open invoices, insert lines, grow invoice totals by
 * exactly the lines inserted. Rounding (docs/billing.md): integer arithmetic,
 * half up, per component, the same as premium.c. No floating point touches
 * money. Not the schedule (schedule.c) nor logging of runs (billing.c). */
#include "accrual.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"

#define LAPSE_LOG_MAX 100

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

/* An invoice for every payer with an enrolment active in the month. Grouped
 * before the joins: a million enrolments have a few hundred payers. */
static const char *SQL_OPEN_INVOICES =
    "INSERT INTO invoices (period, funding_source, payer_code, payer_name, due_date) "
    "SELECT $1::date, g.funding_source, g.payer_code, "
    "  coalesce(CASE WHEN g.funding_source = 'CSR' THEN p.payer_name END, r.name, "
    "  g.payer_code), $1::date + 14 "
    "FROM (SELECT e.funding_source, e.payer_code, min(e.program_id) AS program_id "
    "      FROM enrolments e JOIN programs pe ON pe.id = e.program_id "
    "      WHERE e.start_month <= $1 AND (e.end_month IS NULL OR e.end_month >= $1) "
    "        AND (pe.coverage_end IS NULL OR pe.coverage_end >= $1) "
    "      GROUP BY e.funding_source, e.payer_code) g "
    "JOIN programs p ON p.id = g.program_id "
    "LEFT JOIN regions r ON r.code = g.payer_code "
    "ORDER BY g.funding_source, g.payer_code "
    "ON CONFLICT (period, funding_source, payer_code) DO NOTHING";

/* A programme's coverage_end is its last billed month: its enrolments are
 * not joined to `rel` after it, so they get no line and open no invoice.
 *
 * The premium of each enrolment, as premium_compute() does it (premium.c):
 * JKK = half-up(max(income, min_income) x bp / 10000), then each component
 * x (10000 - relief off) / 10000, half up, in bigint arithmetic. The relief
 * for the month is the largest adjustment in force for the enrolment's sector
 * (adjustments do not stack), and only where the programme's relief_applies.
 * The NOT EXISTS skips what was accrued before without burning ids; the
 * unique (enrolment_id, period) index is what guarantees exactly once. The
 * leading comment names the statement in pg_stat_activity, which shows only
 * the first 1024 bytes of a query (the crash test watches for it). */
static const char *SQL_ACCRUE =
    "/* accrual_run: INSERT INTO accruals */ "
    "WITH jkk AS (SELECT income_bp, min_income FROM premium_rates "
    "             WHERE component = 'JKK' AND effective_month <= $1 "
    "             ORDER BY effective_month DESC LIMIT 1), "
    "     jkm AS (SELECT flat_amount FROM premium_rates "
    "             WHERE component = 'JKM' AND effective_month <= $1 "
    "             ORDER BY effective_month DESC LIMIT 1), "
    "     adj AS (SELECT t.transport, "
    "                    coalesce(max(a.off_bp) FILTER (WHERE a.applies_jkk), 0) AS "
    "jkk_off, "
    "                    coalesce(max(a.off_bp) FILTER (WHERE a.applies_jkm), 0) AS "
    "jkm_off "
    "             FROM (VALUES (false), (true)) AS t (transport) "
    "             LEFT JOIN premium_adjustments a ON a.first_month <= $1 "
    "                  AND a.last_month >= $1 "
    "                  AND (a.sector IS NULL OR (a.sector = 'transport' AND "
    "t.transport)) "
    "             GROUP BY t.transport), "
    "     rel AS (SELECT p.id AS program_id, adj.transport, "
    "                    CASE WHEN p.relief_applies THEN adj.jkk_off ELSE 0 END AS "
    "jkk_off, "
    "                    CASE WHEN p.relief_applies THEN adj.jkm_off ELSE 0 END AS "
    "jkm_off "
    "             FROM programs p CROSS JOIN adj "
    "             WHERE p.coverage_end IS NULL OR p.coverage_end >= $1), "
    "     ins AS (INSERT INTO accruals (enrolment_id, period, jkk, jkm, amount, "
    "invoice_id, "
    "                                   run_id, supplementary) "
    "             SELECT e.id, $1, c.jkk, c.jkm, c.jkk + c.jkm, i.id, $2, $3 "
    "             FROM enrolments e "
    "             JOIN rel ON rel.program_id = e.program_id AND rel.transport = "
    "e.transport "
    "             JOIN invoices i ON i.period = $1 AND i.funding_source = "
    "e.funding_source "
    "                            AND i.payer_code = e.payer_code "
    "             CROSS JOIN jkk CROSS JOIN jkm "
    "             CROSS JOIN LATERAL (SELECT "
    "                 ((greatest(e.declared_income, jkk.min_income) * jkk.income_bp + "
    "5000) "
    "                  / 10000 * (10000 - rel.jkk_off) + 5000) / 10000 AS jkk, "
    "                 (jkm.flat_amount * (10000 - rel.jkm_off) + 5000) / 10000 AS jkm) c "
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

/* Lapse (BPJS: after more than 3 consecutive unpaid months membership ends).
 * Before month $1 is accrued: an enrolment whose three previous months are
 * all unpaid past their due date ($2 is today in Jakarta) ends with
 * end_month = $1 - 1 month, the last of the three grace months, so a fourth
 * unpaid month is never billed. Only lines billed on time count (created on
 * or before the due date): a month billed late by a catch-up cannot lapse
 * anyone. An enrolment with a line at or after $1 is left alone (a re-run of
 * an old month must not end someone in the past). */
static const char *SQL_LAPSE =
    "WITH unpaid AS MATERIALIZED ( "
    "       SELECT id, due_date FROM invoice_balances "
    "       WHERE period >= ($1::date - interval '3 months')::date AND period < $1 "
    "         AND status <> 'paid' AND due_date < $2::date), "
    "     late AS (SELECT a.enrolment_id FROM unpaid u JOIN accruals a ON a.invoice_id = "
    "u.id "
    "              WHERE a.created_at::date <= u.due_date "
    "              GROUP BY a.enrolment_id HAVING count(*) = 3) "
    "UPDATE enrolments e SET status = 'ended', end_reason = 'lapsed', ended_at = now(), "
    "       end_month = ($1::date - interval '1 month')::date "
    "FROM late l WHERE e.id = l.enrolment_id AND e.status = 'active' "
    "  AND NOT EXISTS (SELECT 1 FROM accruals x WHERE x.enrolment_id = e.id AND x.period "
    ">= $1) "
    "RETURNING e.id, e.nik, e.payer_code, to_char(e.end_month, 'YYYY-MM')";

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

/* End lapsed enrolments before the month is accrued; log each (the NIK is
 * masked by log.c), at most LAPSE_LOG_MAX lines a run, then a count. */
static int lapse(db_t *db, const char *month, accrual_result_t *result)
{
    char today[11];
    date_format(date_today(), today);
    const char *params[] = {month, today};
    PGresult *r = db_exec(db, SQL_LAPSE, 2, params);
    if (!db_ok(r)) {
        PQclear(r);
        return -1;
    }
    result->lapsed = PQntuples(r);
    for (int i = 0; i < PQntuples(r) && i < LAPSE_LOG_MAX; i++)
        log_warn("billing.lapsed", "period", month, "enrolment_id", PQgetvalue(r, i, 0),
                 "nik", PQgetvalue(r, i, 1), "payer", PQgetvalue(r, i, 2), "end_month",
                 PQgetvalue(r, i, 3), "reason", "more than 3 consecutive unpaid months");
    PQclear(r);
    return 0;
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
    if (lapse(db, month, result) != 0)
        return fail(db, result, "lapse");
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
