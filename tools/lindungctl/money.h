/* money: rupiah as lindungctl reads and prints it. Money is int64 whole
 * rupiah and never passes through a double, except as a JSON number (exact
 * below 2^53). */
#ifndef LINDUNG_MONEY_H
#define LINDUNG_MONEY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

/* The most digits an amount typed by an operator may have: below 2^53, so
 * it stays exact as a JSON number. */
#define MONEY_MAX_DIGITS 15

/* Room for any int64 with its thousands separators and sign. */
#define MONEY_TEXT_LEN 32

/* 1234567 -> "1,234,567"; -16800 -> "-16,800". */
void money_format(int64_t rupiah, char out[MONEY_TEXT_LEN]);
/* 1234567 -> "Rp 1,234,567"; -16800 -> "-Rp 16,800". */
void money_format_rp(int64_t rupiah, char *out, size_t cap);
/* A column as money_format does it; "" for SQL NULL. */
void money_column(const PGresult *r, int row, int col, char out[MONEY_TEXT_LEN]);

/* Strict whole rupiah typed by an operator: 1 to max_digits digits, nothing
 * else (no sign, separator or decimals). */
bool money_parse(const char *s, size_t max_digits, int64_t *out);

/* An integer column (rupiah, ids, counts); 0 for SQL NULL. */
int64_t money_i64(const PGresult *r, int row, int col);
#endif
