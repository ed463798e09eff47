/* reports: GET /v1/reports/participants (docs/api.md, "Reports"): participants
 * against target per village, district or regency, read from the views of
 * db/migrations/022_reports.sql, the same ones `lindungctl report
 * participants` and an operator's SQL read, so the three cannot disagree.
 * Scoped as GET /v1/programs/{code}/villages: a village key sees its own
 * village's rows (and only at level=village: a district or regency total
 * would tell it about other villages), a regency key its regency's, admin
 * all. A programme outside the key's scope is the same 404 as an unknown one.
 * No paging: one programme has at most a few hundred villages. */
#include "reports.h"
#include "fields.h"
#include <stdio.h>
#include <string.h>
#include "pgjson.h"

#define ROUTE "/v1/reports/participants"
#define MAX_PROGRAM 64

/* Every level: $1 scope kind, $2 scope code, $3 programme code (NULL: all
 * the scope's programmes). */
static const char SQL_VILLAGES[] =
    "SELECT program_code, regency_code, district_code, village_code, village_name, "
    "    village_kind, enrolled, active, covered_now, village_target, village_quota, "
    "    target_share_bp "
    "FROM report_participants_village "
    "WHERE ($3::text IS NULL OR program_code = $3) "
    "    AND scope_allows_village($1, $2, village_code) "
    "ORDER BY program_code, village_code";

static const char SQL_DISTRICTS[] =
    "SELECT program_code, regency_code, district_code, district_name, villages, "
    "    enrolled, active, covered_now, target, quota, villages_at_target, "
    "    target_share_bp "
    "FROM report_participants_district "
    "WHERE ($3::text IS NULL OR program_code = $3) "
    "    AND ($1 = 'admin' OR regency_code = $2) "
    "ORDER BY program_code, district_code";

static const char SQL_REGENCIES[] =
    "SELECT program_code, regency_code, regency_name, villages, enrolled, active, "
    "    covered_now, target, total_target, total_quota, villages_at_target, "
    "    target_share_bp, bpjs_unconfirmed "
    "FROM report_participants_regency "
    "WHERE ($3::text IS NULL OR program_code = $3) "
    "    AND ($1 = 'admin' OR regency_code = $2) "
    "ORDER BY program_code";

static const char *SQL_PROGRAM_REGENCY =
    "SELECT regency_code FROM programs WHERE code = $1";

/* One level: its query and its columns in order; int columns are numbers
 * (null when NULL), the rest strings. */
typedef struct {
    const char *name;
    bool is_int;
} column_t;

typedef struct {
    const char *level;
    const char *sql;
    const column_t *columns;
    int ncolumns;
} level_t;

static const column_t VILLAGE_COLUMNS[] = {
    {"program_code", false},  {"regency_code", false}, {"district_code", false},
    {"village_code", false},  {"village_name", false}, {"village_kind", false},
    {"enrolled", true},       {"active", true},        {"covered_now", true},
    {"village_target", true}, {"village_quota", true}, {"target_share_bp", true}};

static const column_t DISTRICT_COLUMNS[] = {
    {"program_code", false},  {"regency_code", false},      {"district_code", false},
    {"district_name", false}, {"villages", true},           {"enrolled", true},
    {"active", true},         {"covered_now", true},        {"target", true},
    {"quota", true},          {"villages_at_target", true}, {"target_share_bp", true}};

static const column_t REGENCY_COLUMNS[] = {
    {"program_code", false},      {"regency_code", false},
    {"regency_name", false},      {"villages", true},
    {"enrolled", true},           {"active", true},
    {"covered_now", true},        {"target", true},
    {"total_target", true},       {"total_quota", true},
    {"villages_at_target", true}, {"target_share_bp", true},
    {"bpjs_unconfirmed", true}};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const level_t LEVELS[] = {
    {"village", SQL_VILLAGES, VILLAGE_COLUMNS, COUNT(VILLAGE_COLUMNS)},
    {"district", SQL_DISTRICTS, DISTRICT_COLUMNS, COUNT(DISTRICT_COLUMNS)},
    {"regency", SQL_REGENCIES, REGENCY_COLUMNS, COUNT(REGENCY_COLUMNS)}};

/* The level named in ?level= (default village); NULL when unknown. */
static const level_t *level_of(const char *name)
{
    if (!name)
        name = "village";
    for (int i = 0; i < COUNT(LEVELS); i++)
        if (strcmp(name, LEVELS[i].level) == 0)
            return &LEVELS[i];
    return NULL;
}

/* ?program= and ?level=; false (422 answered, every problem listed) when bad. */
static bool read_query(const http_request_t *req, http_response_t *res,
                       const char **program, const level_t **level)
{
    cJSON *errors = cJSON_CreateArray();
    *program = http_request_query(req, "program");
    if (*program && (!**program || strlen(*program) > MAX_PROGRAM))
        fields_add_error(errors, "program", "must be a programme code");
    *level = level_of(http_request_query(req, "level"));
    if (!*level)
        fields_add_error(errors, "level", "must be village, district or regency");
    if (fields_error_count(errors) > 0) {
        route_answer_error(res, 422, "INVALID_FIELDS", "the query has invalid parameters",
                           errors);
        return false;
    }
    cJSON_Delete(errors);
    return true;
}

/* A named programme must exist and be in the key's scope: the same 404
 * either way, as /v1/programs/{code}/villages answers. A village key's
 * programme is its regency's. */
static bool program_visible(db_t *db, const auth_t *auth, const char *program,
                            http_response_t *res)
{
    if (!program)
        return true;
    const char *params[] = {program};
    PGresult *r = db_exec_read(db, SQL_PROGRAM_REGENCY, 1, params);
    if (!db_ok(r)) {
        PQclear(r);
        route_db_failure(db, res);
        return false;
    }
    bool ok =
        PQntuples(r) == 1 && (auth->scope.kind == SCOPE_ADMIN ||
                              strncmp(auth->scope.code, PQgetvalue(r, 0, 0), 5) == 0);
    PQclear(r);
    if (!ok)
        http_response_error(res, 404, "NOT_FOUND",
                            "no such programme in this key's scope", NULL);
    return ok;
}

static cJSON *row_json(const level_t *level, const PGresult *r, int row)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL;
    for (int c = 0; ok && c < level->ncolumns; c++) {
        if (level->columns[c].is_int)
            ok = pgjson_add_int(o, level->columns[c].name, r, row, c);
        else
            ok = pgjson_add_text(o, level->columns[c].name, r, row, c);
    }
    return pgjson_whole(o, ok);
}

static void participants_report(route_ctx_t *ctx, const http_request_t *req,
                                http_response_t *res)
{
    db_t *db = route_db(ctx);
    auth_t auth;
    const char *program;
    const level_t *level;
    if (!route_authenticate(db, req, res, &auth) ||
        !read_query(req, res, &program, &level))
        return;
    if (auth.scope.kind == SCOPE_VILLAGE && strcmp(level->level, "village") != 0) {
        http_response_error(res, 403, "OUT_OF_SCOPE",
                            "a village key reads its own village: use level=village",
                            NULL);
        return;
    }
    if (!program_visible(db, &auth, program, res))
        return;
    const char *params[] = {fields_scope_kind(&auth.scope), auth.scope.code, program};
    PGresult *r = db_exec_read(db, level->sql, 3, params);
    if (!db_ok(r)) {
        PQclear(r);
        route_db_failure(db, res);
        return;
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON *items = NULL;
    bool ok = doc && cJSON_AddStringToObject(doc, "level", level->level) &&
              (program ? cJSON_AddStringToObject(doc, "program", program) != NULL
                       : cJSON_AddNullToObject(doc, "program") != NULL) &&
              (items = cJSON_AddArrayToObject(doc, "items")) != NULL;
    for (int i = 0; ok && i < PQntuples(r); i++)
        ok = pgjson_append(items, row_json(level, r, i));
    PQclear(r);
    route_answer_json(res, 200, pgjson_whole(doc, ok));
}

bool reports_route(route_ctx_t *ctx, const http_request_t *req, http_response_t *res)
{
    if (strcmp(req->path, ROUTE) != 0)
        return false;
    res->route = ROUTE;
    if (strcmp(req->method, "GET") != 0)
        http_response_method_not_allowed(res, ROUTE, "GET", "only GET is allowed here");
    else
        participants_report(ctx, req, res);
    return true;
}
