/* verifier: claims submissions waiting in PostgreSQL and decides each
 * applicant in one transaction per submission (or per small batch of
 * submissions), so a crash leaves either every decision of a submission or
 * none. Several verifiers may run at once: claims
 * use FOR UPDATE SKIP LOCKED and the unique index on active NIKs settles races. */
#ifndef LINDUNG_VERIFIER_H
#define LINDUNG_VERIFIER_H
#include "bus.h"
#include "metrics.h"

typedef struct verifier_t verifier_t;

/* `enrolments` may be NULL (benchmarks): then nobody is prompted. */
verifier_t *verifier_new(const char *conninfo, bus_t *enrolments, metrics_t *metrics);
void verifier_destroy(verifier_t **self_p);

/* Decide up to `submissions` (1-64) submissions per transaction: fewer
 * commits for many small lists. A batch that fails is redone one by one. */
void verifier_set_batch(verifier_t *self, int submissions);

/* Decide waiting submissions until none is left or `stop` says so.
 * Returns how many were verified, or -1 when the database is unavailable. */
int verifier_drain(verifier_t *self, bool (*stop)(void));

/* Refresh the queue gauges (depth, oldest age) from the database. */
void verifier_observe_queue(verifier_t *self);
#endif
