/* ops: lindungctl's read-only operator commands: parsing their options,
 * `submissions` and `participants`, and the helpers status and trace share.
 * `status` is ops_status.c, `trace` is ops_trace.c. Nothing here writes to
 * the database. Not for commands that change state (apikey, program,
 * billing, migrate have their own files). */
#include "ops.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "nik.h"
#include "ops_internal.h"
#include "session.h"

#define DEFAULT_LIMIT "50"
#define MAX_LIMIT 10000

static const char USAGE_STATUS[] =
    "usage: lindungctl status [--json]\n"
    "\n"
    "One screen: each daemon's readiness (GET /readyz), the verification queue\n"
    "(depth, oldest waiting age), decisions in the last hour and the last billing\n"
    "run. Exit 0 when the database answers and every daemon is ready, else 1.\n"
    "\n"
    "environment: LINDUNG_DB; LINDUNG_INTAKE_PORT, LINDUNG_VERIFY_PORT,\n"
    "  LINDUNG_BILLING_PORT (default 8080, 8081, 8082); LINDUNG_INTAKE_HOST,\n"
    "  LINDUNG_VERIFY_HOST, LINDUNG_BILLING_HOST (default 127.0.0.1)\n";

static const char USAGE_SUBMISSIONS[] =
    "usage: lindungctl submissions [--village CODE] [--program CODE]\n"
    "                              [--status received|verifying|verified]\n"
    "                              [--limit N] [--json]\n"
    "\n"
    "The newest submissions first (default 50, at most 10000), with their\n"
    "decision counts.\n";

static const char USAGE_PARTICIPANTS[] =
    "usage: lindungctl participants NIK [--unmasked] [--json]\n"
    "\n"
    "A person by NIK: the participant record, every enrolment (with what was\n"
    "accrued for it) and every application. The NIK is printed masked\n"
    "(1612******0001) unless --unmasked is given. Exit 1 when the NIK is unknown.\n";

static const char USAGE_TRACE[] =
    "usage: lindungctl trace SUBMISSION_ID [--unmasked] [--json]\n"
    "\n"
    "A submission's path with timestamps (UTC): received (with its request id),\n"
    "verifying, decisions by result and reason, verified, enrolments created,\n"
    "and the accrual lines billed for those enrolments. NIKs masked unless\n"
    "--unmasked.\n";

static const char *SQL_SUBMISSIONS =
    "SELECT s.id, s.program_code, s.village_code, s.status, s.applicant_count, "
    "    c.accepted, c.rejected, c.pending, "
    "    to_char((s.received_at) AT TIME ZONE 'UTC', "
    "            'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
    "    to_char((s.verified_at) AT TIME ZONE 'UTC', "
    "            'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
    "    s.request_id, s.reference "
    "FROM (SELECT s.*, p.code AS program_code "
    "      FROM submissions s "
    "      JOIN programs p ON p.id = s.program_id "
    "      WHERE ($1::text IS NULL OR s.village_code = $1) "
    "        AND ($2::text IS NULL OR p.code = $2) "
    "        AND ($3::text IS NULL OR s.status = $3) "
    "      ORDER BY s.received_at DESC, s.id "
    "      LIMIT $4::int) s "
    "CROSS JOIN LATERAL ("
    "    SELECT count(*) FILTER (WHERE a.decision = 'accepted') AS accepted, "
    "        count(*) FILTER (WHERE a.decision = 'rejected') AS rejected, "
    "        count(*) FILTER (WHERE a.decision = 'pending') AS pending "
    "    FROM applicants a "
    "    WHERE a.submission_id = s.id) c "
    "ORDER BY s.received_at DESC, s.id";
enum {
    SU_ID,
    SU_PROGRAM,
    SU_VILLAGE,
    SU_STATUS,
    SU_APPLICANTS,
    SU_ACCEPTED,
    SU_REJECTED,
    SU_PENDING,
    SU_RECEIVED,
    SU_VERIFIED,
    SU_REQUEST_ID,
    SU_REFERENCE
};

static const char *SQL_PARTICIPANT =
    "SELECT nik, name, to_char(birth_date, 'YYYY-MM-DD'), sex, "
    "    to_char((created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
    "    to_char((updated_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
    "FROM participants "
    "WHERE nik = $1";
enum { PA_NIK, PA_NAME, PA_BIRTH, PA_SEX, PA_CREATED, PA_UPDATED };

static const char *SQL_PARTICIPANT_ENROLMENTS =
    "SELECT e.id, p.code, e.village_code, e.funding_source, e.payer_code, "
    "    to_char(e.start_month, 'YYYY-MM'), to_char(e.end_month, 'YYYY-MM'), e.status, "
    "    e.end_reason, a.submission_id, "
    "    to_char((e.created_at) AT TIME ZONE 'UTC', "
    "            'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
    "    (SELECT count(*) FROM accruals x WHERE x.enrolment_id = e.id), "
    "    (SELECT coalesce(sum(x.amount), 0) FROM accruals x WHERE x.enrolment_id = e.id) "
    "FROM enrolments e "
    "JOIN programs p ON p.id = e.program_id "
    "JOIN applicants a ON a.id = e.applicant_id "
    "WHERE e.nik = $1 "
    /* every status, spelt out: see 008_verify_speed.sql */
    "  AND (e.status = 'active' OR e.status = 'ended') "
    "ORDER BY e.created_at, e.id";
enum {
    PE_ID,
    PE_PROGRAM,
    PE_VILLAGE,
    PE_FUNDING,
    PE_PAYER,
    PE_START,
    PE_END,
    PE_STATUS,
    PE_END_REASON,
    PE_SUBMISSION,
    PE_CREATED,
    PE_MONTHS,
    PE_AMOUNT
};

static const char *SQL_PARTICIPANT_APPLICATIONS =
    "SELECT a.submission_id, p.code, s.village_code, a.decision, "
    "    (SELECT string_agg(r->>'code', ',') FROM jsonb_array_elements(a.reasons) r), "
    "    to_char((s.received_at) AT TIME ZONE 'UTC', "
    "            'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
    "    to_char((a.decided_at) AT TIME ZONE 'UTC', "
    "            'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
    "FROM applicants a "
    "JOIN submissions s ON s.id = a.submission_id "
    "JOIN programs p ON p.id = s.program_id "
    "WHERE a.nik = $1 "
    "ORDER BY s.received_at DESC, a.id "
    "LIMIT 100";
enum {
    AP_SUBMISSION,
    AP_PROGRAM,
    AP_VILLAGE,
    AP_DECISION,
    AP_REASONS,
    AP_RECEIVED,
    AP_DECIDED
};

/* ------------------------------------------------------------ shared helpers */

db_t *ops_connect(const char *command)
{
    db_t *db = db_new(config_str("LINDUNG_DB", "dbname=lindung"));
    if (!db) {
        fprintf(stderr, "lindungctl %s: out of memory\n", command);
        return NULL;
    }
    if (db_conn(db))
        return db;
    fprintf(stderr, "lindungctl %s: cannot connect to PostgreSQL: %s\n", command,
            db_error(db));
    db_destroy(&db);
    return NULL;
}

int ops_print_json(cJSON *doc)
{
    return session_print_json(doc) == 0 ? OPS_OK : OPS_FAILED;
}

void ops_nik(const ops_args_t *args, const char *nik, char *out, size_t cap)
{
    char masked[NIK_MASKED_LEN + 1];
    if (args->unmasked) {
        snprintf(out, cap, "%s", nik);
        return;
    }
    nik_mask(nik, masked);
    snprintf(out, cap, "%s", masked);
}

void ops_text(const ops_args_t *args, const char *text, char *out, size_t cap)
{
    if (args->unmasked)
        snprintf(out, cap, "%s", text);
    else
        nik_mask_text(text, out, cap);
}

void ops_age(double seconds, char *out, size_t cap)
{
    long s = seconds > 0 ? (long)seconds : 0;
    if (s >= 86400)
        snprintf(out, cap, "%ldd %02ldh", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        snprintf(out, cap, "%ldh %02ldm", s / 3600, s % 3600 / 60);
    else if (s >= 60)
        snprintf(out, cap, "%ldm %02lds", s / 60, s % 60);
    else
        snprintf(out, cap, "%lds", s);
}

const char *ops_val(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
}

bool ops_add_text(const ops_args_t *args, cJSON *obj, const char *key, const PGresult *r,
                  int row, int col)
{
    if (PQgetisnull(r, row, col))
        return cJSON_AddNullToObject(obj, key) != NULL;
    char text[512];
    ops_text(args, PQgetvalue(r, row, col), text, sizeof text);
    return cJSON_AddStringToObject(obj, key, text) != NULL;
}

/* ------------------------------------------------------------ options */

static bool takes_value(const char *flag)
{
    return strcmp(flag, "--village") == 0 || strcmp(flag, "--program") == 0 ||
           strcmp(flag, "--status") == 0 || strcmp(flag, "--limit") == 0;
}

static void set_value(ops_args_t *args, const char *flag, const char *value)
{
    if (strcmp(flag, "--village") == 0)
        args->village = value;
    else if (strcmp(flag, "--program") == 0)
        args->program = value;
    else if (strcmp(flag, "--status") == 0)
        args->status = value;
    else
        args->limit = value;
}

/* -1 (with a message) on an unknown option or a missing value. */
static int parse_args(int argc, char **argv, ops_args_t *args)
{
    memset(args, 0, sizeof *args);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            args->json = true;
        } else if (strcmp(a, "--unmasked") == 0) {
            args->unmasked = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            args->help = true;
        } else if (takes_value(a)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "lindungctl %s: %s needs a value\n", argv[0], a);
                return -1;
            }
            set_value(args, a, argv[++i]);
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "lindungctl %s: unknown option %s\n", argv[0], a);
            return -1;
        } else if (args->npositional < OPS_MAX_POSITIONAL) {
            args->positional[args->npositional++] = a;
        } else {
            fprintf(stderr, "lindungctl %s: too many arguments\n", argv[0]);
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ submissions */

static bool status_valid(const char *s)
{
    return !s || strcmp(s, "received") == 0 || strcmp(s, "verifying") == 0 ||
           strcmp(s, "verified") == 0;
}

static bool limit_valid(const char *s)
{
    char *end = NULL;
    long n = strtol(s, &end, 10);
    return end != s && *end == '\0' && n >= 1 && n <= MAX_LIMIT;
}

static const pgjson_col_t SUBMISSION_HEAD[] = {{"submission_id", SU_ID, PGJSON_TEXT},
                                               {"program_code", SU_PROGRAM, PGJSON_TEXT},
                                               {"village_code", SU_VILLAGE, PGJSON_TEXT},
                                               {"status", SU_STATUS, PGJSON_TEXT},
                                               {"applicants", SU_APPLICANTS, PGJSON_INT}};
static const pgjson_col_t SUBMISSION_COUNTS[] = {{"accepted", SU_ACCEPTED, PGJSON_INT},
                                                 {"rejected", SU_REJECTED, PGJSON_INT},
                                                 {"pending", SU_PENDING, PGJSON_INT}};
static const pgjson_col_t SUBMISSION_TIMES[] = {
    {"received_at", SU_RECEIVED, PGJSON_TEXT}, {"verified_at", SU_VERIFIED, PGJSON_TEXT}};

static cJSON *submission_json(const PGresult *r, int i, const void *args)
{
    cJSON *o = pgjson_row(r, i, SUBMISSION_HEAD, PGJSON_NCOLS(SUBMISSION_HEAD));
    return pgjson_whole(o, o &&
                               pgjson_put(o, "counts",
                                          pgjson_row(r, i, SUBMISSION_COUNTS,
                                                     PGJSON_NCOLS(SUBMISSION_COUNTS))) &&
                               pgjson_add_cols(o, r, i, SUBMISSION_TIMES,
                                               PGJSON_NCOLS(SUBMISSION_TIMES)) &&
                               ops_add_text(args, o, "request_id", r, i, SU_REQUEST_ID) &&
                               ops_add_text(args, o, "reference", r, i, SU_REFERENCE));
}

static int submissions_print(const ops_args_t *args, const PGresult *r)
{
    int n = PQntuples(r);
    if (args->json) {
        return ops_print_json(pgjson_rows(r, submission_json, args));
    }
    printf("%-36s  %-16s  %-14s  %-9s  %5s  %5s  %5s  %5s  %s\n", "SUBMISSION", "PROGRAM",
           "VILLAGE", "STATUS", "TOTAL", "ACC", "REJ", "PEND", "RECEIVED (UTC)");
    for (int i = 0; i < n; i++)
        printf("%-36s  %-16s  %-14s  %-9s  %5s  %5s  %5s  %5s  %s\n",
               PQgetvalue(r, i, SU_ID), PQgetvalue(r, i, SU_PROGRAM),
               PQgetvalue(r, i, SU_VILLAGE), PQgetvalue(r, i, SU_STATUS),
               PQgetvalue(r, i, SU_APPLICANTS), PQgetvalue(r, i, SU_ACCEPTED),
               PQgetvalue(r, i, SU_REJECTED), PQgetvalue(r, i, SU_PENDING),
               PQgetvalue(r, i, SU_RECEIVED));
    printf("(%d submission%s)\n", n, n == 1 ? "" : "s");
    return OPS_OK;
}

static int ops_submissions(const ops_args_t *args)
{
    if (args->npositional > 0) {
        fputs(USAGE_SUBMISSIONS, stderr);
        return OPS_USAGE;
    }
    if (!status_valid(args->status)) {
        fprintf(stderr, "lindungctl submissions: --status must be received, verifying "
                        "or verified\n");
        return OPS_USAGE;
    }
    const char *limit = args->limit ? args->limit : DEFAULT_LIMIT;
    if (!limit_valid(limit)) {
        fprintf(stderr, "lindungctl submissions: --limit must be 1 to %d\n", MAX_LIMIT);
        return OPS_USAGE;
    }
    db_t *db = ops_connect("submissions");
    if (!db)
        return OPS_FAILED;
    const char *params[] = {args->village, args->program, args->status, limit};
    PGresult *r = db_exec(db, SQL_SUBMISSIONS, 4, params);
    int rc = OPS_OK;
    if (db_ok(r))
        rc = submissions_print(args, r);
    else {
        fprintf(stderr, "lindungctl submissions: %s\n", db_error(db));
        rc = OPS_FAILED;
    }
    PQclear(r);
    db_destroy(&db);
    return rc;
}

/* ------------------------------------------------------------ participants */

static const pgjson_col_t PARTICIPANT_COLS[] = {{"name", PA_NAME, PGJSON_TEXT},
                                                {"birth_date", PA_BIRTH, PGJSON_TEXT},
                                                {"sex", PA_SEX, PGJSON_TEXT},
                                                {"created_at", PA_CREATED, PGJSON_TEXT},
                                                {"updated_at", PA_UPDATED, PGJSON_TEXT}};

static cJSON *participant_json(const PGresult *r)
{
    if (PQntuples(r) != 1)
        return cJSON_CreateNull();
    return pgjson_row(r, 0, PARTICIPANT_COLS, PGJSON_NCOLS(PARTICIPANT_COLS));
}

static const pgjson_col_t ENROLMENT_COLS[] = {
    {"enrolment_id", PE_ID, PGJSON_INT},
    {"program_code", PE_PROGRAM, PGJSON_TEXT},
    {"village_code", PE_VILLAGE, PGJSON_TEXT},
    {"funding_source", PE_FUNDING, PGJSON_TEXT},
    {"payer_code", PE_PAYER, PGJSON_TEXT},
    {"start_month", PE_START, PGJSON_TEXT},
    {"end_month", PE_END, PGJSON_TEXT},
    {"status", PE_STATUS, PGJSON_TEXT},
    {"end_reason", PE_END_REASON, PGJSON_TEXT},
    {"submission_id", PE_SUBMISSION, PGJSON_TEXT},
    {"created_at", PE_CREATED, PGJSON_TEXT},
    {"accrued_months", PE_MONTHS, PGJSON_INT},
    {"accrued_amount", PE_AMOUNT, PGJSON_INT}};

static const pgjson_col_t APPLICATION_HEAD[] = {
    {"submission_id", AP_SUBMISSION, PGJSON_TEXT},
    {"program_code", AP_PROGRAM, PGJSON_TEXT},
    {"village_code", AP_VILLAGE, PGJSON_TEXT},
    {"decision", AP_DECISION, PGJSON_TEXT}};
static const pgjson_col_t APPLICATION_TIMES[] = {
    {"received_at", AP_RECEIVED, PGJSON_TEXT}, {"decided_at", AP_DECIDED, PGJSON_TEXT}};

/* The comma-separated codes of a column as an array of strings; NULL when
 * out of memory. */
static cJSON *codes_json(const char *text)
{
    cJSON *codes = cJSON_CreateArray();
    char *copy = strdup(text);
    bool ok = codes && copy;
    for (char *save = NULL, *tok = ok ? strtok_r(copy, ",", &save) : NULL; ok && tok;
         tok = strtok_r(NULL, ",", &save))
        ok = pgjson_append(codes, cJSON_CreateString(tok));
    free(copy);
    return pgjson_whole(codes, ok);
}

static cJSON *application_json(const PGresult *r, int i, const void *ctx)
{
    (void)ctx;
    cJSON *o = pgjson_row(r, i, APPLICATION_HEAD, PGJSON_NCOLS(APPLICATION_HEAD));
    return pgjson_whole(
        o,
        o && pgjson_put(o, "reasons", codes_json(ops_val(r, i, AP_REASONS))) &&
            pgjson_add_cols(o, r, i, APPLICATION_TIMES, PGJSON_NCOLS(APPLICATION_TIMES)));
}

typedef struct {
    PGresult *person, *enrolments, *applications;
} person_t;

static void person_clear(person_t *p)
{
    PQclear(p->person);
    PQclear(p->enrolments);
    PQclear(p->applications);
}

static bool person_load(db_t *db, const char *nik, person_t *p)
{
    const char *params[] = {nik};
    p->person = db_exec(db, SQL_PARTICIPANT, 1, params);
    p->enrolments =
        db_ok(p->person) ? db_exec(db, SQL_PARTICIPANT_ENROLMENTS, 1, params) : NULL;
    p->applications = db_ok(p->enrolments)
                          ? db_exec(db, SQL_PARTICIPANT_APPLICATIONS, 1, params)
                          : NULL;
    return db_ok(p->applications);
}

static bool person_found(const person_t *p)
{
    return PQntuples(p->person) > 0 || PQntuples(p->applications) > 0;
}

static int person_print_json(const ops_args_t *args, const char *nik, const person_t *p)
{
    char shown[NIK_LEN + 1];
    ops_nik(args, nik, shown, sizeof shown);
    cJSON *doc = cJSON_CreateObject();
    bool ok = doc && cJSON_AddStringToObject(doc, "nik", shown) &&
              cJSON_AddBoolToObject(doc, "masked", !args->unmasked) &&
              cJSON_AddBoolToObject(doc, "found", person_found(p)) &&
              pgjson_put(doc, "participant", participant_json(p->person)) &&
              pgjson_put(doc, "enrolments",
                         pgjson_table(p->enrolments, ENROLMENT_COLS,
                                      PGJSON_NCOLS(ENROLMENT_COLS))) &&
              pgjson_put(doc, "applications",
                         pgjson_rows(p->applications, application_json, NULL));
    return ops_print_json(pgjson_whole(doc, ok));
}

static int person_print_text(const ops_args_t *args, const char *nik, const person_t *p)
{
    char shown[NIK_LEN + 1], name[256], money[48];
    ops_nik(args, nik, shown, sizeof shown);
    if (PQntuples(p->person) == 1) {
        ops_text(args, PQgetvalue(p->person, 0, PA_NAME), name, sizeof name);
        printf("NIK %s  %s  born %s  sex %s  (participant since %s)\n", shown, name,
               PQgetvalue(p->person, 0, PA_BIRTH), PQgetvalue(p->person, 0, PA_SEX),
               PQgetvalue(p->person, 0, PA_CREATED));
    } else {
        printf("NIK %s  not a participant\n", shown);
    }
    const PGresult *e = p->enrolments;
    printf("\nenrolments: %d\n", PQntuples(e));
    for (int i = 0; i < PQntuples(e); i++) {
        money_format_rp(strtoll(PQgetvalue(e, i, PE_AMOUNT), NULL, 10), money,
                        sizeof money);
        printf(
            "  #%-6s %-7s %-16s %-14s %-9s payer %-14s from %s%s%s  accrued %s month(s), "
            "%s\n",
            PQgetvalue(e, i, PE_ID), PQgetvalue(e, i, PE_STATUS),
            PQgetvalue(e, i, PE_PROGRAM), PQgetvalue(e, i, PE_VILLAGE),
            PQgetvalue(e, i, PE_FUNDING), PQgetvalue(e, i, PE_PAYER),
            PQgetvalue(e, i, PE_START), PQgetisnull(e, i, PE_END) ? "" : " to ",
            ops_val(e, i, PE_END), PQgetvalue(e, i, PE_MONTHS), money);
    }
    const PGresult *a = p->applications;
    printf("\napplications: %d\n", PQntuples(a));
    for (int i = 0; i < PQntuples(a); i++)
        printf("  %s  %-36s  %-16s  %-14s  %-8s  %s\n", PQgetvalue(a, i, AP_RECEIVED),
               PQgetvalue(a, i, AP_SUBMISSION), PQgetvalue(a, i, AP_PROGRAM),
               PQgetvalue(a, i, AP_VILLAGE), PQgetvalue(a, i, AP_DECISION),
               ops_val(a, i, AP_REASONS));
    return OPS_OK;
}

static int ops_participants(const ops_args_t *args)
{
    char nik[NIK_LEN + 1];
    if (args->npositional != 1) {
        fputs(USAGE_PARTICIPANTS, stderr);
        return OPS_USAGE;
    }
    if (!args_nik_digits(args->positional[0], nik)) {
        fprintf(stderr, "lindungctl participants: a NIK is 16 digits\n");
        return OPS_USAGE;
    }
    db_t *db = ops_connect("participants");
    if (!db)
        return OPS_FAILED;
    person_t p = {0};
    int rc = OPS_FAILED;
    if (!person_load(db, nik, &p))
        fprintf(stderr, "lindungctl participants: %s\n", db_error(db));
    else {
        rc = args->json ? person_print_json(args, nik, &p)
                        : person_print_text(args, nik, &p);
        if (rc == OPS_OK && !person_found(&p))
            rc = OPS_FAILED;
    }
    person_clear(&p);
    db_destroy(&db);
    return rc;
}

/* ------------------------------------------------------------ dispatch */

void ops_usage(FILE *out)
{
    fputs(
        "  status [--json]                      daemons' readiness, queue, decisions,\n"
        "                                       last billing run\n"
        "  submissions [--village CODE] [--program CODE] [--status S] [--limit N]\n"
        "              [--json]                 newest submissions first\n"
        "  participants NIK [--unmasked] [--json]\n"
        "                                       a person's enrolments and applications\n"
        "                                       (NIK masked unless --unmasked)\n"
        "  trace SUBMISSION_ID [--unmasked] [--json]\n"
        "                                       a submission's path with timestamps\n",
        out);
}

typedef struct {
    const char *name;
    const char *usage;
    int (*run)(const ops_args_t *);
} command_t;

static const command_t commands[] = {
    {"status", USAGE_STATUS, ops_status},
    {"submissions", USAGE_SUBMISSIONS, ops_submissions},
    {"participants", USAGE_PARTICIPANTS, ops_participants},
    {"trace", USAGE_TRACE, ops_trace},
};

int ops_main(int argc, char **argv)
{
    const command_t *cmd = NULL;
    for (size_t i = 0; argc > 0 && i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[0], commands[i].name) == 0)
            cmd = &commands[i];
    if (!cmd) {
        fprintf(stderr, "lindungctl: unknown command %s\n", argc > 0 ? argv[0] : "");
        return OPS_USAGE;
    }
    ops_args_t args;
    if (parse_args(argc, argv, &args) != 0) {
        fputs(cmd->usage, stderr);
        return OPS_USAGE;
    }
    if (args.help) {
        fputs(cmd->usage, stdout);
        return OPS_OK;
    }
    return cmd->run(&args);
}
