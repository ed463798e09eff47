/* date: civil calendar dates (year, month, day) for birth dates and coverage.
 * Not for months as billing periods (see period.h) nor for timestamps. */
#ifndef LINDUNG_DATE_H
#define LINDUNG_DATE_H
#include <stdbool.h>

typedef struct {
    int year;
    int month; /* 1-12 */
    int day;   /* 1-31 */
} date_t;

bool date_is_leap(int year);
int date_days_in_month(int year, int month);   /* 0 for a bad month */
bool date_valid(int year, int month, int day); /* the date exists */
bool date_parse(const char *iso, date_t *out); /* strict "YYYY-MM-DD", existing date */
void date_format(date_t d, char out[11]);      /* "YYYY-MM-DD" */
int date_compare(date_t a, date_t b);          /* <0, 0, >0 */
int date_age_on(date_t birth, date_t on);      /* completed years on `on` */
date_t date_today(void);                       /* today in Asia/Jakarta (UTC+7) */
#endif
