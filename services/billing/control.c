/* control: REP socket. Each request gets exactly one reply, errors included,
 * or the REQ peer would be stuck. A run requested here is the same run as a
 * scheduled one (accrual_run), so it is idempotent. */
#include "control.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include "billing.h"
#include "log.h"
#include "period.h"

#define CONTROL_MAX_REQUEST 4096

struct control_t {
    void *socket;
};

control_t *control_new(void *zmq_ctx, const char *endpoint, char *err, size_t errcap)
{
    void *sock = zmq_socket(zmq_ctx, ZMQ_REP);
    int linger = 0;
    int64_t maxmsg = CONTROL_MAX_REQUEST;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (zmq_bind(sock, endpoint) != 0) {
        snprintf(err, errcap, "bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zmq_close(sock);
        return NULL;
    }
    control_t *self = calloc(1, sizeof *self);
    self->socket = sock;
    return self;
}

void control_destroy(control_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zmq_close((*self_p)->socket);
    free(*self_p);
    *self_p = NULL;
}

void *control_socket(control_t *self)
{
    return self->socket;
}

static cJSON *error_reply(const char *code, const char *message)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddBoolToObject(doc, "ok", false);
    cJSON_AddStringToObject(doc, "error", code);
    cJSON_AddStringToObject(doc, "message", message);
    return doc;
}

static cJSON *handle(const char *text, size_t len, db_t *db, metrics_t *metrics)
{
    cJSON *req = cJSON_ParseWithLength(text, len);
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(req, "command");
    const cJSON *month = cJSON_GetObjectItemCaseSensitive(req, "period");
    cJSON *reply;
    period_t period;
    if (!cJSON_IsString(cmd) || strcmp(cmd->valuestring, "run") != 0) {
        reply = error_reply("UNKNOWN_COMMAND", "the only command is \"run\"");
    } else if (!cJSON_IsString(month) || !period_parse(month->valuestring, &period)) {
        reply = error_reply("BAD_PERIOD", "period must be YYYY-MM");
    } else {
        reply = billing_run_json(db, metrics, period, "manual");
    }
    cJSON_Delete(req);
    return reply;
}

void control_serve(control_t *self, db_t *db, metrics_t *metrics)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, self->socket, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return;
    }
    /* Swallow any further frames: one request is one frame. */
    while (zmq_msg_more(&msg)) {
        zmq_msg_close(&msg);
        zmq_msg_init(&msg);
        zmq_msg_recv(&msg, self->socket, 0);
    }
    cJSON *reply = handle(zmq_msg_data(&msg), zmq_msg_size(&msg), db, metrics);
    zmq_msg_close(&msg);
    char *text = cJSON_PrintUnformatted(reply);
    cJSON_Delete(reply);
    zmq_send(self->socket, text, strlen(text), 0);
    free(text);
}
