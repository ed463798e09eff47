/* fields: small checks and error entries that every route of intake reading
 * query parameters or bodies shares (submissions, events, invoices, claims,
 * reports), so that a 422's entries and a scope's name read the same
 * everywhere. Not parsing of submissions (submission.c, csvbody.c). */
#ifndef LINDUNG_FIELDS_H
#define LINDUNG_FIELDS_H
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include "httpd.h"
#include "scope.h"

/* A 422 lists at most this many problems. Past it they are counted, not
 * listed: one last entry {"field": "details", "truncated": true, "total": N,
 * "message"} says how many there were in all. Bounds the memory and the
 * answer of a request that is wrong everywhere (docs/api.md, "Limits"). */
#define FIELDS_MAX_ERRORS 1000

/* An Idempotency-Key header: 1 to this many bytes (docs/api.md). */
#define FIELDS_MAX_IDEMPOTENCY_KEY 200

/* Append `entry` (an error object; ownership taken) to a 422's list of
 * errors, or count it when the list is full. O(1): cJSON arrays are linked
 * lists, so the count is kept with the list rather than walked. */
void fields_append_error(cJSON *errors, cJSON *entry);

/* Append {"field", "message"} to a 422's list of errors. */
void fields_add_error(cJSON *errors, const char *field, const char *message);

/* Append {"field", "index", "message"} (the index-th item of the field's
 * list; no "index" when index < 0) to a 422's list of errors. */
void fields_add_index_error(cJSON *errors, const char *field, int index,
                            const char *message);

/* Problems appended to `errors` so far, listed or only counted. O(1). A
 * NULL list (cJSON_CreateArray out of memory) counts 1, so that the request
 * is refused; route_answer_error then answers it as out of memory. */
int fields_error_count(const cJSON *errors);

/* Count one problem more and mark the list as not whole: memory ran out
 * while checking (the request is then refused, answered 500). */
void fields_no_memory(cJSON *errors);

/* False when `errors` is NULL or lost an entry for want of memory: it must
 * not be answered as a 422 (route_answer_error answers 500 instead). */
bool fields_errors_whole(const cJSON *errors);

/* Move every problem of `from` (listed or counted) to the end of `to`,
 * leaving `from` empty. */
void fields_move_errors(cJSON *from, cJSON *to);

/* The last entry of a full list, which only counts; false for any other. */
bool fields_is_truncation(const cJSON *entry);

/* 1 to max decimal digits, nothing else (ids, cursors, limits). */
bool fields_all_digits(const char *s, size_t max);

/* value is one of the NULL-terminated list. */
bool fields_one_of(const char *value, const char *const *allowed);

/* "admin", "regency" or "village": the scope's kind as the list SQL takes it. */
const char *fields_scope_kind(const scope_t *s);

/* May a key of this scope see the programmes of the regency? Admin: every
 * regency; a regency key: its own; a village key: its village's. A programme
 * it may not see is answered exactly like one that does not exist. */
bool fields_scope_sees_regency(const scope_t *s, const char *regency_code);

/* The query parameter `name` into *value (NULL when absent). False when its
 * value holds a NUL: MHD decodes %00 into the value, and a C string such as
 * http_request_query's would silently end there ("16.04.01.2001%00x" would
 * read as "16.04.01.2001"). */
bool fields_query_text(const http_request_t *req, const char *name, const char **value);

/* `s` (len bytes) is valid UTF-8 (no overlong forms, surrogates or code
 * points past U+10FFFF) and holds no NUL byte. */
bool fields_text_ok(const char *s, size_t len);
#endif
