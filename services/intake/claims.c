/* claims: the claims register over HTTP (docs/api.md, "Claims") and the
 * loss-ratio report. A JKM claim is opened by the database when an enrolment
 * ends with a death (db/migrations/018_claims.sql), never here; JKK claims
 * are recorded here by regency and admin keys. A claim moves reported ->
 * filed -> paid | refused; the rules (which step may follow which, dates,
 * amounts) are the database functions claim_open_jkk() and claim_step(),
 * the same ones lindungctl claims uses, so the two cannot disagree. Scoping
 * is that of invoices: a village key sees its village's claims, a regency
 * key its villages', admin all; only regency and admin keys write. The
 * loss ratio is read from the view loss_ratio, per programme and regency. */
#include "claims.h"
#include "audit.h"
#include "fields.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "date.h"
#include "jsonguard.h"
#include "log.h"
#include "period.h"
#include "pgjson.h"

#define MAX_ACCIDENT_KIND 200
#define MAX_NOTE 500
#define MAX_AMOUNT 1000000000000.0 /* Rp 1 trillion: a typo, not a claim */
#define PREFIX "/v1/claims"
#define REPORT_PATH "/v1/reports/loss-ratio"

/* The columns of a claim, in the order SQL_LIST and SQL_ONE select them. */
enum {
    C_ID,
    C_KIND,
    C_NIK,
    C_PROGRAM,
    C_VILLAGE,
    C_REGENCY,
    C_EVENT,
    C_ACCIDENT,
    C_CLAIMED,
    C_PAID,
    C_STATUS,
    C_STATUS_ON,
    C_SOURCE,
    C_ENROLMENT,
    C_CREATED
};

/* $1 scope kind, $2 scope code; $3 status, $4 kind, $5 event month (first
 * day); keyset pagination on id ($6, exclusive), $7 the limit. */
static const char *SQL_LIST =
    "WITH r AS MATERIALIZED ("
    "    SELECT c.id, c.kind, c.nik, p.code, c.village_code, c.regency_code, "
    "        to_char(c.event_date, 'YYYY-MM-DD'), c.accident_kind, c.amount_claimed, "
    "        c.amount_paid, c.status, to_char(c.status_on, 'YYYY-MM-DD'), c.source, "
    "        c.enrolment_id, to_char(c.created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
    "    FROM claims c "
    "    JOIN programs p ON p.id = c.program_id "
    "    WHERE ($1 = 'admin' "
    "            OR ($1 = 'village' AND c.village_code = $2) "
    "            OR ($1 = 'regency' AND c.regency_code = $2)) "
    "        AND ($3::text IS NULL OR c.status = $3) "
    "        AND ($4::text IS NULL OR c.kind = $4) "
    "        AND ($5::date IS NULL OR date_trunc('month', c.event_date) = $5::date) "
    "        AND ($6::bigint IS NULL OR c.id > $6::bigint) "
    "    ORDER BY c.id "
    "    LIMIT $7"
    "), "
    /* the record that the key ($8) read the page's people ($9 the request
     * id; audit.h), when there were any */
    "au AS ("
    "    INSERT INTO audit_log (actor_kind, actor, action, object, nik_hashes, "
    "        request_id, detail) "
    "    SELECT 'key', $8, 'claim.list', NULL, audit_nik_hashes(array_agg(nik)), $9, "
    "        jsonb_build_object('claims', count(*)) "
    "    FROM r "
    "    HAVING count(*) > 0"
    ") "
    "SELECT * FROM r ORDER BY id";

static const char *SQL_ONE =
    "SELECT c.id, c.kind, c.nik, p.code, c.village_code, c.regency_code, "
    "    to_char(c.event_date, 'YYYY-MM-DD'), c.accident_kind, c.amount_claimed, "
    "    c.amount_paid, c.status, to_char(c.status_on, 'YYYY-MM-DD'), c.source, "
    "    c.enrolment_id, to_char(c.created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
    "FROM claims c "
    "JOIN programs p ON p.id = c.program_id "
    "WHERE c.id = $1";

static const char *SQL_STEPS =
    "SELECT status, to_char(on_date, 'YYYY-MM-DD'), amount, note, source, "
    "    to_char(created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
    "FROM claim_steps "
    "WHERE claim_id = $1 "
    "ORDER BY id";
enum { ST_STATUS, ST_DATE, ST_AMOUNT, ST_NOTE, ST_SOURCE, ST_RECORDED_AT };

/* Once per Idempotency-Key ($8, may be NULL): 026_claims_idempotency.sql.
 * Opened, or answered again for a retry: recorded with the claim in the
 * same statement ($9 the key, $10 the request id; audit.h). */
static const char *SQL_OPEN_JKK =
    "WITH r AS MATERIALIZED ("
    "    SELECT result, claim_id "
    "    FROM claim_open_jkk_once($1, $2::date, $3, $4::bigint, $5, $6, $7, $8)"
    "), "
    "au AS ("
    "    INSERT INTO audit_log (actor_kind, actor, action, object, nik_hashes, "
    "        request_id, detail) "
    "    SELECT 'key', $9, "
    "        CASE r.result WHEN 'ok' THEN 'claim.create' ELSE 'claim.replay' END, "
    "        r.claim_id::text, ARRAY[audit_nik_hash($1)], $10, "
    "        jsonb_build_object('kind', 'JKK') "
    "    FROM r "
    "    WHERE r.result IN ('ok', 'replay')"
    ") "
    "SELECT * FROM r";
enum { J_RESULT, J_CLAIM };

/* A step and, when taken, its record ($7 the key, $8 the request id). */
static const char *SQL_STEP =
    "WITH r AS MATERIALIZED ("
    "    SELECT result, status "
    "    FROM claim_step($1, $2, $3::date, $4::bigint, $5, $6)"
    "), "
    "au AS ("
    "    INSERT INTO audit_log (actor_kind, actor, action, object, nik_hashes, "
    "        request_id, detail) "
    "    SELECT 'key', $7, 'claim.step', $1::text, "
    "        ARRAY(SELECT audit_nik_hash(c.nik) FROM claims c WHERE c.id = $1), $8, "
    "        jsonb_build_object('status', $2::text) "
    "    FROM r "
    "    WHERE r.result = 'ok'"
    ") "
    "SELECT * FROM r";
enum { SP_RESULT, SP_STATUS };

/* The report: $1 scope kind, $2 scope code (a regency sees its own), $3
 * regency, $4 programme code, $5 and $6 the first and last month. The
 * cumulative columns run from the programme's first month, whatever $5. */
static const char *SQL_LOSS_RATIO =
    "SELECT program_code, regency_code, to_char(month, 'YYYY-MM'), premiums_billed, "
    "    premiums_paid, claims_paid, cum_premiums_billed, cum_premiums_paid, "
    "    cum_claims_paid, cum_loss_ratio_bp "
    "FROM loss_ratio "
    "WHERE ($1 = 'admin' OR ($1 = 'regency' AND regency_code = $2)) "
    "    AND ($3::text IS NULL OR regency_code = $3) "
    "    AND ($4::text IS NULL OR program_code = $4) "
    "    AND ($5::date IS NULL OR month >= $5::date) "
    "    AND ($6::date IS NULL OR month <= $6::date) "
    "ORDER BY program_code, regency_code, month";

enum {
    R_PROGRAM,
    R_REGENCY,
    R_MONTH,
    R_BILLED,
    R_PAID,
    R_CLAIMS,
    R_CUM_BILLED,
    R_CUM_PAID,
    R_CUM_CLAIMS,
    R_CUM_BP
};

/* The same rule as SQL_LIST, for one claim. */
static bool claim_in_scope(const scope_t *s, const char *village, const char *regency)
{
    return s->kind == SCOPE_VILLAGE ? scope_allows_village(s, village)
                                    : scope_allows_regency(s, regency);
}

static cJSON *claim_json(const PGresult *r, int i)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = pgjson_add_int(o, "id", r, i, C_ID);
    ok = ok && pgjson_add_text(o, "kind", r, i, C_KIND);
    ok = ok && pgjson_add_text(o, "status", r, i, C_STATUS);
    ok = ok && pgjson_add_text(o, "status_on", r, i, C_STATUS_ON);
    ok = ok && pgjson_add_text(o, "nik", r, i, C_NIK);
    ok = ok && pgjson_add_int(o, "enrolment_id", r, i, C_ENROLMENT);
    ok = ok && pgjson_add_text(o, "program_code", r, i, C_PROGRAM);
    ok = ok && pgjson_add_text(o, "village_code", r, i, C_VILLAGE);
    ok = ok && pgjson_add_text(o, "regency_code", r, i, C_REGENCY);
    ok = ok && pgjson_add_text(o, "event_date", r, i, C_EVENT);
    ok = ok && pgjson_add_text(o, "accident_kind", r, i, C_ACCIDENT);
    ok = ok && pgjson_add_int(o, "amount_claimed", r, i, C_CLAIMED);
    ok = ok && pgjson_add_int(o, "amount_paid", r, i, C_PAID);
    ok = ok && pgjson_add_text(o, "source", r, i, C_SOURCE);
    ok = ok && pgjson_add_text(o, "created_at", r, i, C_CREATED);
    return pgjson_whole(o, ok);
}

/* A JSON number that is a whole rupiah amount from 1 to MAX_AMOUNT. */
static bool amount_read(const cJSON *v, char out[24])
{
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < 1 || v->valuedouble > MAX_AMOUNT)
        return false;
    snprintf(out, 24, "%lld", (long long)v->valuedouble);
    return true;
}

/* A date field, not in the future (Asia/Jakarta). */
static bool past_date_read(const cJSON *v, char out[11])
{
    date_t d;
    if (!cJSON_IsString(v) || !date_parse(v->valuestring, &d) ||
        date_compare(d, date_today()) > 0)
        return false;
    date_format(d, out);
    return true;
}

/* An optional string of 1 to max characters: absent or null gives NULL. */
static bool text_read(const cJSON *v, size_t max, const char **out)
{
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return true;
    if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) > max)
        return false;
    *out = v->valuestring;
    return true;
}

/* Parse a JSON object body; false with the answer in res otherwise. */
static bool json_body_read(const http_request_t *req, cJSON **body, http_response_t *res)
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
    return true;
}

/* Only regency and admin keys record claims and their steps: a village
 * reports a death (which opens its JKM claim), the district office deals
 * with BPJS. */
static bool may_write(const auth_t *auth, http_response_t *res)
{
    if (auth->scope.kind != SCOPE_VILLAGE)
        return true;
    http_response_error(res, 403, "OUT_OF_SCOPE",
                        "only a regency or admin key may record claims", NULL);
    return false;
}

/* ---------------------------------------------------------------- list */

typedef struct {
    const char *status, *kind, *cursor;
    char month[11];
    char limit[8];
} list_query_t;

static void list_query_read(const http_request_t *req, list_query_t *q, cJSON *errors)
{
    static const char *const statuses[] = {"reported", "filed",     "paid",
                                           "refused",  "withdrawn", NULL};
    static const char *const kinds[] = {"JKM", "JKK", NULL};
    memset(q, 0, sizeof *q);
    q->status = http_request_query(req, "status");
    if (q->status && !fields_one_of(q->status, statuses))
        fields_add_error(errors, "status",
                         "must be reported, filed, paid, refused or withdrawn");
    q->kind = http_request_query(req, "kind");
    if (q->kind && !fields_one_of(q->kind, kinds))
        fields_add_error(errors, "kind", "must be JKM or JKK");
    const char *period = http_request_query(req, "period");
    period_t p;
    if (period && period_parse(period, &p))
        date_format(period_first_day(p), q->month);
    else if (period)
        fields_add_error(errors, "period", "must be YYYY-MM");
    route_page_id_cursor(req, errors, &q->cursor);
    route_page_limit(req, errors, q->limit);
}

static void list_claims(db_t *db, const auth_t *auth, const http_request_t *req,
                        http_response_t *res)
{
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
    const char *params[] = {fields_scope_kind(&auth->scope),
                            auth->scope.code,
                            q.status,
                            q.kind,
                            q.month[0] ? q.month : NULL,
                            q.cursor,
                            q.limit,
                            auth->key_id,
                            req->request_id};
    PGresult *r = db_exec(db, SQL_LIST, 9, params);
    if (!db_ok(r)) {
        PQclear(r);
        route_db_failure(db, res);
        return;
    }
    cJSON *items = cJSON_CreateArray();
    int n = PQntuples(r);
    bool ok = items != NULL;
    for (int i = 0; ok && i < n; i++)
        ok = pgjson_append(items, claim_json(r, i));
    route_answer_page(res, pgjson_whole(items, ok), n ? PQgetvalue(r, n - 1, C_ID) : NULL,
                      n == atoi(q.limit));
    PQclear(r);
}

/* ---------------------------------------------------------------- one */

/* Load the claim and check scope; NULL with the answer in res otherwise.
 * A claim outside the key's scope is answered exactly as one that does not
 * exist: ids are sequential, and a 403 would tell which ones exist. */
static PGresult *claim_load(db_t *db, const auth_t *auth, const char *id,
                            http_response_t *res)
{
    if (!fields_all_digits(id, 18)) {
        http_response_error(res, 404, "NOT_FOUND", "no such claim", NULL);
        return NULL;
    }
    const char *params[] = {id};
    PGresult *r = db_exec(db, SQL_ONE, 1, params);
    if (!db_ok(r)) {
        PQclear(r);
        route_db_failure(db, res);
        return NULL;
    }
    if (PQntuples(r) == 0 || !claim_in_scope(&auth->scope, PQgetvalue(r, 0, C_VILLAGE),
                                             PQgetvalue(r, 0, C_REGENCY))) {
        PQclear(r);
        http_response_error(res, 404, "NOT_FOUND", "no such claim", NULL);
        return NULL;
    }
    return r;
}

static cJSON *steps_json(const PGresult *s)
{
    cJSON *list = cJSON_CreateArray();
    bool ok = list != NULL;
    for (int i = 0; ok && i < PQntuples(s); i++) {
        cJSON *o = cJSON_CreateObject();
        ok = pgjson_append(
            list,
            pgjson_whole(o, pgjson_add_text(o, "status", s, i, ST_STATUS) &&
                                pgjson_add_text(o, "date", s, i, ST_DATE) &&
                                pgjson_add_int(o, "amount", s, i, ST_AMOUNT) &&
                                pgjson_add_text(o, "note", s, i, ST_NOTE) &&
                                pgjson_add_text(o, "source", s, i, ST_SOURCE) &&
                                pgjson_add_text(o, "recorded_at", s, i, ST_RECORDED_AT)));
    }
    return pgjson_whole(list, ok);
}

/* Answer the claim with its steps; status 200 or 201. read_by: the
 * request of a GET, whose read is recorded before the answer (audit.h); NULL
 * after a change, which its own statement recorded. */
static void answer_claim(db_t *db, const auth_t *auth, const char *id, int status,
                         const http_request_t *read_by, http_response_t *res)
{
    PGresult *c = claim_load(db, auth, id, res);
    if (!c)
        return;
    const char *params[] = {id};
    PGresult *s = db_exec(db, SQL_STEPS, 1, params);
    const char *niks[] = {PQgetvalue(c, 0, C_NIK)};
    /* built whole before a read is recorded: nothing is made after it */
    cJSON *doc = db_ok(s) ? claim_json(c, 0) : NULL;
    doc = pgjson_whole(doc, doc && pgjson_put(doc, "steps", steps_json(s)));
    if (!db_ok(s)) {
        route_db_failure(db, res);
    } else if (!doc && read_by) {
        route_out_of_memory(res);
    } else if (!doc) { /* after a change, which is recorded: say so */
        http_response_error(res, 500, "INTERNAL",
                            "the server ran out of memory after the claim was recorded: "
                            "read it with GET /v1/claims/{id}, do not send it again",
                            NULL);
    } else if (read_by &&
               !audit_read(db, auth, read_by, "claim.read", id, niks, 1, NULL)) {
        cJSON_Delete(doc);
        route_db_failure(db, res);
    } else {
        http_response_json(res, status, doc);
    }
    PQclear(c);
    PQclear(s);
}

/* ---------------------------------------------------------------- create */

typedef struct {
    const char *nik, *accident_kind;
    char date[11];
    char amount[24];
} jkk_in_t;

static void jkk_read(const cJSON *body, jkk_in_t *in, cJSON *errors)
{
    memset(in, 0, sizeof *in);
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(body, "kind");
    if (kind && !cJSON_IsNull(kind) &&
        !(cJSON_IsString(kind) && strcmp(kind->valuestring, "JKK") == 0))
        fields_add_error(errors, "kind",
                         "must be JKK: a JKM claim opens by itself when a death is "
                         "recorded");
    const cJSON *nik = cJSON_GetObjectItemCaseSensitive(body, "nik");
    if (cJSON_IsString(nik) && strlen(nik->valuestring) == 16 &&
        fields_all_digits(nik->valuestring, 16))
        in->nik = nik->valuestring;
    else
        fields_add_error(errors, "nik", "must be a NIK of 16 digits");
    if (!past_date_read(cJSON_GetObjectItemCaseSensitive(body, "accident_date"),
                        in->date))
        fields_add_error(errors, "accident_date",
                         "must be a date YYYY-MM-DD, not in the future");
    const cJSON *what = cJSON_GetObjectItemCaseSensitive(body, "accident_kind");
    if (!what || cJSON_IsNull(what) ||
        !text_read(what, MAX_ACCIDENT_KIND, &in->accident_kind))
        fields_add_error(errors, "accident_kind",
                         "must be a string of 1 to 200 characters");
    if (!amount_read(cJSON_GetObjectItemCaseSensitive(body, "amount_claimed"),
                     in->amount))
        fields_add_error(errors, "amount_claimed",
                         "must be a whole number of rupiah from 1 to 1000000000000");
}

/* Record the claim, once per Idempotency-Key: 201 when opened, 200 with
 * the same claim for a retry, 409 when the key was used for another claim. */
static void open_jkk(db_t *db, const auth_t *auth, const http_request_t *req,
                     const jkk_in_t *in, http_response_t *res)
{
    char source[64];
    snprintf(source, sizeof source, "api:%s", auth->key_id);
    const char *params[] = {in->nik,
                            in->date,
                            in->accident_kind,
                            in->amount,
                            source,
                            fields_scope_kind(&auth->scope),
                            auth->scope.code,
                            http_request_header(req, "Idempotency-Key"),
                            auth->key_id,
                            req->request_id};
    PGresult *r = db_exec(db, SQL_OPEN_JKK, 10, params);
    const char *result =
        db_ok(r) && PQntuples(r) == 1 ? PQgetvalue(r, 0, J_RESULT) : NULL;
    if (!result) {
        route_db_failure(db, res);
    } else if (strcmp(result, "ok") == 0 || strcmp(result, "replay") == 0) {
        bool opened = strcmp(result, "ok") == 0;
        log_info(opened ? "claim.recorded" : "claim.replayed", "claim_id",
                 PQgetvalue(r, 0, J_CLAIM), "kind", "JKK", "request_id", req->request_id);
        answer_claim(db, auth, PQgetvalue(r, 0, J_CLAIM), opened ? 201 : 200, NULL, res);
    } else if (strcmp(result, "idempotency_conflict") == 0) {
        http_response_error(res, 409, "IDEMPOTENCY_CONFLICT",
                            "this Idempotency-Key was used with a different claim", NULL);
    } else {
        /* not_covered; bad_date and bad_amount were checked above. The same
         * answer for a NIK outside the key's scope: a key cannot learn
         * where else someone is enrolled. */
        http_response_error(res, 422, "NOT_COVERED",
                            "no enrolment in this key's scope covered that NIK in the "
                            "accident month",
                            NULL);
    }
    PQclear(r);
}

static void create_claim(db_t *db, const auth_t *auth, const http_request_t *req,
                         http_response_t *res)
{
    if (!may_write(auth, res))
        return;
    const char *idem_key;
    if (!route_idempotency_key(req, res, &idem_key))
        return;
    cJSON *body = NULL;
    if (!json_body_read(req, &body, res)) {
        cJSON_Delete(body);
        return;
    }
    jkk_in_t in;
    cJSON *errors = cJSON_CreateArray();
    if (errors)
        jkk_read(body, &in, errors);
    if (fields_error_count(errors) > 0) {
        route_answer_error(res, 422, "INVALID_FIELDS", "the claim has invalid fields",
                           errors);
        cJSON_Delete(body);
        return;
    }
    cJSON_Delete(errors);
    open_jkk(db, auth, req, &in, res);
    cJSON_Delete(body);
}

/* ---------------------------------------------------------------- steps */

typedef struct {
    const char *status, *note;
    char date[11];
    char amount[24];
    bool has_amount;
} step_in_t;

static void step_read(const cJSON *body, step_in_t *in, cJSON *errors)
{
    static const char *const statuses[] = {"filed", "paid", "refused", NULL};
    memset(in, 0, sizeof *in);
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(body, "status");
    if (cJSON_IsString(status) && fields_one_of(status->valuestring, statuses))
        in->status = status->valuestring;
    else
        fields_add_error(errors, "status", "must be filed, paid or refused");
    if (!past_date_read(cJSON_GetObjectItemCaseSensitive(body, "date"), in->date))
        fields_add_error(errors, "date", "must be a date YYYY-MM-DD, not in the future");
    const cJSON *amount = cJSON_GetObjectItemCaseSensitive(body, "amount");
    in->has_amount = amount && !cJSON_IsNull(amount);
    if (in->has_amount && !amount_read(amount, in->amount))
        fields_add_error(errors, "amount",
                         "must be a whole number of rupiah from 1 to 1000000000000");
    else if (in->status && strcmp(in->status, "paid") == 0 && !in->has_amount)
        fields_add_error(errors, "amount", "a paid step needs the amount paid");
    else if (in->status && strcmp(in->status, "refused") == 0 && in->has_amount)
        fields_add_error(errors, "amount", "a refused claim has no amount");
    if (!text_read(cJSON_GetObjectItemCaseSensitive(body, "note"), MAX_NOTE, &in->note))
        fields_add_error(errors, "note", "must be a string of 1 to 500 characters");
}

/* A result of claim_step() that is not "ok". */
static void answer_step_refusal(const char *result, const char *status,
                                http_response_t *res)
{
    if (strcmp(result, "invalid_transition") == 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "a claim that is %s cannot take that step", status);
        http_response_error(res, 409, "INVALID_TRANSITION", msg, NULL);
    } else if (strcmp(result, "bad_date") == 0) {
        cJSON *errors = cJSON_CreateArray();
        fields_add_error(errors, "date",
                         "must not be before the event or the claim's previous step");
        route_answer_error(res, 422, "INVALID_FIELDS", "the step has invalid fields",
                           errors);
    } else if (strcmp(result, "not_found") == 0) {
        http_response_error(res, 404, "NOT_FOUND", "no such claim", NULL);
    } else {
        log_error("claim.unknown_result", "result", result);
        http_response_error(res, 500, "INTERNAL", "unexpected answer from the database",
                            NULL);
    }
}

static void record_step(db_t *db, const auth_t *auth, const http_request_t *req,
                        const char *id, const step_in_t *in, http_response_t *res)
{
    char source[64];
    snprintf(source, sizeof source, "api:%s", auth->key_id);
    const char *params[] = {
        id,       in->status, in->date,     in->has_amount ? in->amount : NULL,
        in->note, source,     auth->key_id, req->request_id};
    PGresult *r = db_exec(db, SQL_STEP, 8, params);
    if (!db_ok(r) || PQntuples(r) != 1) {
        route_db_failure(db, res);
    } else if (strcmp(PQgetvalue(r, 0, SP_RESULT), "ok") == 0) {
        log_info("claim.step", "claim_id", id, "status", in->status, "request_id",
                 req->request_id);
        answer_claim(db, auth, id, 201, NULL, res);
    } else {
        answer_step_refusal(PQgetvalue(r, 0, SP_RESULT), PQgetvalue(r, 0, SP_STATUS),
                            res);
    }
    PQclear(r);
}

static void step_claim(db_t *db, const auth_t *auth, const http_request_t *req,
                       const char *id, http_response_t *res)
{
    if (!may_write(auth, res))
        return;
    PGresult *c = claim_load(db, auth, id, res); /* 404 before the body */
    if (!c)
        return;
    PQclear(c);
    cJSON *body = NULL;
    if (!json_body_read(req, &body, res)) {
        cJSON_Delete(body);
        return;
    }
    step_in_t in;
    cJSON *errors = cJSON_CreateArray();
    if (errors)
        step_read(body, &in, errors);
    if (fields_error_count(errors) > 0)
        route_answer_error(res, 422, "INVALID_FIELDS", "the step has invalid fields",
                           errors);
    else {
        cJSON_Delete(errors);
        record_step(db, auth, req, id, &in, res);
    }
    cJSON_Delete(body);
}

/* ---------------------------------------------------------------- report */

typedef struct {
    const char *regency, *program;
    char from[11], to[11];
} report_query_t;

static void month_param(const http_request_t *req, const char *name, char out[11],
                        cJSON *errors)
{
    const char *v = http_request_query(req, name);
    period_t p;
    if (v && period_parse(v, &p))
        date_format(period_first_day(p), out);
    else if (v)
        fields_add_error(errors, name, "must be YYYY-MM");
}

static void report_query_read(const http_request_t *req, report_query_t *q, cJSON *errors)
{
    memset(q, 0, sizeof *q);
    q->regency = http_request_query(req, "regency");
    if (q->regency && (strlen(q->regency) != 5 || q->regency[2] != '.' ||
                       strspn(q->regency, "0123456789") != 2 ||
                       strspn(q->regency + 3, "0123456789") != 2))
        fields_add_error(errors, "regency", "must be a regency code PP.RR");
    q->program = http_request_query(req, "program");
    if (q->program && (!q->program[0] || strlen(q->program) > 64))
        fields_add_error(errors, "program", "must be a programme code");
    month_param(req, "from", q->from, errors);
    month_param(req, "to", q->to, errors);
}

static cJSON *report_row_json(const PGresult *r, int i)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = pgjson_add_text(o, "program_code", r, i, R_PROGRAM);
    ok = ok && pgjson_add_text(o, "regency_code", r, i, R_REGENCY);
    ok = ok && pgjson_add_text(o, "month", r, i, R_MONTH);
    ok = ok && pgjson_add_int(o, "premiums_billed", r, i, R_BILLED);
    ok = ok && pgjson_add_int(o, "premiums_paid", r, i, R_PAID);
    ok = ok && pgjson_add_int(o, "claims_paid", r, i, R_CLAIMS);
    ok = ok && pgjson_add_int(o, "cumulative_premiums_billed", r, i, R_CUM_BILLED);
    ok = ok && pgjson_add_int(o, "cumulative_premiums_paid", r, i, R_CUM_PAID);
    ok = ok && pgjson_add_int(o, "cumulative_claims_paid", r, i, R_CUM_CLAIMS);
    ok = ok && pgjson_add_int(o, "cumulative_loss_ratio_bp", r, i, R_CUM_BP);
    return pgjson_whole(o, ok);
}

/* Sums over the months asked for, per programme and regency. */
typedef struct {
    long long billed, paid, claims;
} sums_t;

/* claims / paid in basis points, rounded half up, integers only; -1 while
 * nothing is paid. Claims and premiums stay far below 2^63 / 20000. */
static long long ratio_bp(long long claims, long long paid)
{
    return paid > 0 ? (claims * 20000 + paid) / (2 * paid) : -1;
}

static cJSON *totals_json(const PGresult *r, int row, const sums_t *s)
{
    cJSON *o = cJSON_CreateObject();
    long long bp = ratio_bp(s->claims, s->paid);
    return pgjson_whole(
        o,
        pgjson_add_text(o, "program_code", r, row, R_PROGRAM) &&
            pgjson_add_text(o, "regency_code", r, row, R_REGENCY) &&
            cJSON_AddNumberToObject(o, "premiums_billed", (double)s->billed) &&
            cJSON_AddNumberToObject(o, "premiums_paid", (double)s->paid) &&
            cJSON_AddNumberToObject(o, "claims_paid", (double)s->claims) &&
            (bp < 0 ? cJSON_AddNullToObject(o, "loss_ratio_bp") != NULL
                    : cJSON_AddNumberToObject(o, "loss_ratio_bp", (double)bp) != NULL));
}

static bool same_group(const PGresult *r, int a, int b)
{
    return strcmp(PQgetvalue(r, a, R_PROGRAM), PQgetvalue(r, b, R_PROGRAM)) == 0 &&
           strcmp(PQgetvalue(r, a, R_REGENCY), PQgetvalue(r, b, R_REGENCY)) == 0;
}

/* One totals entry per programme and regency (rows come grouped). */
static cJSON *report_totals(const PGresult *r)
{
    cJSON *list = cJSON_CreateArray();
    bool ok = list != NULL;
    sums_t s = {0, 0, 0};
    int n = PQntuples(r);
    for (int i = 0; ok && i < n; i++) {
        s.billed += strtoll(PQgetvalue(r, i, R_BILLED), NULL, 10);
        s.paid += strtoll(PQgetvalue(r, i, R_PAID), NULL, 10);
        s.claims += strtoll(PQgetvalue(r, i, R_CLAIMS), NULL, 10);
        if (i + 1 == n || !same_group(r, i, i + 1)) {
            ok = pgjson_append(list, totals_json(r, i, &s));
            s = (sums_t){0, 0, 0};
        }
    }
    return pgjson_whole(list, ok);
}

static void loss_ratio_report(db_t *db, const auth_t *auth, const http_request_t *req,
                              http_response_t *res)
{
    if (auth->scope.kind == SCOPE_VILLAGE) {
        http_response_error(res, 403, "OUT_OF_SCOPE",
                            "the loss ratio is reported per regency: use a regency key",
                            NULL);
        return;
    }
    report_query_t q;
    cJSON *errors = cJSON_CreateArray();
    if (errors)
        report_query_read(req, &q, errors);
    if (fields_error_count(errors) > 0) {
        route_answer_error(res, 422, "INVALID_FIELDS", "the query has invalid parameters",
                           errors);
        return;
    }
    cJSON_Delete(errors);
    if (q.regency && auth->scope.kind == SCOPE_REGENCY &&
        strcmp(q.regency, auth->scope.code) != 0) {
        http_response_error(res, 403, "OUT_OF_SCOPE",
                            "this API key may not read that regency", NULL);
        return;
    }
    const char *params[] = {
        fields_scope_kind(&auth->scope), auth->scope.code,     q.regency, q.program,
        q.from[0] ? q.from : NULL,       q.to[0] ? q.to : NULL};
    PGresult *r = db_exec(db, SQL_LOSS_RATIO, 6, params);
    if (!db_ok(r)) {
        PQclear(r);
        route_db_failure(db, res);
        return;
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON *months = doc ? cJSON_AddArrayToObject(doc, "months") : NULL;
    bool ok = months != NULL;
    for (int i = 0; ok && i < PQntuples(r); i++)
        ok = pgjson_append(months, report_row_json(r, i));
    ok = ok && pgjson_put(doc, "totals", report_totals(r));
    PQclear(r);
    route_answer_json(res, 200, pgjson_whole(doc, ok));
}

/* ---------------------------------------------------------------- routing */

/* 405, counted under the route's pattern; allow: the methods it takes */
static void not_allowed(http_response_t *res, const char *route, const char *allow)
{
    http_response_method_not_allowed(res, route, allow, "method not allowed here");
}

/* Authenticate, then call the handler with the worker's connection. */
static void with_auth(route_ctx_t *ctx, const http_request_t *req, http_response_t *res,
                      const char *route, const char *id,
                      void (*fn)(db_t *, const auth_t *, const http_request_t *,
                                 const char *, http_response_t *))
{
    res->route = route;
    db_t *db = route_db(ctx);
    auth_t auth;
    if (route_authenticate(db, req, res, &auth))
        fn(db, &auth, req, id, res);
}

static void do_list(db_t *db, const auth_t *a, const http_request_t *req, const char *id,
                    http_response_t *res)
{
    (void)id;
    list_claims(db, a, req, res);
}

static void do_create(db_t *db, const auth_t *a, const http_request_t *req,
                      const char *id, http_response_t *res)
{
    (void)id;
    create_claim(db, a, req, res);
}

static void do_read(db_t *db, const auth_t *a, const http_request_t *req, const char *id,
                    http_response_t *res)
{
    answer_claim(db, a, id, 200, req, res);
}

static void do_report(db_t *db, const auth_t *a, const http_request_t *req,
                      const char *id, http_response_t *res)
{
    (void)id;
    loss_ratio_report(db, a, req, res);
}

static void dispatch_report(route_ctx_t *ctx, const http_request_t *req,
                            http_response_t *res)
{
    if (strcmp(req->method, "GET") == 0)
        with_auth(ctx, req, res, REPORT_PATH, NULL, do_report);
    else
        not_allowed(res, REPORT_PATH, "GET");
}

/* /v1/claims/{id} and /v1/claims/{id}/steps */
static void dispatch_one(route_ctx_t *ctx, const http_request_t *req,
                         http_response_t *res, const char *rest)
{
    bool get = strcmp(req->method, "GET") == 0;
    bool post = strcmp(req->method, "POST") == 0;
    char id[24];
    const char *slash = strchr(rest + 1, '/');
    size_t idlen = slash ? (size_t)(slash - rest - 1) : strlen(rest + 1);
    snprintf(id, sizeof id, "%.*s", (int)(idlen < sizeof id ? idlen : sizeof id - 1),
             rest + 1);
    if (!slash && get)
        with_auth(ctx, req, res, PREFIX "/{id}", id, do_read);
    else if (slash && strcmp(slash, "/steps") == 0 && post)
        with_auth(ctx, req, res, PREFIX "/{id}/steps", id, step_claim);
    else if (!slash || strcmp(slash, "/steps") == 0)
        not_allowed(res, slash ? PREFIX "/{id}/steps" : PREFIX "/{id}",
                    slash ? "POST" : "GET");
    else
        http_response_not_found(res);
}

bool claims_route(route_ctx_t *ctx, const http_request_t *req, http_response_t *res)
{
    if (strcmp(req->path, REPORT_PATH) == 0) {
        dispatch_report(ctx, req, res);
        return true;
    }
    size_t n = strlen(PREFIX);
    if (strncmp(req->path, PREFIX, n) != 0 ||
        (req->path[n] != '\0' && req->path[n] != '/'))
        return false;
    const char *rest = req->path + n;
    if (rest[0] != '\0' && strcmp(rest, "/") != 0) {
        dispatch_one(ctx, req, res, rest);
    } else if (strcmp(req->method, "GET") == 0) {
        with_auth(ctx, req, res, PREFIX, NULL, do_list);
    } else if (strcmp(req->method, "POST") == 0) {
        with_auth(ctx, req, res, PREFIX, NULL, do_create);
    } else {
        not_allowed(res, PREFIX, "GET, POST");
    }
    return true;
}
