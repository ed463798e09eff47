/* fuzz_nik: the NIK parser and the log masker (common/nik.c).
 *
 * The input is one C string (cut at its first NUL, as every caller passes
 * one). Beyond surviving:
 * - nik_parse: what it accepts has 16 digits, a known province, a day,
 *   month and serial in range, and parses again to itself;
 * - nik_mask_text, the logger's last line of defence, leaves no run of 12
 *   or more digits (joined by spaces, dots or dashes, as nik_parse accepts
 *   them) in its output, except a whole UUID (the one thing it keeps on
 *   purpose, nik.h); and a short buffer gets a prefix of the full answer.
 * Seeds: corpus/nik/, dictionary nik.dict. */
#include <stdbool.h>
#include "fuzz.h"
#include "nik.h"

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool separator(char c)
{
    return c == ' ' || c == '.' || c == '-';
}

static bool token_char(char c)
{
    return digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '_';
}

static bool hex(char c)
{
    return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A UUID (8-4-4-4-12 hex digits) that is a whole token at s: nothing of a
 * token just before it (the caller says) or just after it. */
static size_t whole_uuid_at(const char *s)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    size_t n = sizeof shape - 1;
    for (size_t i = 0; i < n; i++)
        if (shape[i] == '-' ? s[i] != '-' : !hex(s[i]))
            return 0;
    return token_char(s[n]) ? 0 : n;
}

/* The most digits in one run of `s`, runs joined by separators as the
 * masker joins them, whole UUIDs left out. */
static size_t longest_digit_run(const char *s)
{
    size_t longest = 0;
    bool token_start = true;
    while (*s) {
        size_t uuid = token_start ? whole_uuid_at(s) : 0;
        if (uuid) {
            s += uuid;
            token_start = false;
            continue;
        }
        if (!digit(*s)) {
            token_start = !token_char(*s);
            s++;
            continue;
        }
        size_t n = 0;
        for (;;) {
            if (digit(*s)) {
                n++, s++;
                continue;
            }
            size_t seps = 0;
            while (separator(s[seps]))
                seps++;
            if (seps && digit(s[seps])) {
                s += seps;
                continue;
            }
            break;
        }
        longest = n > longest ? n : longest;
        token_start = false;
    }
    return longest;
}

static void check_parse(const char *input)
{
    const date_t today = {2025, 7, 15};
    nik_t nik;
    memset(&nik, 0xAB, sizeof nik);
    nik_error_t err = nik_parse(input, today, &nik);
    FUZZ_CHECK(nik_parse(input, today, NULL) == err);
    FUZZ_CHECK(nik_error_message(err) != NULL);
    if (err != NIK_OK)
        return;
    FUZZ_CHECK(strlen(nik.digits) == NIK_LEN);
    for (int i = 0; i < NIK_LEN; i++)
        FUZZ_CHECK(digit(nik.digits[i]));
    FUZZ_CHECK(nik.digits[0] != '0');
    FUZZ_CHECK(nik.day >= 1 && nik.day <= 31 && nik.month >= 1 && nik.month <= 12);
    FUZZ_CHECK(nik.yy >= 0 && nik.yy <= 99 && nik.serial >= 1 && nik.serial <= 9999);
    FUZZ_CHECK(strlen(nik.regency) == 5 && nik.regency[2] == '.' &&
               memcmp(nik.regency, nik.digits, 2) == 0 &&
               memcmp(nik.regency + 3, nik.digits + 2, 2) == 0);
    nik_t again;
    FUZZ_CHECK(nik_parse(nik.digits, today, &again) == NIK_OK);
    FUZZ_CHECK(memcmp(again.digits, nik.digits, sizeof nik.digits) == 0);
    FUZZ_CHECK(nik_matches_sex(&nik, nik.female ? 'F' : 'M'));
    char masked[NIK_MASKED_LEN + 1];
    nik_mask(nik.digits, masked);
    FUZZ_CHECK(strlen(masked) == NIK_MASKED_LEN && memcmp(masked, nik.digits, 4) == 0 &&
               memcmp(masked + 4, "******", 6) == 0 &&
               memcmp(masked + 10, nik.digits + 12, 4) == 0);
}

static void check_mask(const char *input, size_t cut)
{
    char m[NIK_MASKED_LEN + 1];
    nik_mask(input, m);
    FUZZ_CHECK(strcmp(m, "****") == 0 || strlen(m) == NIK_MASKED_LEN);

    /* Each run of 12+ digits (12 bytes or more) becomes 14 bytes. */
    size_t len = strlen(input), cap = len + len / 6 + 16;
    char *full = malloc(cap);
    FUZZ_CHECK(full != NULL);
    nik_mask_text(input, full, cap);
    size_t full_len = strlen(full);
    FUZZ_CHECK(full_len < cap - 1);
    /* nik_mask_text leaves no 12 or more digits in a row */
    if (longest_digit_run(full) >= 12)
        fprintf(stderr, "unmasked digits in: \"%s\"\n", full);
    FUZZ_CHECK(longest_digit_run(full) < 12);

    size_t small_cap = cut % 48 + 1;
    char *small = malloc(small_cap);
    FUZZ_CHECK(small != NULL);
    nik_mask_text(input, small, small_cap);
    size_t small_len = strlen(small);
    FUZZ_CHECK(small_len == (full_len < small_cap - 1 ? full_len : small_cap - 1));
    FUZZ_CHECK(memcmp(small, full, small_len) == 0);
    free(small);
    free(full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *input = fuzz_cstring(data, size);
    check_parse(input);
    check_mask(input, size ? data[size - 1] : 0);
    free(input);
    return 0;
}
