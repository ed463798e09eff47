/* log: structured JSON lines on stderr, one per event.
 * Each line is built whole, then written with one call under a lock, so lines
 * from different threads never interleave. Every string passes through
 * nik_mask_text first: a NIK must not reach a log even by a caller's mistake.
 * Not for metrics (metrics.c) nor for audit records (those live in the database). */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "nik.h"

/* A value longer than this is cut: a log line is a pointer to a problem, not a
 * copy of a request body. */
#define LOG_VALUE_MAX 4096
#define LOG_SERVICE_MAX 64

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_service[LOG_SERVICE_MAX] = "lindung";
static log_level_t log_min_level = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* A growable line buffer. On allocation failure `failed` is set and further
 * appends are ignored, so callers need not check every step. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
} line_t;

static void line_reserve(line_t *line, size_t extra)
{
    if (line->failed || line->len + extra + 1 <= line->cap)
        return;
    size_t cap = line->cap ? line->cap : 256;
    while (cap < line->len + extra + 1)
        cap *= 2;
    char *data = realloc(line->data, cap);
    if (!data) {
        line->failed = true;
        return;
    }
    line->data = data;
    line->cap = cap;
}

static void line_append(line_t *line, const char *s, size_t n)
{
    line_reserve(line, n);
    if (line->failed)
        return;
    memcpy(line->data + line->len, s, n);
    line->len += n;
    line->data[line->len] = '\0';
}

static void line_puts(line_t *line, const char *s)
{
    line_append(line, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if it is not one.
 * Rejects overlong forms, surrogates and code points past U+10FFFF, as
 * RFC 3629 requires. */
static size_t utf8_sequence(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    }
    return n;
}

/* Appends s as a JSON string body (no quotes). Control characters become
 * escapes and bytes that are not UTF-8 become U+FFFD, so the line is always
 * valid JSON whatever a client sent us. */
static void line_escape(line_t *line, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            line_append(line, esc, 2);
            p++;
        } else if (c == '\n') {
            line_append(line, "\\n", 2);
            p++;
        } else if (c == '\r') {
            line_append(line, "\\r", 2);
            p++;
        } else if (c == '\t') {
            line_append(line, "\\t", 2);
            p++;
        } else if (c < 0x20 || c == 0x7F) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            line_append(line, esc, 6);
            p++;
        } else {
            size_t n = utf8_sequence(p);
            if (n == 0) {
                line_append(line, "\xEF\xBF\xBD", 3);
                p++;
            } else {
                line_append(line, (const char *)p, n);
                p += n;
            }
        }
    }
}

/* Appends "value" masked, cut to LOG_VALUE_MAX, escaped and quoted. */
static void line_string(line_t *line, const char *value)
{
    char masked[LOG_VALUE_MAX + 1];
    nik_mask_text(value, masked, sizeof(masked));
    line_puts(line, "\"");
    line_escape(line, masked);
    line_puts(line, "\"");
}

static void line_field(line_t *line, const char *key, const char *value)
{
    line_puts(line, ",");
    line_string(line, key);
    line_puts(line, ":");
    line_string(line, value);
}

/* UTC, ISO 8601 with milliseconds: sortable and unambiguous across hosts. */
static void format_timestamp(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (!gmtime_r(&ts.tv_sec, &tm)) {
        snprintf(out, 32, "1970-01-01T00:00:00.000Z");
        return;
    }
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}

static bool parse_level(const char *name, log_level_t *out)
{
    for (int i = LOG_DEBUG; i <= LOG_ERROR; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (log_level_t)i;
            return true;
        }
    }
    return false;
}

void log_init(const char *service)
{
    const char *env = getenv("LINDUNG_LOG_LEVEL");
    log_level_t level = LOG_INFO;
    bool bad_level = env && *env && !parse_level(env, &level);

    pthread_mutex_lock(&log_lock);
    snprintf(log_service, sizeof(log_service), "%s", service ? service : "lindung");
    log_min_level = level;
    pthread_mutex_unlock(&log_lock);

    /* Say so rather than guess silently: a typo here hides debug output. */
    if (bad_level)
        log_warn("log_level_invalid", "value", env, "using", "info");
}

static void write_line(const char *data, size_t len)
{
    pthread_mutex_lock(&log_lock);
    fwrite(data, 1, len, stderr);
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}

void log_write(log_level_t level, const char *event, ...)
{
    if (level < LOG_DEBUG || level > LOG_ERROR)
        level = LOG_ERROR;

    char service[LOG_SERVICE_MAX];
    pthread_mutex_lock(&log_lock);
    log_level_t min = log_min_level;
    memcpy(service, log_service, sizeof(service));
    pthread_mutex_unlock(&log_lock);
    if (level < min)
        return;

    char ts[32];
    format_timestamp(ts);
    line_t line = {0};
    line_puts(&line, "{\"ts\":\"");
    line_puts(&line, ts);
    line_puts(&line, "\",\"level\":\"");
    line_puts(&line, level_names[level]);
    line_puts(&line, "\"");
    line_field(&line, "service", service);
    line_field(&line, "event", event ? event : "");

    va_list ap;
    va_start(ap, event);
    for (;;) {
        const char *key = va_arg(ap, const char *);
        if (!key)
            break;
        const char *value = va_arg(ap, const char *);
        if (value)
            line_field(&line, key, value);
    }
    va_end(ap);
    line_puts(&line, "}\n");

    if (line.failed) {
        /* Still leave a trace: an event lost without a word is worse. */
        static const char oom[] =
            "{\"level\":\"error\",\"event\":\"log_out_of_memory\"}\n";
        write_line(oom, sizeof(oom) - 1);
    } else {
        write_line(line.data, line.len);
    }
    free(line.data);
}
