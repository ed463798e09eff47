/* invoices: not yet written (issue 3 and 5): every path under /v1/invoices
 * answers 501 until then. */
#include "invoices.h"
#include <string.h>

bool invoices_route(api_t *api, const http_request_t *req, http_response_t *res)
{
    (void)api;
    if (strncmp(req->path, "/v1/invoices", 12) != 0)
        return false;
    res->route = "/v1/invoices";
    http_response_error(res, 501, "NOT_IMPLEMENTED", "invoices are not served yet", NULL);
    return true;
}
