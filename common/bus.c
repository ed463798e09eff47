/* bus: PUB/SUB with the libzmq defaults that hide trouble set deliberately:
 * linger 0 (a stopping daemon must not hang on unsent prompts), high-water
 * marks raised to 10,000 (a burst of submissions should not drop wake-ups
 * needlessly), and DONTWAIT on send (intake must never block a client on the
 * bus). A dropped prompt costs at most one sweep interval of latency. */
#include "bus.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include "log.h"

#define BUS_HWM 10000

struct bus_t {
    void *socket;
    bus_kind_t kind;
    metrics_t *metrics;
    pthread_mutex_t lock; /* zmq sockets are not thread-safe; intake sends from many */
    char endpoint[128];
    void *monitor;    /* PAIR receiving connect/disconnect events; NULL when bound */
    atomic_int peers; /* connected peers of a connecting socket */
};

static void bus_count(bus_t *self, const char *direction, const char *type)
{
    if (!self->metrics)
        return;
    char type_esc[96], labels[160];
    metrics_escape_label(type, type_esc, sizeof type_esc);
    snprintf(labels, sizeof labels, "type=\"%s\"", type_esc);
    if (strcmp(direction, "sent") == 0)
        metrics_counter_add(self->metrics, "lindung_bus_messages_sent_total",
                            "ZeroMQ messages published, by type.", labels, 1);
    else if (strcmp(direction, "received") == 0)
        metrics_counter_add(self->metrics, "lindung_bus_messages_received_total",
                            "ZeroMQ messages received, by type.", labels, 1);
    else
        metrics_counter_add(self->metrics, "lindung_bus_messages_dropped_total",
                            "ZeroMQ messages not published (no peer or full queue).",
                            labels, 1);
}

/* A connecting socket learns whether its peer is there only from libzmq's
 * socket monitor: events arrive on an inproc PAIR that bus_update reads. */
static void bus_watch(bus_t *self, void *zmq_ctx)
{
    char address[64];
    snprintf(address, sizeof address, "inproc://lindung-bus-%p", (void *)self);
    if (zmq_socket_monitor(self->socket, address,
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) != 0)
        return;
    self->monitor = zmq_socket(zmq_ctx, ZMQ_PAIR);
    int linger = 0;
    zmq_setsockopt(self->monitor, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(self->monitor, address) != 0) {
        zmq_close(self->monitor);
        self->monitor = NULL;
    }
}

bus_t *bus_new(void *zmq_ctx, bus_kind_t kind, const char *endpoint, bool bind,
               metrics_t *metrics, char *err, size_t errcap)
{
    void *sock = zmq_socket(zmq_ctx, kind == BUS_PUBLISHER ? ZMQ_PUB : ZMQ_SUB);
    if (!sock) {
        snprintf(err, errcap, "zmq_socket: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int linger = 0, hwm = BUS_HWM;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (kind == BUS_SUBSCRIBER)
        zmq_setsockopt(sock, ZMQ_SUBSCRIBE, "", 0);
    bus_t *self = calloc(1, sizeof *self);
    self->socket = sock;
    self->kind = kind;
    self->metrics = metrics;
    snprintf(self->endpoint, sizeof self->endpoint, "%s", endpoint);
    pthread_mutex_init(&self->lock, NULL);
    /* Watch before connecting, or the first CONNECTED event is missed. */
    if (!bind)
        bus_watch(self, zmq_ctx);
    int rc = bind ? zmq_bind(sock, endpoint) : zmq_connect(sock, endpoint);
    if (rc != 0) {
        snprintf(err, errcap, "%s %s: %s", bind ? "bind" : "connect", endpoint,
                 zmq_strerror(zmq_errno()));
        bus_destroy(&self);
        return NULL;
    }
    return self;
}

void bus_destroy(bus_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bus_t *self = *self_p;
    if (self->monitor) {
        zmq_socket_monitor(self->socket, NULL, 0);
        zmq_close(self->monitor);
    }
    zmq_close(self->socket);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

int bus_send(bus_t *self, const envelope_t *env)
{
    char *json = envelope_encode(env);
    if (!json)
        return -1;
    pthread_mutex_lock(&self->lock);
    int rc =
        zmq_send(self->socket, env->type, strlen(env->type), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc >= 0)
        rc = zmq_send(self->socket, json, strlen(json), ZMQ_DONTWAIT);
    pthread_mutex_unlock(&self->lock);
    free(json);
    bus_count(self, rc >= 0 ? "sent" : "dropped", env->type);
    return rc >= 0 ? 0 : -1;
}

/* Read one whole multipart message; true when it had exactly a topic and a body. */
static bool bus_read_parts(void *sock, zmq_msg_t *body)
{
    int parts = 0;
    bool more = true;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            return false;
        }
        more = zmq_msg_more(&part);
        if (++parts == 2) {
            zmq_msg_move(body, &part);
        }
        zmq_msg_close(&part);
    }
    return parts == 2;
}

int bus_recv(bus_t *self, envelope_t *out)
{
    zmq_msg_t body;
    zmq_msg_init(&body);
    bool whole = bus_read_parts(self->socket, &body);
    int rc = -1;
    if (whole)
        rc = envelope_decode(zmq_msg_data(&body), zmq_msg_size(&body), out);
    zmq_msg_close(&body);
    if (rc == 0)
        bus_count(self, "received", out->type);
    else if (whole)
        log_warn("bus.junk", "detail", "a message that is not an envelope was ignored");
    return rc;
}

void *bus_socket(bus_t *self)
{
    return self->socket;
}

void bus_update(bus_t *self)
{
    while (self->monitor) {
        zmq_msg_t event, address;
        zmq_msg_init(&event);
        if (zmq_msg_recv(&event, self->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&event);
            return;
        }
        uint16_t id = 0;
        if (zmq_msg_size(&event) >= sizeof id)
            memcpy(&id, zmq_msg_data(&event), sizeof id);
        zmq_msg_init(&address); /* the second frame names the endpoint */
        if (zmq_msg_more(&event))
            zmq_msg_recv(&address, self->monitor, 0);
        zmq_msg_close(&address);
        zmq_msg_close(&event);
        if (id == ZMQ_EVENT_CONNECTED)
            atomic_fetch_add(&self->peers, 1);
        else if (id == ZMQ_EVENT_DISCONNECTED && atomic_load(&self->peers) > 0)
            atomic_fetch_sub(&self->peers, 1);
    }
}

bool bus_ready(bus_t *self, char *why, size_t whycap)
{
    if (!self->monitor || atomic_load(&self->peers) > 0)
        return true;
    snprintf(why, whycap, "zeromq: no peer at %s", self->endpoint);
    return false;
}
