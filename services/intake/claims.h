/* claims: the /v1/claims routes of intake (the claims register: JKM claims
 * opened by the database on a death, JKK claims recorded by regency and
 * admin keys, their steps) and the loss-ratio report,
 * /v1/reports/loss-ratio. */
#ifndef LINDUNG_CLAIMS_H
#define LINDUNG_CLAIMS_H
#include <stdbool.h>
#include "route.h"

/* Handle the request if its path is under /v1/claims or is
 * /v1/reports/loss-ratio; false otherwise. */
bool claims_route(route_ctx_t *ctx, const http_request_t *req, http_response_t *res);
#endif
