/* billing_run: `lindungctl billing run YYYY-MM [--force]`. A run is always
 * done by lindung-billing, over its control socket (common/ctlsock.h), so
 * that the schedule, the advisory lock and the metrics see every run. The
 * reply is printed as billing sent it and read with ctlsock_reply_parse:
 * exit 0 only when it says ok. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include "args.h"
#include "billing_internal.h"
#include "config.h"
#include "ctlsock.h"
#include "period.h"
#include "zmqauth.h"

/* Print billing's reply and judge it. */
static int judge_reply(const char *reply, size_t len)
{
    printf("%s\n", reply);
    ctlsock_reply_t r;
    if (!ctlsock_reply_parse(reply, len, &r)) {
        fprintf(stderr, "billing run: lindung-billing's answer is not a control reply\n");
        return ARGS_FAILED;
    }
    if (!r.ok && r.message[0])
        fprintf(stderr, "billing run: %s\n", r.message);
    return r.ok ? ARGS_OK : ARGS_FAILED;
}

/* Ask and wait; the exit code. */
static int ask(ctlsock_client_t *client, const char *endpoint, period_t period,
               bool force, long timeout_s)
{
    char err[256], *reply = NULL;
    size_t len = 0;
    char *request = ctlsock_run_request(period, force);
    if (!request) {
        fprintf(stderr, "billing run: out of memory\n");
        return ARGS_FAILED;
    }
    ctlsock_result_t got =
        ctlsock_call(client, request, timeout_s, &reply, &len, err, sizeof err);
    free(request);
    int rc = ARGS_FAILED;
    if (got == CTLSOCK_REPLIED)
        rc = judge_reply(reply, len);
    else if (got == CTLSOCK_REFUSED)
        fprintf(
            stderr,
            "billing run: lindung-billing at %s refused the ZeroMQ handshake:\n"
            "  check LINDUNG_ZMQ_SERVER_PUBLIC_FILE, LINDUNG_ZMQ_CLIENT_SECRET_FILE\n"
            "  and that this client's public key is in billing's\n"
            "  LINDUNG_ZMQ_AUTHORIZED_KEYS_DIR (docs/operations.md, ZeroMQ security)\n",
            endpoint);
    else if (got == CTLSOCK_TIMEOUT)
        fprintf(stderr, "billing run: no answer from lindung-billing at %s within %lds\n",
                endpoint, timeout_s);
    else
        fprintf(stderr, "billing run: %s\n", err);
    free(reply);
    return rc;
}

int billing_run(int argc, char **argv)
{
    period_t p;
    static const char *const valued[] = {NULL};
    const char *month = args_positional(argc, argv, 1, valued); /* after "run" */
    bool force = args_flag(argc, argv, "--force");
    if (!month || !period_parse(month, &p)) {
        fprintf(stderr, "billing run: give the month as YYYY-MM\n");
        return ARGS_USAGE;
    }
    /* A mistyped --force must not pass for a plain run, nor the reverse. */
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--", 2) == 0 && strcmp(argv[i], "--force") != 0) {
            fprintf(stderr, "billing run: unknown option %s\n", argv[i]);
            return ARGS_USAGE;
        }
    long timeout_s = 0;
    char err[256];
    if (config_int("LINDUNG_CTL_TIMEOUT_S", 600, 1, 86400, &timeout_s, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return ARGS_USAGE;
    }
    const char *endpoint = config_str("LINDUNG_BILLING_CONTROL", "tcp://127.0.0.1:5563");
    void *ctx = zmq_ctx_new();
    if (!ctx) {
        fprintf(stderr, "billing run: %s\n", zmq_strerror(zmq_errno()));
        return ARGS_FAILED;
    }
    zmqauth_t *auth = zmqauth_new(ctx, ZMQAUTH_CLIENT, NULL, err, sizeof err);
    if (!auth) {
        fprintf(stderr, "billing run: %s\n", err);
        zmq_ctx_term(ctx);
        return ARGS_USAGE;
    }
    ctlsock_client_t *client = ctlsock_client_new(ctx, endpoint, auth, err, sizeof err);
    int rc = ARGS_FAILED;
    if (client)
        rc = ask(client, endpoint, p, force, timeout_s);
    else
        fprintf(stderr, "billing run: %s\n", err);
    ctlsock_client_destroy(&client);
    zmqauth_destroy(&auth);
    zmq_ctx_term(ctx);
    return rc;
}
