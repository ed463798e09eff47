/* bench_lapse: a month's run at national size when the three previous
 * months are due and partly unpaid, so that its lapse check has real work
 * (issue 13: "a month's run <= 30 s including the lapse check"). On a fresh
 * database (bench/billing/run.sh with LAPSE=1 makes one):
 *   1. N enrolments from January 2026 (bench_common.h);
 *   2. January, February and March 2026 billed through accrual_run;
 *   3. test-only: their documents made to look issued on time (created_at
 *      the 1st of their month, 01:00 Jakarta; due_date the 15th), with
 *      session_replication_role = replica, since the trigger of 013 keeps
 *      issued documents fixed;
 *   4. payments, each month the same way: the payers (villages) in code
 *      order, i = 0, 1, ...: i % 10 == 0 pays nothing; i % 10 == 1 pays all
 *      but one disputed line (its lowest enrolment id, the same person every
 *      month: p_except); every other payer pays its invoice in full
 *      (neither p_lines nor p_except: the document's order). Each payment is
 *      one call of billing_record_payment, in a transaction of its own, as a
 *      district's payment comes in; each call is timed. LINDUNG_BENCH_PAY=sql
 *      records the same payments and allocations in two set-based statements
 *      instead (quicker set-up at 10 million; the function's cost is then
 *      not measured);
 *   5. VACUUM ANALYZE (what autovacuum does in the weeks between runs), a
 *      CHECKPOINT, then April 2026 through accrual_run, timed: the run with
 *      its lapse check. Lapsed: every enrolment of the non-paying villages
 *      and one per disputing village; the bench checks that count exactly;
 *   6. April again (the rerun; its lapse check finds the same documents).
 * With pg_stat_statements loaded (run.sh does), the statements of steps 5
 * and 6 that took over 20 ms are printed with their times, the lapse
 * statement among them. A benchmark, not a test. Usage:
 *   bench_lapse [N]    (default 1000000; LINDUNG_DB as for bench_billing) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "accrual.h"
#include "bench_common.h"
#include "db.h"
#include "log.h"

#define MONTHS 3
static const char *MONTH[MONTHS] = {"2026-01", "2026-02", "2026-03"};
static const char *RUN_MONTH = "2026-04";

static const char *SQL_FRESH = "SELECT count(*) FROM billing_runs";

/* Step 3 (test-only): issued on time, due on the 15th. */
static const char *SQL_ON_TIME =
    "UPDATE invoices SET created_at = ((period + time '01:00') AT TIME ZONE "
    "'Asia/Jakarta'), due_date = period + 14 "
    "WHERE period >= '2026-01-01' AND period < '2026-04-01'";

/* Step 4: the month's invoices, payer by payer in code order, with what
 * each payer does (0 nothing, 1 all but its disputed line, 2 in full), the
 * disputed enrolment and what the payment is. */
static const char *SQL_TO_PAY =
    "WITH p AS (SELECT payer_code, (row_number() OVER (ORDER BY payer_code) - 1) % 10 AS k "
    "           FROM (SELECT DISTINCT payer_code FROM invoices "
    "                 WHERE period = '2026-01-01' AND kind = 'invoice') x) "
    "SELECT i.id, CASE p.k WHEN 0 THEN 0 WHEN 1 THEN 1 ELSE 2 END, d.enrolment_id, "
    "  i.total - CASE WHEN p.k = 1 THEN a.amount ELSE 0 END, i.line_count "
    "FROM invoices i JOIN p ON p.payer_code = i.payer_code "
    "CROSS JOIN LATERAL (SELECT min(e.id) AS enrolment_id FROM enrolments e "
    "                    WHERE e.funding_source = i.funding_source "
    "                      AND e.payer_code = i.payer_code) d "
    "LEFT JOIN accruals a ON a.enrolment_id = d.enrolment_id AND a.period = i.period "
    "WHERE i.period = $1::date AND i.kind = 'invoice' ORDER BY i.payer_code";

static const char *SQL_PAY =
    "SELECT result FROM billing_record_payment($1::bigint, $2::bigint, $3::date + 10, "
    "  'bench-' || $1, 'bench', NULL, nullif($4, '')::bigint[])";

/* LINDUNG_BENCH_PAY=sql: the same payments and allocations, set-based
 * ($1: invoice ids, $2: disputed enrolment or 0, $3: amounts). */
static const char *SQL_PAY_SET =
    "INSERT INTO payments (invoice_id, amount, paid_on, reference, source) "
    "SELECT t.id, t.amount, i.period + 10, 'bench-' || t.id, 'bench' "
    "FROM unnest($1::bigint[], $3::bigint[]) AS t (id, amount) "
    "JOIN invoices i ON i.id = t.id";
static const char *SQL_PAY_LINES_SET =
    "INSERT INTO payment_lines (payment_id, enrolment_id, period, amount) "
    "SELECT p.id, a.enrolment_id, a.period, a.amount "
    "FROM unnest($1::bigint[], $2::bigint[]) AS t (id, disputed) "
    "JOIN payments p ON p.invoice_id = t.id "
    "JOIN invoices i ON i.id = t.id "
    "JOIN enrolments e ON e.funding_source = i.funding_source "
    "                 AND e.payer_code = i.payer_code "
    "JOIN accruals a ON a.enrolment_id = e.id AND a.period = i.period "
    "WHERE a.invoice_id = i.id AND a.enrolment_id <> t.disputed";

/* Who must lapse in April: every active enrolment of a payer that paid
 * nothing, and each disputed line's person. */
static const char *SQL_EXPECTED =
    "WITH p AS (SELECT payer_code, (row_number() OVER (ORDER BY payer_code) - 1) % 10 AS k "
    "           FROM (SELECT DISTINCT payer_code FROM invoices "
    "                 WHERE period = '2026-01-01' AND kind = 'invoice') x) "
    "SELECT (SELECT count(*) FROM enrolments e JOIN p ON p.payer_code = e.payer_code "
    "        WHERE p.k = 0 AND e.status = 'active') "
    "     + (SELECT count(*) FROM p WHERE p.k = 1)";

static const char *SQL_STATEMENTS_RESET =
    "SELECT pg_stat_statements_reset() FROM pg_extension "
    "WHERE extname = 'pg_stat_statements'";
static const char *SQL_STATEMENTS_ON = "CREATE EXTENSION IF NOT EXISTS pg_stat_statements";
static const char *SQL_STATEMENTS =
    "SELECT round(total_exec_time)::bigint, calls, rows, "
    "  left(regexp_replace(query, '\\s+', ' ', 'g'), 90) "
    "FROM pg_stat_statements WHERE total_exec_time > 20 ORDER BY total_exec_time DESC "
    "LIMIT 15";
static const char *SQL_VACUUM = "VACUUM ANALYZE";
static const char *SQL_CHECKPOINT = "CHECKPOINT";

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void run_month(db_t *db, const char *month, const char *what,
                      accrual_result_t *res, double *seconds)
{
    period_t period;
    period_parse(month, &period);
    double t0 = now_s();
    if (accrual_run(db, period, "bench", NULL, res) != 0) {
        fprintf(stderr, "bench: accrual_run %s: %s\n", month, res->error);
        exit(1);
    }
    *seconds = now_s() - t0;
    printf("%s %s: %.3f s, %" PRId64 " lines (Rp %" PRId64 "), lapsed %" PRId64
           ", corrections %" PRId64 "\n",
           what, month, *seconds, res->lines_added, res->amount_added, res->lapsed,
           res->corrections);
    fflush(stdout);
}

/* Statements over 20 ms since the last reset, every session (the parts
 * too); nothing when pg_stat_statements is not loaded. */
static void print_statements(db_t *db, const char *title)
{
    PGresult *r = db_exec(db, SQL_STATEMENTS, 0, NULL);
    if (!db_ok(r)) {
        PQclear(r);
        return;
    }
    printf("  statements of the %s over 20 ms (pg_stat_statements, ms, calls, rows):\n",
           title);
    for (int i = 0; i < PQntuples(r); i++)
        printf("  %8s ms %4s %9s  %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
               PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
    PQclear(r);
    fflush(stdout);
}

/* Step 4 for one month, a call per invoice. Returns the payments made. */
static int pay_by_function(db_t *db, PGresult *todo, const char *first_day, double *times,
                           long *lines, double *total)
{
    int n = 0;
    for (int i = 0; i < PQntuples(todo); i++) {
        int kind = atoi(PQgetvalue(todo, i, 1));
        if (kind == 0)
            continue;
        char except[32] = "";
        if (kind == 1)
            snprintf(except, sizeof except, "{%s}", PQgetvalue(todo, i, 2));
        const char *p[] = {PQgetvalue(todo, i, 0), PQgetvalue(todo, i, 3), first_day, except};
        double t0 = now_s();
        PGresult *r = db_exec(db, SQL_PAY, 4, p);
        double t = now_s() - t0;
        if (!db_ok(r) || PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), "ok") != 0) {
            fprintf(stderr, "bench: payment of invoice %s: %s\n", PQgetvalue(todo, i, 0),
                    db_ok(r) && PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : db_error(db));
            exit(1);
        }
        PQclear(r);
        times[n++] = t;
        *total += t;
        *lines += atol(PQgetvalue(todo, i, 4)) - (kind == 1);
    }
    return n;
}

/* Step 4 for one month, set-based (LINDUNG_BENCH_PAY=sql). */
static int pay_by_sql(db_t *db, PGresult *todo, long *lines, double *total)
{
    size_t cap = (size_t)PQntuples(todo) * 24 + 3;
    char *ids = malloc(cap), *disputed = malloc(cap), *amounts = malloc(cap);
    if (!ids || !disputed || !amounts) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    strcpy(ids, "{");
    strcpy(disputed, "{");
    strcpy(amounts, "{");
    int n = 0;
    for (int i = 0; i < PQntuples(todo); i++) {
        int kind = atoi(PQgetvalue(todo, i, 1));
        if (kind == 0)
            continue;
        const char *sep = n ? "," : "";
        snprintf(ids + strlen(ids), cap - strlen(ids), "%s%s", sep, PQgetvalue(todo, i, 0));
        snprintf(disputed + strlen(disputed), cap - strlen(disputed), "%s%s", sep,
                 kind == 1 ? PQgetvalue(todo, i, 2) : "0");
        snprintf(amounts + strlen(amounts), cap - strlen(amounts), "%s%s", sep,
                 PQgetvalue(todo, i, 3));
        *lines += atol(PQgetvalue(todo, i, 4)) - (kind == 1);
        n++;
    }
    strcat(ids, "}");
    strcat(disputed, "}");
    strcat(amounts, "}");
    const char *p_pay[] = {ids, disputed, amounts};
    const char *p_lines[] = {ids, disputed};
    double t0 = now_s();
    must(db, "BEGIN", 0, NULL);
    must(db, SQL_PAY_SET, 3, p_pay);
    must(db, SQL_PAY_LINES_SET, 2, p_lines);
    must(db, "COMMIT", 0, NULL);
    *total += now_s() - t0;
    free(ids);
    free(disputed);
    free(amounts);
    return n;
}

int main(int argc, char **argv)
{
    setenv("LINDUNG_LOG_LEVEL", "error", 0);
    log_init("bench_lapse");
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    const char *parts = getenv("LINDUNG_BILLING_LOAD_PARTS");
    if (parts && *parts)
        accrual_set_load_parts(atoi(parts));
    const char *memory = getenv("LINDUNG_BILLING_LOAD_MEMORY_MB");
    if (memory && *memory)
        accrual_set_load_memory(atoi(memory));
    const char *pay_mode = getenv("LINDUNG_BENCH_PAY");
    bool by_function = !pay_mode || strcmp(pay_mode, "sql") != 0;
    db_t *db = db_new(getenv("LINDUNG_DB") ? getenv("LINDUNG_DB") : "dbname=lindung");
    if (!db_conn(db)) {
        fprintf(stderr, "bench: cannot connect: %s\n", db_error(db));
        return 1;
    }
    char v[64];
    if (atol(one_value(db, SQL_FRESH, 0, NULL, v, sizeof v)) != 0) {
        fprintf(stderr, "bench: bench_lapse needs a database no billing run has touched\n");
        return 1;
    }
    printf("fsync = %s\n", one_value(db, "SHOW fsync", 0, NULL, v, sizeof v));
    printf("load parts = %s, index memory = %d MB a part, payments %s\n",
           parts && *parts ? parts : "2 (default)", accrual_part_memory_mb(),
           by_function ? "by billing_record_payment, one call per invoice"
                       : "set-based (LINDUNG_BENCH_PAY=sql)");
    double t_all = now_s();
    ensure_enrolments(db, n);

    accrual_result_t res;
    double t;
    for (int m = 0; m < MONTHS; m++) {
        must(db, SQL_CHECKPOINT, 0, NULL);
        run_month(db, MONTH[m], "bill", &res, &t);
    }

    must(db, "BEGIN", 0, NULL);
    must(db, "SET LOCAL session_replication_role = replica", 0, NULL);
    PGresult *r = db_exec(db, SQL_ON_TIME, 0, NULL);
    if (!db_ok(r)) {
        fprintf(stderr, "bench: %s\n", db_error(db));
        return 1;
    }
    printf("test-only: %s documents made issued on the 1st, due on the 15th\n",
           PQcmdTuples(r));
    PQclear(r);
    must(db, "COMMIT", 0, NULL);

    int paid = 0, unpaid = 0, disputes = 0;
    long lines = 0;
    double pay_total = 0, times[4096];
    for (int m = 0; m < MONTHS; m++) {
        char first_day[11];
        snprintf(first_day, sizeof first_day, "%s-01", MONTH[m]);
        const char *p[] = {first_day};
        PGresult *todo = db_exec(db, SQL_TO_PAY, 1, p);
        if (!db_ok(todo) || PQntuples(todo) > 4096 / MONTHS) {
            fprintf(stderr, "bench: %s\n", db_ok(todo) ? "too many invoices" : db_error(db));
            return 1;
        }
        for (int i = 0; i < PQntuples(todo); i++) {
            int kind = atoi(PQgetvalue(todo, i, 1));
            unpaid += kind == 0;
            disputes += kind == 1;
        }
        paid += by_function ? pay_by_function(db, todo, first_day, times + paid, &lines,
                                               &pay_total)
                            : pay_by_sql(db, todo, &lines, &pay_total);
        PQclear(todo);
    }
    printf("payments: %d (%d of them all but one disputed line), %d invoices left "
           "unpaid; %ld lines allocated in %.1f s",
           paid, disputes, unpaid, lines, pay_total);
    if (by_function && paid > 0) {
        qsort(times, (size_t)paid, sizeof *times, by_value);
        printf("; per payment: median %.3f s, 90th percentile %.3f s, max %.3f s; "
               "%.1f us per line",
               times[paid / 2], times[paid * 9 / 10], times[paid - 1],
               pay_total / (double)lines * 1e6);
    }
    printf("\n");
    fflush(stdout);

    double t0 = now_s();
    must(db, SQL_VACUUM, 0, NULL);
    printf("VACUUM ANALYZE: %.1f s\n", now_s() - t0);
    char expected[24];
    one_value(db, SQL_EXPECTED, 0, NULL, expected, sizeof expected);
    must(db, SQL_STATEMENTS_ON, 0, NULL);
    must(db, SQL_CHECKPOINT, 0, NULL);
    db_run(db, SQL_STATEMENTS_RESET, 0, NULL);
    double t_run;
    run_month(db, RUN_MONTH, "run", &res, &t_run);
    bool exact = res.lapsed == atol(expected);
    printf("  lapsed %" PRId64 ", expected %s: %s\n", res.lapsed, expected,
           exact ? "exact" : "WRONG");
    print_statements(db, "run");
    must(db, SQL_CHECKPOINT, 0, NULL);
    db_run(db, SQL_STATEMENTS_RESET, 0, NULL);
    accrual_result_t again;
    double t_rerun;
    run_month(db, RUN_MONTH, "rerun", &again, &t_rerun);
    print_statements(db, "rerun");
    exact = exact && again.lines_added == 0 && again.lapsed == 0;
    printf("summary, %ld enrolments: run of %s with its lapse check %.3f s (%" PRId64
           " lapsed), rerun %.3f s, whole bench %.0f s\n",
           n, RUN_MONTH, t_run, res.lapsed, t_rerun, now_s() - t_all);
    db_destroy(&db);
    return exact ? 0 : 1;
}
