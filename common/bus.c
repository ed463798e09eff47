/* bus: PUB/SUB with the libzmq defaults that hide trouble set deliberately:
 * linger 0 (a stopping daemon must not hang on unsent prompts), high-water
 * marks raised to 10,000 (a burst of submissions should not drop wake-ups
 * needlessly), and DONTWAIT on send (intake must never block a client on the
 * bus). A dropped prompt costs at most one sweep interval of latency.
 * With CURVE on (zmqauth.h) the binding side is the CURVE server; whatever
 * arrives is still only a prompt, and a message that is not an envelope of
 * a known type is counted under one label and dropped, so a peer cannot
 * make new metric series or wake a consumer with junk. */
#include "bus.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>
#include "log.h"

#define BUS_HWM 10000
#define BUS_MAX_SKIP 100    /* junk messages dropped in one bus_recv call */
#define BUS_WARN_EVERY_S 60 /* the same warning at most this often */
#define BUS_UNKNOWN_TYPE "unknown"

struct bus_t {
    void *socket;
    bus_kind_t kind;
    metrics_t *metrics;
    pthread_mutex_t lock; /* zmq sockets are not thread-safe; intake sends from many */
    char endpoint[128];
    void *monitor;         /* PAIR receiving connect/disconnect events; NULL when bound */
    atomic_int peers;      /* peers of a connecting socket that completed a handshake */
    char failure[256];     /* the last failed handshake, for readiness; under lock */
    time_t failure_logged; /* when a failed handshake was last logged */
    time_t junk_logged;    /* when junk was last logged as a warning */
    long junk_quiet;       /* junk messages since then */
};

/* The metric label for a message type: the types lindung sends, or one
 * label for everything else (label values must stay a small fixed set). */
static const char *bus_label(const char *type)
{
    if (strcmp(type, ENVELOPE_SUBMISSION_RECEIVED) == 0 ||
        strcmp(type, ENVELOPE_ENROLMENTS_CHANGED) == 0)
        return type;
    return BUS_UNKNOWN_TYPE;
}

static void bus_count(bus_t *self, const char *direction, const char *type)
{
    if (!self->metrics)
        return;
    char labels[96];
    snprintf(labels, sizeof labels, "type=\"%s\"", bus_label(type));
    if (strcmp(direction, "sent") == 0)
        metrics_counter_add(self->metrics, "lindung_bus_messages_sent_total",
                            "ZeroMQ messages published, by type.", labels, 1);
    else if (strcmp(direction, "received") == 0)
        metrics_counter_add(self->metrics, "lindung_bus_messages_received_total",
                            "ZeroMQ messages received, by type (\"unknown\": "
                            "not an envelope of a known type, dropped).",
                            labels, 1);
    else
        metrics_counter_add(self->metrics, "lindung_bus_messages_dropped_total",
                            "ZeroMQ messages not published (no peer or full queue).",
                            labels, 1);
}

/* A connecting socket learns whether its peer is there only from libzmq's
 * socket monitor: events arrive on an inproc PAIR that bus_update reads. A
 * peer counts once its handshake succeeded (with CURVE, once the server
 * proved its key and let this client in), not at TCP connect. */
static void bus_watch(bus_t *self, void *zmq_ctx)
{
    char address[64];
    snprintf(address, sizeof address, "inproc://lindung-bus-%p", (void *)self);
    int events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    if (zmq_socket_monitor(self->socket, address, events) != 0)
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
               const zmqauth_t *auth, metrics_t *metrics, char *err, size_t errcap)
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
    if (zmqauth_apply(auth, sock, err, errcap) != 0) {
        zmq_close(sock);
        return NULL;
    }
    bus_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errcap, "out of memory");
        zmq_close(sock);
        return NULL;
    }
    self->socket = sock;
    self->kind = kind;
    self->metrics = metrics;
    snprintf(self->endpoint, sizeof self->endpoint, "%s", endpoint);
    pthread_mutex_init(&self->lock, NULL);
    /* Watch before connecting, or the first handshake event is missed. */
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

typedef enum { BUS_READ_NONE, BUS_READ_WHOLE, BUS_READ_JUNK } bus_read_t;

/* Read one whole multipart message: WHOLE when it had exactly a topic and a
 * body (the body moved into `body`), NONE when nothing was waiting. */
static bus_read_t bus_read_parts(void *sock, zmq_msg_t *body)
{
    int parts = 0;
    bool more = true;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            return parts == 0 ? BUS_READ_NONE : BUS_READ_JUNK;
        }
        more = zmq_msg_more(&part);
        if (++parts == 2)
            zmq_msg_move(body, &part);
        zmq_msg_close(&part);
    }
    return parts == 2 ? BUS_READ_WHOLE : BUS_READ_JUNK;
}

/* A warning for the first junk message, then at most one a minute with the
 * count since: junk from a peer in a loop must not flood the log. */
static void bus_junk(bus_t *self)
{
    time_t now = time(NULL);
    if (now - self->junk_logged < BUS_WARN_EVERY_S) {
        self->junk_quiet++;
        return;
    }
    char quiet[24];
    snprintf(quiet, sizeof quiet, "%ld", self->junk_quiet);
    log_warn("bus.junk", "endpoint", self->endpoint, "detail",
             "a message that is not an envelope of a known type was dropped",
             "dropped_quietly_before", quiet);
    self->junk_logged = now;
    self->junk_quiet = 0;
}

/* Take one message: 1 an envelope of a known type, 0 junk (dropped), -1
 * nothing waiting. */
static int bus_take(bus_t *self, envelope_t *out)
{
    zmq_msg_t body;
    zmq_msg_init(&body);
    bus_read_t got = bus_read_parts(self->socket, &body);
    bool ok = got == BUS_READ_WHOLE &&
              envelope_decode(zmq_msg_data(&body), zmq_msg_size(&body), out) == 0 &&
              strcmp(bus_label(out->type), BUS_UNKNOWN_TYPE) != 0;
    zmq_msg_close(&body);
    if (got == BUS_READ_NONE)
        return -1;
    bus_count(self, "received", ok ? out->type : BUS_UNKNOWN_TYPE);
    if (!ok)
        bus_junk(self);
    return ok ? 1 : 0;
}

int bus_recv(bus_t *self, envelope_t *out)
{
    for (int i = 0; i < BUS_MAX_SKIP; i++) {
        int got = bus_take(self, out);
        if (got != 0)
            return got > 0 ? 0 : -1;
    }
    return -1;
}

void *bus_socket(bus_t *self)
{
    return self->socket;
}

/* Why a handshake failed, in words an operator can act on. */
static void bus_describe_failure(uint16_t id, uint32_t value, char *out, size_t cap)
{
    if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        snprintf(out, cap,
                 "the server refused this client's key (ZAP status %u): is its public "
                 "key in the server's LINDUNG_ZMQ_AUTHORIZED_KEYS_DIR?",
                 (unsigned)value);
    else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        snprintf(out, cap,
                 "handshake failed (ZMTP error 0x%x): do both ends have the same "
                 "LINDUNG_ZMQ_* settings (keys on one end only)?",
                 (unsigned)value);
    else
        snprintf(out, cap,
                 "handshake failed: the server closed the connection (wrong "
                 "LINDUNG_ZMQ_SERVER_PUBLIC_FILE, or keys on one end only?)");
}

/* Remember a failed handshake for readiness and log it, the same text at
 * most once a minute: libzmq retries every 100 ms. */
static void bus_handshake_failed(bus_t *self, uint16_t id, uint32_t value)
{
    char text[sizeof self->failure];
    bus_describe_failure(id, value, text, sizeof text);
    pthread_mutex_lock(&self->lock);
    bool same = strcmp(text, self->failure) == 0;
    snprintf(self->failure, sizeof self->failure, "%s", text);
    pthread_mutex_unlock(&self->lock);
    time_t now = time(NULL);
    if (same && now - self->failure_logged < BUS_WARN_EVERY_S)
        return;
    log_warn("bus.handshake_failed", "endpoint", self->endpoint, "detail", text);
    self->failure_logged = now;
}

static void bus_event(bus_t *self, uint16_t id, uint32_t value)
{
    if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        atomic_fetch_add(&self->peers, 1);
        pthread_mutex_lock(&self->lock);
        self->failure[0] = '\0';
        pthread_mutex_unlock(&self->lock);
    } else if (id == ZMQ_EVENT_DISCONNECTED) {
        if (atomic_load(&self->peers) > 0)
            atomic_fetch_sub(&self->peers, 1);
    } else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ||
               id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
               id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        bus_handshake_failed(self, id, value);
    }
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
        uint32_t value = 0;
        if (zmq_msg_size(&event) >= sizeof id + sizeof value) {
            memcpy(&id, zmq_msg_data(&event), sizeof id);
            memcpy(&value, (char *)zmq_msg_data(&event) + sizeof id, sizeof value);
        }
        zmq_msg_init(&address); /* the second frame names the endpoint */
        if (zmq_msg_more(&event))
            zmq_msg_recv(&address, self->monitor, 0);
        zmq_msg_close(&address);
        zmq_msg_close(&event);
        bus_event(self, id, value);
    }
}

bool bus_ready(bus_t *self, char *why, size_t whycap)
{
    if (!self->monitor || atomic_load(&self->peers) > 0)
        return true;
    pthread_mutex_lock(&self->lock);
    if (self->failure[0])
        snprintf(why, whycap, "zeromq: %s: %s", self->endpoint, self->failure);
    else
        snprintf(why, whycap, "zeromq: no peer at %s", self->endpoint);
    pthread_mutex_unlock(&self->lock);
    return false;
}
