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

/* Parse "D HH:MM" (D 1-28, so every month has the day). NULL with err filled
 * when the text is not a schedule. */
schedule_t *schedule_new(const char *spec, char *err, size_t errcap);
void schedule_destroy(schedule_t **self_p);

/* The moment month p's run is due (Unix time). */
time_t schedule_time_of(const schedule_t *self, period_t p);

/* The latest month whose run is due at or before `now`. */
period_t schedule_due_month(const schedule_t *self, time_t now);
#endif
