/* test_ctlsock: billing's control socket as both ends see it: run requests
 * made and read back, replies read (not searched: a reply whose "ok" is not
 * the boolean true is not a success), and one request and its answer over a
 * real ZeroMQ REQ/REP pair. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ctlsock.h"

static void test_request_round_trip(void **state)
{
    (void)state;
    period_t p = {2025, 7}, got;
    bool force = true;
    const char *code = NULL, *message = NULL;
    char *text = ctlsock_run_request(p, false);
    assert_non_null(text);
    assert_string_equal(text, "{\"command\":\"run\",\"period\":\"2025-07\"}");
    assert_true(ctlsock_request_parse(text, strlen(text), &got, &force, &code, &message));
    assert_int_equal(got.year, 2025);
    assert_int_equal(got.month, 7);
    assert_false(force);
    free(text);
    text = ctlsock_run_request(p, true);
    assert_non_null(text);
    assert_string_equal(text,
                        "{\"command\":\"run\",\"period\":\"2025-07\",\"force\":true}");
    assert_true(ctlsock_request_parse(text, strlen(text), &got, &force, &code, &message));
    assert_true(force);
    free(text);
}

static void assert_refused(const char *text, const char *want)
{
    period_t p;
    bool force = false;
    const char *code = NULL, *message = NULL;
    assert_false(ctlsock_request_parse(text, strlen(text), &p, &force, &code, &message));
    assert_string_equal(code, want);
    assert_non_null(message);
}

static void test_request_refusals(void **state)
{
    (void)state;
    assert_refused("", "UNKNOWN_COMMAND");
    assert_refused("not json", "UNKNOWN_COMMAND");
    assert_refused("{\"command\":\"frob\",\"period\":\"2025-07\"}", "UNKNOWN_COMMAND");
    assert_refused("{\"period\":\"2025-07\"}", "UNKNOWN_COMMAND");
    assert_refused("{\"command\":\"run\"}", "BAD_PERIOD");
    assert_refused("{\"command\":\"run\",\"period\":\"2025-13\"}", "BAD_PERIOD");
    assert_refused("{\"command\":\"run\",\"period\":202507}", "BAD_PERIOD");
    assert_refused("{\"command\":\"run\",\"period\":\"2025-07\",\"force\":\"yes\"}",
                   "BAD_FORCE");
}

static bool parse(const char *text, ctlsock_reply_t *r)
{
    return ctlsock_reply_parse(text, strlen(text), r);
}

static void test_reply_parse(void **state)
{
    (void)state;
    ctlsock_reply_t r;
    assert_true(parse("{\"ok\":true,\"period\":\"2025-07\",\"lines_added\":2}", &r));
    assert_true(r.ok);
    assert_string_equal(r.error, "");
    /* spacing and key order are the sender's business */
    assert_true(parse("{ \"period\": \"2025-07\", \"ok\" : true }", &r));
    assert_true(r.ok);
    assert_true(parse("{\"ok\":false,\"error\":\"PERIOD_OUT_OF_WINDOW\",\"message\":"
                      "\"2099-12 is outside\",\"period\":\"2099-12\"}",
                      &r));
    assert_false(r.ok);
    assert_string_equal(r.error, "PERIOD_OUT_OF_WINDOW");
    assert_string_equal(r.message, "2099-12 is outside");
    /* a message that merely contains "ok":true is no success */
    assert_true(parse("{\"ok\":false,\"message\":\"\\\"ok\\\":true\"}", &r));
    assert_false(r.ok);
    assert_string_equal(r.message, "\"ok\":true");
    /* not replies at all */
    assert_false(parse("", &r));
    assert_false(parse("ok", &r));
    assert_false(parse("{\"ok\":\"true\"}", &r));
    assert_false(parse("{\"ok\":1}", &r));
    assert_false(parse("[true]", &r));
    assert_false(parse("{\"result\":\"ok\"}", &r));
}

static void test_error_reply_reads_back(void **state)
{
    (void)state;
    cJSON *doc = ctlsock_error_reply("BAD_PERIOD", "period must be YYYY-MM");
    assert_non_null(doc);
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    assert_non_null(text);
    ctlsock_reply_t r;
    assert_true(parse(text, &r));
    assert_false(r.ok);
    assert_string_equal(r.error, "BAD_PERIOD");
    assert_string_equal(r.message, "period must be YYYY-MM");
    free(text);
}

#define ENDPOINT "inproc://test-ctlsock"

/* The server's side: read one request, answer as billing's control does. */
static void *serve_one(void *rep)
{
    char buf[CTLSOCK_MAX_REQUEST];
    int n = zmq_recv(rep, buf, sizeof buf, 0);
    period_t p;
    bool force = false;
    const char *code = "UNKNOWN_COMMAND", *message = "";
    const char *answer = "{\"ok\":false}";
    if (n > 0 && ctlsock_request_parse(buf, (size_t)n, &p, &force, &code, &message))
        answer =
            force ? "{\"ok\":true,\"forced\":true}" : "{\"ok\":true,\"forced\":false}";
    zmq_send(rep, answer, strlen(answer), 0);
    return NULL;
}

static void test_call(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    void *rep = zmq_socket(ctx, ZMQ_REP);
    assert_int_equal(zmq_bind(rep, ENDPOINT), 0);
    char err[256] = "", *reply = NULL;
    size_t len = 0;
    ctlsock_client_t *client = ctlsock_client_new(ctx, ENDPOINT, NULL, err, sizeof err);
    assert_non_null(client);
    pthread_t server;
    assert_int_equal(pthread_create(&server, NULL, serve_one, rep), 0);
    char *request = ctlsock_run_request((period_t){2025, 7}, true);
    assert_int_equal(ctlsock_call(client, request, 10, &reply, &len, err, sizeof err),
                     CTLSOCK_REPLIED);
    pthread_join(server, NULL);
    assert_string_equal(reply, "{\"ok\":true,\"forced\":true}");
    assert_int_equal(len, strlen(reply));
    free(reply);
    free(request);
    ctlsock_client_destroy(&client);
    assert_null(client);
    zmq_close(rep);
    zmq_ctx_term(ctx);
}

static void test_call_timeout(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    void *rep = zmq_socket(ctx, ZMQ_REP); /* bound, never answers */
    assert_int_equal(zmq_bind(rep, ENDPOINT "-silent"), 0);
    char err[256] = "", *reply = NULL;
    size_t len = 0;
    ctlsock_client_t *client =
        ctlsock_client_new(ctx, ENDPOINT "-silent", NULL, err, sizeof err);
    assert_non_null(client);
    assert_int_equal(ctlsock_call(client, "{}", 1, &reply, &len, err, sizeof err),
                     CTLSOCK_TIMEOUT);
    assert_null(reply);
    ctlsock_client_destroy(&client);
    ctlsock_client_destroy(&client); /* NULL: nothing */
    zmq_close(rep);
    zmq_ctx_term(ctx);
}

static void test_client_bad_endpoint(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    char err[256] = "";
    ctlsock_client_t *client = ctlsock_client_new(ctx, "nowhere", NULL, err, sizeof err);
    assert_null(client);
    assert_non_null(strstr(err, "connect nowhere"));
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_round_trip),
        cmocka_unit_test(test_request_refusals),
        cmocka_unit_test(test_reply_parse),
        cmocka_unit_test(test_error_reply_reads_back),
        cmocka_unit_test(test_call),
        cmocka_unit_test(test_call_timeout),
        cmocka_unit_test(test_client_bad_endpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
