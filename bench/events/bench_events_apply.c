/* bench_events_apply: the apply phase of a batch of life events alone, as
 * bench_verify times verify's decisions alone: the events are stored with
 * participant_events_store (what intake's POST /v1/events does, without the
 * HTTP request, its parsing and its answer), then applied through intake's
 * own eventparts_apply (services/intake/eventparts.c: two parts on two kept
 * sessions), and that is what is timed. bench/events/run drives it; it is a
 * benchmark, not a test, and asserts nothing about speed.
 *   bench_events_apply KEY_ID SPLIT_FROM
 * LINDUNG_DB names the database. Reads one path a line on stdin: a file
 * holding a batch's events as intake stores them (a JSON array of objects
 * with idx, kind, nik, date, reference, to_village, reason); for each it
 * prints one line "stored S applied A events N" (seconds) and flushes. The
 * two sessions live across the batches, as in a running intake. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>
#include "db.h"
#include "eventparts.h"

static const char *SQL_STORE =
    "SELECT outcome, batch_id, parts FROM participant_events_store("
    "    $1::uuid, $2::uuid, NULL, $3::text, NULL, 'admin', NULL, $3::text::jsonb, "
    "    $4::int)";
static const char *SQL_APPLIED =
    "SELECT count(*) FILTER (WHERE result = 'applied'), count(*) "
    "FROM participant_events WHERE batch_id = $1::uuid";

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
        text = malloc((size_t)n + 1);
    if (text && fread(text, 1, (size_t)n, f) != (size_t)n) {
        free(text);
        text = NULL;
    }
    if (text)
        text[n] = '\0';
    fclose(f);
    return text;
}

/* One batch: stored, then applied; -1 with a message on stderr. */
static int one_batch(db_t *db, db_t *second, const char *key, const char *split,
                     const char *path)
{
    char *events = read_file(path);
    if (!events) {
        fprintf(stderr, "bench_events_apply: cannot read %s\n", path);
        return -1;
    }
    uuid_t raw;
    char id[37];
    uuid_generate_random(raw);
    uuid_unparse_lower(raw, id);
    const char *params[] = {id, key, events, split};
    double t0 = now_s();
    PGresult *r = db_exec(db, SQL_STORE, 4, params);
    double t1 = now_s();
    free(events);
    if (!db_ok(r) || PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), "stored") != 0) {
        fprintf(stderr, "bench_events_apply: not stored: %s %s\n",
                db_ok(r) && PQntuples(r) ? PQgetvalue(r, 0, 0) : "", db_error(db));
        PQclear(r);
        return -1;
    }
    int parts = atoi(PQgetvalue(r, 0, 2));
    PQclear(r);
    int rc = eventparts_apply(db, second, id, parts, NULL);
    double t2 = now_s();
    const char *p[] = {id};
    r = db_exec(db, SQL_APPLIED, 1, p);
    if (rc != 0 || !db_ok(r) || strcmp(PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1)) != 0) {
        fprintf(stderr, "bench_events_apply: not all applied: %s\n", db_error(db));
        PQclear(r);
        return -1;
    }
    printf("stored %.3f applied %.3f events %s parts %d\n", t1 - t0, t2 - t1,
           PQgetvalue(r, 0, 1), parts);
    fflush(stdout);
    PQclear(r);
    return 0;
}

int main(int argc, char **argv)
{
    const char *conninfo = getenv("LINDUNG_DB");
    if (argc != 3 || !conninfo) {
        fprintf(stderr, "usage: LINDUNG_DB=... bench_events_apply KEY_ID SPLIT_FROM\n");
        return 2;
    }
    db_t *db = db_new(conninfo), *second = db_new(conninfo);
    if (!db || !second) {
        fprintf(stderr, "bench_events_apply: out of memory\n");
        return 1;
    }
    int rc = 0;
    char path[4096];
    while (rc == 0 && fgets(path, sizeof path, stdin)) {
        path[strcspn(path, "\n")] = '\0';
        if (path[0])
            rc = one_batch(db, second, argv[1], argv[2], path) == 0 ? 0 : 1;
    }
    db_destroy(&second);
    db_destroy(&db);
    return rc;
}
