/* invoices: the /v1/invoices routes of intake: a scoped, cursor-paged list,
 * one invoice with its lines and payments (JSON, or CSV with Accept:
 * text/csv), and recording a payment (admin keys only). A village key sees
 * its village's invoices, a regency key its villages' and its own, admin all.
 * Payments go through the database function billing_record_payment()
 * (db/migrations/004_billing.sql), the same rule lindungctl billing pay uses.
 * Not billing itself: invoices are written by lindung-billing. */
#include "invoices.h"
#include "csvout.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "date.h"
#include "log.h"
#include "period.h"
#include "pgjson.h"

#define LIST_DEFAULT_LIMIT 100
#define LIST_MAX_LIMIT 1000
#define MAX_REFERENCE 200
#define MAX_SAFE_INTEGER 9007199254740991.0 /* 2^53 - 1: exact in a JSON number */
#define PREFIX "/v1/invoices"

/* $4 scope kind, $5 scope code; a regency sees payer codes "PP.RR" and
 * "PP.RR.*"; keyset pagination on id ($6, exclusive). */
static const char *SQL_LIST =
    "SELECT id, to_char(period, 'YYYY-MM'), funding_source, payer_code, payer_name, "
    "total, "
    "  line_count, paid, outstanding, status, to_char(due_date, 'YYYY-MM-DD') "
    "FROM invoice_balances "
    "WHERE ($1::date IS NULL OR period = $1::date) "
    "  AND ($2::text IS NULL OR funding_source = $2) "
    "  AND ($3::text IS NULL OR payer_code = $3) "
    "  AND ($4 = 'admin' OR ($4 = 'village' AND payer_code = $5) "
    "       OR ($4 = 'regency' AND (payer_code = $5 OR left(payer_code, 6) = $5 || "
    "'.'))) "
    "  AND ($6::bigint IS NULL OR id > $6::bigint) "
    "ORDER BY id LIMIT $7";

static const char *SQL_ONE =
    "SELECT id, to_char(period, 'YYYY-MM'), funding_source, payer_code, payer_name, "
    "total, "
    "  line_count, paid, outstanding, status, to_char(due_date, 'YYYY-MM-DD') "
    "FROM invoice_balances WHERE id = $1";

/* Lines have no invoice index (007_accrual_partitions.sql): naming the
 * invoice's month makes PostgreSQL read that month's partition only. */
static const char *SQL_LINES =
    "SELECT a.enrolment_id, e.nik, pa.name, pr.code, e.village_code, a.jkk, a.jkm, "
    "a.amount, "
    "  a.supplementary "
    "FROM accruals a JOIN enrolments e ON e.id = a.enrolment_id "
    "JOIN participants pa ON pa.nik = e.nik JOIN programs pr ON pr.id = e.program_id "
    "WHERE a.invoice_id = $1 AND a.period = (SELECT period FROM invoices WHERE id = $1) "
    "ORDER BY e.village_code, a.enrolment_id";

static const char *SQL_PAYMENTS =
    "SELECT id, amount, to_char(paid_on, 'YYYY-MM-DD'), reference "
    "FROM payments WHERE invoice_id = $1 ORDER BY id";

static const char *SQL_PAY =
    "SELECT result, payment_id, total, paid, outstanding, status "
    "FROM billing_record_payment($1, $2, $3, $4, $5)";

static const char *LINE_CSV_HEADER =
    "enrolment_id,nik,name,program,village_code,jkk,jkm,amount,supplementary\r\n";

static const char *scope_kind_name(const scope_t *s)
{
    return s->kind == SCOPE_ADMIN     ? "admin"
           : s->kind == SCOPE_REGENCY ? "regency"
                                      : "village";
}

/* The same rule as SQL_LIST, for one invoice. */
static bool invoice_in_scope(const scope_t *s, const char *payer_code)
{
    if (s->kind == SCOPE_ADMIN)
        return true;
    if (s->kind == SCOPE_VILLAGE)
        return strcmp(s->code, payer_code) == 0;
    size_t n = strlen(s->code);
    return strncmp(s->code, payer_code, n) == 0 &&
           (payer_code[n] == '\0' || payer_code[n] == '.');
}

static cJSON *invoice_json(const PGresult *r, int i)
{
    cJSON *o = cJSON_CreateObject();
    pgjson_add_int(o, "id", r, i, 0);
    pgjson_add_text(o, "period", r, i, 1);
    pgjson_add_text(o, "funding_source", r, i, 2);
    pgjson_add_text(o, "payer_code", r, i, 3);
    pgjson_add_text(o, "payer_name", r, i, 4);
    pgjson_add_int(o, "total", r, i, 5);
    pgjson_add_int(o, "line_count", r, i, 6);
    pgjson_add_int(o, "paid", r, i, 7);
    pgjson_add_int(o, "outstanding", r, i, 8);
    pgjson_add_text(o, "status", r, i, 9);
    pgjson_add_text(o, "due_date", r, i, 10);
    return o;
}

static void add_field_error(cJSON *errors, const char *field, const char *message)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "field", field);
    cJSON_AddStringToObject(e, "message", message);
    cJSON_AddItemToArray(errors, e);
}

static bool all_digits(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n > 0 && n <= max && strspn(s, "0123456789") == n;
}

/* ---------------------------------------------------------------- list */

typedef struct {
    char period[11];
    const char *source, *payer, *cursor;
    char limit[8];
} list_query_t;

/* Read and check the query string; every bad parameter goes into errors. */
static void list_query_read(const http_request_t *req, list_query_t *q, cJSON *errors)
{
    memset(q, 0, sizeof *q);
    const char *period = http_request_query(req, "period");
    period_t p;
    if (period && period_parse(period, &p))
        date_format(period_first_day(p), q->period);
    else if (period)
        add_field_error(errors, "period", "must be YYYY-MM");
    q->source = http_request_query(req, "funding_source");
    const char *sources[] = {"ADD", "DBH_SAWIT", "CSR", "APBD", "APBDES"};
    bool known = !q->source;
    for (size_t i = 0; q->source && i < sizeof sources / sizeof sources[0]; i++)
        known = known || strcmp(q->source, sources[i]) == 0;
    if (!known)
        add_field_error(errors, "funding_source",
                        "must be ADD, DBH_SAWIT, CSR, APBD or APBDES");
    q->payer = http_request_query(req, "payer");
    if (q->payer && (!q->payer[0] || strlen(q->payer) > 64))
        add_field_error(errors, "payer", "must be a payer code");
    q->cursor = http_request_query(req, "cursor");
    if (q->cursor && !all_digits(q->cursor, 18))
        add_field_error(errors, "cursor", "must be a next_cursor from a previous page");
    const char *limit = http_request_query(req, "limit");
    long n = limit && all_digits(limit, 4) ? atol(limit) : LIST_DEFAULT_LIMIT;
    if (limit && (!all_digits(limit, 4) || n < 1 || n > LIST_MAX_LIMIT))
        add_field_error(errors, "limit", "must be a whole number from 1 to 1000");
    snprintf(q->limit, sizeof q->limit, "%ld", n);
}

static void list_invoices(api_t *api, const http_request_t *req, http_response_t *res)
{
    res->route = PREFIX;
    db_t *db = api_db(api);
    auth_t auth;
    if (!api_authenticate(db, req, res, &auth))
        return;
    list_query_t q;
    cJSON *errors = cJSON_CreateArray();
    list_query_read(req, &q, errors);
    if (cJSON_GetArraySize(errors) > 0) {
        http_response_error(res, 422, "INVALID_FIELDS",
                            "the query has invalid parameters", errors);
        return;
    }
    cJSON_Delete(errors);
    const char *params[] = {q.period[0] ? q.period : NULL,
                            q.source,
                            q.payer,
                            scope_kind_name(&auth.scope),
                            auth.scope.code,
                            q.cursor,
                            q.limit};
    PGresult *r = db_exec(db, SQL_LIST, 7, params);
    if (!db_ok(r)) {
        PQclear(r);
        api_db_failure(db, res);
        return;
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(doc, "items");
    int n = PQntuples(r);
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(list, invoice_json(r, i));
    if (n == atoi(q.limit))
        cJSON_AddStringToObject(doc, "next_cursor", PQgetvalue(r, n - 1, 0));
    else
        cJSON_AddNullToObject(doc, "next_cursor");
    PQclear(r);
    http_response_json(res, 200, doc);
}

/* ---------------------------------------------------------------- one */

/* Load the invoice and check scope; NULL with the answer in res otherwise. */
static PGresult *invoice_load(db_t *db, const auth_t *auth, const char *id,
                              http_response_t *res)
{
    if (!all_digits(id, 18)) {
        http_response_error(res, 404, "NOT_FOUND", "no such invoice", NULL);
        return NULL;
    }
    const char *params[] = {id};
    PGresult *r = db_exec(db, SQL_ONE, 1, params);
    if (!db_ok(r)) {
        PQclear(r);
        api_db_failure(db, res);
        return NULL;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        http_response_error(res, 404, "NOT_FOUND", "no such invoice", NULL);
        return NULL;
    }
    if (!invoice_in_scope(&auth->scope, PQgetvalue(r, 0, 3))) {
        PQclear(r);
        http_response_error(res, 403, "OUT_OF_SCOPE",
                            "this API key may not read that invoice", NULL);
        return NULL;
    }
    return r;
}

static void answer_csv(const PGresult *lines, http_response_t *res)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    fputs(LINE_CSV_HEADER, out);
    for (int i = 0; i < PQntuples(lines); i++) {
        for (int c = 0; c < 9; c++) {
            if (c)
                fputc(',', out);
            csvout_field(out, c == 8
                                  ? (PQgetvalue(lines, i, c)[0] == 't' ? "true" : "false")
                                  : PQgetvalue(lines, i, c));
        }
        fputs("\r\n", out);
    }
    fclose(out);
    http_response_text(res, 200, "text/csv; charset=utf-8", buf, len);
}

static cJSON *lines_json(const PGresult *r)
{
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; i < PQntuples(r); i++) {
        cJSON *o = cJSON_CreateObject();
        pgjson_add_int(o, "enrolment_id", r, i, 0);
        pgjson_add_text(o, "nik", r, i, 1);
        pgjson_add_text(o, "name", r, i, 2);
        pgjson_add_text(o, "program_code", r, i, 3);
        pgjson_add_text(o, "village_code", r, i, 4);
        pgjson_add_int(o, "jkk", r, i, 5);
        pgjson_add_int(o, "jkm", r, i, 6);
        pgjson_add_int(o, "amount", r, i, 7);
        pgjson_add_bool(o, "supplementary", r, i, 8);
        cJSON_AddItemToArray(list, o);
    }
    return list;
}

static cJSON *payments_json(const PGresult *r)
{
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; i < PQntuples(r); i++) {
        cJSON *o = cJSON_CreateObject();
        pgjson_add_int(o, "id", r, i, 0);
        pgjson_add_int(o, "amount", r, i, 1);
        pgjson_add_text(o, "paid_on", r, i, 2);
        pgjson_add_text(o, "reference", r, i, 3);
        cJSON_AddItemToArray(list, o);
    }
    return list;
}

static bool wants_csv(const http_request_t *req)
{
    const char *accept = http_request_header(req, "Accept");
    return accept && strstr(accept, "text/csv") != NULL;
}

static void read_invoice(api_t *api, const http_request_t *req, http_response_t *res,
                         const char *id)
{
    res->route = PREFIX "/{id}";
    db_t *db = api_db(api);
    auth_t auth;
    if (!api_authenticate(db, req, res, &auth))
        return;
    PGresult *inv = invoice_load(db, &auth, id, res);
    if (!inv)
        return;
    const char *params[] = {id};
    PGresult *lines = db_exec(db, SQL_LINES, 1, params);
    PGresult *pays = db_ok(lines) ? db_exec(db, SQL_PAYMENTS, 1, params) : NULL;
    if (!db_ok(lines) || !db_ok(pays)) {
        api_db_failure(db, res);
    } else if (wants_csv(req)) {
        answer_csv(lines, res);
    } else {
        cJSON *doc = invoice_json(inv, 0);
        cJSON_AddItemToObject(doc, "lines", lines_json(lines));
        cJSON_AddItemToObject(doc, "payments", payments_json(pays));
        http_response_json(res, 200, doc);
    }
    PQclear(inv);
    PQclear(lines);
    PQclear(pays);
}

/* ---------------------------------------------------------------- pay */

typedef struct {
    char amount[24];
    char paid_on[11];
    const char *reference; /* points into the parsed body */
} payment_in_t;

/* Check every field; each bad one goes into errors. */
static void payment_read(const cJSON *body, payment_in_t *p, cJSON *errors)
{
    memset(p, 0, sizeof *p);
    const cJSON *amount = cJSON_GetObjectItemCaseSensitive(body, "amount");
    double v = cJSON_IsNumber(amount) ? amount->valuedouble : -1;
    if (!cJSON_IsNumber(amount) || v != floor(v) || v < 1 || v > MAX_SAFE_INTEGER)
        add_field_error(errors, "amount", "must be a whole number of rupiah, at least 1");
    else
        snprintf(p->amount, sizeof p->amount, "%lld", (long long)v);
    const cJSON *paid_on = cJSON_GetObjectItemCaseSensitive(body, "paid_on");
    date_t d;
    if (!cJSON_IsString(paid_on) || !date_parse(paid_on->valuestring, &d))
        add_field_error(errors, "paid_on", "must be a date YYYY-MM-DD");
    else if (date_compare(d, date_today()) > 0)
        add_field_error(errors, "paid_on", "must not be in the future");
    else
        date_format(d, p->paid_on);
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(body, "reference");
    if (ref && !cJSON_IsNull(ref) &&
        (!cJSON_IsString(ref) || !ref->valuestring[0] ||
         strlen(ref->valuestring) > MAX_REFERENCE))
        add_field_error(errors, "reference", "must be a string of 1 to 200 characters");
    else if (cJSON_IsString(ref))
        p->reference = ref->valuestring;
}

static void answer_payment(const PGresult *r, http_response_t *res)
{
    const char *result = PQgetvalue(r, 0, 0);
    if (strcmp(result, "not_found") == 0) {
        http_response_error(res, 404, "NOT_FOUND", "no such invoice", NULL);
        return;
    }
    if (strcmp(result, "overpaid") == 0 || strcmp(result, "duplicate") == 0) {
        bool over = result[0] == 'o';
        http_response_error(
            res, 409, over ? "OVERPAYMENT" : "DUPLICATE_PAYMENT",
            over ? "the amount is more than the invoice's outstanding balance"
                 : "a payment with this reference is already recorded",
            NULL);
        return;
    }
    if (strcmp(result, "ok") != 0) {
        cJSON *errors = cJSON_CreateArray();
        add_field_error(errors, result[0] == 'f' ? "paid_on" : "amount", result);
        http_response_error(res, 422, "INVALID_FIELDS", "the payment has invalid fields",
                            errors);
        return;
    }
    cJSON *doc = cJSON_CreateObject();
    pgjson_add_int(doc, "payment_id", r, 0, 1);
    pgjson_add_int(doc, "total", r, 0, 2);
    pgjson_add_int(doc, "paid", r, 0, 3);
    pgjson_add_int(doc, "outstanding", r, 0, 4);
    pgjson_add_text(doc, "status", r, 0, 5);
    http_response_json(res, 201, doc);
}

static void pay_invoice(api_t *api, const http_request_t *req, http_response_t *res,
                        const char *id)
{
    res->route = PREFIX "/{id}/payments";
    db_t *db = api_db(api);
    auth_t auth;
    if (!api_authenticate(db, req, res, &auth))
        return;
    if (auth.scope.kind != SCOPE_ADMIN) {
        http_response_error(res, 403, "OUT_OF_SCOPE",
                            "only an admin key may record payments", NULL);
        return;
    }
    if (!http_request_media_type_is(req, "application/json")) {
        http_response_error(res, 415, "UNSUPPORTED_MEDIA_TYPE",
                            "send Content-Type: application/json", NULL);
        return;
    }
    cJSON *body = cJSON_ParseWithLength(req->body, req->body_len);
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        http_response_error(res, 400, "MALFORMED_BODY", "the body is not a JSON object",
                            NULL);
        return;
    }
    payment_in_t p;
    cJSON *errors = cJSON_CreateArray();
    payment_read(body, &p, errors);
    if (cJSON_GetArraySize(errors) > 0) {
        cJSON_Delete(body);
        http_response_error(res, 422, "INVALID_FIELDS", "the payment has invalid fields",
                            errors);
        return;
    }
    cJSON_Delete(errors);
    if (!all_digits(id, 18)) {
        cJSON_Delete(body);
        http_response_error(res, 404, "NOT_FOUND", "no such invoice", NULL);
        return;
    }
    char source[64];
    snprintf(source, sizeof source, "api:%s", auth.key_id);
    const char *params[] = {id, p.amount, p.paid_on, p.reference, source};
    PGresult *r = db_exec(db, SQL_PAY, 5, params);
    cJSON_Delete(body);
    if (!db_ok(r) || PQntuples(r) != 1) {
        PQclear(r);
        api_db_failure(db, res);
        return;
    }
    if (strcmp(PQgetvalue(r, 0, 0), "ok") == 0)
        log_info("payment.recorded", "invoice_id", id, "amount", p.amount, "request_id",
                 req->request_id);
    answer_payment(r, res);
    PQclear(r);
}

/* ---------------------------------------------------------------- routing */

bool invoices_route(api_t *api, const http_request_t *req, http_response_t *res)
{
    size_t n = strlen(PREFIX);
    if (strncmp(req->path, PREFIX, n) != 0 ||
        (req->path[n] != '\0' && req->path[n] != '/'))
        return false;
    bool get = strcmp(req->method, "GET") == 0;
    bool post = strcmp(req->method, "POST") == 0;
    const char *rest = req->path + n;
    if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
        if (get) {
            list_invoices(api, req, res);
            return true;
        }
        http_response_method_not_allowed(res, "method_not_allowed",
                                         "method not allowed here");
        return true;
    }
    char id[24];
    const char *slash = strchr(rest + 1, '/');
    size_t idlen = slash ? (size_t)(slash - rest - 1) : strlen(rest + 1);
    snprintf(id, sizeof id, "%.*s", (int)(idlen < sizeof id ? idlen : sizeof id - 1),
             rest + 1);
    if (!slash && get) {
        read_invoice(api, req, res, id);
    } else if (slash && strcmp(slash, "/payments") == 0 && post) {
        pay_invoice(api, req, res, id);
    } else if (!slash || strcmp(slash, "/payments") == 0) {
        http_response_method_not_allowed(res, "method_not_allowed",
                                         "method not allowed here");
    } else {
        http_response_not_found(res);
    }
    return true;
}
