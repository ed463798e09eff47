/* test_region: Kemendagri code syntax, village kinds and regency prefixes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "region.h"

static void test_levels(void **state)
{
    (void)state;
    assert_int_equal(region_level("16"), REGION_PROVINCE);
    assert_int_equal(region_level("16.12"), REGION_REGENCY);
    assert_int_equal(region_level("16.12.01"), REGION_DISTRICT);
    assert_int_equal(region_level("16.12.01.2001"), REGION_VILLAGE);
    assert_int_equal(region_level("73.02.05.1003"), REGION_VILLAGE);
}

static void test_invalid(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "1",
        "123",
        "1a",
        "16.",
        "16.1",
        "16.123",
        "16.12.",
        "16.12.1",
        "16.12.01.",
        "16.12.01.201",
        "16.12.01.20011",
        "16.12.01.2001.",
        "16.12.01.2001.1",
        "16-12",
        "16,12",
        " 16.12",
        "16.12 ",
        "16..12",
        "1612",
        "16.12.01.20a1",
        "+6.12",
        "16.12\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(region_level(bad[i]), REGION_INVALID);
    assert_int_equal(region_level(NULL), REGION_INVALID);
}

static void test_village_kind(void **state)
{
    (void)state;
    assert_int_equal(region_village_kind("16.12.01.1001"), VILLAGE_KELURAHAN);
    assert_int_equal(region_village_kind("16.12.01.2001"), VILLAGE_DESA);
    assert_int_equal(region_village_kind("51.04.01.3001"), VILLAGE_DESA_ADAT);
    assert_int_equal(region_village_kind("16.12.01.4001"), VILLAGE_UNKNOWN);
    assert_int_equal(region_village_kind("16.12.01.0001"), VILLAGE_UNKNOWN);
    /* Only village codes have a kind. */
    assert_int_equal(region_village_kind("16.12.01"), VILLAGE_UNKNOWN);
    assert_int_equal(region_village_kind("16.12"), VILLAGE_UNKNOWN);
    assert_int_equal(region_village_kind("16.12.01.200"), VILLAGE_UNKNOWN);
    assert_int_equal(region_village_kind(NULL), VILLAGE_UNKNOWN);
}

static void test_is_desa(void **state)
{
    (void)state;
    assert_true(region_is_desa("16.12.01.2001"));
    assert_true(region_is_desa("51.04.01.3001"));
    assert_false(region_is_desa("16.12.01.1001"));
    assert_false(region_is_desa("16.12.01.9001"));
    assert_false(region_is_desa("16.12.01"));
    assert_false(region_is_desa(NULL));
}

static void test_regency_of(void **state)
{
    (void)state;
    char out[6];
    assert_true(region_regency_of("16.12", out));
    assert_string_equal(out, "16.12");
    assert_true(region_regency_of("16.12.01", out));
    assert_string_equal(out, "16.12");
    assert_true(region_regency_of("73.02.05.2001", out));
    assert_string_equal(out, "73.02");
    assert_false(region_regency_of("16", out));
    assert_string_equal(out, "");
    assert_false(region_regency_of("16.12.1", out));
    assert_false(region_regency_of(NULL, out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),       cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_village_kind), cmocka_unit_test(test_is_desa),
        cmocka_unit_test(test_regency_of),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
