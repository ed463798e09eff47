/* submissions: POST /v1/submissions (a list of applicants, JSON or CSV)
 * and GET /v1/submissions/{id} (its state and each applicant's decision).
 * A submission is committed to PostgreSQL before the client hears 202 and
 * before verify is prompted, so an answered submission is never lost; a
 * request that fails writes nothing. Not the parsing of a list
 * (submission.c, csvbody.c). */
#include "submissions.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>
#include "csvbody.h"
#include "fields.h"
#include "log.h"
#include "pgjson.h"
#include "submission.h"

static const char *SQL_PROGRAM_AND_VILLAGE =
    "SELECT p.id, p.regency_code, r.level, r.regency_code, p.submitter "
    "FROM programs p "
    "LEFT JOIN regions r ON r.code = $2 "
    "WHERE p.code = $1";
enum { T_PROGRAM_ID, T_REGENCY, T_VILLAGE_LEVEL, T_VILLAGE_REGENCY, T_SUBMITTER };

/* The submission, all its applicants and its audit record (audit.h) in one
 * statement: atomic without a transaction block, so one round trip and one
 * commit. The first column says whether the submission row was new (0: an
 * Idempotency-Key replay, which stores and records nothing). */
static const char *SQL_STORE =
    "WITH s AS ("
    "    INSERT INTO submissions (id, program_id, village_code, reference, "
    "        applicant_count, api_key_id, idempotency_key, body_hash, request_id) "
    "    VALUES ($1, $2, $3, $4, $5, $6, $7, sha256(convert_to($8, 'UTF8')), $9) "
    "    ON CONFLICT (api_key_id, idempotency_key) WHERE idempotency_key IS NOT NULL "
    "    DO NOTHING "
    "    RETURNING id"
    "), "
    "a AS ("
    "    INSERT INTO applicants (submission_id, idx, nik, name, birth_date, sex, "
    "        occupation, address, phone, monthly_income, poverty_ref) "
    "    SELECT s.id, x.idx, x.nik, x.name, x.birth_date, x.sex, x.occupation, "
    "        x.address, x.phone, x.monthly_income, x.poverty_ref "
    "    FROM s, "
    "        jsonb_to_recordset($10::jsonb) AS x(idx int, nik text, name text, "
    "            birth_date date, sex char(1), occupation text, address text, "
    "            phone text, monthly_income bigint, poverty_ref text) "
    "    RETURNING nik"
    "), "
    "au AS ("
    "    INSERT INTO audit_log (actor_kind, actor, action, object, nik_hashes, "
    "        request_id, detail) "
    "    SELECT 'key', $6::text, 'submission.create', s.id::text, "
    "        (SELECT audit_nik_hashes(array_agg(a.nik)) FROM a), $9, "
    "        jsonb_build_object('applicants', $5::int) "
    "    FROM s"
    ") "
    "SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM a)";
enum { STORED_NEW, STORED_APPLICANTS };

static const char *SQL_IDEMPOTENT_REPLAY =
    "SELECT id, applicant_count, body_hash = sha256(convert_to($3, 'UTF8')) "
    "FROM submissions "
    "WHERE api_key_id = $1 AND idempotency_key = $2";
enum { REPLAY_ID, REPLAY_APPLICANTS, REPLAY_SAME };

static const char *SQL_SUBMISSION =
    "SELECT s.id, p.code, s.village_code, s.reference, s.status, s.applicant_count, "
    "    to_char(s.received_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "    to_char(s.verified_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "    (SELECT count(*) FROM applicants a "
    "     WHERE a.submission_id = s.id AND a.decision = 'pending'), "
    "    (SELECT count(*) FROM applicants a "
    "     WHERE a.submission_id = s.id AND a.decision = 'accepted'), "
    "    (SELECT count(*) FROM applicants a "
    "     WHERE a.submission_id = s.id AND a.decision = 'rejected') "
    "FROM submissions s "
    "JOIN programs p ON p.id = s.program_id "
    "WHERE s.id = $1";
enum {
    S_ID,
    S_PROGRAM,
    S_VILLAGE,
    S_REFERENCE,
    S_STATUS,
    S_TOTAL,
    S_RECEIVED_AT,
    S_VERIFIED_AT,
    S_PENDING,
    S_ACCEPTED,
    S_REJECTED
};

/* The applicants, and the record that the key ($2) read them (audit.h). */
static const char *SQL_APPLICANTS =
    "WITH r AS MATERIALIZED ("
    "    SELECT idx, nik, name, decision, reasons::text, warnings::text "
    "    FROM applicants "
    "    WHERE submission_id = $1"
    "), "
    "au AS ("
    "    INSERT INTO audit_log (actor_kind, actor, action, object, nik_hashes, "
    "        request_id, detail) "
    "    SELECT 'key', $2, 'submission.read', $1::text, "
    "        audit_nik_hashes(array_agg(nik)), $3, "
    "        jsonb_build_object('applicants', count(*)) "
    "    FROM r "
    "    HAVING count(*) > 0"
    ") "
    "SELECT * FROM r ORDER BY idx";
enum { A_INDEX, A_NIK, A_NAME, A_DECISION, A_REASONS, A_WARNINGS };

typedef struct {
    char program_id[16];
    char regency[8];
    bool regency_submits; /* lists come from a district office, not villages */
} target_t;

/* Valid (programme, village) pairs seen lately by this worker thread. A
 * programme's regency or submitter rarely changes, and then shows within
 * TARGET_CACHE_SECONDS; a pair not cached is always looked up, so a new or
 * wrong code is never answered from memory. Saves a round trip per request. */
#define TARGET_CACHE_SIZE 32
#define TARGET_CACHE_SECONDS 10

typedef struct {
    char program_code[SUBMISSION_MAX_CODE + 1];
    char village_code[16];
    target_t target;
    time_t expires;
} cached_target_t;

static _Thread_local cached_target_t target_cache[TARGET_CACHE_SIZE];
static _Thread_local unsigned target_cache_next;

static bool target_cached(const submission_t *sub, target_t *t)
{
    time_t now = time(NULL);
    for (int i = 0; i < TARGET_CACHE_SIZE; i++) {
        cached_target_t *c = &target_cache[i];
        if (c->expires > now && strcmp(c->program_code, sub->program_code) == 0 &&
            strcmp(c->village_code, sub->village_code) == 0) {
            *t = c->target;
            return true;
        }
    }
    return false;
}

static void target_remember(const submission_t *sub, const target_t *t)
{
    cached_target_t *c = &target_cache[target_cache_next++ % TARGET_CACHE_SIZE];
    snprintf(c->program_code, sizeof c->program_code, "%s", sub->program_code);
    snprintf(c->village_code, sizeof c->village_code, "%s", sub->village_code);
    c->target = *t;
    c->expires = time(NULL) + TARGET_CACHE_SECONDS;
}

/* A key scoped to a regency or village gets one answer for a programme that
 * does not exist and for one of another regency, so that trying codes tells
 * it nothing about other regencies (docs/api.md, "Submitting a list"). */
static void answer_no_programme(const scope_t *scope, http_response_t *res)
{
    if (scope->kind != SCOPE_ADMIN) {
        http_response_error(res, 403, "OUT_OF_SCOPE",
                            "this API key may not submit for that programme", NULL);
        return;
    }
    route_answer_error(res, 422, "INVALID_FIELDS", "the submission has invalid fields",
                       route_field_error("program_code", "no such programme"));
}

/* The programme must exist in the key's sight, and the village with it in
 * the programme's regency; 403 or 422 otherwise. */
static bool resolve_target(db_t *db, const submission_t *sub, const scope_t *scope,
                           http_response_t *res, target_t *t)
{
    if (target_cached(sub, t)) {
        if (fields_scope_sees_regency(scope, t->regency))
            return true;
        answer_no_programme(scope, res);
        return false;
    }
    const char *params[] = {sub->program_code, sub->village_code};
    PGresult *r = db_exec_read(db, SQL_PROGRAM_AND_VILLAGE, 2, params);
    if (!db_ok(r)) {
        PQclear(r);
        route_db_failure(db, res);
        return false;
    }
    if (PQntuples(r) == 0 ||
        !fields_scope_sees_regency(scope, PQgetvalue(r, 0, T_REGENCY))) {
        PQclear(r);
        answer_no_programme(scope, res);
        return false;
    }
    const char *regency = PQgetvalue(r, 0, T_REGENCY);
    const char *problem_field = NULL, *problem = NULL;
    if (PQgetisnull(r, 0, T_VILLAGE_LEVEL) ||
        strcmp(PQgetvalue(r, 0, T_VILLAGE_LEVEL), "village") != 0) {
        problem_field = "village_code", problem = "no such village";
    } else if (strcmp(regency, PQgetvalue(r, 0, T_VILLAGE_REGENCY)) != 0) {
        problem_field = "village_code",
        problem = "the village is not in the programme's regency";
    }
    if (problem) {
        PQclear(r);
        route_answer_error(res, 422, "INVALID_FIELDS",
                           "the submission has invalid fields",
                           route_field_error(problem_field, problem));
        return false;
    }
    snprintf(t->program_id, sizeof t->program_id, "%s", PQgetvalue(r, 0, T_PROGRAM_ID));
    snprintf(t->regency, sizeof t->regency, "%s", regency);
    t->regency_submits = strcmp(PQgetvalue(r, 0, T_SUBMITTER), "regency") == 0;
    PQclear(r);
    target_remember(sub, t);
    return true;
}

static void answer_accepted(http_response_t *res, const char *id, int applicants)
{
    cJSON *doc = cJSON_CreateObject();
    doc = pgjson_whole(doc, doc && cJSON_AddStringToObject(doc, "submission_id", id) &&
                                cJSON_AddStringToObject(doc, "status", "received") &&
                                cJSON_AddNumberToObject(doc, "applicants", applicants));
    if (!doc) { /* the submission is stored: say so */
        http_response_error(
            res, 500, "INTERNAL",
            "the server ran out of memory after the submission was stored: "
            "retry with the same Idempotency-Key",
            NULL);
        return;
    }
    snprintf(res->location, sizeof res->location, "/v1/submissions/%s", id);
    http_response_json(res, 202, doc);
}

/* What an Idempotency-Key promises (NULL when out of memory): the same submission,
 * whether it came as JSON or CSV (whose programme and village are query parameters),
 * however its JSON was spaced. The hash of this text is stored with the submission. */
static char *fingerprint(const submission_t *sub)
{
    cJSON *doc = cJSON_CreateObject();
    bool ok =
        doc && cJSON_AddStringToObject(doc, "program_code", sub->program_code) &&
        cJSON_AddStringToObject(doc, "village_code", sub->village_code) &&
        (!sub->reference || cJSON_AddStringToObject(doc, "reference", sub->reference)) &&
        cJSON_AddItemReferenceToObject(doc, "applicants", sub->applicants);
    char *text = ok ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    return text;
}

/* The same Idempotency-Key again: the first answer if the submission is the same. */
static void answer_replay(db_t *db, const auth_t *auth, const char *key,
                          const char *print, http_response_t *res)
{
    const char *params[] = {auth->key_id, key, print};
    PGresult *r = db_exec_read(db, SQL_IDEMPOTENT_REPLAY, 3, params);
    if (!db_ok(r) || PQntuples(r) != 1) {
        PQclear(r);
        route_db_failure(db, res);
        return;
    }
    if (strcmp(PQgetvalue(r, 0, REPLAY_SAME), "t") == 0)
        answer_accepted(res, PQgetvalue(r, 0, REPLAY_ID),
                        atoi(PQgetvalue(r, 0, REPLAY_APPLICANTS)));
    else
        http_response_error(res, 409, "IDEMPOTENCY_CONFLICT",
                            "this Idempotency-Key was used with a different submission",
                            NULL);
    PQclear(r);
}

typedef enum { STORE_OK, STORE_REPLAY, STORE_FAILED, STORE_NO_MEMORY } store_result_t;

static store_result_t store(db_t *db, const submission_t *sub, const target_t *t,
                            const auth_t *auth, const char *idem_key, const char *print,
                            const http_request_t *req, const char *id)
{
    char count[16];
    snprintf(count, sizeof count, "%d", sub->count);
    char *list = cJSON_PrintUnformatted(sub->applicants);
    if (!list)
        return STORE_NO_MEMORY;
    const char *params[] = {
        id,           t->program_id, sub->village_code,       sub->reference,  count,
        auth->key_id, idem_key,      idem_key ? print : NULL, req->request_id, list};
    PGresult *r = db_exec(db, SQL_STORE, 10, params);
    free(list);
    store_result_t rc = STORE_FAILED;
    if (db_ok(r) && PQntuples(r) == 1)
        rc = strcmp(PQgetvalue(r, 0, STORED_NEW), "1") == 0 ? STORE_OK : STORE_REPLAY;
    PQclear(r);
    return rc;
}

static void create_submission(route_ctx_t *ctx, const http_request_t *req,
                              http_response_t *res)
{
    res->route = "/v1/submissions";
    db_t *db = route_db(ctx);
    auth_t auth;
    if (!route_authenticate(db, req, res, &auth))
        return;
    bool csv = http_request_media_type_is(req, "text/csv");
    if (!csv && !http_request_media_type_is(req, "application/json")) {
        http_response_error(res, 415, "UNSUPPORTED_MEDIA_TYPE",
                            "send Content-Type: application/json or text/csv", NULL);
        return;
    }
    const char *idem_key;
    if (!route_idempotency_key(req, res, &idem_key))
        return;
    cJSON *errors = cJSON_CreateArray();
    submission_t *sub = submission_new();
    if (!errors || !sub) {
        cJSON_Delete(errors);
        submission_destroy(&sub);
        route_out_of_memory(res);
        return;
    }
    submission_result_t parsed =
        csv ? csvbody_parse_request(sub, req, errors)
            : submission_from_json(sub, req->body, req->body_len, errors);
    if (parsed != SUBMISSION_OK) {
        bool malformed = parsed == SUBMISSION_MALFORMED;
        route_answer_error(res, malformed ? 400 : 422,
                           malformed ? "MALFORMED_BODY" : "INVALID_FIELDS",
                           malformed ? (csv ? "the body is not RFC 4180 CSV in UTF-8"
                                            : "the body is not a JSON object in UTF-8")
                                     : "the submission has invalid fields",
                           errors);
        submission_destroy(&sub);
        return;
    }
    cJSON_Delete(errors);
    target_t target;
    if (!resolve_target(db, sub, &auth.scope, res, &target)) {
        submission_destroy(&sub);
        return;
    }
    if (target.regency_submits && auth.scope.kind == SCOPE_VILLAGE) {
        http_response_error(res, 403, "OUT_OF_SCOPE",
                            "this programme takes its lists from the district office "
                            "(a regency key), not from villages",
                            NULL);
        submission_destroy(&sub);
        return;
    }
    if (!scope_allows_village(&auth.scope, sub->village_code)) {
        http_response_error(res, 403, "OUT_OF_SCOPE",
                            "this API key may not submit for that village", NULL);
        submission_destroy(&sub);
        return;
    }
    uuid_t raw;
    char id[37];
    uuid_generate_random(raw);
    uuid_unparse_lower(raw, id);
    char *print = fingerprint(sub);
    if (!print) {
        route_out_of_memory(res);
        submission_destroy(&sub);
        return;
    }
    switch (store(db, sub, &target, &auth, idem_key, print, req, id)) {
    case STORE_OK: {
        char n[16];
        snprintf(n, sizeof n, "%d", sub->count);
        log_info("submission.received", "submission_id", id, "program", sub->program_code,
                 "village", sub->village_code, "applicants", n, "request_id",
                 req->request_id);
        envelope_t env;
        envelope_init(&env, ENVELOPE_SUBMISSION_RECEIVED, id, req->request_id);
        bus_send(ctx->bus, &env);
        answer_accepted(res, id, sub->count);
        break;
    }
    case STORE_REPLAY:
        answer_replay(db, &auth, idem_key, print, res);
        break;
    case STORE_FAILED:
        route_db_failure(db, res);
        break;
    case STORE_NO_MEMORY:
        route_out_of_memory(res);
        break;
    }
    free(print);
    submission_destroy(&sub);
}

/* The stored JSON, or [] when there is none; NULL when out of memory. The
 * columns are jsonb, so text that does not parse means memory ran out. */
static cJSON *parse_or_empty(const char *json)
{
    cJSON *v = cJSON_Parse(json);
    return v || json[0] ? v : cJSON_CreateArray();
}

static cJSON *applicant_json(const PGresult *r, int i)
{
    cJSON *a = cJSON_CreateObject();
    bool ok = a && cJSON_AddNumberToObject(a, "index", atoi(PQgetvalue(r, i, A_INDEX))) &&
              cJSON_AddStringToObject(a, "nik", PQgetvalue(r, i, A_NIK)) &&
              cJSON_AddStringToObject(a, "name", PQgetvalue(r, i, A_NAME)) &&
              cJSON_AddStringToObject(a, "decision", PQgetvalue(r, i, A_DECISION)) &&
              pgjson_put(a, "reasons", parse_or_empty(PQgetvalue(r, i, A_REASONS))) &&
              pgjson_put(a, "warnings", parse_or_empty(PQgetvalue(r, i, A_WARNINGS)));
    return pgjson_whole(a, ok);
}

/* The applicants as JSON; their read is recorded in the same statement.
 * NULL when the database failed or, with *no_memory set, when out of
 * memory (nothing is sent). */
static cJSON *applicants_json(db_t *db, const auth_t *auth, const http_request_t *req,
                              const char *id, bool *no_memory)
{
    *no_memory = false;
    const char *params[] = {id, auth->key_id, req->request_id};
    PGresult *r = db_exec(db, SQL_APPLICANTS, 3, params);
    if (!db_ok(r)) {
        PQclear(r);
        return NULL;
    }
    cJSON *list = cJSON_CreateArray();
    bool ok = list != NULL;
    for (int i = 0; ok && i < PQntuples(r); i++)
        ok = pgjson_append(list, applicant_json(r, i));
    PQclear(r);
    *no_memory = !ok;
    return pgjson_whole(list, ok);
}

static void read_submission(route_ctx_t *ctx, const http_request_t *req,
                            http_response_t *res, const char *id)
{
    res->route = "/v1/submissions/{id}";
    db_t *db = route_db(ctx);
    auth_t auth;
    if (!route_authenticate(db, req, res, &auth))
        return;
    uuid_t raw;
    if (uuid_parse(id, raw) != 0) {
        http_response_error(res, 404, "NOT_FOUND", "no such submission", NULL);
        return;
    }
    const char *params[] = {id};
    PGresult *r = db_exec_read(db, SQL_SUBMISSION, 1, params);
    if (!db_ok(r)) {
        PQclear(r);
        route_db_failure(db, res);
        return;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        http_response_error(res, 404, "NOT_FOUND", "no such submission", NULL);
        return;
    }
    if (!scope_allows_village(&auth.scope, PQgetvalue(r, 0, S_VILLAGE))) {
        PQclear(r);
        http_response_error(res, 403, "OUT_OF_SCOPE",
                            "this API key may not read that submission", NULL);
        return;
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON *counts = NULL;
    bool ok =
        doc && cJSON_AddStringToObject(doc, "submission_id", PQgetvalue(r, 0, S_ID)) &&
        cJSON_AddStringToObject(doc, "program_code", PQgetvalue(r, 0, S_PROGRAM)) &&
        cJSON_AddStringToObject(doc, "village_code", PQgetvalue(r, 0, S_VILLAGE)) &&
        pgjson_add_text(doc, "reference", r, 0, S_REFERENCE) &&
        cJSON_AddStringToObject(doc, "status", PQgetvalue(r, 0, S_STATUS)) &&
        pgjson_add_text(doc, "received_at", r, 0, S_RECEIVED_AT) &&
        pgjson_add_text(doc, "verified_at", r, 0, S_VERIFIED_AT) &&
        (counts = cJSON_AddObjectToObject(doc, "counts")) != NULL &&
        cJSON_AddNumberToObject(counts, "total", atoi(PQgetvalue(r, 0, S_TOTAL))) &&
        cJSON_AddNumberToObject(counts, "pending", atoi(PQgetvalue(r, 0, S_PENDING))) &&
        cJSON_AddNumberToObject(counts, "accepted", atoi(PQgetvalue(r, 0, S_ACCEPTED))) &&
        cJSON_AddNumberToObject(counts, "rejected", atoi(PQgetvalue(r, 0, S_REJECTED)));
    PQclear(r);
    doc = pgjson_whole(doc, ok);
    if (!doc) {
        route_out_of_memory(res);
        return;
    }
    bool no_memory;
    cJSON *applicants = applicants_json(db, &auth, req, id, &no_memory);
    if (!applicants) {
        cJSON_Delete(doc);
        if (no_memory)
            route_out_of_memory(res);
        else
            route_db_failure(db, res);
        return;
    }
    route_answer_json(res, 200,
                      pgjson_whole(doc, pgjson_put(doc, "applicants", applicants)));
}

bool submissions_route(route_ctx_t *ctx, const http_request_t *req, http_response_t *res)
{
    const char *prefix = "/v1/submissions/";
    bool get = strcmp(req->method, "GET") == 0;
    bool post = strcmp(req->method, "POST") == 0;
    if (strcmp(req->path, "/v1/submissions") == 0 && post) {
        create_submission(ctx, req, res);
    } else if (strncmp(req->path, prefix, strlen(prefix)) == 0 && get) {
        read_submission(ctx, req, res, req->path + strlen(prefix));
    } else if (strcmp(req->path, "/v1/submissions") == 0) {
        http_response_method_not_allowed(res, "/v1/submissions", "POST",
                                         "method not allowed here");
    } else if (strncmp(req->path, prefix, strlen(prefix)) == 0) {
        http_response_method_not_allowed(res, "/v1/submissions/{id}", "GET",
                                         "method not allowed here");
    } else {
        return false;
    }
    return true;
}
