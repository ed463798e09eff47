/* zap: the ZAP handler (ZeroMQ RFC 27) of one process. libzmq asks it, over
 * inproc://zeromq.zap.01 in the process's context, whether a client that
 * completed a CURVE handshake with one of the process's server sockets may
 * connect. Yes when the client's public key is in one of the authorized
 * directory's NAME.pub files, read again at every handshake: a key added or
 * removed counts from the next connection, without a restart. The client's
 * NAME becomes the messages' "User-Id" property. Not the key files
 * (zmqkeys.h) nor the socket options (zmqauth.h). */
#ifndef LINDUNG_ZAP_H
#define LINDUNG_ZAP_H
#include <stddef.h>
#include "metrics.h"

typedef struct zap_t zap_t;

/* Bind the handler in zmq_ctx and start its thread; it answers from then on,
 * so call it before binding any CURVE server socket (libzmq lets every
 * client in while no handler is bound). `metrics` (may be NULL) counts the
 * answers. NULL with err on failure (another handler already bound). */
zap_t *zap_new(void *zmq_ctx, const char *authorized_dir, metrics_t *metrics, char *err,
               size_t errcap);
/* Stop the thread and close its socket: after the server sockets are closed
 * and before zmq_ctx_term. */
void zap_destroy(zap_t **self_p);
#endif
