/* program: validate each programme object, then upsert it in one
 * transaction for the whole file. The SQL reads fields from the JSON object
 * itself (one parameter), so the column list lives in one place. */
#include "program.h"
#include "audit.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "date.h"
#include "period.h"
#include "pgjson.h"
#include "region.h"

/* Occupations: Dukcapil codes or names, or the word "informal" for every
 * occupation marked informal in the seed list. */
static const char *SQL_RESOLVE_OCCUPATIONS =
    "SELECT coalesce(array_agg(DISTINCT o.code ORDER BY o.code), '{}'), "
    "    (SELECT count(*) FROM jsonb_array_elements_text($1::jsonb) x "
    "     WHERE x <> 'informal' "
    "       AND NOT EXISTS (SELECT 1 FROM occupations o2 "
    "                       WHERE o2.code::text = x OR upper(o2.name) = upper(x))) "
    "FROM occupations o, jsonb_array_elements_text($1::jsonb) x "
    "WHERE o.code::text = x OR upper(o.name) = upper(x) "
    "   OR (x = 'informal' AND o.informal)";
enum { RO_CODES, RO_UNKNOWN };

/* One programme from its JSON object ($1) and resolved occupation codes ($2).
 * A programme whose rules did not change keeps its version (the WHERE). */
static const char *SQL_UPSERT =
    "INSERT INTO programs AS p (code, name, regency_code, funding_source, payer_code, "
    "    payer_name, submitter, coverage_start, coverage_end, submission_deadline, "
    "    deadline_policy, min_age, max_age, occupations, poverty_ref_required, "
    "    village_quota, village_target, total_quota, relief_applies, relief_basis, "
    "    insured_income, income_ceiling, renews, total_target) "
    "SELECT j->>'code', j->>'name', j->>'regency_code', j->>'funding_source', "
    "    j->>'payer_code', j->>'payer_name', coalesce(j->>'submitter', 'village'), "
    "    ((j->>'coverage_start') || '-01')::date, ((j->>'coverage_end') || '-01')::date, "
    "    (j->>'submission_deadline')::date, coalesce(j->>'deadline_policy', 'reject'), "
    "    (j->>'min_age')::int, (j->>'max_age')::int, $2::int[], "
    "    coalesce((j->>'poverty_ref_required')::boolean, false), "
    "    (j->>'village_quota')::int, (j->>'village_target')::int, "
    "    (j->>'total_quota')::int, "
    "    coalesce((j->>'relief_applies')::boolean, j->>'funding_source' = 'CSR'), "
    "    j->>'relief_basis', coalesce((j->>'insured_income')::bigint, 1000000), "
    "    (j->>'income_ceiling')::bigint, "
    "    (SELECT r.id FROM programs r WHERE r.code = j->>'renews'), "
    "    (j->>'total_target')::int "
    "FROM (SELECT $1::jsonb AS j) s "
    "ON CONFLICT (code) DO UPDATE "
    "SET name = EXCLUDED.name, "
    "    regency_code = EXCLUDED.regency_code, "
    "    funding_source = EXCLUDED.funding_source, "
    "    payer_code = EXCLUDED.payer_code, "
    "    payer_name = EXCLUDED.payer_name, "
    "    submitter = EXCLUDED.submitter, "
    "    coverage_start = EXCLUDED.coverage_start, "
    "    coverage_end = EXCLUDED.coverage_end, "
    "    submission_deadline = EXCLUDED.submission_deadline, "
    "    deadline_policy = EXCLUDED.deadline_policy, "
    "    min_age = EXCLUDED.min_age, "
    "    max_age = EXCLUDED.max_age, "
    "    occupations = EXCLUDED.occupations, "
    "    poverty_ref_required = EXCLUDED.poverty_ref_required, "
    "    village_quota = EXCLUDED.village_quota, "
    "    village_target = EXCLUDED.village_target, "
    "    total_quota = EXCLUDED.total_quota, "
    "    relief_applies = EXCLUDED.relief_applies, "
    "    relief_basis = EXCLUDED.relief_basis, "
    "    insured_income = EXCLUDED.insured_income, "
    "    income_ceiling = EXCLUDED.income_ceiling, "
    "    renews = EXCLUDED.renews, "
    "    total_target = EXCLUDED.total_target, "
    "    version = p.version + 1, updated_at = now() "
    "WHERE (p.name, p.regency_code, p.funding_source, p.payer_code, p.payer_name, "
    "       p.submitter, p.coverage_start, p.coverage_end, p.submission_deadline, "
    "       p.deadline_policy, p.min_age, p.max_age, p.occupations, "
    "       p.poverty_ref_required, p.village_quota, p.village_target, p.total_quota, "
    "       p.relief_applies, p.relief_basis, p.insured_income, p.income_ceiling, "
    "       p.renews, p.total_target) "
    "      IS DISTINCT FROM "
    "      (EXCLUDED.name, EXCLUDED.regency_code, EXCLUDED.funding_source, "
    "       EXCLUDED.payer_code, EXCLUDED.payer_name, EXCLUDED.submitter, "
    "       EXCLUDED.coverage_start, EXCLUDED.coverage_end, "
    "       EXCLUDED.submission_deadline, EXCLUDED.deadline_policy, EXCLUDED.min_age, "
    "       EXCLUDED.max_age, EXCLUDED.occupations, EXCLUDED.poverty_ref_required, "
    "       EXCLUDED.village_quota, EXCLUDED.village_target, EXCLUDED.total_quota, "
    "       EXCLUDED.relief_applies, EXCLUDED.relief_basis, EXCLUDED.insured_income, "
    "       EXCLUDED.income_ceiling, EXCLUDED.renews, EXCLUDED.total_target) "
    "RETURNING id, version";
enum { UP_ID, UP_VERSION };

static const char *SQL_VERSION =
    "INSERT INTO program_versions (program_id, version, rules) "
    "VALUES ($1, $2, $3::jsonb) "
    "ON CONFLICT DO NOTHING";

/* The programme's coverage_end before this import ($1 its code; no row
 * for a new programme), locked so that it stays the old one until the
 * enrolments have followed the new one. */
static const char *SQL_OLD_END =
    "SELECT to_char(coverage_end, 'YYYY-MM-DD') FROM programs WHERE code = $1 FOR UPDATE";
enum { OE_END };

/* A programme's active enrolments end with its last covered month
 * (013_money_rules.sql): a changed coverage_end moves their planned end. The
 * exclusion constraint refuses an end moved into a successor's months. */
static const char *SQL_FOLLOW_END =
    "UPDATE enrolments e "
    "SET end_month = p.coverage_end "
    "FROM programs p "
    "WHERE p.code = $1 AND e.program_id = p.id AND e.status = 'active' "
    "  AND e.end_month IS DISTINCT FROM p.coverage_end";

/* The enrolments that ended only because the programme did (program_ended
 * in its old last month, $2) follow the new coverage_end too
 * (docs/programs.md: end_month "moves when a re-import changes
 * coverage_end"): an end moved later (an end imported too early, put back)
 * makes them active again, and billing bills the months given back by
 * itself (coverage_changed_at); one moved earlier only moves their end.
 * A person recorded as deceased is never covered again this way (a death
 * reported while the end was too early). Never two covers of a person in a
 * month (enrolments_one_cover_per_month): an enrolment whose new months
 * another enrolment of the same NIK already
 * holds (a successor it was renewed into, a cover elsewhere), or that one
 * of the same NIK with a lower id may take here, stays as it is, counted as
 * kept: the rest of the import goes on. Run after SQL_FOLLOW_END, so that
 * the active ones are checked at their new ends. Gives the numbers moved
 * and kept, and whether the end moved later. */
static const char *SQL_FOLLOW_END_ENDED =
    "WITH p AS (SELECT id, coverage_end FROM programs WHERE code = $1), "
    "cand AS ("
    "    SELECT e.id, e.nik, "
    "        enrolment_months(e.start_month, p.coverage_end) AS months, "
    "        (p.coverage_end IS NULL OR p.coverage_end > $2::date) AS later "
    "    FROM enrolments e, p "
    "    WHERE e.program_id = p.id AND e.status = 'ended' "
    "      AND e.end_reason = 'program_ended' AND e.end_month = $2::date "
    "      AND p.coverage_end IS DISTINCT FROM $2::date), "
    "free AS ("
    "    SELECT c.id, c.later "
    "    FROM cand c "
    "    WHERE NOT c.later "
    "       OR (NOT EXISTS (SELECT 1 FROM participants pa "
    "                       WHERE pa.nik = c.nik AND pa.deceased_on IS NOT NULL) "
    "           AND NOT EXISTS (SELECT 1 FROM enrolments o "
    "                       WHERE o.nik::bigint = c.nik::bigint AND o.id <> c.id "
    "                         AND enrolment_months(o.start_month, o.end_month) "
    "                             && c.months) "
    "           AND NOT EXISTS (SELECT 1 FROM cand d "
    "                           WHERE d.nik = c.nik AND d.id < c.id AND d.later "
    "                             AND d.months && c.months))), "
    "moved AS ("
    "    UPDATE enrolments e "
    "    SET end_month = p.coverage_end, "
    "        status = CASE WHEN f.later THEN 'active' ELSE 'ended' END, "
    "        end_reason = CASE WHEN f.later THEN NULL ELSE e.end_reason END, "
    "        ended_at = CASE WHEN f.later THEN NULL ELSE e.ended_at END "
    "    FROM free f, p "
    "    WHERE e.id = f.id "
    "    RETURNING e.id) "
    "SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM cand) - "
    "    (SELECT count(*) FROM moved), "
    "    (SELECT p.coverage_end IS NULL OR p.coverage_end > $2::date FROM p)";
enum { FE_MOVED, FE_KEPT, FE_LATER };

/* A renewing programme's renews must name a programme with a last month
 * before this one's first. */
static const char *SQL_RENEWS_OK =
    "SELECT n.renews IS NOT NULL AND o.coverage_end IS NOT NULL "
    "    AND o.coverage_end < n.coverage_start "
    "FROM programs n "
    "LEFT JOIN programs o ON o.id = n.renews "
    "WHERE n.code = $1";
enum { RK_OK };

/* Queue the renewal of the old programme's participants (verify decides
 * them under this programme's rules). */
static const char *SQL_RENEWAL_QUEUE =
    "SELECT program_renewal_queue(id) FROM programs WHERE code = $1";
enum { RQ_QUEUED };

static const char *SQL_REGENCY_EXISTS =
    "SELECT 1 FROM regions WHERE code = $1 AND level = 'regency'";

static const char *const FUNDING_SOURCES[] = {"ADD",  "DBH_SAWIT", "CSR",
                                              "APBD", "APBDES",    NULL};

static bool one_of(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

static int problem(const char *code, const char *field, const char *message)
{
    fprintf(stderr, "program %s: %s %s\n", code ? code : "?", field, message);
    return 1;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool absent_or(const cJSON *o, const char *key, cJSON_bool (*is)(const cJSON *))
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return !v || cJSON_IsNull(v) || is(v);
}

/* Relief follows the funding source (PP 50/2025 Pasal 3, docs/billing.md):
 * CSR always, APBD and DBH_SAWIT never, ADD and APBDES only with a recorded
 * legal basis. Incomes are whole rupiah. */
static int check_money(const cJSON *p, const char *code, const char *fs)
{
    int bad = 0;
    const cJSON *relief = cJSON_GetObjectItemCaseSensitive(p, "relief_applies");
    if (!absent_or(p, "relief_applies", cJSON_IsBool))
        bad += problem(code, "relief_applies", "must be true or false");
    else if (relief && cJSON_IsBool(relief) && fs) {
        bool on = cJSON_IsTrue(relief);
        if (strcmp(fs, "CSR") == 0 && !on)
            bad += problem(code, "relief_applies",
                           "cannot be false for CSR: PP 50/2025 gives CSR-paid BPU "
                           "participants the relief");
        if ((strcmp(fs, "APBD") == 0 || strcmp(fs, "DBH_SAWIT") == 0) && on)
            bad += problem(code, "relief_applies",
                           "cannot be true for APBD or DBH_SAWIT: PP 50/2025 Pasal 3 "
                           "excludes contributions paid from APBN/APBD");
        if ((strcmp(fs, "ADD") == 0 || strcmp(fs, "APBDES") == 0) && on &&
            !str(p, "relief_basis"))
            bad += problem(code, "relief_basis",
                           "is required to give an ADD or APBDES programme the relief "
                           "(the legal basis)");
    }
    if (!absent_or(p, "relief_basis", cJSON_IsString))
        bad += problem(code, "relief_basis", "must be text");
    const char *incomes[] = {"insured_income", "income_ceiling"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, incomes[i]);
        if (!absent_or(p, incomes[i], cJSON_IsNumber) ||
            (cJSON_IsNumber(v) && (v->valuedouble < 1 || v->valuedouble > 1e12 ||
                                   v->valuedouble != (double)(long long)v->valuedouble)))
            bad += problem(code, incomes[i],
                           "must be a whole number of rupiah, 1 to 1,000,000,000,000");
    }
    if (!absent_or(p, "renews", cJSON_IsString))
        bad += problem(code, "renews", "must be a programme code");
    return bad;
}

/* Count the problems of one programme object. */
static int check(const cJSON *p)
{
    const char *code = str(p, "code");
    int bad = 0;
    period_t month;
    date_t day;
    if (!code || !code[0] || strlen(code) > 64)
        bad += problem(code, "code", "is required (at most 64 characters)");
    if (!str(p, "name"))
        bad += problem(code, "name", "is required");
    if (!str(p, "regency_code") || region_level(str(p, "regency_code")) != REGION_REGENCY)
        bad += problem(code, "regency_code", "must be a regency code PP.RR");
    const char *fs = str(p, "funding_source");
    if (!one_of(fs, FUNDING_SOURCES))
        bad += problem(code, "funding_source",
                       "must be ADD, DBH_SAWIT, CSR, APBD or APBDES");
    if (fs && strcmp(fs, "CSR") == 0 && (!str(p, "payer_code") || !str(p, "payer_name")))
        bad += problem(code, "payer_code",
                       "and payer_name are required for CSR (the company)");
    if (!str(p, "coverage_start") || !period_parse(str(p, "coverage_start"), &month))
        bad += problem(code, "coverage_start", "must be YYYY-MM");
    if (str(p, "coverage_end") && !period_parse(str(p, "coverage_end"), &month))
        bad += problem(code, "coverage_end", "must be YYYY-MM");
    const char *policy = str(p, "deadline_policy");
    if (policy && strcmp(policy, "reject") != 0 && strcmp(policy, "warn") != 0)
        bad += problem(code, "deadline_policy", "must be \"reject\" or \"warn\"");
    if (str(p, "submission_deadline") && !date_parse(str(p, "submission_deadline"), &day))
        bad += problem(code, "submission_deadline", "must be YYYY-MM-DD");
    const char *ints[] = {"min_age",        "max_age",     "village_quota",
                          "village_target", "total_quota", "total_target"};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (!absent_or(p, ints[i], cJSON_IsNumber))
            bad += problem(code, ints[i], "must be a whole number");
    bad += check_money(p, code, fs);
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(p, "occupations")))
        bad += problem(code, "occupations",
                       "must be a list of codes or names, or [\"informal\"]");
    return bad;
}

/* NULL when out of memory. */
static char *occupations_as_text_list(const cJSON *p)
{
    cJSON *list = cJSON_CreateArray();
    bool ok = list != NULL;
    const cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(p, "occupations"))
    {
        char num[16];
        const char *text = cJSON_IsString(o) ? o->valuestring : NULL;
        if (cJSON_IsNumber(o)) {
            snprintf(num, sizeof num, "%d", o->valueint);
            text = num;
        }
        if (ok && text)
            ok = pgjson_append(list, cJSON_CreateString(text));
    }
    char *text = ok ? cJSON_PrintUnformatted(list) : NULL;
    cJSON_Delete(list);
    return text;
}

/* After the upsert: the enrolments follow the programme's new coverage_end,
 * the active ones and, when there was an old end (old_end, or NULL), those
 * that ended with it. 0, or 1 after saying why. */
static int follow_end(db_t *db, const char *code, const char *old_end)
{
    const char *cp[] = {code, old_end};
    if (!db_run(db, SQL_FOLLOW_END, 1, cp))
        return problem(code, "coverage_end", db_error(db));
    if (!old_end)
        return 0;
    PGresult *r = db_exec(db, SQL_FOLLOW_END_ENDED, 2, cp);
    if (!db_ok(r) || PQntuples(r) != 1) {
        PQclear(r);
        return problem(code, "coverage_end", db_error(db));
    }
    bool later = strcmp(PQgetvalue(r, 0, FE_LATER), "t") == 0;
    const char *moved = PQgetvalue(r, 0, FE_MOVED), *kept = PQgetvalue(r, 0, FE_KEPT);
    if (later && (atoi(moved) > 0 || atoi(kept) > 0))
        printf("program %s: enrolments ended with the old coverage_end: %s active again, "
               "%s left ended (the person is deceased, or has another enrolment in those "
               "months)\n",
               code, moved, kept);
    else if (atoi(moved) > 0)
        printf("program %s: enrolments ended with the old coverage_end: %s end with the "
               "new one\n",
               code, moved);
    PQclear(r);
    return 0;
}

/* The programme's coverage_end before the import into old_end ("" when it
 * is new or open-ended); false when the database failed. */
static bool old_end_of(db_t *db, const char *code, char old_end[11])
{
    const char *cp[] = {code};
    PGresult *r = db_exec(db, SQL_OLD_END, 1, cp);
    bool ok = db_ok(r);
    old_end[0] = '\0';
    if (ok && PQntuples(r) == 1 && !PQgetisnull(r, 0, OE_END))
        snprintf(old_end, 11, "%s", PQgetvalue(r, 0, OE_END));
    PQclear(r);
    return ok;
}

static int load_one(db_t *db, const cJSON *p)
{
    const char *code = str(p, "code");
    const char *rp[] = {str(p, "regency_code")};
    PGresult *r = db_exec(db, SQL_REGENCY_EXISTS, 1, rp);
    bool known = db_ok(r) && PQntuples(r) == 1;
    PQclear(r);
    if (!known)
        return problem(code, "regency_code", "is not a known regency");
    char *occ = occupations_as_text_list(p);
    if (!occ)
        return problem(code, "occupations", "could not be read: out of memory");
    const char *op[] = {occ};
    r = db_exec(db, SQL_RESOLVE_OCCUPATIONS, 1, op);
    free(occ);
    if (!db_ok(r) || atoi(PQgetvalue(r, 0, RO_UNKNOWN)) > 0) {
        PQclear(r);
        return problem(code, "occupations", "names an unknown occupation");
    }
    char codes[1024];
    snprintf(codes, sizeof codes, "%s", PQgetvalue(r, 0, RO_CODES));
    PQclear(r);
    char old_end[11];
    if (!old_end_of(db, code, old_end))
        return problem(code, "", db_error(db));
    char *json = cJSON_PrintUnformatted(p);
    if (!json)
        return problem(code, "", "could not be stored: out of memory");
    const char *up[] = {json, codes};
    r = db_exec(db, SQL_UPSERT, 2, up);
    int bad = 0;
    if (!db_ok(r)) {
        bad = problem(code, "", db_error(db));
    } else if (PQntuples(r) == 1) {
        const char *vp[] = {PQgetvalue(r, 0, UP_ID), PQgetvalue(r, 0, UP_VERSION), json};
        bad = db_run(db, SQL_VERSION, 3, vp) ? 0 : problem(code, "", db_error(db));
        if (!bad)
            printf("program %s: version %s\n", code, PQgetvalue(r, 0, UP_VERSION));
        if (!bad)
            bad = follow_end(db, code, old_end[0] ? old_end : NULL);
    } else {
        printf("program %s: unchanged\n", code);
    }
    PQclear(r);
    free(json);
    return bad;
}

/* A renewal may name a programme later in the file: its renews is set
 * again once every programme exists. */
static const char *SQL_SET_RENEWS =
    "UPDATE programs "
    "SET renews = (SELECT r.id FROM programs r WHERE r.code = $2), "
    "    version = version + 1, updated_at = now() "
    "WHERE code = $1 "
    "  AND renews IS DISTINCT FROM (SELECT r.id FROM programs r WHERE r.code = $2)";

static int load_renewal(db_t *db, const cJSON *p)
{
    const char *params[] = {str(p, "code"), str(p, "renews")};
    return db_run(db, SQL_SET_RENEWS, 2, params)
               ? 0
               : problem(params[0], "renews", db_error(db));
}

/* After every programme is in: renewals point at known, earlier
 * programmes, and their participants are queued for renewal. */
static int renew_one(db_t *db, const cJSON *p)
{
    const char *code = str(p, "code");
    if (!str(p, "renews"))
        return 0;
    const char *cp[] = {code};
    PGresult *r = db_exec(db, SQL_RENEWS_OK, 1, cp);
    bool ok = db_ok(r) && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, RK_OK), "t") == 0;
    PQclear(r);
    if (!ok)
        return problem(code, "renews",
                       "must name a programme of this file or the database whose "
                       "coverage_end is before this programme's coverage_start");
    r = db_exec(db, SQL_RENEWAL_QUEUE, 1, cp);
    ok = db_ok(r) && PQntuples(r) == 1;
    if (ok)
        printf("program %s: %s participants of %s queued for renewal\n", code,
               PQgetvalue(r, 0, RQ_QUEUED), str(p, "renews"));
    PQclear(r);
    return ok ? 0 : problem(code, "renews", db_error(db));
}

/* The import's audit record, in its transaction (audit.h): the codes of
 * the programmes in the file. False, message printed, when it failed. */
static bool import_record(db_t *db, const cJSON *list)
{
    cJSON *detail = cJSON_CreateObject(),
          *codes = cJSON_AddArrayToObject(detail, "programs");
    bool ok = codes != NULL;
    const cJSON *p;
    cJSON_ArrayForEach(p, list) ok =
        ok && pgjson_append(codes, cJSON_CreateString(str(p, "code")));
    char *text = ok ? cJSON_PrintUnformatted(detail) : NULL;
    cJSON_Delete(detail);
    if (!text) {
        problem("*", "audit", "out of memory");
        return false;
    }
    ok = audit_record(db, "program.import", NULL, NULL, text);
    free(text);
    if (!ok)
        problem("*", "audit", db_error(db));
    return ok;
}

bool program_import(db_t *db, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "program import: cannot open %s\n", path);
        return false;
    }
    static char buf[4 << 20];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    cJSON *doc = cJSON_ParseWithLength(buf, len);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "programs");
    if (!cJSON_IsArray(list)) {
        fprintf(stderr, "program import: %s must hold {\"programs\": [...]}\n", path);
        cJSON_Delete(doc);
        return false;
    }
    int bad = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, list) bad += check(p);
    if (!bad && db_begin(db)) {
        cJSON_ArrayForEach(p, list) bad += load_one(db, p);
        /* a second pass: a renewal may name a programme later in the file */
        if (!bad)
            cJSON_ArrayForEach(p, list) bad += str(p, "renews") ? load_renewal(db, p) : 0;
        if (!bad)
            cJSON_ArrayForEach(p, list) bad += renew_one(db, p);
        if (!bad && !import_record(db, list))
            bad = 1;
        if (bad || !db_commit(db))
            db_rollback(db);
    } else if (!bad) {
        bad = problem("*", "database", db_error(db));
    }
    cJSON_Delete(doc);
    return !bad;
}
