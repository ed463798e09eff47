/* jsonguard: a JSON request body is checked for what it could cost before
 * cJSON builds a tree of it. cJSON spends about 80 bytes on every value, so
 * an 8 MiB body of "[0,0,...]" became a 330 MB tree before anyone looked at
 * its shape. One pass over the raw bytes, allocating nothing, refuses a body
 * whose top level is not an object, that holds more values than the largest
 * valid request, that nests deeper than any request needs, or whose strings
 * hold a NUL (a raw byte or the escape \u0000, which cJSON would decode into
 * a C string and so silently cut the value there). Only then is it parsed.
 *
 * For: request bodies of intake's JSON routes. Not for: checking fields
 * (submission.c, events.c) or anything but JSON. Limits: docs/api.md. */
#ifndef LINDUNG_JSONGUARD_H
#define LINDUNG_JSONGUARD_H
#include <stddef.h>
#include <cjson/cJSON.h>

/* Every object, array, string, number, true, false and null is one value
 * (a member's name is not). The largest valid request, a submission of
 * 10,000 applicants with all nine fields, holds 100,005; twice that leaves
 * room for fields we ignore and still bounds a tree to about 16 MB. */
#define JSONGUARD_MAX_VALUES 200000
/* The top-level object is level 1; a submission's applicant is level 3. */
#define JSONGUARD_MAX_DEPTH 16

typedef enum {
    JSONGUARD_OK = 0,
    JSONGUARD_NOT_TEXT,   /* not UTF-8, or a raw NUL byte */
    JSONGUARD_NUL_ESCAPE, /* \u0000 in a string */
    JSONGUARD_NOT_OBJECT, /* the top level is not an object */
    JSONGUARD_TOO_MANY,   /* more than max_values values */
    JSONGUARD_TOO_DEEP,   /* nested deeper than max_depth */
    JSONGUARD_NOT_JSON    /* not one JSON value, or bytes after it */
} jsonguard_result_t;

/* The pass over raw bytes alone (no UTF-8 check, no parse). Exact for valid
 * JSON; on invalid JSON it may answer OK, and the parser then refuses it.
 * max_depth is at most 64. */
jsonguard_result_t jsonguard_scan(const char *body, size_t len, size_t max_values,
                                  int max_depth);

/* Check (UTF-8, then jsonguard_scan with the limits above) and parse the
 * whole body as one JSON object, white space allowed after it. JSONGUARD_OK
 * with the tree in *out (the caller's to cJSON_Delete), or why not with
 * *out NULL. */
jsonguard_result_t jsonguard_parse(const char *body, size_t len, cJSON **out);

/* Why, for a person, as the "message" of a {"field": "body"} entry:
 * "must be a JSON object", "has more than 200000 JSON values", ... */
const char *jsonguard_message(jsonguard_result_t result);
#endif
