/* invoices: the /v1/invoices routes of intake. A document is an invoice (a
 * month's first one for a payer), a supplementary invoice (lines a later run
 * added, upward corrections) or a credit note (reversals, negative); once
 * issued it never changes (db/migrations/013_money_rules.sql). Routes: a
 * scoped, cursor-paged list of documents; one document with its items
 * (accrual lines and adjustments, each with what payments allocated to it)
 * and its payments with the lines each paid (JSON, or the items as CSV with
 * Accept: text/csv); and recording a payment (admin keys only), optionally
 * naming the lines it pays or leaves unpaid. A village key sees its village's
 * documents, a regency key its villages' and its own, admin all. Payments go
 * through the database function billing_record_payment(), the same rule
 * lindungctl billing pay uses. Not billing itself: documents are written by
 * lindung-billing. */
#include "invoices.h"
#include "audit.h"
#include "fields.h"
#include "csvout.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "date.h"
#include "jsonguard.h"
#include "log.h"
#include "period.h"
#include "pgjson.h"

#define MAX_REFERENCE 200
#define MAX_PAY_LIST 10000 /* enrolments in "lines" or "except" (docs/api.md) */
#define MAX_UNKNOWN_DETAILS 100
#define MAX_SAFE_INTEGER 9007199254740991.0 /* 2^53 - 1: exact in a JSON number */
#define PREFIX "/v1/invoices"

/* The columns of a document, in the order SQL_LIST and SQL_ONE select them:
 * what invoice_balances says (credit notes: status 'credit', negative total
 * and outstanding) and the run that issued it. */
enum {
    D_ID,
    D_PERIOD,
    D_SOURCE,
    D_PAYER,
    D_PAYER_NAME,
    D_TOTAL,
    D_LINE_COUNT,
    D_PAID,
    D_OUTSTANDING,
    D_STATUS,
    D_DUE,
    D_KIND,
    D_ISSUED,
    D_RUN
};

/* $4 scope kind, $5 scope code; a regency sees payer codes "PP.RR" and
 * "PP.RR.*"; keyset pagination on id ($6, exclusive); $8 the kind. */
static const char *SQL_LIST =
    "SELECT b.id, to_char(b.period, 'YYYY-MM'), b.funding_source, b.payer_code, "
    "    b.payer_name, b.total, b.line_count, b.paid, b.outstanding, b.status, "
    "    to_char(b.due_date, 'YYYY-MM-DD'), b.kind, "
    "    to_char(b.issued_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), i.run_id "
    "FROM invoice_balances b "
    "JOIN invoices i ON i.id = b.id "
    "WHERE ($1::date IS NULL OR b.period = $1::date) "
    "    AND ($2::text IS NULL OR b.funding_source = $2) "
    "    AND ($3::text IS NULL OR b.payer_code = $3) "
    "    AND ($4 = 'admin' "
    "        OR ($4 = 'village' AND b.payer_code = $5) "
    "        OR ($4 = 'regency' "
    "            AND (b.payer_code = $5 OR left(b.payer_code, 6) = $5 || '.'))) "
    "    AND ($6::bigint IS NULL OR b.id > $6::bigint) "
    "    AND ($8::text IS NULL OR b.kind = $8) "
    "ORDER BY b.id "
    "LIMIT $7";

static const char *SQL_ONE =
    "SELECT b.id, to_char(b.period, 'YYYY-MM'), b.funding_source, b.payer_code, "
    "    b.payer_name, b.total, b.line_count, b.paid, b.outstanding, b.status, "
    "    to_char(b.due_date, 'YYYY-MM-DD'), b.kind, "
    "    to_char(b.issued_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), i.run_id "
    "FROM invoice_balances b "
    "JOIN invoices i ON i.id = b.id "
    "WHERE b.id = $1";

/* A document's items: its accrual lines and its adjustments, from
 * document_items() (which finds lines through the payer's enrolments, as
 * accruals have no invoice index), in the order a payment without lines
 * pays them: village, then enrolment. An adjustment names the line it
 * corrects by (enrolment, month); line_invoice_id is the document that
 * carries that line (the unique (enrolment_id, period) key finds it). */
static const char *SQL_ITEMS =
    "WITH r AS MATERIALIZED ("
    "    SELECT d.enrolment_id, e.nik, pa.name, pr.code, e.village_code, d.jkk, d.jkm, "
    "        d.amount, coalesce(d.item = 'line' AND a.supplementary, false), "
    "        CASE WHEN d.item = 'line' THEN 'line' ELSE 'adjustment' END AS item, "
    "        CASE WHEN d.item = 'line' THEN NULL ELSE d.item END AS reason, "
    "        to_char(d.period, 'YYYY-MM') AS period, d.allocated, a.invoice_id "
    "    FROM document_items($1) d "
    "    JOIN enrolments e ON e.id = d.enrolment_id "
    "    JOIN participants pa ON pa.nik = e.nik "
    "    JOIN programs pr ON pr.id = e.program_id "
    "    LEFT JOIN accruals a ON a.enrolment_id = d.enrolment_id AND a.period = d.period"
    "), "
    /* the record that the key ($3) read or exported ($2) the people on the
     * document (audit.h); a document without items shows nobody */
    "au AS ("
    "    INSERT INTO audit_log (actor_kind, actor, action, object, nik_hashes, "
    "        request_id, detail) "
    "    SELECT 'key', $3, $2, $1::text, audit_nik_hashes(array_agg(nik)), $4, "
    "        jsonb_build_object('items', count(*)) "
    "    FROM r "
    "    HAVING count(*) > 0"
    ") "
    "SELECT * FROM r "
    "ORDER BY village_code, enrolment_id, period, item <> 'line', reason";

enum {
    I_ENROLMENT,
    I_NIK,
    I_NAME,
    I_PROGRAM,
    I_VILLAGE,
    I_JKK,
    I_JKM,
    I_AMOUNT,
    I_SUPPLEMENTARY,
    I_ITEM,
    I_REASON,
    I_PERIOD,
    I_ALLOCATED,
    I_LINE_INVOICE,
    I_COLUMNS
};

/* The CSV columns are SQL_ITEMS's; the first nine are those of the CSV
 * before documents had adjustments, in the same order. */
static const char *ITEM_CSV_HEADER =
    "enrolment_id,nik,name,program,village_code,jkk,jkm,amount,supplementary,item,"
    "reason,period,allocated,line_invoice_id\r\n";

static const char *SQL_PAYMENTS =
    "SELECT p.id, p.amount, to_char(p.paid_on, 'YYYY-MM-DD'), p.reference, "
    "    (SELECT count(*) FROM payment_lines pl WHERE pl.payment_id = p.id) "
    "FROM payments p "
    "WHERE p.invoice_id = $1 "
    "ORDER BY p.id";
enum { PAY_ID, PAY_AMOUNT, PAY_PAID_ON, PAY_REFERENCE, PAY_LINE_COUNT };

/* Ordered like SQL_PAYMENTS, so each payment's lines follow one another. */
static const char *SQL_PAYMENT_LINES =
    "SELECT pl.payment_id, pl.enrolment_id, to_char(pl.period, 'YYYY-MM'), pl.amount "
    "FROM payment_lines pl "
    "JOIN payments p ON p.id = pl.payment_id "
    "JOIN enrolments e ON e.id = pl.enrolment_id "
    "WHERE p.invoice_id = $1 "
    "ORDER BY pl.payment_id, e.village_code, pl.enrolment_id, pl.period";
enum { PL_PAYMENT, PL_ENROLMENT, PL_PERIOD, PL_AMOUNT };

/* The payment and, when recorded, its audit record ($8 the key, $9 the
 * request id; audit.h) in one statement. No NIKs: a payment is a payer's,
 * the lines it pays are read with the document. */
static const char *SQL_PAY =
    "WITH r AS MATERIALIZED ("
    "    SELECT result, payment_id, total, paid, outstanding, status "
    "    FROM billing_record_payment($1, $2, $3, $4, $5, $6::bigint[], $7::bigint[])"
    "), "
    "au AS ("
    "    INSERT INTO audit_log (actor_kind, actor, action, object, nik_hashes, "
    "        request_id, detail) "
    "    SELECT 'key', $8, 'payment.record', r.payment_id::text, '{}', $9, "
    "        jsonb_build_object('invoice_id', $1::bigint, 'amount', $2::bigint) "
    "    FROM r "
    "    WHERE r.result = 'ok'"
    ") "
    "SELECT * FROM r";
enum { R_RESULT, R_PAYMENT, R_TOTAL, R_PAID, R_OUTSTANDING, R_STATUS };

static const char *SQL_ALLOCATED_COUNT =
    "SELECT count(*) FROM payment_lines WHERE payment_id = $1";

/* For UNKNOWN_LINE: which listed enrolments have no item on the document,
 * by list and position in the request. */
static const char *SQL_UNKNOWN_LINES =
    "WITH d AS (SELECT DISTINCT enrolment_id FROM document_items($1)) "
    "SELECT x.list, x.ord - 1, x.id "
    "FROM ("
    "    SELECT 'lines' AS list, u.ord, u.id "
    "    FROM unnest($2::bigint[]) WITH ORDINALITY AS u (id, ord) "
    "    UNION ALL "
    "    SELECT 'except', u.ord, u.id "
    "    FROM unnest($3::bigint[]) WITH ORDINALITY AS u (id, ord)"
    ") x "
    "WHERE NOT EXISTS (SELECT 1 FROM d WHERE d.enrolment_id = x.id) "
    "ORDER BY x.list DESC, x.ord "
    "LIMIT 100"; /* MAX_UNKNOWN_DETAILS */
enum { U_LIST, U_INDEX, U_ENROLMENT };

/* For AMOUNT_MISMATCH: what the lines chosen still owe on the document, as
 * billing_record_payment() computes it. */
static const char *SQL_STILL_OWED =
    "SELECT document_list_owed($1, $2::bigint[], $3::bigint[])";

static cJSON *invoice_json(const PGresult *r, int i)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = pgjson_add_int(o, "id", r, i, D_ID);
    ok = ok && pgjson_add_text(o, "kind", r, i, D_KIND);
    ok = ok && pgjson_add_text(o, "period", r, i, D_PERIOD);
    ok = ok && pgjson_add_text(o, "funding_source", r, i, D_SOURCE);
    ok = ok && pgjson_add_text(o, "payer_code", r, i, D_PAYER);
    ok = ok && pgjson_add_text(o, "payer_name", r, i, D_PAYER_NAME);
    ok = ok && pgjson_add_int(o, "total", r, i, D_TOTAL);
    ok = ok && pgjson_add_int(o, "line_count", r, i, D_LINE_COUNT);
    ok = ok && pgjson_add_int(o, "paid", r, i, D_PAID);
    ok = ok && pgjson_add_int(o, "outstanding", r, i, D_OUTSTANDING);
    ok = ok && pgjson_add_text(o, "status", r, i, D_STATUS);
    ok = ok && pgjson_add_text(o, "due_date", r, i, D_DUE);
    ok = ok && pgjson_add_text(o, "issued_at", r, i, D_ISSUED);
    ok = ok && pgjson_add_int(o, "run_id", r, i, D_RUN);
    return pgjson_whole(o, ok);
}

/* {"field", "index", "message"}: one entry of a list field. */
/* ---------------------------------------------------------------- list */

typedef struct {
    char period[11];
    const char *source, *payer, *cursor, *kind;
    char limit[8];
} list_query_t;

/* Read and check the query string; every bad parameter goes into errors. */
static void list_query_read(const http_request_t *req, list_query_t *q, cJSON *errors)
{
    static const char *const sources[] = {"ADD",  "DBH_SAWIT", "CSR",
                                          "APBD", "APBDES",    NULL};
    static const char *const kinds[] = {"invoice", "supplementary", "credit_note", NULL};
    memset(q, 0, sizeof *q);
    const char *period = http_request_query(req, "period");
    period_t p;
    if (period && period_parse(period, &p))
        date_format(period_first_day(p), q->period);
    else if (period)
        fields_add_error(errors, "period", "must be YYYY-MM");
    q->source = http_request_query(req, "funding_source");
    if (q->source && !fields_one_of(q->source, sources))
        fields_add_error(errors, "funding_source",
                         "must be ADD, DBH_SAWIT, CSR, APBD or APBDES");
    q->kind = http_request_query(req, "kind");
    if (q->kind && !fields_one_of(q->kind, kinds))
        fields_add_error(errors, "kind", "must be invoice, supplementary or credit_note");
    q->payer = http_request_query(req, "payer");
    if (q->payer && (!q->payer[0] || strlen(q->payer) > 64))
        fields_add_error(errors, "payer", "must be a payer code");
    route_page_id_cursor(req, errors, &q->cursor);
    route_page_limit(req, errors, q->limit);
}

static void list_invoices(route_ctx_t *ctx, const http_request_t *req,
                          http_response_t *res)
{
    res->route = PREFIX;
    db_t *db = route_db(ctx);
    auth_t auth;
    if (!route_authenticate(db, req, res, &auth))
        return;
    list_query_t q;
    cJSON *errors = cJSON_CreateArray();
    if (errors)
        list_query_read(req, &q, errors);
    if (fields_error_count(errors) > 0) {
        route_answer_error(res, 422, "INVALID_FIELDS", "the query has invalid parameters",
                           errors);
        return;
    }
    cJSON_Delete(errors);
    const char *params[] = {q.period[0] ? q.period : NULL,
                            q.source,
                            q.payer,
                            fields_scope_kind(&auth.scope),
                            auth.scope.code,
                            q.cursor,
                            q.limit,
                            q.kind};
    PGresult *r = db_exec(db, SQL_LIST, 8, params);
    if (!db_ok(r)) {
        PQclear(r);
        route_db_failure(db, res);
        return;
    }
    cJSON *items = cJSON_CreateArray();
    int n = PQntuples(r);
    bool ok = items != NULL;
    for (int i = 0; ok && i < n; i++)
        ok = pgjson_append(items, invoice_json(r, i));
    route_answer_page(res, pgjson_whole(items, ok), n ? PQgetvalue(r, n - 1, D_ID) : NULL,
                      n == atoi(q.limit));
    PQclear(r);
}

/* ---------------------------------------------------------------- one */

/* Load the document and check scope; NULL with the answer in res otherwise.
 * A document outside the key's scope is answered exactly as one that does
 * not exist: ids are sequential, and a 403 would tell which ones exist. The
 * scope rule is SQL_LIST's, for one document (scope_allows_payer). */
static PGresult *invoice_load(db_t *db, const auth_t *auth, const char *id,
                              http_response_t *res)
{
    if (!fields_all_digits(id, 18)) {
        http_response_error(res, 404, "NOT_FOUND", "no such invoice", NULL);
        return NULL;
    }
    const char *params[] = {id};
    PGresult *r = db_exec(db, SQL_ONE, 1, params);
    if (!db_ok(r)) {
        PQclear(r);
        route_db_failure(db, res);
        return NULL;
    }
    if (PQntuples(r) == 0 ||
        !scope_allows_payer(&auth->scope, PQgetvalue(r, 0, D_PAYER))) {
        PQclear(r);
        http_response_error(res, 404, "NOT_FOUND", "no such invoice", NULL);
        return NULL;
    }
    return r;
}

/* "-16800" is a number, not a formula: csvout_field would quote it and put
 * an apostrophe before it, and spreadsheets would then not add it up. */
static bool is_integer_text(const char *s)
{
    const char *digits = s[0] == '-' ? s + 1 : s;
    size_t n = strlen(digits);
    return n > 0 && strspn(digits, "0123456789") == n;
}

static bool is_number_column(int col)
{
    return col == I_ENROLMENT || col == I_JKK || col == I_JKM || col == I_AMOUNT ||
           col == I_ALLOCATED || col == I_LINE_INVOICE;
}

static void csv_item_field(FILE *out, const PGresult *items, int row, int col)
{
    const char *v = PQgetvalue(items, row, col);
    if (col == I_SUPPLEMENTARY)
        fputs(v[0] == 't' ? "true" : "false", out);
    else if (is_number_column(col) && is_integer_text(v))
        fputs(v, out);
    else
        csvout_field(out, v);
}

static void answer_csv(const PGresult *items, http_response_t *res)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out) {
        route_out_of_memory(res);
        return;
    }
    fputs(ITEM_CSV_HEADER, out);
    for (int i = 0; i < PQntuples(items); i++) {
        for (int c = 0; c < I_COLUMNS; c++) {
            if (c)
                fputc(',', out);
            csv_item_field(out, items, i, c);
        }
        fputs("\r\n", out);
    }
    bool failed = ferror(out) != 0;
    if (fclose(out) != 0 || failed) {
        free(buf);
        route_out_of_memory(res);
        return;
    }
    http_response_text(res, 200, "text/csv; charset=utf-8", buf, len);
}

/* The fields a line and an adjustment share: who, which month, how much,
 * and what payments to this document allocated to it. */
static cJSON *item_json(const PGresult *r, int i)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = pgjson_add_int(o, "enrolment_id", r, i, I_ENROLMENT);
    ok = ok && pgjson_add_text(o, "nik", r, i, I_NIK);
    ok = ok && pgjson_add_text(o, "name", r, i, I_NAME);
    ok = ok && pgjson_add_text(o, "program_code", r, i, I_PROGRAM);
    ok = ok && pgjson_add_text(o, "village_code", r, i, I_VILLAGE);
    ok = ok && pgjson_add_text(o, "period", r, i, I_PERIOD);
    ok = ok && pgjson_add_int(o, "jkk", r, i, I_JKK);
    ok = ok && pgjson_add_int(o, "jkm", r, i, I_JKM);
    ok = ok && pgjson_add_int(o, "amount", r, i, I_AMOUNT);
    ok = ok && pgjson_add_int(o, "allocated", r, i, I_ALLOCATED);
    return pgjson_whole(o, ok);
}

/* Add "lines" (accrual lines) and "adjustments" (corrections, each naming
 * the line it corrects) to the document; false when out of memory. */
static bool items_json(cJSON *doc, const PGresult *r)
{
    cJSON *lines = cJSON_AddArrayToObject(doc, "lines");
    cJSON *adjustments = cJSON_AddArrayToObject(doc, "adjustments");
    bool ok = lines && adjustments;
    for (int i = 0; ok && i < PQntuples(r); i++) {
        cJSON *o = item_json(r, i);
        if (strcmp(PQgetvalue(r, i, I_ITEM), "line") == 0) {
            ok = pgjson_append(lines,
                               pgjson_whole(o, pgjson_add_bool(o, "supplementary", r, i,
                                                               I_SUPPLEMENTARY)));
        } else {
            ok = pgjson_append(
                adjustments,
                pgjson_whole(
                    o, pgjson_add_text(o, "reason", r, i, I_REASON) &&
                           pgjson_add_int(o, "line_invoice_id", r, i, I_LINE_INVOICE)));
        }
    }
    return ok;
}

/* Payments by id, each with the lines it paid (both results are ordered by
 * payment id, so one pass over the lines fills every payment). */
static cJSON *payments_json(const PGresult *r, const PGresult *lines)
{
    cJSON *list = cJSON_CreateArray();
    bool ok = list != NULL;
    int l = 0, nlines = PQntuples(lines);
    for (int i = 0; ok && i < PQntuples(r); i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON *paid = NULL;
        bool whole = pgjson_add_int(o, "id", r, i, PAY_ID) &&
                     pgjson_add_int(o, "amount", r, i, PAY_AMOUNT) &&
                     pgjson_add_text(o, "paid_on", r, i, PAY_PAID_ON) &&
                     pgjson_add_text(o, "reference", r, i, PAY_REFERENCE) &&
                     pgjson_add_int(o, "line_count", r, i, PAY_LINE_COUNT) &&
                     (paid = cJSON_AddArrayToObject(o, "lines")) != NULL;
        const char *id = PQgetvalue(r, i, PAY_ID);
        for (; whole && l < nlines && strcmp(PQgetvalue(lines, l, PL_PAYMENT), id) == 0;
             l++) {
            cJSON *x = cJSON_CreateObject();
            whole = pgjson_append(
                paid, pgjson_whole(
                          x, pgjson_add_int(x, "enrolment_id", lines, l, PL_ENROLMENT) &&
                                 pgjson_add_text(x, "period", lines, l, PL_PERIOD) &&
                                 pgjson_add_int(x, "amount", lines, l, PL_AMOUNT)));
        }
        ok = pgjson_append(list, pgjson_whole(o, whole));
    }
    return pgjson_whole(list, ok);
}

static bool wants_csv(const http_request_t *req)
{
    const char *accept = http_request_header(req, "Accept");
    return accept && strstr(accept, "text/csv") != NULL;
}

static void answer_document(const PGresult *inv, const PGresult *items,
                            const PGresult *pays, const PGresult *pay_lines,
                            http_response_t *res)
{
    cJSON *doc = invoice_json(inv, 0);
    bool ok = doc && items_json(doc, items) &&
              pgjson_put(doc, "payments", payments_json(pays, pay_lines));
    route_answer_json(res, 200, pgjson_whole(doc, ok));
}

static void read_invoice(route_ctx_t *ctx, const http_request_t *req,
                         http_response_t *res, const char *id)
{
    res->route = PREFIX "/{id}";
    db_t *db = route_db(ctx);
    auth_t auth;
    if (!route_authenticate(db, req, res, &auth))
        return;
    PGresult *inv = invoice_load(db, &auth, id, res);
    if (!inv)
        return;
    bool csv = wants_csv(req);
    const char *params[] = {id};
    const char *item_params[] = {id, csv ? "invoice.export" : "invoice.lines.read",
                                 auth.key_id, req->request_id};
    PGresult *items = db_exec(db, SQL_ITEMS, 4, item_params);
    PGresult *pays = NULL, *pay_lines = NULL;
    if (!csv && db_ok(items))
        pays = db_exec(db, SQL_PAYMENTS, 1, params);
    if (!csv && db_ok(pays))
        pay_lines = db_exec(db, SQL_PAYMENT_LINES, 1, params);
    if (!db_ok(items) || (!csv && !db_ok(pay_lines)))
        route_db_failure(db, res);
    else if (csv)
        answer_csv(items, res);
    else
        answer_document(inv, items, pays, pay_lines, res);
    PQclear(inv);
    PQclear(items);
    PQclear(pays);
    PQclear(pay_lines);
}

/* ---------------------------------------------------------------- pay */

typedef struct {
    char amount[24];
    char paid_on[11];
    const char *reference; /* points into the parsed body */
    char *lines;           /* "lines" as a PostgreSQL array literal, or NULL */
    char *except;          /* "except" likewise */
} payment_in_t;

static void payment_free(payment_in_t *p)
{
    free(p->lines);
    free(p->except);
    p->lines = p->except = NULL;
}

static int compare_ids(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* A list that names an enrolment twice is a mistake in the payer's
 * spreadsheet, not something to guess about. */
static bool ids_distinct(const long long *ids, int n, const char *field, cJSON *errors)
{
    long long *sorted = malloc((size_t)n * sizeof *sorted);
    if (!sorted) {
        fields_no_memory(errors);
        return false;
    }
    memcpy(sorted, ids, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, compare_ids);
    long long twice = 0;
    for (int i = 1; i < n && !twice; i++)
        if (sorted[i] == sorted[i - 1])
            twice = sorted[i];
    free(sorted);
    if (twice) {
        char msg[96];
        snprintf(msg, sizeof msg, "lists enrolment %lld more than once", twice);
        fields_add_error(errors, field, msg);
    }
    return twice == 0;
}

/* {1,2,3}: the ids as one parameter, in the order given (UNKNOWN_LINE
 * details name positions in the request). NULL when out of memory. */
static char *ids_literal(const long long *ids, int n)
{
    size_t cap = (size_t)n * 21 + 3, used = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    out[used++] = '{';
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%lld", i ? "," : "", ids[i]);
    snprintf(out + used, cap - used, "}");
    return out;
}

/* "lines" or "except": absent or null gives NULL; otherwise 1 to
 * MAX_PAY_LIST distinct enrolment ids (whole numbers from 1), returned as an
 * array literal. The first bad entry is reported, with its index. */
static char *enrolment_list_read(const cJSON *body, const char *field, cJSON *errors)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(body, field);
    if (!list || cJSON_IsNull(list))
        return NULL;
    int n = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : -1;
    if (n < 1 || n > MAX_PAY_LIST) {
        fields_add_error(errors, field,
                         n < 0    ? "must be an array of enrolment ids"
                         : n == 0 ? "must list at least one enrolment id"
                                  : "must list at most 10000 enrolment ids");
        return NULL;
    }
    long long *ids = malloc((size_t)n * sizeof *ids);
    if (!ids) {
        fields_no_memory(errors);
        return NULL;
    }
    int i = 0;
    for (const cJSON *x = list->child; x; x = x->next, i++) {
        double v = cJSON_IsNumber(x) ? x->valuedouble : 0;
        if (v != floor(v) || v < 1 || v > MAX_SAFE_INTEGER) {
            fields_add_index_error(errors, field, i,
                                   "must be an enrolment id (a whole number from 1)");
            free(ids);
            return NULL;
        }
        ids[i] = (long long)v;
    }
    char *literal = NULL;
    if (ids_distinct(ids, n, field, errors) && !(literal = ids_literal(ids, n)))
        fields_no_memory(errors);
    free(ids);
    return literal;
}

/* Check every field; each bad one goes into errors. */
static void payment_read(const cJSON *body, payment_in_t *p, cJSON *errors)
{
    memset(p, 0, sizeof *p);
    const cJSON *amount = cJSON_GetObjectItemCaseSensitive(body, "amount");
    double v = cJSON_IsNumber(amount) ? amount->valuedouble : -1;
    if (!cJSON_IsNumber(amount) || v != floor(v) || v < 1 || v > MAX_SAFE_INTEGER)
        fields_add_error(errors, "amount",
                         "must be a whole number of rupiah, at least 1");
    else
        snprintf(p->amount, sizeof p->amount, "%lld", (long long)v);
    const cJSON *paid_on = cJSON_GetObjectItemCaseSensitive(body, "paid_on");
    date_t d;
    if (!cJSON_IsString(paid_on) || !date_parse(paid_on->valuestring, &d))
        fields_add_error(errors, "paid_on", "must be a date YYYY-MM-DD");
    else if (date_compare(d, date_today()) > 0)
        fields_add_error(errors, "paid_on", "must not be in the future");
    else
        date_format(d, p->paid_on);
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(body, "reference");
    if (ref && !cJSON_IsNull(ref) &&
        (!cJSON_IsString(ref) || !ref->valuestring[0] ||
         strlen(ref->valuestring) > MAX_REFERENCE))
        fields_add_error(errors, "reference", "must be a string of 1 to 200 characters");
    else if (cJSON_IsString(ref))
        p->reference = ref->valuestring;
    p->lines = enrolment_list_read(body, "lines", errors);
    p->except = enrolment_list_read(body, "except", errors);
    const cJSON *lines = cJSON_GetObjectItemCaseSensitive(body, "lines");
    const cJSON *except = cJSON_GetObjectItemCaseSensitive(body, "except");
    if (lines && !cJSON_IsNull(lines) && except && !cJSON_IsNull(except))
        fields_add_error(errors, "except", "give either lines or except, not both");
}

/* A refusal of billing_record_payment() and how it is answered. */
typedef struct {
    const char *result;
    int status;
    const char *code;
    const char *message;
} pay_refusal_t;

static const pay_refusal_t PAY_REFUSALS[] = {
    {"not_found", 404, "NOT_FOUND", "no such invoice"},
    {"overpaid", 409, "OVERPAYMENT",
     "the amount is more than the document's outstanding balance"},
    {"duplicate", 409, "DUPLICATE_PAYMENT",
     "a payment with this reference is already recorded"},
    {"not_payable", 422, "NOT_PAYABLE",
     "a credit note is not paid: it reduces what its payer owes"},
    {"unknown_line", 422, "UNKNOWN_LINE",
     "an enrolment listed has no line on this document"},
    {"amount_mismatch", 422, "AMOUNT_MISMATCH",
     "the amount is not what the lines chosen still owe on this document"},
    {"nothing_due", 422, "NOTHING_DUE",
     "the lines chosen owe nothing more on this document"},
};

/* UNKNOWN_LINE details: each listed enrolment without a line here. NULL
 * when the database failed or, with *no_memory set, when out of memory. */
static cJSON *unknown_lines_details(db_t *db, const char *id, const payment_in_t *p,
                                    bool *no_memory)
{
    const char *params[] = {id, p->lines, p->except};
    PGresult *r = db_exec(db, SQL_UNKNOWN_LINES, 3, params);
    if (!db_ok(r) || PQntuples(r) == 0) {
        PQclear(r);
        return NULL;
    }
    cJSON *details = cJSON_CreateArray();
    for (int i = 0; details && i < PQntuples(r) && i < MAX_UNKNOWN_DETAILS; i++) {
        char msg[96];
        snprintf(msg, sizeof msg, "enrolment %s has no line on this document",
                 PQgetvalue(r, i, U_ENROLMENT));
        fields_add_index_error(details, PQgetvalue(r, i, U_LIST),
                               atoi(PQgetvalue(r, i, U_INDEX)), msg);
    }
    PQclear(r);
    if (fields_errors_whole(details))
        return details;
    cJSON_Delete(details);
    *no_memory = true;
    return NULL;
}

/* AMOUNT_MISMATCH details: the amount the lines chosen still owe. NULL as
 * unknown_lines_details. */
static cJSON *still_owed_details(db_t *db, const char *id, const payment_in_t *p,
                                 bool *no_memory)
{
    const char *params[] = {id, p->lines, p->except};
    PGresult *r = db_exec(db, SQL_STILL_OWED, 3, params);
    if (!db_ok(r) || PQntuples(r) != 1) {
        PQclear(r);
        return NULL;
    }
    char msg[128];
    snprintf(msg, sizeof msg, "must be %s, what the lines chosen still owe",
             PQgetvalue(r, 0, 0));
    PQclear(r);
    cJSON *details = cJSON_CreateArray();
    fields_add_error(details, "amount", msg);
    if (fields_errors_whole(details))
        return details;
    cJSON_Delete(details);
    *no_memory = true;
    return NULL;
}

/* A result that is not "ok": the HTTP error for it. */
static void answer_refusal(db_t *db, const char *id, const payment_in_t *p,
                           const char *result, http_response_t *res)
{
    if (strcmp(result, "future_date") == 0 || strcmp(result, "bad_amount") == 0) {
        cJSON *errors = cJSON_CreateArray();
        fields_add_error(errors, result[0] == 'f' ? "paid_on" : "amount", result);
        route_answer_error(res, 422, "INVALID_FIELDS", "the payment has invalid fields",
                           errors);
        return;
    }
    for (size_t i = 0; i < sizeof PAY_REFUSALS / sizeof PAY_REFUSALS[0]; i++) {
        const pay_refusal_t *f = &PAY_REFUSALS[i];
        if (strcmp(result, f->result) != 0)
            continue;
        bool no_memory = false;
        cJSON *details = strcmp(result, "unknown_line") == 0
                             ? unknown_lines_details(db, id, p, &no_memory)
                         : strcmp(result, "amount_mismatch") == 0
                             ? still_owed_details(db, id, p, &no_memory)
                             : NULL;
        if (no_memory)
            route_out_of_memory(res);
        else
            http_response_error(res, f->status, f->code, f->message, details);
        return;
    }
    log_error("payment.unknown_result", "invoice_id", id, "result", result);
    http_response_error(res, 500, "INTERNAL", "unexpected answer from the database",
                        NULL);
}

static void answer_payment(db_t *db, const PGresult *r, http_response_t *res)
{
    const char *params[] = {PQgetvalue(r, 0, R_PAYMENT)};
    PGresult *n = db_exec(db, SQL_ALLOCATED_COUNT, 1, params);
    cJSON *doc = cJSON_CreateObject();
    bool ok = pgjson_add_int(doc, "payment_id", r, 0, R_PAYMENT) &&
              pgjson_add_int(doc, "total", r, 0, R_TOTAL) &&
              pgjson_add_int(doc, "paid", r, 0, R_PAID) &&
              pgjson_add_int(doc, "outstanding", r, 0, R_OUTSTANDING) &&
              pgjson_add_text(doc, "status", r, 0, R_STATUS);
    /* the payment is recorded; a failed count only leaves the count out */
    if (ok && db_ok(n) && PQntuples(n) == 1)
        ok = pgjson_add_int(doc, "allocated_lines", n, 0, 0);
    PQclear(n);
    doc = pgjson_whole(doc, ok);
    if (!doc) { /* the payment is recorded: say so */
        http_response_error(
            res, 500, "INTERNAL",
            "the server ran out of memory after the payment was recorded: "
            "read the invoice to see it, do not send it again",
            NULL);
        return;
    }
    http_response_json(res, 201, doc);
}

/* Parse and check the body; false with the answer in res otherwise. */
static bool payment_body_read(const http_request_t *req, payment_in_t *p, cJSON **body,
                              http_response_t *res)
{
    if (!http_request_media_type_is(req, "application/json")) {
        http_response_error(res, 415, "UNSUPPORTED_MEDIA_TYPE",
                            "send Content-Type: application/json", NULL);
        return false;
    }
    /* shape, size and NULs on the raw bytes before a tree: jsonguard.h */
    jsonguard_result_t guard = jsonguard_parse(req->body, req->body_len, body);
    if (guard != JSONGUARD_OK) {
        char message[96];
        snprintf(message, sizeof message, "the body %s", jsonguard_message(guard));
        http_response_error(res, 400, "MALFORMED_BODY", message, NULL);
        return false;
    }
    cJSON *errors = cJSON_CreateArray();
    if (errors)
        payment_read(*body, p, errors);
    if (fields_error_count(errors) > 0) {
        route_answer_error(res, 422, "INVALID_FIELDS", "the payment has invalid fields",
                           errors);
        return false;
    }
    cJSON_Delete(errors);
    return true;
}

/* Record the checked payment, or answer why billing_record_payment()
 * refused it. */
static void payment_record(db_t *db, const auth_t *auth, const http_request_t *req,
                           const char *id, const payment_in_t *p, http_response_t *res)
{
    if (!fields_all_digits(id, 18)) {
        http_response_error(res, 404, "NOT_FOUND", "no such invoice", NULL);
        return;
    }
    char source[64];
    snprintf(source, sizeof source, "api:%s", auth->key_id);
    const char *params[] = {id,       p->amount, p->paid_on,   p->reference,   source,
                            p->lines, p->except, auth->key_id, req->request_id};
    PGresult *r = db_exec(db, SQL_PAY, 9, params);
    if (!db_ok(r) || PQntuples(r) != 1) {
        route_db_failure(db, res);
    } else if (strcmp(PQgetvalue(r, 0, R_RESULT), "ok") == 0) {
        log_info("payment.recorded", "invoice_id", id, "amount", p->amount, "payment_id",
                 PQgetvalue(r, 0, R_PAYMENT), "request_id", req->request_id);
        answer_payment(db, r, res);
    } else {
        answer_refusal(db, id, p, PQgetvalue(r, 0, R_RESULT), res);
    }
    PQclear(r);
}

static void pay_invoice(route_ctx_t *ctx, const http_request_t *req, http_response_t *res,
                        const char *id)
{
    res->route = PREFIX "/{id}/payments";
    db_t *db = route_db(ctx);
    auth_t auth;
    if (!route_authenticate(db, req, res, &auth))
        return;
    if (auth.scope.kind != SCOPE_ADMIN) {
        http_response_error(res, 403, "OUT_OF_SCOPE",
                            "only an admin key may record payments", NULL);
        return;
    }
    payment_in_t p = {0};
    cJSON *body = NULL;
    if (payment_body_read(req, &p, &body, res))
        payment_record(db, &auth, req, id, &p, res);
    payment_free(&p);
    cJSON_Delete(body);
}

/* ---------------------------------------------------------------- routing */

bool invoices_route(route_ctx_t *ctx, const http_request_t *req, http_response_t *res)
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
            list_invoices(ctx, req, res);
            return true;
        }
        http_response_method_not_allowed(res, PREFIX, "GET", "method not allowed here");
        return true;
    }
    char id[24];
    const char *slash = strchr(rest + 1, '/');
    size_t idlen = slash ? (size_t)(slash - rest - 1) : strlen(rest + 1);
    snprintf(id, sizeof id, "%.*s", (int)(idlen < sizeof id ? idlen : sizeof id - 1),
             rest + 1);
    if (!slash && get) {
        read_invoice(ctx, req, res, id);
    } else if (slash && strcmp(slash, "/payments") == 0 && post) {
        pay_invoice(ctx, req, res, id);
    } else if (!slash || strcmp(slash, "/payments") == 0) {
        http_response_method_not_allowed(
            res, slash ? PREFIX "/{id}/payments" : PREFIX "/{id}", slash ? "POST" : "GET",
            "method not allowed here");
    } else {
        http_response_not_found(res);
    }
    return true;
}
