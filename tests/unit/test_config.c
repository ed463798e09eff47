/* test_config: environment settings, defaults and the errors operators see. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "config.h"

#define VAR "LINDUNG_TEST_SWEEP_MS"

static int reset(void **state)
{
    (void)state;
    unsetenv(VAR);
    return 0;
}

static void test_str(void **state)
{
    (void)state;
    assert_string_equal(config_str(VAR, "fallback"), "fallback");
    setenv(VAR, "", 1);
    assert_string_equal(config_str(VAR, "fallback"), "fallback");
    setenv(VAR, "postgresql:///lindung", 1);
    assert_string_equal(config_str(VAR, "fallback"), "postgresql:///lindung");
    unsetenv(VAR);
    assert_null(config_str(VAR, NULL));
}

static void test_int_default(void **state)
{
    (void)state;
    long v = 0;
    char err[128];
    assert_int_equal(config_int(VAR, 5000, 10, 3600000, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 5000);
    setenv(VAR, "", 1);
    v = 0;
    assert_int_equal(config_int(VAR, 5000, 10, 3600000, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 5000);
}

static void test_int_values(void **state)
{
    (void)state;
    long v = 0;
    char err[128];
    setenv(VAR, "250", 1);
    assert_int_equal(config_int(VAR, 5000, 10, 3600000, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 250);
    setenv(VAR, "10", 1);
    assert_int_equal(config_int(VAR, 5000, 10, 3600000, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 10);
    setenv(VAR, "3600000", 1);
    assert_int_equal(config_int(VAR, 5000, 10, 3600000, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 3600000);
    setenv(VAR, "-5", 1);
    assert_int_equal(config_int(VAR, 0, -10, 10, &v, err, sizeof(err)), 0);
    assert_int_equal(v, -5);
}

static void expect_error(const char *value, const char *message)
{
    long v = 42;
    char err[128];
    setenv(VAR, value, 1);
    assert_int_equal(config_int(VAR, 5000, 10, 3600000, &v, err, sizeof(err)), -1);
    assert_int_equal(v, 42);
    assert_string_equal(err, message);
}

static void test_int_errors(void **state)
{
    (void)state;
    expect_error("abc", VAR ": expected an integer from 10 to 3600000, got 'abc'");
    expect_error("12x", VAR ": expected an integer from 10 to 3600000, got '12x'");
    expect_error(" 12", VAR ": expected an integer from 10 to 3600000, got ' 12'");
    expect_error("12 ", VAR ": expected an integer from 10 to 3600000, got '12 '");
    expect_error("1.5", VAR ": expected an integer from 10 to 3600000, got '1.5'");
    expect_error("9", VAR ": expected an integer from 10 to 3600000, got '9'");
    expect_error("3600001",
                 VAR ": expected an integer from 10 to 3600000, got '3600001'");
    expect_error("-", VAR ": expected an integer from 10 to 3600000, got '-'");
    expect_error("99999999999999999999999",
                 VAR ": expected an integer from 10 to 3600000, got "
                     "'99999999999999999999999'");
}

static void test_int_error_buffer(void **state)
{
    (void)state;
    long v = 0;
    setenv(VAR, "abc", 1);
    /* No buffer, or a tiny one, is still safe. */
    assert_int_equal(config_int(VAR, 5000, 10, 3600000, &v, NULL, 0), -1);
    char err[8];
    memset(err, 'x', sizeof(err));
    assert_int_equal(config_int(VAR, 5000, 10, 3600000, &v, err, sizeof(err)), -1);
    assert_int_equal(strlen(err), sizeof(err) - 1);
    /* A success clears a stale message. */
    char ok[64] = "stale";
    setenv(VAR, "100", 1);
    assert_int_equal(config_int(VAR, 5000, 10, 3600000, &v, ok, sizeof(ok)), 0);
    assert_string_equal(ok, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_str, reset),
        cmocka_unit_test_setup(test_int_default, reset),
        cmocka_unit_test_setup(test_int_values, reset),
        cmocka_unit_test_setup(test_int_errors, reset),
        cmocka_unit_test_setup(test_int_error_buffer, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
