/* api: lindung-intake's dispatcher: which route module answers a request
 * (api_handle) and whether its body is read at all (api_admit). The routes
 * themselves live in their modules (submissions, invoices, claims, events,
 * reads, reports) over the request layer of route.h. */
#include "api.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "claims.h"
#include "events.h"
#include "invoices.h"
#include "reads.h"
#include "reports.h"
#include "submission.h"
#include "submissions.h"

/* ---------------------------------------------------------------- admission */

/* How the route a request goes to reads its body. */
typedef enum { BODY_UNREAD, BODY_JSON, BODY_JSON_OR_CSV } body_use_t;

/* path is prefix, then min to max bytes without a '/', then suffix. */
static bool path_between(const char *path, const char *prefix, const char *suffix,
                         size_t min, size_t max)
{
    size_t n = strlen(path), p = strlen(prefix), s = strlen(suffix);
    if (n < p + s || strncmp(path, prefix, p) != 0 || strcmp(path + n - s, suffix) != 0)
        return false;
    size_t mid = n - p - s;
    return mid >= min && mid <= max && !memchr(path + p, '/', mid);
}

/* The body-reading routes exactly as api_handle and the route modules
 * dispatch them; any other request is answered without its body. A new
 * route that reads a body must be added here, or it gets an empty one. */
static body_use_t body_use(const http_request_t *req)
{
    const char *path = req->path;
    if (strcmp(req->method, "POST") != 0)
        return BODY_UNREAD;
    if (strcmp(path, "/v1/submissions") == 0 || strcmp(path, "/v1/events") == 0)
        return BODY_JSON_OR_CSV;
    if (strcmp(path, "/v1/claims") == 0 || strcmp(path, "/v1/claims/") == 0 ||
        path_between(path, "/v1/claims/", "/steps", 0, SIZE_MAX) ||
        path_between(path, "/v1/invoices/", "/payments", 0, SIZE_MAX) ||
        path_between(path, "/v1/participants/", "/events", 1, SUBMISSION_MAX_NIK))
        return BODY_JSON;
    return BODY_UNREAD;
}

static bool media_type_fits(const http_request_t *req, body_use_t use)
{
    return http_request_media_type_is(req, "application/json") ||
           (use == BODY_JSON_OR_CSV && http_request_media_type_is(req, "text/csv"));
}

/* A request with a body is read only when its route reads bodies, its key
 * is good and its media type is one the route takes. Otherwise the answer
 * is the route's own to the request without its body: every route checks
 * its method, key and media type before it reads a body (and writes
 * nothing before), so that answer is the one the body would have had. */
bool api_admit(const http_request_t *req, http_response_t *res, void **keep, void *arg)
{
    route_ctx_t *ctx = arg;
    body_use_t use = body_use(req);
    if (use == BODY_UNREAD) {
        api_handle(req, res, ctx);
        return false;
    }
    admission_t adm = {0};
    adm.result =
        auth_check(route_db(ctx), http_request_header(req, "Authorization"), &adm.auth);
    if (adm.result != AUTH_OK || !media_type_fits(req, use)) {
        http_request_t judged = *req;
        judged.admitted = &adm;
        api_handle(&judged, res, ctx);
        return false;
    }
    admission_t *kept = malloc(sizeof *kept);
    if (kept)
        *kept = adm; /* else the handler looks the key up again (route_authenticate) */
    *keep = kept;
    return true;
}

void api_handle(const http_request_t *req, http_response_t *res, void *arg)
{
    route_ctx_t *ctx = arg;
    if (invoices_route(ctx, req, res) || claims_route(ctx, req, res) ||
        events_route(ctx, req, res) || reads_route(ctx, req, res) ||
        reports_route(ctx, req, res) || submissions_route(ctx, req, res))
        return;
    http_response_not_found(res);
}
