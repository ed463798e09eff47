/* eventparts: applying a stored batch of life events, part by part
 * (035_events_in_parts.sql). A big batch is stored in two parts; each is
 * applied by participant_events_apply in its own transaction, the two at
 * once on two sessions (two PostgreSQL backends, two cores), so that the
 * batch is applied in about the time of its bigger half. Also the recovery
 * of batches stored and not applied (intake killed between the two steps).
 * Not the HTTP side (events.c) nor the rules (the SQL). */
#ifndef LINDUNG_EVENTPARTS_H
#define LINDUNG_EVENTPARTS_H
#include "db.h"
#include "metrics.h"

/* Apply every part of batch `batch_id` (a uuid) split in `parts` (1 or 2):
 * part 0 on `db`, part 1 on `second`, a second session to the same
 * database kept by the caller (intake: one per worker thread, route.h), at
 * the same time; or after part 0 on `db` when `second` is NULL or failed. A
 * part already applied is a no-op, so a retry and a recovery may both call
 * this. A part's events are counted in lindung_events_total once, by the
 * first call that finds the part applied (participant_events_count, 039). 0 when every
 * part is applied; -1 when one could not be (the session lost or a statement failed: its
 * events stay stored and pending, and db tells why). */
int eventparts_apply(db_t *db, db_t *second, const char *batch_id, int parts,
                     metrics_t *metrics);

/* Apply the batches stored at least older_s seconds ago that still have
 * parts pending, oldest first, at most `limit` of them, on `db` alone.
 * Returns how many batches it finished, or -1 when the database could not
 * be asked. For intake's start (older_s 0) and its sweep. */
int eventparts_recover(db_t *db, int older_s, int limit, metrics_t *metrics);

/* Count the events of applied parts nobody counted yet (an apply that
 * outlived its request's answer timeout), then set
 * lindung_events_pending_batches and lindung_events_pending_oldest_seconds:
 * batches stored with parts still to apply, and how long the oldest has
 * waited (0 when none). Left as they were when the database cannot be asked. */
void eventparts_observe(db_t *db, metrics_t *metrics);

/* The kinds of life event, NULL-terminated: death, moved, left. */
extern const char *const EVENTPARTS_KINDS[];

/* lindung_events_total{kind,result} at 0 for every kind and result, from
 * the start, so an alert on its increase can fire on the first event. */
void eventparts_metrics_init(metrics_t *metrics);
#endif
