/* config: daemon settings read from environment variables, with defaults that
 * work on a developer's machine. Not for parsing command lines or files. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

const char *config_str(const char *name, const char *fallback)
{
    const char *value = name ? getenv(name) : NULL;
    /* An empty variable is how compose files and shells "unset" things, so it
     * means the default rather than an empty setting. */
    if (!value || !*value)
        return fallback;
    return value;
}

static void set_error(char *err, unsigned errcap, const char *name, long min, long max,
                      const char *value)
{
    if (!err || errcap == 0)
        return;
    snprintf(err, errcap, "%s: expected an integer from %ld to %ld, got '%s'", name, min,
             max, value);
}

int config_int(const char *name, long fallback, long min, long max, long *out, char *err,
               unsigned errcap)
{
    const char *value = config_str(name, NULL);
    if (err && errcap > 0)
        err[0] = '\0';
    if (!out)
        return -1;
    if (!value) {
        *out = fallback;
        return 0;
    }
    /* strtol quietly skips leading blanks and stops at trailing junk; both
     * usually mean a typo in the deployment, so neither is accepted. */
    char *end = NULL;
    errno = 0;
    long parsed = strtol(value, &end, 10);
    bool whole = end != value && *end == '\0' && !isspace((unsigned char)value[0]);
    if (!whole || errno == ERANGE || parsed < min || parsed > max) {
        set_error(err, errcap, name, min, max, value);
        return -1;
    }
    *out = parsed;
    return 0;
}
