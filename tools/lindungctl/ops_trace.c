/* ops_trace: `lindungctl trace SUBMISSION_ID`, a submission's path read back
 * from the database, where every step leaves a timestamp: received (with
 * the request id intake stored), verifying, the decisions, verified, the
 * enrolments it created and the accrual lines billed for them. Logs say the
 * same with the same request id; this needs no log access. Not a live view. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>
#include "nik.h"
#include "ops_internal.h"

static const char *SQL_SUBMISSION =
    "SELECT s.id, p.code, s.village_code, coalesce(r.name, ''), s.reference, s.status, "
    "    s.applicant_count, s.request_id, "
    "    to_char((s.received_at) AT TIME ZONE 'UTC', "
    "            'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
    "    to_char((s.verifying_at) AT TIME ZONE 'UTC', "
    "            'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
    "    to_char((s.verified_at) AT TIME ZONE 'UTC', "
    "            'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
    "    extract(epoch FROM s.verified_at - s.received_at)::float8 "
    "FROM submissions s "
    "JOIN programs p ON p.id = s.program_id "
    "LEFT JOIN regions r ON r.code = s.village_code "
    "WHERE s.id = $1::uuid";
enum {
    SU_ID,
    SU_PROGRAM,
    SU_VILLAGE,
    SU_VILLAGE_NAME,
    SU_REFERENCE,
    SU_STATUS,
    SU_APPLICANTS,
    SU_REQUEST_ID,
    SU_RECEIVED,
    SU_VERIFYING,
    SU_VERIFIED,
    SU_SECONDS
};

static const char *SQL_DECISIONS = "SELECT decision, count(*), "
                                   "    to_char((min(decided_at)) AT TIME ZONE 'UTC', "
                                   "            'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
                                   "    to_char((max(decided_at)) AT TIME ZONE 'UTC', "
                                   "            'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
                                   "FROM applicants "
                                   "WHERE submission_id = $1::uuid "
                                   "GROUP BY decision "
                                   "ORDER BY decision";
enum { DE_DECISION, DE_COUNT, DE_FIRST, DE_LAST };

/* Reason and warning codes with how many applicants got each. */
static const char *SQL_CODES =
    "SELECT k.kind, x->>'code', count(*) "
    "FROM applicants a "
    "CROSS JOIN LATERAL (VALUES ('reason', a.reasons), ('warning', a.warnings)) "
    "    k(kind, j) "
    "CROSS JOIN LATERAL jsonb_array_elements(k.j) x "
    "WHERE a.submission_id = $1::uuid "
    "GROUP BY 1, 2 "
    "ORDER BY 1, 3 DESC, 2";
enum { CO_KIND, CO_CODE, CO_COUNT };

static const char *SQL_ENROLMENTS =
    "SELECT e.id, e.nik, a.idx, e.funding_source, e.payer_code, "
    "    to_char(e.start_month, 'YYYY-MM'), e.status, "
    "    to_char((e.created_at) AT TIME ZONE 'UTC', "
    "            'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
    "FROM enrolments e "
    "JOIN applicants a ON a.id = e.applicant_id "
    "WHERE a.submission_id = $1::uuid "
    "ORDER BY a.idx";
enum { EN_ID, EN_NIK, EN_INDEX, EN_FUNDING, EN_PAYER, EN_START, EN_STATUS, EN_CREATED };

static const char *SQL_ACCRUALS =
    "SELECT x.enrolment_id, to_char(x.period, 'YYYY-MM'), x.jkk, x.jkm, x.amount, "
    "    x.invoice_id, x.run_id, x.supplementary, "
    "    to_char((x.created_at) AT TIME ZONE 'UTC', "
    "            'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
    "FROM accruals x "
    "JOIN enrolments e ON e.id = x.enrolment_id "
    "JOIN applicants a ON a.id = e.applicant_id "
    "WHERE a.submission_id = $1::uuid "
    "ORDER BY x.period, x.enrolment_id";
enum {
    AC_ENROLMENT,
    AC_PERIOD,
    AC_JKK,
    AC_JKM,
    AC_AMOUNT,
    AC_INVOICE,
    AC_RUN,
    AC_SUPPLEMENTARY,
    AC_CREATED
};

static const char *SQL_ACCRUAL_PERIODS =
    "SELECT to_char(x.period, 'YYYY-MM'), count(*), sum(x.amount), "
    "    string_agg(DISTINCT x.run_id::text, ','), "
    "    string_agg(DISTINCT x.invoice_id::text, ','), "
    "    to_char((min(x.created_at)) AT TIME ZONE 'UTC', "
    "            'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
    "    bool_or(x.supplementary) "
    "FROM accruals x "
    "JOIN enrolments e ON e.id = x.enrolment_id "
    "JOIN applicants a ON a.id = e.applicant_id "
    "WHERE a.submission_id = $1::uuid "
    "GROUP BY x.period "
    "ORDER BY x.period";
enum { PE_PERIOD, PE_LINES, PE_AMOUNT, PE_RUNS, PE_INVOICES, PE_FIRST, PE_SUPPLEMENTARY };

enum { Q_SUBMISSION, Q_DECISIONS, Q_CODES, Q_ENROLMENTS, Q_ACCRUALS, Q_PERIODS, Q_COUNT };

typedef struct {
    PGresult *r[Q_COUNT];
} trace_t;

static bool trace_load(db_t *db, const char *id, trace_t *t)
{
    static const char *const *sql[Q_COUNT] = {&SQL_SUBMISSION, &SQL_DECISIONS,
                                              &SQL_CODES,      &SQL_ENROLMENTS,
                                              &SQL_ACCRUALS,   &SQL_ACCRUAL_PERIODS};
    const char *params[] = {id};
    for (int q = 0; q < Q_COUNT; q++) {
        t->r[q] = db_exec(db, *sql[q], 1, params);
        if (!db_ok(t->r[q]))
            return false;
        if (q == Q_SUBMISSION && PQntuples(t->r[q]) != 1)
            return true; /* unknown: nothing more to read */
    }
    return true;
}

static void trace_clear(trace_t *t)
{
    for (int q = 0; q < Q_COUNT; q++)
        PQclear(t->r[q]);
}

static long decision_count(const PGresult *d, const char *decision)
{
    for (int i = 0; i < PQntuples(d); i++)
        if (strcmp(PQgetvalue(d, i, DE_DECISION), decision) == 0)
            return atol(PQgetvalue(d, i, DE_COUNT));
    return 0;
}

/* ------------------------------------------------------------ JSON */

/* Appends {"at", "event"} when the column is not NULL; false when out of
 * memory. */
static bool add_event(cJSON *events, const PGresult *r, int row, int col,
                      const char *name)
{
    if (PQgetisnull(r, row, col))
        return true;
    cJSON *e = cJSON_CreateObject();
    return pgjson_append(
        events,
        pgjson_whole(e, e && cJSON_AddStringToObject(e, "at", PQgetvalue(r, row, col)) &&
                            cJSON_AddStringToObject(e, "event", name)));
}

static const pgjson_col_t SUBMISSION_HEAD[] = {
    {"submission_id", SU_ID, PGJSON_TEXT},
    {"program_code", SU_PROGRAM, PGJSON_TEXT},
    {"village_code", SU_VILLAGE, PGJSON_TEXT},
    {"village_name", SU_VILLAGE_NAME, PGJSON_TEXT}};
static const pgjson_col_t SUBMISSION_STATUS[] = {
    {"status", SU_STATUS, PGJSON_TEXT}, {"applicants", SU_APPLICANTS, PGJSON_INT}};
static const pgjson_col_t SUBMISSION_TIMES[] = {
    {"received_at", SU_RECEIVED, PGJSON_TEXT},
    {"verifying_at", SU_VERIFYING, PGJSON_TEXT},
    {"verified_at", SU_VERIFIED, PGJSON_TEXT}};

static cJSON *submission_json(const ops_args_t *args, const PGresult *s)
{
    cJSON *o = pgjson_row(s, 0, SUBMISSION_HEAD, PGJSON_NCOLS(SUBMISSION_HEAD));
    return pgjson_whole(o, o && ops_add_text(args, o, "reference", s, 0, SU_REFERENCE) &&
                               pgjson_add_cols(o, s, 0, SUBMISSION_STATUS,
                                               PGJSON_NCOLS(SUBMISSION_STATUS)) &&
                               ops_add_text(args, o, "request_id", s, 0, SU_REQUEST_ID) &&
                               pgjson_add_cols(o, s, 0, SUBMISSION_TIMES,
                                               PGJSON_NCOLS(SUBMISSION_TIMES)));
}

/* {code: count} of one kind ("reason", "warning"), or NULL. */
static cJSON *codes_json(const PGresult *c, const char *kind)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL;
    for (int i = 0; ok && i < PQntuples(c); i++)
        if (strcmp(PQgetvalue(c, i, CO_KIND), kind) == 0)
            ok = cJSON_AddNumberToObject(o, PQgetvalue(c, i, CO_CODE),
                                         atof(PQgetvalue(c, i, CO_COUNT))) != NULL;
    return pgjson_whole(o, ok);
}

static cJSON *decisions_json(const trace_t *t)
{
    const PGresult *d = t->r[Q_DECISIONS], *c = t->r[Q_CODES];
    cJSON *o = cJSON_CreateObject();
    return pgjson_whole(
        o,
        o &&
            cJSON_AddNumberToObject(o, "accepted",
                                    (double)decision_count(d, "accepted")) &&
            cJSON_AddNumberToObject(o, "rejected",
                                    (double)decision_count(d, "rejected")) &&
            cJSON_AddNumberToObject(o, "pending", (double)decision_count(d, "pending")) &&
            pgjson_put(o, "reasons", codes_json(c, "reason")) &&
            pgjson_put(o, "warnings", codes_json(c, "warning")));
}

static const pgjson_col_t ENROLMENT_TAIL[] = {{"applicant_index", EN_INDEX, PGJSON_INT},
                                              {"funding_source", EN_FUNDING, PGJSON_TEXT},
                                              {"payer_code", EN_PAYER, PGJSON_TEXT},
                                              {"start_month", EN_START, PGJSON_TEXT},
                                              {"status", EN_STATUS, PGJSON_TEXT},
                                              {"created_at", EN_CREATED, PGJSON_TEXT}};

static cJSON *enrolment_json(const PGresult *e, int i, const void *args)
{
    char nik[NIK_LEN + 1];
    ops_nik(args, PQgetvalue(e, i, EN_NIK), nik, sizeof nik);
    cJSON *o = cJSON_CreateObject();
    return pgjson_whole(
        o, pgjson_add_int(o, "enrolment_id", e, i, EN_ID) &&
               cJSON_AddStringToObject(o, "nik", nik) &&
               pgjson_add_cols(o, e, i, ENROLMENT_TAIL, PGJSON_NCOLS(ENROLMENT_TAIL)));
}

static const pgjson_col_t ACCRUAL_COLS[] = {
    {"enrolment_id", AC_ENROLMENT, PGJSON_INT},
    {"period", AC_PERIOD, PGJSON_TEXT},
    {"jkk", AC_JKK, PGJSON_INT},
    {"jkm", AC_JKM, PGJSON_INT},
    {"amount", AC_AMOUNT, PGJSON_INT},
    {"invoice_id", AC_INVOICE, PGJSON_INT},
    {"run_id", AC_RUN, PGJSON_INT},
    {"supplementary", AC_SUPPLEMENTARY, PGJSON_BOOL},
    {"created_at", AC_CREATED, PGJSON_TEXT}};

/* The path in the order it happens; enrolment and decisions share the
 * verifying transaction's timestamp, so the order is logical, not sorted. */
static cJSON *events_json(const trace_t *t)
{
    const PGresult *s = t->r[Q_SUBMISSION], *d = t->r[Q_DECISIONS];
    const PGresult *e = t->r[Q_ENROLMENTS], *p = t->r[Q_PERIODS];
    cJSON *events = cJSON_CreateArray();
    bool ok = events && add_event(events, s, 0, SU_RECEIVED, "received") &&
              add_event(events, s, 0, SU_VERIFYING, "verifying");
    for (int i = 0; ok && i < PQntuples(d); i++)
        if (strcmp(PQgetvalue(d, i, DE_DECISION), "pending") != 0)
            ok = add_event(events, d, i, DE_LAST, PQgetvalue(d, i, DE_DECISION));
    ok = ok && add_event(events, s, 0, SU_VERIFIED, "verified") &&
         (PQntuples(e) == 0 || add_event(events, e, 0, EN_CREATED, "enrolled"));
    for (int i = 0; ok && i < PQntuples(p); i++)
        ok = add_event(events, p, i, PE_FIRST, "accrued");
    return pgjson_whole(events, ok);
}

static int print_json(const ops_args_t *args, const trace_t *t)
{
    cJSON *doc = cJSON_CreateObject();
    bool ok = doc &&
              pgjson_put(doc, "submission", submission_json(args, t->r[Q_SUBMISSION])) &&
              pgjson_put(doc, "events", events_json(t)) &&
              pgjson_put(doc, "decisions", decisions_json(t)) &&
              pgjson_put(doc, "enrolments",
                         pgjson_rows(t->r[Q_ENROLMENTS], enrolment_json, args)) &&
              pgjson_put(doc, "accruals",
                         pgjson_table(t->r[Q_ACCRUALS], ACCRUAL_COLS,
                                      PGJSON_NCOLS(ACCRUAL_COLS)));
    return ops_print_json(pgjson_whole(doc, ok));
}

/* ------------------------------------------------------------ text */

static void print_step(const char *at, const char *what, const char *detail)
{
    printf("%-24s  %-10s  %s\n", at && at[0] ? at : "-", what, detail);
}

static void print_codes(const PGresult *c, const char *kind)
{
    char line[1024] = "";
    size_t len = 0;
    for (int i = 0; i < PQntuples(c) && len < sizeof line; i++) {
        if (strcmp(PQgetvalue(c, i, CO_KIND), kind) != 0)
            continue;
        len += (size_t)snprintf(line + len, sizeof line - len, "%s%s %s", len ? ", " : "",
                                PQgetvalue(c, i, CO_CODE), PQgetvalue(c, i, CO_COUNT));
    }
    if (line[0])
        print_step("", kind[0] == 'r' ? "reasons" : "warnings", line);
}

static void print_header(const ops_args_t *args, const PGresult *s)
{
    char reference[512], request[512];
    ops_text(args, ops_val(s, 0, SU_REFERENCE), reference, sizeof reference);
    ops_text(args, ops_val(s, 0, SU_REQUEST_ID), request, sizeof request);
    printf("submission %s  %s  village %s %s  status %s\n", PQgetvalue(s, 0, SU_ID),
           PQgetvalue(s, 0, SU_PROGRAM), PQgetvalue(s, 0, SU_VILLAGE),
           PQgetvalue(s, 0, SU_VILLAGE_NAME), PQgetvalue(s, 0, SU_STATUS));
    printf("request id %s%s%s\n\n", request[0] ? request : "(none)",
           reference[0] ? "  reference " : "", reference);
}

static void print_decisions(const trace_t *t)
{
    const PGresult *d = t->r[Q_DECISIONS], *s = t->r[Q_SUBMISSION];
    char detail[256];
    for (int i = 0; i < PQntuples(d); i++) {
        if (strcmp(PQgetvalue(d, i, DE_DECISION), "pending") == 0)
            continue;
        snprintf(detail, sizeof detail, "%s applicant(s), first at %s",
                 PQgetvalue(d, i, DE_COUNT), PQgetvalue(d, i, DE_FIRST));
        print_step(PQgetvalue(d, i, DE_LAST), PQgetvalue(d, i, DE_DECISION), detail);
    }
    print_codes(t->r[Q_CODES], "reason");
    print_codes(t->r[Q_CODES], "warning");
    snprintf(detail, sizeof detail, "%ld accepted, %ld rejected, %ld pending",
             decision_count(d, "accepted"), decision_count(d, "rejected"),
             decision_count(d, "pending"));
    if (!PQgetisnull(s, 0, SU_SECONDS))
        snprintf(detail + strlen(detail), sizeof detail - strlen(detail),
                 " (%.3fs after received)", atof(PQgetvalue(s, 0, SU_SECONDS)));
    print_step(ops_val(s, 0, SU_VERIFIED), "verified",
               PQgetisnull(s, 0, SU_VERIFIED) ? "not yet" : detail);
}

static void print_enrolments(const ops_args_t *args, const PGresult *e)
{
    char detail[256], nik[NIK_LEN + 1];
    if (PQntuples(e) == 0)
        return;
    snprintf(detail, sizeof detail, "%d enrolment(s), from %s, %s", PQntuples(e),
             PQgetvalue(e, 0, EN_START), PQgetvalue(e, 0, EN_FUNDING));
    print_step(PQgetvalue(e, 0, EN_CREATED), "enrolled", detail);
    for (int i = 0; i < PQntuples(e); i++) {
        ops_nik(args, PQgetvalue(e, i, EN_NIK), nik, sizeof nik);
        snprintf(detail, sizeof detail, "  #%s applicant %s NIK %s payer %s (%s)",
                 PQgetvalue(e, i, EN_ID), PQgetvalue(e, i, EN_INDEX), nik,
                 PQgetvalue(e, i, EN_PAYER), PQgetvalue(e, i, EN_STATUS));
        print_step("", "", detail);
    }
}

static void print_accruals(const PGresult *p)
{
    char detail[512], money[48];
    for (int i = 0; i < PQntuples(p); i++) {
        money_format_rp(strtoll(PQgetvalue(p, i, PE_AMOUNT), NULL, 10), money,
                        sizeof money);
        snprintf(detail, sizeof detail, "%s: %s line(s), %s (run %s, invoice %s)%s",
                 PQgetvalue(p, i, PE_PERIOD), PQgetvalue(p, i, PE_LINES), money,
                 PQgetvalue(p, i, PE_RUNS), PQgetvalue(p, i, PE_INVOICES),
                 strcmp(PQgetvalue(p, i, PE_SUPPLEMENTARY), "t") == 0 ? " supplementary"
                                                                      : "");
        print_step(PQgetvalue(p, i, PE_FIRST), "accrued", detail);
    }
    if (PQntuples(p) == 0)
        print_step("", "accrued", "nothing yet");
}

static void print_text(const ops_args_t *args, const trace_t *t)
{
    const PGresult *s = t->r[Q_SUBMISSION];
    char detail[512], request[256];
    print_header(args, s);
    ops_text(args, ops_val(s, 0, SU_REQUEST_ID), request, sizeof request);
    snprintf(detail, sizeof detail, "%s applicant(s), request %s",
             PQgetvalue(s, 0, SU_APPLICANTS), request[0] ? request : "(none)");
    print_step(PQgetvalue(s, 0, SU_RECEIVED), "received", detail);
    print_step(ops_val(s, 0, SU_VERIFYING), "verifying",
               PQgetisnull(s, 0, SU_VERIFYING) ? "not yet" : "claimed");
    print_decisions(t);
    print_enrolments(args, t->r[Q_ENROLMENTS]);
    print_accruals(t->r[Q_PERIODS]);
}

int ops_trace(const ops_args_t *args)
{
    uuid_t parsed;
    if (args->npositional != 1 || uuid_parse(args->positional[0], parsed) != 0) {
        fprintf(stderr,
                "usage: lindungctl trace SUBMISSION_ID [--unmasked] [--json]\n"
                "  (a submission id is a UUID, as POST /v1/submissions answered)\n");
        return OPS_USAGE;
    }
    db_t *db = ops_connect("trace");
    if (!db)
        return OPS_FAILED;
    trace_t t = {0};
    int rc = OPS_FAILED;
    if (!trace_load(db, args->positional[0], &t))
        fprintf(stderr, "lindungctl trace: %s\n", db_error(db));
    else if (PQntuples(t.r[Q_SUBMISSION]) != 1)
        fprintf(stderr, "lindungctl trace: no submission %s\n", args->positional[0]);
    else if (args->json)
        rc = print_json(args, &t);
    else {
        print_text(args, &t);
        rc = OPS_OK;
    }
    trace_clear(&t);
    db_destroy(&db);
    return rc;
}
