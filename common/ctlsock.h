/* ctlsock: billing's control socket (LINDUNG_BILLING_CONTROL), what both of
 * its ends share: the request and reply formats, read and written here
 * only, and the REQ client lindungctl asks with. One JSON frame each way:
 *
 *   request  {"command": "run", "period": "YYYY-MM"}, optionally "force": true
 *   reply    {"ok": true, ...the run's figures}, or
 *            {"ok": false, "error": CODE, "message": TEXT, ...}
 *
 * The server (services/billing/control.c) decides what a run means; this
 * module only says what was asked and what was answered. */
#ifndef LINDUNG_CTLSOCK_H
#define LINDUNG_CTLSOCK_H
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include "period.h"
#include "zmqauth.h"

/* The longest request the server reads (ZMQ_MAXMSGSIZE of its socket). */
#define CTLSOCK_MAX_REQUEST 4096

/* ---------------------------------------------------------------- formats */

/* The text of a run request, to free(); NULL when out of memory. */
char *ctlsock_run_request(period_t period, bool force);

/* Read a request. true with the month and force when it is a valid run
 * request; false with the error code and message of the refusal
 * (UNKNOWN_COMMAND, BAD_PERIOD, BAD_FORCE), static strings. */
bool ctlsock_request_parse(const char *text, size_t len, period_t *period, bool *force,
                           const char **code, const char **message);

/* {"ok": false, "error": code, "message": message}; NULL when out of memory. */
cJSON *ctlsock_error_reply(const char *code, const char *message);

typedef struct {
    bool ok;
    char error[64];    /* the code when !ok ("" when none was given) */
    char message[512]; /* the message when !ok ("" when none was given) */
} ctlsock_reply_t;

/* Read a reply: false when text is not one (not a JSON object with a
 * boolean "ok"). */
bool ctlsock_reply_parse(const char *text, size_t len, ctlsock_reply_t *out);

/* ---------------------------------------------------------------- client */

typedef struct ctlsock_client_t ctlsock_client_t;

/* A REQ socket connected to endpoint, a CURVE client when `auth` says so
 * (may be NULL: none), watching for refused handshakes. NULL with err. */
ctlsock_client_t *ctlsock_client_new(void *zmq_ctx, const char *endpoint,
                                     const zmqauth_t *auth, char *err, size_t errcap);
void ctlsock_client_destroy(ctlsock_client_t **self_p);

typedef enum {
    CTLSOCK_REPLIED, /* *reply holds the answer */
    CTLSOCK_REFUSED, /* the server refused the handshake: keys; waiting would not help */
    CTLSOCK_TIMEOUT, /* no answer in time */
    CTLSOCK_FAILED   /* sending or receiving failed, or out of memory; err says */
} ctlsock_result_t;

/* Send one request and wait up to timeout_s seconds for its answer. On
 * CTLSOCK_REPLIED *reply is the answer, NUL-terminated, to free(), and
 * *len its length. One call per client: a REQ socket that got no answer
 * cannot ask again. */
ctlsock_result_t ctlsock_call(ctlsock_client_t *self, const char *request, long timeout_s,
                              char **reply, size_t *len, char *err, size_t errcap);
#endif
