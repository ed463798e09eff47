/* verifier: the database half of verification. Order inside a submission:
 * pure rules (rules.c), then repeats inside the submission (the first
 * occurrence is decided, later ones rejected), then the nation-wide active
 * NIK check, which the unique index enrolments_one_active_idx enforces: we
 * insert with ON CONFLICT DO NOTHING, so a concurrent winner makes us wait
 * and then see its row, and the loser is rejected with a reason, not an error. */
#include "verifier.h"
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "db.h"
#include "log.h"
#include "rules.h"

#define MAX_OCCUPATION_CODE 1000

static const char *SQL_OCCUPATIONS = "SELECT code, name, transport FROM occupations";

/* Mark the oldest unclaimed submission as verifying; a row another verifier
 * holds is skipped. A crashed verifier's row is unlocked and is taken again. */
static const char *SQL_CLAIM =
    "UPDATE submissions SET status = 'verifying', verifying_at = coalesce(verifying_at, now()) "
    "WHERE id = (SELECT id FROM submissions WHERE status <> 'verified' "
    "            ORDER BY received_at FOR UPDATE SKIP LOCKED LIMIT 1) "
    "RETURNING id";

static const char *SQL_LOCK_SUBMISSION =
    "SELECT s.program_id, s.village_code, to_char(s.received_at AT TIME ZONE 'Asia/Jakarta', "
    "  'YYYY-MM-DD'), coalesce(s.request_id, ''), "
    "  extract(epoch FROM now() - s.received_at)::float8 "
    "FROM submissions s WHERE s.id = $1 AND s.status <> 'verified' FOR UPDATE SKIP LOCKED";

static const char *SQL_PROGRAM =
    "SELECT id, version, code, regency_code, funding_source, "
    "  to_char(coverage_start, 'YYYY-MM-DD'), to_char(submission_deadline, 'YYYY-MM-DD'), "
    "  coalesce(min_age, -1), coalesce(max_age, -1), array_to_string(occupations, ','), "
    "  poverty_ref_required, coalesce(payer_code, '') "
    "FROM programs WHERE id = $1";

static const char *SQL_PENDING_APPLICANTS =
    "SELECT id, nik, name, to_char(birth_date, 'YYYY-MM-DD'), sex, occupation, "
    "  coalesce(poverty_ref, ''), coalesce(monthly_income, 1000000) "
    "FROM applicants WHERE submission_id = $1 AND decision = 'pending' ORDER BY idx";

static const char *SQL_UPSERT_PARTICIPANT =
    "INSERT INTO participants (nik, name, birth_date, sex) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (nik) DO UPDATE SET name = EXCLUDED.name, birth_date = EXCLUDED.birth_date, "
    "  sex = EXCLUDED.sex, updated_at = now()";

static const char *SQL_ENROL =
    "INSERT INTO enrolments (nik, program_id, village_code, applicant_id, funding_source, "
    "  payer_code, declared_income, transport, start_month) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
    "ON CONFLICT (nik) WHERE status = 'active' DO NOTHING RETURNING id";

static const char *SQL_WHERE_ACTIVE =
    "SELECT p.code, e.village_code FROM enrolments e JOIN programs p ON p.id = e.program_id "
    "WHERE e.nik = $1 AND e.status = 'active'";

static const char *SQL_DECIDE =
    "UPDATE applicants SET decision = $2, reasons = $3::jsonb, warnings = $4::jsonb, "
    "  program_version = $5, decided_at = now() WHERE id = $1";

static const char *SQL_VERIFIED =
    "UPDATE submissions SET status = 'verified', verified_at = now() WHERE id = $1";

static const char *SQL_QUEUE =
    "SELECT count(*), coalesce(extract(epoch FROM now() - min(received_at)), 0)::float8 "
    "FROM submissions WHERE status <> 'verified'";

static const double latency_bounds[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900};

typedef struct {
    char name[64];
    bool transport;
} occupation_t;

struct verifier_t {
    db_t *db;
    bus_t *enrolments;
    metrics_t *metrics;
    occupation_t occupations[MAX_OCCUPATION_CODE];
    bool occupations_loaded;
};

verifier_t *verifier_new(const char *conninfo, bus_t *enrolments, metrics_t *metrics)
{
    verifier_t *self = calloc(1, sizeof *self);
    self->db = db_new(conninfo);
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
        int code = atoi(PQgetvalue(r, i, 0));
        if (code <= 0 || code >= MAX_OCCUPATION_CODE)
            continue;
        snprintf(self->occupations[code].name, sizeof self->occupations[code].name, "%s",
                 PQgetvalue(r, i, 1));
        self->occupations[code].transport = strcmp(PQgetvalue(r, i, 2), "t") == 0;
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

static bool load_program(verifier_t *self, const char *program_id, program_rules_t *p,
                         char *payer, size_t payercap)
{
    const char *params[] = {program_id};
    PGresult *r = db_exec(self->db, SQL_PROGRAM, 1, params);
    if (!db_ok(r) || PQntuples(r) != 1) {
        PQclear(r);
        return false;
    }
    memset(p, 0, sizeof *p);
    p->id = atoi(PQgetvalue(r, 0, 0));
    p->version = atoi(PQgetvalue(r, 0, 1));
    snprintf(p->code, sizeof p->code, "%s", PQgetvalue(r, 0, 2));
    snprintf(p->regency, sizeof p->regency, "%s", PQgetvalue(r, 0, 3));
    snprintf(p->funding_source, sizeof p->funding_source, "%s", PQgetvalue(r, 0, 4));
    date_parse(PQgetvalue(r, 0, 5), &p->coverage_start);
    p->has_deadline = !PQgetisnull(r, 0, 6) && date_parse(PQgetvalue(r, 0, 6), &p->deadline);
    p->min_age = atoi(PQgetvalue(r, 0, 7));
    p->max_age = atoi(PQgetvalue(r, 0, 8));
    char *codes = PQgetvalue(r, 0, 9);
    for (char *tok = strtok(codes, ","); tok && p->n_occupations < RULES_MAX_OCCUPATIONS;
         tok = strtok(NULL, ","))
        p->occupations[p->n_occupations++] = atoi(tok);
    p->poverty_ref_required = strcmp(PQgetvalue(r, 0, 10), "t") == 0;
    snprintf(payer, payercap, "%s", PQgetvalue(r, 0, 11));
    PQclear(r);
    return true;
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

static char *reasons_json(const reason_t *list, int n)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "code", list[i].code);
        cJSON_AddStringToObject(o, "message", list[i].message);
        cJSON_AddItemToArray(arr, o);
    }
    char *text = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    return text;
}

typedef struct {
    const char *submission_id;
    const char *village;
    const char *request_id;
    date_t received;
    program_rules_t program;
    char payer[72];
    char **seen; /* valid NIKs met earlier in this submission */
    int n_seen;
    int accepted, rejected;
} batch_t;

static bool seen_before(batch_t *b, const char *nik)
{
    for (int i = 0; i < b->n_seen; i++)
        if (strcmp(b->seen[i], nik) == 0)
            return true;
    b->seen[b->n_seen++] = strdup(nik);
    return false;
}

/* Enrol an eligible applicant; adds DUPLICATE_ACTIVE when the NIK is active
 * elsewhere. false on a database error (the caller rolls back). */
static bool enrol(verifier_t *self, batch_t *b, const PGresult *a, int row, verdict_t *v,
                  int occupation)
{
    const char *nik = v->nik.digits;
    const char *pparams[] = {nik, PQgetvalue(a, row, 2), PQgetvalue(a, row, 3),
                             PQgetvalue(a, row, 4)};
    if (!db_run(self->db, SQL_UPSERT_PARTICIPANT, 4, pparams))
        return false;
    char program_id[16], start[11];
    snprintf(program_id, sizeof program_id, "%d", b->program.id);
    date_format(b->program.coverage_start, start);
    const char *transport = self->occupations[occupation].transport ? "t" : "f";
    const char *eparams[] = {nik, program_id, b->village, PQgetvalue(a, row, 0),
                             b->program.funding_source, b->payer, PQgetvalue(a, row, 7),
                             transport, start};
    PGresult *r = db_exec(self->db, SQL_ENROL, 9, eparams);
    if (!db_ok(r)) {
        PQclear(r);
        return false;
    }
    bool enrolled = PQntuples(r) == 1;
    PQclear(r);
    if (enrolled)
        return true;
    const char *wparams[] = {nik};
    r = db_exec(self->db, SQL_WHERE_ACTIVE, 1, wparams);
    if (!db_ok(r)) {
        PQclear(r);
        return false;
    }
    if (PQntuples(r) == 1)
        rules_reject(v, "DUPLICATE_ACTIVE", "already active in programme %s, village %s",
                     PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
    else
        rules_reject(v, "DUPLICATE_ACTIVE", "already active elsewhere");
    PQclear(r);
    return true;
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
        snprintf(labels, sizeof labels, "result=\"rejected\",reason=\"%s\"", v->reasons[i].code);
        metrics_counter_add(self->metrics, "lindung_decisions_total",
                            "Applicant decisions, by result and reason code.", labels, 1);
    }
}

static bool decide_one(verifier_t *self, batch_t *b, const PGresult *a, int row)
{
    applicant_facts_t who = {.nik = PQgetvalue(a, row, 1),
                             .sex = PQgetvalue(a, row, 4)[0],
                             .occupation = resolve_occupation(self, PQgetvalue(a, row, 5)),
                             .poverty_ref = PQgetvalue(a, row, 6),
                             .village_code = b->village,
                             .received = b->received};
    date_parse(PQgetvalue(a, row, 3), &who.birth_date);
    verdict_t v;
    rules_decide(&b->program, &who, date_today(), &v);
    if (v.nik_ok && seen_before(b, v.nik.digits))
        rules_reject(&v, "DUPLICATE_IN_SUBMISSION",
                     "the same NIK appears earlier in this submission");
    if (v.n_reasons == 0 && !enrol(self, b, a, row, &v, who.occupation))
        return false;
    char *reasons = reasons_json(v.reasons, v.n_reasons);
    char *warnings = reasons_json(v.warnings, v.n_warnings);
    char version[16];
    snprintf(version, sizeof version, "%d", b->program.version);
    const char *decision = v.n_reasons == 0 ? "accepted" : "rejected";
    const char *params[] = {PQgetvalue(a, row, 0), decision, reasons, warnings, version};
    bool ok = db_run(self->db, SQL_DECIDE, 5, params);
    free(reasons);
    free(warnings);
    if (!ok)
        return false;
    v.n_reasons == 0 ? b->accepted++ : b->rejected++;
    count_decision(self, &v);
    log_debug("applicant.decided", "submission_id", b->submission_id, "nik", who.nik,
              "decision", decision, "reason", v.n_reasons ? v.reasons[0].code : NULL,
              "request_id", b->request_id);
    return true;
}

static bool decide_all(verifier_t *self, batch_t *b)
{
    const char *params[] = {b->submission_id};
    PGresult *a = db_exec(self->db, SQL_PENDING_APPLICANTS, 1, params);
    if (!db_ok(a)) {
        PQclear(a);
        return false;
    }
    int n = PQntuples(a);
    b->seen = calloc((size_t)n + 1, sizeof *b->seen);
    bool ok = true;
    for (int i = 0; ok && i < n; i++)
        ok = decide_one(self, b, a, i);
    for (int i = 0; i < b->n_seen; i++)
        free(b->seen[i]);
    free(b->seen);
    PQclear(a);
    return ok && db_run(self->db, SQL_VERIFIED, 1, params);
}

static void announce(verifier_t *self, const batch_t *b, double waited)
{
    char acc[16], rej[16];
    snprintf(acc, sizeof acc, "%d", b->accepted);
    snprintf(rej, sizeof rej, "%d", b->rejected);
    log_info("submission.verified", "submission_id", b->submission_id, "program",
             b->program.code, "village", b->village, "accepted", acc, "rejected", rej,
             "request_id", b->request_id);
    metrics_histogram_observe(self->metrics, "lindung_decision_latency_seconds",
                              "Time from a submission's arrival to its verification.", NULL,
                              latency_bounds, sizeof latency_bounds / sizeof latency_bounds[0],
                              waited);
    if (b->accepted == 0)
        return;
    envelope_t env;
    envelope_init(&env, ENVELOPE_ENROLMENTS_CHANGED, b->submission_id, b->request_id);
    bus_send(self->enrolments, &env);
}

typedef enum { VERIFY_DONE, VERIFY_SKIPPED, VERIFY_FAILED } verify_result_t;

/* One submission, one transaction. */
static verify_result_t verify_submission(verifier_t *self, const char *id)
{
    if (!db_begin(self->db))
        return VERIFY_FAILED;
    const char *params[] = {id};
    PGresult *s = db_exec(self->db, SQL_LOCK_SUBMISSION, 1, params);
    if (!db_ok(s) || PQntuples(s) != 1) {
        bool failed = !db_ok(s);
        PQclear(s);
        failed ? db_rollback(self->db) : (void)db_commit(self->db);
        return failed ? VERIFY_FAILED : VERIFY_SKIPPED;
    }
    batch_t b = {.submission_id = id, .village = PQgetvalue(s, 0, 1),
                 .request_id = PQgetvalue(s, 0, 3)};
    date_parse(PQgetvalue(s, 0, 2), &b.received);
    double waited = atof(PQgetvalue(s, 0, 4));
    char company[72];
    bool ok = load_program(self, PQgetvalue(s, 0, 0), &b.program, company, sizeof company);
    if (ok)
        payer_of(&b.program, b.village, company, b.payer);
    ok = ok && decide_all(self, &b) && db_commit(self->db);
    if (!ok) {
        log_warn("submission.retry_later", "submission_id", id, "detail", db_error(self->db),
                 "request_id", b.request_id);
        db_rollback(self->db);
        PQclear(s);
        return VERIFY_FAILED;
    }
    announce(self, &b, waited);
    PQclear(s);
    return VERIFY_DONE;
}

/* The id of a claimed submission in out, or false when none waits. */
static bool claim(verifier_t *self, char out[40], bool *failed)
{
    PGresult *r = db_exec(self->db, SQL_CLAIM, 0, NULL);
    *failed = !db_ok(r);
    bool got = !*failed && PQntuples(r) == 1;
    if (got)
        snprintf(out, 40, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return got;
}

int verifier_drain(verifier_t *self, bool (*stop)(void))
{
    if (!load_occupations(self))
        return -1;
    int done = 0, failures = 0;
    char id[40];
    bool failed = false;
    while (!stop() && failures < 3 && claim(self, id, &failed)) {
        verify_result_t rc = verify_submission(self, id);
        if (rc == VERIFY_DONE)
            done++;
        else if (rc == VERIFY_FAILED)
            failures++; /* deadlock or lost connection: the next sweep retries */
    }
    return failed || db_lost(self->db) ? -1 : done;
}

void verifier_observe_queue(verifier_t *self)
{
    PGresult *r = db_exec(self->db, SQL_QUEUE, 0, NULL);
    if (db_ok(r) && PQntuples(r) == 1) {
        metrics_gauge_set(self->metrics, "lindung_verify_queue_depth",
                          "Submissions received but not yet verified (all processes).", NULL,
                          atof(PQgetvalue(r, 0, 0)));
        metrics_gauge_set(self->metrics, "lindung_verify_queue_oldest_age_seconds",
                          "Age of the oldest submission not yet verified.", NULL,
                          atof(PQgetvalue(r, 0, 1)));
    }
    PQclear(r);
}
