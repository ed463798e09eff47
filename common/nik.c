/* nik: offline structural checks of the Indonesian NIK, and masking it for logs.
 * A NIK that passes here may still not exist: only Dukcapil or BPJS can say.
 * Not for declared-data checks beyond date and sex agreement (verify does those).
 * The rules are written out in docs/nik.md. */
#include "nik.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* The 38 province codes, as listed with level=province in db/seed/wilayah.csv
 * (Kepmendagri 300.2.2-2138/2025). Keep the two in step when provinces change. */
static const char *const province_codes[] = {
    "11", "12", "13", "14", "15", "16", "17", "18", "19", "21", "31", "32", "33",
    "34", "35", "36", "51", "52", "53", "61", "62", "63", "64", "65", "71", "72",
    "73", "74", "75", "76", "81", "82", "91", "92", "93", "94", "95", "96",
};

#define FEMALE_DAY_OFFSET 40
#define MASK_STARS "******"
#define MASK_MIN_RUN 12

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_separator(char c)
{
    return c == ' ' || c == '.' || c == '-';
}

/* Length of the run of separators starting at s. */
static size_t separator_run(const char *s)
{
    size_t n = 0;
    while (is_separator(s[n]))
        n++;
    return n;
}

static int two_digits(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

static bool province_known(const char *digits)
{
    size_t n = sizeof(province_codes) / sizeof(province_codes[0]);
    for (size_t i = 0; i < n; i++) {
        if (memcmp(province_codes[i], digits, 2) == 0)
            return true;
    }
    return false;
}

/* Collects the digits of `input`, dropping the separators people type.
 * Keeps counting past 16 so that a too-long input is told apart from a
 * correct one. */
static nik_error_t strip_separators(const char *input, char digits[NIK_LEN + 1])
{
    size_t n = 0;
    for (const char *p = input; *p; p++) {
        if (is_separator(*p))
            continue;
        if (!is_digit(*p))
            return NIK_ERR_CHARS;
        if (n < NIK_LEN)
            digits[n] = *p;
        n++;
    }
    if (n != NIK_LEN)
        return NIK_ERR_LENGTH;
    digits[NIK_LEN] = '\0';
    return NIK_OK;
}

/* The two-digit year is ambiguous, so the date is acceptable when it exists
 * and is not in the future in at least one of the two centuries. */
static nik_error_t check_date(int day, int month, int yy, date_t today)
{
    int years[2] = {1900 + yy, 2000 + yy};
    bool exists = false;
    bool past = false;
    for (int i = 0; i < 2; i++) {
        if (!date_valid(years[i], month, day))
            continue;
        exists = true;
        date_t d = {years[i], month, day};
        if (date_compare(d, today) <= 0)
            past = true;
    }
    if (!exists)
        return NIK_ERR_DATE;
    if (!past)
        return NIK_ERR_FUTURE;
    return NIK_OK;
}

nik_error_t nik_parse(const char *input, date_t today, nik_t *out)
{
    char digits[NIK_LEN + 1];
    if (!input)
        return NIK_ERR_LENGTH;
    nik_error_t err = strip_separators(input, digits);
    if (err != NIK_OK)
        return err;
    /* OpenSID and similar village systems issue 0-prefixed stand-ins for
     * people without a NIK; they must not be enrolled as if they had one. */
    if (digits[0] == '0')
        return NIK_ERR_TEMPORARY;
    if (!province_known(digits))
        return NIK_ERR_PROVINCE;

    int day = two_digits(digits + 6);
    bool female = day > FEMALE_DAY_OFFSET;
    if (female)
        day -= FEMALE_DAY_OFFSET;
    if (day < 1 || day > 31)
        return NIK_ERR_DAY;
    int month = two_digits(digits + 8);
    if (month < 1 || month > 12)
        return NIK_ERR_MONTH;
    int yy = two_digits(digits + 10);
    err = check_date(day, month, yy, today);
    if (err != NIK_OK)
        return err;
    int serial = two_digits(digits + 12) * 100 + two_digits(digits + 14);
    if (serial == 0)
        return NIK_ERR_SERIAL;

    if (!out)
        return NIK_OK;
    memcpy(out->digits, digits, sizeof(digits));
    memcpy(out->regency, digits, 2);
    out->regency[2] = '.';
    memcpy(out->regency + 3, digits + 2, 2);
    out->regency[5] = '\0';
    out->day = day;
    out->month = month;
    out->yy = yy;
    out->female = female;
    out->serial = serial;
    return NIK_OK;
}

const char *nik_error_message(nik_error_t err)
{
    switch (err) {
    case NIK_OK:
        return "valid";
    case NIK_ERR_LENGTH:
        return "a NIK has 16 digits";
    case NIK_ERR_CHARS:
        return "a NIK contains only digits, spaces, dots and dashes";
    case NIK_ERR_TEMPORARY:
        return "a NIK starting with 0 is a temporary village number, not a NIK";
    case NIK_ERR_PROVINCE:
        return "digits 1-2 are not a province code";
    case NIK_ERR_DAY:
        return "digits 7-8 are not a day of birth (01-31, or 41-71 for women)";
    case NIK_ERR_MONTH:
        return "digits 9-10 are not a month of birth (01-12)";
    case NIK_ERR_DATE:
        return "digits 7-12 are not an existing date of birth";
    case NIK_ERR_FUTURE:
        return "digits 7-12 are a date of birth in the future";
    case NIK_ERR_SERIAL:
        return "serial 0000 is not issued";
    }
    return "unknown NIK error";
}

bool nik_matches_birth_date(const nik_t *nik, date_t birth)
{
    if (!nik || birth.year < 0)
        return false;
    return nik->day == birth.day && nik->month == birth.month &&
           nik->yy == birth.year % 100;
}

bool nik_matches_sex(const nik_t *nik, char sex)
{
    /* Only the two values the contract knows can agree with the NIK; anything
     * else is a mismatch rather than a silent pass. */
    if (!nik || (sex != 'M' && sex != 'F'))
        return false;
    return nik->female == (sex == 'F');
}

/* Writes the masked form of a digit run (first 4, six stars, last 4). */
static void mask_digits(const char *first4, const char *last4,
                        char out[NIK_MASKED_LEN + 1])
{
    memcpy(out, first4, 4);
    memcpy(out + 4, MASK_STARS, 6);
    memcpy(out + 10, last4, 4);
    out[NIK_MASKED_LEN] = '\0';
}

void nik_mask(const char *nik, char out[NIK_MASKED_LEN + 1])
{
    bool ok = nik && strlen(nik) == NIK_LEN;
    for (size_t i = 0; ok && i < NIK_LEN; i++)
        ok = is_digit(nik[i]);
    if (!ok) {
        memcpy(out, "****", 5);
        return;
    }
    mask_digits(nik, nik + NIK_LEN - 4, out);
}

/* Scans a run of digits starting at s, letting separators join digit groups
 * ("1612.0101-0190 0001"), since a person's NIK reaches logs in the form it
 * was typed. Any number of separators may join two groups ("1612  0101",
 * "1612..0101", "1612 - 0101"): nik_parse accepts every such form as a NIK,
 * so the masker must treat each as one. Returns the run's length in bytes
 * (trailing separators excluded) and fills the first and last four digits;
 * *ndigits is the number of digits in the run. */
static size_t scan_digit_run(const char *s, size_t *ndigits, char first4[4],
                             char last4[4])
{
    size_t i = 0;
    size_t n = 0;
    for (;;) {
        if (is_digit(s[i])) {
            if (n < 4)
                first4[n] = s[i];
            memmove(last4, last4 + 1, 3);
            last4[3] = s[i];
            n++;
            i++;
            continue;
        }
        size_t seps = separator_run(s + i);
        if (seps > 0 && is_digit(s[i + seps])) {
            i += seps;
            continue;
        }
        break;
    }
    *ndigits = n;
    return i;
}

/* Appends n bytes, stopping one short of cap for the terminator. */
static void append(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    size_t room = cap - 1 - *len;
    if (n > room)
        n = room;
    memcpy(out + *len, s, n);
    *len += n;
}

/* What a token (an id, a word, a number) is made of; a UUID is kept only
 * as a whole one. */
static bool is_token_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '-' || c == '_';
}

/* Length of a UUID (8-4-4-4-12 hex digits) starting at s and ending its
 * token, or 0. Ids of submissions and requests are UUIDs; one whose trailing
 * groups happen to be all digits looks like a separated NIK, and masking it
 * would break tracing. The shape alone is not enough: digits right after it
 * ("...-123456789012" "3456") would join its last group into a NIK-long run
 * that stays unmasked (found by tests/fuzz/fuzz_nik). */
static size_t uuid_at(const char *s)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        char c = s[i];
        bool hex =
            (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (shape[i] == '-' ? c != '-' : !hex)
            return 0;
    }
    return is_token_char(s[sizeof shape - 1]) ? 0 : sizeof shape - 1;
}

void nik_mask_text(const char *s, char *out, size_t cap)
{
    if (!out || cap == 0)
        return;
    size_t len = 0;
    bool token_start = true; /* a UUID counts only as a whole token */
    while (s && *s && len < cap - 1) {
        size_t uuid = token_start ? uuid_at(s) : 0;
        if (uuid) {
            append(out, cap, &len, s, uuid);
            s += uuid;
            token_start = false;
            continue;
        }
        token_start = !is_token_char(*s);
        if (!is_digit(*s)) {
            append(out, cap, &len, s, 1);
            s++;
            continue;
        }
        size_t ndigits;
        char first4[4], last4[4] = {0};
        size_t runlen = scan_digit_run(s, &ndigits, first4, last4);
        if (ndigits >= MASK_MIN_RUN) {
            char masked[NIK_MASKED_LEN + 1];
            mask_digits(first4, last4, masked);
            append(out, cap, &len, masked, NIK_MASKED_LEN);
        } else {
            append(out, cap, &len, s, runlen);
        }
        s += runlen;
    }
    out[len] = '\0';
}

char *nik_mask_text_copy(const char *s, bool unmasked)
{
    size_t len = strlen(s), cap = 2 * len + 1;
    char *out = malloc(cap);
    if (out && unmasked)
        memcpy(out, s, len + 1);
    else if (out)
        nik_mask_text(s, out, cap);
    return out;
}
