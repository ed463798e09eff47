/* api: the HTTP routes of lindung-intake (docs/api.md). Each worker thread
 * keeps its own database connection. Not the HTTP server (common/httpd). */
#ifndef LINDUNG_API_H
#define LINDUNG_API_H
#include "bus.h"
#include "httpd.h"
#include "metrics.h"

typedef struct {
    const char *conninfo;
    bus_t *bus;         /* submission.received goes here */
    metrics_t *metrics;
} api_t;

void api_handle(const http_request_t *req, http_response_t *res, void *arg);
#endif
