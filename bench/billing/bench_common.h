/* bench_common.h: what bench_billing and bench_lapse share: a clock, two
 * ways to run a statement that must succeed, and the generator of synthetic
 * enrolments. Static functions: each benchmark is one translation unit. */
#ifndef LINDUNG_BENCH_COMMON_H
#define LINDUNG_BENCH_COMMON_H
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "db.h"

/* The programme every synthetic person is accepted into: PALI's ADD rules
 * without a coverage end (bench/billing/programs.json, imported by run.sh
 * after the demo programmes), so no month the benches bill is ever past the
 * programme's end. The demo's PALI-2025-ADD ends in 2025-12 (013). */
#define BENCH_PROGRAM "PALI-BENCH-ADD"

static const char *SQL_COUNT_ACTIVE =
    "SELECT count(*) FROM enrolments WHERE status = 'active' AND end_month IS NULL";

/* N synthetic people ($1), one submission, all accepted into BENCH_PROGRAM,
 * spread over PALI's 65 desa (payers; kelurahan are never ADD payers), from
 * January 2026, in runs of $2 consecutive ids per village: 1 (bench_billing,
 * as in every earlier session) deals them out one by one, so a village's
 * people are every 65th id; 100 (bench_lapse) gives each village blocks of
 * 100, as when villages send their lists of about a hundred in batches,
 * which is what decides how scattered a village's lines are in the
 * (enrolment, month) index. Each person gets a NIK of its own, so the
 * exclusion constraint of 013 (one covered month per NIK) holds. */
static const char *SQL_GENERATE =
    "WITH s AS (INSERT INTO submissions (id, program_id, village_code, applicant_count) "
    "           SELECT gen_random_uuid(), p.id, '16.12.01.2001', $1::int FROM programs p "
    "           WHERE p.code = '" BENCH_PROGRAM "' RETURNING id, program_id), "
    "     v AS (SELECT array_agg(code ORDER BY code) AS codes FROM regions "
    "           WHERE regency_code = '16.12' AND level = 'village' AND village_kind <> "
    "'kelurahan'), "
    "     base AS (SELECT coalesce(max(nik::bigint), 1612010101000000) AS b FROM "
    "participants), "
    "     a AS (INSERT INTO applicants (submission_id, idx, nik, name, birth_date, sex, "
    "             occupation, decision) "
    "           SELECT s.id, g, (base.b + 1 + g)::text, 'Peserta', '1980-01-01', 'M', "
    "             'PETANI/PEKEBUN', 'accepted' FROM s, base, generate_series(0, $1::int "
    "- 1) g "
    "           RETURNING id, idx, nik), "
    "     pa AS (INSERT INTO participants (nik, name, birth_date, sex) "
    "            SELECT nik, 'Peserta', '1980-01-01', 'M' FROM a) "
    "INSERT INTO enrolments (nik, program_id, village_code, applicant_id, "
    "funding_source, "
    "  payer_code, transport, start_month) "
    "SELECT a.nik, s.program_id, "
    "  v.codes[1 + a.idx / $2::int % cardinality(v.codes)], a.id, 'ADD', "
    "  v.codes[1 + a.idx / $2::int % cardinality(v.codes)], a.idx % 10 = 0, "
    "  '2026-01-01' "
    "FROM a, s, v";

static const char *SQL_ANALYZE = "ANALYZE enrolments";

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One row, one column, or exit. */
static const char *one_value(db_t *db, const char *sql, int n, const char *const *p,
                             char *out, size_t cap)
{
    PGresult *r = db_exec(db, sql, n, p);
    if (!db_ok(r) || PQntuples(r) != 1) {
        fprintf(stderr, "bench: %s\n", db_error(db));
        exit(1);
    }
    snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return out;
}

static void must(db_t *db, const char *sql, int n, const char *const *p)
{
    if (!db_run(db, sql, n, p)) {
        fprintf(stderr, "bench: %s\n", db_error(db));
        exit(1);
    }
}

/* At least `want` active open-ended enrolments; generates what is missing,
 * in runs of `run` ids per village (SQL_GENERATE). */
static void ensure_enrolments(db_t *db, long want, int run)
{
    char v[32];
    long have = atol(one_value(db, SQL_COUNT_ACTIVE, 0, NULL, v, sizeof v));
    if (have >= want)
        return;
    char n[24], r[12];
    snprintf(n, sizeof n, "%ld", want - have);
    snprintf(r, sizeof r, "%d", run);
    printf("generating %s enrolments (runs of %s ids per village)...\n", n, r);
    fflush(stdout);
    double t0 = now_s();
    const char *p[] = {n, r};
    must(db, SQL_GENERATE, 2, p);
    must(db, SQL_ANALYZE, 0, NULL);
    printf("  generated in %.1f s\n", now_s() - t0);
    fflush(stdout);
}
#endif
