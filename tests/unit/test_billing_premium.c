/* test_billing_premium: the premium arithmetic and its rounding (half up,
 * per component, integers only). The accrual SQL must agree with it; that is
 * checked against a real database by tests/integration/test_billing.py. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "premium.h"

static premium_rates_t standard(int64_t off_jkk, int64_t off_jkm)
{
    premium_rates_t r = {.jkk_income_bp = 100,
                         .min_income = 1000000,
                         .jkm_flat = 6800,
                         .jkk_off_bp = off_jkk,
                         .jkm_off_bp = off_jkm};
    return r;
}

static void test_usual_premium(void **state)
{
    (void)state;
    premium_rates_t r = standard(0, 0);
    premium_t p;
    assert_int_equal(premium_compute(&r, 1000000, &p), 0);
    assert_int_equal(p.jkk, 10000);
    assert_int_equal(p.jkm, 6800);
    assert_int_equal(p.amount, 16800);
}

static void test_minimum_income(void **state)
{
    (void)state;
    premium_rates_t r = standard(0, 0);
    premium_t p;
    assert_int_equal(premium_compute(&r, 0, &p), 0);
    assert_int_equal(p.jkk, 10000);
    assert_int_equal(premium_compute(&r, 999999, &p), 0);
    assert_int_equal(p.jkk, 10000);
    assert_int_equal(premium_compute(&r, 2500000, &p), 0);
    assert_int_equal(p.jkk, 25000);
}

static void test_pp50_relief_halves(void **state)
{
    (void)state;
    premium_rates_t r = standard(5000, 5000);
    premium_t p;
    assert_int_equal(premium_compute(&r, 1000000, &p), 0);
    assert_int_equal(p.jkk, 5000);
    assert_int_equal(p.jkm, 3400);
    assert_int_equal(p.amount, 8400);
}

static void test_half_up_per_component(void **state)
{
    (void)state;
    premium_t p;
    /* 1,000,050 x 1% = 10,000.5 -> 10,001 (half up). */
    premium_rates_t r = standard(0, 0);
    assert_int_equal(premium_compute(&r, 1000050, &p), 0);
    assert_int_equal(p.jkk, 10001);
    /* 1,000,049 x 1% = 10,000.49 -> 10,000. */
    assert_int_equal(premium_compute(&r, 1000049, &p), 0);
    assert_int_equal(p.jkk, 10000);
    /* JKK rounded first (10,001), then halved: 5,000.5 -> 5,001. JKM 6,801 / 2
     * = 3,400.5 -> 3,401. Rounding the sum instead would give 8,401. */
    r = standard(5000, 5000);
    r.jkm_flat = 6801;
    assert_int_equal(premium_compute(&r, 1000050, &p), 0);
    assert_int_equal(p.jkk, 5001);
    assert_int_equal(p.jkm, 3401);
    assert_int_equal(p.amount, 8402);
}

static void test_relief_per_component(void **state)
{
    (void)state;
    premium_t p;
    premium_rates_t r = standard(5000, 0); /* JKK only */
    assert_int_equal(premium_compute(&r, 1000000, &p), 0);
    assert_int_equal(p.jkk, 5000);
    assert_int_equal(p.jkm, 6800);
    r = standard(10000, 10000); /* a full waiver */
    assert_int_equal(premium_compute(&r, 1000000, &p), 0);
    assert_int_equal(p.amount, 0);
    r = standard(3333, 0); /* 10,000 x 66.67% = 6,667 */
    assert_int_equal(premium_compute(&r, 1000000, &p), 0);
    assert_int_equal(p.jkk, 6667);
}

static void test_apply_bp(void **state)
{
    (void)state;
    assert_int_equal(premium_apply_bp(0, 100), 0);
    assert_int_equal(premium_apply_bp(50, 100), 1); /* 0.5 -> 1 */
    assert_int_equal(premium_apply_bp(49, 100), 0); /* 0.49 -> 0 */
    assert_int_equal(premium_apply_bp(12345, 10000), 12345);
    assert_int_equal(premium_apply_bp(-1, 100), -1);
    assert_int_equal(premium_apply_bp(1, -1), -1);
    assert_int_equal(premium_apply_bp(INT64_MAX, 2), -1);
    assert_int_equal(premium_apply_bp(INT64_MAX, 0), 0);
}

static void test_bad_input_changes_nothing(void **state)
{
    (void)state;
    premium_t p = {1, 2, 3};
    premium_rates_t r = standard(0, 0);
    assert_int_equal(premium_compute(&r, -1, &p), -1);
    r = standard(10001, 0);
    assert_int_equal(premium_compute(&r, 1000000, &p), -1);
    r = standard(0, -1);
    assert_int_equal(premium_compute(&r, 1000000, &p), -1);
    r = standard(0, 0);
    assert_int_equal(premium_compute(&r, INT64_MAX, &p), -1);
    assert_int_equal(premium_compute(NULL, 1000000, &p), -1);
    assert_int_equal(p.jkk, 1);
    assert_int_equal(p.jkm, 2);
    assert_int_equal(p.amount, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usual_premium),
        cmocka_unit_test(test_minimum_income),
        cmocka_unit_test(test_pp50_relief_halves),
        cmocka_unit_test(test_half_up_per_component),
        cmocka_unit_test(test_relief_per_component),
        cmocka_unit_test(test_apply_bp),
        cmocka_unit_test(test_bad_input_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
