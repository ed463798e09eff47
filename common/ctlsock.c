/* ctlsock: see ctlsock.h. The client watches its socket's monitor for
 * failed handshakes, so that a key problem is an error at once instead of
 * the whole timeout (LINDUNG_CTL_TIMEOUT_S, 600 s by default). */
#include "ctlsock.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include "pgjson.h"

char *ctlsock_run_request(period_t period, bool force)
{
    char p[8];
    period_format(period, p);
    cJSON *req = cJSON_CreateObject();
    req = pgjson_whole(req, req && cJSON_AddStringToObject(req, "command", "run") &&
                                cJSON_AddStringToObject(req, "period", p) &&
                                (!force || cJSON_AddTrueToObject(req, "force")));
    char *text = req ? cJSON_PrintUnformatted(req) : NULL;
    cJSON_Delete(req);
    return text;
}

bool ctlsock_request_parse(const char *text, size_t len, period_t *period, bool *force,
                           const char **code, const char **message)
{
    cJSON *req = cJSON_ParseWithLength(text, len);
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(req, "command");
    const cJSON *month = cJSON_GetObjectItemCaseSensitive(req, "period");
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(req, "force");
    bool ok = false;
    if (!cJSON_IsString(cmd) || strcmp(cmd->valuestring, "run") != 0) {
        *code = "UNKNOWN_COMMAND";
        *message = "the only command is \"run\"";
    } else if (!cJSON_IsString(month) || !period_parse(month->valuestring, period)) {
        *code = "BAD_PERIOD";
        *message = "period must be YYYY-MM";
    } else if (f && !cJSON_IsBool(f)) {
        *code = "BAD_FORCE";
        *message = "force must be true or false";
    } else {
        *force = cJSON_IsTrue(f);
        ok = true;
    }
    cJSON_Delete(req);
    return ok;
}

cJSON *ctlsock_error_reply(const char *code, const char *message)
{
    cJSON *doc = cJSON_CreateObject();
    return pgjson_whole(doc, doc && cJSON_AddFalseToObject(doc, "ok") &&
                                 cJSON_AddStringToObject(doc, "error", code) &&
                                 cJSON_AddStringToObject(doc, "message", message));
}

bool ctlsock_reply_parse(const char *text, size_t len, ctlsock_reply_t *out)
{
    memset(out, 0, sizeof *out);
    cJSON *doc = cJSON_ParseWithLength(text, len);
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(doc, "ok");
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(doc, "error");
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(doc, "message");
    bool is_reply = cJSON_IsObject(doc) && cJSON_IsBool(ok);
    if (is_reply) {
        out->ok = cJSON_IsTrue(ok);
        if (cJSON_IsString(error))
            snprintf(out->error, sizeof out->error, "%s", error->valuestring);
        if (cJSON_IsString(message))
            snprintf(out->message, sizeof out->message, "%s", message->valuestring);
    }
    cJSON_Delete(doc);
    return is_reply;
}

/* ---------------------------------------------------------------- client */

struct ctlsock_client_t {
    void *req;
    void *monitor; /* PAIR receiving req's failed handshakes; NULL if none */
};

void ctlsock_client_destroy(ctlsock_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctlsock_client_t *self = *self_p;
    if (self->monitor) {
        zmq_socket_monitor(self->req, NULL, 0);
        zmq_close(self->monitor);
    }
    if (self->req)
        zmq_close(self->req);
    free(self);
    *self_p = NULL;
}

/* The monitor of the REQ socket: failed handshakes only. Without one the
 * client still works, only a refused key then looks like a timeout. */
static void watch_handshakes(ctlsock_client_t *self, void *zmq_ctx)
{
    char endpoint[64];
    int linger = 0;
    snprintf(endpoint, sizeof endpoint, "inproc://ctlsock-monitor-%p", (void *)self);
    if (zmq_socket_monitor(self->req, endpoint,
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0)
        return;
    self->monitor = zmq_socket(zmq_ctx, ZMQ_PAIR);
    if (self->monitor) {
        zmq_setsockopt(self->monitor, ZMQ_LINGER, &linger, sizeof linger);
        zmq_connect(self->monitor, endpoint);
    }
}

ctlsock_client_t *ctlsock_client_new(void *zmq_ctx, const char *endpoint,
                                     const zmqauth_t *auth, char *err, size_t errcap)
{
    ctlsock_client_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    self->req = zmq_socket(zmq_ctx, ZMQ_REQ);
    if (!self->req) {
        snprintf(err, errcap, "socket: %s", zmq_strerror(zmq_errno()));
        ctlsock_client_destroy(&self);
        return NULL;
    }
    int linger = 0;
    zmq_setsockopt(self->req, ZMQ_LINGER, &linger, sizeof linger);
    if (zmqauth_apply(auth, self->req, err, errcap) != 0) {
        ctlsock_client_destroy(&self);
        return NULL;
    }
    watch_handshakes(self, zmq_ctx);
    if (zmq_connect(self->req, endpoint) != 0) {
        snprintf(err, errcap, "connect %s: %s", endpoint, zmq_strerror(zmq_errno()));
        ctlsock_client_destroy(&self);
        return NULL;
    }
    return self;
}

/* Drain one monitor event (two frames: the event, then the endpoint). */
static void drain_event(void *monitor)
{
    for (int frame = 0; frame < 2; frame++) {
        zmq_msg_t event;
        zmq_msg_init(&event);
        zmq_msg_recv(&event, monitor, 0);
        zmq_msg_close(&event);
    }
}

/* Wait for the reply, watching the monitor: a second at a time. */
static ctlsock_result_t wait_reply(const ctlsock_client_t *self, long timeout_s)
{
    long left_ms = timeout_s * 1000;
    while (left_ms > 0) {
        zmq_pollitem_t items[] = {{.socket = self->req, .events = ZMQ_POLLIN},
                                  {.socket = self->monitor, .events = ZMQ_POLLIN}};
        long step = left_ms < 1000 ? left_ms : 1000;
        int n = zmq_poll(items, self->monitor ? 2 : 1, step);
        left_ms -= step;
        if (n > 0 && (items[0].revents & ZMQ_POLLIN))
            return CTLSOCK_REPLIED;
        if (n > 0 && (items[1].revents & ZMQ_POLLIN)) {
            drain_event(self->monitor);
            return CTLSOCK_REFUSED;
        }
    }
    return CTLSOCK_TIMEOUT;
}

/* The waiting reply as a NUL-terminated copy. */
static ctlsock_result_t read_reply(const ctlsock_client_t *self, char **reply,
                                   size_t *len, char *err, size_t errcap)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, self->req, 0) < 0) {
        snprintf(err, errcap, "%s", zmq_strerror(zmq_errno()));
        zmq_msg_close(&msg);
        return CTLSOCK_FAILED;
    }
    size_t n = zmq_msg_size(&msg);
    char *text = malloc(n + 1);
    if (text) {
        memcpy(text, zmq_msg_data(&msg), n);
        text[n] = '\0';
    }
    zmq_msg_close(&msg);
    if (!text) {
        snprintf(err, errcap, "out of memory");
        return CTLSOCK_FAILED;
    }
    *reply = text;
    *len = n;
    return CTLSOCK_REPLIED;
}

ctlsock_result_t ctlsock_call(ctlsock_client_t *self, const char *request, long timeout_s,
                              char **reply, size_t *len, char *err, size_t errcap)
{
    *reply = NULL;
    *len = 0;
    if (zmq_send(self->req, request, strlen(request), 0) < 0) {
        snprintf(err, errcap, "send: %s", zmq_strerror(zmq_errno()));
        return CTLSOCK_FAILED;
    }
    ctlsock_result_t got = wait_reply(self, timeout_s);
    if (got != CTLSOCK_REPLIED)
        return got;
    return read_reply(self, reply, len, err, errcap);
}
