/* bench_verify: applicant decisions per second through the real verifier
 * (services/verify/verifier.c), with N participants already enrolled, on the
 * PostgreSQL named by LINDUNG_DB (migrated, demo programmes imported).
 * Prints its figures; it is not a test and asserts nothing about speed.
 *   bench_verify ENROLLED[,ENROLLED...] APPLICANTS PER_SUBMISSION [WORKERS [ROUNDS]]
 * Several sizes are measured in turns, round 1 of each size, then round 2 of
 * each, and so on, each size in its own database (LINDUNG_DB with dbname
 * lindung_<size>, made by bench/verify/run): the speed of a shared VM drifts
 * by tens of percent over a minute, and sizes measured in turn meet the same
 * drift, so their ratio is the design's, not the minute's. With two sizes it
 * prints the ratio of the medians and the median of the round-by-round ratios.
 * WORKERS verifiers run in threads, each with its own connection, as
 * several lindung-verify processes would; the connections last across the
 * rounds, as a daemon's does (a fresh server process pays for mapping its
 * shared memory and warming its caches, which in one measured run made the
 * first 10k round 28.6k/s and the next ones 36-41k/s). ROUNDS times (default 5)
 * APPLICANTS fresh applicants are queued and decided; a verify phase lasts a
 * few seconds on a shared 2-core machine, so one figure is noise: every round
 * is printed, and their median. Nothing a round added is deleted (deleting
 * would leave free room in heap and index pages that makes the next round
 * cheaper than real, ever-growing tables are): a round decides on top of what
 * the earlier ones enrolled. When that growth would be more than a tenth of
 * the base (10,000 enrolled, 45,000 enrolled a round), the base is seeded
 * afresh before each round instead, so every round meets ENROLLED people.
 * LINDUNG_BENCH_WAITS=1 samples pg_stat_activity of the workers' sessions
 * every millisecond from a separate connection and prints what they were
 * doing (running, waiting for a lock, for the client, for the WAL flush). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    "WHERE code = 'PALI-TEST-ADD' RETURNING id";

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
    "FROM a, programs pr WHERE pr.code = 'PALI-TEST-ADD'";

/* Fresh people, with one in ten already enrolled (DUPLICATE_ACTIVE), in
 * submissions spread over PALI's desa as real traffic would be. A village's
 * list is mostly its own residents, whose NIKs carry the village's district
 * (kecamatan) code: $3 percent of the fresh people (LINDUNG_BENCH_LOCAL,
 * default 90) get such a NIK, the rest keep a NIK from a random district
 * across Indonesia (people move). 0 gives the earlier generator, every NIK
 * from a random district. A local NIK is the village's district, a birth date
 * from a permutation of 15,000 days and a serial from 5000 up, both taken
 * from the applicant's number counted from $4 (each round starts where the
 * last one ended): unique among themselves across rounds, and never equal to
 * a NIK of the people table (serials there stay below 5000 for up to 35
 * million people). */
static const char *SQL_QUEUE =
    "WITH v AS (SELECT row_number() OVER (ORDER BY code) - 1 AS k, code FROM regions "
    "           WHERE regency_code = '16.12' AND village_kind = 'desa'), "
    "     s AS (INSERT INTO submissions (id, program_id, village_code, applicant_count) "
    "           SELECT gen_random_uuid(), p.id, v.code, $2::int "
    "           FROM programs p, generate_series(0, $1::int / $2::int - 1) g "
    "           JOIN v ON v.k = g % (SELECT count(*) FROM v) "
    "           WHERE p.code = 'PALI-TEST-ADD' RETURNING id, village_code), "
    "     sn AS (SELECT id, village_code, row_number() OVER () - 1 AS k FROM s), "
    "     q AS (SELECT row_number() OVER () - 1 AS n, i, nik, name, b, sex FROM people), "
    "     l AS (SELECT sn.id AS sid, sn.village_code, q.*, q.n + $4::bigint AS m, "
    "                  q.i >= 0 AND (hashint4((q.n + $4::bigint)::int + 7) & 2147483647) "
    "                    % 100 < $3::int AS local, "
    "                  date '1962-01-01' + (((q.n + $4::bigint) * 7919) % 15000)::int AS "
    "lb "
    "           FROM q JOIN sn ON sn.k = q.n / $2::int) "
    "INSERT INTO applicants (submission_id, idx, nik, name, birth_date, sex, occupation) "
    "SELECT sid, n % $2::int, "
    "  CASE WHEN local THEN replace(left(village_code, 8), '.', '') "
    "    || lpad((extract(day FROM lb)::int + CASE WHEN sex = 'F' THEN 40 ELSE 0 "
    "END)::text, "
    "            2, '0') "
    "    || to_char(lb, 'MMYY') || lpad((5000 + m / 15000)::text, 4, '0') ELSE nik END, "
    "  name, CASE WHEN local THEN lb ELSE b END, sex, 'PETANI/PEKEBUN' FROM l";

static const char *SQL_UPDATES = "SELECT n_tup_upd, n_tup_hot_upd FROM "
                                 "pg_stat_user_tables WHERE relname = 'applicants'";

/* What the workers' sessions are doing, sampled from a separate session. The
 * workers are every client session but the benchmark's own two. */
static const char *SQL_WAITS =
    "SELECT state, coalesce(wait_event_type, 'CPU'), coalesce(wait_event, '') "
    "FROM pg_stat_activity WHERE backend_type = 'client backend' "
    "  AND pid <> pg_backend_pid() AND pid <> $1::int AND datname = current_database()";

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
    verifier_t *verifier;
    long submissions;
    bool failed;
} worker_t;

static void *work(void *arg)
{
    worker_t *w = arg;
    int n;
    while ((n = verifier_drain(w->verifier, never)) > 0)
        w->submissions += n;
    w->failed = n < 0;
    return NULL;
}

#define WAIT_KINDS 48

typedef struct {
    const char *conninfo;
    char main_pid[16];
    atomic_bool stop;
    long samples;
    char kind[WAIT_KINDS][96];
    long count[WAIT_KINDS];
} sampler_t;

static void *sample(void *arg)
{
    sampler_t *s = arg;
    db_t *db = db_new(s->conninfo);
    const char *params[] = {s->main_pid};
    struct timespec pause = {0, 1000000};
    while (!atomic_load(&s->stop)) {
        PGresult *r = db_exec(db, SQL_WAITS, 1, params);
        for (int i = 0; db_ok(r) && i < PQntuples(r); i++) {
            char key[96];
            snprintf(key, sizeof key, "%s/%s/%s", PQgetvalue(r, i, 0),
                     PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
            int k = 0;
            while (k < WAIT_KINDS && s->kind[k][0] && strcmp(s->kind[k], key) != 0)
                k++;
            if (k == WAIT_KINDS)
                continue;
            if (!s->kind[k][0])
                snprintf(s->kind[k], sizeof s->kind[k], "%s", key);
            s->count[k]++;
            s->samples++;
        }
        PQclear(r);
        nanosleep(&pause, NULL);
    }
    db_destroy(&db);
    return NULL;
}

static void print_waits(const sampler_t *s)
{
    for (int k = 0; k < WAIT_KINDS && s->kind[k][0]; k++)
        printf("  waits %-48s %5.1f%%\n", s->kind[k],
               100.0 * (double)s->count[k] / (double)(s->samples ? s->samples : 1));
}

static int by_value(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Queue APPLICANTS fresh applicants (the round's own NIKs), one in ten of
 * them already enrolled. */
static bool queue(db_t *db, long enrolled, long applicants, long per, int round,
                  const char *local)
{
    long dup_every = 10, fresh = applicants - applicants / dup_every;
    long from = enrolled + (long)round * fresh;
    if (!people(db, from, from + fresh) ||
        !run(db, "INSERT INTO people SELECT -1, nik, name, b, sex FROM dups", 0, NULL))
        return false;
    char per_s[24], total[24], offset[24];
    snprintf(per_s, sizeof per_s, "%ld", per);
    snprintf(total, sizeof total, "%ld", applicants);
    snprintf(offset, sizeof offset, "%ld", (long)round * applicants);
    const char *pq[] = {total, per_s, local, offset};
    return run(db, SQL_QUEUE, 4, pq) && run(db, "ANALYZE", 0, NULL);
}

/* The enrolled people, and the table of those among them who apply again. */
/* Decision updates of applicants so far, and how many of them were HOT (no
 * index entries: the new row version fitted on its page). */
static bool updates(db_t *db, long *all, long *hot)
{
    PGresult *r = db_exec(db, SQL_UPDATES, 0, NULL);
    bool ok = db_ok(r) && PQntuples(r) == 1;
    if (ok)
        *all = atol(PQgetvalue(r, 0, 0)), *hot = atol(PQgetvalue(r, 0, 1));
    else
        fprintf(stderr, "bench_verify: %s\n", db_error(db));
    PQclear(r);
    return ok;
}

static bool seed_base(db_t *db, long enrolled, long applicants, double *seconds)
{
    double t0 = now_s();
    char limit[24];
    snprintf(limit, sizeof limit, "%ld", applicants / 10);
    const char *pdup[] = {limit};
    /* VACUUM as autovacuum, and CHECKPOINT as the checkpointer, would have
     * long since done on a database that grew to this size, so the figure is
     * not the cost of a fresh bulk load (a million dirty seed pages that the
     * rounds would otherwise write out themselves when they need buffers). */
    bool ok = run(db, SQL_RESET, 0, NULL) && people(db, 0, enrolled) &&
              seed(db, enrolled) && run(db, "VACUUM (ANALYZE) participants", 0, NULL) &&
              run(db, "VACUUM (ANALYZE) enrolments", 0, NULL) &&
              run(db, "VACUUM (ANALYZE) applicants", 0, NULL) &&
              run(db, "CHECKPOINT", 0, NULL) &&
              run(db, "DROP TABLE IF EXISTS dups", 0, NULL) &&
              run(db,
                  "CREATE TEMP TABLE dups AS SELECT a.nik, a.name, a.birth_date AS b, "
                  "a.sex FROM applicants a ORDER BY a.id LIMIT $1::int",
                  1, pdup);
    *seconds = now_s() - t0;
    return ok;
}

/* One size: its database, its verifiers (connections kept across rounds)
 * and the figure of every round. */
typedef struct {
    long enrolled;
    char conninfo[512];
    db_t *db;
    verifier_t *verifiers[16];
    bool reseed;
    double rate[50];
} base_t;

static bool base_open(base_t *b, const char *conninfo, long enrolled, int workers,
                      const char *batch, metrics_t *metrics)
{
    b->enrolled = enrolled;
    snprintf(b->conninfo, sizeof b->conninfo, "%s dbname=lindung_%ld", conninfo,
             enrolled);
    b->db = db_new(b->conninfo);
    if (!db_conn(b->db)) {
        fprintf(stderr, "bench_verify: cannot connect: %s\n", db_error(b->db));
        return false;
    }
    for (int i = 0; i < workers; i++) {
        b->verifiers[i] = verifier_new(b->conninfo, NULL, metrics);
        verifier_set_batch(b->verifiers[i], atoi(batch));
    }
    return true;
}

static void base_close(base_t *b, int workers)
{
    for (int i = 0; i < workers; i++)
        verifier_destroy(&b->verifiers[i]);
    db_destroy(&b->db);
}

/* Queue a round's applicants and time the workers deciding them. */
static bool base_round(base_t *b, int round, long applicants, long per, int workers,
                       const char *local, bool waits)
{
    long fresh_per_round = applicants - applicants / 10;
    double seed_s = 0;
    if (round > 0 && b->reseed && !seed_base(b->db, b->enrolled, applicants, &seed_s))
        return false;
    if (!queue(b->db, b->enrolled, applicants, per, round, local))
        return false;
    sampler_t *sampler = waits ? calloc(1, sizeof *sampler) : NULL;
    pthread_t sampler_thread;
    if (sampler) {
        sampler->conninfo = b->conninfo;
        snprintf(sampler->main_pid, sizeof sampler->main_pid, "%d",
                 PQbackendPID(db_conn(b->db)));
        pthread_create(&sampler_thread, NULL, sample, sampler);
    }
    worker_t w[16] = {{0}};
    pthread_t threads[16];
    long updates0, hot0, updates1, hot1;
    if (!updates(b->db, &updates0, &hot0))
        return false;
    double t2 = now_s();
    for (int i = 0; i < workers; i++) {
        w[i].verifier = b->verifiers[i];
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
    b->rate[round] = (double)applicants / (t3 - t2);
    /* The workers' sessions ended, so their counts are in the statistics. */
    if (!updates(b->db, &updates1, &hot1))
        return false;
    printf("round=%d enrolled_before=%ld submissions=%ld seed_s=%.1f verify_s=%.3f "
           "decisions_per_s=%.0f hot_decisions=%.0f%%\n",
           round + 1, b->enrolled + (b->reseed ? 0 : (long)round * fresh_per_round), subs,
           seed_s, t3 - t2, b->rate[round],
           100.0 * (double)(hot1 - hot0) /
               (double)(updates1 - updates0 ? updates1 - updates0 : 1));
    if (sampler) {
        atomic_store(&sampler->stop, true);
        pthread_join(sampler_thread, NULL);
        print_waits(sampler);
        free(sampler);
    }
    fflush(stdout);
    return !failed;
}

static double median_of(const double *v, int n)
{
    double sorted[50];
    memcpy(sorted, v, (size_t)n * sizeof v[0]);
    qsort(sorted, (size_t)n, sizeof sorted[0], by_value);
    return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

static void print_summary(const base_t *b, int rounds)
{
    double sorted[50];
    memcpy(sorted, b->rate, (size_t)rounds * sizeof b->rate[0]);
    qsort(sorted, (size_t)rounds, sizeof sorted[0], by_value);
    printf("enrolled=%ld rounds=%d min=%.0f max=%.0f median_decisions_per_s=%.0f\n",
           b->enrolled, rounds, sorted[0], sorted[rounds - 1],
           median_of(b->rate, rounds));
}

/* The larger size's speed as a share of the smaller's: of the medians, and
 * the median of the rounds' own ratios (each pair measured back to back). */
static void print_ratio(const base_t *small, const base_t *large, int rounds)
{
    double paired[50];
    for (int r = 0; r < rounds; r++)
        paired[r] = large->rate[r] / small->rate[r];
    printf("median %ld = %.0f/s, median %ld = %.0f/s, ratio of medians %.2f, "
           "median of round ratios %.2f\n",
           small->enrolled, median_of(small->rate, rounds), large->enrolled,
           median_of(large->rate, rounds),
           median_of(large->rate, rounds) / median_of(small->rate, rounds),
           median_of(paired, rounds));
}

#define MAX_SIZES 4

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: bench_verify ENROLLED[,ENROLLED...] APPLICANTS "
                        "PER_SUBMISSION [WORKERS [ROUNDS]]\n");
        return 2;
    }
    int workers = argc >= 5 ? atoi(argv[4]) : 1;
    if (workers < 1 || workers > 16)
        workers = 1;
    int rounds = argc == 6 ? atoi(argv[5]) : 5;
    if (rounds < 1 || rounds > 50)
        rounds = 5;
    setenv("LINDUNG_LOG_LEVEL", "warn", 0);
    log_init("bench");
    long applicants = atol(argv[2]), per = atol(argv[3]);
    const char *conninfo = config_str("LINDUNG_DB", "");
    const char *local = config_str("LINDUNG_BENCH_LOCAL", "90");
    const char *batch = config_str("LINDUNG_VERIFY_BATCH", "16");
    bool waits = atoi(config_str("LINDUNG_BENCH_WAITS", "0")) != 0;
    metrics_t *metrics = metrics_new();
    static base_t bases[MAX_SIZES];
    int sizes = 0;
    for (char *tok = strtok(argv[1], ","); tok && sizes < MAX_SIZES;
         tok = strtok(NULL, ","))
        bases[sizes++].enrolled = atol(tok);
    for (int k = 0; k < sizes; k++) {
        base_t *b = &bases[k];
        if (!base_open(b, conninfo, b->enrolled, workers, batch, metrics))
            return 1;
        long fresh_per_round = applicants - applicants / 10;
        b->reseed = (double)fresh_per_round > 0.1 * (double)b->enrolled;
        double seed_s = 0;
        if (!seed_base(b->db, b->enrolled, applicants, &seed_s))
            return 1;
        printf("enrolled=%ld applicants=%ld per_submission=%ld workers=%d batch=%s "
               "local=%s%% rounds=%d base=%s seeded_in_s=%.1f\n",
               b->enrolled, applicants, per, workers, batch, local, rounds,
               b->reseed ? "seeded-each-round" : "seeded-once-and-growing", seed_s);
        fflush(stdout);
    }
    fflush(stdout);
    bool ok = true;
    for (int round = 0; round < rounds && ok; round++)
        for (int k = 0; k < sizes && ok; k++) {
            printf("size=%ld ", bases[k].enrolled);
            ok = base_round(&bases[k], round, applicants, per, workers, local, waits);
        }
    if (ok) {
        for (int k = 0; k < sizes; k++)
            print_summary(&bases[k], rounds);
        if (sizes == 2)
            print_ratio(&bases[0], &bases[1], rounds);
    }
    for (int k = 0; k < sizes; k++)
        base_close(&bases[k], workers);
    metrics_destroy(&metrics);
    return ok ? 0 : 1;
}
