/* schedule: Jakarta wall-clock times to Unix time with a fixed UTC+7 offset
 * (Indonesia has had no daylight saving since 1964), via timegm so the
 * process's TZ setting cannot change the answer. */
#include "schedule.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JAKARTA_OFFSET_S (7 * 3600)

struct schedule_t {
    int day, hour, minute;
};

schedule_t *schedule_new(const char *spec, char *err, size_t errcap)
{
    int day, hour, minute, used = 0;
    if (!spec || sscanf(spec, "%2d %2d:%2d%n", &day, &hour, &minute, &used) != 3 ||
        spec[used] != '\0' || day < 1 || day > SCHEDULE_LAST_DAY || hour < 0 ||
        hour > 23 || minute < 0 || minute > 59) {
        snprintf(err, errcap,
                 "schedule must be \"D HH:MM\" (day 1-15, Asia/Jakarta time), got \"%s\"",
                 spec ? spec : "");
        return NULL;
    }
    schedule_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    self->day = day;
    self->hour = hour;
    self->minute = minute;
    return self;
}

void schedule_destroy(schedule_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

time_t schedule_time_of(const schedule_t *self, period_t p)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = p.year - 1900;
    tm.tm_mon = p.month - 1;
    tm.tm_mday = self->day;
    tm.tm_hour = self->hour;
    tm.tm_min = self->minute;
    return timegm(&tm) - JAKARTA_OFFSET_S;
}

period_t schedule_due_month(const schedule_t *self, time_t now)
{
    time_t jakarta = now + JAKARTA_OFFSET_S;
    struct tm tm;
    gmtime_r(&jakarta, &tm);
    period_t p = {tm.tm_year + 1900, tm.tm_mon + 1};
    return schedule_time_of(self, p) <= now ? p : period_add(p, -1);
}
