/* eventparts: a stored batch of life events applied part by part, the two
 * parts of a big batch at once on two sessions (eventparts.h). Why two
 * sessions and not one: PostgreSQL runs one statement on one core, and the
 * events' ends, claims and results are row work that two backends share out
 * almost evenly (docs/benchmarks.md, "Life events"). The second session is
 * the caller's and kept: a new one per batch would be a new backend each
 * time, which plans every statement of the apply again. The rules live in
 * participant_events_apply (035); this file only decides where it runs. */
#include "eventparts.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"

static const char *SQL_APPLY = "SELECT participant_events_apply($1::uuid, $2::smallint)";
/* An applied part's events per kind and result, claimed for counting once
 * by whoever asks first (039): no rows when counted already. */
static const char *SQL_COUNT =
    "SELECT kind, result, events FROM participant_events_count($1::uuid, $2::smallint)";
/* The same for every applied part not counted yet (its apply outlived the
 * request's answer timeout, say), oldest first. */
static const char *SQL_COUNT_LEFT =
    "SELECT c.kind, c.result, c.events "
    "FROM (SELECT b.id, p.part FROM event_batches b "
    "      CROSS JOIN LATERAL generate_series(0, b.parts - 1) AS p (part) "
    "      WHERE b.counted_parts <> CASE b.parts WHEN 2 THEN 3 ELSE 1 END "
    "        AND b.pending_parts = 0 "
    "      ORDER BY b.received_at LIMIT 100) u "
    "CROSS JOIN LATERAL participant_events_count(u.id, u.part::smallint) c";
static const char *SQL_PENDING =
    "SELECT id, parts FROM event_batches "
    "WHERE pending_parts > 0 AND received_at <= now() - make_interval(secs => $1::int) "
    "ORDER BY received_at LIMIT $2::int";
static const char *SQL_WAITING =
    "SELECT count(*), "
    "    coalesce(extract(epoch FROM now() - min(received_at)), 0)::bigint "
    "FROM event_batches WHERE pending_parts > 0";

#define EVENTS_TOTAL "lindung_events_total"
#define EVENTS_HELP "Life events stored and applied (result applied) or refused, by kind."
const char *const EVENTPARTS_KINDS[] = {"death", "moved", "left", NULL};
static const char *const RESULTS[] = {"applied", "refused", NULL};

static void count_events(metrics_t *metrics, const char *kind, const char *result,
                         double n)
{
    char labels[64];
    snprintf(labels, sizeof labels, "kind=\"%s\",result=\"%s\"", kind, result);
    metrics_counter_add(metrics, EVENTS_TOTAL, EVENTS_HELP, labels, n);
}

void eventparts_metrics_init(metrics_t *metrics)
{
    for (int k = 0; EVENTPARTS_KINDS[k]; k++)
        for (int r = 0; RESULTS[r]; r++)
            count_events(metrics, EVENTPARTS_KINDS[k], RESULTS[r], 0);
}

/* Counted parts: one counter step per kind and result, not per event (a
 * part is up to 10,000). */
static void count_rows(PGresult *r, metrics_t *metrics)
{
    for (int i = 0; db_ok(r) && i < PQntuples(r); i++)
        if (!PQgetisnull(r, i, 1))
            count_events(metrics, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                         atof(PQgetvalue(r, i, 2)));
    PQclear(r);
}

/* One part applied on `db`; a deadlock (with another batch about the same
 * people, or a correction) is tried once more, as PostgreSQL rolled it back.
 * Then its events are counted, unless someone counted them already. */
static bool apply_part(db_t *db, const char *batch_id, int part, metrics_t *metrics)
{
    char p[12];
    snprintf(p, sizeof p, "%d", part);
    const char *params[] = {batch_id, p};
    for (int attempt = 0; attempt < 2; attempt++) {
        PGresult *r = db_exec(db, SQL_APPLY, 2, params);
        bool ok = db_ok(r);
        bool deadlock = !ok && r && strcmp(db_sqlstate(r), "40P01") == 0;
        PQclear(r);
        if (ok) {
            count_rows(db_exec(db, SQL_COUNT, 2, params), metrics);
            return true;
        }
        if (!deadlock)
            break;
    }
    log_warn("events.apply_failed", "batch_id", batch_id, "part", p, "detail",
             db_error(db));
    return false;
}

/* The second part, on its own session and thread. */
typedef struct {
    db_t *db;
    const char *batch_id;
    metrics_t *metrics;
    bool ok;
} helper_t;

static void *helper_run(void *arg)
{
    helper_t *h = arg;
    h->ok = apply_part(h->db, h->batch_id, 1, h->metrics);
    return NULL;
}

int eventparts_apply(db_t *db, db_t *second, const char *batch_id, int parts,
                     metrics_t *metrics)
{
    if (parts < 2)
        return apply_part(db, batch_id, 0, metrics) ? 0 : -1;
    helper_t h = {.db = second, .batch_id = batch_id, .metrics = metrics};
    pthread_t thread;
    bool started = second && pthread_create(&thread, NULL, helper_run, &h) == 0;
    bool ok = apply_part(db, batch_id, 0, metrics);
    if (started)
        pthread_join(thread, NULL);
    /* the second session failed or never was: its part, if still
     * pending, on this one (a no-op when the helper did apply it) */
    if (!started || !h.ok)
        ok = apply_part(db, batch_id, 1, metrics) && ok;
    return ok ? 0 : -1;
}

int eventparts_recover(db_t *db, int older_s, int limit, metrics_t *metrics)
{
    char older[16], max[16];
    snprintf(older, sizeof older, "%d", older_s);
    snprintf(max, sizeof max, "%d", limit);
    const char *params[] = {older, max};
    PGresult *r = db_exec_read(db, SQL_PENDING, 2, params);
    if (!db_ok(r)) {
        PQclear(r);
        return -1;
    }
    int done = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *batch_id = PQgetvalue(r, i, 0);
        int parts = atoi(PQgetvalue(r, i, 1));
        bool ok = true;
        for (int part = 0; part < parts; part++)
            ok = apply_part(db, batch_id, part, metrics) && ok;
        if (ok) {
            log_info("events.recovered", "batch_id", batch_id);
            done++;
        }
    }
    PQclear(r);
    return done;
}

void eventparts_observe(db_t *db, metrics_t *metrics)
{
    count_rows(db_exec(db, SQL_COUNT_LEFT, 0, NULL), metrics);
    PGresult *r = db_exec_read(db, SQL_WAITING, 0, NULL);
    if (db_ok(r) && PQntuples(r) == 1) {
        metrics_gauge_set(metrics, "lindung_events_pending_batches",
                          "Batches of life events stored and not yet wholly applied.",
                          NULL, atof(PQgetvalue(r, 0, 0)));
        metrics_gauge_set(
            metrics, "lindung_events_pending_oldest_seconds",
            "Seconds the oldest batch of life events not yet wholly applied "
            "has waited (0 when none).",
            NULL, atof(PQgetvalue(r, 0, 1)));
    }
    PQclear(r);
}
