/* test_nik: every structural NIK rule of docs/nik.md, one by one, plus the
 * birth-date and sex agreement and the masking used by the logger. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nik.h"

/* A fixed "today" keeps the future rule independent of the clock. */
static const date_t today = {2026, 11, 24};

/* Builds a NIK from its parts: region "PPRRDD", day, month, yy, serial. */
static const char *make(const char *region, const char *dd, const char *mm,
                        const char *yy, const char *serial)
{
    static char buf[32];
    snprintf(buf, sizeof(buf), "%s%s%s%s%s", region, dd, mm, yy, serial);
    return buf;
}

static nik_error_t parse(const char *s)
{
    nik_t nik;
    return nik_parse(s, today, &nik);
}

static void test_valid_fills_fields(void **state)
{
    (void)state;
    nik_t nik;
    assert_int_equal(nik_parse("1612010101900001", today, &nik), NIK_OK);
    assert_string_equal(nik.digits, "1612010101900001");
    assert_string_equal(nik.regency, "16.12");
    assert_int_equal(nik.day, 1);
    assert_int_equal(nik.month, 1);
    assert_int_equal(nik.yy, 90);
    assert_false(nik.female);
    assert_int_equal(nik.serial, 1);

    assert_int_equal(nik_parse("7302055512859999", today, &nik), NIK_OK);
    assert_string_equal(nik.regency, "73.02");
    assert_int_equal(nik.day, 15);
    assert_int_equal(nik.month, 12);
    assert_int_equal(nik.yy, 85);
    assert_true(nik.female);
    assert_int_equal(nik.serial, 9999);
}

static void test_separators(void **state)
{
    (void)state;
    nik_t nik;
    assert_int_equal(nik_parse("1612.0101-0190 0001", today, &nik), NIK_OK);
    assert_string_equal(nik.digits, "1612010101900001");
    assert_int_equal(nik_parse("16.12.01.010190.0001", today, &nik), NIK_OK);
    assert_int_equal(nik_parse(" 1612010101900001 ", today, &nik), NIK_OK);
    assert_int_equal(nik_parse("1612-0101-0190-0001", today, &nik), NIK_OK);
    assert_string_equal(nik.digits, "1612010101900001");
}

static void test_length(void **state)
{
    (void)state;
    assert_int_equal(parse("161201010190001"), NIK_ERR_LENGTH);
    assert_int_equal(parse("16120101019000011"), NIK_ERR_LENGTH);
    assert_int_equal(parse("1612.0101.0190.001"), NIK_ERR_LENGTH);
    assert_int_equal(parse(""), NIK_ERR_LENGTH);
    assert_int_equal(parse(" .-"), NIK_ERR_LENGTH);
    assert_int_equal(parse(NULL), NIK_ERR_LENGTH);
}

static void test_chars(void **state)
{
    (void)state;
    assert_int_equal(parse("16120101019000a1"), NIK_ERR_CHARS);
    assert_int_equal(parse("1612/0101/0190/0001"), NIK_ERR_CHARS);
    assert_int_equal(parse("1612010101900001\t"), NIK_ERR_CHARS);
    assert_int_equal(parse("1612010101900001\n"), NIK_ERR_CHARS);
    assert_int_equal(parse("+612010101900001"), NIK_ERR_CHARS);
    assert_int_equal(parse("\xd9\xa1"
                           "612010101900001"),
                     NIK_ERR_CHARS);
    /* Characters are checked before length. */
    assert_int_equal(parse("12x"), NIK_ERR_CHARS);
}

static void test_temporary(void **state)
{
    (void)state;
    assert_int_equal(parse("0612010101900001"), NIK_ERR_TEMPORARY);
    assert_int_equal(parse("0000000000000000"), NIK_ERR_TEMPORARY);
    assert_int_equal(parse("0-612010101900001"), NIK_ERR_TEMPORARY);
    /* Length is checked before the temporary rule. */
    assert_int_equal(parse("061201010190001"), NIK_ERR_LENGTH);
}

static void test_province(void **state)
{
    (void)state;
    assert_int_equal(parse(make("101201", "01", "01", "90", "0001")), NIK_ERR_PROVINCE);
    assert_int_equal(parse(make("201201", "01", "01", "90", "0001")), NIK_ERR_PROVINCE);
    assert_int_equal(parse(make("541201", "01", "01", "90", "0001")), NIK_ERR_PROVINCE);
    assert_int_equal(parse(make("971201", "01", "01", "90", "0001")), NIK_ERR_PROVINCE);
    assert_int_equal(parse(make("991201", "01", "01", "90", "0001")), NIK_ERR_PROVINCE);
    /* The newest provinces (Papua, 2022) are known. */
    assert_int_equal(parse(make("961201", "01", "01", "90", "0001")), NIK_OK);
    assert_int_equal(parse(make("921201", "01", "01", "90", "0001")), NIK_OK);
}

/* The province list in nik.c must be exactly the provinces of the seed file. */
static void test_province_list_matches_seed(void **state)
{
    (void)state;
    FILE *f = fopen(WILAYAH_CSV, "r");
    assert_non_null(f);
    bool seed[100] = {false};
    char line[512];
    int provinces = 0;
    while (fgets(line, sizeof(line), f)) {
        int code;
        char rest[16];
        if (sscanf(line, "%2d,%*[^,],%15[^,\n]", &code, rest) == 2 &&
            strcmp(rest, "province") == 0 && line[2] == ',') {
            seed[code] = true;
            provinces++;
        }
    }
    fclose(f);
    assert_int_equal(provinces, 38);
    for (int code = 10; code <= 99; code++) {
        char region[8];
        snprintf(region, sizeof(region), "%02d1201", code);
        nik_error_t err = parse(make(region, "01", "01", "90", "0001"));
        assert_int_equal(err, seed[code] ? NIK_OK : NIK_ERR_PROVINCE);
    }
}

static void test_day(void **state)
{
    (void)state;
    const char *bad[] = {"00", "32", "33", "39", "40", "72", "80", "99"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse(make("161201", bad[i], "01", "90", "0001")), NIK_ERR_DAY);
}

static void test_day_men_and_women(void **state)
{
    (void)state;
    for (int dd = 1; dd <= 71; dd++) {
        if (dd > 31 && dd < 41)
            continue;
        char day[3];
        snprintf(day, sizeof(day), "%02d", dd);
        nik_t nik;
        assert_int_equal(nik_parse(make("161201", day, "01", "90", "0001"), today, &nik),
                         NIK_OK);
        assert_int_equal(nik.female, dd > 40);
        assert_int_equal(nik.day, dd > 40 ? dd - 40 : dd);
    }
}

static void test_month(void **state)
{
    (void)state;
    assert_int_equal(parse(make("161201", "01", "00", "90", "0001")), NIK_ERR_MONTH);
    assert_int_equal(parse(make("161201", "01", "13", "90", "0001")), NIK_ERR_MONTH);
    assert_int_equal(parse(make("161201", "41", "99", "90", "0001")), NIK_ERR_MONTH);
    assert_int_equal(parse(make("161201", "01", "12", "90", "0001")), NIK_OK);
}

static void test_leap_day(void **state)
{
    (void)state;
    /* 29 Feb 00: not in 1900, but in 2000. */
    assert_int_equal(parse(make("161201", "29", "02", "00", "0001")), NIK_OK);
    assert_int_equal(parse(make("161201", "69", "02", "00", "0001")), NIK_OK);
    /* 29 Feb 04: both 1904 and 2004. */
    assert_int_equal(parse(make("161201", "29", "02", "04", "0001")), NIK_OK);
    assert_int_equal(parse(make("161201", "29", "02", "96", "0001")), NIK_OK);
    /* 29 Feb 05 exists in neither century. */
    assert_int_equal(parse(make("161201", "29", "02", "05", "0001")), NIK_ERR_DATE);
    assert_int_equal(parse(make("161201", "69", "02", "05", "0001")), NIK_ERR_DATE);
    assert_int_equal(parse(make("161201", "29", "02", "99", "0001")), NIK_ERR_DATE);
}

static void test_nonexistent_dates(void **state)
{
    (void)state;
    assert_int_equal(parse(make("161201", "31", "04", "90", "0001")), NIK_ERR_DATE);
    assert_int_equal(parse(make("161201", "71", "04", "90", "0001")), NIK_ERR_DATE);
    assert_int_equal(parse(make("161201", "31", "02", "00", "0001")), NIK_ERR_DATE);
    assert_int_equal(parse(make("161201", "30", "02", "00", "0001")), NIK_ERR_DATE);
    assert_int_equal(parse(make("161201", "31", "11", "90", "0001")), NIK_ERR_DATE);
    assert_int_equal(parse(make("161201", "30", "11", "90", "0001")), NIK_OK);
}

static void test_serial(void **state)
{
    (void)state;
    assert_int_equal(parse(make("161201", "01", "01", "90", "0000")), NIK_ERR_SERIAL);
    assert_int_equal(parse(make("161201", "01", "01", "90", "0001")), NIK_OK);
    assert_int_equal(parse(make("161201", "01", "01", "90", "1000")), NIK_OK);
}

static void test_future(void **state)
{
    (void)state;
    nik_t nik;
    date_t before_2000 = {1999, 12, 31};
    /* Only 29 Feb 2000 exists, and it is after 1999-12-31. */
    assert_int_equal(
        nik_parse(make("161201", "29", "02", "00", "0001"), before_2000, &nik),
        NIK_ERR_FUTURE);
    date_t on_the_day = {2000, 2, 29};
    assert_int_equal(
        nik_parse(make("161201", "29", "02", "00", "0001"), on_the_day, &nik), NIK_OK);
    /* Both 1995 and 2095 are after 1990-01-01. */
    date_t early = {1990, 1, 1};
    assert_int_equal(nik_parse(make("161201", "01", "01", "95", "0001"), early, &nik),
                     NIK_ERR_FUTURE);
    assert_int_equal(nik_parse(make("161201", "01", "01", "90", "0001"), early, &nik),
                     NIK_OK);
    assert_int_equal(nik_parse(make("161201", "02", "01", "90", "0001"), early, &nik),
                     NIK_ERR_FUTURE);
    /* 2030 is ahead of today but 1930 is not: still a possible birth date. */
    assert_int_equal(parse(make("161201", "01", "01", "30", "0001")), NIK_OK);
}

static void test_check_order(void **state)
{
    (void)state;
    /* Each case breaks two rules; the earlier rule in docs/nik.md wins. */
    assert_int_equal(parse("0a"), NIK_ERR_CHARS);
    assert_int_equal(parse("061201"), NIK_ERR_LENGTH);
    assert_int_equal(parse(make("001201", "00", "00", "05", "0000")), NIK_ERR_TEMPORARY);
    assert_int_equal(parse(make("991201", "00", "00", "05", "0000")), NIK_ERR_PROVINCE);
    assert_int_equal(parse(make("161201", "00", "00", "05", "0000")), NIK_ERR_DAY);
    assert_int_equal(parse(make("161201", "29", "00", "05", "0000")), NIK_ERR_MONTH);
    assert_int_equal(parse(make("161201", "29", "02", "05", "0000")), NIK_ERR_DATE);
    date_t early = {1990, 1, 1};
    nik_t nik;
    assert_int_equal(nik_parse(make("161201", "01", "01", "95", "0000"), early, &nik),
                     NIK_ERR_FUTURE);
    assert_int_equal(parse(make("161201", "01", "01", "95", "0000")), NIK_ERR_SERIAL);
}

static void test_birth_date_two_digit_year(void **state)
{
    (void)state;
    nik_t nik;
    assert_int_equal(nik_parse(make("161201", "07", "03", "05", "0001"), today, &nik),
                     NIK_OK);
    date_t b1905 = {1905, 3, 7}, b2005 = {2005, 3, 7};
    date_t b1906 = {1906, 3, 7}, wrong_day = {2005, 3, 8}, wrong_month = {2005, 4, 7};
    assert_true(nik_matches_birth_date(&nik, b1905));
    assert_true(nik_matches_birth_date(&nik, b2005));
    assert_false(nik_matches_birth_date(&nik, b1906));
    assert_false(nik_matches_birth_date(&nik, wrong_day));
    assert_false(nik_matches_birth_date(&nik, wrong_month));
    assert_false(nik_matches_birth_date(NULL, b2005));

    /* For women the +40 is removed before comparing. */
    assert_int_equal(nik_parse(make("161201", "47", "03", "05", "0001"), today, &nik),
                     NIK_OK);
    assert_true(nik_matches_birth_date(&nik, b2005));
    date_t day47 = {2005, 3, 47};
    assert_false(nik_matches_birth_date(&nik, day47));
}

static void test_sex(void **state)
{
    (void)state;
    nik_t man, woman;
    assert_int_equal(nik_parse("1612010101900001", today, &man), NIK_OK);
    assert_int_equal(nik_parse("1612014101900001", today, &woman), NIK_OK);
    assert_true(nik_matches_sex(&man, 'M'));
    assert_false(nik_matches_sex(&man, 'F'));
    assert_true(nik_matches_sex(&woman, 'F'));
    assert_false(nik_matches_sex(&woman, 'M'));
    assert_false(nik_matches_sex(&man, 'X'));
    assert_false(nik_matches_sex(&woman, 'f'));
    assert_false(nik_matches_sex(NULL, 'M'));
}

static void test_messages(void **state)
{
    (void)state;
    assert_string_equal(nik_error_message(NIK_ERR_SERIAL), "serial 0000 is not issued");
    for (int e = NIK_OK; e <= NIK_ERR_SERIAL; e++) {
        const char *m = nik_error_message((nik_error_t)e);
        assert_non_null(m);
        assert_true(strlen(m) > 0);
        for (int f = NIK_OK; f < e; f++)
            assert_string_not_equal(m, nik_error_message((nik_error_t)f));
    }
}

static void test_mask(void **state)
{
    (void)state;
    char out[NIK_MASKED_LEN + 1];
    nik_mask("1612010101900001", out);
    assert_string_equal(out, "1612******0001");
    assert_int_equal(strlen(out), NIK_MASKED_LEN);
    nik_mask("161201010190001", out);
    assert_string_equal(out, "****");
    nik_mask("16120101019000011", out);
    assert_string_equal(out, "****");
    nik_mask("1612.0101.0190.0001", out);
    assert_string_equal(out, "****");
    nik_mask("16120101019000a1", out);
    assert_string_equal(out, "****");
    nik_mask("", out);
    assert_string_equal(out, "****");
    nik_mask(NULL, out);
    assert_string_equal(out, "****");
}

static void mask_text(const char *in, const char *want)
{
    char out[256];
    nik_mask_text(in, out, sizeof(out));
    assert_string_equal(out, want);
}

static void test_mask_text(void **state)
{
    (void)state;
    mask_text("nik=1612010101900001 ok", "nik=1612******0001 ok");
    mask_text("1612010101900001", "1612******0001");
    mask_text("a 1612010101900001,7302055512859999.", "a 1612******0001,7302******9999.");
    /* Twelve digits or more is enough: a truncated NIK is still personal. */
    mask_text("x123456789012y", "x1234******9012y");
    mask_text("x12345678901y", "x12345678901y");
    mask_text("16120101019000011234", "1612******1234");
    /* However it was typed. */
    mask_text("nik 1612.0101-0190 0001 end", "nik 1612******0001 end");
    mask_text("nik 1612.0101-0190 0001. end", "nik 1612******0001. end");
    /* Short numbers, dates and amounts pass unchanged. */
    mask_text("2026-11-24 applicants=743 rp=16.800",
              "2026-11-24 applicants=743 rp=16.800");
    mask_text("id 3f2b8c1e-9d4a-4e7b-b6c2-0a1d5e8f9c3b",
              "id 3f2b8c1e-9d4a-4e7b-b6c2-0a1d5e8f9c3b");
    /* A UUID whose last groups are all digits is an id, not a NIK: masking
     * it would break tracing by submission id. */
    mask_text("3f2b8c1e-9d4a-4761-8690-123456789012",
              "3f2b8c1e-9d4a-4761-8690-123456789012");
    mask_text("{\"id\":\"a1b2c3d4-1234-5678-9012-345678901234\"}",
              "{\"id\":\"a1b2c3d4-1234-5678-9012-345678901234\"}");
    /* ... but a NIK beside one is still masked, and a UUID-shaped tail of a
     * longer token is not an id. */
    mask_text("3f2b8c1e-9d4a-4761-8690-123456789012 1612010101900001",
              "3f2b8c1e-9d4a-4761-8690-123456789012 1612******0001");
    mask_text("x3f2b8c1e-9d4a-4761-8690-123456789012", "x3f2b8c1e-9d4a-4761******9012");
    /* ... nor a UUID-shaped head of one: its last group and the digits after
     * it would be a NIK left whole (tests/fuzz/fuzz_nik found it). */
    mask_text("3f2b8c1e-9d4a-4761-8690-1234567890121612 x",
              "3f2b8c1e-9d4a-4761******1612 x");
    mask_text("3f2b8c1e-9d4a-4761-8690-123456789012-1612",
              "3f2b8c1e-9d4a-4761******1612");
    mask_text("3f2b8c1e-9d4a-4761-8690-123456789012.",
              "3f2b8c1e-9d4a-4761-8690-123456789012.");
    /* The price of catching separated NIKs: two dates joined by one space
     * look like one (docs/nik.md). Log such values under separate keys. */
    mask_text("2025-07-01 2025-12-31", "2025******1231");
    mask_text("2025-07-01, 2025-12-31", "2025-07-01, 2025-12-31");
    mask_text("", "");
    mask_text(NULL, "");
}

/* Issue 15: nik_parse accepts any number of spaces, dots and dashes anywhere
 * in a NIK, so every such form must be masked whole. Each form is first
 * checked to be one nik_parse accepts. */
static void mask_parsed_form(const char *nik_form, const char *want_masked)
{
    nik_t nik;
    assert_int_equal(nik_parse(nik_form, today, &nik), NIK_OK);
    char in[128], want[128];
    snprintf(in, sizeof in, "nik=[%s] ok", nik_form);
    snprintf(want, sizeof want, "nik=[%s] ok", want_masked);
    mask_text(in, want);
}

static void test_mask_text_every_separator_form(void **state)
{
    (void)state;
    mask_parsed_form("1604  0215  0590  0002", "1604******0002");
    mask_parsed_form("1604..0215..0590..0002", "1604******0002");
    mask_parsed_form("1604--0215--0590--0002", "1604******0002");
    mask_parsed_form("1604 - 0215 - 0590 - 0002", "1604******0002");
    mask_parsed_form("1604. 0215 .0590-.-0002", "1604******0002");
    mask_parsed_form("16.04.02.150590.0002", "1604******0002");
    mask_parsed_form("1 6 0 4 0 2 1 5 0 5 9 0 0 0 0 2", "1604******0002");
    mask_parsed_form("1..6..0..4..0..2..1..5..0..5..9..0..0..0..0..2", "1604******0002");
    mask_parsed_form("1604          0215          0590          0002", "1604******0002");
    /* Leading and trailing separators belong to nik_parse's form but not to
     * the digits: they stay, the digits go. */
    mask_parsed_form("  1604  0215  0590  0002  ", "  1604******0002  ");
    mask_parsed_form("..1604..0215..0590..0002..", "..1604******0002..");
}

/* Every arrangement of separator runs between the 16 digits: a fixed
 * pseudo-random sample, so a failure is reproducible. */
static void test_mask_text_random_separator_runs(void **state)
{
    (void)state;
    static const char digits[] = "1604021505900002";
    static const char seps[] = " .-";
    unsigned seed = 15;
    for (int round = 0; round < 2000; round++) {
        char form[16 * 6 + 1];
        size_t n = 0;
        for (int d = 0; d < 16; d++) {
            form[n++] = digits[d];
            seed = seed * 1103515245u + 12345u;
            int run = d < 15 ? (int)((seed >> 16) % 5) : 0;
            for (int k = 0; k < run; k++) {
                seed = seed * 1103515245u + 12345u;
                form[n++] = seps[(seed >> 16) % 3];
            }
        }
        form[n] = '\0';
        mask_parsed_form(form, "1604******0002");
    }
}

static void test_mask_text_copy(void **state)
{
    (void)state;
    /* the worst case for the copy's size: runs of 12 digits, each 14 masked */
    const char *in = "123456789012,123456789012 ref 1612010101900001";
    char *m = nik_mask_text_copy(in, false);
    assert_non_null(m);
    assert_string_equal(m, "1234******9012,1234******9012 ref 1612******0001");
    free(m);
    char *u = nik_mask_text_copy(in, true);
    assert_non_null(u);
    assert_string_equal(u, in);
    free(u);
}

static void test_mask_text_truncates_safely(void **state)
{
    (void)state;
    char out[8];
    memset(out, 'x', sizeof(out));
    nik_mask_text("ab1612010101900001", out, sizeof(out));
    assert_string_equal(out, "ab1612*");

    char tiny[1] = {'x'};
    nik_mask_text("1612010101900001", tiny, sizeof(tiny));
    assert_string_equal(tiny, "");

    char exact[15];
    nik_mask_text("1612010101900001", exact, sizeof(exact));
    assert_string_equal(exact, "1612******0001");

    char short_buf[12];
    nik_mask_text("hello world, long text", short_buf, sizeof(short_buf));
    assert_string_equal(short_buf, "hello world");

    /* Must not write at all with no room. */
    char untouched = 'x';
    nik_mask_text("1612010101900001", &untouched, 0);
    assert_int_equal(untouched, 'x');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_fills_fields),
        cmocka_unit_test(test_separators),
        cmocka_unit_test(test_length),
        cmocka_unit_test(test_chars),
        cmocka_unit_test(test_temporary),
        cmocka_unit_test(test_province),
        cmocka_unit_test(test_province_list_matches_seed),
        cmocka_unit_test(test_day),
        cmocka_unit_test(test_day_men_and_women),
        cmocka_unit_test(test_month),
        cmocka_unit_test(test_leap_day),
        cmocka_unit_test(test_nonexistent_dates),
        cmocka_unit_test(test_serial),
        cmocka_unit_test(test_future),
        cmocka_unit_test(test_check_order),
        cmocka_unit_test(test_birth_date_two_digit_year),
        cmocka_unit_test(test_sex),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_mask),
        cmocka_unit_test(test_mask_text),
        cmocka_unit_test(test_mask_text_truncates_safely),
        cmocka_unit_test(test_mask_text_copy),
        cmocka_unit_test(test_mask_text_every_separator_form),
        cmocka_unit_test(test_mask_text_random_separator_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
