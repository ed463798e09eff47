/* premium: the premium of one participant for one month, in whole rupiah,
 * from the rates and the relief in force. Pure arithmetic, no I/O: the
 * accrual SQL (accrual.c) computes the same thing set-based, and
 * `lindungctl rates` and the unit tests use this module; an integration test
 * checks the two agree. Not for looking rates up (that is SQL). */
#ifndef LINDUNG_PREMIUM_H
#define LINDUNG_PREMIUM_H
#include <stdbool.h>
#include <stdint.h>

#define PREMIUM_BP_ONE 10000 /* basis points in 100% */

typedef struct {
    int64_t jkk_income_bp; /* JKK: basis points of declared income (100 = 1%) */
    int64_t min_income;    /* rupiah; a lower declared income counts as this */
    int64_t jkm_flat;      /* JKM: rupiah a month */
    int64_t jkk_off_bp;    /* relief off JKK, 0-10000 (5000 = half) */
    int64_t jkm_off_bp;    /* relief off JKM, 0-10000 */
} premium_rates_t;

typedef struct {
    int64_t jkk;
    int64_t jkm;
    int64_t amount; /* jkk + jkm */
} premium_t;

/* amount x bp / 10000, rounded half up, in integers. -1 when amount or bp is
 * negative or the product would overflow. */
int64_t premium_apply_bp(int64_t amount, int64_t bp);

/* JKK = half-up(max(income, min_income) x jkk_income_bp / 10000), then
 * JKK = half-up(JKK x (10000 - jkk_off_bp) / 10000); JKM likewise from the
 * flat amount. Each component is rounded on its own. 0 on success; -1 when a
 * rate or the income is out of range (nothing written to out). */
int premium_compute(const premium_rates_t *rates, int64_t declared_income,
                    premium_t *out);
#endif
