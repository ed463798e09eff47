/* zmqauth: CURVE settings of one process. "Configured" means any
 * LINDUNG_ZMQ_ variable is set: a half-configured process refuses to start
 * rather than fall back to open sockets, because the likely cause is a typo
 * in a deployment that meant to be closed. */
#include "zmqauth.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include "config.h"
#include "log.h"
#include "zap.h"
#include "zmqkeys.h"

#define ZMQAUTH_DOMAIN "lindung"

static const char *const VARS[] = {
    "LINDUNG_ZMQ_SERVER_SECRET_FILE", "LINDUNG_ZMQ_AUTHORIZED_KEYS_DIR",
    "LINDUNG_ZMQ_SERVER_PUBLIC_FILE", "LINDUNG_ZMQ_CLIENT_SECRET_FILE"};

struct zmqauth_t {
    zmqauth_role_t role;
    bool enabled;
    char server_public[ZMQKEYS_LEN + 1]; /* clients: whom they talk to */
    char secret[ZMQKEYS_LEN + 1];        /* the server's, or the client's own */
    char public[ZMQKEYS_LEN + 1];        /* the client's own */
    zap_t *zap;                          /* servers */
};

static bool any_configured(void)
{
    for (size_t i = 0; i < sizeof VARS / sizeof VARS[0]; i++)
        if (config_str(VARS[i], NULL))
            return true;
    return false;
}

/* The variable's value; NULL with err naming it when unset. */
static const char *required(const char *name, const char *role, char *err, size_t errcap)
{
    const char *value = config_str(name, NULL);
    if (!value)
        snprintf(err, errcap,
                 "ZeroMQ keys are configured (a LINDUNG_ZMQ_ variable is set) but %s, "
                 "which a %s needs, is not",
                 name, role);
    return value;
}

static int load_server(zmqauth_t *self, void *zmq_ctx, metrics_t *metrics, char *err,
                       size_t errcap)
{
    const char *secret =
        required("LINDUNG_ZMQ_SERVER_SECRET_FILE", "server", err, errcap);
    const char *dir =
        secret ? required("LINDUNG_ZMQ_AUTHORIZED_KEYS_DIR", "server", err, errcap)
               : NULL;
    if (!dir || zmqkeys_read(secret, ZMQKEYS_SECRET, self->secret, err, errcap) != 0)
        return -1;
    int keys = zmqkeys_check_dir(dir, err, errcap);
    if (keys < 0)
        return -1;
    if (keys == 0)
        log_warn("zmq.no_client_keys", "dir", dir, "detail",
                 "no NAME.pub file holds a key: every client will be refused");
    self->zap = zap_new(zmq_ctx, dir, metrics, err, errcap);
    return self->zap ? 0 : -1;
}

static int load_client(zmqauth_t *self, char *err, size_t errcap)
{
    const char *server =
        required("LINDUNG_ZMQ_SERVER_PUBLIC_FILE", "client", err, errcap);
    const char *secret =
        server ? required("LINDUNG_ZMQ_CLIENT_SECRET_FILE", "client", err, errcap) : NULL;
    if (!secret ||
        zmqkeys_read(server, ZMQKEYS_PUBLIC, self->server_public, err, errcap) != 0 ||
        zmqkeys_read(secret, ZMQKEYS_SECRET, self->secret, err, errcap) != 0)
        return -1;
    if (zmq_curve_public(self->public, self->secret) != 0) {
        snprintf(err, errcap, "%s: %s", secret, zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

zmqauth_t *zmqauth_new(void *zmq_ctx, zmqauth_role_t role, metrics_t *metrics, char *err,
                       size_t errcap)
{
    zmqauth_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    self->role = role;
    self->enabled = any_configured();
    if (!self->enabled) {
        log_warn("zmq.unauthenticated", "detail",
                 "no LINDUNG_ZMQ_* keys configured: ZeroMQ sockets accept any process "
                 "that can reach them (docs/operations.md, ZeroMQ security)");
        return self;
    }
    if (!zmq_has("curve")) {
        snprintf(err, errcap, "ZeroMQ keys are configured but this libzmq has no CURVE");
        zmqauth_destroy(&self);
        return NULL;
    }
    int rc = role == ZMQAUTH_SERVER ? load_server(self, zmq_ctx, metrics, err, errcap)
                                    : load_client(self, err, errcap);
    if (rc != 0) {
        zmqauth_destroy(&self);
        return NULL;
    }
    log_info("zmq.curve", "role", role == ZMQAUTH_SERVER ? "server" : "client");
    return self;
}

void zmqauth_destroy(zmqauth_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zmqauth_t *self = *self_p;
    zap_destroy(&self->zap);
    /* Secrets do not outlive their use in freed memory (a plain memset
     * before free may be optimised away). */
    explicit_bzero(self, sizeof *self);
    free(self);
    *self_p = NULL;
}

bool zmqauth_enabled(const zmqauth_t *self)
{
    return self && self->enabled;
}

static int set(void *socket, int option, const void *value, size_t len, char *err,
               size_t errcap)
{
    if (zmq_setsockopt(socket, option, value, len) == 0)
        return 0;
    snprintf(err, errcap, "CURVE socket option %d: %s", option,
             zmq_strerror(zmq_errno()));
    return -1;
}

static int apply_server(const zmqauth_t *self, void *socket, char *err, size_t errcap)
{
    int one = 1;
    if (set(socket, ZMQ_CURVE_SERVER, &one, sizeof one, err, errcap) != 0 ||
        set(socket, ZMQ_CURVE_SECRETKEY, self->secret, ZMQKEYS_LEN, err, errcap) != 0)
        return -1;
    /* A domain makes libzmq ask the ZAP handler about every peer. */
    return set(socket, ZMQ_ZAP_DOMAIN, ZMQAUTH_DOMAIN, strlen(ZMQAUTH_DOMAIN), err,
               errcap);
}

static int apply_client(const zmqauth_t *self, void *socket, char *err, size_t errcap)
{
    if (set(socket, ZMQ_CURVE_SERVERKEY, self->server_public, ZMQKEYS_LEN, err, errcap) !=
            0 ||
        set(socket, ZMQ_CURVE_PUBLICKEY, self->public, ZMQKEYS_LEN, err, errcap) != 0)
        return -1;
    return set(socket, ZMQ_CURVE_SECRETKEY, self->secret, ZMQKEYS_LEN, err, errcap);
}

int zmqauth_apply(const zmqauth_t *self, void *socket, char *err, size_t errcap)
{
    if (!zmqauth_enabled(self))
        return 0;
    return self->role == ZMQAUTH_SERVER ? apply_server(self, socket, err, errcap)
                                        : apply_client(self, socket, err, errcap);
}
