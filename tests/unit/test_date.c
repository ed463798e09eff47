/* test_date: calendar rules behind birth dates and ages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "date.h"

static date_t d(int year, int month, int day)
{
    date_t x = {year, month, day};
    return x;
}

static void test_leap_years(void **state)
{
    (void)state;
    assert_true(date_is_leap(2000));
    assert_true(date_is_leap(2024));
    assert_true(date_is_leap(1904));
    assert_false(date_is_leap(1900));
    assert_false(date_is_leap(2100));
    assert_false(date_is_leap(2023));
}

static void test_days_in_month(void **state)
{
    (void)state;
    assert_int_equal(date_days_in_month(2023, 1), 31);
    assert_int_equal(date_days_in_month(2023, 2), 28);
    assert_int_equal(date_days_in_month(2024, 2), 29);
    assert_int_equal(date_days_in_month(1900, 2), 28);
    assert_int_equal(date_days_in_month(2023, 4), 30);
    assert_int_equal(date_days_in_month(2023, 12), 31);
    assert_int_equal(date_days_in_month(2023, 0), 0);
    assert_int_equal(date_days_in_month(2023, 13), 0);
}

static void test_valid(void **state)
{
    (void)state;
    assert_true(date_valid(2000, 2, 29));
    assert_false(date_valid(1900, 2, 29));
    assert_false(date_valid(2023, 2, 29));
    assert_false(date_valid(2023, 4, 31));
    assert_false(date_valid(2023, 2, 31));
    assert_false(date_valid(2023, 1, 0));
    assert_false(date_valid(2023, 1, 32));
    assert_false(date_valid(0, 1, 1));
    assert_true(date_valid(9999, 12, 31));
}

static void test_parse(void **state)
{
    (void)state;
    date_t x;
    assert_true(date_parse("1990-01-31", &x));
    assert_int_equal(x.year, 1990);
    assert_int_equal(x.month, 1);
    assert_int_equal(x.day, 31);
    assert_true(date_parse("2024-02-29", &x));
    assert_false(date_parse("2023-02-29", &x));
    assert_false(date_parse("2023-04-31", &x));
    assert_false(date_parse("2023-13-01", &x));
    assert_false(date_parse("2023-00-01", &x));
    assert_false(date_parse("2023-1-01", &x));
    assert_false(date_parse("2023-01-1", &x));
    assert_false(date_parse("2023-01-01 ", &x));
    assert_false(date_parse(" 2023-01-01", &x));
    assert_false(date_parse("2023/01/01", &x));
    assert_false(date_parse("+023-01-01", &x));
    assert_false(date_parse("2023-01-01T00:00:00Z", &x));
    assert_false(date_parse("", &x));
    assert_false(date_parse(NULL, &x));
    assert_true(date_parse("2023-01-01", NULL));
}

static void test_format(void **state)
{
    (void)state;
    char out[11];
    date_format(d(1905, 3, 7), out);
    assert_string_equal(out, "1905-03-07");
    date_format(d(2026, 12, 31), out);
    assert_string_equal(out, "2026-12-31");

    date_t x;
    assert_true(date_parse("2000-02-29", &x));
    date_format(x, out);
    assert_string_equal(out, "2000-02-29");
}

static void test_compare(void **state)
{
    (void)state;
    assert_int_equal(date_compare(d(2020, 5, 5), d(2020, 5, 5)), 0);
    assert_true(date_compare(d(2020, 5, 4), d(2020, 5, 5)) < 0);
    assert_true(date_compare(d(2020, 4, 30), d(2020, 5, 1)) < 0);
    assert_true(date_compare(d(2019, 12, 31), d(2020, 1, 1)) < 0);
    assert_true(date_compare(d(2021, 1, 1), d(2020, 12, 31)) > 0);
}

static void test_age(void **state)
{
    (void)state;
    assert_int_equal(date_age_on(d(1961, 7, 1), d(2026, 6, 30)), 64);
    assert_int_equal(date_age_on(d(1961, 7, 1), d(2026, 7, 1)), 65);
    assert_int_equal(date_age_on(d(1961, 7, 1), d(2026, 7, 2)), 65);
    assert_int_equal(date_age_on(d(2000, 1, 1), d(2000, 1, 1)), 0);
    assert_int_equal(date_age_on(d(2000, 12, 31), d(2001, 12, 30)), 0);
}

static void test_age_leap_day_birthday(void **state)
{
    (void)state;
    date_t birth = d(2000, 2, 29);
    /* In a non-leap year the birthday counts as 1 March. */
    assert_int_equal(date_age_on(birth, d(2001, 2, 28)), 0);
    assert_int_equal(date_age_on(birth, d(2001, 3, 1)), 1);
    assert_int_equal(date_age_on(birth, d(2023, 2, 28)), 22);
    assert_int_equal(date_age_on(birth, d(2023, 3, 1)), 23);
    /* In a leap year it is 29 February itself. */
    assert_int_equal(date_age_on(birth, d(2004, 2, 28)), 3);
    assert_int_equal(date_age_on(birth, d(2004, 2, 29)), 4);
}

static void test_today_is_jakarta(void **state)
{
    (void)state;
    time_t before = time(NULL) + 7 * 3600;
    date_t today = date_today();
    time_t after = time(NULL) + 7 * 3600;
    struct tm a, b;
    gmtime_r(&before, &a);
    gmtime_r(&after, &b);
    date_t da = d(a.tm_year + 1900, a.tm_mon + 1, a.tm_mday);
    date_t db = d(b.tm_year + 1900, b.tm_mon + 1, b.tm_mday);
    assert_true(date_valid(today.year, today.month, today.day));
    /* Midnight may pass between the calls; today must be one of the two. */
    assert_true(date_compare(today, da) == 0 || date_compare(today, db) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leap_years),
        cmocka_unit_test(test_days_in_month),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_age),
        cmocka_unit_test(test_age_leap_day_birthday),
        cmocka_unit_test(test_today_is_jakarta),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
