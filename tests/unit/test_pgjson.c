/* pgjson: columns as JSON fields, and the helpers that keep a cJSON tree
 * whole when an allocation fails (docs/development.md, Errors). The failing
 * allocations are made by cJSON's hooks: the n-th allocation fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "envelope.h"
#include "pgjson.h"

static int allocations_left = -1; /* -1: never fail */

static void *failing_malloc(size_t size)
{
    if (allocations_left == 0)
        return NULL;
    if (allocations_left > 0)
        allocations_left--;
    return malloc(size);
}

static void fail_after(int n)
{
    allocations_left = n;
    cJSON_Hooks hooks = {.malloc_fn = failing_malloc, .free_fn = free};
    cJSON_InitHooks(&hooks);
}

static void never_fail(void)
{
    allocations_left = -1;
    cJSON_InitHooks(NULL);
}

static void test_whole(void **state)
{
    (void)state;
    cJSON *o = cJSON_CreateObject();
    assert_ptr_equal(pgjson_whole(o, true), o);
    assert_null(
        pgjson_whole(o, false)); /* deleted: the sanitizers see a leak otherwise */
    assert_null(pgjson_whole(NULL, false));
}

static void test_append_and_put(void **state)
{
    (void)state;
    cJSON *arr = cJSON_CreateArray(), *obj = cJSON_CreateObject();
    assert_true(pgjson_append(arr, cJSON_CreateNumber(1)));
    assert_false(pgjson_append(arr, NULL));
    assert_false(pgjson_append(NULL, cJSON_CreateNumber(2))); /* the item is deleted */
    assert_int_equal(cJSON_GetArraySize(arr), 1);
    assert_true(pgjson_put(obj, "a", cJSON_CreateNumber(1)));
    assert_false(pgjson_put(obj, "b", NULL));
    assert_false(pgjson_put(NULL, "c", cJSON_CreateString("x")));
    assert_int_equal(cJSON_GetArraySize(obj), 1);
    cJSON_Delete(arr);
    cJSON_Delete(obj);
}

static void test_add_text_and_int(void **state)
{
    (void)state;
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc cols[2] = {{.name = "t", .format = 0}, {.name = "n", .format = 0}};
    assert_int_equal(PQsetResultAttrs(r, 2, cols), 1);
    assert_int_equal(PQsetvalue(r, 0, 0, "hello", 5), 1);
    assert_int_equal(PQsetvalue(r, 0, 1, "123456789012345", 15), 1);
    assert_int_equal(PQsetvalue(r, 1, 0, NULL, -1), 1); /* SQL NULL */
    assert_int_equal(PQsetvalue(r, 1, 1, "0", 1), 1);
    cJSON *o = cJSON_CreateObject();
    assert_true(pgjson_add_text(o, "t", r, 0, 0));
    assert_true(pgjson_add_int(o, "n", r, 0, 1));
    assert_true(pgjson_add_text(o, "null", r, 1, 0));
    assert_true(pgjson_add_bool(o, "b", r, 1, 1));
    char *text = cJSON_PrintUnformatted(o);
    assert_string_equal(
        text, "{\"t\":\"hello\",\"n\":123456789012345,\"null\":null,\"b\":false}");
    free(text);
    assert_false(pgjson_add_text(NULL, "t", r, 0, 0));
    assert_false(pgjson_add_int(NULL, "n", r, 1, 1));
    cJSON_Delete(o);
    PQclear(r);
}

static cJSON *row_of(const PGresult *r, int row, const void *ctx)
{
    return pgjson_row(r, row, ctx, 3);
}

/* A column table: fields in its order, each from its named column; under
 * failing allocations the row is whole or NULL. */
static void test_cols(void **state)
{
    (void)state;
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc cols[3] = {{.name = "n", .format = 0},
                            {.name = "t", .format = 0},
                            {.name = "b", .format = 0}};
    assert_int_equal(PQsetResultAttrs(r, 3, cols), 1);
    assert_int_equal(PQsetvalue(r, 0, 0, "42", 2), 1);
    assert_int_equal(PQsetvalue(r, 0, 1, NULL, -1), 1);
    assert_int_equal(PQsetvalue(r, 0, 2, "t", 1), 1);
    enum { C_N, C_T, C_B };
    static const pgjson_col_t table[] = {{"flag", C_B, PGJSON_BOOL},
                                         {"text", C_T, PGJSON_TEXT},
                                         {"count", C_N, PGJSON_INT}};
    cJSON *o = pgjson_row(r, 0, table, PGJSON_NCOLS(table));
    assert_non_null(o);
    char *text = cJSON_PrintUnformatted(o);
    assert_string_equal(text, "{\"flag\":true,\"text\":null,\"count\":42}");
    free(text);
    cJSON_Delete(o);
    assert_false(pgjson_add_cols(NULL, r, 0, table, PGJSON_NCOLS(table)));
    int nulls = 0;
    for (int n = 0; n < 16; n++) {
        fail_after(n);
        o = pgjson_row(r, 0, table, PGJSON_NCOLS(table));
        never_fail();
        if (o)
            assert_int_equal(cJSON_GetArraySize(o), 3);
        else
            nulls++;
        cJSON_Delete(o);
    }
    assert_true(nulls > 0);
    static const pgjson_col_t strings[] = {{"t", C_T, PGJSON_STRING}};
    cJSON *list = pgjson_table(r, strings, PGJSON_NCOLS(strings));
    text = cJSON_PrintUnformatted(list);
    assert_string_equal(text, "[{\"t\":\"\"}]"); /* SQL NULL as "" */
    free(text);
    cJSON_Delete(list);
    list = pgjson_rows(r, row_of, table);
    text = cJSON_PrintUnformatted(list);
    assert_string_equal(text, "[{\"flag\":true,\"text\":null,\"count\":42}]");
    free(text);
    cJSON_Delete(list);
    PQclear(r);
}

/* Whatever allocation fails, the bus message is whole or not at all. */
static void test_envelope_whole_or_nothing(void **state)
{
    (void)state;
    envelope_t env;
    envelope_init(&env, ENVELOPE_SUBMISSION_RECEIVED, "id-1", "req-1");
    char *want = envelope_encode(&env);
    assert_non_null(want);
    int nulls = 0;
    for (int n = 0; n < 64; n++) {
        fail_after(n);
        char *got = envelope_encode(&env);
        never_fail();
        if (got)
            assert_string_equal(got, want);
        else
            nulls++;
        free(got);
    }
    assert_true(nulls > 0);
    free(want);
}

/* An array built with pgjson_append under failing allocations holds every
 * element or is NULL. */
static void test_array_whole_or_nothing(void **state)
{
    (void)state;
    for (int n = 0; n < 40; n++) {
        fail_after(n);
        cJSON *arr = cJSON_CreateArray();
        bool ok = arr != NULL;
        for (int i = 0; ok && i < 10; i++)
            ok = pgjson_append(arr, cJSON_CreateString("0123456789012345"));
        arr = pgjson_whole(arr, ok);
        never_fail();
        if (arr)
            assert_int_equal(cJSON_GetArraySize(arr), 10);
        cJSON_Delete(arr);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole),
        cmocka_unit_test(test_append_and_put),
        cmocka_unit_test(test_add_text_and_int),
        cmocka_unit_test(test_cols),
        cmocka_unit_test(test_envelope_whole_or_nothing),
        cmocka_unit_test(test_array_whole_or_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
