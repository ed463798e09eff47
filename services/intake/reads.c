/* reads: participants, programmes and a programme's villages. Lists page
 * with ?limit= (default 100, at most 1000) and an opaque ?cursor= taken from
 * the previous page's next_cursor. A scoped key sees only its own region:
 * a participant with no enrolment in scope is answered 404, so a key cannot
 * learn where else a NIK is enrolled (verify's DUPLICATE_ACTIVE reason says
 * so to the submitter, on purpose). */
#include "reads.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nik.h"
#include "pgjson.h"
#include "region.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000

static const char *SQL_PARTICIPANT =
    "SELECT nik, name, to_char(birth_date, 'YYYY-MM-DD'), sex FROM participants WHERE "
    "nik = $1";

static const char *SQL_PARTICIPANT_ENROLMENTS =
    "SELECT e.id, p.code, e.village_code, e.funding_source, e.payer_code, "
    "  to_char(e.start_month, 'YYYY-MM'), to_char(e.end_month, 'YYYY-MM'), e.status, "
    "  e.end_reason "
    "FROM enrolments e JOIN programs p ON p.id = e.program_id WHERE e.nik = $1 "
    /* every status, spelt out: answered from the index of active NIKs and the
     * index of ended ones (008_verify_speed.sql) */
    "  AND (e.status = 'active' OR e.status = 'ended') ORDER BY e.id";

static const char *SQL_PROGRAMS =
    "SELECT code, name, regency_code, funding_source, payer_code, payer_name, submitter, "
    "  to_char(coverage_start, 'YYYY-MM'), to_char(coverage_end, 'YYYY-MM'), "
    "  to_char(submission_deadline, 'YYYY-MM-DD'), min_age, max_age, "
    "  array_to_json(occupations)::text, poverty_ref_required, village_quota, "
    "village_target, "
    "  total_quota, relief_applies, version, deadline_policy "
    "FROM programs WHERE code > $1 AND ($2 = '' OR regency_code = $2) ORDER BY code "
    "LIMIT $3";

static const char *SQL_PROGRAM_SCOPE = "SELECT id, regency_code, village_quota, "
                                       "village_target FROM programs WHERE code = $1";

static const char *SQL_PROGRAM_VILLAGES =
    "SELECT r.code, r.name, r.village_kind, "
    "  (SELECT count(*) FROM enrolments e WHERE e.program_id = $1 AND e.village_code = "
    "r.code "
    "   AND e.status = 'active'), "
    "  (SELECT count(*) FROM submissions s WHERE s.program_id = $1 AND s.village_code = "
    "r.code) "
    "FROM regions r "
    "WHERE r.regency_code = $2 AND r.level = 'village' AND r.code > $3 "
    "  AND ($4 = '' OR r.code = $4) "
    "ORDER BY r.code LIMIT $5";

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
        cJSON_AddItemToArray(list, o);
    }
    bool visible = PQntuples(p) == 1 && cJSON_GetArraySize(list) > 0;
    if (!visible) {
        cJSON_Delete(list);
        http_response_error(res, 404, "NOT_FOUND", "no participant with that NIK", NULL);
    } else {
        cJSON *doc = cJSON_CreateObject();
        pgjson_add_text(doc, "nik", p, 0, 0);
        pgjson_add_text(doc, "name", p, 0, 1);
        pgjson_add_text(doc, "birth_date", p, 0, 2);
        pgjson_add_text(doc, "sex", p, 0, 3);
        cJSON_AddItemToObject(doc, "enrolments", list);
        http_response_json(res, 200, doc);
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
    const char *pp[] = {code};
    PGresult *p = db_exec_read(db, SQL_PROGRAM_SCOPE, 1, pp);
    if (!db_ok(p)) {
        PQclear(p);
        api_db_failure(db, res);
        return;
    }
    char regency[8];
    scope_regency(&auth.scope, regency);
    if (PQntuples(p) == 0 || (regency[0] && strcmp(regency, PQgetvalue(p, 0, 1)) != 0)) {
        PQclear(p);
        http_response_error(res, 404, "NOT_FOUND",
                            "no such programme in this key's scope", NULL);
        return;
    }
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

static bool method_not_allowed(http_response_t *res, const char *route)
{
    http_response_method_not_allowed(res, route, "only GET is allowed here");
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
        size_t len = (size_t)(suffix - (path + plen));
        snprintf(code, sizeof code, "%.*s",
                 (int)(len < sizeof code ? len : sizeof code - 1), path + plen);
        program_villages(api, req, res, code);
        return true;
    }
    return false;
}
