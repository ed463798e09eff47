/* submissions: the /v1/submissions routes of intake: a list of applicants
 * submitted (JSON or CSV, with an optional Idempotency-Key) and a submission
 * read back with each applicant's decision. */
#ifndef LINDUNG_SUBMISSIONS_H
#define LINDUNG_SUBMISSIONS_H
#include <stdbool.h>
#include "route.h"

/* Handle the request if its path is /v1/submissions or under it; false
 * otherwise. */
bool submissions_route(route_ctx_t *ctx, const http_request_t *req, http_response_t *res);
#endif
