/* schedule: when each month's billing run is due. A schedule is a day of the
 * month and a time of day in Asia/Jakarta (UTC+7 all year, no daylight
 * saving), "D HH:MM" as in LINDUNG_BILLING_SCHEDULE (default "1 01:00").
 * Pure time arithmetic; running the months is main.c's job. */
#ifndef LINDUNG_SCHEDULE_H
#define LINDUNG_SCHEDULE_H
#include <stddef.h>
#include <time.h>
#include "period.h"

#define SCHEDULE_DEFAULT "1 01:00"

typedef struct schedule_t schedule_t;

/* The last day of the month a scheduled run may take. An invoice issued
 * after the 15th of its month is late, and late lines never lapse anyone
 * (docs/billing.md, "Lapse"): a later day would switch the lapse rule off
 * for good without anyone deciding so. */
#define SCHEDULE_LAST_DAY 15

/* Parse "D HH:MM" (D 1-SCHEDULE_LAST_DAY). NULL with err filled when the
 * text is not a schedule. */
schedule_t *schedule_new(const char *spec, char *err, size_t errcap);
void schedule_destroy(schedule_t **self_p);

/* The moment month p's run is due (Unix time). */
time_t schedule_time_of(const schedule_t *self, period_t p);

/* The latest month whose run is due at or before `now`. */
period_t schedule_due_month(const schedule_t *self, time_t now);
#endif
