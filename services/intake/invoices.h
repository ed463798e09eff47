/* invoices: the /v1/invoices routes of intake: documents (invoices,
 * supplementary invoices, credit notes) listed and read with their items
 * (JSON or CSV), and payments recorded against them, optionally naming the
 * lines they pay or leave unpaid. */
#ifndef LINDUNG_INVOICES_H
#define LINDUNG_INVOICES_H
#include <stdbool.h>
#include "route.h"

/* Handle the request if its path is under /v1/invoices; false otherwise. */
bool invoices_route(route_ctx_t *ctx, const http_request_t *req, http_response_t *res);
#endif
