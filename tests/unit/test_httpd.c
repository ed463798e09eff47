/* test_httpd: the answers httpd builds for handlers: a JSON document, an
 * error, and what a handler gets when its document could not be made (memory
 * ran out): a 500 with an error body, never its own status with an empty
 * or partial body. Not the server itself (tests/integration does that). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "httpd.h"

static void test_json_answer(void **state)
{
    (void)state;
    http_response_t res = {.status = 0};
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "status", "ok");
    http_response_json(&res, 201, doc);
    assert_int_equal(res.status, 201);
    assert_string_equal(res.body, "{\"status\":\"ok\"}");
    assert_int_equal(res.body_len, strlen(res.body));
    free(res.body);
}

static void test_error_answer_with_details(void **state)
{
    (void)state;
    http_response_t res = {.status = 0};
    cJSON *details = cJSON_CreateArray();
    cJSON_AddItemToArray(details, cJSON_CreateString("x"));
    http_response_error(&res, 422, "INVALID_FIELDS", "bad", details);
    assert_int_equal(res.status, 422);
    assert_string_equal(
        res.body,
        "{\"error\":{\"code\":\"INVALID_FIELDS\",\"message\":\"bad\",\"details\":[\"x\"]}}");
    free(res.body);
}

static void test_no_document_is_a_500_with_a_body(void **state)
{
    (void)state;
    http_response_t res = {.status = 0};
    http_response_json(&res, 200, NULL);
    assert_int_equal(res.status, 500);
    assert_non_null(res.body);
    cJSON *doc = cJSON_Parse(res.body);
    assert_non_null(doc);
    cJSON *err = cJSON_GetObjectItemCaseSensitive(doc, "error");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(err, "code")->valuestring,
                        "INTERNAL");
    assert_non_null(strstr(cJSON_GetObjectItemCaseSensitive(err, "message")->valuestring,
                           "out of memory"));
    cJSON_Delete(doc);
    free(res.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_answer),
        cmocka_unit_test(test_error_answer_with_details),
        cmocka_unit_test(test_no_document_is_a_500_with_a_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
