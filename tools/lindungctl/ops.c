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
    "  c.accepted, c.rejected, c.pending, " OPS_TS(
        "s.received_at") ", "
                         "  " OPS_TS(
                             "s.verified_at") ", s.request_id, s.reference "
                                              "FROM (SELECT s.*, p.code AS program_code "
                                              "FROM submissions s "
                                              "      JOIN programs p ON p.id = "
                                              "s.program_id "
                                              "      WHERE ($1::text IS NULL OR "
                                              "s.village_code = $1) "
                                              "        AND ($2::text IS NULL OR p.code = "
                                              "$2) "
                                              "        AND ($3::text IS NULL OR s.status "
                                              "= $3) "
                                              "      ORDER BY s.received_at DESC, s.id "
                                              "LIMIT $4::int) s "
                                              "CROSS JOIN LATERAL ("
                                              "  SELECT count(*) FILTER (WHERE "
                                              "a.decision = 'accepted') AS accepted, "
                                              "         count(*) FILTER (WHERE "
                                              "a.decision = 'rejected') AS rejected, "
                                              "         count(*) FILTER (WHERE "
                                              "a.decision = 'pending') AS pending "
                                              "  FROM applicants a WHERE a.submission_id "
                                              "= s.id) c "
                                              "ORDER BY s.received_at DESC, s.id";

static const char *SQL_PARTICIPANT =
    "SELECT nik, name, to_char(birth_date, 'YYYY-MM-DD'), sex, " OPS_TS(
        "created_at") ", "
                      "  " OPS_TS("updated_at") " FROM participants WHERE nik = $1";

static const char *SQL_PARTICIPANT_ENROLMENTS =
    "SELECT e.id, p.code, e.village_code, e.funding_source, e.payer_code, "
    "  to_char(e.start_month, 'YYYY-MM'), to_char(e.end_month, 'YYYY-MM'), e.status, "
    "  e.end_reason, a.submission_id, " OPS_TS(
        "e.created_at") ", "
                        "  (SELECT count(*) FROM accruals x WHERE x.enrolment_id = "
                        "e.id), "
                        "  (SELECT coalesce(sum(x.amount), 0) FROM accruals x WHERE "
                        "x.enrolment_id = e.id) "
                        "FROM enrolments e JOIN programs p ON p.id = e.program_id "
                        "JOIN applicants a ON a.id = e.applicant_id "
                        "WHERE e.nik = $1 "
                        /* every status, spelt out: see 008_verify_speed.sql */
                        "  AND (e.status = 'active' OR e.status = 'ended') "
                        "ORDER BY e.created_at, e.id";

static const char *SQL_PARTICIPANT_APPLICATIONS =
    "SELECT a.submission_id, p.code, s.village_code, a.decision, "
    "  (SELECT string_agg(r->>'code', ',') FROM jsonb_array_elements(a.reasons) r), "
    "  " OPS_TS("s.received_at") ", " OPS_TS(
        "a.decided_at") " "
                        "FROM applicants a JOIN submissions s ON s.id = a.submission_id "
                        "JOIN programs p ON p.id = s.program_id "
                        "WHERE a.nik = $1 ORDER BY s.received_at DESC, a.id LIMIT 100";

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

static cJSON *submission_json(const ops_args_t *args, const PGresult *r, int i)
{
    static const char *keys[] = {"submission_id", "program_code", "village_code",
                                 "status"};
    cJSON *o = cJSON_CreateObject();
    for (int c = 0; c < 4; c++)
        pgjson_add_text(o, keys[c], r, i, c);
    pgjson_add_int(o, "applicants", r, i, 4);
    cJSON *counts = cJSON_AddObjectToObject(o, "counts");
    pgjson_add_int(counts, "accepted", r, i, 5);
    pgjson_add_int(counts, "rejected", r, i, 6);
    pgjson_add_int(counts, "pending", r, i, 7);
    pgjson_add_text(o, "received_at", r, i, 8);
    pgjson_add_text(o, "verified_at", r, i, 9);
    char text[512];
    for (int c = 10; c <= 11; c++) {
        const char *key = c == 10 ? "request_id" : "reference";
        if (PQgetisnull(r, i, c)) {
            cJSON_AddNullToObject(o, key);
            continue;
        }
        ops_text(args, PQgetvalue(r, i, c), text, sizeof text);
        cJSON_AddStringToObject(o, key, text);
    }
    return o;
}

static int submissions_print(const ops_args_t *args, const PGresult *r)
{
    int n = PQntuples(r);
    if (args->json) {
        cJSON *list = cJSON_CreateArray();
        bool ok = list != NULL;
        for (int i = 0; ok && i < n; i++)
            ok = pgjson_append(list, submission_json(args, r, i));
        return ops_print_json(pgjson_whole(list, ok));
    }
    printf("%-36s  %-16s  %-14s  %-9s  %5s  %5s  %5s  %5s  %s\n", "SUBMISSION", "PROGRAM",
           "VILLAGE", "STATUS", "TOTAL", "ACC", "REJ", "PEND", "RECEIVED (UTC)");
    for (int i = 0; i < n; i++)
        printf("%-36s  %-16s  %-14s  %-9s  %5s  %5s  %5s  %5s  %s\n", PQgetvalue(r, i, 0),
               PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
               PQgetvalue(r, i, 4), PQgetvalue(r, i, 5), PQgetvalue(r, i, 6),
               PQgetvalue(r, i, 7), PQgetvalue(r, i, 8));
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

/* The 16 digits of `input` with spaces, dots and dashes removed; false when
 * it is not 16 digits. Structure beyond that is not checked: an operator may
 * need to look up a NIK that verify rejected. */
static bool nik_digits(const char *input, char out[NIK_LEN + 1])
{
    size_t n = 0;
    for (const char *p = input; *p; p++) {
        if (*p == ' ' || *p == '.' || *p == '-')
            continue;
        if (*p < '0' || *p > '9' || n == NIK_LEN)
            return false;
        out[n++] = *p;
    }
    out[n] = '\0';
    return n == NIK_LEN;
}

static cJSON *participant_json(const PGresult *r)
{
    if (PQntuples(r) != 1)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    pgjson_add_text(o, "name", r, 0, 1);
    pgjson_add_text(o, "birth_date", r, 0, 2);
    pgjson_add_text(o, "sex", r, 0, 3);
    pgjson_add_text(o, "created_at", r, 0, 4);
    pgjson_add_text(o, "updated_at", r, 0, 5);
    return o;
}

static cJSON *enrolments_json(const PGresult *r)
{
    static const char *keys[] = {
        "program_code", "village_code", "funding_source", "payer_code",    "start_month",
        "end_month",    "status",       "end_reason",     "submission_id", "created_at"};
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; i < PQntuples(r); i++) {
        cJSON *o = cJSON_CreateObject();
        pgjson_add_int(o, "enrolment_id", r, i, 0);
        for (int c = 1; c <= 10; c++)
            pgjson_add_text(o, keys[c - 1], r, i, c);
        pgjson_add_int(o, "accrued_months", r, i, 11);
        pgjson_add_int(o, "accrued_amount", r, i, 12);
        cJSON_AddItemToArray(list, o);
    }
    return list;
}

static cJSON *applications_json(const PGresult *r)
{
    static const char *keys[] = {"submission_id", "program_code", "village_code",
                                 "decision"};
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; i < PQntuples(r); i++) {
        cJSON *o = cJSON_CreateObject();
        for (int c = 0; c < 4; c++)
            pgjson_add_text(o, keys[c], r, i, c);
        cJSON *codes = cJSON_AddArrayToObject(o, "reasons");
        char *list_text = strdup(ops_val(r, i, 4));
        if (!list_text) {
            cJSON_Delete(o);
            cJSON_Delete(list);
            return NULL;
        }
        for (char *save = NULL, *tok = strtok_r(list_text, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save))
            cJSON_AddItemToArray(codes, cJSON_CreateString(tok));
        free(list_text);
        pgjson_add_text(o, "received_at", r, i, 5);
        pgjson_add_text(o, "decided_at", r, i, 6);
        cJSON_AddItemToArray(list, o);
    }
    return list;
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
              pgjson_put(doc, "enrolments", enrolments_json(p->enrolments)) &&
              pgjson_put(doc, "applications", applications_json(p->applications));
    return ops_print_json(pgjson_whole(doc, ok));
}

static int person_print_text(const ops_args_t *args, const char *nik, const person_t *p)
{
    char shown[NIK_LEN + 1], name[256], money[48];
    ops_nik(args, nik, shown, sizeof shown);
    if (PQntuples(p->person) == 1) {
        ops_text(args, PQgetvalue(p->person, 0, 1), name, sizeof name);
        printf("NIK %s  %s  born %s  sex %s  (participant since %s)\n", shown, name,
               PQgetvalue(p->person, 0, 2), PQgetvalue(p->person, 0, 3),
               PQgetvalue(p->person, 0, 4));
    } else {
        printf("NIK %s  not a participant\n", shown);
    }
    const PGresult *e = p->enrolments;
    printf("\nenrolments: %d\n", PQntuples(e));
    for (int i = 0; i < PQntuples(e); i++) {
        money_format_rp(strtoll(PQgetvalue(e, i, 12), NULL, 10), money, sizeof money);
        printf(
            "  #%-6s %-7s %-16s %-14s %-9s payer %-14s from %s%s%s  accrued %s month(s), "
            "%s\n",
            PQgetvalue(e, i, 0), PQgetvalue(e, i, 7), PQgetvalue(e, i, 1),
            PQgetvalue(e, i, 2), PQgetvalue(e, i, 3), PQgetvalue(e, i, 4),
            PQgetvalue(e, i, 5), PQgetisnull(e, i, 6) ? "" : " to ", ops_val(e, i, 6),
            PQgetvalue(e, i, 11), money);
    }
    const PGresult *a = p->applications;
    printf("\napplications: %d\n", PQntuples(a));
    for (int i = 0; i < PQntuples(a); i++)
        printf("  %s  %-36s  %-16s  %-14s  %-8s  %s\n", PQgetvalue(a, i, 5),
               PQgetvalue(a, i, 0), PQgetvalue(a, i, 1), PQgetvalue(a, i, 2),
               PQgetvalue(a, i, 3), ops_val(a, i, 4));
    return OPS_OK;
}

static int ops_participants(const ops_args_t *args)
{
    char nik[NIK_LEN + 1];
    if (args->npositional != 1) {
        fputs(USAGE_PARTICIPANTS, stderr);
        return OPS_USAGE;
    }
    if (!nik_digits(args->positional[0], nik)) {
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
