/* billing_cmd: billing commands for operators and finance staff: rates in
 * force, payments (optionally to chosen lines), arrears, lapses, statements
 * and exports. Documents are invoices, supplementary invoices and credit
 * notes (negative); what a payer owes in all is every document's total less
 * every payment (docs/billing.md). A run is always done by lindung-billing
 * (over its control socket), so the schedule, the advisory lock and the
 * metrics see every run. Money is int64 rupiah and is
 * printed without ever passing through a double, except as JSON numbers
 * (exact below 2^53). Not the accrual (services/billing). */
#include "billing_cmd.h"
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include "audit.h"
#include "config.h"
#include "db.h"
#include "session.h"
#include "export.h"
#include "period.h"
#include "pgjson.h"
#include "premium.h"
#include "zmqauth.h"

#define MAX_AMOUNT_DIGITS 15 /* < 2^53: stays exact in JSON numbers */
#define DEFAULT_INCOME 1000000

static const char *SQL_RATE_JKK =
    "SELECT income_bp, min_income, to_char(effective_month, 'YYYY-MM'), coalesce(note, "
    "'') "
    "FROM premium_rates WHERE component = 'JKK' AND effective_month <= $1 "
    "ORDER BY effective_month DESC LIMIT 1";

static const char *SQL_RATE_JKM =
    "SELECT flat_amount, to_char(effective_month, 'YYYY-MM'), coalesce(note, '') "
    "FROM premium_rates WHERE component = 'JKM' AND effective_month <= $1 "
    "ORDER BY effective_month DESC LIMIT 1";

/* The same choice as the accrual SQL: adjustments in force for the month and
 * sector; the largest per component wins. */
static const char *SQL_ADJUSTMENTS =
    "SELECT name, coalesce(sector, ''), off_bp, applies_jkk, applies_jkm, "
    "  to_char(first_month, 'YYYY-MM'), to_char(last_month, 'YYYY-MM'), coalesce(note, "
    "'') "
    "FROM premium_adjustments WHERE first_month <= $1 AND last_month >= $1 "
    "  AND (sector IS NULL OR (sector = 'transport' AND $2::boolean)) "
    "ORDER BY off_bp DESC, id";

/* The payment and, when recorded, its audit record ($7 operator, $8
 * invocation; audit.h) in one statement. */
static const char *SQL_PAY =
    "WITH r AS MATERIALIZED (SELECT result, payment_id, total, paid, outstanding, status "
    "  FROM billing_record_payment($1, $2, $3, $4, 'lindungctl', $5::bigint[], "
    "    $6::bigint[])), "
    "  au AS (" AUDIT_INSERT
    "    SELECT 'operator', $7, 'payment.record', r.payment_id::text, '{}', $8, "
    "      jsonb_build_object('invoice_id', $1::bigint, 'amount', $2::bigint) "
    "    FROM r WHERE r.result = 'ok') "
    "SELECT * FROM r";

static const char *SQL_PAY_DOCUMENT =
    "SELECT kind, (SELECT count(*) FROM payment_lines WHERE payment_id = $2) "
    "FROM invoices WHERE id = $1";

/* Why a payment was refused, in numbers: what the lines chosen still owe
 * (amount_mismatch) and which listed enrolments have no line on the
 * document (unknown_line), as billing_record_payment() sees them. */
static const char *SQL_PAY_STILL_OWED =
    "SELECT coalesce(sum(d.amount - d.allocated), 0) FROM document_items($1) d "
    "WHERE ($2::bigint[] IS NULL OR d.enrolment_id = ANY ($2::bigint[])) "
    "  AND ($3::bigint[] IS NULL OR NOT (d.enrolment_id = ANY ($3::bigint[])))";

static const char *SQL_PAY_UNKNOWN =
    "SELECT string_agg(x.id::text, ', ' ORDER BY x.ord) "
    "FROM unnest(coalesce($2::bigint[], '{}') || coalesce($3::bigint[], '{}')) "
    "     WITH ORDINALITY AS x (id, ord) "
    "WHERE NOT EXISTS (SELECT 1 FROM document_items($1) d WHERE d.enrolment_id = x.id)";

/* Per payer and funding source. Arrears: what is unpaid on invoices and
 * supplementary invoices past their due date ($1 is today). A credit note is
 * not payable and never in arrears; it is netted into what the payer owes in
 * all (owed = outstanding + credits). Payers with nothing unpaid are left
 * out. */
static const char *SQL_ARREARS =
    "SELECT payer_code, min(payer_name), funding_source, "
    "  count(*) FILTER (WHERE payable AND overdue AND outstanding > 0), "
    "  coalesce(sum(outstanding) FILTER (WHERE payable AND overdue), 0), "
    "  coalesce(sum(outstanding) FILTER (WHERE payable), 0), "
    "  coalesce(sum(total) FILTER (WHERE NOT payable), 0), "
    "  coalesce(to_char(min(period) FILTER (WHERE payable AND overdue AND outstanding > "
    "0), "
    "                   'YYYY-MM'), '') "
    "FROM (SELECT *, kind <> 'credit_note' AS payable, due_date < $1::date AS overdue "
    "      FROM invoice_balances) b "
    "GROUP BY payer_code, funding_source "
    "HAVING coalesce(sum(outstanding) FILTER (WHERE payable), 0) > 0 "
    "ORDER BY 5 DESC, payer_code, funding_source";

static const char *SQL_LAPSES =
    "SELECT e.id, e.nik, p.code, e.village_code, e.payer_code, "
    "  to_char(e.end_month, 'YYYY-MM'), to_char(e.ended_at, "
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
    "FROM enrolments e JOIN programs p ON p.id = e.program_id "
    "WHERE e.end_reason = 'lapsed' ORDER BY e.ended_at DESC, e.id";

/* Every document of the payer, in the order issued within each month and
 * source; credit notes have negative totals. */
static const char *SQL_STATEMENT =
    "SELECT to_char(period, 'YYYY-MM'), funding_source, id, total, paid, outstanding, "
    "  status, line_count, to_char(due_date, 'YYYY-MM-DD'), kind, "
    "  to_char(issued_at AT TIME ZONE 'Asia/Jakarta', 'YYYY-MM-DD'), payer_name "
    "FROM invoice_balances WHERE payer_code = $1 ORDER BY period, funding_source, id";

typedef struct {
    int argc;
    char **argv;
} args_t;

/* The value after `flag`, or NULL. */
static const char *arg_option(const args_t *a, const char *flag)
{
    for (int i = 0; i < a->argc - 1; i++)
        if (strcmp(a->argv[i], flag) == 0)
            return a->argv[i + 1];
    return NULL;
}

static bool arg_flag(const args_t *a, const char *flag)
{
    for (int i = 0; i < a->argc; i++)
        if (strcmp(a->argv[i], flag) == 0)
            return true;
    return false;
}

/* The n-th argument that is not a --flag or a flag's value. */
static const char *arg_positional(const args_t *a, int n, const char *const *valued)
{
    for (int i = 0; i < a->argc; i++) {
        if (strncmp(a->argv[i], "--", 2) == 0) {
            for (const char *const *v = valued; *v; v++)
                if (strcmp(a->argv[i], *v) == 0)
                    i++;
            continue;
        }
        if (n-- == 0)
            return a->argv[i];
    }
    return NULL;
}

/* Strict whole rupiah: digits only, at most 15 of them. */
static bool parse_amount(const char *s, int64_t *out)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > MAX_AMOUNT_DIGITS || strspn(s, "0123456789") != len)
        return false;
    *out = strtoll(s, NULL, 10);
    return true;
}

/* 1234567 -> "1,234,567" */
static void format_rupiah(int64_t v, char out[32])
{
    char digits[24];
    snprintf(digits, sizeof digits, "%" PRId64, v < 0 ? -v : v);
    size_t n = strlen(digits), o = 0;
    if (v < 0)
        out[o++] = '-';
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

static int64_t value_i64(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* ---------------------------------------------------------------- run */

/* What the REQ socket saw while waiting: a reply, a refused handshake (bad
 * or missing keys: waiting longer would not help), or nothing in time. */
typedef enum { WAIT_REPLY, WAIT_REFUSED, WAIT_TIMEOUT } wait_t;

/* Wait for billing's reply, watching the socket monitor for a refused
 * handshake so that a key problem is an error at once, not a long timeout. */
static wait_t wait_reply(void *req, void *monitor, long timeout_s)
{
    long left_ms = timeout_s * 1000;
    while (left_ms > 0) {
        zmq_pollitem_t items[] = {{.socket = req, .events = ZMQ_POLLIN},
                                  {.socket = monitor, .events = ZMQ_POLLIN}};
        long step = left_ms < 1000 ? left_ms : 1000;
        int n = zmq_poll(items, monitor ? 2 : 1, step);
        left_ms -= step;
        if (n > 0 && (items[0].revents & ZMQ_POLLIN))
            return WAIT_REPLY;
        if (n > 0 && (items[1].revents & ZMQ_POLLIN)) {
            zmq_msg_t event;
            zmq_msg_init(&event);
            zmq_msg_recv(&event, monitor, 0);
            zmq_msg_close(&event);
            zmq_msg_init(&event); /* the second frame names the endpoint */
            zmq_msg_recv(&event, monitor, 0);
            zmq_msg_close(&event);
            return WAIT_REFUSED;
        }
    }
    return WAIT_TIMEOUT;
}

/* Print billing's reply and judge it: 0 when it says ok, 1 otherwise. */
static int print_reply(void *req)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, req, 0) < 0) {
        zmq_msg_close(&msg);
        fprintf(stderr, "billing run: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    printf("%.*s\n", (int)zmq_msg_size(&msg), (const char *)zmq_msg_data(&msg));
    cJSON *doc = cJSON_ParseWithLength(zmq_msg_data(&msg), zmq_msg_size(&msg));
    zmq_msg_close(&msg);
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(doc, "ok");
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(doc, "message");
    int rc = cJSON_IsTrue(ok) ? 0 : 1;
    if (!cJSON_IsBool(ok))
        fprintf(stderr, "billing run: lindung-billing's answer is not a control reply\n");
    else if (rc != 0 && cJSON_IsString(message))
        fprintf(stderr, "billing run: %s\n", message->valuestring);
    cJSON_Delete(doc);
    return rc;
}

/* The request socket, with CURVE keys when configured and a monitor (into
 * *monitor) for failed handshakes. NULL with a message printed. */
static void *control_connect(void *ctx, const zmqauth_t *auth, const char *endpoint,
                             void **monitor)
{
    char err[256];
    void *req = zmq_socket(ctx, ZMQ_REQ);
    int linger = 0;
    zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
    if (zmqauth_apply(auth, req, err, sizeof err) != 0) {
        fprintf(stderr, "billing run: %s\n", err);
        zmq_close(req);
        return NULL;
    }
    *monitor = NULL;
    if (zmq_socket_monitor(req, "inproc://lindungctl-control",
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0) {
        *monitor = zmq_socket(ctx, ZMQ_PAIR);
        zmq_setsockopt(*monitor, ZMQ_LINGER, &linger, sizeof linger);
        zmq_connect(*monitor, "inproc://lindungctl-control");
    }
    if (zmq_connect(req, endpoint) != 0) {
        fprintf(stderr, "billing run: connect %s: %s\n", endpoint,
                zmq_strerror(zmq_errno()));
        zmq_close(req);
        return NULL;
    }
    return req;
}

/* Send the run request and wait for its answer: 0 ok, 1 otherwise. */
static int request_run(void *req, void *monitor, const char *endpoint, const char *month,
                       bool force, long timeout_s)
{
    char body[96];
    snprintf(body, sizeof body, "{\"command\":\"run\",\"period\":\"%s\"%s}", month,
             force ? ",\"force\":true" : "");
    zmq_send(req, body, strlen(body), 0);
    wait_t got = wait_reply(req, monitor, timeout_s);
    if (got == WAIT_REPLY)
        return print_reply(req);
    if (got == WAIT_REFUSED)
        fprintf(
            stderr,
            "billing run: lindung-billing at %s refused the ZeroMQ handshake:\n"
            "  check LINDUNG_ZMQ_SERVER_PUBLIC_FILE, LINDUNG_ZMQ_CLIENT_SECRET_FILE\n"
            "  and that this client's public key is in billing's\n"
            "  LINDUNG_ZMQ_AUTHORIZED_KEYS_DIR (docs/operations.md, ZeroMQ security)\n",
            endpoint);
    else
        fprintf(stderr, "billing run: no answer from lindung-billing at %s within %lds\n",
                endpoint, timeout_s);
    return 1;
}

/* Send one request to billing's control socket, print the reply, and exit
 * 0 only when billing says ok. */
static int billing_run(const args_t *a)
{
    period_t p;
    static const char *const valued[] = {NULL};
    const char *month = arg_positional(a, 1, valued); /* after "run" */
    bool force = arg_flag(a, "--force");
    if (!month || !period_parse(month, &p)) {
        fprintf(stderr, "billing run: give the month as YYYY-MM\n");
        return 2;
    }
    /* A mistyped --force must not pass for a plain run, nor the reverse. */
    for (int i = 1; i < a->argc; i++)
        if (strncmp(a->argv[i], "--", 2) == 0 && strcmp(a->argv[i], "--force") != 0) {
            fprintf(stderr, "billing run: unknown option %s\n", a->argv[i]);
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
    zmqauth_t *auth = zmqauth_new(ctx, ZMQAUTH_CLIENT, NULL, err, sizeof err);
    if (!auth) {
        fprintf(stderr, "billing run: %s\n", err);
        zmq_ctx_term(ctx);
        return 2;
    }
    void *monitor = NULL;
    void *req = control_connect(ctx, auth, endpoint, &monitor);
    int rc = req ? request_run(req, monitor, endpoint, month, force, timeout_s) : 1;
    if (monitor) {
        zmq_socket_monitor(req, NULL, 0);
        zmq_close(monitor);
    }
    if (req)
        zmq_close(req);
    zmqauth_destroy(&auth);
    zmq_ctx_term(ctx);
    return rc;
}

/* ---------------------------------------------------------------- rates */

typedef struct {
    premium_rates_t rates;
    char jkk_since[8], jkm_since[8];
    PGresult *adjustments;
} rates_in_force_t;

/* Look up the rates and adjustments for the month; -1 when a component has no
 * rate in force (or the database failed), with a message printed. */
static int rates_load(db_t *db, const char *month, bool transport, rates_in_force_t *out)
{
    const char *p1[] = {month};
    const char *p2[] = {month, transport ? "true" : "false"};
    PGresult *jkk = db_exec(db, SQL_RATE_JKK, 1, p1);
    PGresult *jkm = db_exec(db, SQL_RATE_JKM, 1, p1);
    PGresult *adj = db_exec(db, SQL_ADJUSTMENTS, 2, p2);
    if (!db_ok(jkk) || !db_ok(jkm) || !db_ok(adj) || PQntuples(jkk) != 1 ||
        PQntuples(jkm) != 1) {
        fprintf(stderr, "rates: %s\n",
                db_ok(jkk) && db_ok(jkm) && db_ok(adj) ? "no JKK and JKM rates in force"
                                                       : db_error(db));
        PQclear(jkk);
        PQclear(jkm);
        PQclear(adj);
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->rates.jkk_income_bp = value_i64(jkk, 0, 0);
    out->rates.min_income = value_i64(jkk, 0, 1);
    out->rates.jkm_flat = value_i64(jkm, 0, 0);
    snprintf(out->jkk_since, sizeof out->jkk_since, "%s", PQgetvalue(jkk, 0, 2));
    snprintf(out->jkm_since, sizeof out->jkm_since, "%s", PQgetvalue(jkm, 0, 1));
    for (int i = 0; i < PQntuples(adj); i++) {
        int64_t off = value_i64(adj, i, 2);
        if (strcmp(PQgetvalue(adj, i, 3), "t") == 0 && off > out->rates.jkk_off_bp)
            out->rates.jkk_off_bp = off;
        if (strcmp(PQgetvalue(adj, i, 4), "t") == 0 && off > out->rates.jkm_off_bp)
            out->rates.jkm_off_bp = off;
    }
    out->adjustments = adj;
    PQclear(jkk);
    PQclear(jkm);
    return 0;
}

static cJSON *premium_json(const premium_t *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "jkk", (double)p->jkk);
    cJSON_AddNumberToObject(o, "jkm", (double)p->jkm);
    cJSON_AddNumberToObject(o, "amount", (double)p->amount);
    return o;
}

static int rates_print_json(const rates_in_force_t *in, const char *month, bool transport,
                            int64_t income, const premium_t *with,
                            const premium_t *without)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "period", month);
    cJSON_AddStringToObject(doc, "sector", transport ? "transport" : "general");
    cJSON_AddNumberToObject(doc, "declared_income", (double)income);
    cJSON *jkk = cJSON_AddObjectToObject(doc, "jkk");
    cJSON_AddNumberToObject(jkk, "income_bp", (double)in->rates.jkk_income_bp);
    cJSON_AddNumberToObject(jkk, "min_income", (double)in->rates.min_income);
    cJSON_AddStringToObject(jkk, "since", in->jkk_since);
    cJSON_AddNumberToObject(jkk, "relief_off_bp", (double)in->rates.jkk_off_bp);
    cJSON *jkm = cJSON_AddObjectToObject(doc, "jkm");
    cJSON_AddNumberToObject(jkm, "flat_amount", (double)in->rates.jkm_flat);
    cJSON_AddStringToObject(jkm, "since", in->jkm_since);
    cJSON_AddNumberToObject(jkm, "relief_off_bp", (double)in->rates.jkm_off_bp);
    cJSON *list = cJSON_AddArrayToObject(doc, "adjustments");
    for (int i = 0; i < PQntuples(in->adjustments); i++) {
        const PGresult *a = in->adjustments;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", PQgetvalue(a, i, 0));
        if (PQgetvalue(a, i, 1)[0])
            cJSON_AddStringToObject(o, "sector", PQgetvalue(a, i, 1));
        else
            cJSON_AddNullToObject(o, "sector");
        cJSON_AddNumberToObject(o, "off_bp", (double)value_i64(a, i, 2));
        cJSON_AddBoolToObject(o, "jkk", strcmp(PQgetvalue(a, i, 3), "t") == 0);
        cJSON_AddBoolToObject(o, "jkm", strcmp(PQgetvalue(a, i, 4), "t") == 0);
        cJSON_AddStringToObject(o, "first_month", PQgetvalue(a, i, 5));
        cJSON_AddStringToObject(o, "last_month", PQgetvalue(a, i, 6));
        cJSON_AddItemToArray(list, o);
    }
    bool ok = pgjson_put(doc, "premium_with_relief", premium_json(with)) &&
              pgjson_put(doc, "premium_without_relief", premium_json(without));
    return session_print_json(pgjson_whole(doc, ok));
}

static void rates_print_text(const rates_in_force_t *in, const char *month,
                             bool transport, int64_t income, const premium_t *with,
                             const premium_t *without)
{
    char a[32], b[32], c[32];
    printf("rates in force for %s, %s sector\n", month,
           transport ? "transport" : "general");
    format_rupiah(in->rates.min_income, a);
    printf("  JKK  %" PRId64 ".%02" PRId64
           "%% of declared income (at least Rp %s), since %s\n",
           in->rates.jkk_income_bp / 100, in->rates.jkk_income_bp % 100, a,
           in->jkk_since);
    format_rupiah(in->rates.jkm_flat, a);
    printf("  JKM  Rp %s flat, since %s\n", a, in->jkm_since);
    int n = PQntuples(in->adjustments);
    printf("adjustments in force (relief; programmes with relief_applies only): %s\n",
           n ? "" : "none");
    for (int i = 0; i < n; i++) {
        const PGresult *r = in->adjustments;
        int64_t off = value_i64(r, i, 2);
        bool jkk = strcmp(PQgetvalue(r, i, 3), "t") == 0;
        bool jkm = strcmp(PQgetvalue(r, i, 4), "t") == 0;
        printf("  %s: %" PRId64 ".%02" PRId64 "%% off %s, %s..%s, %s\n",
               PQgetvalue(r, i, 0), off / 100, off % 100,
               jkk && jkm ? "JKK and JKM"
               : jkk      ? "JKK"
                          : "JKM",
               PQgetvalue(r, i, 5), PQgetvalue(r, i, 6),
               PQgetvalue(r, i, 1)[0] ? "transport sector" : "every sector");
    }
    format_rupiah(income, a);
    printf("premium at a declared income of Rp %s:\n", a);
    format_rupiah(with->jkk, a), format_rupiah(with->jkm, b),
        format_rupiah(with->amount, c);
    printf("  relief applies:      JKK Rp %s + JKM Rp %s = Rp %s\n", a, b, c);
    format_rupiah(without->jkk, a), format_rupiah(without->jkm, b);
    format_rupiah(without->amount, c);
    printf("  relief switched off: JKK Rp %s + JKM Rp %s = Rp %s\n", a, b, c);
}

static int rates_show(const args_t *a)
{
    const char *valued[] = {"--income", NULL};
    const char *month = arg_positional(a, 0, valued);
    period_t p = period_of(date_today());
    if (month && !period_parse(month, &p)) {
        fprintf(stderr,
                "usage: lindungctl rates [YYYY-MM] [--transport] [--income RUPIAH] "
                "[--json]\n");
        return 2;
    }
    int64_t income = DEFAULT_INCOME;
    const char *income_s = arg_option(a, "--income");
    if (income_s && !parse_amount(income_s, &income)) {
        fprintf(stderr, "rates: --income must be whole rupiah (digits only)\n");
        return 2;
    }
    bool transport = arg_flag(a, "--transport");
    char first[11], pm[8];
    date_format(period_first_day(p), first);
    period_format(p, pm);
    db_t *db = session_connect();
    if (!db)
        return 1;
    rates_in_force_t in;
    int rc = rates_load(db, first, transport, &in);
    db_destroy(&db);
    if (rc != 0)
        return 1;
    premium_rates_t off = in.rates;
    off.jkk_off_bp = off.jkm_off_bp = 0;
    premium_t with, without;
    if (premium_compute(&in.rates, income, &with) != 0 ||
        premium_compute(&off, income, &without) != 0) {
        fprintf(stderr, "rates: the rates in force are out of range\n");
        PQclear(in.adjustments);
        return 1;
    }
    if (arg_flag(a, "--json"))
        rc = rates_print_json(&in, pm, transport, income, &with, &without);
    else
        rates_print_text(&in, pm, transport, income, &with, &without);
    PQclear(in.adjustments);
    return rc;
}

/* ---------------------------------------------------------------- pay */

#define MAX_PAY_LIST 10000 /* enrolments in --lines or --except, as over HTTP */

static const char *pay_problem(const char *result)
{
    static const char *const problems[][2] = {
        {"not_found", "no such invoice"},
        {"overpaid", "the amount is more than the document's outstanding balance"},
        {"duplicate",
         "a payment with this reference is already recorded for the invoice"},
        {"future_date", "the payment date is in the future"},
        {"bad_amount", "the amount must be positive"},
        {"not_payable", "a credit note is not paid: it reduces what its payer owes"},
        {"unknown_line", "an enrolment listed has no line on this document"},
        {"amount_mismatch", "the amount is not what the lines chosen still owe"},
        {"nothing_due", "the lines chosen owe nothing more on this document"},
    };
    for (size_t i = 0; i < sizeof problems / sizeof problems[0]; i++)
        if (strcmp(result, problems[i][0]) == 0)
            return problems[i][1];
    return "refused";
}

static int compare_ids(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* "4,5,12" -> "{4,5,12}": 1 to MAX_PAY_LIST distinct enrolment ids, digits
 * only. NULL (message printed) when the list is not that. */
static char *parse_id_list(const char *flag, const char *text)
{
    size_t len = strlen(text);
    bool ok = len > 0 && strspn(text, "0123456789,") == len && text[0] != ',' &&
              text[len - 1] != ',' && !strstr(text, ",,");
    long long *ids = malloc((len / 2 + 1) * sizeof *ids);
    if (!ids) {
        fprintf(stderr, "billing pay: out of memory\n");
        return NULL;
    }
    int n = 0;
    for (const char *c = text; ok && *c; n++) {
        char *end;
        ids[n] = strtoll(c, &end, 10);
        ok = ids[n] > 0 && end - c <= 18 && n < MAX_PAY_LIST;
        c = *end == ',' ? end + 1 : end;
    }
    qsort(ids, (size_t)n, sizeof *ids, compare_ids);
    for (int i = 1; ok && i < n; i++)
        ok = ids[i] != ids[i - 1];
    free(ids);
    if (!ok) {
        fprintf(stderr,
                "billing pay: %s takes 1 to %d distinct enrolment ids, comma-separated "
                "(e.g. 41,42)\n",
                flag, MAX_PAY_LIST);
        return NULL;
    }
    char *literal = malloc(len + 3);
    if (literal)
        snprintf(literal, len + 3, "{%s}", text);
    else
        fprintf(stderr, "billing pay: out of memory\n");
    return literal;
}

typedef struct {
    const char *id, *reference;
    char day[11], amount[24];
    char *lines, *except; /* PostgreSQL array literals, or NULL */
} pay_args_t;

static int pay_usage(void)
{
    fprintf(stderr, "usage: lindungctl billing pay INVOICE_ID AMOUNT [--date YYYY-MM-DD] "
                    "[--reference R] [--lines ID,... | --except ID,...]\n"
                    "  AMOUNT: whole rupiah, digits only, positive\n");
    return 2;
}

/* Read the command line into out; 0, or 2 (usage printed). */
static int pay_args_read(const args_t *a, pay_args_t *out)
{
    const char *valued[] = {"--date",  "--paid-on", "--reference",
                            "--lines", "--except",  NULL};
    memset(out, 0, sizeof *out);
    out->id = arg_positional(a, 1, valued);
    const char *amount_s = arg_positional(a, 2, valued);
    const char *date_s = arg_option(a, "--date");
    if (!date_s)
        date_s = arg_option(a, "--paid-on");
    out->reference = arg_option(a, "--reference");
    const char *lines = arg_option(a, "--lines"), *except = arg_option(a, "--except");
    int64_t amount;
    date_t paid_on = date_today();
    if (!out->id || strspn(out->id, "0123456789") != strlen(out->id) ||
        strlen(out->id) > 18 || !parse_amount(amount_s, &amount) || amount == 0 ||
        (date_s && !date_parse(date_s, &paid_on)) ||
        (out->reference && !out->reference[0]))
        return pay_usage();
    if (lines && except) {
        fprintf(stderr, "billing pay: give either --lines or --except, not both\n");
        return 2;
    }
    if ((lines && !(out->lines = parse_id_list("--lines", lines))) ||
        (except && !(out->except = parse_id_list("--except", except))))
        return 2;
    date_format(paid_on, out->day);
    snprintf(out->amount, sizeof out->amount, "%" PRId64, amount);
    return 0;
}

/* After a refusal that is about lines: the numbers behind it. */
static void pay_explain(db_t *db, const pay_args_t *p, const char *result)
{
    bool mismatch = strcmp(result, "amount_mismatch") == 0;
    if (!mismatch && strcmp(result, "unknown_line") != 0)
        return;
    const char *params[] = {p->id, p->lines, p->except};
    PGresult *r = db_exec(db, mismatch ? SQL_PAY_STILL_OWED : SQL_PAY_UNKNOWN, 3, params);
    if (db_ok(r) && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
        char owed[32];
        if (mismatch) {
            format_rupiah(value_i64(r, 0, 0), owed);
            fprintf(stderr, "  the lines chosen still owe Rp %s on this document\n",
                    owed);
        } else {
            fprintf(stderr, "  no line on this document: enrolment %s\n",
                    PQgetvalue(r, 0, 0));
        }
    }
    PQclear(r);
}

static void pay_print(db_t *db, const pay_args_t *p, const PGresult *r)
{
    char t[32], paid[32], o[32];
    format_rupiah(value_i64(r, 0, 2), t);
    format_rupiah(value_i64(r, 0, 3), paid);
    format_rupiah(value_i64(r, 0, 4), o);
    const char *params[] = {p->id, PQgetvalue(r, 0, 1)};
    PGresult *d = db_exec(db, SQL_PAY_DOCUMENT, 2, params);
    bool known = db_ok(d) && PQntuples(d) == 1;
    printf("payment %s recorded: %s %s total Rp %s, paid Rp %s, outstanding Rp %s, %s\n",
           PQgetvalue(r, 0, 1), known ? PQgetvalue(d, 0, 0) : "invoice", p->id, t, paid,
           o, PQgetvalue(r, 0, 5));
    if (known)
        printf("allocated to %s line%s of the document\n", PQgetvalue(d, 0, 1),
               strcmp(PQgetvalue(d, 0, 1), "1") == 0 ? "" : "s");
    PQclear(d);
}

static int billing_pay(const args_t *a)
{
    pay_args_t p;
    int rc = pay_args_read(a, &p);
    db_t *db = rc == 0 ? session_connect() : NULL;
    if (rc == 0 && !db)
        rc = 1;
    if (rc == 0) {
        const char *params[] = {p.id,
                                p.amount,
                                p.day,
                                p.reference,
                                p.lines,
                                p.except,
                                audit_operator(),
                                audit_invocation()};
        PGresult *r = db_exec(db, SQL_PAY, 8, params);
        rc = 1;
        if (!db_ok(r) || PQntuples(r) != 1) {
            fprintf(stderr, "billing pay: %s\n", db_error(db));
        } else if (strcmp(PQgetvalue(r, 0, 0), "ok") != 0) {
            fprintf(stderr, "billing pay: %s (%s); nothing recorded\n",
                    pay_problem(PQgetvalue(r, 0, 0)), PQgetvalue(r, 0, 0));
            pay_explain(db, &p, PQgetvalue(r, 0, 0));
        } else {
            pay_print(db, &p, r);
            rc = 0;
        }
        PQclear(r);
        db_destroy(&db);
    }
    free(p.lines);
    free(p.except);
    return rc;
}

/* ---------------------------------------------------------------- reports */

/* Run a read-only report query; NULL (message printed) on failure. */
static PGresult *report_query(db_t *db, const char *sql, int n, const char *const *params)
{
    PGresult *r = db_exec(db, sql, n, params);
    if (db_ok(r))
        return r;
    fprintf(stderr, "lindungctl: %s\n", db_error(db));
    PQclear(r);
    return NULL;
}

enum {
    AR_PAYER,
    AR_NAME,
    AR_SOURCE,
    AR_OVERDUE,
    AR_ARREARS,
    AR_OUTSTANDING,
    AR_CREDITS,
    AR_OLDEST
};

static cJSON *arrears_json(const PGresult *r, int i)
{
    int64_t outstanding = value_i64(r, i, AR_OUTSTANDING);
    int64_t credits = value_i64(r, i, AR_CREDITS);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "payer_code", PQgetvalue(r, i, AR_PAYER));
    cJSON_AddStringToObject(o, "payer_name", PQgetvalue(r, i, AR_NAME));
    cJSON_AddStringToObject(o, "funding_source", PQgetvalue(r, i, AR_SOURCE));
    cJSON_AddNumberToObject(o, "overdue_invoices", (double)value_i64(r, i, AR_OVERDUE));
    cJSON_AddNumberToObject(o, "arrears", (double)value_i64(r, i, AR_ARREARS));
    cJSON_AddNumberToObject(o, "outstanding", (double)outstanding);
    cJSON_AddNumberToObject(o, "credits", (double)credits);
    cJSON_AddNumberToObject(o, "owed", (double)(outstanding + credits));
    if (PQgetvalue(r, i, AR_OLDEST)[0])
        cJSON_AddStringToObject(o, "oldest_overdue_period", PQgetvalue(r, i, AR_OLDEST));
    else
        cJSON_AddNullToObject(o, "oldest_overdue_period");
    return o;
}

static void arrears_print_row(const PGresult *r, int i)
{
    int64_t outstanding = value_i64(r, i, AR_OUTSTANDING);
    int64_t credits = value_i64(r, i, AR_CREDITS);
    char ar[32], out[32], cr[32], owed[32];
    format_rupiah(value_i64(r, i, AR_ARREARS), ar);
    format_rupiah(outstanding, out);
    format_rupiah(credits, cr);
    format_rupiah(outstanding + credits, owed);
    printf("%-16s %-10s %8s %14s %14s %14s %14s  %-7s %s\n", PQgetvalue(r, i, AR_PAYER),
           PQgetvalue(r, i, AR_SOURCE), PQgetvalue(r, i, AR_OVERDUE), ar, out, cr, owed,
           PQgetvalue(r, i, AR_OLDEST)[0] ? PQgetvalue(r, i, AR_OLDEST) : "-",
           PQgetvalue(r, i, AR_NAME));
}

static int billing_arrears(db_t *db, const args_t *a)
{
    char today[11];
    date_format(date_today(), today);
    const char *params[] = {today};
    PGresult *r = report_query(db, SQL_ARREARS, 1, params);
    if (!r)
        return 1;
    if (arg_flag(a, "--json")) {
        cJSON *list = cJSON_CreateArray();
        bool ok = list != NULL;
        for (int i = 0; ok && i < PQntuples(r); i++)
            ok = pgjson_append(list, arrears_json(r, i));
        PQclear(r);
        return session_print_json(pgjson_whole(list, ok));
    }
    printf("%-16s %-10s %8s %14s %14s %14s %14s  %s  %s\n", "payer", "source", "overdue",
           "arrears_rp", "outstanding_rp", "credits_rp", "owed_rp", "oldest", "name");
    for (int i = 0; i < PQntuples(r); i++)
        arrears_print_row(r, i);
    PQclear(r);
    printf(
        "arrears: unpaid on invoices and supplementary invoices past their due date; "
        "credit notes are\nnot payable and never in arrears. owed: all that is unpaid, "
        "less the payer's credit notes\n(owed = outstanding + credits).\n");
    return 0;
}

/* 1612011205800001 -> 1612******0001, as in the logs. */
static void mask_nik(const char *nik, char out[17])
{
    snprintf(out, 17, "%s", nik);
    for (size_t i = 4; i < strlen(out) && i < 12; i++)
        out[i] = '*';
}

static int billing_lapses(db_t *db, const args_t *a)
{
    PGresult *r = report_query(db, SQL_LAPSES, 0, NULL);
    if (!r)
        return 1;
    bool json = arg_flag(a, "--json");
    cJSON *list = cJSON_CreateArray();
    if (!json)
        printf("%-10s %-16s %-22s %-15s %-16s %-9s %s\n", "enrolment", "nik", "program",
               "village", "payer", "end_month", "ended_at");
    for (int i = 0; i < PQntuples(r); i++) {
        char nik[17];
        mask_nik(PQgetvalue(r, i, 1), nik);
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "enrolment_id", (double)value_i64(r, i, 0));
            cJSON_AddStringToObject(o, "nik", nik);
            cJSON_AddStringToObject(o, "program_code", PQgetvalue(r, i, 2));
            cJSON_AddStringToObject(o, "village_code", PQgetvalue(r, i, 3));
            cJSON_AddStringToObject(o, "payer_code", PQgetvalue(r, i, 4));
            cJSON_AddStringToObject(o, "end_month", PQgetvalue(r, i, 5));
            cJSON_AddStringToObject(o, "ended_at", PQgetvalue(r, i, 6));
            cJSON_AddItemToArray(list, o);
            continue;
        }
        printf("%-10s %-16s %-22s %-15s %-16s %-9s %s\n", PQgetvalue(r, i, 0), nik,
               PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4),
               PQgetvalue(r, i, 5), PQgetvalue(r, i, 6));
    }
    PQclear(r);
    if (json)
        return session_print_json(list);
    cJSON_Delete(list);
    return 0;
}

enum {
    ST_PERIOD,
    ST_SOURCE,
    ST_ID,
    ST_TOTAL,
    ST_PAID,
    ST_OUTSTANDING,
    ST_STATUS,
    ST_LINES,
    ST_DUE,
    ST_KIND,
    ST_ISSUED,
    ST_NAME
};

/* What a payer owes in all: every document's total (credit notes negative)
 * less every payment. */
typedef struct {
    int64_t billed;      /* invoices and supplementary invoices */
    int64_t credited;    /* credit notes, negative */
    int64_t paid;        /* payments */
    int64_t outstanding; /* unpaid on invoices and supplementary invoices */
} owed_t;

static void owed_add(owed_t *t, const PGresult *r, int i)
{
    int64_t total = value_i64(r, i, ST_TOTAL);
    if (strcmp(PQgetvalue(r, i, ST_KIND), "credit_note") == 0) {
        t->credited += total;
    } else {
        t->billed += total;
        t->outstanding += value_i64(r, i, ST_OUTSTANDING);
    }
    t->paid += value_i64(r, i, ST_PAID);
}

static int64_t owed_in_all(const owed_t *t)
{
    return t->billed + t->credited - t->paid;
}

static cJSON *statement_document_json(const PGresult *r, int i)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "period", PQgetvalue(r, i, ST_PERIOD));
    cJSON_AddStringToObject(m, "funding_source", PQgetvalue(r, i, ST_SOURCE));
    cJSON_AddStringToObject(m, "kind", PQgetvalue(r, i, ST_KIND));
    cJSON_AddNumberToObject(m, "invoice_id", (double)value_i64(r, i, ST_ID));
    cJSON_AddNumberToObject(m, "billed", (double)value_i64(r, i, ST_TOTAL));
    cJSON_AddNumberToObject(m, "paid", (double)value_i64(r, i, ST_PAID));
    cJSON_AddNumberToObject(m, "outstanding", (double)value_i64(r, i, ST_OUTSTANDING));
    cJSON_AddStringToObject(m, "status", PQgetvalue(r, i, ST_STATUS));
    cJSON_AddNumberToObject(m, "line_count", (double)value_i64(r, i, ST_LINES));
    cJSON_AddStringToObject(m, "due_date", PQgetvalue(r, i, ST_DUE));
    cJSON_AddStringToObject(m, "issued_on", PQgetvalue(r, i, ST_ISSUED));
    return m;
}

static int statement_print_json(const char *payer, const PGresult *r, const owed_t *t)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "payer_code", payer);
    cJSON_AddStringToObject(doc, "payer_name", PQgetvalue(r, 0, ST_NAME));
    /* "months" as before documents had kinds: one entry per document, by
     * month (scripts read it under that name) */
    cJSON *list = cJSON_AddArrayToObject(doc, "months");
    bool ok = list != NULL;
    for (int i = 0; ok && i < PQntuples(r); i++)
        ok = pgjson_append(list, statement_document_json(r, i));
    cJSON *o = cJSON_AddObjectToObject(doc, "totals");
    cJSON_AddNumberToObject(o, "billed", (double)t->billed);
    cJSON_AddNumberToObject(o, "credited", (double)t->credited);
    cJSON_AddNumberToObject(o, "paid", (double)t->paid);
    cJSON_AddNumberToObject(o, "outstanding", (double)t->outstanding);
    cJSON_AddNumberToObject(o, "owed", (double)owed_in_all(t));
    return session_print_json(pgjson_whole(doc, ok));
}

static void statement_print_text(const char *payer, const PGresult *r, const owed_t *t)
{
    printf("statement for payer %s (%s): every document; credit notes are negative\n"
           "%-8s %-10s %-13s %9s %-10s %-10s %14s %14s %14s  %s\n",
           payer, PQgetvalue(r, 0, ST_NAME), "period", "source", "kind", "document",
           "issued", "due", "billed_rp", "paid_rp", "outstanding_rp", "status");
    for (int i = 0; i < PQntuples(r); i++) {
        char bs[32], ps[32], os[32];
        format_rupiah(value_i64(r, i, ST_TOTAL), bs);
        format_rupiah(value_i64(r, i, ST_PAID), ps);
        format_rupiah(value_i64(r, i, ST_OUTSTANDING), os);
        printf("%-8s %-10s %-13s %9s %-10s %-10s %14s %14s %14s  %s\n",
               PQgetvalue(r, i, ST_PERIOD), PQgetvalue(r, i, ST_SOURCE),
               PQgetvalue(r, i, ST_KIND), PQgetvalue(r, i, ST_ID),
               PQgetvalue(r, i, ST_ISSUED), PQgetvalue(r, i, ST_DUE), bs, ps, os,
               PQgetvalue(r, i, ST_STATUS));
    }
    char b[32], c[32], p[32], o[32];
    format_rupiah(t->billed, b), format_rupiah(t->credited, c);
    format_rupiah(t->paid, p), format_rupiah(owed_in_all(t), o);
    printf("billed (invoices and supplementary invoices) Rp %s\n"
           "credit notes                                 Rp %s\n"
           "paid                                         Rp %s\n"
           "owed in all (billed + credit notes - paid)   Rp %s%s\n",
           b, c, p, o, owed_in_all(t) < 0 ? " (in credit)" : "");
}

static int billing_statement(db_t *db, const args_t *a)
{
    const char *payer = arg_option(a, "--payer");
    if (!payer || !payer[0]) {
        fprintf(stderr, "usage: lindungctl billing statement --payer CODE [--json]\n");
        return 2;
    }
    const char *params[] = {payer};
    PGresult *r = report_query(db, SQL_STATEMENT, 1, params);
    if (!r)
        return 1;
    if (PQntuples(r) == 0) {
        fprintf(stderr, "billing statement: no invoice for payer %s\n", payer);
        PQclear(r);
        return 1;
    }
    owed_t t = {0};
    for (int i = 0; i < PQntuples(r); i++)
        owed_add(&t, r, i);
    int rc = 0;
    if (arg_flag(a, "--json"))
        rc = statement_print_json(payer, r, &t);
    else
        statement_print_text(payer, r, &t);
    PQclear(r);
    return rc;
}

static int billing_export(db_t *db, const args_t *a)
{
    const char *payer = arg_option(a, "--payer");
    const char *month = arg_option(a, "--period");
    const char *format = arg_option(a, "--format");
    const char *out = arg_option(a, "--out");
    period_t p;
    bool csv = format && strcmp(format, "csv") == 0;
    bool xlsx = format && strcmp(format, "xlsx") == 0;
    if (!payer || !month || !period_parse(month, &p) || !(csv || xlsx) || !out ||
        !out[0]) {
        fprintf(stderr, "usage: lindungctl billing export --payer CODE --period YYYY-MM "
                        "--format csv|xlsx --out FILE\n");
        return 2;
    }
    char err[256];
    export_owed_t owed;
    long n = export_write(db, payer, p, xlsx ? EXPORT_XLSX : EXPORT_CSV, out, &owed, err,
                          sizeof err);
    if (n < 0) {
        fprintf(stderr, "billing export: %s\n", err);
        return 1;
    }
    char o[32];
    format_rupiah(owed.owed, o);
    printf(
        "%ld items written to %s\n"
        "payer %s owes Rp %s in all (every month and source: invoices and supplementary "
        "invoices,\nless credit notes, less payments)\n",
        n, out, payer, o);
    return 0;
}

/* ---------------------------------------------------------------- dispatch */

static const char *USAGE =
    "usage: lindungctl billing run YYYY-MM [--force]\n"
    "                  (--force: a month outside billing's window, by default 60\n"
    "                  months back to 12 ahead; docs/operations.md)\n"
    "       lindungctl billing pay INVOICE_ID AMOUNT [--date YYYY-MM-DD] [--reference "
    "R]\n"
    "                  [--lines ENROLMENT_ID,... | --except ENROLMENT_ID,...]\n"
    "       lindungctl billing arrears [--json]\n"
    "       lindungctl billing lapses [--json]\n"
    "       lindungctl billing statement --payer CODE [--json]\n"
    "       lindungctl billing export --payer CODE --period YYYY-MM --format csv|xlsx "
    "--out FILE\n"
    "       lindungctl rates [YYYY-MM] [--transport] [--income RUPIAH] [--json]\n";

void billing_cmd_usage(FILE *out)
{
    fputs(USAGE, out);
}

static int with_db(int (*fn)(db_t *, const args_t *), const args_t *a)
{
    db_t *db = session_connect();
    if (!db)
        return 1;
    int rc = fn(db, a);
    db_destroy(&db);
    return rc;
}

int billing_cmd_main(int argc, char **argv)
{
    args_t a = {argc - 1, argv + 1};
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return 0;
        }
    if (strcmp(argv[0], "rates") == 0)
        return rates_show(&a);
    const char *verb = argc >= 2 ? argv[1] : "";
    if (strcmp(verb, "run") == 0)
        return billing_run(&a);
    if (strcmp(verb, "pay") == 0)
        return billing_pay(&a);
    if (strcmp(verb, "arrears") == 0)
        return with_db(billing_arrears, &a);
    if (strcmp(verb, "lapses") == 0)
        return with_db(billing_lapses, &a);
    if (strcmp(verb, "statement") == 0)
        return with_db(billing_statement, &a);
    if (strcmp(verb, "export") == 0)
        return with_db(billing_export, &a);
    fputs(USAGE, stderr);
    return 2;
}
