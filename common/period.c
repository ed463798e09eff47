/* period: billing months ("YYYY-MM") and month arithmetic.
 * A period is a calendar month and nothing smaller; days live in date.c. */
#include "period.h"

#include <string.h>

#define PERIOD_YEAR_MIN 1900
#define PERIOD_YEAR_MAX 9999

bool period_parse(const char *s, period_t *out)
{
    /* "YYYY-MM" is a date without its day: date_parse checks the digits. */
    char day[11];
    date_t d;
    if (!s || strlen(s) != 7)
        return false;
    memcpy(day, s, 7);
    memcpy(day + 7, "-01", 4);
    if (!date_parse(day, &d) || d.year < PERIOD_YEAR_MIN || d.year > PERIOD_YEAR_MAX)
        return false;
    if (out)
        *out = (period_t){.year = d.year, .month = d.month};
    return true;
}

void period_format(period_t p, char out[8])
{
    /* "YYYY-MM" is the first seven characters of the month's first day,
     * with date_format's guard against fields that do not fit. */
    char day[11];
    date_format((date_t){.year = p.year, .month = p.month, .day = 1}, day);
    memcpy(out, day, 7);
    out[7] = '\0';
}

/* Months since year 0, so that adding and subtracting is plain arithmetic. */
static long period_index(period_t p)
{
    return (long)p.year * 12 + (p.month - 1);
}

static period_t period_from_index(long index)
{
    /* Floor division keeps negative offsets correct (C division truncates). */
    long year = index / 12;
    long month0 = index % 12;
    if (month0 < 0) {
        month0 += 12;
        year--;
    }
    period_t p = {(int)year, (int)month0 + 1};
    return p;
}

period_t period_add(period_t p, int months)
{
    return period_from_index(period_index(p) + months);
}

period_t period_next(period_t p)
{
    return period_add(p, 1);
}

int period_diff(period_t a, period_t b)
{
    return (int)(period_index(a) - period_index(b));
}

int period_compare(period_t a, period_t b)
{
    long ia = period_index(a);
    long ib = period_index(b);
    return ia < ib ? -1 : ia > ib;
}

period_t period_of(date_t d)
{
    period_t p = {d.year, d.month};
    return p;
}

date_t period_first_day(period_t p)
{
    date_t d = {p.year, p.month, 1};
    return d;
}

date_t period_due_date(period_t p)
{
    /* BPJS: a BPU month is due by the 15th of that same month. */
    date_t d = {p.year, p.month, 15};
    return d;
}
