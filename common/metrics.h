/* metrics: a small in-process registry rendered in the Prometheus text
 * exposition format (version 0.0.4). Thread-safe. Not a client library: no
 * push, no summaries. Families are created on first use. */
#ifndef LINDUNG_METRICS_H
#define LINDUNG_METRICS_H
#include <stddef.h>

typedef struct metrics_t metrics_t;

metrics_t *metrics_new(void);
void metrics_destroy(metrics_t **self_p);

/* `labels` is NULL or a label list as it appears inside braces, already
 * escaped, e.g. "route=\"/v1/submissions\",status=\"202\"". Counter names
 * must end in _total. A name is always registered with one type. Breaking
 * these rules is a programming error: the call is ignored (no sample, no
 * crash), as are invalid metric names, names starting with process_ (those
 * are rendered by metrics_render itself), negative or NaN counter steps and
 * NaN observations. */
void metrics_counter_add(metrics_t *self, const char *name, const char *help,
                         const char *labels, double value);
void metrics_gauge_set(metrics_t *self, const char *name, const char *help,
                       const char *labels, double value);
/* `bounds` ascending upper bounds without +Inf; fixed at the family's first use. */
void metrics_histogram_observe(metrics_t *self, const char *name, const char *help,
                               const char *labels, const double *bounds, size_t nbounds,
                               double value);

/* Escape a label value (backslash, double quote, newline) into out (cap bytes). */
void metrics_escape_label(const char *value, char *out, size_t cap);

/* The whole exposition, with the process_ metrics (resident memory, CPU seconds,
 * start time, open fds, max fds) appended. Caller frees. */
char *metrics_render(metrics_t *self);
#endif
