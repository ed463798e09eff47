/* test_log: the JSON lines on stderr. Each test captures fd 2 in a temporary
 * file and parses what was written, as a log shipper would. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static int saved_stderr = -1;
static char capture_path[64];

static int capture_begin(void **state)
{
    (void)state;
    unsetenv("LINDUNG_LOG_LEVEL");
    log_init("test");
    strcpy(capture_path, "/tmp/lindung_test_log_XXXXXX");
    int fd = mkstemp(capture_path);
    if (fd < 0)
        return -1;
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    return 0;
}

static void capture_restore(void)
{
    if (saved_stderr < 0)
        return;
    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    saved_stderr = -1;
}

static int capture_cleanup(void **state)
{
    (void)state;
    capture_restore();
    unlink(capture_path);
    unsetenv("LINDUNG_LOG_LEVEL");
    return 0;
}

/* Everything written to stderr since capture_begin. Caller frees. */
static char *captured(void)
{
    capture_restore();
    FILE *f = fopen(capture_path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc(1, (size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return text;
}

static int count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

/* The n-th line (0-based) parsed as JSON; fails the test if it is not. */
static cJSON *parse_line(const char *text, int n)
{
    const char *p = text;
    for (int i = 0; i < n; i++) {
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
    const char *end = strchr(p, '\n');
    assert_non_null(end);
    cJSON *json = cJSON_ParseWithLength(p, (size_t)(end - p));
    assert_non_null(json);
    assert_true(cJSON_IsObject(json));
    return json;
}

static const char *field(const cJSON *json, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

static void test_fields_in_order(void **state)
{
    (void)state;
    log_init("intake");
    log_info("submission_received", "submission_id", "42", "applicants", "3");
    char *text = captured();
    assert_int_equal(count_lines(text), 1);
    cJSON *json = parse_line(text, 0);
    const char *order[] = {"ts",    "level",         "service",
                           "event", "submission_id", "applicants"};
    const cJSON *item = json->child;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        assert_non_null(item);
        assert_string_equal(item->string, order[i]);
        assert_true(cJSON_IsString(item));
        item = item->next;
    }
    assert_null(item);
    assert_string_equal(field(json, "level"), "info");
    assert_string_equal(field(json, "service"), "intake");
    assert_string_equal(field(json, "event"), "submission_received");
    assert_string_equal(field(json, "applicants"), "3");

    /* 2026-11-24T05:01:02.123Z */
    const char *ts = field(json, "ts");
    assert_int_equal(strlen(ts), 24);
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    for (size_t i = 0; i < 24; i++) {
        if (shape[i] == 'd')
            assert_true(ts[i] >= '0' && ts[i] <= '9');
        else
            assert_int_equal(ts[i], shape[i]);
    }
    cJSON_Delete(json);
    free(text);
}

static void test_levels_named(void **state)
{
    (void)state;
    setenv("LINDUNG_LOG_LEVEL", "debug", 1);
    log_init("verify");
    log_debug("a");
    log_info("b");
    log_warn("c");
    log_error("d");
    char *text = captured();
    assert_int_equal(count_lines(text), 4);
    const char *want[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        cJSON *json = parse_line(text, i);
        assert_string_equal(field(json, "level"), want[i]);
        assert_int_equal(cJSON_GetArraySize(json), 4);
        cJSON_Delete(json);
    }
    free(text);
}

static void test_level_filter(void **state)
{
    (void)state;
    setenv("LINDUNG_LOG_LEVEL", "warn", 1);
    log_init("billing");
    log_debug("hidden_debug");
    log_info("hidden_info");
    log_warn("shown_warn");
    log_error("shown_error");
    unsetenv("LINDUNG_LOG_LEVEL");
    log_init("billing");
    log_debug("hidden_default_debug");
    log_info("shown_default_info");
    char *text = captured();
    assert_null(strstr(text, "hidden"));
    assert_int_equal(count_lines(text), 3);
    free(text);
}

static void test_invalid_level_warns(void **state)
{
    (void)state;
    setenv("LINDUNG_LOG_LEVEL", "verbose", 1);
    log_init("intake");
    log_debug("hidden");
    log_info("shown");
    char *text = captured();
    assert_int_equal(count_lines(text), 2);
    cJSON *json = parse_line(text, 0);
    assert_string_equal(field(json, "level"), "warn");
    assert_string_equal(field(json, "event"), "log_level_invalid");
    assert_string_equal(field(json, "value"), "verbose");
    cJSON_Delete(json);
    json = parse_line(text, 1);
    assert_string_equal(field(json, "event"), "shown");
    cJSON_Delete(json);
    free(text);
}

static void test_nik_masked(void **state)
{
    (void)state;
    log_warn("applicant_rejected", "nik", "1612010101900001", "detail",
             "row 3: nik 1612.0101.0190.0001 is temporary? 0612010101900001");
    char *text = captured();
    assert_null(strstr(text, "1612010101900001"));
    assert_null(strstr(text, "0101.0190"));
    assert_null(strstr(text, "0612010101900001"));
    cJSON *json = parse_line(text, 0);
    assert_string_equal(field(json, "nik"), "1612******0001");
    assert_string_equal(field(json, "detail"),
                        "row 3: nik 1612******0001 is temporary? 0612******0001");
    cJSON_Delete(json);
    free(text);
}

/* Issue 15: NIKs typed with doubled or mixed separators are NIKs to
 * nik_parse, so they must be masked too, at every level (debug lines carry
 * request fields). */
static void test_nik_masked_whatever_the_separators(void **state)
{
    (void)state;
    setenv("LINDUNG_LOG_LEVEL", "debug", 1);
    log_init("intake");
    log_debug("applicant", "spaces", "1604  0215  0590  0002", "dots",
              "1604..0215..0590..0002", "mixed", "nik: 1604 - 0215 .. 0590 -. 0002;",
              "every digit", "1-6-0-4 0 2 1 5..0 5 9 0--0 0 0 2");
    char *text = captured();
    assert_null(strstr(text, "0215"));
    assert_null(strstr(text, "0590"));
    cJSON *json = parse_line(text, 0);
    assert_string_equal(field(json, "level"), "debug");
    assert_string_equal(field(json, "spaces"), "1604******0002");
    assert_string_equal(field(json, "dots"), "1604******0002");
    assert_string_equal(field(json, "mixed"), "nik: 1604******0002;");
    assert_string_equal(field(json, "every digit"), "1604******0002");
    cJSON_Delete(json);
    free(text);
}

static void test_escaping(void **state)
{
    (void)state;
    log_info("escape", "quote", "say \"hi\" \\ there", "controls",
             "a\nb\tc\rd\x01"
             "e\x7f",
             "utf8", "Gianyar \xe2\x80\x93 Bal\xc3\xad \xf0\x9f\x8c\xbe", "invalid",
             "x\xffy\xc0\xafz\xed\xa0\x80w\xe2\x82");
    char *text = captured();
    assert_int_equal(count_lines(text), 1);
    assert_non_null(strstr(text, "\\u0001"));
    assert_non_null(strstr(text, "\\u007f"));
    cJSON *json = parse_line(text, 0);
    assert_string_equal(field(json, "quote"), "say \"hi\" \\ there");
    assert_string_equal(field(json, "controls"), "a\nb\tc\rd\x01"
                                                 "e\x7f");
    assert_string_equal(field(json, "utf8"),
                        "Gianyar \xe2\x80\x93 Bal\xc3\xad \xf0\x9f\x8c\xbe");
    /* Each byte that starts no valid sequence becomes U+FFFD. */
    assert_string_equal(field(json, "invalid"),
                        "x\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbdz"
                        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdw\xef\xbf\xbd\xef\xbf\xbd");
    cJSON_Delete(json);
    free(text);
}

static void test_null_value_skipped(void **state)
{
    (void)state;
    const char *missing = NULL;
    log_info("partial", "reference", missing, "village", "16.12.01.2001");
    char *text = captured();
    cJSON *json = parse_line(text, 0);
    assert_null(cJSON_GetObjectItemCaseSensitive(json, "reference"));
    assert_string_equal(field(json, "village"), "16.12.01.2001");
    assert_int_equal(cJSON_GetArraySize(json), 5);
    cJSON_Delete(json);
    free(text);
}

static void test_long_value_truncated(void **state)
{
    (void)state;
    size_t n = 100000;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'a', n);
    big[n] = '\0';
    log_info("big", "body", big, "after", "kept");
    free(big);
    char *text = captured();
    assert_int_equal(count_lines(text), 1);
    cJSON *json = parse_line(text, 0);
    assert_int_equal(strlen(field(json, "body")), 4096);
    assert_string_equal(field(json, "after"), "kept");
    cJSON_Delete(json);
    free(text);
}

#define THREADS 4
#define LINES_PER_THREAD 500

static void *log_many(void *arg)
{
    const char *who = arg;
    char value[600];
    memset(value, 'v', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    for (int i = 0; i < LINES_PER_THREAD; i++)
        log_info("tick", "thread", who, "payload", value);
    return NULL;
}

static void test_threads_do_not_interleave(void **state)
{
    (void)state;
    pthread_t threads[THREADS];
    char names[THREADS][3] = {"t0", "t1", "t2", "t3"};
    for (int i = 0; i < THREADS; i++)
        pthread_create(&threads[i], NULL, log_many, names[i]);
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    char *text = captured();
    int lines = count_lines(text);
    assert_int_equal(lines, THREADS * LINES_PER_THREAD);
    for (int i = 0; i < lines; i++) {
        cJSON *json = parse_line(text, i);
        assert_int_equal(strlen(field(json, "payload")), 599);
        cJSON_Delete(json);
    }
    free(text);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, capture_begin, capture_cleanup)
    const struct CMUnitTest tests[] = {
        T(test_fields_in_order),
        T(test_levels_named),
        T(test_level_filter),
        T(test_invalid_level_warns),
        T(test_nik_masked),
        T(test_nik_masked_whatever_the_separators),
        T(test_escaping),
        T(test_null_value_skipped),
        T(test_long_value_truncated),
        T(test_threads_do_not_interleave),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
