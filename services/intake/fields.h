/* fields: small checks and error entries that every route of intake reading
 * query parameters or bodies shares (invoices, claims, reports), so that a
 * 422's entries and a scope's name read the same everywhere. Not parsing of
 * submissions (submission.c, csvbody.c). */
#ifndef LINDUNG_FIELDS_H
#define LINDUNG_FIELDS_H
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include "scope.h"

/* Append {"field", "message"} to a 422's list of errors. */
void fields_add_error(cJSON *errors, const char *field, const char *message);

/* 1 to max decimal digits, nothing else (ids, cursors, limits). */
bool fields_all_digits(const char *s, size_t max);

/* value is one of the NULL-terminated list. */
bool fields_one_of(const char *value, const char *const *allowed);

/* "admin", "regency" or "village": the scope's kind as the list SQL takes it. */
const char *fields_scope_kind(const scope_t *s);
#endif
