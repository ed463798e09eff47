/* money: the one rupiah formatter and parser of lindungctl (see money.h). */
#include "money.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The digits of |rupiah| grouped by thousands, into out (27 bytes). */
static void group(int64_t rupiah, char *out)
{
    char digits[24];
    /* -INT64_MIN does not exist; its magnitude as unsigned does */
    uint64_t magnitude = rupiah < 0 ? (uint64_t)0 - (uint64_t)rupiah : (uint64_t)rupiah;
    snprintf(digits, sizeof digits, "%" PRIu64, magnitude);
    size_t n = strlen(digits), o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

void money_format(int64_t rupiah, char out[MONEY_TEXT_LEN])
{
    /* at most 20 digits and 6 commas after the sign: 28 bytes with the NUL */
    if (rupiah < 0)
        *out++ = '-';
    group(rupiah, out);
}

void money_format_rp(int64_t rupiah, char *out, size_t cap)
{
    char grouped[MONEY_TEXT_LEN];
    group(rupiah, grouped);
    snprintf(out, cap, "%sRp %s", rupiah < 0 ? "-" : "", grouped);
}

void money_column(const PGresult *r, int row, int col, char out[MONEY_TEXT_LEN])
{
    if (PQgetisnull(r, row, col))
        out[0] = '\0';
    else
        money_format(money_i64(r, row, col), out);
}

bool money_parse(const char *s, size_t max_digits, int64_t *out)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > max_digits || len > 18 || strspn(s, "0123456789") != len)
        return false;
    *out = strtoll(s, NULL, 10);
    return true;
}

int64_t money_i64(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}
