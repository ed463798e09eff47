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
    "  s.applicant_count, s.request_id, " OPS_TS(
        "s.received_at") ", "
                         "  " OPS_TS("s.verifying_at") ", " OPS_TS(
                             "s.verified_at") ", "
                                              "  extract(epoch FROM s.verified_at - "
                                              "s.received_at)::float8 "
                                              "FROM submissions s JOIN programs p ON "
                                              "p.id = s.program_id "
                                              "LEFT JOIN regions r ON r.code = "
                                              "s.village_code WHERE s.id = $1::uuid";

static const char *SQL_DECISIONS =
    "SELECT decision, count(*), " OPS_TS("min(decided_at)") ", " OPS_TS(
        "max(decided_at)") " "
                           "FROM applicants WHERE submission_id = $1::uuid GROUP BY "
                           "decision ORDER BY decision";

/* Reason and warning codes with how many applicants got each. */
static const char *SQL_CODES =
    "SELECT k.kind, x->>'code', count(*) FROM applicants a "
    "CROSS JOIN LATERAL (VALUES ('reason', a.reasons), ('warning', a.warnings)) k(kind, "
    "j) "
    "CROSS JOIN LATERAL jsonb_array_elements(k.j) x "
    "WHERE a.submission_id = $1::uuid GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2";

static const char *SQL_ENROLMENTS =
    "SELECT e.id, e.nik, a.idx, e.funding_source, e.payer_code, "
    "  to_char(e.start_month, 'YYYY-MM'), e.status, " OPS_TS(
        "e.created_at") " "
                        "FROM enrolments e JOIN applicants a ON a.id = e.applicant_id "
                        "WHERE a.submission_id = $1::uuid ORDER BY a.idx";

static const char *SQL_ACCRUALS =
    "SELECT x.enrolment_id, to_char(x.period, 'YYYY-MM'), x.jkk, x.jkm, x.amount, "
    "  x.invoice_id, x.run_id, x.supplementary, " OPS_TS(
        "x.created_at") " "
                        "FROM accruals x JOIN enrolments e ON e.id = x.enrolment_id "
                        "JOIN applicants a ON a.id = e.applicant_id "
                        "WHERE a.submission_id = $1::uuid ORDER BY x.period, "
                        "x.enrolment_id";

static const char *SQL_ACCRUAL_PERIODS =
    "SELECT to_char(x.period, 'YYYY-MM'), count(*), sum(x.amount), "
    "  string_agg(DISTINCT x.run_id::text, ','), string_agg(DISTINCT x.invoice_id::text, "
    "','), "
    "  " OPS_TS(
        "min(x.created_at)") ", bool_or(x.supplementary) "
                             "FROM accruals x JOIN enrolments e ON e.id = x.enrolment_id "
                             "JOIN applicants a ON a.id = e.applicant_id "
                             "WHERE a.submission_id = $1::uuid GROUP BY x.period ORDER "
                             "BY x.period";

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
        if (strcmp(PQgetvalue(d, i, 0), decision) == 0)
            return atol(PQgetvalue(d, i, 1));
    return 0;
}

/* ------------------------------------------------------------ JSON */

static void add_event(cJSON *events, const PGresult *r, int row, int col,
                      const char *name)
{
    if (PQgetisnull(r, row, col))
        return;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "at", PQgetvalue(r, row, col));
    cJSON_AddStringToObject(e, "event", name);
    cJSON_AddItemToArray(events, e);
}

static cJSON *submission_json(const ops_args_t *args, const PGresult *s)
{
    static const char *keys[] = {"submission_id", "program_code", "village_code",
                                 "village_name",  "reference",    "status"};
    char text[512];
    cJSON *o = cJSON_CreateObject();
    for (int c = 0; c < 6; c++) {
        if (c != 4 || PQgetisnull(s, 0, c)) {
            pgjson_add_text(o, keys[c], s, 0, c);
            continue;
        }
        ops_text(args, PQgetvalue(s, 0, c), text, sizeof text);
        cJSON_AddStringToObject(o, keys[c], text);
    }
    pgjson_add_int(o, "applicants", s, 0, 6);
    ops_text(args, ops_val(s, 0, 7), text, sizeof text);
    if (PQgetisnull(s, 0, 7))
        cJSON_AddNullToObject(o, "request_id");
    else
        cJSON_AddStringToObject(o, "request_id", text);
    pgjson_add_text(o, "received_at", s, 0, 8);
    pgjson_add_text(o, "verifying_at", s, 0, 9);
    pgjson_add_text(o, "verified_at", s, 0, 10);
    return o;
}

static cJSON *decisions_json(const trace_t *t)
{
    const PGresult *d = t->r[Q_DECISIONS], *c = t->r[Q_CODES];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "accepted", (double)decision_count(d, "accepted"));
    cJSON_AddNumberToObject(o, "rejected", (double)decision_count(d, "rejected"));
    cJSON_AddNumberToObject(o, "pending", (double)decision_count(d, "pending"));
    cJSON *reasons = cJSON_AddObjectToObject(o, "reasons");
    cJSON *warnings = cJSON_AddObjectToObject(o, "warnings");
    for (int i = 0; i < PQntuples(c); i++) {
        cJSON *into = strcmp(PQgetvalue(c, i, 0), "reason") == 0 ? reasons : warnings;
        cJSON_AddNumberToObject(into, PQgetvalue(c, i, 1), atof(PQgetvalue(c, i, 2)));
    }
    return o;
}

static cJSON *enrolments_json(const ops_args_t *args, const PGresult *e)
{
    cJSON *list = cJSON_CreateArray();
    char nik[NIK_LEN + 1];
    for (int i = 0; i < PQntuples(e); i++) {
        cJSON *o = cJSON_CreateObject();
        pgjson_add_int(o, "enrolment_id", e, i, 0);
        ops_nik(args, PQgetvalue(e, i, 1), nik, sizeof nik);
        cJSON_AddStringToObject(o, "nik", nik);
        pgjson_add_int(o, "applicant_index", e, i, 2);
        pgjson_add_text(o, "funding_source", e, i, 3);
        pgjson_add_text(o, "payer_code", e, i, 4);
        pgjson_add_text(o, "start_month", e, i, 5);
        pgjson_add_text(o, "status", e, i, 6);
        pgjson_add_text(o, "created_at", e, i, 7);
        cJSON_AddItemToArray(list, o);
    }
    return list;
}

static cJSON *accruals_json(const PGresult *a)
{
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; i < PQntuples(a); i++) {
        cJSON *o = cJSON_CreateObject();
        pgjson_add_int(o, "enrolment_id", a, i, 0);
        pgjson_add_text(o, "period", a, i, 1);
        pgjson_add_int(o, "jkk", a, i, 2);
        pgjson_add_int(o, "jkm", a, i, 3);
        pgjson_add_int(o, "amount", a, i, 4);
        pgjson_add_int(o, "invoice_id", a, i, 5);
        pgjson_add_int(o, "run_id", a, i, 6);
        cJSON_AddBoolToObject(o, "supplementary", strcmp(PQgetvalue(a, i, 7), "t") == 0);
        pgjson_add_text(o, "created_at", a, i, 8);
        cJSON_AddItemToArray(list, o);
    }
    return list;
}

/* The path in the order it happens; enrolment and decisions share the
 * verifying transaction's timestamp, so the order is logical, not sorted. */
static cJSON *events_json(const trace_t *t)
{
    const PGresult *s = t->r[Q_SUBMISSION], *d = t->r[Q_DECISIONS];
    const PGresult *e = t->r[Q_ENROLMENTS], *p = t->r[Q_PERIODS];
    cJSON *events = cJSON_CreateArray();
    add_event(events, s, 0, 8, "received");
    add_event(events, s, 0, 9, "verifying");
    for (int i = 0; i < PQntuples(d); i++)
        if (strcmp(PQgetvalue(d, i, 0), "pending") != 0)
            add_event(events, d, i, 3, PQgetvalue(d, i, 0));
    add_event(events, s, 0, 10, "verified");
    if (PQntuples(e) > 0)
        add_event(events, e, 0, 7, "enrolled");
    for (int i = 0; i < PQntuples(p); i++)
        add_event(events, p, i, 5, "accrued");
    return events;
}

static int print_json(const ops_args_t *args, const trace_t *t)
{
    cJSON *doc = cJSON_CreateObject();
    bool ok = doc &&
              pgjson_put(doc, "submission", submission_json(args, t->r[Q_SUBMISSION])) &&
              pgjson_put(doc, "events", events_json(t)) &&
              pgjson_put(doc, "decisions", decisions_json(t)) &&
              pgjson_put(doc, "enrolments", enrolments_json(args, t->r[Q_ENROLMENTS])) &&
              pgjson_put(doc, "accruals", accruals_json(t->r[Q_ACCRUALS]));
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
        if (strcmp(PQgetvalue(c, i, 0), kind) != 0)
            continue;
        len += (size_t)snprintf(line + len, sizeof line - len, "%s%s %s", len ? ", " : "",
                                PQgetvalue(c, i, 1), PQgetvalue(c, i, 2));
    }
    if (line[0])
        print_step("", kind[0] == 'r' ? "reasons" : "warnings", line);
}

static void print_header(const ops_args_t *args, const PGresult *s)
{
    char reference[512], request[512];
    ops_text(args, ops_val(s, 0, 4), reference, sizeof reference);
    ops_text(args, ops_val(s, 0, 7), request, sizeof request);
    printf("submission %s  %s  village %s %s  status %s\n", PQgetvalue(s, 0, 0),
           PQgetvalue(s, 0, 1), PQgetvalue(s, 0, 2), PQgetvalue(s, 0, 3),
           PQgetvalue(s, 0, 5));
    printf("request id %s%s%s\n\n", request[0] ? request : "(none)",
           reference[0] ? "  reference " : "", reference);
}

static void print_decisions(const trace_t *t)
{
    const PGresult *d = t->r[Q_DECISIONS], *s = t->r[Q_SUBMISSION];
    char detail[256];
    for (int i = 0; i < PQntuples(d); i++) {
        if (strcmp(PQgetvalue(d, i, 0), "pending") == 0)
            continue;
        snprintf(detail, sizeof detail, "%s applicant(s), first at %s",
                 PQgetvalue(d, i, 1), PQgetvalue(d, i, 2));
        print_step(PQgetvalue(d, i, 3), PQgetvalue(d, i, 0), detail);
    }
    print_codes(t->r[Q_CODES], "reason");
    print_codes(t->r[Q_CODES], "warning");
    snprintf(detail, sizeof detail, "%ld accepted, %ld rejected, %ld pending",
             decision_count(d, "accepted"), decision_count(d, "rejected"),
             decision_count(d, "pending"));
    if (!PQgetisnull(s, 0, 11))
        snprintf(detail + strlen(detail), sizeof detail - strlen(detail),
                 " (%.3fs after received)", atof(PQgetvalue(s, 0, 11)));
    print_step(ops_val(s, 0, 10), "verified", PQgetisnull(s, 0, 10) ? "not yet" : detail);
}

static void print_enrolments(const ops_args_t *args, const PGresult *e)
{
    char detail[256], nik[NIK_LEN + 1];
    if (PQntuples(e) == 0)
        return;
    snprintf(detail, sizeof detail, "%d enrolment(s), from %s, %s", PQntuples(e),
             PQgetvalue(e, 0, 5), PQgetvalue(e, 0, 3));
    print_step(PQgetvalue(e, 0, 7), "enrolled", detail);
    for (int i = 0; i < PQntuples(e); i++) {
        ops_nik(args, PQgetvalue(e, i, 1), nik, sizeof nik);
        snprintf(detail, sizeof detail, "  #%s applicant %s NIK %s payer %s (%s)",
                 PQgetvalue(e, i, 0), PQgetvalue(e, i, 2), nik, PQgetvalue(e, i, 4),
                 PQgetvalue(e, i, 6));
        print_step("", "", detail);
    }
}

static void print_accruals(const PGresult *p)
{
    char detail[512], money[48];
    for (int i = 0; i < PQntuples(p); i++) {
        money_format_rp(strtoll(PQgetvalue(p, i, 2), NULL, 10), money, sizeof money);
        snprintf(detail, sizeof detail, "%s: %s line(s), %s (run %s, invoice %s)%s",
                 PQgetvalue(p, i, 0), PQgetvalue(p, i, 1), money, PQgetvalue(p, i, 3),
                 PQgetvalue(p, i, 4),
                 strcmp(PQgetvalue(p, i, 6), "t") == 0 ? " supplementary" : "");
        print_step(PQgetvalue(p, i, 5), "accrued", detail);
    }
    if (PQntuples(p) == 0)
        print_step("", "accrued", "nothing yet");
}

static void print_text(const ops_args_t *args, const trace_t *t)
{
    const PGresult *s = t->r[Q_SUBMISSION];
    char detail[512], request[256];
    print_header(args, s);
    ops_text(args, ops_val(s, 0, 7), request, sizeof request);
    snprintf(detail, sizeof detail, "%s applicant(s), request %s", PQgetvalue(s, 0, 6),
             request[0] ? request : "(none)");
    print_step(PQgetvalue(s, 0, 8), "received", detail);
    print_step(ops_val(s, 0, 9), "verifying",
               PQgetisnull(s, 0, 9) ? "not yet" : "claimed");
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
