/* bench_lapse: a month's run at national size when the three previous
 * months are due and partly unpaid, so that its lapse check has real work
 * (issue 13: "a month's run <= 30 s including the lapse check"). On a fresh
 * database (bench/billing/run.sh with LAPSE=1 makes one):
 *   1. N enrolments from January 2026 (bench_common.h), each village's in
 *      runs of 100 consecutive ids (LINDUNG_BENCH_VILLAGE_RUN=K: of K; 1
 *      deals them out one by one, as bench_billing does);
 *   2. January, February and March 2026 billed through accrual_run;
 *   3. test-only: their documents made to look issued on time (created_at
 *      the 1st of their month, 01:00 Jakarta; due_date the 15th), with
 *      session_replication_role = replica, since the trigger of 013 keeps
 *      issued documents fixed;
 *   4. payments: the payers (villages) in code order, i = 0, 1, ..., in
 *      month m = 0, 1, 2 of the three: k = (i + s * m) % M, where M is
 *      LINDUNG_BENCH_MODULUS (default 10: a tenth pays nothing), s is 0
 *      (LINDUNG_BENCH_UNPAID=same, the default: the same villages every
 *      month) or 1 (=rotate: another tenth each month). k == 0 pays nothing;
 *      k == 1 pays all but one disputed line (the payer's lowest enrolment
 *      id, the same person every month: p_except); every other payer pays
 *      its invoice in full (neither p_lines nor p_except: the document's
 *      order). Each payment is one call of billing_record_payment, in a
 *      transaction of its own, as a district's payment comes in, and each
 *      call is timed. LINDUNG_BENCH_PAY_CALLS=K: only the first K payments
 *      go through the function, the rest are recorded with the same
 *      allocations by two set-based statements (a quicker set-up at 10
 *      million; K=0: none through the function);
 *   5. VACUUM ANALYZE (what autovacuum does in the weeks between runs), a
 *      CHECKPOINT, then April 2026 through accrual_run, timed: the run with
 *      its lapse check. Who must lapse: with `same`, every enrolment of the
 *      villages that paid nothing and one per disputing village (a tenth of
 *      everyone, plus one a village); with `rotate`, nobody (no one has three
 *      unpaid months), while the check still reads the lines of about four
 *      tenths of the villages. The bench checks the count exactly;
 *   6. April again (the rerun; its lapse check finds the same documents).
 * LINDUNG_BENCH_SETUP_ONLY=1: steps 1-4 only (with run.sh's BENCH_KEEP=1,
 * a cluster to copy and time April on, again and again, by BENCH_REUSE).
 * LINDUNG_BENCH_RESUME=1 (run.sh's BENCH_REUSE=DIR sets it): on a database
 * kept after step 4, steps 5 and 6 only; give N and LINDUNG_BENCH_UNPAID as
 * then (neither is checked).
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

/* LINDUNG_BENCH_RESUME=1 on a database kept after steps 1-4 (BENCH_KEEP=1;
 * a run of April that failed or was stopped left nothing): January to March
 * billed and paid, April never run. */
static const char *SQL_RESUMABLE =
    "SELECT (SELECT count(DISTINCT period) FROM billing_runs "
    "        WHERE finished_at IS NOT NULL "
    "        AND period BETWEEN '2026-01-01' AND '2026-03-01') = 3 "
    "   AND NOT EXISTS (SELECT 1 FROM billing_runs WHERE finished_at IS NOT NULL "
    "                   AND period >= '2026-04-01') "
    "   AND EXISTS (SELECT 1 FROM payments)";

/* Step 3 (test-only): issued on time, due on the 15th. */
static const char *SQL_ON_TIME =
    "UPDATE invoices SET created_at = ((period + time '01:00') AT TIME ZONE "
    "'Asia/Jakarta'), due_date = period + 14 "
    "WHERE period >= '2026-01-01' AND period < '2026-04-01'";

/* Step 4: the month's invoices, payer by payer in code order, with what
 * each payer does (0 nothing, 1 all but its disputed line, 2 in full), the
 * disputed enrolment and what the payment is. */
/* The payers in code order, i = 0, 1, ... */
#define PAYERS                                                                           \
    "p AS (SELECT payer_code, row_number() OVER (ORDER BY payer_code) - 1 AS i "         \
    "      FROM (SELECT DISTINCT payer_code FROM invoices "                              \
    "            WHERE period = '2026-01-01' AND kind = 'invoice') x) "

static const char *SQL_TO_PAY =
    "WITH " PAYERS ", "
    "     q AS (SELECT payer_code, (i + $3::int * $2::int) % $4::int AS k FROM p) "
    "SELECT i.id, CASE p.k WHEN 0 THEN 0 WHEN 1 THEN 1 ELSE 2 END, d.enrolment_id, "
    "  i.total - CASE WHEN p.k = 1 THEN a.amount ELSE 0 END, i.line_count "
    "FROM invoices i JOIN q p ON p.payer_code = i.payer_code "
    "CROSS JOIN LATERAL (SELECT min(e.id) AS enrolment_id FROM enrolments e "
    "                    WHERE e.funding_source = i.funding_source "
    "                      AND e.payer_code = i.payer_code) d "
    "LEFT JOIN accruals a ON a.enrolment_id = d.enrolment_id AND a.period = i.period "
    "WHERE i.period = $1::date AND i.kind = 'invoice' ORDER BY i.payer_code";

static const char *SQL_PAY =
    "SELECT result FROM billing_record_payment($1::bigint, $2::bigint, $3::date + 10, "
    "  'bench-' || $1, 'bench', NULL, nullif($4, '')::bigint[])";

/* The same payments and allocations, set-based (LINDUNG_BENCH_PAY_CALLS):
 * $1 invoice ids, $2 amounts; then $1 invoice ids, $2 the disputed
 * enrolment of each, or 0. */
static const char *SQL_PAY_SET =
    "INSERT INTO payments (invoice_id, amount, paid_on, reference, source) "
    "SELECT t.id, t.amount, i.period + 10, 'bench-' || t.id, 'bench' "
    "FROM unnest($1::bigint[], $2::bigint[]) AS t (id, amount) "
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

/* Who must lapse in April ($1: s): every active enrolment of a payer that
 * paid nothing in all three months, and the disputed person of a payer
 * that left that line (at least) unpaid in all three. */
static const char *SQL_EXPECTED =
    "WITH " PAYERS ", "
    "     c AS (SELECT payer_code, bool_and((i + $1::int * m) % $2::int = 0) AS nothing, "
    "             bool_and((i + $1::int * m) % $2::int IN (0, 1)) AS disputed "
    "           FROM p, generate_series(0, 2) m GROUP BY payer_code) "
    "SELECT (SELECT count(*) FROM enrolments e JOIN c ON c.payer_code = e.payer_code "
    "        WHERE c.nothing AND e.status = 'active') "
    "     + (SELECT count(*) FROM c WHERE c.disputed AND NOT c.nothing)";

/* LINDUNG_BENCH_SETTLE=M2 (with LINDUNG_BENCH_RESUME, `same` only): on a
 * database paid as modulus $1 (LINDUNG_BENCH_MODULUS then), the payments
 * that make it as if paid as modulus $2 (a multiple of $1): the villages
 * that paid nothing but are no longer k == 0 pay their three invoices in
 * full, and those that disputed a line but are no longer k == 1 pay that
 * line. A 10-million set-up then serves several scenarios (about 50 minutes
 * to make one here). Then give LINDUNG_BENCH_MODULUS=M2 for the count. */
static const char *SQL_SETTLE_PAY =
    "WITH " PAYERS ", "
    "     s AS (SELECT payer_code, i % $1::int AS k FROM p "
    "           WHERE i % $1::int IN (0, 1) AND i % $2::int <> i % $1::int) "
    "INSERT INTO payments (invoice_id, amount, paid_on, reference, source) "
    "SELECT i.id, CASE WHEN s.k = 0 THEN i.total ELSE a.amount END, i.period + 12, "
    "  'settle-' || i.id, 'bench' "
    "FROM invoices i JOIN s ON s.payer_code = i.payer_code "
    "CROSS JOIN LATERAL (SELECT min(e.id) AS enrolment_id FROM enrolments e "
    "                    WHERE e.funding_source = i.funding_source "
    "                      AND e.payer_code = i.payer_code) d "
    "LEFT JOIN accruals a ON a.enrolment_id = d.enrolment_id AND a.period = i.period "
    "WHERE i.kind = 'invoice' AND i.period >= '2026-01-01' AND i.period < '2026-04-01'";
static const char *SQL_SETTLE_LINES =
    "INSERT INTO payment_lines (payment_id, enrolment_id, period, amount) "
    "SELECT p.id, a.enrolment_id, a.period, a.amount "
    "FROM payments p JOIN invoices i ON i.id = p.invoice_id "
    "JOIN enrolments e ON e.funding_source = i.funding_source "
    "                 AND e.payer_code = i.payer_code "
    "JOIN accruals a ON a.enrolment_id = e.id AND a.period = i.period "
    "WHERE p.reference = 'settle-' || i.id AND a.invoice_id = i.id "
    "  AND NOT EXISTS (SELECT 1 FROM payment_lines x "
    "                  WHERE x.enrolment_id = a.enrolment_id AND x.period = a.period)";

static const char *SQL_STATEMENTS_RESET =
    "SELECT pg_stat_statements_reset() FROM pg_extension "
    "WHERE extname = 'pg_stat_statements'";
static const char *SQL_STATEMENTS_ON =
    "CREATE EXTENSION IF NOT EXISTS pg_stat_statements";
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

/* What step 4 did: payments through the function (each timed) and
 * set-based, and the lines each kind allocated. */
typedef struct {
    int calls_left; /* payments still to make through the function */
    int calls, set_based, unpaid, disputes;
    long call_lines, set_lines;
    double call_seconds, set_seconds;
    double times[4096];
} payments_t;

/* One payment through billing_record_payment (row i of SQL_TO_PAY). */
static void pay_by_function(db_t *db, PGresult *todo, int i, const char *first_day,
                            payments_t *pay)
{
    int kind = atoi(PQgetvalue(todo, i, 1));
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
    if (pay->calls < (int)(sizeof pay->times / sizeof *pay->times))
        pay->times[pay->calls] = t;
    pay->calls++;
    pay->call_seconds += t;
    pay->call_lines += atol(PQgetvalue(todo, i, 4)) - (kind == 1);
}

/* Append one number to an array literal being built ("{" to start). */
static void append(char *array, size_t cap, const char *number)
{
    size_t len = strlen(array);
    snprintf(array + len, cap - len, "%s%s", len > 1 ? "," : "", number);
}

/* Step 4 for one month: the first payments through the function (as many
 * as pay->calls_left allows), the others set-based, in one transaction. */
static void pay_month(db_t *db, PGresult *todo, const char *first_day, payments_t *pay)
{
    size_t cap = (size_t)PQntuples(todo) * 24 + 3;
    char *ids = calloc(1, cap), *disputed = calloc(1, cap), *amounts = calloc(1, cap);
    if (!ids || !disputed || !amounts) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    ids[0] = disputed[0] = amounts[0] = '{';
    int set_based = 0;
    for (int i = 0; i < PQntuples(todo); i++) {
        int kind = atoi(PQgetvalue(todo, i, 1));
        pay->unpaid += kind == 0;
        pay->disputes += kind == 1;
        if (kind == 0)
            continue;
        if (pay->calls_left != 0) {
            pay_by_function(db, todo, i, first_day, pay);
            pay->calls_left -= pay->calls_left > 0;
            continue;
        }
        append(ids, cap, PQgetvalue(todo, i, 0));
        append(disputed, cap, kind == 1 ? PQgetvalue(todo, i, 2) : "0");
        append(amounts, cap, PQgetvalue(todo, i, 3));
        pay->set_lines += atol(PQgetvalue(todo, i, 4)) - (kind == 1);
        set_based++;
    }
    strcat(ids, "}");
    strcat(disputed, "}");
    strcat(amounts, "}");
    if (set_based > 0) {
        const char *p_pay[] = {ids, amounts};
        const char *p_lines[] = {ids, disputed};
        double t0 = now_s();
        must(db, "BEGIN", 0, NULL);
        must(db, SQL_PAY_SET, 2, p_pay);
        must(db, SQL_PAY_LINES_SET, 2, p_lines);
        must(db, "COMMIT", 0, NULL);
        pay->set_seconds += now_s() - t0;
        pay->set_based += set_based;
    }
    free(ids);
    free(disputed);
    free(amounts);
}

static void print_payments(payments_t *pay)
{
    printf("payments: %d (%d of them all but one disputed line), %d invoices left "
           "unpaid\n",
           pay->calls + pay->set_based, pay->disputes, pay->unpaid);
    int n = pay->calls < (int)(sizeof pay->times / sizeof *pay->times)
                ? pay->calls
                : (int)(sizeof pay->times / sizeof *pay->times);
    if (n > 0) {
        qsort(pay->times, (size_t)n, sizeof *pay->times, by_value);
        printf("  by billing_record_payment: %d calls, %ld lines allocated in %.1f s; "
               "per payment median %.3f s, 90th percentile %.3f s, max %.3f s; "
               "%.1f us per line\n",
               pay->calls, pay->call_lines, pay->call_seconds, pay->times[n / 2],
               pay->times[n * 9 / 10], pay->times[n - 1],
               pay->call_seconds / (double)(pay->call_lines ? pay->call_lines : 1) * 1e6);
    }
    if (pay->set_based > 0)
        printf("  set-based (not the function): %d payments, %ld lines allocated "
               "in %.1f s\n",
               pay->set_based, pay->set_lines, pay->set_seconds);
    fflush(stdout);
}

/* Steps 1-4: enrolments, January to March billed, made on time, paid. */
static void set_up(db_t *db, long n, const char *shift, const char *modulus,
                   payments_t *pay)
{
    const char *run = getenv("LINDUNG_BENCH_VILLAGE_RUN");
    ensure_enrolments(db, n, run && atoi(run) > 0 ? atoi(run) : 100);
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
        exit(1);
    }
    printf("test-only: %s documents made issued on the 1st, due on the 15th\n",
           PQcmdTuples(r));
    PQclear(r);
    must(db, "COMMIT", 0, NULL);

    for (int m = 0; m < MONTHS; m++) {
        char first_day[11], index[2] = {(char)('0' + m), '\0'};
        snprintf(first_day, sizeof first_day, "%s-01", MONTH[m]);
        const char *p[] = {first_day, index, shift, modulus};
        PGresult *todo = db_exec(db, SQL_TO_PAY, 4, p);
        if (!db_ok(todo)) {
            fprintf(stderr, "bench: %s\n", db_error(db));
            exit(1);
        }
        pay_month(db, todo, first_day, pay);
        PQclear(todo);
    }
    print_payments(pay);
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
    const char *calls = getenv("LINDUNG_BENCH_PAY_CALLS");
    const char *unpaid = getenv("LINDUNG_BENCH_UNPAID");
    bool rotate = unpaid && strcmp(unpaid, "rotate") == 0;
    char shift[2] = {rotate ? '1' : '0', '\0'};
    const char *mod_env = getenv("LINDUNG_BENCH_MODULUS");
    char modulus[12];
    snprintf(modulus, sizeof modulus, "%d",
             mod_env && atoi(mod_env) >= 2 ? atoi(mod_env) : 10);
    static payments_t pay;
    pay.calls_left = calls && *calls ? atoi(calls) : -1; /* -1: every payment */
    db_t *db = db_new(getenv("LINDUNG_DB") ? getenv("LINDUNG_DB") : "dbname=lindung");
    if (!db_conn(db)) {
        fprintf(stderr, "bench: cannot connect: %s\n", db_error(db));
        return 1;
    }
    char v[64];
    const char *resume_env = getenv("LINDUNG_BENCH_RESUME");
    bool resume = resume_env && strcmp(resume_env, "1") == 0;
    if (resume && strcmp(one_value(db, SQL_RESUMABLE, 0, NULL, v, sizeof v), "t") != 0) {
        fprintf(stderr, "bench: nothing to resume: January to March must be billed and "
                        "paid, April never run\n");
        return 1;
    }
    if (!resume && atol(one_value(db, SQL_FRESH, 0, NULL, v, sizeof v)) != 0) {
        fprintf(stderr,
                "bench: bench_lapse needs a database no billing run has touched\n");
        return 1;
    }
    printf("fsync = %s\n", one_value(db, "SHOW fsync", 0, NULL, v, sizeof v));
    printf("load parts = %s, index memory = %d MB a part\n",
           parts && *parts ? parts : "2 (default)", accrual_part_memory_mb());
    printf(
        "unpaid villages: one in %s, %s; payments through billing_record_payment: %s\n",
        modulus, rotate ? "others each month (rotate)" : "the same each month (same)",
        pay.calls_left < 0 ? "all" : calls);
    double t_all = now_s();
    if (resume)
        printf("resuming: January to March billed and paid before\n");
    else
        set_up(db, n, shift, modulus, &pay);
    const char *only = getenv("LINDUNG_BENCH_SETUP_ONLY");
    if (only && strcmp(only, "1") == 0) {
        printf("set-up only: January to March billed and paid, April not run (%.0f s)\n",
               now_s() - t_all);
        db_destroy(&db);
        return 0;
    }

    const char *settle = getenv("LINDUNG_BENCH_SETTLE");
    if (resume && settle && atoi(settle) > 0) {
        const char *from = getenv("LINDUNG_BENCH_SETTLE_FROM"); /* default 10 */
        const char *p_settle[] = {from ? from : "10", settle};
        double ts = now_s();
        must(db, "BEGIN", 0, NULL);
        must(db, SQL_SETTLE_PAY, 2, p_settle);
        must(db, SQL_SETTLE_LINES, 0, NULL);
        must(db, "COMMIT", 0, NULL);
        printf("settled as if paid one in %s (from one in %s): %.1f s\n", settle,
               p_settle[0], now_s() - ts);
    }
    double t0 = now_s();
    must(db, SQL_VACUUM, 0, NULL);
    printf("VACUUM ANALYZE: %.1f s\n", now_s() - t0);
    char expected[24];
    const char *p_shift[] = {shift, modulus};
    one_value(db, SQL_EXPECTED, 2, p_shift, expected, sizeof expected);
    must(db, SQL_STATEMENTS_ON, 0, NULL);
    must(db, SQL_CHECKPOINT, 0, NULL);
    db_run(db, SQL_STATEMENTS_RESET, 0, NULL);
    accrual_result_t res;
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
