/* test_billing_schedule: when a month's run is due, in Asia/Jakarta time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "schedule.h"

/* 2026-11-01 01:00 in Jakarta is 2026-10-31 18:00 UTC. */
#define NOV_1_0100_WIB ((time_t)1793469600)

static void test_parse(void **state)
{
    (void)state;
    char err[128];
    const char *good[] = {"1 01:00", "15 23:59", "15 00:00", "3 7:05"};
    /* day 16 and later: invoices issued late every month, nobody ever lapses */
    const char *bad[] = {"",        "0 01:00",  "16 01:00", "28 23:59",
                         "1 24:00", "1 01:60",  "1 01:00x", "1",
                         "01:00",   "-1 01:00", "1 1:0 0"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        schedule_t *s = schedule_new(good[i], err, sizeof err);
        assert_non_null(s);
        schedule_destroy(&s);
        assert_null(s);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_null(schedule_new(bad[i], err, sizeof err));
    assert_null(schedule_new(NULL, err, sizeof err));
}

static void test_time_of(void **state)
{
    (void)state;
    char err[128];
    schedule_t *s = schedule_new(SCHEDULE_DEFAULT, err, sizeof err);
    period_t nov = {2026, 11};
    assert_int_equal(schedule_time_of(s, nov), NOV_1_0100_WIB);
    schedule_destroy(&s);
}

static void test_due_month(void **state)
{
    (void)state;
    char err[128];
    schedule_t *s = schedule_new(SCHEDULE_DEFAULT, err, sizeof err);
    period_t p = schedule_due_month(s, NOV_1_0100_WIB);
    assert_int_equal(p.year, 2026);
    assert_int_equal(p.month, 11);
    p = schedule_due_month(s, NOV_1_0100_WIB - 1); /* 00:59:59 WIB: October still */
    assert_int_equal(p.month, 10);
    /* 2027-01-01 00:30 WIB = 2026-12-31 17:30 UTC: December is due. */
    p = schedule_due_month(s, (time_t)1798738200);
    assert_int_equal(p.year, 2026);
    assert_int_equal(p.month, 12);
    schedule_destroy(&s);
}

int main(void)
{
    setenv("TZ", "America/New_York", 1); /* the process zone must not matter */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_time_of),
        cmocka_unit_test(test_due_month),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
