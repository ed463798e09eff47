/* test_fields: the shared error list (counted in O(1), at most
 * FIELDS_MAX_ERRORS listed and then one entry with the total), moving one
 * list into another, which regencies a key sees, and UTF-8 text. Also that a
 * submission wrong everywhere, as JSON and as CSV, is answered with a capped
 * list that still counts every problem. How fast is a figure of
 * bench/fields (bench_fields), not a bound here: no timings in tests. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "csvbody.h"
#include "fields.h"
#include "submission.h"

static const cJSON *last_of(const cJSON *list)
{
    return list->child ? list->child->prev : NULL;
}

static int total_of(const cJSON *entry)
{
    return cJSON_GetObjectItem(entry, "total")->valueint;
}

static void add_n(cJSON *errors, int n)
{
    for (int i = 0; i < n; i++)
        fields_add_error(errors, "f", "m");
}

static void test_count_and_cap(void **state)
{
    (void)state;
    cJSON *errors = cJSON_CreateArray();
    assert_int_equal(fields_error_count(errors), 0);
    add_n(errors, FIELDS_MAX_ERRORS);
    assert_int_equal(fields_error_count(errors), FIELDS_MAX_ERRORS);
    assert_int_equal(cJSON_GetArraySize(errors), FIELDS_MAX_ERRORS);
    assert_false(fields_is_truncation(last_of(errors)));

    add_n(errors, 1);
    assert_int_equal(fields_error_count(errors), FIELDS_MAX_ERRORS + 1);
    assert_int_equal(cJSON_GetArraySize(errors), FIELDS_MAX_ERRORS + 1);
    const cJSON *last = last_of(errors);
    assert_true(fields_is_truncation(last));
    assert_string_equal(cJSON_GetObjectItem(last, "field")->valuestring, "details");
    assert_int_equal(total_of(last), FIELDS_MAX_ERRORS + 1);

    add_n(errors, 89000);
    assert_int_equal(cJSON_GetArraySize(errors), FIELDS_MAX_ERRORS + 1);
    assert_int_equal(total_of(last_of(errors)), 90001);
    assert_int_equal(fields_error_count(errors), 90001);
    /* the count is not printed: the list reads as a plain array */
    char *text = cJSON_PrintUnformatted(errors);
    assert_int_equal(text[0], '[');
    free(text);
    cJSON_Delete(errors);
}

static void test_move(void **state)
{
    (void)state;
    /* a short list into an empty one */
    cJSON *from = cJSON_CreateArray(), *to = cJSON_CreateArray();
    add_n(from, 3);
    fields_move_errors(from, to);
    assert_int_equal(fields_error_count(to), 3);
    assert_int_equal(cJSON_GetArraySize(to), 3);
    assert_int_equal(fields_error_count(from), 0);
    assert_null(from->child);

    /* a full list after a few: still 1000 listed, the total is the sum */
    add_n(from, 5000);
    fields_move_errors(from, to);
    assert_int_equal(fields_error_count(to), 5003);
    assert_int_equal(cJSON_GetArraySize(to), FIELDS_MAX_ERRORS + 1);
    assert_int_equal(total_of(last_of(to)), 5003);
    assert_false(fields_is_truncation(to->child));

    /* into a list already full */
    add_n(from, 1200);
    fields_move_errors(from, to);
    assert_int_equal(cJSON_GetArraySize(to), FIELDS_MAX_ERRORS + 1);
    assert_int_equal(total_of(last_of(to)), 6203);
    cJSON_Delete(from);
    cJSON_Delete(to);
}

static void test_scope_sees_regency(void **state)
{
    (void)state;
    scope_t admin, pali, village, mura;
    assert_true(scope_parse("admin", &admin));
    assert_true(scope_parse("regency:16.12", &pali));
    assert_true(scope_parse("village:16.12.01.2001", &village));
    assert_true(scope_parse("regency:16.05", &mura));
    assert_true(fields_scope_sees_regency(&admin, "16.12"));
    assert_true(fields_scope_sees_regency(&admin, NULL)); /* even an unknown one */
    assert_true(fields_scope_sees_regency(&pali, "16.12"));
    assert_false(fields_scope_sees_regency(&pali, "16.05"));
    assert_false(fields_scope_sees_regency(&pali, NULL));
    assert_true(fields_scope_sees_regency(&village, "16.12"));
    assert_false(fields_scope_sees_regency(&village, "16.05"));
    assert_false(fields_scope_sees_regency(&mura, "16.12"));
}

static void test_text_ok(void **state)
{
    (void)state;
    assert_true(fields_text_ok("", 0));
    assert_true(fields_text_ok("Ni Luh \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 16));
    assert_false(fields_text_ok("a\0b", 3));
    assert_false(fields_text_ok("\xc0\xaf", 2));     /* overlong */
    assert_false(fields_text_ok("\xed\xa0\x80", 3)); /* surrogate */
    assert_false(fields_text_ok("\xf4\x90\x80\x80", 4));
    assert_true(submission_text_ok("Siti", 4));
}

#define ALL_WRONG                                                                        \
    "{\"nik\":1,\"name\":2,\"birth_date\":\"1990-02-30\",\"sex\":\"X\","                 \
    "\"occupation\":2.5,\"address\":3,\"phone\":4,\"monthly_income\":-1,"                \
    "\"poverty_ref\":5}"

/* 10,000 applicants with nine problems each: 1,000 listed, 90,000 counted. */
static void test_json_wrong_everywhere(void **state)
{
    (void)state;
    size_t n = 10000, len = strlen(ALL_WRONG);
    char *body = malloc(n * (len + 1) + 100);
    char *p = body + sprintf(body, "{\"program_code\":\"P\",\"village_code\":"
                                   "\"16.12.01.2001\",\"applicants\":[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s" ALL_WRONG, i ? "," : "");
    p += sprintf(p, "]}");
    submission_t *sub = submission_new();
    cJSON *errors = cJSON_CreateArray();
    assert_int_equal(submission_from_json(sub, body, (size_t)(p - body), errors),
                     SUBMISSION_INVALID);
    assert_int_equal(cJSON_GetArraySize(errors), FIELDS_MAX_ERRORS + 1);
    assert_int_equal(total_of(last_of(errors)), 90000);
    assert_int_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(errors, 999), "index")->valueint,
        111); /* 1,000 = 111 applicants of 9, and one of the 112th */
    cJSON_Delete(errors);
    submission_destroy(&sub);
    free(body);
}

static void test_csv_wrong_everywhere(void **state)
{
    (void)state;
    const char *header = "nik,name,birth_date,sex,occupation,monthly_income\n";
    const char *row = "1,2,1990-02-30,X,,-1\n";
    size_t n = 10000;
    char *body = malloc(strlen(header) + n * strlen(row) + 1);
    char *p = body + sprintf(body, "%s", header);
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s", row);
    submission_t *sub = submission_new();
    cJSON *errors = cJSON_CreateArray();
    assert_int_equal(
        csvbody_parse(sub, body, (size_t)(p - body), "P", "16.12.01.2001", NULL, errors),
        SUBMISSION_INVALID);
    assert_int_equal(cJSON_GetArraySize(errors), FIELDS_MAX_ERRORS + 1);
    const cJSON *last = last_of(errors);
    assert_int_equal(total_of(last), 40000);
    assert_null(cJSON_GetObjectItem(last, "line")); /* counts rows, is none */
    assert_int_equal(cJSON_GetObjectItem(errors->child, "line")->valueint, 2);
    cJSON_Delete(errors);
    submission_destroy(&sub);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_and_cap),
        cmocka_unit_test(test_move),
        cmocka_unit_test(test_scope_sees_regency),
        cmocka_unit_test(test_text_ok),
        cmocka_unit_test(test_json_wrong_everywhere),
        cmocka_unit_test(test_csv_wrong_everywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
