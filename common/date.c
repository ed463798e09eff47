/* date: civil calendar dates for birth dates and coverage days.
 * Proleptic Gregorian, no time of day, no time zones beyond "today in Jakarta".
 * Not for billing months (period.c) nor for timestamps (log.c). */
#include "date.h"

#include <stddef.h>
#include <string.h>
#include <time.h>

/* Indonesia's western zone (WIB) has had no daylight saving since 1964, so a
 * fixed offset is exact and avoids depending on the host's tzdata. */
#define JAKARTA_UTC_OFFSET_SECONDS (7 * 3600)

bool date_is_leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int date_days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12)
        return 0;
    if (month == 2 && date_is_leap(year))
        return 29;
    return days[month - 1];
}

bool date_valid(int year, int month, int day)
{
    if (year < 1 || year > 9999)
        return false;
    return day >= 1 && day <= date_days_in_month(year, month);
}

/* Reads exactly n ASCII digits; no sign, no spaces. */
static bool read_digits(const char *s, int n, int *out)
{
    int value = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        value = value * 10 + (s[i] - '0');
    }
    *out = value;
    return true;
}

bool date_parse(const char *iso, date_t *out)
{
    if (!iso || strlen(iso) != 10 || iso[4] != '-' || iso[7] != '-')
        return false;
    date_t d;
    if (!read_digits(iso, 4, &d.year) || !read_digits(iso + 5, 2, &d.month) ||
        !read_digits(iso + 8, 2, &d.day))
        return false;
    if (!date_valid(d.year, d.month, d.day))
        return false;
    if (out)
        *out = d;
    return true;
}

/* Writes n digits, zero-padded; the caller guarantees the value fits. */
static void write_digits(char *out, int n, int value)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + value % 10);
        value /= 10;
    }
}

void date_format(date_t d, char out[11])
{
    /* Out-of-range fields would not fit the fixed width; show them as zeros
     * rather than write past the buffer. */
    write_digits(out, 4, d.year >= 0 && d.year <= 9999 ? d.year : 0);
    out[4] = '-';
    write_digits(out + 5, 2, d.month >= 0 && d.month <= 99 ? d.month : 0);
    out[7] = '-';
    write_digits(out + 8, 2, d.day >= 0 && d.day <= 99 ? d.day : 0);
    out[10] = '\0';
}

int date_compare(date_t a, date_t b)
{
    if (a.year != b.year)
        return a.year < b.year ? -1 : 1;
    if (a.month != b.month)
        return a.month < b.month ? -1 : 1;
    if (a.day != b.day)
        return a.day < b.day ? -1 : 1;
    return 0;
}

int date_age_on(date_t birth, date_t on)
{
    int age = on.year - birth.year;
    int bmonth = birth.month;
    int bday = birth.day;
    /* Someone born on 29 February is, by the usual civil reading, a year
     * older on 1 March in years without a 29 February. */
    if (bmonth == 2 && bday == 29 && !date_is_leap(on.year)) {
        bmonth = 3;
        bday = 1;
    }
    if (on.month < bmonth || (on.month == bmonth && on.day < bday))
        age--;
    return age;
}

date_t date_today(void)
{
    time_t now = time(NULL) + JAKARTA_UTC_OFFSET_SECONDS;
    struct tm tm;
    date_t d = {1970, 1, 1};
    if (!gmtime_r(&now, &tm))
        return d;
    d.year = tm.tm_year + 1900;
    d.month = tm.tm_mon + 1;
    d.day = tm.tm_mday;
    return d;
}
