/* reports: GET /v1/reports/participants, participants against target per
 * village, district or regency (db/migrations/022_reports.sql). The
 * loss-ratio report, /v1/reports/loss-ratio, is claims.c's. */
#ifndef LINDUNG_REPORTS_H
#define LINDUNG_REPORTS_H
#include <stdbool.h>
#include "route.h"

/* Handle the request if its path is /v1/reports/participants; false otherwise. */
bool reports_route(route_ctx_t *ctx, const http_request_t *req, http_response_t *res);
#endif
