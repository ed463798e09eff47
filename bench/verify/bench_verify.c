/* bench_verify: applicant decisions per second through the real verifier
 * (services/verify/verifier.c), with N participants already enrolled, on the
 * PostgreSQL named by LINDUNG_DB (migrated, demo programmes imported).
 * Prints its figures; it is not a test and asserts nothing about speed.
 *   bench_verify ENROLLED APPLICANTS PER_SUBMISSION [WORKERS]
 * WORKERS verifiers run in threads, each with its own connection, as
 * several lindung-verify processes would. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "config.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "verifier.h"

static const char *SQL_RESET =
    "TRUNCATE accruals, invoices, billing_runs, enrolments, participants, applicants, "
    "submissions CASCADE";

/* N people with realistic NIKs: district digits from the region list,
 * DDMMYY (+40 for women), and a serial that keeps every NIK distinct. */
static const char *SQL_PEOPLE =
    "CREATE TEMP TABLE people AS "
    "WITH d AS (SELECT row_number() OVER (ORDER BY code) - 1 AS k, replace(code, '.', "
    "'') AS digits "
    "           FROM regions WHERE level = 'district'), "
    "     nd AS (SELECT count(*) AS n FROM d), "
    "     g AS (SELECT i, date '1962-01-01' + (hashint4(i) & 2147483647) % 15000 AS b, "
    "                  i % 2 = 1 AS f FROM generate_series($1::int, $2::int - 1) i) "
    "SELECT g.i, d.digits || lpad((extract(day FROM g.b)::int + CASE WHEN g.f THEN 40 "
    "ELSE 0 END)::text, 2, '0') "
    "  || to_char(g.b, 'MMYY') || lpad((1 + g.i / nd.n)::text, 4, '0') AS nik, "
    "  'Peserta ' || g.i AS name, g.b, CASE WHEN g.f THEN 'F' ELSE 'M' END AS sex "
    "FROM g CROSS JOIN nd JOIN d ON d.k = g.i % nd.n";

static const char *SQL_SEED_SUBMISSION =
    "INSERT INTO submissions (id, program_id, village_code, status, applicant_count) "
    "SELECT gen_random_uuid(), id, '16.12.01.2001', 'verified', $1::int FROM programs "
    "WHERE code = 'PALI-2025-ADD' RETURNING id";

static const char *SQL_SEED_ENROLLED =
    "WITH a AS (INSERT INTO applicants (submission_id, idx, nik, name, birth_date, sex, "
    "occupation, "
    "             decision, decided_at) "
    "           SELECT $1::uuid, i, nik, name, b, sex, 'PETANI/PEKEBUN', 'accepted', "
    "now() "
    "           FROM people RETURNING id, nik), "
    "     p AS (INSERT INTO participants (nik, name, birth_date, sex) "
    "           SELECT nik, name, b, sex FROM people) "
    "INSERT INTO enrolments (nik, program_id, village_code, applicant_id, "
    "funding_source, "
    "  payer_code, start_month) "
    "SELECT a.nik, pr.id, '16.12.01.2001', a.id, 'ADD', '16.12.01.2001', '2025-07-01' "
    "FROM a, programs pr WHERE pr.code = 'PALI-2025-ADD'";

/* Fresh people, with one in ten already enrolled (DUPLICATE_ACTIVE), in
 * submissions spread over PALI's desa as real traffic would be. A village's
 * list is mostly its own residents, whose NIKs carry the village's district
 * (kecamatan) code: $3 percent of the fresh people (LINDUNG_BENCH_LOCAL,
 * default 90) get such a NIK, the rest keep a NIK from a random district
 * across Indonesia (people move). 0 gives the earlier generator, every NIK
 * from a random district. A local NIK is the village's district, a birth date
 * from a permutation of 15,000 days and a serial from 5000 up: unique among
 * themselves, and never equal to a NIK of the people table (serials there
 * stay below 5000 for up to 35 million people). */
static const char *SQL_QUEUE =
    "WITH v AS (SELECT row_number() OVER (ORDER BY code) - 1 AS k, code FROM regions "
    "           WHERE regency_code = '16.12' AND village_kind = 'desa'), "
    "     s AS (INSERT INTO submissions (id, program_id, village_code, applicant_count) "
    "           SELECT gen_random_uuid(), p.id, v.code, $2::int "
    "           FROM programs p, generate_series(0, $1::int / $2::int - 1) g "
    "           JOIN v ON v.k = g % (SELECT count(*) FROM v) "
    "           WHERE p.code = 'PALI-2025-ADD' RETURNING id, village_code), "
    "     sn AS (SELECT id, village_code, row_number() OVER () - 1 AS k FROM s), "
    "     q AS (SELECT row_number() OVER () - 1 AS n, i, nik, name, b, sex FROM people), "
    "     l AS (SELECT sn.id AS sid, sn.village_code, q.*, "
    "                  q.i >= 0 AND (hashint4(q.n::int + 7) & 2147483647) % 100 < "
    "$3::int "
    "                    AS local, "
    "                  date '1962-01-01' + ((q.n * 7919) % 15000)::int AS lb "
    "           FROM q JOIN sn ON sn.k = q.n / $2::int) "
    "INSERT INTO applicants (submission_id, idx, nik, name, birth_date, sex, occupation) "
    "SELECT sid, n % $2::int, "
    "  CASE WHEN local THEN replace(left(village_code, 8), '.', '') "
    "    || lpad((extract(day FROM lb)::int + CASE WHEN sex = 'F' THEN 40 ELSE 0 "
    "END)::text, "
    "            2, '0') "
    "    || to_char(lb, 'MMYY') || lpad((5000 + n / 15000)::text, 4, '0') ELSE nik END, "
    "  name, CASE WHEN local THEN lb ELSE b END, sex, 'PETANI/PEKEBUN' FROM l";

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static bool never(void)
{
    return false;
}

static bool run(db_t *db, const char *sql, int n, const char *const *params)
{
    if (db_run(db, sql, n, params))
        return true;
    fprintf(stderr, "bench_verify: %s\n", db_error(db));
    return false;
}

static bool people(db_t *db, long from, long to)
{
    char a[24], b[24];
    snprintf(a, sizeof a, "%ld", from);
    snprintf(b, sizeof b, "%ld", to);
    const char *params[] = {a, b};
    return run(db, "DROP TABLE IF EXISTS people", 0, NULL) &&
           run(db, SQL_PEOPLE, 2, params);
}

static bool seed(db_t *db, long enrolled)
{
    char n[24];
    snprintf(n, sizeof n, "%ld", enrolled);
    const char *p1[] = {n};
    PGresult *r = db_exec(db, SQL_SEED_SUBMISSION, 1, p1);
    if (!db_ok(r) || PQntuples(r) != 1) {
        fprintf(stderr, "bench_verify: %s\n", db_error(db));
        PQclear(r);
        return false;
    }
    const char *p2[] = {PQgetvalue(r, 0, 0)};
    bool ok = run(db, SQL_SEED_ENROLLED, 1, p2);
    PQclear(r);
    return ok;
}

typedef struct {
    const char *conninfo;
    int batch;
    long submissions;
    bool failed;
} worker_t;

static void *work(void *arg)
{
    worker_t *w = arg;
    metrics_t *metrics = metrics_new();
    verifier_t *v = verifier_new(w->conninfo, NULL, metrics);
    verifier_set_batch(v, w->batch);
    int n;
    while ((n = verifier_drain(v, never)) > 0)
        w->submissions += n;
    w->failed = n < 0;
    verifier_destroy(&v);
    metrics_destroy(&metrics);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr,
                "usage: bench_verify ENROLLED APPLICANTS PER_SUBMISSION [WORKERS]\n");
        return 2;
    }
    int workers = argc == 5 ? atoi(argv[4]) : 1;
    if (workers < 1 || workers > 16)
        workers = 1;
    setenv("LINDUNG_LOG_LEVEL", "warn", 0);
    log_init("bench");
    long enrolled = atol(argv[1]), applicants = atol(argv[2]), per = atol(argv[3]);
    const char *conninfo = config_str("LINDUNG_DB", "dbname=lindung");
    db_t *db = db_new(conninfo);
    double t0 = now_s();
    /* VACUUM as autovacuum would have long since done on a database that
     * grew to this size, so the figure is not the cost of a fresh bulk load. */
    if (!run(db, SQL_RESET, 0, NULL) || !people(db, 0, enrolled) || !seed(db, enrolled) ||
        !run(db, "VACUUM (ANALYZE) participants", 0, NULL) ||
        !run(db, "VACUUM (ANALYZE) enrolments", 0, NULL) ||
        !run(db, "VACUUM (ANALYZE) applicants", 0, NULL))
        return 1;
    double t1 = now_s();
    /* Nine fresh people in ten; every tenth applicant is an enrolled person. */
    long dup_every = 10, fresh = applicants - applicants / dup_every;
    if (!people(db, enrolled, enrolled + fresh))
        return 1;
    char limit[24], per_s[24], total[24];
    snprintf(limit, sizeof limit, "%ld", applicants / dup_every);
    snprintf(per_s, sizeof per_s, "%ld", per);
    snprintf(total, sizeof total, "%ld", applicants);
    const char *pdup[] = {limit};
    const char *local = config_str("LINDUNG_BENCH_LOCAL", "90");
    const char *pq[] = {total, per_s, local};
    if (!run(db,
             "CREATE TEMP TABLE dups AS SELECT a.nik, a.name, a.birth_date AS b, a.sex "
             "FROM applicants a ORDER BY a.id LIMIT $1::int",
             1, pdup) ||
        !run(db, "INSERT INTO people SELECT -1, nik, name, b, sex FROM dups", 0, NULL) ||
        !run(db, SQL_QUEUE, 3, pq) || !run(db, "ANALYZE", 0, NULL))
        return 1;
    worker_t w[16] = {{0}};
    pthread_t threads[16];
    double t2 = now_s();
    for (int i = 0; i < workers; i++) {
        w[i].conninfo = conninfo;
        w[i].batch = atoi(config_str("LINDUNG_VERIFY_BATCH", "16"));
        pthread_create(&threads[i], NULL, work, &w[i]);
    }
    long subs = 0;
    bool failed = false;
    for (int i = 0; i < workers; i++) {
        pthread_join(threads[i], NULL);
        subs += w[i].submissions;
        failed = failed || w[i].failed;
    }
    double t3 = now_s();
    printf("enrolled=%ld applicants=%ld per_submission=%ld workers=%d batch=%s "
           "local=%s%% submissions=%ld "
           "seed_s=%.1f verify_s=%.3f decisions_per_s=%.0f\n",
           enrolled, applicants, per, workers, config_str("LINDUNG_VERIFY_BATCH", "16"),
           local, subs, t1 - t0, t3 - t2, (double)applicants / (t3 - t2));
    db_destroy(&db);
    return failed ? 1 : 0;
}
