/* test_period: billing months and month arithmetic. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "period.h"

static period_t p(int year, int month)
{
    period_t x = {year, month};
    return x;
}

static void assert_period(period_t x, int year, int month)
{
    assert_int_equal(x.year, year);
    assert_int_equal(x.month, month);
}

static void test_parse(void **state)
{
    (void)state;
    period_t x;
    assert_true(period_parse("2026-04", &x));
    assert_period(x, 2026, 4);
    assert_true(period_parse("1900-01", &x));
    assert_true(period_parse("9999-12", &x));
    assert_false(period_parse("1899-12", &x));
    assert_false(period_parse("2026-00", &x));
    assert_false(period_parse("2026-13", &x));
    assert_false(period_parse("2026-4", &x));
    assert_false(period_parse("2026-04-01", &x));
    assert_false(period_parse("2026-04 ", &x));
    assert_false(period_parse(" 2026-04", &x));
    assert_false(period_parse("2026/04", &x));
    assert_false(period_parse("202604", &x));
    assert_false(period_parse("2026-+4", &x));
    assert_false(period_parse("10000-01", &x));
    assert_false(period_parse("", &x));
    assert_false(period_parse(NULL, &x));
}

static void test_format(void **state)
{
    (void)state;
    char out[8];
    period_format(p(2026, 4), out);
    assert_string_equal(out, "2026-04");
    period_format(p(1999, 12), out);
    assert_string_equal(out, "1999-12");
}

static void test_add(void **state)
{
    (void)state;
    assert_period(period_add(p(2026, 4), 0), 2026, 4);
    assert_period(period_add(p(2026, 4), 8), 2026, 12);
    assert_period(period_add(p(2026, 4), 9), 2027, 1);
    assert_period(period_add(p(2026, 4), 24), 2028, 4);
    assert_period(period_add(p(2026, 4), -3), 2026, 1);
    assert_period(period_add(p(2026, 4), -4), 2025, 12);
    assert_period(period_add(p(2026, 1), -13), 2024, 12);
    assert_period(period_add(p(2026, 1), -24), 2024, 1);
    assert_period(period_next(p(2026, 12)), 2027, 1);
    assert_period(period_next(p(2026, 1)), 2026, 2);
}

static void test_diff_and_compare(void **state)
{
    (void)state;
    assert_int_equal(period_diff(p(2026, 4), p(2026, 4)), 0);
    assert_int_equal(period_diff(p(2026, 7), p(2026, 4)), 3);
    assert_int_equal(period_diff(p(2026, 4), p(2026, 7)), -3);
    assert_int_equal(period_diff(p(2027, 3), p(2026, 1)), 14);
    assert_int_equal(period_compare(p(2026, 4), p(2026, 4)), 0);
    assert_true(period_compare(p(2026, 3), p(2026, 4)) < 0);
    assert_true(period_compare(p(2027, 1), p(2026, 12)) > 0);
    for (int k = -30; k <= 30; k++)
        assert_int_equal(period_diff(period_add(p(2026, 4), k), p(2026, 4)), k);
}

static void test_dates(void **state)
{
    (void)state;
    date_t birth = {1990, 2, 28};
    assert_period(period_of(birth), 1990, 2);
    date_t first = period_first_day(p(2026, 2));
    assert_int_equal(first.year, 2026);
    assert_int_equal(first.month, 2);
    assert_int_equal(first.day, 1);
    date_t due = period_due_date(p(2026, 2));
    assert_int_equal(due.year, 2026);
    assert_int_equal(due.month, 2);
    assert_int_equal(due.day, 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse), cmocka_unit_test(test_format),
        cmocka_unit_test(test_add),   cmocka_unit_test(test_diff_and_compare),
        cmocka_unit_test(test_dates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
