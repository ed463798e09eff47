/* api: the dispatcher of lindung-intake's HTTP routes (docs/api.md): the
 * httpd handler and admit hook that hand each request to its route module.
 * The routes' shared layer is route.h; not the HTTP server (common/httpd). */
#ifndef LINDUNG_API_H
#define LINDUNG_API_H
#include "httpd.h"
#include "route.h"

/* An httpd_handler_fn; arg is the daemon's route_ctx_t. */
void api_handle(const http_request_t *req, http_response_t *res, void *arg);
/* An httpd_admit_fn: reads a body only for a route that takes one, with a
 * good key and a media type the route takes; the key check made is kept
 * for the handler (an admission_t, taken by route_authenticate). */
bool api_admit(const http_request_t *req, http_response_t *res, void **keep, void *arg);
#endif
