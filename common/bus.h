/* bus: the ZeroMQ sockets that carry envelopes between daemons. Publishing
 * never blocks and may drop a message (no subscriber, full queue): that is
 * safe because every consumer also sweeps the database. Not a queue. */
#ifndef LINDUNG_BUS_H
#define LINDUNG_BUS_H
#include <stdbool.h>
#include <stddef.h>
#include "envelope.h"
#include "metrics.h"
#include "zmqauth.h"

typedef struct bus_t bus_t;

typedef enum { BUS_PUBLISHER, BUS_SUBSCRIBER } bus_kind_t;

/* Open one socket on `endpoint`, binding or connecting. A subscriber receives
 * every topic. `auth` (may be NULL: none) gives it the process's CURVE role
 * (zmqauth.h): servers bind, clients connect. `metrics` (may be NULL) counts
 * messages by type and direction. NULL on failure, with a message in err. */
bus_t *bus_new(void *zmq_ctx, bus_kind_t kind, const char *endpoint, bool bind,
               const zmqauth_t *auth, metrics_t *metrics, char *err, size_t errcap);
void bus_destroy(bus_t **self_p);

/* Publish without blocking; thread-safe. 0 sent, -1 dropped. */
int bus_send(bus_t *self, const envelope_t *env);

/* Receive one waiting envelope of a known type without blocking: 0 got one,
 * -1 none waiting. Junk and unknown types on the way are counted under
 * type="unknown" and dropped. */
int bus_recv(bus_t *self, envelope_t *out);

/* The raw socket, for zmq_poll. */
void *bus_socket(bus_t *self);

/* Read pending connect/disconnect events; call from the thread that owns the
 * bus, now and then (main loops do). */
void bus_update(bus_t *self);

/* Thread-safe: a bound socket is ready; a connecting one once a peer has
 * completed its handshake. Otherwise fills why (with the last failed
 * handshake, if any: wrong or missing keys). */
bool bus_ready(bus_t *self, char *why, size_t whycap);
#endif
