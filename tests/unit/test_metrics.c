/* test_metrics: the exposition format rules Prometheus relies on (HELP and
 * TYPE once per family, _total counters, cumulative buckets ending at +Inf
 * equal to _count, _sum), checked by hand and, when installed, by promtool. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* True when `line` appears as a whole line of `text`. */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = strstr(text, line); p; p = strstr(p + 1, line)) {
        bool starts = p == text || p[-1] == '\n';
        if (starts && p[n] == '\n')
            return true;
    }
    return false;
}

/* The value of the sample line starting with `series` followed by a space. */
static double sample(const char *text, const char *series)
{
    char needle[256];
    snprintf(needle, sizeof(needle), "\n%s ", series);
    const char *p = strstr(text, needle);
    if (!p)
        fail_msg("no sample %s in:\n%s", series, text);
    return strtod(p + strlen(needle), NULL);
}

static void test_counter_and_gauge(void **state)
{
    (void)state;
    metrics_t *m = metrics_new();
    assert_non_null(m);
    metrics_counter_add(m, "http_requests_total", "HTTP requests.",
                        "route=\"/v1/submissions\",status=\"202\"", 1);
    metrics_counter_add(m, "http_requests_total", "HTTP requests.",
                        "route=\"/v1/submissions\",status=\"202\"", 2);
    metrics_counter_add(m, "http_requests_total", "HTTP requests.",
                        "route=\"/v1/programs\",status=\"200\"", 1);
    metrics_counter_add(m, "sweeps_total", "Sweeps.", NULL, 1);
    metrics_gauge_set(m, "queue_depth", "Work waiting.", NULL, 7);
    metrics_gauge_set(m, "queue_depth", "Work waiting.", NULL, 3);
    metrics_gauge_set(m, "ratio", "A fraction.", NULL, 0.1);
    char *text = metrics_render(m);
    assert_non_null(text);

    assert_int_equal(count(text, "# HELP http_requests_total "), 1);
    assert_int_equal(count(text, "# TYPE http_requests_total "), 1);
    assert_true(has_line(text, "# HELP http_requests_total HTTP requests."));
    assert_true(has_line(text, "# TYPE http_requests_total counter"));
    assert_true(has_line(
        text, "http_requests_total{route=\"/v1/submissions\",status=\"202\"} 3"));
    assert_true(
        has_line(text, "http_requests_total{route=\"/v1/programs\",status=\"200\"} 1"));
    assert_true(has_line(text, "sweeps_total 1"));
    assert_true(has_line(text, "# TYPE queue_depth gauge"));
    assert_true(has_line(text, "queue_depth 3"));
    assert_true(has_line(text, "ratio 0.1"));
    /* Families come out in registration order. */
    assert_true(strstr(text, "http_requests_total") < strstr(text, "sweeps_total"));
    assert_true(strstr(text, "sweeps_total") < strstr(text, "queue_depth"));
    free(text);
    metrics_destroy(&m);
    assert_null(m);
    metrics_destroy(&m);
}

static void test_programming_errors_ignored(void **state)
{
    (void)state;
    metrics_t *m = metrics_new();
    metrics_counter_add(m, "requests", "No _total suffix.", NULL, 1);
    metrics_counter_add(m, "ok_total", "Fine.", NULL, 1);
    metrics_gauge_set(m, "ok_total", "Same name, other type.", NULL, 5);
    metrics_counter_add(m, "ok_total", "Fine.", NULL, -1);
    metrics_counter_add(m, "ok_total", "Fine.", NULL, NAN);
    metrics_counter_add(m, "bad-name_total", "Dash.", NULL, 1);
    metrics_counter_add(m, "9lives_total", "Digit first.", NULL, 1);
    metrics_gauge_set(m, "process_open_fds", "Reserved.", NULL, 1);
    double descending[] = {1, 0.5};
    metrics_histogram_observe(m, "bad_seconds", "Bounds not ascending.", NULL, descending,
                              2, 0.1);
    char *text = metrics_render(m);
    assert_int_equal(count(text, "requests"), 0);
    assert_true(has_line(text, "ok_total 1"));
    assert_int_equal(count(text, "# TYPE ok_total"), 1);
    assert_int_equal(count(text, "bad"), 0);
    assert_int_equal(count(text, "9lives"), 0);
    assert_int_equal(count(text, "# TYPE process_open_fds"), 1);
    free(text);
    metrics_destroy(&m);
}

static void test_histogram(void **state)
{
    (void)state;
    metrics_t *m = metrics_new();
    const double bounds[] = {0.005, 0.1, 1, 2.5};
    const char *labels = "route=\"/v1/submissions\"";
    double values[] = {0.001, 0.005, 0.05, 0.5, 0.7, 2, 10, 100};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        metrics_histogram_observe(m, "http_request_duration_seconds", "Latency.", labels,
                                  bounds, 4, values[i]);
    metrics_histogram_observe(m, "http_request_duration_seconds", "Latency.", NULL,
                              bounds, 4, 0.2);
    /* Bounds are fixed at first use; later ones are ignored. */
    const double other[] = {42};
    metrics_histogram_observe(m, "http_request_duration_seconds", "Latency.", NULL, other,
                              1, 50);
    char *text = metrics_render(m);
    assert_int_equal(count(text, "# HELP http_request_duration_seconds "), 1);
    assert_int_equal(count(text, "# TYPE http_request_duration_seconds histogram"), 1);
    const char *want[] = {
        "http_request_duration_seconds_bucket{route=\"/v1/submissions\",le=\"0.005\"} 2",
        "http_request_duration_seconds_bucket{route=\"/v1/submissions\",le=\"0.1\"} 3",
        "http_request_duration_seconds_bucket{route=\"/v1/submissions\",le=\"1\"} 5",
        "http_request_duration_seconds_bucket{route=\"/v1/submissions\",le=\"2.5\"} 6",
        "http_request_duration_seconds_bucket{route=\"/v1/submissions\",le=\"+Inf\"} 8",
        "http_request_duration_seconds_count{route=\"/v1/submissions\"} 8",
        "http_request_duration_seconds_bucket{le=\"0.005\"} 0",
        "http_request_duration_seconds_bucket{le=\"0.1\"} 0",
        "http_request_duration_seconds_bucket{le=\"1\"} 1",
        "http_request_duration_seconds_bucket{le=\"2.5\"} 1",
        "http_request_duration_seconds_bucket{le=\"+Inf\"} 2",
        "http_request_duration_seconds_count 2",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (!has_line(text, want[i]))
            fail_msg("missing line: %s\n%s", want[i], text);
    }
    assert_int_equal(count(text, "le=\"42\""), 0);
    double sum =
        sample(text, "http_request_duration_seconds_sum{route=\"/v1/submissions\"}");
    assert_true(fabs(sum - 113.256) < 1e-9);
    assert_true(fabs(sample(text, "http_request_duration_seconds_sum") - 50.2) < 1e-9);
    free(text);
    metrics_destroy(&m);
}

static void test_number_format(void **state)
{
    (void)state;
    metrics_t *m = metrics_new();
    metrics_gauge_set(m, "big", "", NULL, 1e15);
    metrics_gauge_set(m, "huge", "", NULL, 1e300);
    metrics_gauge_set(m, "third", "", NULL, 1.0 / 3);
    metrics_gauge_set(m, "negative", "", NULL, -42);
    metrics_gauge_set(m, "up", "", NULL, INFINITY);
    metrics_gauge_set(m, "down", "", NULL, -INFINITY);
    metrics_gauge_set(m, "unknown", "", NULL, NAN);
    char *text = metrics_render(m);
    assert_true(has_line(text, "big 1000000000000000"));
    assert_true(has_line(text, "huge 1e+300"));
    assert_true(has_line(text, "third 0.3333333333333333"));
    assert_true(has_line(text, "negative -42"));
    assert_true(has_line(text, "up +Inf"));
    assert_true(has_line(text, "down -Inf"));
    assert_true(has_line(text, "unknown NaN"));
    assert_true(has_line(text, "# HELP big "));
    free(text);
    metrics_destroy(&m);
}

static void test_escaping(void **state)
{
    (void)state;
    char out[64];
    metrics_escape_label("a\\b\"c\nd", out, sizeof(out));
    assert_string_equal(out, "a\\\\b\\\"c\\nd");
    /* An escape is never cut in half at the end of the buffer. */
    metrics_escape_label("ab\"", out, 4);
    assert_string_equal(out, "ab");
    metrics_escape_label(NULL, out, sizeof(out));
    assert_string_equal(out, "");

    metrics_t *m = metrics_new();
    char label[64], labels[80];
    metrics_escape_label("Desa \"Baru\"", label, sizeof(label));
    snprintf(labels, sizeof(labels), "village=\"%s\"", label);
    metrics_gauge_set(m, "quota", "Quota per village.\nSecond \\ line.", labels, 100);
    char *text = metrics_render(m);
    assert_true(has_line(text, "# HELP quota Quota per village.\\nSecond \\\\ line."));
    assert_true(has_line(text, "quota{village=\"Desa \\\"Baru\\\"\"} 100"));
    free(text);
    metrics_destroy(&m);
}

static void test_process_metrics(void **state)
{
    (void)state;
    metrics_t *m = metrics_new();
    char *text = metrics_render(m);
    const char *names[] = {"process_resident_memory_bytes",
                           "process_virtual_memory_bytes",
                           "process_cpu_seconds_total",
                           "process_start_time_seconds",
                           "process_open_fds",
                           "process_max_fds"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char help[80], type[80], sample[80];
        snprintf(help, sizeof(help), "# HELP %s ", names[i]);
        snprintf(type, sizeof(type), "# TYPE %s ", names[i]);
        snprintf(sample, sizeof(sample), "\n%s ", names[i]);
        assert_int_equal(count(text, help), 1);
        assert_int_equal(count(text, type), 1);
        assert_int_equal(count(text, sample), 1);
    }
    double start = sample(text, "process_start_time_seconds");
    double now = (double)time(NULL);
    assert_true(start > now - 3600 && start <= now + 5);
    assert_true(sample(text, "process_resident_memory_bytes") > 0);
    assert_true(sample(text, "process_open_fds") >= 3);
    assert_true(sample(text, "process_max_fds") >= sample(text, "process_open_fds"));
    free(text);
    metrics_destroy(&m);
}

#define THREADS 4
#define ADDS 20000

static void *add_many(void *arg)
{
    metrics_t *m = arg;
    const double bounds[] = {1, 2};
    for (int i = 0; i < ADDS; i++) {
        metrics_counter_add(m, "events_total", "Events.", "kind=\"x\"", 1);
        metrics_histogram_observe(m, "size_bytes", "Sizes.", NULL, bounds, 2, 1.5);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    metrics_t *m = metrics_new();
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&threads[i], NULL, add_many, m);
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    char *text = metrics_render(m);
    assert_true(has_line(text, "events_total{kind=\"x\"} 80000"));
    assert_true(has_line(text, "size_bytes_bucket{le=\"1\"} 0"));
    assert_true(has_line(text, "size_bytes_bucket{le=\"2\"} 80000"));
    assert_true(has_line(text, "size_bytes_bucket{le=\"+Inf\"} 80000"));
    assert_true(has_line(text, "size_bytes_sum 120000"));
    free(text);
    metrics_destroy(&m);
}

static void test_promtool(void **state)
{
    (void)state;
#ifdef PROMTOOL_PATH
    const char *promtool = PROMTOOL_PATH;
#else
    const char *promtool = "/usr/bin/promtool";
#endif
    if (access(promtool, X_OK) != 0)
        skip();
    metrics_t *m = metrics_new();
    const double bounds[] = {0.01, 0.1, 1};
    metrics_counter_add(m, "lindung_http_requests_total", "HTTP requests by route.",
                        "route=\"/v1/submissions\",status=\"202\"", 5);
    metrics_gauge_set(m, "lindung_outbox_pending", "Outbox rows not yet sent.", NULL, 2);
    metrics_histogram_observe(m, "lindung_http_request_duration_seconds",
                              "HTTP request latency.", "route=\"/v1/submissions\"",
                              bounds, 3, 0.05);
    char *text = metrics_render(m);
    char path[] = "/tmp/lindung_test_metrics_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char command[256];
    snprintf(command, sizeof(command), "'%s' check metrics < '%s'", promtool, path);
    int rc = system(command);
    unlink(path);
    if (rc != 0)
        fail_msg("promtool check metrics failed on:\n%s", text);
    free(text);
    metrics_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_and_gauge),
        cmocka_unit_test(test_programming_errors_ignored),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_number_format),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_process_metrics),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_promtool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
