/* verifier: the database half of verification, set-based so a submission
 * costs a fixed number of statements whatever its size.
 *
 * Order inside one transaction per submission:
 *   1. pure rules for every applicant (rules.c), and repeats inside the
 *      submission (the first occurrence is decided, later ones rejected);
 *   2. quota locks: a transaction-scoped advisory lock per (programme,
 *      village), and per programme when it has a total quota;
 *   3. enrol every candidate in one INSERT sorted by NIK, from the person's
 *      first covered month to the programme's last, ON CONFLICT DO NOTHING
 *      against the exclusion constraint that lets no two enrolments of a NIK
 *      cover the same month (013_money_rules.sql). Sorting makes every
 *      verifier wait for NIKs in the same order, so two verifiers can wait
 *      for each other but never deadlock; a concurrent winner makes us wait,
 *      then we see its row and reject with DUPLICATE_ACTIVE, not an error;
 *   4. a person whose earlier enrolment moved their first month later is
 *      judged on that month's age again; in submission order, the first
 *      candidates that fit the quota are accepted; the rest get
 *      QUOTA_EXCEEDED; the rows of everyone rejected after the INSERT are
 *      removed before anyone else can see them;
 *   5. decisions written, submission marked verified, commit.
 * A crash anywhere leaves every decision of the submission or none. */
#include "verifier.h"
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "db.h"
#include "log.h"
#include "period.h"
#include "pgjson.h"
#include "rules.h"

#define MAX_OCCUPATION_CODE 1000

static const char *SQL_OCCUPATIONS = "SELECT code, name, transport FROM occupations";
enum { OC_CODE, OC_NAME, OC_TRANSPORT };

/* Mark the oldest unclaimed submission as verifying; a row another verifier
 * holds is skipped. A crashed verifier's row is unlocked and is taken again. */
static const char *SQL_CLAIM =
    "WITH c AS ("
    "    UPDATE submissions "
    "    SET status = 'verifying', verifying_at = coalesce(verifying_at, now()) "
    "    WHERE id IN ("
    "        SELECT id "
    "        FROM submissions "
    "        WHERE status <> 'verified' AND NOT (id = ANY ($2::uuid[])) "
    "        ORDER BY received_at "
    "        FOR UPDATE SKIP LOCKED "
    "        LIMIT $1::int"
    "    ) "
    "    RETURNING id, program_id, village_code"
    ") "
    "SELECT id FROM c ORDER BY program_id, village_code";

static const char *SQL_ASYNC_COMMIT = "SET LOCAL synchronous_commit TO off";

/* The submission, locked, with its programme's rules and, for a renewal,
 * the last covered month of the programme it renews, in one round trip.
 * Only the submission row is locked: programmes are read as any statement
 * reads them. Columns in the order of lock_column_t. */
typedef enum {
    LS_PROGRAM_ID,
    LS_VILLAGE,
    LS_RECEIVED_ON,
    LS_REQUEST_ID,
    LS_WAITED_S,
    LS_P_ID,
    LS_P_VERSION,
    LS_P_CODE,
    LS_P_REGENCY,
    LS_P_FUNDING_SOURCE,
    LS_P_COVERAGE_START,
    LS_P_DEADLINE,
    LS_P_MIN_AGE,
    LS_P_MAX_AGE,
    LS_P_OCCUPATIONS,
    LS_P_POVERTY_REF_REQUIRED,
    LS_P_PAYER_CODE,
    LS_P_VILLAGE_QUOTA,
    LS_P_TOTAL_QUOTA,
    LS_P_DEADLINE_WARN_ONLY,
    LS_P_COVERAGE_END,
    LS_RENEWAL,
    LS_RENEWED_END
} lock_column_t;
static const char *SQL_LOCK_SUBMISSION =
    "SELECT s.program_id, s.village_code, "
    "    to_char(s.received_at AT TIME ZONE 'Asia/Jakarta', 'YYYY-MM-DD'), "
    "    coalesce(s.request_id, ''), extract(epoch FROM now() - s.received_at)::float8, "
    "    p.id, p.version, p.code, p.regency_code, p.funding_source, "
    "    to_char(p.coverage_start, 'YYYY-MM-DD'), "
    "    to_char(p.submission_deadline, 'YYYY-MM-DD'), "
    "    coalesce(p.min_age, -1), coalesce(p.max_age, -1), "
    "    array_to_string(p.occupations, ','), p.poverty_ref_required, "
    "    coalesce(p.payer_code, ''), coalesce(p.village_quota, -1), "
    "    coalesce(p.total_quota, -1), p.deadline_policy = 'warn', "
    "    to_char(p.coverage_end, 'YYYY-MM-DD'), s.origin = 'renewal', "
    "    (SELECT to_char(o.coverage_end, 'YYYY-MM-DD') FROM programs o "
    "     WHERE o.id = p.renews) "
    "FROM submissions s "
    "JOIN programs p ON p.id = s.program_id "
    "WHERE s.id = $1 AND s.status <> 'verified' "
    "FOR UPDATE OF s SKIP LOCKED";

static const char *SQL_PENDING_APPLICANTS =
    "SELECT id, nik, name, to_char(birth_date, 'YYYY-MM-DD'), sex, occupation, "
    "    coalesce(poverty_ref, ''), coalesce(monthly_income, 1000000), "
    "    coalesce(renews_enrolment_id::text, 'null') "
    "FROM applicants "
    "WHERE submission_id = $1 AND decision = 'pending' "
    "ORDER BY idx";

/* Quota locks: one key per (programme, village), one per programme total.
 * Single-bigint keys, a lock space apart from the two-int keys of billing. */
static const char *SQL_LOCK_VILLAGE = "SELECT pg_advisory_xact_lock(($1::bigint << 32) "
                                      "    | (hashtext($2)::bigint & 4294967295))";
static const char *SQL_LOCK_TOTAL = "SELECT pg_advisory_xact_lock(-($1::bigint))";

static const char *SQL_ACTIVE_IN_VILLAGE =
    "SELECT count(*) "
    "FROM enrolments "
    "WHERE program_id = $1 AND village_code = $2 AND status = 'active'";
static const char *SQL_ACTIVE_IN_PROGRAM = "SELECT count(*) "
                                           "FROM enrolments "
                                           "WHERE program_id = $1 AND status = 'active'";

static const char *SQL_NEW_PARTICIPANTS =
    "INSERT INTO participants (nik, name, birth_date, sex) "
    "SELECT x.nik, x.name, x.birth_date, x.sex "
    "FROM jsonb_to_recordset($1::jsonb) "
    "    AS x(nik text, name text, birth_date date, sex char(1)) "
    "ORDER BY x.nik "
    "ON CONFLICT (nik) DO NOTHING "
    "RETURNING nik";

/* Enrol the candidates ($1) in one statement, NIK-sorted.
 * - First month: the submission's ($6), or the month after the last month of
 *   the person's latest ended enrolment when that is later, so someone ended
 *   (moved, left, lapsed) in month M and listed again starts in M+1. An
 *   enrolment ended before it began covers nothing and moves nothing. Looked
 *   up only for people known before this submission (most are new), once per
 *   row (hence the materialized CTE).
 * - Last month: the programme's ($7; NULL, open-ended). A person whose first
 *   month would fall after it is not inserted: every month they could have
 *   is covered already.
 * - ON CONFLICT DO NOTHING without a target takes the exclusion constraint
 *   enrolments_one_cover_per_month as arbiter: a row that would cover a month
 *   already covered for its NIK, by anyone, is not inserted; an uncommitted
 *   one makes us wait for its transaction first. */
static const char *SQL_ENROL =
    "INSERT INTO enrolments (nik, program_id, village_code, applicant_id, "
    "    funding_source, payer_code, declared_income, transport, start_month, end_month, "
    "    previous_enrolment_id) "
    "WITH c AS MATERIALIZED ("
    "    SELECT x.*, "
    "        CASE WHEN x.known THEN greatest($6::date, "
    "            (SELECT (max(y.end_month) + interval '1 month')::date "
    "             FROM enrolments y "
    "             WHERE y.nik = x.nik AND y.status = 'ended' "
    "                 AND y.end_month >= y.start_month)) "
    "        ELSE $6::date END AS first_month "
    "    FROM jsonb_to_recordset($1::jsonb) AS x(nik text, applicant_id bigint, "
    "        income bigint, transport boolean, previous bigint, known boolean)"
    ") "
    "SELECT c.nik, $2, $3, c.applicant_id, $4, $5, c.income, c.transport, "
    "    c.first_month, $7::date, c.previous "
    "FROM c "
    "WHERE ($7::date IS NULL OR c.first_month <= $7::date) "
    /* a person recorded as deceased (017_life_events.sql) is not enrolled
     * and is told DECEASED by explain_duplicates; only known people can be */
    "    AND NOT (c.known "
    "        AND EXISTS (SELECT 1 FROM participants d "
    "                    WHERE d.nik = c.nik AND d.deceased_on IS NOT NULL)) "
    "ORDER BY c.nik "
    "ON CONFLICT DO NOTHING "
    "RETURNING applicant_id, id, to_char(start_month, 'YYYY-MM-DD')";
enum { EN_APPLICANT_ID, EN_ID, EN_START_MONTH };

/* Where a NIK whose INSERT did nothing is covered: of its enrolments that
 * share a month with the months it asked for ($2 to $3), the one covering
 * the latest (an ended enrolment that only moved its first month ends
 * before the one it collided with). One probe per NIK of the exclusion
 * constraint's index (nik, months). */
static const char *SQL_WHERE_COVERED =
    "SELECT c.nik, e.code, e.village_code, to_char(e.start_month, 'YYYY-MM'), "
    "    coalesce(to_char(e.end_month, 'YYYY-MM'), ''), "
    "    coalesce(to_char(d.deceased_on, 'YYYY-MM-DD'), '') "
    "FROM unnest($1::text[]) AS c(nik) "
    "LEFT JOIN participants d ON d.nik = c.nik "
    "LEFT JOIN LATERAL ("
    "    SELECT p.code, y.village_code, y.start_month, y.end_month "
    "    FROM enrolments y "
    "    JOIN programs p ON p.id = y.program_id "
    "    WHERE y.nik = c.nik "
    "        AND enrolment_months(y.start_month, y.end_month) "
    "            && enrolment_months($2::date, $3::date) "
    "    ORDER BY coalesce(y.end_month, 'infinity') DESC "
    "    LIMIT 1"
    ") e ON true";
enum { WC_NIK, WC_PROGRAM, WC_VILLAGE, WC_FROM, WC_TO, WC_DECEASED_ON };

static const char *SQL_UNENROL = "DELETE FROM enrolments WHERE id = ANY($1::bigint[])";

static const char *SQL_REFRESH_PARTICIPANTS =
    "UPDATE participants p "
    "SET name = x.name, birth_date = x.birth_date, sex = x.sex, updated_at = now() "
    "FROM jsonb_to_recordset($1::jsonb) "
    "    AS x(nik text, name text, birth_date date, sex char(1)) "
    "WHERE p.nik = x.nik "
    "    AND (p.name, p.birth_date, p.sex) "
    "        IS DISTINCT FROM (x.name, x.birth_date, x.sex)";

/* Every decision, and the submission marked verified, in one statement. */
static const char *SQL_DECIDE =
    "WITH d AS ("
    "    UPDATE applicants a "
    "    SET decision = x.decision, reasons = x.reasons, warnings = x.warnings, "
    "        program_version = $2, decided_at = now() "
    "    FROM jsonb_to_recordset($1::jsonb) "
    "        AS x(id bigint, decision text, reasons jsonb, warnings jsonb) "
    "    WHERE a.submission_id = $3 AND a.id = x.id"
    ") "
    "UPDATE submissions "
    "SET status = 'verified', verified_at = now() "
    "WHERE id = $3";

static const char *SQL_QUEUE =
    "SELECT count(*), "
    "    coalesce(extract(epoch FROM now() - min(received_at)), 0)::float8 "
    "FROM submissions "
    "WHERE status <> 'verified'";
enum { Q_DEPTH, Q_OLDEST_S };

static const double latency_bounds[] = {0.05, 0.1, 0.25, 0.5, 1,   2.5,
                                        5,    10,  30,   60,  300, 900};

typedef struct {
    char name[64];
    bool transport;
} occupation_t;

#define VERIFY_BATCH_MAX 64
#define QUARANTINE_SIZE 64
#define QUARANTINE_SECONDS 60

struct verifier_t {
    int batch; /* submissions decided per transaction */
    /* Submissions whose transaction just failed on their own (not a lost
     * connection): left out of claims for a minute, so one that always fails
     * cannot make every batch fail and stall the queue behind it. */
    char quarantine[QUARANTINE_SIZE][40];
    time_t quarantined_at[QUARANTINE_SIZE];
    unsigned quarantine_next;
    db_t *db;
    bus_t *enrolments;
    metrics_t *metrics;
    occupation_t occupations[MAX_OCCUPATION_CODE];
    bool occupations_loaded;
};

/* One applicant on its way to a decision. */
typedef struct {
    int row; /* in the pending-applicants result */
    verdict_t verdict;
    int occupation;
    bool candidate;        /* passed every rule that needs no enrolment */
    char enrolment_id[24]; /* set when our INSERT won the NIK */
    date_t start_month;    /* the won enrolment's first month */
    bool new_person;       /* participants had no row for this NIK before */
} pending_t;

typedef struct {
    const char *submission_id;
    const char *village;
    const char *request_id;
    date_t received;
    date_t today;       /* Asia/Jakarta, once per submission */
    bool renewal;       /* queued by program_renewal_queue */
    date_t first_month; /* of every applicant, unless an ended enrolment moves it */
    program_rules_t program;
    int village_quota, total_quota; /* -1: none */
    char payer[72];
    PGresult *applicants;
    pending_t *pending;
    int n;
    int accepted, rejected;
} batch_t;

verifier_t *verifier_new(const char *conninfo, bus_t *enrolments, metrics_t *metrics)
{
    verifier_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->db = db_new(conninfo);
    if (!self->db) {
        free(self);
        return NULL;
    }
    self->batch = 1;
    self->enrolments = enrolments;
    self->metrics = metrics;
    return self;
}

void verifier_destroy(verifier_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    db_destroy(&(*self_p)->db);
    free(*self_p);
    *self_p = NULL;
}

static bool load_occupations(verifier_t *self)
{
    if (self->occupations_loaded)
        return true;
    PGresult *r = db_exec(self->db, SQL_OCCUPATIONS, 0, NULL);
    if (!db_ok(r)) {
        PQclear(r);
        return false;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        int code = atoi(PQgetvalue(r, i, OC_CODE));
        if (code <= 0 || code >= MAX_OCCUPATION_CODE)
            continue;
        snprintf(self->occupations[code].name, sizeof self->occupations[code].name, "%s",
                 PQgetvalue(r, i, OC_NAME));
        self->occupations[code].transport =
            strcmp(PQgetvalue(r, i, OC_TRANSPORT), "t") == 0;
    }
    PQclear(r);
    self->occupations_loaded = true;
    return true;
}

/* A Dukcapil code ("9") or name ("petani/pekebun", any case, outer spaces ignored). */
static int resolve_occupation(const verifier_t *self, const char *text)
{
    while (isspace((unsigned char)*text))
        text++;
    size_t len = strlen(text);
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        len--;
    if (len > 0 && strspn(text, "0123456789") == len) {
        int code = len <= 3 ? atoi(text) : -1;
        return code > 0 && code < MAX_OCCUPATION_CODE && self->occupations[code].name[0]
                   ? code
                   : -1;
    }
    for (int code = 1; code < MAX_OCCUPATION_CODE; code++) {
        const char *name = self->occupations[code].name;
        if (name[0] && strlen(name) == len && strncasecmp(name, text, len) == 0)
            return code;
    }
    return -1;
}

/* Who is invoiced: the village for ADD and APBDES, the regency for DBH_SAWIT
 * and APBD, the programme's company for CSR. */
static void payer_of(const program_rules_t *p, const char *village, const char *company,
                     char out[72])
{
    const char *fs = p->funding_source;
    if (strcmp(fs, "ADD") == 0 || strcmp(fs, "APBDES") == 0)
        snprintf(out, 72, "%s", village);
    else if (strcmp(fs, "CSR") == 0)
        snprintf(out, 72, "%s", company);
    else
        snprintf(out, 72, "%s", p->regency);
}

/* The programme's rules from row 0 of SQL_LOCK_SUBMISSION's result. */
static void load_program(PGresult *r, batch_t *b)
{
    program_rules_t *p = &b->program;
    memset(p, 0, sizeof *p);
    p->id = atoi(PQgetvalue(r, 0, LS_P_ID));
    p->version = atoi(PQgetvalue(r, 0, LS_P_VERSION));
    snprintf(p->code, sizeof p->code, "%s", PQgetvalue(r, 0, LS_P_CODE));
    snprintf(p->regency, sizeof p->regency, "%s", PQgetvalue(r, 0, LS_P_REGENCY));
    snprintf(p->funding_source, sizeof p->funding_source, "%s",
             PQgetvalue(r, 0, LS_P_FUNDING_SOURCE));
    date_parse(PQgetvalue(r, 0, LS_P_COVERAGE_START), &p->coverage_start);
    p->has_deadline = !PQgetisnull(r, 0, LS_P_DEADLINE) &&
                      date_parse(PQgetvalue(r, 0, LS_P_DEADLINE), &p->deadline);
    p->min_age = atoi(PQgetvalue(r, 0, LS_P_MIN_AGE));
    p->max_age = atoi(PQgetvalue(r, 0, LS_P_MAX_AGE));
    char *codes = PQgetvalue(r, 0, LS_P_OCCUPATIONS);
    for (char *tok = strtok(codes, ","); tok && p->n_occupations < RULES_MAX_OCCUPATIONS;
         tok = strtok(NULL, ","))
        p->occupations[p->n_occupations++] = atoi(tok);
    p->poverty_ref_required =
        strcmp(PQgetvalue(r, 0, LS_P_POVERTY_REF_REQUIRED), "t") == 0;
    payer_of(p, b->village, PQgetvalue(r, 0, LS_P_PAYER_CODE), b->payer);
    b->village_quota = atoi(PQgetvalue(r, 0, LS_P_VILLAGE_QUOTA));
    b->total_quota = atoi(PQgetvalue(r, 0, LS_P_TOTAL_QUOTA));
    p->deadline_warn_only = strcmp(PQgetvalue(r, 0, LS_P_DEADLINE_WARN_ONLY), "t") == 0;
    p->has_coverage_end =
        !PQgetisnull(r, 0, LS_P_COVERAGE_END) &&
        date_parse(PQgetvalue(r, 0, LS_P_COVERAGE_END), &p->coverage_end);
}

/* The submission's first covered month (rules_first_month), from the
 * columns after the programme's: whether it is a renewal, and the last month
 * of the programme it renews. A renewal whose old programme no longer says
 * when it ended starts as any list would. */
static void load_first_month(PGresult *r, batch_t *b)
{
    b->today = date_today();
    b->renewal = strcmp(PQgetvalue(r, 0, LS_RENEWAL), "t") == 0;
    date_t renewed_end;
    bool continues = b->renewal && !PQgetisnull(r, 0, LS_RENEWED_END) &&
                     date_parse(PQgetvalue(r, 0, LS_RENEWED_END), &renewed_end);
    b->first_month =
        rules_first_month(&b->program, b->today, continues ? &renewed_end : NULL);
}

/* NULL when out of memory, like every builder of JSON here. */
static cJSON *reason_json(const reason_t *reason)
{
    cJSON *o = cJSON_CreateObject();
    return pgjson_whole(o, o && cJSON_AddStringToObject(o, "code", reason->code) &&
                               cJSON_AddStringToObject(o, "message", reason->message));
}

static cJSON *reasons_json(const reason_t *list, int n)
{
    cJSON *arr = cJSON_CreateArray();
    bool ok = arr != NULL;
    for (int i = 0; ok && i < n; i++)
        ok = pgjson_append(arr, reason_json(&list[i]));
    return pgjson_whole(arr, ok);
}

static const char *cell(const batch_t *b, const pending_t *a, int col)
{
    return PQgetvalue(b->applicants, a->row, col);
}

/* Sort helpers: a submission may hold 10,000 applicants, so matching is
 * done by sorting and binary search, never pairwise. */
typedef struct {
    const char *nik;
    long long applicant_id;
    int index;
} sort_key_t;

static int by_nik_then_index(const void *x, const void *y)
{
    const sort_key_t *a = x, *b = y;
    int c = strcmp(a->nik, b->nik);
    return c ? c : a->index - b->index;
}

static int by_applicant_id(const void *x, const void *y)
{
    const sort_key_t *a = x, *b = y;
    return (a->applicant_id > b->applicant_id) - (a->applicant_id < b->applicant_id);
}

/* Later occurrences of a NIK met earlier in the submission are rejected;
 * false when out of memory. */
static bool reject_repeats(batch_t *b)
{
    sort_key_t *keys = calloc((size_t)b->n + 1, sizeof *keys);
    if (!keys)
        return false;
    int n = 0;
    for (int i = 0; i < b->n; i++)
        if (b->pending[i].verdict.nik_ok)
            keys[n++] = (sort_key_t){.nik = b->pending[i].verdict.nik.digits, .index = i};
    qsort(keys, (size_t)n, sizeof *keys, by_nik_then_index);
    for (int k = 1; k < n; k++)
        if (strcmp(keys[k].nik, keys[k - 1].nik) == 0)
            rules_reject(&b->pending[keys[k].index].verdict, "DUPLICATE_IN_SUBMISSION",
                         "the same NIK appears earlier in this submission (applicant %d)",
                         keys[k - 1].index);
    free(keys);
    return true;
}

/* The participant's details, as the participants table holds them. */
static cJSON *person_json(const batch_t *b, const pending_t *a)
{
    cJSON *p = cJSON_CreateObject();
    return pgjson_whole(p, p &&
                               cJSON_AddStringToObject(p, "nik", a->verdict.nik.digits) &&
                               cJSON_AddStringToObject(p, "name", cell(b, a, 2)) &&
                               cJSON_AddStringToObject(p, "birth_date", cell(b, a, 3)) &&
                               cJSON_AddStringToObject(p, "sex", cell(b, a, 4)));
}

/* Step 1: every rule that needs no enrolment, in submission order; false
 * when out of memory. */
static bool apply_rules(verifier_t *self, batch_t *b)
{
    for (int i = 0; i < b->n; i++) {
        pending_t *a = &b->pending[i];
        a->row = i;
        a->occupation = resolve_occupation(self, cell(b, a, 5));
        applicant_facts_t who = {.nik = cell(b, a, 1),
                                 .sex = cell(b, a, 4)[0],
                                 .occupation = a->occupation,
                                 .poverty_ref = cell(b, a, 6),
                                 .village_code = b->village,
                                 .received = b->received,
                                 .first_month = b->first_month,
                                 .renewal = b->renewal};
        date_parse(cell(b, a, 3), &who.birth_date);
        rules_decide(&b->program, &who, b->today, &a->verdict);
    }
    if (!reject_repeats(b))
        return false;
    for (int i = 0; i < b->n; i++)
        b->pending[i].candidate = b->pending[i].verdict.n_reasons == 0;
    return true;
}

static char *one_value_query_text(verifier_t *self, const char *sql, int n,
                                  const char *const *params, bool *ok)
{
    PGresult *r = db_exec(self->db, sql, n, params);
    *ok = db_ok(r) && PQntuples(r) == 1;
    char *v = *ok ? strdup(PQgetvalue(r, 0, 0)) : NULL;
    *ok = *ok && v;
    PQclear(r);
    return v;
}

/* Step 2: quota locks, then how many places are left: -1 unlimited, 0 when
 * full, also when more are active than the quota allows (a quota lowered
 * since, or a death corrected after its place was taken). */
static bool lock_quotas(verifier_t *self, batch_t *b, long *village_left,
                        long *total_left)
{
    char program_id[16];
    snprintf(program_id, sizeof program_id, "%d", b->program.id);
    const char *p1[] = {program_id};
    const char *p2[] = {program_id, b->village};
    *village_left = *total_left = -1;
    bool ok = true;
    if (b->total_quota >= 0) {
        ok = db_run(self->db, SQL_LOCK_TOTAL, 1, p1);
        char *n =
            ok ? one_value_query_text(self, SQL_ACTIVE_IN_PROGRAM, 1, p1, &ok) : NULL;
        if (n) /* a quota lowered below, or a correction past, the active count: full */
            *total_left = b->total_quota > atol(n) ? b->total_quota - atol(n) : 0;
        free(n);
    }
    ok = ok && db_run(self->db, SQL_LOCK_VILLAGE, 2, p2);
    if (ok && b->village_quota >= 0) {
        char *n = one_value_query_text(self, SQL_ACTIVE_IN_VILLAGE, 2, p2, &ok);
        if (n)
            *village_left = b->village_quota > atol(n) ? b->village_quota - atol(n) : 0;
        free(n);
    }
    return ok;
}

/* Runs sql with doc as $1; false when doc is NULL (a builder ran out of
 * memory) or its text cannot be made. */
static bool run_json(verifier_t *self, const char *sql, cJSON *doc, int nextra,
                     const char *const *extra, PGresult **out)
{
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
    if (!text)
        return false;
    const char *params[8] = {text};
    for (int i = 0; i < nextra && i < 7; i++)
        params[i + 1] = extra[i];
    PGresult *r = db_exec(self->db, sql, 1 + nextra, params);
    free(text);
    bool ok = db_ok(r);
    if (out && ok)
        *out = r;
    else
        PQclear(r);
    return ok;
}

/* Give each applicant whose INSERT won its NIK the new enrolment id; false
 * when out of memory. */
static bool note_winners(batch_t *b, const PGresult *won)
{
    sort_key_t *keys = calloc((size_t)b->n + 1, sizeof *keys);
    if (!keys)
        return false;
    for (int i = 0; i < b->n; i++)
        keys[i] =
            (sort_key_t){.applicant_id = atoll(cell(b, &b->pending[i], 0)), .index = i};
    qsort(keys, (size_t)b->n, sizeof *keys, by_applicant_id);
    for (int r = 0; r < PQntuples(won); r++) {
        sort_key_t want = {.applicant_id = atoll(PQgetvalue(won, r, EN_APPLICANT_ID))};
        sort_key_t *hit =
            bsearch(&want, keys, (size_t)b->n, sizeof *keys, by_applicant_id);
        if (!hit)
            continue;
        pending_t *a = &b->pending[hit->index];
        snprintf(a->enrolment_id, sizeof a->enrolment_id, "%s",
                 PQgetvalue(won, r, EN_ID));
        date_parse(PQgetvalue(won, r, EN_START_MONTH), &a->start_month);
    }
    free(keys);
    return true;
}

static int by_nik(const void *x, const void *y)
{
    return strcmp(((const sort_key_t *)x)->nik, ((const sort_key_t *)y)->nik);
}

/* Note the people our INSERT created, so that only people we knew before
 * get their details refreshed. False when out of memory. */
static bool note_new_people(batch_t *b, const PGresult *created)
{
    sort_key_t *keys = calloc((size_t)b->n + 1, sizeof *keys);
    if (!keys)
        return false;
    int n = 0;
    for (int i = 0; i < b->n; i++)
        if (b->pending[i].candidate)
            keys[n++] = (sort_key_t){.nik = b->pending[i].verdict.nik.digits, .index = i};
    qsort(keys, (size_t)n, sizeof *keys, by_nik);
    for (int r = 0; r < PQntuples(created); r++) {
        sort_key_t want = {.nik = PQgetvalue(created, r, 0)};
        sort_key_t *hit = bsearch(&want, keys, (size_t)n, sizeof *keys, by_nik);
        if (hit)
            b->pending[hit->index].new_person = true;
    }
    free(keys);
    return true;
}

/* Step 3a: the participants rows; note whom we created. */
static bool create_participants(verifier_t *self, batch_t *b)
{
    cJSON *people = cJSON_CreateArray();
    bool ok = people != NULL;
    for (int i = 0; ok && i < b->n; i++)
        if (b->pending[i].candidate)
            ok = pgjson_append(people, person_json(b, &b->pending[i]));
    people = pgjson_whole(people, ok);
    PGresult *created = NULL;
    ok = run_json(self, SQL_NEW_PARTICIPANTS, people, 0, NULL, &created) &&
         note_new_people(b, created);
    cJSON_Delete(people);
    PQclear(created);
    return ok;
}

/* One candidate's row of SQL_ENROL. */
static cJSON *enrolment_json(const verifier_t *self, const batch_t *b, const pending_t *a)
{
    cJSON *e = cJSON_CreateObject();
    return pgjson_whole(
        e, e && cJSON_AddStringToObject(e, "nik", a->verdict.nik.digits) &&
               cJSON_AddRawToObject(e, "applicant_id", cell(b, a, 0)) &&
               cJSON_AddRawToObject(e, "income", cell(b, a, 7)) &&
               cJSON_AddBoolToObject(e, "transport",
                                     self->occupations[a->occupation].transport) &&
               /* a renewal names the enrolment it continues */
               cJSON_AddRawToObject(e, "previous", cell(b, a, 8)) &&
               /* someone we just created has no enrolment, ended or not */
               cJSON_AddBoolToObject(e, "known", !a->new_person));
}

/* Step 3b: enrol every candidate, NIK-sorted by the SQL; note which won. */
static bool enrol_candidates(verifier_t *self, batch_t *b)
{
    if (!create_participants(self, b))
        return false;
    cJSON *rows = cJSON_CreateArray();
    bool ok = rows != NULL;
    for (int i = 0; ok && i < b->n; i++)
        if (b->pending[i].candidate)
            ok = pgjson_append(rows, enrolment_json(self, b, &b->pending[i]));
    rows = pgjson_whole(rows, ok);
    char program_id[16], start[11], end[11];
    snprintf(program_id, sizeof program_id, "%d", b->program.id);
    date_format(b->first_month, start);
    date_format(b->program.coverage_end, end);
    const char *extra[] = {
        program_id, b->village, b->program.funding_source,
        b->payer,   start,      b->program.has_coverage_end ? end : NULL};
    PGresult *won = NULL;
    ok = run_json(self, SQL_ENROL, rows, 6, extra, &won) && note_winners(b, won);
    cJSON_Delete(rows);
    PQclear(won);
    return ok;
}

/* "YYYY-MM" or "YYYY-MM to YYYY-MM", the months an enrolment covers. */
static void months_text(const char *from, const char *to, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s%s", from, to[0] ? " to " : "", to);
}

/* A JSON array of digit strings or numbers as a PostgreSQL array literal
 * ("{...}", by swapping brackets), caller frees; arr is deleted. NULL when
 * out of memory, arr NULL included. */
static char *array_literal(cJSON *arr)
{
    char *list = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    if (list)
        list[0] = '{', list[strlen(list) - 1] = '}';
    return list;
}

/* Tell a NIK whose INSERT did nothing where its months are covered already. */
static bool explain_duplicates(verifier_t *self, batch_t *b)
{
    cJSON *lost = cJSON_CreateArray();
    bool ok = lost != NULL;
    for (int i = 0; ok && i < b->n; i++)
        if (b->pending[i].candidate && !b->pending[i].enrolment_id[0])
            ok =
                pgjson_append(lost, cJSON_CreateString(b->pending[i].verdict.nik.digits));
    bool any = cJSON_GetArraySize(lost) > 0;
    char *list = array_literal(pgjson_whole(lost, ok));
    if (!list)
        return false;
    char from[11], to[11];
    date_format(b->first_month, from);
    date_format(b->program.coverage_end, to);
    const char *params[] = {list, from, b->program.has_coverage_end ? to : NULL};
    PGresult *r = any ? db_exec(self->db, SQL_WHERE_COVERED, 3, params) : NULL;
    free(list);
    if (any && !db_ok(r)) {
        PQclear(r);
        return false;
    }
    for (int i = 0; i < b->n; i++) {
        pending_t *a = &b->pending[i];
        if (!a->candidate || a->enrolment_id[0])
            continue;
        int hit = -1;
        for (int k = 0; r && k < PQntuples(r) && hit < 0; k++)
            if (strcmp(PQgetvalue(r, k, WC_NIK), a->verdict.nik.digits) == 0)
                hit = k;
        char months[24];
        if (hit >= 0 && PQgetvalue(r, hit, WC_DECEASED_ON)[0]) {
            rules_reject(&a->verdict, "DECEASED", "recorded as deceased on %s",
                         PQgetvalue(r, hit, WC_DECEASED_ON));
        } else if (hit >= 0 && !PQgetisnull(r, hit, WC_PROGRAM)) {
            months_text(PQgetvalue(r, hit, WC_FROM), PQgetvalue(r, hit, WC_TO), months,
                        sizeof months);
            rules_reject(&a->verdict, "DUPLICATE_ACTIVE",
                         "already covered from %s in programme %s, village %s", months,
                         PQgetvalue(r, hit, WC_PROGRAM), PQgetvalue(r, hit, WC_VILLAGE));
        } else {
            rules_reject(&a->verdict, "DUPLICATE_ACTIVE",
                         "already covered in these months elsewhere");
        }
        a->candidate = false;
    }
    PQclear(r);
    return true;
}

/* Step 4a: the INSERT may have started someone later than the submission's
 * first month (an ended enrolment covers the months before); their age
 * limits are judged again on the month their cover really begins. */
static void judge_moved_starts(batch_t *b)
{
    for (int i = 0; i < b->n; i++) {
        pending_t *a = &b->pending[i];
        if (!a->candidate ||
            period_compare(period_of(a->start_month), period_of(b->first_month)) == 0)
            continue;
        date_t birth;
        date_parse(cell(b, a, 3), &birth);
        rules_check_age(&b->program, birth, a->start_month, &a->verdict);
        a->candidate = a->verdict.n_reasons == 0;
    }
}

/* Step 4b: places go in submission order. */
static void apply_quotas(batch_t *b, long village_left, long total_left)
{
    for (int i = 0; i < b->n; i++) {
        pending_t *a = &b->pending[i];
        if (!a->candidate)
            continue;
        bool fits = village_left != 0 && total_left != 0;
        if (fits) {
            village_left -= village_left > 0;
            total_left -= total_left > 0;
            continue;
        }
        rules_reject(&a->verdict, "QUOTA_EXCEEDED",
                     b->total_quota >= 0 && total_left == 0
                         ? "the programme's total quota of %d is reached"
                         : "the village quota of %d is reached",
                     b->total_quota >= 0 && total_left == 0 ? b->total_quota
                                                            : b->village_quota);
        a->candidate = false;
    }
}

/* Step 4c: remove the enrolments of everyone rejected after the INSERT. */
static bool unenrol_rejected(verifier_t *self, batch_t *b)
{
    cJSON *drop = cJSON_CreateArray();
    bool ok = drop != NULL;
    for (int i = 0; ok && i < b->n; i++)
        if (b->pending[i].enrolment_id[0] && !b->pending[i].candidate)
            ok = pgjson_append(drop, cJSON_CreateRaw(b->pending[i].enrolment_id));
    bool any = cJSON_GetArraySize(drop) > 0;
    char *list = array_literal(pgjson_whole(drop, ok));
    if (!list)
        return false;
    const char *params[] = {list};
    ok = !any || db_run(self->db, SQL_UNENROL, 1, params);
    free(list);
    return ok;
}

static void count_decision(verifier_t *self, const verdict_t *v)
{
    char labels[128];
    if (v->n_reasons == 0) {
        metrics_counter_add(self->metrics, "lindung_decisions_total",
                            "Applicant decisions, by result and reason code.",
                            "result=\"accepted\",reason=\"\"", 1);
        return;
    }
    for (int i = 0; i < v->n_reasons; i++) {
        snprintf(labels, sizeof labels, "result=\"rejected\",reason=\"%s\"",
                 v->reasons[i].code);
        metrics_counter_add(self->metrics, "lindung_decisions_total",
                            "Applicant decisions, by result and reason code.", labels, 1);
    }
}

/* One applicant's row of SQL_DECIDE. */
static cJSON *decision_json(const batch_t *b, const pending_t *a)
{
    const verdict_t *v = &a->verdict;
    cJSON *o = cJSON_CreateObject();
    return pgjson_whole(
        o, o && cJSON_AddRawToObject(o, "id", cell(b, a, 0)) &&
               cJSON_AddStringToObject(o, "decision",
                                       v->n_reasons == 0 ? "accepted" : "rejected") &&
               pgjson_put(o, "reasons", reasons_json(v->reasons, v->n_reasons)) &&
               pgjson_put(o, "warnings", reasons_json(v->warnings, v->n_warnings)));
}

/* Step 5: write every decision, refresh accepted people's details. */
static bool write_decisions(verifier_t *self, batch_t *b)
{
    cJSON *rows = cJSON_CreateArray(), *people = cJSON_CreateArray();
    bool ok = rows && people;
    for (int i = 0; ok && i < b->n; i++) {
        pending_t *a = &b->pending[i];
        bool accepted = a->verdict.n_reasons == 0;
        ok = pgjson_append(rows, decision_json(b, a));
        accepted ? b->accepted++ : b->rejected++;
        count_decision(self, &a->verdict);
        log_debug("applicant.decided", "submission_id", b->submission_id, "nik",
                  cell(b, a, 1), "decision", accepted ? "accepted" : "rejected", "reason",
                  accepted ? NULL : a->verdict.reasons[0].code, "request_id",
                  b->request_id);
        if (ok && accepted && !a->new_person)
            ok = pgjson_append(people, person_json(b, a));
    }
    rows = pgjson_whole(rows, ok);
    people = pgjson_whole(people, ok);
    char version[16];
    snprintf(version, sizeof version, "%d", b->program.version);
    const char *extra[] = {version, b->submission_id};
    /* Most accepted people are new, so usually there is nothing to refresh. */
    ok = run_json(self, SQL_DECIDE, rows, 2, extra, NULL) &&
         (cJSON_GetArraySize(people) == 0 ||
          run_json(self, SQL_REFRESH_PARTICIPANTS, people, 0, NULL, NULL));
    cJSON_Delete(rows);
    cJSON_Delete(people);
    return ok;
}

static bool decide_all(verifier_t *self, batch_t *b)
{
    const char *params[] = {b->submission_id};
    b->applicants = db_exec(self->db, SQL_PENDING_APPLICANTS, 1, params);
    if (!db_ok(b->applicants))
        return false;
    b->n = PQntuples(b->applicants);
    b->pending = calloc((size_t)b->n + 1, sizeof *b->pending);
    if (!b->pending || !apply_rules(self, b))
        return false;
    long village_left, total_left;
    if (!lock_quotas(self, b, &village_left, &total_left) || !enrol_candidates(self, b) ||
        !explain_duplicates(self, b))
        return false;
    judge_moved_starts(b);
    apply_quotas(b, village_left, total_left);
    return unenrol_rejected(self, b) && write_decisions(self, b);
}

/* What announce needs of a decided submission, kept until its transaction
 * commits (a prompt must never announce what was rolled back). */
typedef struct {
    char id[40];
    char program[65];
    char village[16];
    char request_id[72];
    int accepted, rejected;
    double waited;
} outcome_t;

static void announce(verifier_t *self, const outcome_t *o)
{
    char acc[16], rej[16];
    snprintf(acc, sizeof acc, "%d", o->accepted);
    snprintf(rej, sizeof rej, "%d", o->rejected);
    log_info("submission.verified", "submission_id", o->id, "program", o->program,
             "village", o->village, "accepted", acc, "rejected", rej, "request_id",
             o->request_id);
    metrics_histogram_observe(
        self->metrics, "lindung_decision_latency_seconds",
        "Time from a submission's arrival to its verification.", NULL, latency_bounds,
        sizeof latency_bounds / sizeof latency_bounds[0], o->waited);
    if (o->accepted == 0 || !self->enrolments)
        return;
    envelope_t env;
    envelope_init(&env, ENVELOPE_ENROLMENTS_CHANGED, o->id, o->request_id);
    bus_send(self->enrolments, &env);
}

typedef enum { VERIFY_DONE, VERIFY_SKIPPED, VERIFY_FAILED } verify_result_t;

/* Decide one submission inside the caller's transaction. */
static verify_result_t decide_submission(verifier_t *self, const char *id, outcome_t *o)
{
    const char *params[] = {id};
    PGresult *s = db_exec(self->db, SQL_LOCK_SUBMISSION, 1, params);
    if (!db_ok(s) || PQntuples(s) != 1) {
        bool failed = !db_ok(s);
        PQclear(s);
        return failed ? VERIFY_FAILED : VERIFY_SKIPPED;
    }
    batch_t b = {.submission_id = id,
                 .village = PQgetvalue(s, 0, LS_VILLAGE),
                 .request_id = PQgetvalue(s, 0, LS_REQUEST_ID)};
    date_parse(PQgetvalue(s, 0, LS_RECEIVED_ON), &b.received);
    load_program(s, &b);
    load_first_month(s, &b);
    bool ok = decide_all(self, &b);
    if (ok) {
        *o = (outcome_t){.accepted = b.accepted,
                         .rejected = b.rejected,
                         .waited = atof(PQgetvalue(s, 0, LS_WAITED_S))};
        snprintf(o->id, sizeof o->id, "%s", id);
        snprintf(o->program, sizeof o->program, "%s", b.program.code);
        snprintf(o->village, sizeof o->village, "%s", b.village);
        snprintf(o->request_id, sizeof o->request_id, "%s", b.request_id);
    }
    PQclear(b.applicants);
    free(b.pending);
    PQclear(s);
    return ok ? VERIFY_DONE : VERIFY_FAILED;
}

/* Decide ids[0..n) in one transaction: one durable commit for all of them.
 * Returns how many were verified, or -1 when anything failed (a deadlock with
 * another verifier, a lost connection): then nothing was kept. */
static int verify_together(verifier_t *self, char (*ids)[40], int n)
{
    outcome_t *out = calloc((size_t)n, sizeof *out);
    bool *done = calloc((size_t)n, sizeof *done);
    if (!out || !done) {
        free(out);
        free(done);
        return -1;
    }
    bool ok = db_begin(self->db);
    for (int i = 0; ok && i < n; i++) {
        verify_result_t rc = decide_submission(self, ids[i], &out[i]);
        ok = rc != VERIFY_FAILED;
        done[i] = rc == VERIFY_DONE;
    }
    ok = ok && db_commit(self->db);
    int verified = 0;
    for (int i = 0; ok && i < n; i++)
        if (done[i]) {
            announce(self, &out[i]);
            verified++;
        }
    if (!ok)
        db_rollback(self->db);
    free(out);
    free(done);
    return ok ? verified : -1;
}

static void quarantine_add(verifier_t *self, const char *id)
{
    unsigned slot = self->quarantine_next++ % QUARANTINE_SIZE;
    snprintf(self->quarantine[slot], sizeof self->quarantine[slot], "%.36s", id);
    self->quarantined_at[slot] = time(NULL);
}

/* The quarantined ids still in force, as a uuid[] literal ("{a,b}"): UUIDs
 * hold only hex digits and dashes, so no quoting is needed. */
static void quarantine_list(const verifier_t *self, char *out, size_t cap)
{
    time_t now = time(NULL);
    size_t len = (size_t)snprintf(out, cap, "{");
    for (int i = 0; i < QUARANTINE_SIZE && len < cap; i++) {
        if (!self->quarantine[i][0] ||
            now - self->quarantined_at[i] >= QUARANTINE_SECONDS)
            continue;
        len += (size_t)snprintf(out + len, cap - len, "%s%s", len > 1 ? "," : "",
                                self->quarantine[i]);
    }
    if (len < cap)
        snprintf(out + len, cap - len, "}");
}

/* A failed batch is redone one submission per transaction, so one bad
 * submission or one deadlock cannot hold back the others. */
static int verify_claimed(verifier_t *self, char (*ids)[40], int n, int *failures)
{
    int verified = n > 1 ? verify_together(self, ids, n) : -1;
    if (verified >= 0)
        return verified;
    verified = 0;
    for (int i = 0; i < n; i++) {
        int rc = verify_together(self, &ids[i], 1);
        if (rc < 0) {
            (*failures)++;
            if (!db_lost(self->db))
                quarantine_add(self, ids[i]);
            log_warn("submission.retry_later", "submission_id", ids[i], "detail",
                     db_error(self->db));
        } else {
            verified += rc;
        }
    }
    return verified;
}

/* Claim up to `limit` waiting submissions, ordered by programme and village
 * so that batches take quota locks in one order. Returns how many. */
static int claim(verifier_t *self, char (*ids)[40], int limit, bool *failed)
{
    /* The 'verifying' mark is advice for readers, redone after a crash, so
     * its commit need not wait for the disk. */
    char n[8], skip[QUARANTINE_SIZE * 38 + 4];
    snprintf(n, sizeof n, "%d", limit);
    quarantine_list(self, skip, sizeof skip);
    const char *params[] = {n, skip};
    *failed = !db_begin(self->db) || !db_run(self->db, SQL_ASYNC_COMMIT, 0, NULL);
    PGresult *r = *failed ? NULL : db_exec(self->db, SQL_CLAIM, 2, params);
    *failed = *failed || !db_ok(r) || !db_commit(self->db);
    int got = *failed ? 0 : PQntuples(r);
    for (int i = 0; i < got; i++)
        snprintf(ids[i], 40, "%s", PQgetvalue(r, i, 0));
    PQclear(r);
    if (*failed)
        db_rollback(self->db);
    return got;
}

void verifier_set_batch(verifier_t *self, int submissions)
{
    self->batch = submissions < 1                  ? 1
                  : submissions > VERIFY_BATCH_MAX ? VERIFY_BATCH_MAX
                                                   : submissions;
}

int verifier_drain(verifier_t *self, bool (*stop)(void))
{
    if (!load_occupations(self))
        return -1;
    int done = 0, failures = 0, n;
    char ids[VERIFY_BATCH_MAX][40];
    bool failed = false;
    struct timespec last, now;
    clock_gettime(CLOCK_MONOTONIC, &last);
    while (!stop() && failures < 3 && (n = claim(self, ids, self->batch, &failed)) > 0) {
        /* Keep the queue gauges true during a long backlog: that is when
         * the backlog alert reads them. */
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - last.tv_sec >= 5) {
            verifier_observe_queue(self);
            last = now;
        }
        done += verify_claimed(self, ids, n, &failures);
    }
    return failed || db_lost(self->db) ? -1 : done;
}

void verifier_observe_queue(verifier_t *self)
{
    PGresult *r = db_exec(self->db, SQL_QUEUE, 0, NULL);
    if (db_ok(r) && PQntuples(r) == 1) {
        metrics_gauge_set(self->metrics, "lindung_verify_queue_depth",
                          "Submissions received but not yet verified (all processes).",
                          NULL, atof(PQgetvalue(r, 0, Q_DEPTH)));
        metrics_gauge_set(self->metrics, "lindung_verify_queue_oldest_age_seconds",
                          "Age of the oldest submission not yet verified.", NULL,
                          atof(PQgetvalue(r, 0, Q_OLDEST_S)));
    }
    PQclear(r);
}
