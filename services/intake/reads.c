/* reads: participants, programmes, a programme's villages and its renewal.
 * Lists page
 * with ?limit= (default 100, at most 1000) and an opaque ?cursor= taken from
 * the previous page's next_cursor. A scoped key sees only its own region:
 * a participant with no enrolment in scope is answered 404, so a key cannot
 * learn where else a NIK is enrolled (verify's DUPLICATE_ACTIVE reason says
 * so to the submitter, on purpose). */
#include "reads.h"
#include "audit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nik.h"
#include "pgjson.h"
#include "region.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000

static const char *SQL_PARTICIPANT =
    "SELECT nik, name, to_char(birth_date, 'YYYY-MM-DD'), sex, "
    "    to_char(deceased_on, 'YYYY-MM-DD') "
    "FROM participants "
    "WHERE nik = $1";

/* The person's life events (017_life_events.sql) with the village of the
 * enrolment each applied to, so a scoped key sees only its own (and those
 * it sent itself, refused ones included). */
static const char *SQL_PARTICIPANT_EVENTS =
    "SELECT pe.id, pe.kind, to_char(pe.event_date, 'YYYY-MM-DD'), pe.reference, "
    "    pe.to_village, pe.reason, pe.result, pe.code, pe.message, pe.enrolment_id, "
    "    pe.new_enrolment_id, "
    "    to_char(pe.received_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "    to_char(pe.corrected_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "    pe.correction_reason, coalesce(e.village_code, ''), pe.api_key_id::text = $2 "
    "FROM participant_events pe "
    "LEFT JOIN enrolments e ON e.id = pe.enrolment_id "
    "WHERE pe.nik = $1 "
    "ORDER BY pe.id";

static const char *SQL_PARTICIPANT_ENROLMENTS =
    "SELECT e.id, p.code, e.village_code, e.funding_source, e.payer_code, "
    "    to_char(e.start_month, 'YYYY-MM'), to_char(e.end_month, 'YYYY-MM'), e.status, "
    "    e.end_reason, e.previous_enrolment_id, e.kpj, e.bpjs_status, "
    "    to_char(e.bpjs_effective_month, 'YYYY-MM') "
    "FROM enrolments e "
    "JOIN programs p ON p.id = e.program_id "
    "WHERE e.nik = $1 "
    /* every status: answered from the exclusion constraint's index, which
     * leads with the NIK (013_money_rules.sql) */
    "ORDER BY e.id";

static const char *SQL_PROGRAMS =
    "SELECT p.code, p.name, p.regency_code, p.funding_source, p.payer_code, "
    "    p.payer_name, p.submitter, to_char(p.coverage_start, 'YYYY-MM'), "
    "    to_char(p.coverage_end, 'YYYY-MM'), "
    "    to_char(p.submission_deadline, 'YYYY-MM-DD'), "
    "    p.min_age, p.max_age, array_to_json(p.occupations)::text, "
    "    p.poverty_ref_required, p.village_quota, p.village_target, p.total_quota, "
    "    p.relief_applies, p.version, p.deadline_policy, r.code, p.insured_income, "
    "    p.income_ceiling, p.relief_basis, p.total_target "
    "FROM programs p "
    "LEFT JOIN programs r ON r.id = p.renews "
    "WHERE p.code > $1 AND ($2 = '' OR p.regency_code = $2) "
    "ORDER BY p.code "
    "LIMIT $3";

static const char *SQL_PROGRAM_SCOPE =
    "SELECT id, regency_code, village_quota, village_target "
    "FROM programs "
    "WHERE code = $1";

static const char *SQL_PROGRAM_VILLAGES =
    "SELECT r.code, r.name, r.village_kind, "
    "    (SELECT count(*) FROM enrolments e "
    "     WHERE e.program_id = $1 AND e.village_code = r.code AND e.status = 'active'), "
    "    (SELECT count(*) FROM submissions s "
    "     WHERE s.program_id = $1 AND s.village_code = r.code) "
    "FROM regions r "
    "WHERE r.regency_code = $2 AND r.level = 'village' AND r.code > $3 "
    "    AND ($4 = '' OR r.code = $4) "
    "ORDER BY r.code "
    "LIMIT $5";

static const char *SQL_RENEWAL_SCOPE = "SELECT p.id, p.regency_code, r.code "
                                       "FROM programs p "
                                       "LEFT JOIN programs r ON r.id = p.renews "
                                       "WHERE p.code = $1";

/* The applicants a renewal queued (program_renewal_queue, 013), in the
 * key's villages ($2: one village, or '' for all), after the cursor (an
 * applicant id), with the enrolment verify made of the accepted ones. */
/* With the record that the key ($5) read the page's people ($6 the
 * request id, $7 the programme code; audit.h), when there were any. */
static const char *SQL_RENEWAL_ITEMS =
    "WITH r AS MATERIALIZED ("
    "    SELECT a.id, a.nik, a.name, s.village_code, a.decision, a.reasons::text, "
    "        a.renews_enrolment_id, e.id AS enrolment_id, "
    "        to_char(e.start_month, 'YYYY-MM') "
    "    FROM submissions s "
    "    JOIN applicants a ON a.submission_id = s.id "
    "    LEFT JOIN enrolments e ON e.applicant_id = a.id "
    "    WHERE s.program_id = $1 AND s.origin = 'renewal' "
    "        AND a.renews_enrolment_id IS NOT NULL "
    "        AND ($2 = '' OR s.village_code = $2) "
    "        AND a.id > $3::bigint "
    "    ORDER BY a.id "
    "    LIMIT $4"
    "), "
    "au AS ("
    "    INSERT INTO audit_log (actor_kind, actor, action, object, nik_hashes, "
    "        request_id, detail) "
    "    SELECT 'key', $5, 'program.renewal.read', $7, audit_nik_hashes(array_agg(nik)), "
    "        $6, jsonb_build_object('items', count(*)) "
    "    FROM r "
    "    HAVING count(*) > 0"
    ") "
    "SELECT * FROM r ORDER BY id";

static const char *SQL_RENEWAL_COUNTS =
    "SELECT count(*), count(*) FILTER (WHERE a.decision = 'pending'), "
    "    count(*) FILTER (WHERE a.decision = 'accepted'), "
    "    count(*) FILTER (WHERE a.decision = 'rejected') "
    "FROM submissions s "
    "JOIN applicants a ON a.submission_id = s.id "
    "WHERE s.program_id = $1 AND s.origin = 'renewal' "
    "    AND a.renews_enrolment_id IS NOT NULL "
    "    AND ($2 = '' OR s.village_code = $2)";

static cJSON *query_error(const char *field, const char *message)
{
    cJSON *list = cJSON_CreateArray(), *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "field", field);
    cJSON_AddStringToObject(e, "message", message);
    cJSON_AddItemToArray(list, e);
    return list;
}

/* limit and cursor from the query; false (422 answered, as for invoices)
 * when malformed. */
static bool page_args(const http_request_t *req, http_response_t *res, char limit[8],
                      const char **cursor)
{
    const char *l = http_request_query(req, "limit");
    long n = PAGE_DEFAULT;
    if (l) {
        char *end = NULL;
        n = strtol(l, &end, 10);
        if (!*l || strspn(l, "0123456789") != strlen(l) || *end || n < 1 ||
            n > PAGE_MAX) {
            http_response_error(
                res, 422, "INVALID_FIELDS", "the query has invalid fields",
                query_error("limit", "must be a whole number from 1 to 1000"));
            return false;
        }
    }
    snprintf(limit, 8, "%ld", n);
    const char *c = http_request_query(req, "cursor");
    *cursor = c ? c : "";
    if (strlen(*cursor) > 64) {
        http_response_error(
            res, 422, "INVALID_FIELDS", "the query has invalid fields",
            query_error("cursor", "must be a next_cursor from a previous page"));
        return false;
    }
    return true;
}

/* {"items": [...], "next_cursor": the last key when the page was full}. */
static void answer_page(http_response_t *res, cJSON *items, const char *last, bool full)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "items", items);
    if (full && last)
        cJSON_AddStringToObject(doc, "next_cursor", last);
    else
        cJSON_AddNullToObject(doc, "next_cursor");
    http_response_json(res, 200, doc);
}

static bool enrolment_in_scope(const scope_t *scope, const PGresult *r, int row)
{
    return scope_allows_village(scope, PQgetvalue(r, row, 2));
}

static cJSON *event_json(const PGresult *r, int i)
{
    cJSON *o = cJSON_CreateObject();
    pgjson_add_int(o, "event_id", r, i, 0);
    const char *text[] = {"kind",   "date",   "reference", "to_village",
                          "reason", "result", "code",      "message"};
    for (int c = 0; c < 8; c++)
        pgjson_add_text(o, text[c], r, i, c + 1);
    pgjson_add_int(o, "enrolment_id", r, i, 9);
    pgjson_add_int(o, "new_enrolment_id", r, i, 10);
    pgjson_add_text(o, "received_at", r, i, 11);
    pgjson_add_text(o, "corrected_at", r, i, 12);
    pgjson_add_text(o, "correction_reason", r, i, 13);
    return o;
}

/* The events a key may see: applied to an enrolment in its scope, or sent
 * by the key itself. NULL when the database failed. */
static cJSON *participant_events(db_t *db, const auth_t *auth, const char *nik)
{
    const char *params[] = {nik, auth->key_id};
    PGresult *r = db_exec_read(db, SQL_PARTICIPANT_EVENTS, 2, params);
    if (!db_ok(r)) {
        PQclear(r);
        return NULL;
    }
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; i < PQntuples(r); i++) {
        const char *village = PQgetvalue(r, i, 14);
        bool own = strcmp(PQgetvalue(r, i, 15), "t") == 0;
        if (own || (village[0] && scope_allows_village(&auth->scope, village)))
            cJSON_AddItemToArray(list, event_json(r, i));
    }
    PQclear(r);
    return list;
}

/* The person (p), the enrolments the key may see and the events, as 200.
 * The read is recorded before the answer, so one that could not be
 * recorded is not sent (audit.h); a 404 shows nothing of the person and is
 * not recorded. Takes `enrolments`. */
static void answer_participant(db_t *db, const auth_t *auth, const http_request_t *req,
                               const PGresult *p, cJSON *enrolments, const char *nik,
                               http_response_t *res)
{
    cJSON *doc = cJSON_CreateObject();
    pgjson_add_text(doc, "nik", p, 0, 0);
    pgjson_add_text(doc, "name", p, 0, 1);
    pgjson_add_text(doc, "birth_date", p, 0, 2);
    pgjson_add_text(doc, "sex", p, 0, 3);
    pgjson_add_text(doc, "deceased_on", p, 0, 4);
    cJSON_AddItemToObject(doc, "enrolments", enrolments);
    cJSON *events = participant_events(db, auth, nik);
    char detail[64];
    snprintf(detail, sizeof detail, "{\"enrolments\": %d, \"events\": %d}",
             cJSON_GetArraySize(enrolments), events ? cJSON_GetArraySize(events) : 0);
    const char *niks[] = {nik};
    if (!events ||
        !audit_read(db, auth, req, "participant.read", NULL, niks, 1, detail)) {
        cJSON_Delete(events);
        cJSON_Delete(doc);
        api_db_failure(db, res);
        return;
    }
    cJSON_AddItemToObject(doc, "events", events);
    http_response_json(res, 200, doc);
}

static void participant(api_t *api, const http_request_t *req, http_response_t *res,
                        const char *nik_text)
{
    res->route = "/v1/participants/{nik}";
    db_t *db = api_db(api);
    auth_t auth;
    if (!api_authenticate(db, req, res, &auth))
        return;
    nik_t nik;
    if (nik_parse(nik_text, date_today(), &nik) != NIK_OK) {
        http_response_error(res, 404, "NOT_FOUND", "no participant with that NIK", NULL);
        return;
    }
    const char *params[] = {nik.digits};
    PGresult *p = db_exec_read(db, SQL_PARTICIPANT, 1, params);
    PGresult *e =
        db_ok(p) ? db_exec_read(db, SQL_PARTICIPANT_ENROLMENTS, 1, params) : NULL;
    if (!db_ok(p) || !db_ok(e)) {
        PQclear(p);
        PQclear(e);
        api_db_failure(db, res);
        return;
    }
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; i < PQntuples(e); i++) {
        if (!enrolment_in_scope(&auth.scope, e, i))
            continue;
        cJSON *o = cJSON_CreateObject();
        pgjson_add_int(o, "enrolment_id", e, i, 0);
        pgjson_add_text(o, "program_code", e, i, 1);
        pgjson_add_text(o, "village_code", e, i, 2);
        pgjson_add_text(o, "funding_source", e, i, 3);
        pgjson_add_text(o, "payer_code", e, i, 4);
        pgjson_add_text(o, "start_month", e, i, 5);
        pgjson_add_text(o, "end_month", e, i, 6);
        pgjson_add_text(o, "status", e, i, 7);
        pgjson_add_text(o, "end_reason", e, i, 8);
        /* the enrolment this one continues (a transfer or a renewal): an id
         * only, so a key does not learn where the person was before */
        pgjson_add_int(o, "previous_enrolment_id", e, i, 9);
        /* BPJS's answer (019_bpjs.sql): the KPJ once registered; pending,
         * registered or refused */
        pgjson_add_text(o, "kpj", e, i, 10);
        pgjson_add_text(o, "bpjs_status", e, i, 11);
        pgjson_add_text(o, "bpjs_effective_month", e, i, 12);
        cJSON_AddItemToArray(list, o);
    }
    bool visible = PQntuples(p) == 1 && cJSON_GetArraySize(list) > 0;
    if (visible) {
        answer_participant(db, &auth, req, p, list, nik.digits, res);
    } else {
        cJSON_Delete(list);
        http_response_error(res, 404, "NOT_FOUND", "no participant with that NIK", NULL);
    }
    PQclear(p);
    PQclear(e);
}

/* A scoped key lists the programmes of its own regency. */
static void scope_regency(const scope_t *scope, char out[8])
{
    out[0] = '\0';
    if (scope->kind == SCOPE_REGENCY)
        snprintf(out, 8, "%.5s", scope->code);
    else if (scope->kind == SCOPE_VILLAGE)
        region_regency_of(scope->code, out);
}

static cJSON *program_json(const PGresult *r, int i)
{
    cJSON *o = cJSON_CreateObject();
    const char *text[] = {"code",         "name",
                          "regency_code", "funding_source",
                          "payer_code",   "payer_name",
                          "submitter",    "coverage_start",
                          "coverage_end", "submission_deadline"};
    for (int c = 0; c < 10; c++)
        pgjson_add_text(o, text[c], r, i, c);
    pgjson_add_int(o, "min_age", r, i, 10);
    pgjson_add_int(o, "max_age", r, i, 11);
    cJSON *occ = cJSON_Parse(PQgetvalue(r, i, 12));
    cJSON_AddItemToObject(o, "occupations", occ ? occ : cJSON_CreateArray());
    pgjson_add_bool(o, "poverty_ref_required", r, i, 13);
    pgjson_add_int(o, "village_quota", r, i, 14);
    pgjson_add_int(o, "village_target", r, i, 15);
    pgjson_add_int(o, "total_quota", r, i, 16);
    pgjson_add_bool(o, "relief_applies", r, i, 17);
    pgjson_add_int(o, "version", r, i, 18);
    pgjson_add_text(o, "deadline_policy", r, i, 19);
    pgjson_add_text(o, "renews", r, i, 20);
    pgjson_add_int(o, "insured_income", r, i, 21);
    pgjson_add_int(o, "income_ceiling", r, i, 22);
    pgjson_add_text(o, "relief_basis", r, i, 23);
    pgjson_add_int(o, "total_target", r, i, 24);
    return o;
}

static void programs(api_t *api, const http_request_t *req, http_response_t *res)
{
    res->route = "/v1/programs";
    db_t *db = api_db(api);
    auth_t auth;
    char limit[8], regency[8];
    const char *cursor;
    if (!api_authenticate(db, req, res, &auth) || !page_args(req, res, limit, &cursor))
        return;
    scope_regency(&auth.scope, regency);
    const char *params[] = {cursor, regency, limit};
    PGresult *r = db_exec_read(db, SQL_PROGRAMS, 3, params);
    if (!db_ok(r)) {
        PQclear(r);
        api_db_failure(db, res);
        return;
    }
    cJSON *items = cJSON_CreateArray();
    int n = PQntuples(r);
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(items, program_json(r, i));
    answer_page(res, items, n ? PQgetvalue(r, n - 1, 0) : NULL, n == atoi(limit));
    PQclear(r);
}

/* The programme of a programme route ($1: code) when the key may see it:
 * 404 answered otherwise (unknown, or outside a scoped key's regency), the
 * same answer for both so a key learns nothing outside its scope. */
static PGresult *program_in_scope(db_t *db, const auth_t *auth, const char *sql,
                                  const char *code, http_response_t *res)
{
    const char *pp[] = {code};
    PGresult *p = db_exec_read(db, sql, 1, pp);
    if (!db_ok(p)) {
        PQclear(p);
        api_db_failure(db, res);
        return NULL;
    }
    char regency[8];
    scope_regency(&auth->scope, regency);
    if (PQntuples(p) == 0 || (regency[0] && strcmp(regency, PQgetvalue(p, 0, 1)) != 0)) {
        PQclear(p);
        http_response_error(res, 404, "NOT_FOUND",
                            "no such programme in this key's scope", NULL);
        return NULL;
    }
    return p;
}

static void program_villages(api_t *api, const http_request_t *req, http_response_t *res,
                             const char *code)
{
    res->route = "/v1/programs/{code}/villages";
    db_t *db = api_db(api);
    auth_t auth;
    char limit[8];
    const char *cursor;
    if (!api_authenticate(db, req, res, &auth) || !page_args(req, res, limit, &cursor))
        return;
    PGresult *p = program_in_scope(db, &auth, SQL_PROGRAM_SCOPE, code, res);
    if (!p)
        return;
    const char *only = auth.scope.kind == SCOPE_VILLAGE ? auth.scope.code : "";
    const char *vp[] = {PQgetvalue(p, 0, 0), PQgetvalue(p, 0, 1), cursor, only, limit};
    PGresult *r = db_exec_read(db, SQL_PROGRAM_VILLAGES, 5, vp);
    if (!db_ok(r)) {
        PQclear(p);
        PQclear(r);
        api_db_failure(db, res);
        return;
    }
    cJSON *items = cJSON_CreateArray();
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        pgjson_add_text(o, "village_code", r, i, 0);
        pgjson_add_text(o, "name", r, i, 1);
        pgjson_add_text(o, "village_kind", r, i, 2);
        pgjson_add_int(o, "quota", p, 0, 2);
        pgjson_add_int(o, "target", p, 0, 3);
        pgjson_add_int(o, "accepted", r, i, 3);
        pgjson_add_int(o, "submissions", r, i, 4);
        cJSON_AddBoolToObject(o, "submitted", atoi(PQgetvalue(r, i, 4)) > 0);
        cJSON_AddItemToArray(items, o);
    }
    answer_page(res, items, n ? PQgetvalue(r, n - 1, 0) : NULL, n == atoi(limit));
    PQclear(r);
    PQclear(p);
}

static cJSON *renewal_item(const PGresult *r, int i)
{
    cJSON *o = cJSON_CreateObject();
    /* the NIK in full, as GET /v1/submissions/{id} shows a key its own
     * village's people; other villages' rows are never read */
    pgjson_add_text(o, "nik", r, i, 1);
    pgjson_add_text(o, "name", r, i, 2);
    pgjson_add_text(o, "village_code", r, i, 3);
    pgjson_add_text(o, "decision", r, i, 4);
    cJSON *reasons = cJSON_Parse(PQgetvalue(r, i, 5));
    cJSON_AddItemToObject(o, "reasons", reasons ? reasons : cJSON_CreateArray());
    pgjson_add_int(o, "renews_enrolment_id", r, i, 6);
    pgjson_add_int(o, "enrolment_id", r, i, 7);
    pgjson_add_text(o, "start_month", r, i, 8);
    return o;
}

static cJSON *renewal_counts(const PGresult *c)
{
    cJSON *counts = cJSON_CreateObject();
    const char *keys[] = {"queued", "pending", "accepted", "rejected"};
    for (int k = 0; k < 4; k++)
        pgjson_add_int(counts, keys[k], c, 0, k);
    return counts;
}

/* The renewal cursor is the last applicant id of the previous page. */
static bool renewal_cursor(const char *cursor, http_response_t *res)
{
    if (strlen(cursor) <= 18 && strspn(cursor, "0123456789") == strlen(cursor))
        return true;
    http_response_error(
        res, 422, "INVALID_FIELDS", "the query has invalid fields",
        query_error("cursor", "must be a next_cursor from a previous page"));
    return false;
}

static void program_renewal(api_t *api, const http_request_t *req, http_response_t *res,
                            const char *code)
{
    res->route = "/v1/programs/{code}/renewal";
    db_t *db = api_db(api);
    auth_t auth;
    char limit[8];
    const char *cursor;
    if (!api_authenticate(db, req, res, &auth) || !page_args(req, res, limit, &cursor) ||
        !renewal_cursor(cursor, res))
        return;
    PGresult *p = program_in_scope(db, &auth, SQL_RENEWAL_SCOPE, code, res);
    if (!p)
        return;
    const char *only = auth.scope.kind == SCOPE_VILLAGE ? auth.scope.code : "";
    const char *ip[] = {
        PQgetvalue(p, 0, 0), only, cursor[0] ? cursor : "0", limit, auth.key_id,
        req->request_id,     code};
    PGresult *r = db_exec(db, SQL_RENEWAL_ITEMS, 7, ip);
    PGresult *c = db_ok(r) ? db_exec_read(db, SQL_RENEWAL_COUNTS, 2, ip) : NULL;
    if (!db_ok(r) || !db_ok(c) || PQntuples(c) != 1) {
        PQclear(p);
        PQclear(r);
        PQclear(c);
        api_db_failure(db, res);
        return;
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "program_code", code);
    pgjson_add_text(doc, "renews", p, 0, 2);
    cJSON_AddItemToObject(doc, "counts", renewal_counts(c));
    cJSON *items = cJSON_AddArrayToObject(doc, "items");
    int n = PQntuples(r);
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(items, renewal_item(r, i));
    if (n > 0 && n == atoi(limit))
        cJSON_AddStringToObject(doc, "next_cursor", PQgetvalue(r, n - 1, 0));
    else
        cJSON_AddNullToObject(doc, "next_cursor");
    http_response_json(res, 200, doc);
    PQclear(r);
    PQclear(c);
    PQclear(p);
}

/* The programme code of /v1/programs/{code}/..., cut to fit. */
static void program_code_of(const char *path, size_t plen, const char *suffix,
                            char code[72])
{
    size_t len = (size_t)(suffix - (path + plen));
    snprintf(code, 72, "%.*s", (int)(len < 72 ? len : 71), path + plen);
}

static bool method_not_allowed(http_response_t *res, const char *route)
{
    http_response_method_not_allowed(res, route, "GET", "only GET is allowed here");
    return true;
}

bool reads_route(api_t *api, const http_request_t *req, http_response_t *res)
{
    const char *path = req->path;
    bool get = strcmp(req->method, "GET") == 0;
    const char *participants = "/v1/participants/", *programs_prefix = "/v1/programs/";
    size_t plen = strlen(programs_prefix);
    const char *suffix =
        strncmp(path, programs_prefix, plen) == 0 ? strchr(path + plen, '/') : NULL;
    if (strncmp(path, participants, strlen(participants)) == 0) {
        if (!get)
            return method_not_allowed(res, "/v1/participants/{nik}");
        participant(api, req, res, path + strlen(participants));
        return true;
    }
    if (strcmp(path, "/v1/programs") == 0) {
        if (!get)
            return method_not_allowed(res, "/v1/programs");
        programs(api, req, res);
        return true;
    }
    if (suffix && strcmp(suffix, "/villages") == 0) {
        if (!get)
            return method_not_allowed(res, "/v1/programs/{code}/villages");
        char code[72];
        program_code_of(path, plen, suffix, code);
        program_villages(api, req, res, code);
        return true;
    }
    if (suffix && strcmp(suffix, "/renewal") == 0) {
        if (!get)
            return method_not_allowed(res, "/v1/programs/{code}/renewal");
        char code[72];
        program_code_of(path, plen, suffix, code);
        program_renewal(api, req, res, code);
        return true;
    }
    return false;
}
