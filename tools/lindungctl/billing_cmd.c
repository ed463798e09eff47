/* billing_cmd: billing commands for operators and finance staff. A run is
 * always done by lindung-billing (over its control socket), so the schedule,
 * the advisory lock and the metrics see every run. */
#include "billing_cmd.h"
#include <stdio.h>
#include <string.h>
#include <zmq.h>
#include "config.h"
#include "period.h"

/* Send one request to billing's control socket and print the reply. */
static int billing_run(const char *month)
{
    period_t p;
    if (!month || !period_parse(month, &p)) {
        fprintf(stderr, "billing run: give the month as YYYY-MM\n");
        return 2;
    }
    long timeout_s = 0;
    char err[256];
    if (config_int("LINDUNG_CTL_TIMEOUT_S", 600, 1, 86400, &timeout_s, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    const char *endpoint = config_str("LINDUNG_BILLING_CONTROL", "tcp://127.0.0.1:5563");
    void *ctx = zmq_ctx_new();
    void *req = zmq_socket(ctx, ZMQ_REQ);
    int linger = 0;
    zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(req, endpoint);
    char body[96];
    snprintf(body, sizeof body, "{\"command\":\"run\",\"period\":\"%s\"}", month);
    zmq_send(req, body, strlen(body), 0);
    zmq_pollitem_t item = {.socket = req, .events = ZMQ_POLLIN};
    int rc = 1;
    if (zmq_poll(&item, 1, timeout_s * 1000) == 1) {
        char reply[4096];
        int n = zmq_recv(req, reply, sizeof reply - 1, 0);
        reply[n < 0 ? 0 : (n < (int)sizeof reply ? n : (int)sizeof reply - 1)] = '\0';
        printf("%s\n", reply);
        rc = strstr(reply, "\"ok\":true") ? 0 : 1;
    } else {
        fprintf(stderr, "billing run: no answer from lindung-billing at %s within %lds\n",
                endpoint, timeout_s);
    }
    zmq_close(req);
    zmq_ctx_term(ctx);
    return rc;
}

int billing_cmd_main(int argc, char **argv)
{
    if (strcmp(argv[0], "billing") == 0 && argc >= 2 && strcmp(argv[1], "run") == 0)
        return billing_run(argc > 2 ? argv[2] : NULL);
    fprintf(stderr, "usage: lindungctl billing run YYYY-MM\n");
    return 2;
}
