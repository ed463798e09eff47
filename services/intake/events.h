/* events: life events (death, moved, left) reported over the API,
 * POST /v1/participants/{nik}/events (one) and POST /v1/events (a batch, JSON
 * or CSV). Shape is checked here; the batch is stored in one transaction
 * and applied after, in parts (eventparts.h, 035_events_in_parts.sql), so an
 * answered event is applied and an unanswered one is either not stored or
 * stored and applied by a retry or by intake's sweep. docs/lifecycle.md. */
#ifndef LINDUNG_EVENTS_H
#define LINDUNG_EVENTS_H
#include <stdbool.h>
#include "route.h"

#define EVENTS_MAX 10000
#define EVENTS_MAX_REFERENCE 200
#define EVENTS_MAX_REASON 500

typedef enum {
    EVENTS_PARSE_OK = 0,
    EVENTS_PARSE_MALFORMED, /* not a JSON object / not RFC 4180 CSV in UTF-8: 400 */
    EVENTS_PARSE_INVALID    /* well-formed, but events or fields are wrong: 422 */
} events_parse_t;

/* The shape check of a request body, apart from HTTP and the database (so
 * that it can be tested and fuzzed alone): `body` (len bytes, may hold NULs)
 * as CSV with a header row (csv true, /v1/events only) or JSON; path_nik is
 * the per-person route's normalised NIK (the body is then one event object)
 * or NULL for a batch. Every problem is appended to `errors` as {"field",
 * "index"?, "message"}; on EVENTS_PARSE_OK `list` holds the normalised
 * events (each with "idx"), exactly what is stored. */
events_parse_t events_parse(const char *body, size_t len, bool csv, const char *path_nik,
                            cJSON *errors, cJSON *list);

/* Answers the event routes (405 for other methods there); false when the
 * path is not one of them. Call before reads_route, which owns the rest of
 * /v1/participants/. */
bool events_route(route_ctx_t *ctx, const http_request_t *req, http_response_t *res);

#endif
