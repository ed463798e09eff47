/* httpguard: keeps slow or idle clients from holding every HTTP connection
 * of a daemon (docs/security.md, "HTTP limits"). Each connection
 * libmicrohttpd accepts is registered with a deadline that trickled bytes
 * do not move: its request head must be complete within header_timeout_s
 * of the connection opening (or of its previous answer), and a body must
 * keep up body_min_rate bytes a second on average after body_grace_s. A
 * thread shuts down connections past their deadline, and a connection
 * beyond max_connections makes room by shutting down the one that has
 * waited longest for its request head. Not the server: httpd.c calls it. */
#ifndef LINDUNG_HTTPGUARD_H
#define LINDUNG_HTTPGUARD_H
#include <stdbool.h>
#include <stddef.h>
#include <microhttpd.h>
#include "metrics.h"

typedef struct httpguard_t httpguard_t;
typedef struct httpguard_conn_t httpguard_conn_t;

typedef struct {
    int max_connections;
    int header_timeout_s;
    int body_grace_s;
    size_t body_min_rate; /* bytes per second, averaged over the whole body */
    metrics_t *metrics;   /* NULL: nothing counted */
} httpguard_config_t;

/* NULL when out of memory or its thread cannot start. */
httpguard_t *httpguard_new(const httpguard_config_t *config);
/* Only after the MHD daemon it watched has stopped. */
void httpguard_destroy(httpguard_t **self_p);

/* An MHD_NotifyConnectionCallback (MHD_OPTION_NOTIFY_CONNECTION) whose cls
 * is the guard. */
void httpguard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode code);
/* The guard's entry for a connection; NULL if it has none. */
httpguard_conn_t *httpguard_conn(struct MHD_Connection *conn);

/* The request head is in; a body follows or not. */
void httpguard_head_done(httpguard_t *self, httpguard_conn_t *c, bool body_follows);
void httpguard_body_read(httpguard_t *self, httpguard_conn_t *c, size_t bytes);
/* The request is being answered: no deadline but libmicrohttpd's idle timeout. */
void httpguard_answering(httpguard_t *self, httpguard_conn_t *c);
/* The answer went out: the connection waits for its next request head. */
void httpguard_request_done(httpguard_t *self, httpguard_conn_t *c);
#endif
