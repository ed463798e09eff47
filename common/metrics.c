/* metrics: an in-process registry of counters, gauges and histograms, rendered
 * in the Prometheus text exposition format 0.0.4 for GET /metrics.
 * Debian 12 has no usable C client (see design.md, section 6), hence this file.
 * Not a client library: no push gateway, no summaries, no exemplars. */
#include "metrics.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef enum { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM } metric_type_t;

static const char *const type_names[] = {"counter", "gauge", "histogram"};

typedef struct {
    char *labels;      /* as inside braces; "" for none */
    double value;      /* counter and gauge */
    uint64_t *buckets; /* histogram: observations per bound, not cumulative */
    uint64_t count;    /* histogram */
    double sum;        /* histogram */
} series_t;

typedef struct {
    char *name;
    char *help;
    metric_type_t type;
    double *bounds; /* histogram upper bounds, ascending, +Inf implied */
    size_t nbounds;
    series_t *series;
    size_t nseries;
    size_t series_cap;
} family_t;

struct metrics_t {
    pthread_mutex_t lock;
    family_t *families; /* in registration order, which is render order */
    size_t nfamilies;
    size_t families_cap;
};

metrics_t *metrics_new(void)
{
    metrics_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    return self;
}

static void family_free(family_t *family)
{
    for (size_t i = 0; i < family->nseries; i++) {
        free(family->series[i].labels);
        free(family->series[i].buckets);
    }
    free(family->series);
    free(family->bounds);
    free(family->name);
    free(family->help);
}

void metrics_destroy(metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    metrics_t *self = *self_p;
    for (size_t i = 0; i < self->nfamilies; i++)
        family_free(&self->families[i]);
    free(self->families);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

/* Prometheus names: [a-zA-Z_:][a-zA-Z0-9_:]*. A bad name would make the
 * whole scrape fail, so it is refused at the source. */
static bool name_valid(const char *name)
{
    if (!name || !*name)
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool alpha =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        bool digit = c >= '0' && c <= '9';
        if (!alpha && !(digit && p != name))
            return false;
    }
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static family_t *find_family(metrics_t *self, const char *name)
{
    for (size_t i = 0; i < self->nfamilies; i++) {
        if (strcmp(self->families[i].name, name) == 0)
            return &self->families[i];
    }
    return NULL;
}

static bool bounds_valid(const double *bounds, size_t nbounds)
{
    if (nbounds > 0 && !bounds)
        return false;
    for (size_t i = 0; i < nbounds; i++) {
        if (isnan(bounds[i]) || isinf(bounds[i]))
            return false;
        if (i > 0 && !(bounds[i] > bounds[i - 1]))
            return false;
    }
    return true;
}

static family_t *add_family(metrics_t *self, const char *name, const char *help,
                            metric_type_t type, const double *bounds, size_t nbounds)
{
    if (self->nfamilies == self->families_cap) {
        size_t cap = self->families_cap ? self->families_cap * 2 : 16;
        family_t *families = realloc(self->families, cap * sizeof(*families));
        if (!families)
            return NULL;
        self->families = families;
        self->families_cap = cap;
    }
    family_t family = {0};
    family.name = strdup(name);
    family.help = strdup(help ? help : "");
    family.type = type;
    family.nbounds = nbounds;
    if (nbounds > 0) {
        family.bounds = malloc(nbounds * sizeof(double));
        if (family.bounds)
            memcpy(family.bounds, bounds, nbounds * sizeof(double));
    }
    if (!family.name || !family.help || (nbounds > 0 && !family.bounds)) {
        family_free(&family);
        return NULL;
    }
    self->families[self->nfamilies] = family;
    return &self->families[self->nfamilies++];
}

/* The family for `name`, created on first use. NULL when the call is a
 * programming error (bad name, type clash, counter without _total, reserved
 * process_ name) or memory ran out; the caller then drops the sample, since
 * a metric must never take a daemon down. */
static family_t *family_for(metrics_t *self, const char *name, const char *help,
                            metric_type_t type, const double *bounds, size_t nbounds)
{
    family_t *family = find_family(self, name);
    if (family)
        return family->type == type ? family : NULL;
    if (!name_valid(name) || strncmp(name, "process_", 8) == 0)
        return NULL;
    if (type == METRIC_COUNTER && !ends_with(name, "_total"))
        return NULL;
    if (type == METRIC_HISTOGRAM && !bounds_valid(bounds, nbounds))
        return NULL;
    return add_family(self, name, help, type, bounds, nbounds);
}

static series_t *series_for(family_t *family, const char *labels)
{
    if (!labels)
        labels = "";
    for (size_t i = 0; i < family->nseries; i++) {
        if (strcmp(family->series[i].labels, labels) == 0)
            return &family->series[i];
    }
    if (family->nseries == family->series_cap) {
        size_t cap = family->series_cap ? family->series_cap * 2 : 4;
        series_t *series = realloc(family->series, cap * sizeof(*series));
        if (!series)
            return NULL;
        family->series = series;
        family->series_cap = cap;
    }
    series_t s = {0};
    s.labels = strdup(labels);
    if (family->type == METRIC_HISTOGRAM && family->nbounds > 0)
        s.buckets = calloc(family->nbounds, sizeof(uint64_t));
    if (!s.labels ||
        (family->type == METRIC_HISTOGRAM && family->nbounds > 0 && !s.buckets)) {
        free(s.labels);
        free(s.buckets);
        return NULL;
    }
    family->series[family->nseries] = s;
    return &family->series[family->nseries++];
}

void metrics_counter_add(metrics_t *self, const char *name, const char *help,
                         const char *labels, double value)
{
    /* Counters only go up; a negative or NaN step would break rate(). */
    if (!self || !(value >= 0))
        return;
    pthread_mutex_lock(&self->lock);
    family_t *family = family_for(self, name, help, METRIC_COUNTER, NULL, 0);
    series_t *series = family ? series_for(family, labels) : NULL;
    if (series)
        series->value += value;
    pthread_mutex_unlock(&self->lock);
}

void metrics_gauge_set(metrics_t *self, const char *name, const char *help,
                       const char *labels, double value)
{
    if (!self)
        return;
    pthread_mutex_lock(&self->lock);
    family_t *family = family_for(self, name, help, METRIC_GAUGE, NULL, 0);
    series_t *series = family ? series_for(family, labels) : NULL;
    if (series)
        series->value = value;
    pthread_mutex_unlock(&self->lock);
}

void metrics_histogram_observe(metrics_t *self, const char *name, const char *help,
                               const char *labels, const double *bounds, size_t nbounds,
                               double value)
{
    /* A NaN observation fits no bucket and would poison _sum for good. */
    if (!self || isnan(value))
        return;
    pthread_mutex_lock(&self->lock);
    family_t *family = family_for(self, name, help, METRIC_HISTOGRAM, bounds, nbounds);
    series_t *series = family ? series_for(family, labels) : NULL;
    if (series) {
        for (size_t i = 0; i < family->nbounds; i++) {
            if (value <= family->bounds[i]) {
                series->buckets[i]++;
                break;
            }
        }
        series->count++;
        series->sum += value;
    }
    pthread_mutex_unlock(&self->lock);
}

void metrics_escape_label(const char *value, char *out, size_t cap)
{
    if (!out || cap == 0)
        return;
    size_t len = 0;
    for (const char *p = value ? value : ""; *p; p++) {
        char esc = *p == '\\' ? '\\' : *p == '"' ? '"' : *p == '\n' ? 'n' : 0;
        size_t need = esc ? 2 : 1;
        /* Never cut an escape in half: a lone backslash would escape the
         * closing quote of the label. */
        if (len + need > cap - 1)
            break;
        if (esc) {
            out[len++] = '\\';
            out[len++] = esc;
        } else {
            out[len++] = *p;
        }
    }
    out[len] = '\0';
}

/* Shortest decimal that reads back as the same double; whole numbers without
 * a fraction or exponent, the special values as the format spells them. */
static void format_number(double v, char out[32])
{
    if (isnan(v)) {
        strcpy(out, "NaN");
        return;
    }
    if (isinf(v)) {
        strcpy(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v >= -9e15 && v <= 9e15 && v == (double)(long long)v) {
        snprintf(out, 32, "%lld", (long long)v);
        return;
    }
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(out, 32, "%.*g", precision, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* HELP text escapes only backslash and newline (format 0.0.4). */
static void write_help(FILE *f, const char *name, const char *help)
{
    fprintf(f, "# HELP %s ", name);
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            fputs("\\\\", f);
        else if (*p == '\n')
            fputs("\\n", f);
        else
            fputc(*p, f);
    }
    fputc('\n', f);
}

static void write_sample(FILE *f, const char *name, const char *suffix,
                         const char *labels, const char *le, double value)
{
    char number[32];
    format_number(value, number);
    fprintf(f, "%s%s", name, suffix);
    if (*labels || le) {
        fputc('{', f);
        fputs(labels, f);
        if (le)
            fprintf(f, "%sle=\"%s\"", *labels ? "," : "", le);
        fputc('}', f);
    }
    fprintf(f, " %s\n", number);
}

static void write_histogram_series(FILE *f, const family_t *family, const series_t *s)
{
    uint64_t cumulative = 0;
    char le[32];
    for (size_t i = 0; i < family->nbounds; i++) {
        cumulative += s->buckets[i];
        format_number(family->bounds[i], le);
        write_sample(f, family->name, "_bucket", s->labels, le, (double)cumulative);
    }
    write_sample(f, family->name, "_bucket", s->labels, "+Inf", (double)s->count);
    write_sample(f, family->name, "_sum", s->labels, NULL, s->sum);
    write_sample(f, family->name, "_count", s->labels, NULL, (double)s->count);
}

static void write_family(FILE *f, const family_t *family)
{
    write_help(f, family->name, family->help);
    fprintf(f, "# TYPE %s %s\n", family->name, type_names[family->type]);
    for (size_t i = 0; i < family->nseries; i++) {
        const series_t *s = &family->series[i];
        if (family->type == METRIC_HISTOGRAM)
            write_histogram_series(f, family, s);
        else
            write_sample(f, family->name, "", s->labels, NULL, s->value);
    }
}

/* ---- process metrics, read from /proc at render time ---- */

static void write_process_metric(FILE *f, const char *name, const char *help,
                                 metric_type_t type, double value)
{
    write_help(f, name, help);
    fprintf(f, "# TYPE %s %s\n", name, type_names[type]);
    write_sample(f, name, "", "", NULL, value);
}

/* Field `index` (1-based, as in proc(5)) of /proc/self/stat. The command name
 * in field 2 may hold spaces and parentheses, so counting starts after the
 * last ')'. */
static bool proc_stat_field(const char *stat, int index, unsigned long long *out)
{
    const char *p = strrchr(stat, ')');
    if (!p || index < 3)
        return false;
    p++;
    for (int field = 3; field <= index; field++) {
        while (*p == ' ')
            p++;
        if (!*p)
            return false;
        if (field == index) {
            char *end;
            *out = strtoull(p, &end, 10);
            return end != p;
        }
        while (*p && *p != ' ')
            p++;
    }
    return false;
}

static bool read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n > 0;
}

static bool boot_time(unsigned long long *out)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return false;
    char line[256];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f))
        found = sscanf(line, "btime %llu", out) == 1;
    fclose(f);
    return found;
}

static long count_open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return -1;
    long n = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)))
        if (entry->d_name[0] != '.')
            n++;
    closedir(dir);
    /* The listing includes the descriptor opendir itself used. */
    return n - 1;
}

static void write_process_metrics(FILE *f)
{
    long page = sysconf(_SC_PAGESIZE);
    long ticks = sysconf(_SC_CLK_TCK);
    char buf[1024];
    unsigned long long size, resident;
    if (page > 0 && read_file("/proc/self/statm", buf, sizeof(buf)) &&
        sscanf(buf, "%llu %llu", &size, &resident) == 2) {
        write_process_metric(f, "process_resident_memory_bytes",
                             "Resident memory size in bytes.", METRIC_GAUGE,
                             (double)resident * (double)page);
        write_process_metric(f, "process_virtual_memory_bytes",
                             "Virtual memory size in bytes.", METRIC_GAUGE,
                             (double)size * (double)page);
    }
    unsigned long long utime, stime, start, btime;
    if (ticks > 0 && read_file("/proc/self/stat", buf, sizeof(buf))) {
        if (proc_stat_field(buf, 14, &utime) && proc_stat_field(buf, 15, &stime))
            write_process_metric(f, "process_cpu_seconds_total",
                                 "Total user and system CPU time spent in seconds.",
                                 METRIC_COUNTER, (double)(utime + stime) / (double)ticks);
        if (proc_stat_field(buf, 22, &start) && boot_time(&btime))
            write_process_metric(f, "process_start_time_seconds",
                                 "Start time of the process since unix epoch in seconds.",
                                 METRIC_GAUGE,
                                 (double)btime + (double)start / (double)ticks);
    }
    long fds = count_open_fds();
    if (fds >= 0)
        write_process_metric(f, "process_open_fds", "Number of open file descriptors.",
                             METRIC_GAUGE, (double)fds);
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0)
        write_process_metric(f, "process_max_fds",
                             "Maximum number of open file descriptors.", METRIC_GAUGE,
                             limit.rlim_cur == RLIM_INFINITY ? INFINITY
                                                             : (double)limit.rlim_cur);
}

char *metrics_render(metrics_t *self)
{
    if (!self)
        return NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < self->nfamilies; i++)
        write_family(f, &self->families[i]);
    pthread_mutex_unlock(&self->lock);
    write_process_metrics(f);
    bool failed = ferror(f) != 0;
    if (fclose(f) != 0 || failed) {
        free(text);
        return NULL;
    }
    return text;
}
