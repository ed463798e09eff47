/* bench_billing: how fast one month is accrued for N active enrolments
 * through the real code path (accrual_run), against bare INSERT ... SELECTs
 * into a plain table (no index, no key, no constraint), and how fast a rerun
 * of the month is (it must change nothing). Two bare inserts:
 *   same rows: the same lines, values and all (the premium and invoice come
 *              from accrual_due, the SQL the run uses), one INSERT ... SELECT;
 *   constants: as many rows with constant premiums and no invoice, the cost
 *              of writing a million rows and nothing more (a floor).
 * Each round takes a fresh month; the figures of every round are printed,
 * then the medians. A benchmark, not a test. Run it against a PostgreSQL
 * with fsync on (bench/billing/run.sh makes one). Usage:
 *   bench_billing [N] [ROUNDS]   (default 1000000 5; LINDUNG_DB names the
 *                        database, migrated, with the demo programmes and
 *                        bench/billing/programs.json imported;
 *                        LINDUNG_BILLING_LOAD_PARTS and
 *                        LINDUNG_BILLING_LOAD_MEMORY_MB as for lindung-billing)
 * The run and the bare inserts of a round follow each other within seconds,
 * so their ratio is printed per round too, and the median of those ratios:
 * the speed of a shared VM drifts by tens of percent over a minute. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "accrual.h"
#include "bench_common.h"
#include "db.h"
#include "log.h"

/* A month no run has touched: after every month run so far, and no earlier
 * than 2030-01 so that nothing is ever due (no lapse check work). */
static const char *SQL_FRESH_MONTH = "SELECT to_char(greatest('2030-01-01'::date, "
                                     "  coalesce(max(period) + interval '1 month', "
                                     "'2030-01-01')), 'YYYY-MM') FROM billing_runs";

static const char *SQL_BARE_TABLE = "CREATE TABLE IF NOT EXISTS bench_bare (enrolment_id "
                                    "bigint, period date, jkk bigint, "
                                    "  jkm bigint, amount bigint, invoice_id bigint, "
                                    "run_id bigint, supplementary boolean, "
                                    "  created_at timestamptz)";
static const char *SQL_BARE_TRUNCATE = "TRUNCATE bench_bare";
static const char *SQL_BARE_SAME =
    "INSERT INTO bench_bare SELECT d.enrolment_id, $1::date, d.jkk, d.jkm, d.jkk + "
    "d.jkm, "
    "  d.invoice_id, 0, false, now() FROM accrual_due($1::date) d";
static const char *SQL_BARE_CONSTANTS =
    "INSERT INTO bench_bare SELECT e.id, $1::date, 10000, 6800, 16800, 0, 0, false, "
    "now() "
    "FROM enrolments e "
    "WHERE e.start_month <= $1::date AND (e.end_month IS NULL OR e.end_month >= "
    "$1::date)";
static const char *SQL_CHECKPOINT = "CHECKPOINT";
static const char *SQL_FSYNC = "SHOW fsync";

static double run_bare(db_t *db, const char *sql, const char *first_day, long *rows)
{
    must(db, SQL_BARE_TABLE, 0, NULL);
    must(db, SQL_BARE_TRUNCATE, 0, NULL);
    must(db, SQL_CHECKPOINT, 0, NULL);
    const char *p[] = {first_day};
    double t0 = now_s();
    PGresult *r = db_exec(db, sql, 1, p);
    double t = now_s() - t0;
    if (!db_ok(r)) {
        fprintf(stderr, "bench: %s\n", db_error(db));
        exit(1);
    }
    *rows = atol(PQcmdTuples(r));
    PQclear(r);
    return t;
}

static double run_accrual(db_t *db, period_t period, accrual_result_t *res)
{
    must(db, SQL_CHECKPOINT, 0, NULL);
    double t0 = now_s();
    if (accrual_run(db, period, "bench", NULL, res) != 0) {
        fprintf(stderr, "bench: accrual_run: %s\n", res->error);
        exit(1);
    }
    return now_s() - t0;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double s[16];
    memcpy(s, v, (size_t)n * sizeof *v);
    qsort(s, (size_t)n, sizeof *s, by_value);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    setenv("LINDUNG_LOG_LEVEL", "warn", 0);
    log_init("bench_billing");
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (rounds < 1 || rounds > 16)
        rounds = 5;
    const char *parts = getenv("LINDUNG_BILLING_LOAD_PARTS");
    if (parts && *parts)
        accrual_set_load_parts(atoi(parts));
    const char *memory = getenv("LINDUNG_BILLING_LOAD_MEMORY_MB");
    if (memory && *memory)
        accrual_set_load_memory(atoi(memory));
    db_t *db = db_new(getenv("LINDUNG_DB") ? getenv("LINDUNG_DB") : "dbname=lindung");
    if (!db_conn(db)) {
        fprintf(stderr, "bench: cannot connect: %s\n", db_error(db));
        return 1;
    }
    char fsync[16];
    printf("fsync = %s\n", one_value(db, SQL_FSYNC, 0, NULL, fsync, sizeof fsync));
    printf("load parts = %s, index memory = %d MB a part\n",
           parts && *parts ? parts : "2 (default)", accrual_part_memory_mb());
    ensure_enrolments(db, n, 1);
    double run[16], same[16], constants[16], rerun[16], ratio_same[16], ratio_const[16];
    bool exact = true;
    for (int i = 0; i < rounds; i++) {
        char month[8], first_day[11];
        one_value(db, SQL_FRESH_MONTH, 0, NULL, month, sizeof month);
        period_t period;
        period_parse(month, &period);
        date_format(period_first_day(period), first_day);
        accrual_result_t res, again;
        long same_rows = 0, const_rows = 0;
        run[i] = run_accrual(db, period, &res);
        same[i] = run_bare(db, SQL_BARE_SAME, first_day, &same_rows);
        constants[i] = run_bare(db, SQL_BARE_CONSTANTS, first_day, &const_rows);
        rerun[i] = run_accrual(db, period, &again);
        ratio_same[i] = same[i] / run[i];
        ratio_const[i] = constants[i] / run[i];
        printf("round %d, month %s: run %.3f s (%" PRId64 " lines, Rp %" PRId64
               "), bare same rows %.3f s (%ld), bare constants %.3f s (%ld), "
               "rerun %.3f s (%" PRId64 " lines), ratios %.2f %.2f\n",
               i + 1, month, run[i], res.lines_added, res.amount_added, same[i],
               same_rows, constants[i], const_rows, rerun[i], again.lines_added,
               ratio_same[i], ratio_const[i]);
        fflush(stdout);
        exact = exact && res.lines_added == same_rows && same_rows == const_rows &&
                again.lines_added == 0;
    }
    double m_run = median(run, rounds), m_same = median(same, rounds),
           m_const = median(constants, rounds), m_rerun = median(rerun, rounds);
    printf("medians of %d rounds, %ld active enrolments:\n", rounds, n);
    printf("  accrual_run (real path):         %8.3f s  %9.0f lines/s\n", m_run,
           (double)n / m_run);
    printf("  bare INSERT ... SELECT, same rows: %6.3f s  ratio (run speed / bare) %.2f, "
           "median of round ratios %.2f\n",
           m_same, m_same / m_run, median(ratio_same, rounds));
    printf("  bare INSERT ... SELECT, constants: %6.3f s  ratio (run speed / bare) %.2f, "
           "median of round ratios %.2f\n",
           m_const, m_const / m_run, median(ratio_const, rounds));
    printf("  rerun (no change):               %8.3f s\n", m_rerun);
    db_destroy(&db);
    return exact ? 0 : 1;
}
