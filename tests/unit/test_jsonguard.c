/* test_jsonguard: the look at a JSON body's raw bytes before it is parsed:
 * values counted exactly (member names not), nesting, the top level, NULs
 * by byte or by \u0000 escape (but not an escaped backslash before "u0000"),
 * and that the submission and its 400 go through it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jsonguard.h"
#include "submission.h"

static jsonguard_result_t scan(const char *s, size_t max_values, int max_depth)
{
    return jsonguard_scan(s, strlen(s), max_values, max_depth);
}

/* The smallest max_values the text passes with: its number of values. */
static size_t values_in(const char *s)
{
    size_t n = 0;
    while (scan(s, n, 64) == JSONGUARD_TOO_MANY)
        n++;
    return n;
}

static void test_counts_values_not_names(void **state)
{
    (void)state;
    assert_int_equal(values_in("{}"), 1);
    assert_int_equal(values_in("{\"a\":1}"), 2);
    assert_int_equal(values_in("{\"a\":\"b\",\"c\":[1,2,3]}"), 6);
    assert_int_equal(values_in("{\"a\":[\"x\",\"y\"],\"b\":{\"c\":null}}"), 6);
    assert_int_equal(values_in("{\"a\":[true,false,null,-1.5e+10]}"), 6);
    /* brackets, commas, colons and quotes inside strings are text */
    assert_int_equal(values_in("{\"[{,:\":\"]},\\\"{[\"}"), 2);
    assert_int_equal(values_in("{ \"a\" : [ 1 , 2 ] , \"b\" : { } }"), 5);
    /* a string in an array is a value, not a name */
    assert_int_equal(values_in("{\"a\":[\"k\",{\"n\":\"v\"}]}"), 5);
}

static void test_limits(void **state)
{
    (void)state;
    assert_int_equal(scan("{\"a\":[1,2,3]}", 5, 16), JSONGUARD_OK);
    assert_int_equal(scan("{\"a\":[1,2,3]}", 4, 16), JSONGUARD_TOO_MANY);
    assert_int_equal(scan("{\"a\":[[[1]]]}", 100, 4), JSONGUARD_OK);
    assert_int_equal(scan("{\"a\":[[[[1]]]]}", 100, 4), JSONGUARD_TOO_DEEP);
    /* siblings do not add up: depth is nesting, not count */
    assert_int_equal(scan("{\"a\":[[1],[2],[3]],\"b\":{\"c\":{}}}", 100, 3),
                     JSONGUARD_OK);
    /* the scan stops at the first refusal: a huge body is not read to its end */
    size_t n = 1u << 20;
    char *big = malloc(n + 1);
    memset(big, '[', n);
    big[0] = '{';
    big[n] = '\0';
    assert_int_equal(jsonguard_scan(big, n, JSONGUARD_MAX_VALUES, JSONGUARD_MAX_DEPTH),
                     JSONGUARD_TOO_DEEP);
    for (size_t i = 1; i < n; i++)
        big[i] = i % 2 ? '0' : ',';
    memcpy(big, "{\"a\":[", 6);
    assert_int_equal(jsonguard_scan(big, n, JSONGUARD_MAX_VALUES, JSONGUARD_MAX_DEPTH),
                     JSONGUARD_TOO_MANY);
    free(big);
}

static void test_top_level_must_be_an_object(void **state)
{
    (void)state;
    const char *not_objects[] = {"", "  ", "[]", "[0,0,0]", "\"{\"", "42", "null", "x{}"};
    for (size_t i = 0; i < sizeof not_objects / sizeof not_objects[0]; i++)
        assert_int_equal(scan(not_objects[i], 100, 16), JSONGUARD_NOT_OBJECT);
    assert_int_equal(scan(" \r\n\t{}", 100, 16), JSONGUARD_OK);
}

static void test_nul(void **state)
{
    (void)state;
    assert_int_equal(scan("{\"a\":\"x\\u0000y\"}", 100, 16), JSONGUARD_NUL_ESCAPE);
    assert_int_equal(scan("{\"a\\u0000\":1}", 100, 16), JSONGUARD_NUL_ESCAPE);
    assert_int_equal(scan("{\"a\":[\"\\u0000\"]}", 100, 16), JSONGUARD_NUL_ESCAPE);
    /* after an escaped quote or an escaped backslash, still an escape */
    assert_int_equal(scan("{\"a\":\"\\\"\\u0000\"}", 100, 16), JSONGUARD_NUL_ESCAPE);
    assert_int_equal(scan("{\"a\":\"\\\\\\u0000\"}", 100, 16), JSONGUARD_NUL_ESCAPE);
    /* an escaped backslash then the text u0000; other escapes */
    assert_int_equal(scan("{\"a\":\"\\\\u0000\"}", 100, 16), JSONGUARD_OK);
    assert_int_equal(scan("{\"a\":\"\\u0001\\u00e9\\u1000\\n\"}", 100, 16), JSONGUARD_OK);
    assert_int_equal(scan("{\"a\":\"\\u000\"}", 100, 16), JSONGUARD_OK); /* parser's */
    /* a raw NUL byte, in a string or between tokens */
    assert_int_equal(jsonguard_scan("{\"a\":\"x\0y\"}", 11, 100, 16), JSONGUARD_NOT_TEXT);
    assert_int_equal(jsonguard_scan("{\"a\":\0 1}", 9, 100, 16), JSONGUARD_NOT_TEXT);
    /* a body cut inside an escape is read no further than its length */
    assert_int_equal(jsonguard_scan("{\"a\":\"\\u0000\"}", 9, 100, 16), JSONGUARD_OK);
}

static void test_parse(void **state)
{
    (void)state;
    cJSON *doc = (cJSON *)1;
    const char *ok = "{\"a\":[1,{\"b\":\"c\"}]}  \r\n";
    assert_int_equal(jsonguard_parse(ok, strlen(ok), &doc), JSONGUARD_OK);
    assert_non_null(doc);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "a"), 1), "b")
            ->valuestring,
        "c");
    cJSON_Delete(doc);
    struct {
        const char *body;
        jsonguard_result_t want;
    } cases[] = {{"{\"a\":1} x", JSONGUARD_NOT_JSON},
                 {"{\"a\":1}{}", JSONGUARD_NOT_JSON},
                 {"{\"a\":", JSONGUARD_NOT_JSON},
                 {"{a:1}", JSONGUARD_NOT_JSON},
                 {"[1]", JSONGUARD_NOT_OBJECT},
                 {"{\"a\":\"\xff\"}", JSONGUARD_NOT_TEXT},
                 {"{\"a\":\"\\u0000\"}", JSONGUARD_NUL_ESCAPE}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        doc = (cJSON *)1;
        assert_int_equal(jsonguard_parse(cases[i].body, strlen(cases[i].body), &doc),
                         cases[i].want);
        assert_null(doc);
    }
}

static void test_messages(void **state)
{
    (void)state;
    assert_string_equal(jsonguard_message(JSONGUARD_TOO_MANY),
                        "has more than 200000 JSON values");
    assert_string_equal(jsonguard_message(JSONGUARD_TOO_DEEP),
                        "nests deeper than 16 levels");
    assert_string_equal(jsonguard_message(JSONGUARD_NOT_OBJECT), "must be a JSON object");
    assert_string_equal(jsonguard_message(JSONGUARD_NOT_TEXT),
                        "must be UTF-8 text without NUL bytes");
    assert_non_null(strstr(jsonguard_message(JSONGUARD_NUL_ESCAPE), "\\u0000"));
}

/* The largest valid submission passes with room to spare. */
static void test_largest_submission_fits(void **state)
{
    (void)state;
    const char *one = "{\"nik\":\"1612014501900001\",\"name\":\"Siti Aminah\","
                      "\"birth_date\":\"1990-01-05\",\"sex\":\"F\",\"occupation\":3,"
                      "\"address\":\"Dusun II\",\"phone\":\"0812\",\"monthly_income\":1,"
                      "\"poverty_ref\":\"DTKS\",\"rt\":\"03\",\"rw\":\"01\"}";
    size_t n = 10000, len = strlen(one);
    char *body = malloc(n * (len + 1) + 200);
    char *p = body + sprintf(body, "{\"program_code\":\"P\",\"village_code\":\"V\","
                                   "\"reference\":\"R\",\"applicants\":[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%s", i ? "," : "", one);
    p += sprintf(p, "]}");
    assert_int_equal(jsonguard_scan(body, (size_t)(p - body), JSONGUARD_MAX_VALUES,
                                    JSONGUARD_MAX_DEPTH),
                     JSONGUARD_OK);
    assert_int_equal(jsonguard_scan(body, (size_t)(p - body), 10000 * 12 + 5, 3),
                     JSONGUARD_OK);
    assert_int_equal(jsonguard_scan(body, (size_t)(p - body), 10000 * 12 + 4, 3),
                     JSONGUARD_TOO_MANY);
    free(body);
}

/* submission_from_json answers 400 with jsonguard's reason. */
static void test_submission_refuses(void **state)
{
    (void)state;
    struct {
        const char *body;
        const char *message;
    } cases[] = {
        {"{\"program_code\":\"P\",\"village_code\":\"16.04.01.2001\\u0000x\","
         "\"applicants\":[]}",
         jsonguard_message(JSONGUARD_NUL_ESCAPE)},
        {"[0,0,0]", "must be a JSON object"},
        {"{\"applicants\":[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]}",
         "nests deeper than 16 levels"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        submission_t *sub = submission_new();
        cJSON *errors = cJSON_CreateArray();
        assert_int_equal(
            submission_from_json(sub, cases[i].body, strlen(cases[i].body), errors),
            SUBMISSION_MALFORMED);
        assert_int_equal(cJSON_GetArraySize(errors), 1);
        const cJSON *e = cJSON_GetArrayItem(errors, 0);
        assert_string_equal(cJSON_GetObjectItem(e, "field")->valuestring, "body");
        assert_string_equal(cJSON_GetObjectItem(e, "message")->valuestring,
                            cases[i].message);
        cJSON_Delete(errors);
        submission_destroy(&sub);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_values_not_names),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_top_level_must_be_an_object),
        cmocka_unit_test(test_nul),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_largest_submission_fits),
        cmocka_unit_test(test_submission_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
