/* zap: a thread with a REP socket on inproc://zeromq.zap.01. Every request
 * gets a reply, a malformed one a refusal, or libzmq would hold the
 * handshake (and REP its state machine) forever. The thread polls with a
 * short timeout to notice zap_destroy; handshakes are rare (daemons connect
 * once, lindungctl once a command), so reading the directory each time costs
 * nothing that matters. Refusals are logged at most once a minute as a
 * warning (the rest at debug, counted), so a peer knocking in a loop cannot
 * flood the log. */
#include "zap.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>
#include "log.h"
#include "zmqkeys.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_POLL_MS 200
#define ZAP_FRAMES                                                                       \
    7 /* version, request id, domain, address, identity, mechanism, key                  \
       */
#define ZAP_WARN_EVERY_S 60

struct zap_t {
    void *socket;
    char dir[4096];
    metrics_t *metrics;
    pthread_t thread;
    atomic_bool stop;
    time_t last_warn; /* the last refusal logged as a warning */
    long quiet;       /* refusals logged at debug since */
};

typedef struct {
    zmq_msg_t part[ZAP_FRAMES];
    int n;
} request_t;

/* Read one whole request; frames past ZAP_FRAMES are read and dropped. */
static void request_read(void *sock, request_t *req)
{
    req->n = 0;
    bool more = true;
    while (more) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, sock, 0) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        more = zmq_msg_more(&msg);
        if (req->n < ZAP_FRAMES) {
            zmq_msg_init(&req->part[req->n]);
            zmq_msg_move(&req->part[req->n++], &msg);
        }
        zmq_msg_close(&msg);
    }
}

static void request_close(request_t *req)
{
    for (int i = 0; i < req->n; i++)
        zmq_msg_close(&req->part[i]);
}

/* Frame i as a NUL-terminated string in out ("" when missing). The request
 * is not const here and below: zmq_msg_data takes a non-const message. */
static void frame_text(request_t *req, int i, char *out, size_t cap)
{
    if (i >= req->n) {
        out[0] = '\0';
        return;
    }
    zmq_msg_t *m = &req->part[i];
    size_t len = zmq_msg_size(m) < cap - 1 ? zmq_msg_size(m) : cap - 1;
    memcpy(out, zmq_msg_data(m), len);
    out[len] = '\0';
}

/* The client's public key in Z85 when the request is a CURVE one; false
 * otherwise. */
static bool client_key(request_t *req, char key[ZMQKEYS_LEN + 1])
{
    char version[8], mechanism[16];
    frame_text(req, 0, version, sizeof version);
    frame_text(req, 5, mechanism, sizeof mechanism);
    if (req->n != ZAP_FRAMES || strcmp(version, "1.0") != 0 ||
        strcmp(mechanism, "CURVE") != 0)
        return false;
    zmq_msg_t *cred = &req->part[6];
    if (zmq_msg_size(cred) != 32)
        return false;
    return zmq_z85_encode(key, zmq_msg_data(cred), 32) != NULL;
}

static void reply(void *sock, request_t *req, const char *status, const char *text,
                  const char *user)
{
    zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
    if (req->n > 1) {
        zmq_msg_t *id = &req->part[1];
        zmq_send(sock, zmq_msg_data(id), zmq_msg_size(id), ZMQ_SNDMORE);
    } else {
        zmq_send(sock, "", 0, ZMQ_SNDMORE);
    }
    zmq_send(sock, status, strlen(status), ZMQ_SNDMORE);
    zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(sock, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(sock, "", 0, 0); /* no metadata */
}

static void count(zap_t *self, const char *result)
{
    if (!self->metrics)
        return;
    char labels[32];
    snprintf(labels, sizeof labels, "result=\"%s\"", result);
    metrics_counter_add(self->metrics, "lindung_zmq_auth_total",
                        "ZeroMQ CURVE clients let in or refused by their public key.",
                        labels, 1);
}

static void log_refusal(zap_t *self, const char *key, const char *address,
                        const char *domain)
{
    time_t now = time(NULL);
    if (now - self->last_warn < ZAP_WARN_EVERY_S) {
        self->quiet++;
        log_debug("zmq.client_refused", "key", key, "address", address, "domain", domain);
        return;
    }
    char quiet[24];
    snprintf(quiet, sizeof quiet, "%ld", self->quiet);
    log_warn("zmq.client_refused", "key", key, "address", address, "domain", domain,
             "detail", "public key not in LINDUNG_ZMQ_AUTHORIZED_KEYS_DIR",
             "refused_quietly_before", quiet);
    self->last_warn = now;
    self->quiet = 0;
}

static void answer(zap_t *self)
{
    request_t req;
    request_read(self->socket, &req);
    char key[ZMQKEYS_LEN + 1] = "", name[ZMQKEYS_NAME_MAX + 1] = "";
    char address[64], domain[64];
    frame_text(&req, 3, address, sizeof address);
    frame_text(&req, 2, domain, sizeof domain);
    bool known =
        client_key(&req, key) && zmqkeys_authorized(self->dir, key, name, sizeof name);
    if (known) {
        reply(self->socket, &req, "200", "OK", name);
        log_info("zmq.client_accepted", "client", name, "address", address, "domain",
                 domain);
    } else {
        reply(self->socket, &req, "400", "unknown client key", "");
        log_refusal(self, key[0] ? key : "(not CURVE)", address, domain);
    }
    count(self, known ? "accepted" : "refused");
    request_close(&req);
}

static void *zap_loop(void *arg)
{
    zap_t *self = arg;
    while (!atomic_load(&self->stop)) {
        zmq_pollitem_t item = {.socket = self->socket, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, ZAP_POLL_MS) > 0)
            answer(self);
    }
    return NULL;
}

zap_t *zap_new(void *zmq_ctx, const char *authorized_dir, metrics_t *metrics, char *err,
               size_t errcap)
{
    void *sock = zmq_socket(zmq_ctx, ZMQ_REP);
    int linger = 0;
    if (sock)
        zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    if (!sock || zmq_bind(sock, ZAP_ENDPOINT) != 0) {
        snprintf(err, errcap, "ZAP handler: %s", zmq_strerror(zmq_errno()));
        if (sock)
            zmq_close(sock);
        return NULL;
    }
    zap_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errcap, "ZAP handler: out of memory");
        zmq_close(sock);
        return NULL;
    }
    self->socket = sock;
    self->metrics = metrics;
    snprintf(self->dir, sizeof self->dir, "%s", authorized_dir);
    atomic_init(&self->stop, false);
    /* The socket moves to the thread here; pthread_create is the full memory
     * barrier libzmq asks for when a socket changes threads. */
    if (pthread_create(&self->thread, NULL, zap_loop, self) != 0) {
        snprintf(err, errcap, "ZAP handler: cannot start its thread");
        zmq_close(sock);
        free(self);
        return NULL;
    }
    return self;
}

void zap_destroy(zap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zap_t *self = *self_p;
    atomic_store(&self->stop, true);
    pthread_join(self->thread, NULL);
    zmq_close(self->socket);
    free(self);
    *self_p = NULL;
}
