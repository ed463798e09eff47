/* reads: the read-only routes of intake that are not submissions or
 * invoices: /v1/participants/{nik}, /v1/programs, /v1/programs/{code}/villages,
 * /v1/programs/{code}/renewal. */
#ifndef LINDUNG_READS_H
#define LINDUNG_READS_H
#include <stdbool.h>
#include "route.h"

/* Handle the request if its path is one of ours; false otherwise. */
bool reads_route(route_ctx_t *ctx, const http_request_t *req, http_response_t *res);
#endif
