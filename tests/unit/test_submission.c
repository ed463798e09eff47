/* test_submission: the JSON submission body -> submission_t: malformed bodies
 * (400), field types and limits (422, every problem listed with its index),
 * and values kept exactly as sent. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "submission.h"

#define GOOD_APPLICANT                                                                   \
    "{\"nik\":\"1612014501900001\",\"name\":\"Siti "                                     \
    "Aminah\",\"birth_date\":\"1990-01-05\","                                            \
    "\"sex\":\"F\",\"occupation\":\"PETANI/PEKEBUN\"}"
#define WRAP(applicants)                                                                 \
    "{\"program_code\":\"PALI-ADD-2025\",\"village_code\":\"16.12.01.2001\","            \
    "\"applicants\":[" applicants "]}"

typedef struct {
    submission_t *sub;
    cJSON *errors;
    submission_result_t result;
} parsed_t;

static parsed_t parse_n(const char *body, size_t len)
{
    parsed_t p = {submission_new(), cJSON_CreateArray(), SUBMISSION_OK};
    p.result = submission_from_json(p.sub, body, len, p.errors);
    return p;
}

static parsed_t parse(const char *body)
{
    return parse_n(body, strlen(body));
}

static void done(parsed_t *p)
{
    submission_destroy(&p->sub);
    cJSON_Delete(p->errors);
}

/* The error for (field, index), or NULL; index -1 means "no index". */
static const cJSON *find_error(const cJSON *errors, const char *field, int index)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, errors)
    {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(e, "field");
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(e, "index");
        if (strcmp(f->valuestring, field) != 0)
            continue;
        if ((index < 0 && !i) || (i && i->valueint == index))
            return e;
    }
    return NULL;
}

static void assert_error(const cJSON *errors, const char *field, int index,
                         const char *message)
{
    const cJSON *e = find_error(errors, field, index);
    if (!e) {
        char *all = cJSON_PrintUnformatted(errors);
        fail_msg("no error for %s[%d] in %s", field, index, all);
    }
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "message")->valuestring,
                        message);
}

static const char *applicant_string(const submission_t *s, int i, const char *key)
{
    const cJSON *v =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(s->applicants, i), key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_valid(void **state)
{
    (void)state;
    parsed_t p = parse(WRAP(GOOD_APPLICANT));
    assert_int_equal(p.result, SUBMISSION_OK);
    assert_int_equal(cJSON_GetArraySize(p.errors), 0);
    assert_string_equal(p.sub->program_code, "PALI-ADD-2025");
    assert_string_equal(p.sub->village_code, "16.12.01.2001");
    assert_null(p.sub->reference);
    assert_int_equal(p.sub->count, 1);
    char *json = cJSON_PrintUnformatted(p.sub->applicants);
    assert_string_equal(json, "[{\"monthly_income\":null,\"idx\":0,"
                              "\"nik\":\"1612014501900001\",\"name\":\"Siti Aminah\","
                              "\"birth_date\":\"1990-01-05\",\"sex\":\"F\","
                              "\"occupation\":\"PETANI/PEKEBUN\",\"address\":null,"
                              "\"phone\":null,\"poverty_ref\":null}]");
    free(json);
    done(&p);
}

static void test_optional_fields(void **state)
{
    (void)state;
    parsed_t p =
        parse("{\"program_code\":\"P\",\"village_code\":\"16.12.01.2001\","
              "\"reference\":\"Musdes 12/2025\",\"applicants\":[{\"nik\":\"1\","
              "\"name\":\"A\",\"birth_date\":\"2000-02-29\",\"sex\":\"M\","
              "\"occupation\":12,\"address\":\"Jl. Merdeka 1\",\"phone\":"
              "\"0812\",\"monthly_income\":1500000,\"poverty_ref\":\"DTKS-9\"}]}");
    assert_int_equal(p.result, SUBMISSION_OK);
    assert_string_equal(p.sub->reference, "Musdes 12/2025");
    assert_string_equal(applicant_string(p.sub, 0, "occupation"), "12");
    assert_string_equal(applicant_string(p.sub, 0, "address"), "Jl. Merdeka 1");
    const cJSON *income = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetArrayItem(p.sub->applicants, 0), "monthly_income");
    /* Written raw, so the integer reaches PostgreSQL without a double. */
    assert_true(cJSON_IsRaw(income));
    assert_string_equal(income->valuestring, "1500000");
    done(&p);
}

static void test_malformed(void **state)
{
    (void)state;
    const char *bodies[] = {"",         "{",  "not json", "[]",
                            "\"text\"", "42", "null",     "{\"a\":"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        parsed_t p = parse(bodies[i]);
        assert_int_equal(p.result, SUBMISSION_MALFORMED);
        assert_int_equal(cJSON_GetArraySize(p.errors), 1);
        assert_non_null(find_error(p.errors, "body", -1));
        done(&p);
    }
}

/* Bytes after the JSON object make the body malformed; trailing white
 * space does not. */
static void test_trailing_bytes(void **state)
{
    (void)state;
    const char *bodies[] = {"{\"a\":1}{}", WRAP(GOOD_APPLICANT) ",",
                            WRAP(GOOD_APPLICANT) "x"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        parsed_t p = parse(bodies[i]);
        assert_int_equal(p.result, SUBMISSION_MALFORMED);
        done(&p);
    }
}

static void test_invalid_utf8_and_nul(void **state)
{
    (void)state;
    const char *names[] = {"\xff",         "\xc3",         "\xc0\xaf",
                           "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                           "Sit\xe9"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char body[512];
        snprintf(body, sizeof body,
                 WRAP("{\"nik\":\"1\",\"name\":\"%s\",\"birth_date\":\"1990-01-01\","
                      "\"sex\":\"M\",\"occupation\":\"x\"}"),
                 names[i]);
        parsed_t p = parse(body);
        assert_int_equal(p.result, SUBMISSION_MALFORMED);
        assert_error(p.errors, "body", -1, "must be UTF-8 text without NUL bytes");
        done(&p);
    }
    const char nul[] = WRAP(GOOD_APPLICANT);
    char copy[sizeof nul];
    memcpy(copy, nul, sizeof nul);
    copy[20] = '\0';
    parsed_t p = parse_n(copy, sizeof nul - 1);
    assert_int_equal(p.result, SUBMISSION_MALFORMED);
    assert_error(p.errors, "body", -1, "must be UTF-8 text without NUL bytes");
    done(&p);
}

static void test_text_ok(void **state)
{
    (void)state;
    assert_true(submission_text_ok("", 0));
    assert_true(submission_text_ok("Ni Luh Putu Ayu", 15));
    assert_true(submission_text_ok("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
    assert_false(submission_text_ok("a\0b", 3));
    assert_false(submission_text_ok("\x80", 1));
    assert_false(submission_text_ok("\xe2\x82", 2));         /* cut short */
    assert_false(submission_text_ok("\xf8\x88\x80\x80", 4)); /* 5-byte lead */
}

static void test_top_level_fields(void **state)
{
    (void)state;
    parsed_t p = parse("{\"program_code\":7,\"village_code\":\"16.12.01.20011\","
                       "\"reference\":[],\"applicants\":{}}");
    assert_int_equal(p.result, SUBMISSION_INVALID);
    assert_error(p.errors, "program_code", -1, "must be a string");
    assert_error(p.errors, "village_code", -1, "must be at most 13 bytes");
    assert_error(p.errors, "reference", -1, "must be a string");
    assert_error(p.errors, "applicants", -1, "must be an array");
    done(&p);

    p = parse("{}");
    assert_int_equal(p.result, SUBMISSION_INVALID);
    assert_error(p.errors, "program_code", -1, "is required");
    assert_error(p.errors, "village_code", -1, "is required");
    assert_error(p.errors, "applicants", -1, "is required");
    assert_null(find_error(p.errors, "reference", -1));
    done(&p);

    p = parse("{\"program_code\":\"\",\"village_code\":null,\"applicants\":[]}");
    assert_error(p.errors, "program_code", -1, "must not be empty");
    assert_error(p.errors, "village_code", -1, "is required");
    assert_error(p.errors, "applicants", -1, "must list at least one applicant");
    done(&p);
}

static void test_field_types(void **state)
{
    (void)state;
    parsed_t p = parse(WRAP("{\"nik\":1612014501900001,\"name\":null,\"birth_date\":"
                            "\"1990-02-30\",\"sex\":\"m\",\"occupation\":1.5,"
                            "\"address\":5,\"phone\":true,\"monthly_income\":\"1000000\","
                            "\"poverty_ref\":{}},"
                            "7,"
                            "{\"name\":\"\",\"birth_date\":\"05-01-1990\",\"sex\":\"MF\","
                            "\"occupation\":0,\"monthly_income\":-1},"
                            "{\"nik\":\"1\",\"name\":\"B\",\"birth_date\":\"1990-01-01\","
                            "\"sex\":\"M\",\"occupation\":[],\"monthly_income\":10.5}"));
    assert_int_equal(p.result, SUBMISSION_INVALID);
    assert_error(p.errors, "nik", 0, "must be a string");
    assert_error(p.errors, "name", 0, "is required");
    assert_error(p.errors, "birth_date", 0, "must be an existing date as YYYY-MM-DD");
    assert_error(p.errors, "sex", 0, "must be \"M\" or \"F\"");
    assert_error(p.errors, "occupation", 0, "a numeric occupation must be a whole code");
    assert_error(p.errors, "address", 0, "must be a string");
    assert_error(p.errors, "phone", 0, "must be a string");
    assert_error(p.errors, "monthly_income", 0,
                 "must be a whole number of rupiah from 0 to 1000000000000");
    assert_error(p.errors, "poverty_ref", 0, "must be a string");
    assert_error(p.errors, "applicants", 1, "must be an object");
    assert_error(p.errors, "nik", 2, "is required");
    assert_error(p.errors, "name", 2, "must not be empty");
    assert_error(p.errors, "birth_date", 2, "must be an existing date as YYYY-MM-DD");
    assert_error(p.errors, "sex", 2, "must be at most 1 bytes");
    assert_error(p.errors, "occupation", 2, "a numeric occupation must be a whole code");
    assert_error(p.errors, "monthly_income", 2,
                 "must be a whole number of rupiah from 0 to 1000000000000");
    assert_error(p.errors, "occupation", 3, "must be a string");
    assert_error(p.errors, "monthly_income", 3,
                 "must be a whole number of rupiah from 0 to 1000000000000");
    assert_int_equal(cJSON_GetArraySize(p.errors), 18);
    done(&p);
}

static void test_income_bounds(void **state)
{
    (void)state;
    parsed_t p = parse(WRAP("{\"nik\":\"1\",\"name\":\"A\",\"birth_date\":\"1990-01-01\","
                            "\"sex\":\"M\",\"occupation\":\"x\",\"monthly_income\":0},"
                            "{\"nik\":\"1\",\"name\":\"A\",\"birth_date\":\"1990-01-01\","
                            "\"sex\":\"M\",\"occupation\":\"x\",\"monthly_income\":"
                            "1000000000000}"));
    assert_int_equal(p.result, SUBMISSION_OK);
    done(&p);
    p = parse(
        WRAP("{\"nik\":\"1\",\"name\":\"A\",\"birth_date\":\"1990-01-01\","
             "\"sex\":\"M\",\"occupation\":\"x\",\"monthly_income\":1000000000001}"));
    assert_int_equal(p.result, SUBMISSION_INVALID);
    done(&p);
}

/* A string of `n` bytes made of `unit` repeated (unit may be multi-byte). */
static char *repeat(const char *unit, size_t n)
{
    size_t u = strlen(unit);
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i += u)
        memcpy(s + i, unit, u);
    s[n] = '\0';
    return s;
}

static parsed_t parse_with_field(const char *key, const char *value)
{
    cJSON *root = cJSON_Parse(WRAP(GOOD_APPLICANT));
    cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "applicants"), 0);
    cJSON_DeleteItemFromObject(a, key);
    cJSON_AddStringToObject(a, key, value);
    char *body = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    parsed_t p = parse(body);
    free(body);
    return p;
}

static void test_length_limits(void **state)
{
    (void)state;
    struct {
        const char *key;
        size_t max;
    } limits[] = {{"nik", SUBMISSION_MAX_NIK},
                  {"name", SUBMISSION_MAX_NAME},
                  {"occupation", SUBMISSION_MAX_OCCUPATION},
                  {"address", SUBMISSION_MAX_ADDRESS},
                  {"phone", SUBMISSION_MAX_PHONE},
                  {"poverty_ref", SUBMISSION_MAX_POVERTY_REF}};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        char *ok = repeat("a", limits[i].max);
        parsed_t p = parse_with_field(limits[i].key, ok);
        assert_int_equal(p.result, SUBMISSION_OK);
        assert_string_equal(applicant_string(p.sub, 0, limits[i].key), ok);
        done(&p);
        free(ok);

        char *long_ = repeat("a", limits[i].max + 1);
        p = parse_with_field(limits[i].key, long_);
        assert_int_equal(p.result, SUBMISSION_INVALID);
        char msg[64];
        snprintf(msg, sizeof msg, "must be at most %zu bytes", limits[i].max);
        assert_error(p.errors, limits[i].key, 0, msg);
        done(&p);
        free(long_);
    }
    /* Bytes, not characters: 101 two-byte letters are 202 bytes. */
    char *e_acute = repeat("\xc3\xa9", 202);
    parsed_t p = parse_with_field("name", e_acute);
    assert_error(p.errors, "name", 0, "must be at most 200 bytes");
    done(&p);
    free(e_acute);
}

static char *many_applicants(int n)
{
    size_t one = strlen(GOOD_APPLICANT) + 1;
    char *body = malloc(one * (size_t)n + 256);
    char *at = body + sprintf(body, "{\"program_code\":\"P\",\"village_code\":"
                                    "\"16.12.01.2001\",\"applicants\":[");
    for (int i = 0; i < n; i++)
        at += sprintf(at, "%s%s", i ? "," : "", GOOD_APPLICANT);
    strcpy(at, "]}");
    return body;
}

static void test_applicant_cap(void **state)
{
    (void)state;
    char *body = many_applicants(SUBMISSION_MAX_APPLICANTS);
    parsed_t p = parse(body);
    assert_int_equal(p.result, SUBMISSION_OK);
    assert_int_equal(p.sub->count, SUBMISSION_MAX_APPLICANTS);
    done(&p);
    free(body);

    body = many_applicants(SUBMISSION_MAX_APPLICANTS + 1);
    p = parse(body);
    assert_int_equal(p.result, SUBMISSION_INVALID);
    assert_int_equal(cJSON_GetArraySize(p.errors), 1);
    assert_error(p.errors, "applicants", -1, "must list at most 10000 applicants");
    done(&p);
    free(body);
}

static void test_kept_exactly(void **state)
{
    (void)state;
    parsed_t p =
        parse(WRAP("{\"nik\":\"1\",\"name\":\"Robert'); DROP TABLE applicants;--\","
                   "\"birth_date\":\"1990-01-01\",\"sex\":\"M\",\"occupation\":\"x\","
                   "\"address\":\"Jl. \\\"Mawar\\\"; RT 01 OR 1=1\"},"
                   "{\"nik\":\" 1612 \",\"name\":\"  I Gusti Ngurah \\\\ Rai \","
                   "\"birth_date\":\"1990-01-01\",\"sex\":\"M\",\"occupation\":"
                   "\"SELECT * FROM x\"}"));
    assert_int_equal(p.result, SUBMISSION_OK);
    assert_string_equal(applicant_string(p.sub, 0, "name"),
                        "Robert'); DROP TABLE applicants;--");
    assert_string_equal(applicant_string(p.sub, 0, "address"),
                        "Jl. \"Mawar\"; RT 01 OR 1=1");
    assert_string_equal(applicant_string(p.sub, 1, "nik"), " 1612 ");
    assert_string_equal(applicant_string(p.sub, 1, "name"), "  I Gusti Ngurah \\ Rai ");
    assert_string_equal(applicant_string(p.sub, 1, "occupation"), "SELECT * FROM x");
    done(&p);
}

static void test_check_applicant(void **state)
{
    (void)state;
    cJSON *a = cJSON_Parse(GOOD_APPLICANT);
    cJSON *errors = cJSON_CreateArray();
    cJSON *list = cJSON_CreateArray();
    submission_check_applicant(a, 4, errors, list);
    assert_int_equal(cJSON_GetArraySize(errors), 0);
    assert_int_equal(cJSON_GetArraySize(list), 1);
    parsed_t p = parse(WRAP(GOOD_APPLICANT));
    cJSON *idx = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, 0), "idx");
    assert_int_equal(idx->valueint, 4);
    cJSON_SetNumberValue(idx, 0);
    assert_true(cJSON_Compare(list, p.sub->applicants, true));
    done(&p);

    cJSON_DeleteItemFromObject(a, "nik");
    submission_check_applicant(a, 2, errors, list);
    assert_int_equal(cJSON_GetArraySize(list), 1);
    assert_error(errors, "nik", 2, "is required");
    cJSON_Delete(a);
    cJSON_Delete(errors);
    cJSON_Delete(list);
}

static void test_set_target(void **state)
{
    (void)state;
    submission_t *s = submission_new();
    cJSON *errors = cJSON_CreateArray();
    submission_set_target(s, "PALI-ADD-2025", "16.12.01.2001", NULL, errors);
    assert_int_equal(cJSON_GetArraySize(errors), 0);
    assert_string_equal(s->program_code, "PALI-ADD-2025");
    assert_string_equal(s->village_code, "16.12.01.2001");
    assert_null(s->reference);
    submission_destroy(&s);
    assert_null(s);

    s = submission_new();
    char *long_ref = repeat("r", SUBMISSION_MAX_REFERENCE + 1);
    submission_set_target(s, "", NULL, long_ref, errors);
    assert_error(errors, "program_code", -1, "must not be empty");
    assert_error(errors, "village_code", -1, "is required");
    assert_error(errors, "reference", -1, "must be at most 200 bytes");
    assert_null(s->program_code);
    free(long_ref);
    submission_destroy(&s);
    cJSON_Delete(errors);
    submission_destroy(NULL);
}

int main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_optional_fields),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_invalid_utf8_and_nul),
        cmocka_unit_test(test_text_ok),
        cmocka_unit_test(test_top_level_fields),
        cmocka_unit_test(test_field_types),
        cmocka_unit_test(test_income_bounds),
        cmocka_unit_test(test_length_limits),
        cmocka_unit_test(test_applicant_cap),
        cmocka_unit_test(test_kept_exactly),
        cmocka_unit_test(test_check_applicant),
        cmocka_unit_test(test_set_target),
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
