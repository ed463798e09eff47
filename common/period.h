/* period: a billing month "YYYY-MM" and month arithmetic.
 * Not for days (see date.h). */
#ifndef LINDUNG_PERIOD_H
#define LINDUNG_PERIOD_H
#include <stdbool.h>
#include "date.h"

typedef struct {
    int year;
    int month; /* 1-12 */
} period_t;

bool period_parse(const char *s, period_t *out); /* strict "YYYY-MM", year 1900-9999 */
void period_format(period_t p, char out[8]);     /* "YYYY-MM" */
period_t period_add(period_t p, int months);     /* months may be negative */
period_t period_next(period_t p);
int period_diff(period_t a, period_t b); /* months from b to a: a - b */
int period_compare(period_t a, period_t b);
period_t period_of(date_t d);
date_t period_first_day(period_t p);
date_t period_due_date(period_t p); /* the 15th: BPJS BPU due date */
#endif
