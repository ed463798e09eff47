/* premium: per-component integer arithmetic, rounded half up. Rounding each
 * component separately (not the sum) is what makes the result match the
 * accrual SQL line by line, and BPJS states JKK and JKM separately. */
#include "premium.h"

int64_t premium_apply_bp(int64_t amount, int64_t bp)
{
    if (amount < 0 || bp < 0)
        return -1;
    /* amount * bp + 5000 must fit in int64. */
    if (bp > 0 && amount > (INT64_MAX - PREMIUM_BP_ONE / 2) / bp)
        return -1;
    return (amount * bp + PREMIUM_BP_ONE / 2) / PREMIUM_BP_ONE;
}

static bool off_valid(int64_t off_bp)
{
    return off_bp >= 0 && off_bp <= PREMIUM_BP_ONE;
}

int premium_compute(const premium_rates_t *rates, int64_t declared_income, premium_t *out)
{
    if (!rates || !out || declared_income < 0 || rates->min_income < 0 ||
        rates->jkk_income_bp < 0 || rates->jkm_flat < 0)
        return -1;
    if (!off_valid(rates->jkk_off_bp) || !off_valid(rates->jkm_off_bp))
        return -1;
    int64_t income =
        declared_income > rates->min_income ? declared_income : rates->min_income;
    int64_t jkk = premium_apply_bp(income, rates->jkk_income_bp);
    if (jkk < 0)
        return -1;
    jkk = premium_apply_bp(jkk, PREMIUM_BP_ONE - rates->jkk_off_bp);
    int64_t jkm = premium_apply_bp(rates->jkm_flat, PREMIUM_BP_ONE - rates->jkm_off_bp);
    if (jkk < 0 || jkm < 0 || jkk > INT64_MAX - jkm)
        return -1;
    out->jkk = jkk;
    out->jkm = jkm;
    out->amount = jkk + jkm;
    return 0;
}
