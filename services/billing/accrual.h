/* accrual: one billing run for one month, in one transaction: every
 * enrolment active in the month gets one line at the rate in force, lines are
 * grouped into the run's own documents per (month, funding source, payer): the
 * month's invoice, or a supplementary invoice when the payer has one already;
 * lines billed before and now due otherwise (re-rated, ended) are corrected on
 * a credit note or a supplementary invoice. Issued documents never change. The unique
 * (enrolment, period) index makes a second run a no-op; a watermark makes it cheap. Not
 * the schedule (billing main.c). */
#ifndef LINDUNG_ACCRUAL_H
#define LINDUNG_ACCRUAL_H
#include <stddef.h>
#include <stdint.h>
#include "db.h"
#include "period.h"

typedef struct {
    int64_t run_id;
    int64_t lines_added;
    int64_t amount_added;      /* rupiah */
    int64_t lapsed;            /* enrolments ended as lapsed before this month */
    int64_t programme_ended;   /* enrolments ended because their programme did */
    int64_t corrections;       /* adjustment lines (re-rating, reversals) */
    int64_t correction_amount; /* their sum, rupiah (negative: credited) */
    bool supplementary;        /* the month had been run before */
    char error[256];           /* when accrual_run returns -1 */
} accrual_result_t;

/* The enrolment watermark: every enrolment with an id at or below it is
 * committed, so every later statement sees it. Briefly holds enrolment
 * writers. Empty string when it could not be taken (cap >= 24). */
void accrual_watermark(db_t *db, char *out, size_t cap);

/* Run `period`; `trigger` is recorded ("manual", "schedule", "enrolments", "startup").
 * `watermark` is from accrual_watermark(), taken before this call (one serves
 * a whole catch-up), or NULL to take one now.
 * 0 on success; -1 with result->error filled. */
int accrual_run(db_t *db, period_t period, const char *trigger, const char *watermark,
                accrual_result_t *result);

/* How many sessions write a month's first load at once (default 2, at most
 * 16): about the number of cores PostgreSQL has. */
void accrual_set_load_parts(int parts);

/* The memory, in MB, that a first load's parts share for their index sorts
 * (default 512, from LOAD_MEMORY_MIN_MB to LOAD_MEMORY_MAX_MB): each part
 * gets maintenance_work_mem = this / parts, at least 1 MB, PostgreSQL's own
 * minimum. A part whose sort does not fit merges on disk: about 64 bytes a
 * line, so 512 MB holds some 8 million lines in all (docs/billing.md). */
#define LOAD_MEMORY_MIN_MB 1
#define LOAD_MEMORY_MAX_MB 65536
void accrual_set_load_memory(int mb);

/* One part's share of that memory, in MB. */
int accrual_part_memory_mb(void);

/* Months that have been run before, oldest first (for supplementary catch-up);
 * returns how many were written to out (at most cap), -1 on a database error. */
int accrual_months_run(db_t *db, period_t *out, int cap);
#endif
