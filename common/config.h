/* config: settings from environment variables with local defaults.
 * Every variable is listed in README.md ("Configuration"). Not for command lines. */
#ifndef LINDUNG_CONFIG_H
#define LINDUNG_CONFIG_H

/* The variable's value, or `fallback` when unset or empty. */
const char *config_str(const char *name, const char *fallback);

/* The variable as an integer in [min, max]; `fallback` when unset.
 * Returns -1 and fills err (a message) when set but not a number in range. */
int config_int(const char *name, long fallback, long min, long max, long *out, char *err,
               unsigned errcap);
#endif
