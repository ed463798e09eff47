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

static const char *SQL_PARTICIPANT =
    "SELECT nik, name, to_char(birth_date, 'YYYY-MM-DD'), sex, "
    "    to_char(deceased_on, 'YYYY-MM-DD') "
    "FROM participants "
    "WHERE nik = $1";
enum { P_NIK, P_NAME, P_BIRTH_DATE, P_SEX, P_DECEASED_ON };

/* The person's life events (017_life_events.sql) with the villages of every
 * enrolment each applied to: the one it ended, those it cancelled (a death
 * before the enrolment's first month has no enrolment_id, only
 * cancelled_ids) and a move's continuation. So a scoped key sees those of
 * its villages (and those it sent itself, refused ones included). */
static const char *SQL_PARTICIPANT_EVENTS =
    "SELECT pe.id, pe.kind, to_char(pe.event_date, 'YYYY-MM-DD'), pe.reference, "
    "    pe.to_village, pe.reason, pe.result, pe.code, pe.message, pe.enrolment_id, "
    "    pe.new_enrolment_id, "
    "    to_char(pe.received_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "    to_char(pe.corrected_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "    pe.correction_reason, "
    "    coalesce((SELECT string_agg(DISTINCT e.village_code, ',') FROM enrolments e "
    "              WHERE e.id = ANY (pe.cancelled_ids || pe.enrolment_id "
    "                  || pe.new_enrolment_id)), ''), "
    "    pe.api_key_id::text = $2 "
    "FROM participant_events pe "
    "WHERE pe.nik = $1 "
    "ORDER BY pe.id";
enum {
    EV_ID,
    EV_KIND,
    EV_DATE,
    EV_REFERENCE,
    EV_TO_VILLAGE,
    EV_REASON,
    EV_RESULT,
    EV_CODE,
    EV_MESSAGE,
    EV_ENROLMENT,
    EV_NEW_ENROLMENT,
    EV_RECEIVED_AT,
    EV_CORRECTED_AT,
    EV_CORRECTION_REASON,
    EV_VILLAGES, /* of the enrolments it applied to, comma-separated; '' when none */
    EV_OWN       /* sent by this key */
};

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
enum {
    E_ID,
    E_PROGRAM,
    E_VILLAGE,
    E_SOURCE,
    E_PAYER,
    E_START,
    E_END,
    E_STATUS,
    E_END_REASON,
    E_PREVIOUS,
    E_KPJ,
    E_BPJS_STATUS,
    E_BPJS_MONTH
};

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
enum {
    PG_CODE,
    PG_NAME,
    PG_REGENCY,
    PG_SOURCE,
    PG_PAYER,
    PG_PAYER_NAME,
    PG_SUBMITTER,
    PG_COVERAGE_START,
    PG_COVERAGE_END,
    PG_DEADLINE,
    PG_MIN_AGE,
    PG_MAX_AGE,
    PG_OCCUPATIONS,
    PG_POVERTY_REF,
    PG_VILLAGE_QUOTA,
    PG_VILLAGE_TARGET,
    PG_TOTAL_QUOTA,
    PG_RELIEF,
    PG_VERSION,
    PG_DEADLINE_POLICY,
    PG_RENEWS,
    PG_INSURED_INCOME,
    PG_INCOME_CEILING,
    PG_RELIEF_BASIS,
    PG_TOTAL_TARGET
};

static const char *SQL_PROGRAM_SCOPE =
    "SELECT id, regency_code, village_quota, village_target "
    "FROM programs "
    "WHERE code = $1";
/* SQL_PROGRAM_SCOPE and SQL_RENEWAL_SCOPE both begin with the programme's id
 * and regency (program_in_scope reads the regency of either). */
enum { PS_ID, PS_REGENCY, PS_VILLAGE_QUOTA, PS_VILLAGE_TARGET };

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
enum { V_CODE, V_NAME, V_KIND, V_ACCEPTED, V_SUBMISSIONS };

static const char *SQL_RENEWAL_SCOPE = "SELECT p.id, p.regency_code, r.code "
                                       "FROM programs p "
                                       "LEFT JOIN programs r ON r.id = p.renews "
                                       "WHERE p.code = $1";
enum { RS_ID = PS_ID, RS_REGENCY = PS_REGENCY, RS_RENEWS };

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
enum {
    RI_ID,
    RI_NIK,
    RI_NAME,
    RI_VILLAGE,
    RI_DECISION,
    RI_REASONS,
    RI_RENEWS,
    RI_ENROLMENT,
    RI_START
};

static const char *SQL_RENEWAL_COUNTS =
    "SELECT count(*), count(*) FILTER (WHERE a.decision = 'pending'), "
    "    count(*) FILTER (WHERE a.decision = 'accepted'), "
    "    count(*) FILTER (WHERE a.decision = 'rejected') "
    "FROM submissions s "
    "JOIN applicants a ON a.submission_id = s.id "
    "WHERE s.program_id = $1 AND s.origin = 'renewal' "
    "    AND a.renews_enrolment_id IS NOT NULL "
    "    AND ($2 = '' OR s.village_code = $2)";
enum { RC_QUEUED, RC_PENDING, RC_ACCEPTED, RC_REJECTED };

static bool enrolment_in_scope(const scope_t *scope, const PGresult *r, int row)
{
    return scope_allows_village(scope, PQgetvalue(r, row, E_VILLAGE));
}

static cJSON *event_json(const PGresult *r, int i)
{
    cJSON *o = cJSON_CreateObject();
    return pgjson_whole(
        o, pgjson_add_int(o, "event_id", r, i, EV_ID) &&
               pgjson_add_text(o, "kind", r, i, EV_KIND) &&
               pgjson_add_text(o, "date", r, i, EV_DATE) &&
               pgjson_add_text(o, "reference", r, i, EV_REFERENCE) &&
               pgjson_add_text(o, "to_village", r, i, EV_TO_VILLAGE) &&
               pgjson_add_text(o, "reason", r, i, EV_REASON) &&
               pgjson_add_text(o, "result", r, i, EV_RESULT) &&
               pgjson_add_text(o, "code", r, i, EV_CODE) &&
               pgjson_add_text(o, "message", r, i, EV_MESSAGE) &&
               pgjson_add_int(o, "enrolment_id", r, i, EV_ENROLMENT) &&
               pgjson_add_int(o, "new_enrolment_id", r, i, EV_NEW_ENROLMENT) &&
               pgjson_add_text(o, "received_at", r, i, EV_RECEIVED_AT) &&
               pgjson_add_text(o, "corrected_at", r, i, EV_CORRECTED_AT) &&
               pgjson_add_text(o, "correction_reason", r, i, EV_CORRECTION_REASON));
}

/* Did the event apply to an enrolment in the scope? `villages`: their
 * village codes, comma-separated (EV_VILLAGES). */
static bool event_in_scope(const scope_t *scope, const char *villages)
{
    char village[32];
    for (const char *p = villages; *p;) {
        size_t n = strcspn(p, ",");
        if (n < sizeof village) {
            memcpy(village, p, n);
            village[n] = '\0';
            if (scope_allows_village(scope, village))
                return true;
        }
        p += n + (p[n] == ',');
    }
    return false;
}

/* The events a key may see: applied to an enrolment in its scope, or sent
 * by the key itself; an admin key, every one (refused ones of other keys
 * included). NULL when the database failed or, with *no_memory set, when
 * out of memory. */
static cJSON *participant_events(db_t *db, const auth_t *auth, const char *nik,
                                 bool *no_memory)
{
    *no_memory = false;
    const char *params[] = {nik, auth->key_id};
    PGresult *r = db_exec_read(db, SQL_PARTICIPANT_EVENTS, 2, params);
    if (!db_ok(r)) {
        PQclear(r);
        return NULL;
    }
    cJSON *list = cJSON_CreateArray();
    bool ok = list != NULL;
    for (int i = 0; ok && i < PQntuples(r); i++) {
        bool own = strcmp(PQgetvalue(r, i, EV_OWN), "t") == 0;
        if (own || auth->scope.kind == SCOPE_ADMIN ||
            event_in_scope(&auth->scope, PQgetvalue(r, i, EV_VILLAGES)))
            ok = pgjson_append(list, event_json(r, i));
    }
    PQclear(r);
    *no_memory = !ok;
    return pgjson_whole(list, ok);
}

/* The person (p), the enrolments the key may see and the events, as 200.
 * The read is recorded before the answer, so one that could not be
 * recorded is not sent (audit.h); a 404 shows nothing of the person and is
 * not recorded. Takes `enrolments`. */
static void answer_participant(db_t *db, const auth_t *auth, const http_request_t *req,
                               const PGresult *p, cJSON *enrolments, const char *nik,
                               http_response_t *res)
{
    int n_enrolments = cJSON_GetArraySize(enrolments);
    cJSON *doc = cJSON_CreateObject();
    bool ok = pgjson_add_text(doc, "nik", p, 0, P_NIK) &&
              pgjson_add_text(doc, "name", p, 0, P_NAME) &&
              pgjson_add_text(doc, "birth_date", p, 0, P_BIRTH_DATE) &&
              pgjson_add_text(doc, "sex", p, 0, P_SEX) &&
              pgjson_add_text(doc, "deceased_on", p, 0, P_DECEASED_ON);
    if (ok)
        ok = pgjson_put(doc, "enrolments", enrolments); /* takes it either way */
    else
        cJSON_Delete(enrolments);
    doc = pgjson_whole(doc, ok);
    if (!doc) {
        route_out_of_memory(res);
        return;
    }
    bool no_memory;
    cJSON *events = participant_events(db, auth, nik, &no_memory);
    if (!events) {
        cJSON_Delete(doc);
        if (no_memory)
            route_out_of_memory(res);
        else
            route_db_failure(db, res);
        return;
    }
    char detail[64];
    snprintf(detail, sizeof detail, "{\"enrolments\": %d, \"events\": %d}", n_enrolments,
             cJSON_GetArraySize(events));
    /* whole before the read is recorded: nothing is made after it */
    if (!pgjson_put(doc, "events", events)) {
        cJSON_Delete(doc);
        route_out_of_memory(res);
        return;
    }
    const char *niks[] = {nik};
    if (!audit_read(db, auth, req, "participant.read", NULL, niks, 1, detail)) {
        cJSON_Delete(doc);
        route_db_failure(db, res);
        return;
    }
    http_response_json(res, 200, doc);
}

static void participant(route_ctx_t *ctx, const http_request_t *req, http_response_t *res,
                        const char *nik_text)
{
    res->route = "/v1/participants/{nik}";
    db_t *db = route_db(ctx);
    auth_t auth;
    if (!route_authenticate(db, req, res, &auth))
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
        route_db_failure(db, res);
        return;
    }
    cJSON *list = cJSON_CreateArray();
    bool ok = list != NULL;
    for (int i = 0; ok && i < PQntuples(e); i++) {
        if (!enrolment_in_scope(&auth.scope, e, i))
            continue;
        cJSON *o = cJSON_CreateObject();
        ok = pgjson_append(
            list,
            pgjson_whole(
                o, pgjson_add_int(o, "enrolment_id", e, i, E_ID) &&
                       pgjson_add_text(o, "program_code", e, i, E_PROGRAM) &&
                       pgjson_add_text(o, "village_code", e, i, E_VILLAGE) &&
                       pgjson_add_text(o, "funding_source", e, i, E_SOURCE) &&
                       pgjson_add_text(o, "payer_code", e, i, E_PAYER) &&
                       pgjson_add_text(o, "start_month", e, i, E_START) &&
                       pgjson_add_text(o, "end_month", e, i, E_END) &&
                       pgjson_add_text(o, "status", e, i, E_STATUS) &&
                       pgjson_add_text(o, "end_reason", e, i, E_END_REASON) &&
                       /* the enrolment this one continues (a transfer or a
                        * renewal): an id only, so a key does not learn where
                        * the person was before */
                       pgjson_add_int(o, "previous_enrolment_id", e, i, E_PREVIOUS) &&
                       /* BPJS's answer (019_bpjs.sql): the KPJ once
                        * registered; pending, registered or refused */
                       pgjson_add_text(o, "kpj", e, i, E_KPJ) &&
                       pgjson_add_text(o, "bpjs_status", e, i, E_BPJS_STATUS) &&
                       pgjson_add_text(o, "bpjs_effective_month", e, i, E_BPJS_MONTH)));
    }
    list = pgjson_whole(list, ok);
    if (!list) {
        PQclear(p);
        PQclear(e);
        route_out_of_memory(res);
        return;
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
    bool ok = pgjson_add_text(o, "code", r, i, PG_CODE);
    ok = ok && pgjson_add_text(o, "name", r, i, PG_NAME);
    ok = ok && pgjson_add_text(o, "regency_code", r, i, PG_REGENCY);
    ok = ok && pgjson_add_text(o, "funding_source", r, i, PG_SOURCE);
    ok = ok && pgjson_add_text(o, "payer_code", r, i, PG_PAYER);
    ok = ok && pgjson_add_text(o, "payer_name", r, i, PG_PAYER_NAME);
    ok = ok && pgjson_add_text(o, "submitter", r, i, PG_SUBMITTER);
    ok = ok && pgjson_add_text(o, "coverage_start", r, i, PG_COVERAGE_START);
    ok = ok && pgjson_add_text(o, "coverage_end", r, i, PG_COVERAGE_END);
    ok = ok && pgjson_add_text(o, "submission_deadline", r, i, PG_DEADLINE);
    ok = ok && pgjson_add_int(o, "min_age", r, i, PG_MIN_AGE);
    ok = ok && pgjson_add_int(o, "max_age", r, i, PG_MAX_AGE);
    if (ok) {
        /* json from the database: text that does not parse means memory
         * ran out; SQL NULL (no text) is [] */
        const char *text = PQgetvalue(r, i, PG_OCCUPATIONS);
        cJSON *occ = cJSON_Parse(text);
        ok = pgjson_put(o, "occupations", occ || text[0] ? occ : cJSON_CreateArray());
    }
    ok = ok && pgjson_add_bool(o, "poverty_ref_required", r, i, PG_POVERTY_REF);
    ok = ok && pgjson_add_int(o, "village_quota", r, i, PG_VILLAGE_QUOTA);
    ok = ok && pgjson_add_int(o, "village_target", r, i, PG_VILLAGE_TARGET);
    ok = ok && pgjson_add_int(o, "total_quota", r, i, PG_TOTAL_QUOTA);
    ok = ok && pgjson_add_bool(o, "relief_applies", r, i, PG_RELIEF);
    ok = ok && pgjson_add_int(o, "version", r, i, PG_VERSION);
    ok = ok && pgjson_add_text(o, "deadline_policy", r, i, PG_DEADLINE_POLICY);
    ok = ok && pgjson_add_text(o, "renews", r, i, PG_RENEWS);
    ok = ok && pgjson_add_int(o, "insured_income", r, i, PG_INSURED_INCOME);
    ok = ok && pgjson_add_int(o, "income_ceiling", r, i, PG_INCOME_CEILING);
    ok = ok && pgjson_add_text(o, "relief_basis", r, i, PG_RELIEF_BASIS);
    ok = ok && pgjson_add_int(o, "total_target", r, i, PG_TOTAL_TARGET);
    return pgjson_whole(o, ok);
}

static void programs(route_ctx_t *ctx, const http_request_t *req, http_response_t *res)
{
    res->route = "/v1/programs";
    db_t *db = route_db(ctx);
    auth_t auth;
    char limit[8], regency[8];
    const char *cursor;
    if (!route_authenticate(db, req, res, &auth) ||
        !route_page_args(req, res, limit, &cursor))
        return;
    scope_regency(&auth.scope, regency);
    const char *params[] = {cursor, regency, limit};
    PGresult *r = db_exec_read(db, SQL_PROGRAMS, 3, params);
    if (!db_ok(r)) {
        PQclear(r);
        route_db_failure(db, res);
        return;
    }
    cJSON *items = cJSON_CreateArray();
    int n = PQntuples(r);
    bool ok = items != NULL;
    for (int i = 0; ok && i < n; i++)
        ok = pgjson_append(items, program_json(r, i));
    route_answer_page(res, pgjson_whole(items, ok),
                      n ? PQgetvalue(r, n - 1, PG_CODE) : NULL, n == atoi(limit));
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
        route_db_failure(db, res);
        return NULL;
    }
    char regency[8];
    scope_regency(&auth->scope, regency);
    if (PQntuples(p) == 0 ||
        (regency[0] && strcmp(regency, PQgetvalue(p, 0, PS_REGENCY)) != 0)) {
        PQclear(p);
        http_response_error(res, 404, "NOT_FOUND",
                            "no such programme in this key's scope", NULL);
        return NULL;
    }
    return p;
}

static void program_villages(route_ctx_t *ctx, const http_request_t *req,
                             http_response_t *res, const char *code)
{
    res->route = "/v1/programs/{code}/villages";
    db_t *db = route_db(ctx);
    auth_t auth;
    char limit[8];
    const char *cursor;
    if (!route_authenticate(db, req, res, &auth) ||
        !route_page_args(req, res, limit, &cursor))
        return;
    PGresult *p = program_in_scope(db, &auth, SQL_PROGRAM_SCOPE, code, res);
    if (!p)
        return;
    const char *only = auth.scope.kind == SCOPE_VILLAGE ? auth.scope.code : "";
    const char *vp[] = {PQgetvalue(p, 0, PS_ID), PQgetvalue(p, 0, PS_REGENCY), cursor,
                        only, limit};
    PGresult *r = db_exec_read(db, SQL_PROGRAM_VILLAGES, 5, vp);
    if (!db_ok(r)) {
        PQclear(p);
        PQclear(r);
        route_db_failure(db, res);
        return;
    }
    cJSON *items = cJSON_CreateArray();
    int n = PQntuples(r);
    bool ok = items != NULL;
    for (int i = 0; ok && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        ok = pgjson_append(
            items,
            pgjson_whole(
                o, pgjson_add_text(o, "village_code", r, i, V_CODE) &&
                       pgjson_add_text(o, "name", r, i, V_NAME) &&
                       pgjson_add_text(o, "village_kind", r, i, V_KIND) &&
                       pgjson_add_int(o, "quota", p, 0, PS_VILLAGE_QUOTA) &&
                       pgjson_add_int(o, "target", p, 0, PS_VILLAGE_TARGET) &&
                       pgjson_add_int(o, "accepted", r, i, V_ACCEPTED) &&
                       pgjson_add_int(o, "submissions", r, i, V_SUBMISSIONS) &&
                       cJSON_AddBoolToObject(o, "submitted",
                                             atoi(PQgetvalue(r, i, V_SUBMISSIONS)) > 0)));
    }
    route_answer_page(res, pgjson_whole(items, ok),
                      n ? PQgetvalue(r, n - 1, V_CODE) : NULL, n == atoi(limit));
    PQclear(r);
    PQclear(p);
}

static cJSON *renewal_item(const PGresult *r, int i)
{
    cJSON *o = cJSON_CreateObject();
    /* the NIK in full, as GET /v1/submissions/{id} shows a key its own
     * village's people; other villages' rows are never read */
    bool ok = pgjson_add_text(o, "nik", r, i, RI_NIK) &&
              pgjson_add_text(o, "name", r, i, RI_NAME) &&
              pgjson_add_text(o, "village_code", r, i, RI_VILLAGE) &&
              pgjson_add_text(o, "decision", r, i, RI_DECISION);
    if (ok) {
        /* jsonb: text that does not parse means memory ran out */
        const char *text = PQgetvalue(r, i, RI_REASONS);
        cJSON *reasons = cJSON_Parse(text);
        ok = pgjson_put(o, "reasons", reasons || text[0] ? reasons : cJSON_CreateArray());
    }
    ok = ok && pgjson_add_int(o, "renews_enrolment_id", r, i, RI_RENEWS) &&
         pgjson_add_int(o, "enrolment_id", r, i, RI_ENROLMENT) &&
         pgjson_add_text(o, "start_month", r, i, RI_START);
    return pgjson_whole(o, ok);
}

static cJSON *renewal_counts(const PGresult *c)
{
    cJSON *counts = cJSON_CreateObject();
    return pgjson_whole(counts,
                        pgjson_add_int(counts, "queued", c, 0, RC_QUEUED) &&
                            pgjson_add_int(counts, "pending", c, 0, RC_PENDING) &&
                            pgjson_add_int(counts, "accepted", c, 0, RC_ACCEPTED) &&
                            pgjson_add_int(counts, "rejected", c, 0, RC_REJECTED));
}

/* The renewal cursor is the last applicant id of the previous page. */
static bool renewal_cursor(const char *cursor, http_response_t *res)
{
    if (strlen(cursor) <= 18 && strspn(cursor, "0123456789") == strlen(cursor))
        return true;
    route_answer_error(
        res, 422, "INVALID_FIELDS", "the query has invalid fields",
        route_field_error("cursor", "must be a next_cursor from a previous page"));
    return false;
}

static void program_renewal(route_ctx_t *ctx, const http_request_t *req,
                            http_response_t *res, const char *code)
{
    res->route = "/v1/programs/{code}/renewal";
    db_t *db = route_db(ctx);
    auth_t auth;
    char limit[8];
    const char *cursor;
    if (!route_authenticate(db, req, res, &auth) ||
        !route_page_args(req, res, limit, &cursor) || !renewal_cursor(cursor, res))
        return;
    PGresult *p = program_in_scope(db, &auth, SQL_RENEWAL_SCOPE, code, res);
    if (!p)
        return;
    const char *only = auth.scope.kind == SCOPE_VILLAGE ? auth.scope.code : "";
    const char *ip[] = {
        PQgetvalue(p, 0, RS_ID), only, cursor[0] ? cursor : "0", limit, auth.key_id,
        req->request_id,         code};
    PGresult *r = db_exec(db, SQL_RENEWAL_ITEMS, 7, ip);
    PGresult *c = db_ok(r) ? db_exec_read(db, SQL_RENEWAL_COUNTS, 2, ip) : NULL;
    if (!db_ok(r) || !db_ok(c) || PQntuples(c) != 1) {
        PQclear(p);
        PQclear(r);
        PQclear(c);
        route_db_failure(db, res);
        return;
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON *items = NULL;
    bool ok = doc && cJSON_AddStringToObject(doc, "program_code", code) &&
              pgjson_add_text(doc, "renews", p, 0, RS_RENEWS) &&
              pgjson_put(doc, "counts", renewal_counts(c)) &&
              (items = cJSON_AddArrayToObject(doc, "items")) != NULL;
    int n = PQntuples(r);
    for (int i = 0; ok && i < n; i++)
        ok = pgjson_append(items, renewal_item(r, i));
    if (n > 0 && n == atoi(limit))
        ok = ok &&
             cJSON_AddStringToObject(doc, "next_cursor", PQgetvalue(r, n - 1, RI_ID));
    else
        ok = ok && cJSON_AddNullToObject(doc, "next_cursor");
    route_answer_json(res, 200, pgjson_whole(doc, ok));
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

bool reads_route(route_ctx_t *ctx, const http_request_t *req, http_response_t *res)
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
        participant(ctx, req, res, path + strlen(participants));
        return true;
    }
    if (strcmp(path, "/v1/programs") == 0) {
        if (!get)
            return method_not_allowed(res, "/v1/programs");
        programs(ctx, req, res);
        return true;
    }
    if (suffix && strcmp(suffix, "/villages") == 0) {
        if (!get)
            return method_not_allowed(res, "/v1/programs/{code}/villages");
        char code[72];
        program_code_of(path, plen, suffix, code);
        program_villages(ctx, req, res, code);
        return true;
    }
    if (suffix && strcmp(suffix, "/renewal") == 0) {
        if (!get)
            return method_not_allowed(res, "/v1/programs/{code}/renewal");
        char code[72];
        program_code_of(path, plen, suffix, code);
        program_renewal(ctx, req, res, code);
        return true;
    }
    return false;
}
