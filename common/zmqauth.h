/* zmqauth: how one process authenticates its ZeroMQ sockets, read from the
 * environment (docs/operations.md, "ZeroMQ security"):
 *
 *   LINDUNG_ZMQ_SERVER_SECRET_FILE   servers (the sockets intake and billing bind)
 *   LINDUNG_ZMQ_AUTHORIZED_KEYS_DIR  servers: the client public keys let in
 *   LINDUNG_ZMQ_SERVER_PUBLIC_FILE   clients (verify, lindungctl)
 *   LINDUNG_ZMQ_CLIENT_SECRET_FILE   clients: their own key
 *
 * With any of them set, CURVE is on: a server refuses every client whose
 * key is not authorized, and a process missing what its role needs does not
 * start. With none set the sockets stay open to any local process, as
 * before, and a warning says so. Not the key files themselves (zmqkeys.h). */
#ifndef LINDUNG_ZMQAUTH_H
#define LINDUNG_ZMQAUTH_H
#include <stdbool.h>
#include <stddef.h>
#include "metrics.h"

typedef enum { ZMQAUTH_SERVER, ZMQAUTH_CLIENT } zmqauth_role_t;

typedef struct zmqauth_t zmqauth_t;

/* Read the settings for `role` and, for a server with CURVE on, start its
 * ZAP handler in zmq_ctx (before any socket is bound: see zap.h). NULL with
 * err when CURVE is configured but incomplete, a key file is unreadable,
 * malformed or a secret others may read, or the directory is unsafe. */
zmqauth_t *zmqauth_new(void *zmq_ctx, zmqauth_role_t role, metrics_t *metrics, char *err,
                       size_t errcap);
/* After the sockets are closed, before zmq_ctx_term. */
void zmqauth_destroy(zmqauth_t **self_p);

bool zmqauth_enabled(const zmqauth_t *self);

/* Make `socket` a CURVE server or client (by role) before it binds or
 * connects; nothing when CURVE is off or self is NULL. -1 with err. */
int zmqauth_apply(const zmqauth_t *self, void *socket, char *err, size_t errcap);
#endif
