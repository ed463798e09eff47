/* claims: the claims register for operators (docs/lifecycle.md, "Claims").
 * JKM claims open by themselves when a death is recorded
 * (db/migrations/018_claims.sql); JKK claims are recorded here or over the
 * API. Every rule (who is covered, which step may follow which, dates and
 * amounts) is in the database functions claim_open_jkk() and claim_step(),
 * the ones intake's /v1/claims uses. The report reads the view loss_ratio:
 * claims paid against premiums paid, in basis points rounded half up, in
 * integer arithmetic. Money is int64 rupiah, never a double except as a
 * JSON number (exact below 2^53). NIKs are printed masked, and NIK-like
 * digits in free text (what happened, a step's note) too, unless --unmasked
 * (docs/operations.md, "lindungctl for operators"). */
#include "claims.h"
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "audit.h"
#include "date.h"
#include "db.h"
#include "money.h"
#include "nik.h"
#include "period.h"
#include "pgjson.h"
#include "session.h"

#define MAX_AMOUNT_DIGITS 13 /* up to Rp 1,000,000,000,000 */
#define MAX_AMOUNT 1000000000000LL

/* Each with its audit record in the same statement ($5 or $6 the operator,
 * then the invocation; audit.h). */
static const char *SQL_OPEN_JKK =
    "WITH r AS MATERIALIZED ("
    "    SELECT result, claim_id "
    "    FROM claim_open_jkk($1, $2::date, $3, $4::bigint, 'lindungctl', 'admin', '')), "
    "  au AS (INSERT INTO audit_log (actor_kind, actor, action, object, nik_hashes, "
    "              request_id, detail) "
    "         SELECT 'operator', $5, 'claim.create', r.claim_id::text, "
    "             ARRAY[audit_nik_hash($1)], $6, jsonb_build_object('kind', 'JKK') "
    "         FROM r "
    "         WHERE r.result = 'ok') "
    "SELECT * FROM r";
enum { OJ_RESULT, OJ_CLAIM };

static const char *SQL_STEP =
    "WITH r AS MATERIALIZED ("
    "    SELECT result, status "
    "    FROM claim_step($1::bigint, $2, $3::date, $4::bigint, $5, 'lindungctl')), "
    "  au AS (INSERT INTO audit_log (actor_kind, actor, action, object, nik_hashes, "
    "              request_id, detail) "
    "         SELECT 'operator', $6, 'claim.step', $1::text, "
    "             ARRAY(SELECT audit_nik_hash(c.nik) FROM claims c "
    "                   WHERE c.id = $1::bigint), "
    "             $7, jsonb_build_object('status', $2::text) "
    "         FROM r "
    "         WHERE r.result = 'ok') "
    "SELECT * FROM r";
enum { ST_RESULT, ST_STATUS };

/* $1 status, $2 kind, $3 regency; the newest first, at most 1000. */
static const char *SQL_LIST =
    "SELECT c.id, c.kind, c.status, to_char(c.status_on, 'YYYY-MM-DD'), c.nik, p.code, "
    "    c.village_code, to_char(c.event_date, 'YYYY-MM-DD'), c.amount_claimed, "
    "    coalesce(c.amount_paid, 0), coalesce(c.accident_kind, '') "
    "FROM claims c "
    "JOIN programs p ON p.id = c.program_id "
    "WHERE ($1::text IS NULL OR c.status = $1) "
    "  AND ($2::text IS NULL OR c.kind = $2) "
    "  AND ($3::text IS NULL OR c.regency_code = $3) "
    "ORDER BY c.id DESC "
    "LIMIT 1000";
enum {
    CL_ID,
    CL_KIND,
    CL_STATUS,
    CL_STATUS_ON,
    CL_NIK,
    CL_PROGRAM,
    CL_VILLAGE,
    CL_EVENT,
    CL_CLAIMED,
    CL_PAID,
    CL_ACCIDENT
};

static const char *SQL_STEPS =
    "SELECT status, to_char(on_date, 'YYYY-MM-DD'), coalesce(amount, 0), "
    "    coalesce(note, ''), source "
    "FROM claim_steps "
    "WHERE claim_id = $1::bigint "
    "ORDER BY id";
enum { SS_STATUS, SS_DATE, SS_AMOUNT, SS_NOTE, SS_SOURCE };

/* Totals over the months asked for, per programme and regency, and the
 * ratio of claims paid to premiums paid in basis points (half up). */
static const char *SQL_REPORT =
    "SELECT program_code, regency_code, min(to_char(month, 'YYYY-MM')), "
    "    max(to_char(month, 'YYYY-MM')), sum(premiums_billed)::bigint, "
    "    sum(premiums_paid)::bigint, sum(claims_paid)::bigint, "
    "    CASE WHEN sum(premiums_paid) > 0 "
    "         THEN div(sum(claims_paid) * 20000 + sum(premiums_paid), "
    "                  2 * sum(premiums_paid))::bigint END "
    "FROM loss_ratio "
    "WHERE ($1::text IS NULL OR regency_code = $1) "
    "  AND ($2::text IS NULL OR program_code = $2) "
    "  AND ($3::date IS NULL OR month >= $3::date) "
    "  AND ($4::date IS NULL OR month <= $4::date) "
    "GROUP BY program_code, regency_code "
    "ORDER BY program_code, regency_code";
enum { P_PROGRAM, P_REGENCY, P_FIRST, P_LAST, P_BILLED, P_PAID, P_CLAIMS, P_BP };

static const char *SQL_REPORT_CLAIMS =
    "SELECT coalesce(sum(claims_reported), 0)::bigint, "
    "    coalesce(sum(jkm_reported), 0)::bigint, "
    "    coalesce(sum(claims_paid), 0)::bigint, "
    "    coalesce(sum(jkm_paid), 0)::bigint "
    "FROM claims_by_month "
    "WHERE program_code = $1 AND regency_code = $2 "
    "  AND ($3::date IS NULL OR month >= $3::date) "
    "  AND ($4::date IS NULL OR month <= $4::date)";
enum { RC_REPORTED, RC_JKM_REPORTED, RC_PAID, RC_JKM_PAID };

static const char *USAGE =
    "       lindungctl claims add --nik NIK --date YYYY-MM-DD --kind TEXT --amount "
    "RUPIAH [--unmasked] [--json]\n"
    "                  record a JKK (work accident) claim\n"
    "       lindungctl claims step ID --status filed|paid|refused --date YYYY-MM-DD\n"
    "                  [--amount RUPIAH] [--note TEXT] [--unmasked] [--json]\n"
    "       lindungctl claims list [--status S] [--kind JKM|JKK] [--regency PP.RR] "
    "[--unmasked] [--json]\n"
    "       lindungctl claims show ID [--unmasked] [--json]\n"
    "       lindungctl claims report [--regency PP.RR] [--program CODE] [--from "
    "YYYY-MM]\n"
    "                  [--to YYYY-MM] [--json]   claims paid against premiums\n"
    "       NIKs, and NIK-like digits in free text, are masked unless --unmasked\n";

void claims_cmd_usage(FILE *out)
{
    fputs(USAGE, out);
}

/* Strict whole rupiah from 1 to MAX_AMOUNT. */
static bool amount_ok(const char *s)
{
    int64_t v;
    return money_parse(s, MAX_AMOUNT_DIGITS, &v) && v >= 1 && v <= MAX_AMOUNT;
}

static bool date_ok(const char *s)
{
    date_t d;
    return s && date_parse(s, &d);
}

/* "2024-03" -> "2024-03-01" in out; NULL (and ok) when absent. */
static const char *month_arg(const char *s, char out[11], bool *ok)
{
    period_t p;
    if (!s)
        return NULL;
    if (!period_parse(s, &p)) {
        *ok = false;
        return NULL;
    }
    date_format(period_first_day(p), out);
    return out;
}

/* How a claim is printed: as JSON or text, NIKs masked or not. */
typedef struct {
    bool json, unmasked;
} claim_view_t;

static claim_view_t claim_view(int argc, char **argv)
{
    return (claim_view_t){args_flag(argc, argv, "--json"),
                          args_flag(argc, argv, "--unmasked")};
}

/* What is printed of free text: NIK-like digit runs masked unless
 * --unmasked. NULL when out of memory. */
static char *shown_text(const claim_view_t *v, const char *s)
{
    return nik_mask_text_copy(s, v->unmasked);
}

/* What is printed of a NIK: masked ("1612******0001") unless --unmasked. */
static void shown_nik(const claim_view_t *v, const char *nik, char out[NIK_LEN + 1])
{
    if (v->unmasked)
        snprintf(out, NIK_LEN + 1, "%s", nik);
    else
        nik_mask(nik, out);
}

/* Replace obj's string field key by `text` (NULL: out of memory), where it
 * stands, so that the keys keep the order of the column table. */
static bool replace_string(cJSON *obj, const char *key, const char *text)
{
    cJSON *item = text ? cJSON_CreateString(text) : NULL;
    if (item && cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item))
        return true;
    cJSON_Delete(item);
    return false;
}

/* A row as its column table writes it, then the NIK and the free-text
 * field `text_key` as shown_nik and shown_text print them. */
static cJSON *masked_row(const claim_view_t *v, const PGresult *r, int i,
                         const pgjson_col_t *cols, size_t ncols, int nik_col,
                         const char *text_key, int text_col)
{
    cJSON *o = pgjson_row(r, i, cols, ncols);
    char nik[NIK_LEN + 1];
    if (nik_col >= 0)
        shown_nik(v, PQgetvalue(r, i, nik_col), nik);
    char *text = o ? shown_text(v, PQgetvalue(r, i, text_col)) : NULL;
    bool ok = text && (nik_col < 0 || replace_string(o, "nik", nik)) &&
              replace_string(o, text_key, text);
    free(text);
    return pgjson_whole(o, ok);
}

/* ---------------------------------------------------------------- show */

static const pgjson_col_t CLAIM_COLS[] = {{"id", CL_ID, PGJSON_INT},
                                          {"kind", CL_KIND, PGJSON_STRING},
                                          {"status", CL_STATUS, PGJSON_STRING},
                                          {"status_on", CL_STATUS_ON, PGJSON_STRING},
                                          {"nik", CL_NIK, PGJSON_STRING},
                                          {"program", CL_PROGRAM, PGJSON_STRING},
                                          {"village_code", CL_VILLAGE, PGJSON_STRING},
                                          {"event_date", CL_EVENT, PGJSON_STRING},
                                          {"amount_claimed", CL_CLAIMED, PGJSON_INT},
                                          {"amount_paid", CL_PAID, PGJSON_INT},
                                          {"accident_kind", CL_ACCIDENT, PGJSON_STRING}};

static cJSON *claim_json(const PGresult *r, int i, const void *ctx)
{
    return masked_row(ctx, r, i, CLAIM_COLS, PGJSON_NCOLS(CLAIM_COLS), CL_NIK,
                      "accident_kind", CL_ACCIDENT);
}

/* False when out of memory (said on stderr). */
static bool claim_print_row(const claim_view_t *v, const PGresult *r, int i)
{
    char claimed[MONEY_TEXT_LEN], paid[MONEY_TEXT_LEN], nik[NIK_LEN + 1];
    char *accident = shown_text(v, PQgetvalue(r, i, CL_ACCIDENT));
    if (!accident) {
        fprintf(stderr, "claims: out of memory\n");
        return false;
    }
    money_column(r, i, CL_CLAIMED, claimed);
    money_column(r, i, CL_PAID, paid);
    shown_nik(v, PQgetvalue(r, i, CL_NIK), nik);
    printf("%-8s %-4s %-10s %-10s %-16s %-22s %-14s %-10s %16s %16s %s\n",
           PQgetvalue(r, i, CL_ID), PQgetvalue(r, i, CL_KIND),
           PQgetvalue(r, i, CL_STATUS), PQgetvalue(r, i, CL_STATUS_ON), nik,
           PQgetvalue(r, i, CL_PROGRAM), PQgetvalue(r, i, CL_VILLAGE),
           PQgetvalue(r, i, CL_EVENT), claimed, paid, accident);
    free(accident);
    return true;
}

static void claim_print_header(void)
{
    printf("%-8s %-4s %-10s %-10s %-16s %-22s %-14s %-10s %16s %16s %s\n", "id", "kind",
           "status", "since", "nik", "program", "village", "event", "claimed", "paid",
           "accident");
}

static const pgjson_col_t STEP_COLS[] = {{"status", SS_STATUS, PGJSON_STRING},
                                         {"date", SS_DATE, PGJSON_STRING},
                                         {"amount", SS_AMOUNT, PGJSON_INT},
                                         {"note", SS_NOTE, PGJSON_STRING},
                                         {"source", SS_SOURCE, PGJSON_STRING}};

static cJSON *step_json(const PGresult *s, int i, const void *ctx)
{
    return masked_row(ctx, s, i, STEP_COLS, PGJSON_NCOLS(STEP_COLS), -1, "note", SS_NOTE);
}

/* False when out of memory (said on stderr). */
static bool steps_print(const claim_view_t *v, const PGresult *s)
{
    printf("steps:\n");
    for (int i = 0; i < PQntuples(s); i++) {
        char amount[MONEY_TEXT_LEN];
        char *note = shown_text(v, PQgetvalue(s, i, SS_NOTE));
        if (!note) {
            fprintf(stderr, "claims: out of memory\n");
            return false;
        }
        money_column(s, i, SS_AMOUNT, amount);
        printf("  %-10s %s %16s  %s  (%s)\n", PQgetvalue(s, i, SS_STATUS),
               PQgetvalue(s, i, SS_DATE), amount, note, PQgetvalue(s, i, SS_SOURCE));
        free(note);
    }
    return true;
}

/* One claim with its steps. */
static int claim_show(db_t *db, const char *id, const claim_view_t *v)
{
    static const char *SQL_ONE_WHERE = " AND c.id = $4::bigint";
    if (!id[0] || strlen(id) > 18 || strspn(id, "0123456789") != strlen(id)) {
        fprintf(stderr, "claims: no claim %s\n", id);
        return 1;
    }
    char sql[2048];
    /* the list's query narrowed to one id: one set of columns to keep right */
    const char *order = strstr(SQL_LIST, "ORDER BY");
    snprintf(sql, sizeof sql, "%.*s%s", (int)(order - SQL_LIST), SQL_LIST, SQL_ONE_WHERE);
    const char *params[] = {NULL, NULL, NULL, id};
    PGresult *r = db_exec(db, sql, 4, params);
    const char *sp[] = {id};
    PGresult *s = db_ok(r) ? db_exec(db, SQL_STEPS, 1, sp) : NULL;
    int rc = 0;
    if (!db_ok(r) || !db_ok(s)) {
        fprintf(stderr, "claims: %s\n", db_error(db));
        rc = 1;
    } else if (PQntuples(r) != 1) {
        fprintf(stderr, "claims: no claim %s\n", id);
        rc = 1;
    } else if (v->json) {
        cJSON *doc = claim_json(r, 0, v);
        rc = session_print_json(
            pgjson_whole(doc, pgjson_put(doc, "steps", pgjson_rows(s, step_json, v))));
    } else {
        claim_print_header();
        rc = claim_print_row(v, r, 0) && steps_print(v, s) ? 0 : 1;
    }
    PQclear(r);
    PQclear(s);
    return rc;
}

/* ---------------------------------------------------------------- add */

static int claims_add(int argc, char **argv)
{
    const char *nik = args_value(argc, argv, "--nik");
    const char *on = args_value(argc, argv, "--date");
    const char *kind = args_value(argc, argv, "--kind");
    const char *amount = args_value(argc, argv, "--amount");
    if (!nik || !date_ok(on) || !kind || !kind[0] || !amount_ok(amount)) {
        fprintf(stderr, "claims add: give --nik NIK --date YYYY-MM-DD --kind TEXT "
                        "--amount RUPIAH (1 to 1000000000000)\n");
        return 2;
    }
    db_t *db = session_db();
    if (!db)
        return 1;
    const char *params[] = {nik, on, kind, amount, audit_operator(), audit_invocation()};
    claim_view_t view = claim_view(argc, argv);
    PGresult *r = db_exec(db, SQL_OPEN_JKK, 6, params);
    int rc = 1;
    if (!db_ok(r) || PQntuples(r) != 1)
        fprintf(stderr, "claims add: %s\n", db_error(db));
    else if (strcmp(PQgetvalue(r, 0, OJ_RESULT), "ok") != 0)
        fprintf(stderr, "claims add: refused: %s\n", PQgetvalue(r, 0, OJ_RESULT));
    else
        rc = claim_show(db, PQgetvalue(r, 0, OJ_CLAIM), &view);
    PQclear(r);
    return rc;
}

/* ---------------------------------------------------------------- step */

static int claims_step(int argc, char **argv)
{
    const char *id = argc > 1 ? argv[1] : NULL;
    const char *status = args_value(argc, argv, "--status");
    const char *on = args_value(argc, argv, "--date");
    const char *amount = args_value(argc, argv, "--amount");
    const char *note = args_value(argc, argv, "--note");
    if (!id || strspn(id, "0123456789") != strlen(id) || !id[0] || strlen(id) > 18 ||
        !status || !date_ok(on) || (amount && !amount_ok(amount))) {
        fprintf(stderr, "claims step: give ID --status filed|paid|refused --date "
                        "YYYY-MM-DD [--amount RUPIAH] [--note TEXT]\n");
        return 2;
    }
    db_t *db = session_db();
    if (!db)
        return 1;
    const char *params[] = {
        id, status, on, amount, note, audit_operator(), audit_invocation()};
    claim_view_t view = claim_view(argc, argv);
    PGresult *r = db_exec(db, SQL_STEP, 7, params);
    int rc = 1;
    if (!db_ok(r) || PQntuples(r) != 1)
        fprintf(stderr, "claims step: %s\n", db_error(db));
    else if (strcmp(PQgetvalue(r, 0, ST_RESULT), "ok") != 0)
        fprintf(stderr, "claims step: refused: %s (the claim is %s)\n",
                PQgetvalue(r, 0, ST_RESULT),
                PQgetisnull(r, 0, ST_STATUS) ? "unknown" : PQgetvalue(r, 0, ST_STATUS));
    else
        rc = claim_show(db, id, &view);
    PQclear(r);
    return rc;
}

/* ---------------------------------------------------------------- list */

static int claims_list(int argc, char **argv)
{
    db_t *db = session_db();
    if (!db)
        return 1;
    const char *params[] = {args_value(argc, argv, "--status"),
                            args_value(argc, argv, "--kind"),
                            args_value(argc, argv, "--regency")};
    PGresult *r = db_exec(db, SQL_LIST, 3, params);
    if (!db_ok(r)) {
        fprintf(stderr, "claims list: %s\n", db_error(db));
        PQclear(r);
        return 1;
    }
    int rc = 0;
    claim_view_t view = claim_view(argc, argv);
    if (view.json) {
        rc = session_print_json(pgjson_rows(r, claim_json, &view));
    } else {
        claim_print_header();
        for (int i = 0; rc == 0 && i < PQntuples(r); i++)
            rc = claim_print_row(&view, r, i) ? 0 : 1;
    }
    PQclear(r);
    return rc;
}

/* ---------------------------------------------------------------- report */

/* The claim counts of one row of the report: reported, of which JKM, paid,
 * of which JKM. */
static PGresult *report_counts(db_t *db, const PGresult *r, int i,
                               const char *const *months)
{
    const char *params[] = {PQgetvalue(r, i, P_PROGRAM), PQgetvalue(r, i, P_REGENCY),
                            months[0], months[1]};
    PGresult *c = db_exec(db, SQL_REPORT_CLAIMS, 4, params);
    if (db_ok(c) && PQntuples(c) == 1)
        return c;
    PQclear(c);
    return NULL;
}

static const pgjson_col_t REPORT_COLS[] = {{"program_code", P_PROGRAM, PGJSON_STRING},
                                           {"regency_code", P_REGENCY, PGJSON_STRING},
                                           {"first_month", P_FIRST, PGJSON_STRING},
                                           {"last_month", P_LAST, PGJSON_STRING},
                                           {"premiums_billed", P_BILLED, PGJSON_INT},
                                           {"premiums_paid", P_PAID, PGJSON_INT},
                                           {"claims_paid", P_CLAIMS, PGJSON_INT},
                                           {"loss_ratio_bp", P_BP, PGJSON_INT}};
static const pgjson_col_t REPORT_COUNT_COLS[] = {
    {"claims_reported", RC_REPORTED, PGJSON_INT},
    {"jkm_reported", RC_JKM_REPORTED, PGJSON_INT},
    {"claims_paid_count", RC_PAID, PGJSON_INT},
    {"jkm_paid_count", RC_JKM_PAID, PGJSON_INT}};

static cJSON *report_row_json(const PGresult *r, int i, const PGresult *c)
{
    cJSON *o = pgjson_row(r, i, REPORT_COLS, PGJSON_NCOLS(REPORT_COLS));
    return pgjson_whole(o, o && (!c || pgjson_add_cols(o, c, 0, REPORT_COUNT_COLS,
                                                       PGJSON_NCOLS(REPORT_COUNT_COLS))));
}

static void report_row_print(const PGresult *r, int i, const PGresult *c)
{
    char billed[MONEY_TEXT_LEN], paid[MONEY_TEXT_LEN], claims[MONEY_TEXT_LEN];
    money_column(r, i, P_BILLED, billed);
    money_column(r, i, P_PAID, paid);
    money_column(r, i, P_CLAIMS, claims);
    const char *bp = PQgetisnull(r, i, P_BP) ? "-" : PQgetvalue(r, i, P_BP);
    printf("%-24s %-6s %s..%s %18s %18s %18s %8s %6s %6s\n", PQgetvalue(r, i, P_PROGRAM),
           PQgetvalue(r, i, P_REGENCY), PQgetvalue(r, i, P_FIRST),
           PQgetvalue(r, i, P_LAST), billed, paid, claims, bp,
           c ? PQgetvalue(c, 0, RC_PAID) : "?", c ? PQgetvalue(c, 0, RC_JKM_PAID) : "?");
}

static int claims_report(int argc, char **argv)
{
    bool ok = true;
    char from[11], to[11];
    const char *months[] = {month_arg(args_value(argc, argv, "--from"), from, &ok),
                            month_arg(args_value(argc, argv, "--to"), to, &ok)};
    if (!ok) {
        fprintf(stderr, "claims report: give --from and --to as YYYY-MM\n");
        return 2;
    }
    db_t *db = session_db();
    if (!db)
        return 1;
    const char *params[] = {args_value(argc, argv, "--regency"),
                            args_value(argc, argv, "--program"), months[0], months[1]};
    PGresult *r = db_exec(db, SQL_REPORT, 4, params);
    if (!db_ok(r)) {
        fprintf(stderr, "claims report: %s\n", db_error(db));
        PQclear(r);
        return 1;
    }
    bool json = args_flag(argc, argv, "--json");
    cJSON *list = json ? cJSON_CreateArray() : NULL;
    ok = !json || list;
    if (!json)
        printf("%-24s %-6s %-16s %18s %18s %18s %8s %6s %6s\n", "program", "regency",
               "months", "premiums billed", "premiums paid", "claims paid", "ratio bp",
               "paid", "JKM");
    for (int i = 0; i < PQntuples(r); i++) {
        PGresult *c = report_counts(db, r, i, months);
        if (json)
            ok = ok && pgjson_append(list, report_row_json(r, i, c));
        else
            report_row_print(r, i, c);
        PQclear(c);
    }
    int rc = 0;
    if (json)
        rc = session_print_json(pgjson_whole(list, ok));
    else
        printf("ratio: claims paid / premiums paid, in basis points (10000 = 100%%), "
               "rounded half up\n");
    PQclear(r);
    return rc;
}

/* ---------------------------------------------------------------- dispatch */

/* `claims show ID [--json]`: an id that is not a number is no claim. */
static int claims_show(int argc, char **argv)
{
    const char *id = argc > 1 ? argv[1] : NULL;
    if (!id || strncmp(id, "--", 2) == 0) {
        fprintf(stderr, "usage: lindungctl claims show ID [--json]\n");
        return 2;
    }
    if (!id[0] || strlen(id) > 18 || strspn(id, "0123456789") != strlen(id)) {
        fprintf(stderr, "claims: no claim %s\n", id);
        return 1;
    }
    db_t *db = session_db();
    claim_view_t view = claim_view(argc, argv);
    return db ? claim_show(db, id, &view) : 1;
}

int claims_cmd_main(int argc, char **argv)
{
    /* argv[0] is "claims" */
    int n = argc - 1;
    char **a = argv + 1;
    if (n < 1 || args_flag(n, a, "--help") || args_flag(n, a, "-h")) {
        fputs(USAGE, n < 1 ? stderr : stdout);
        return n < 1 ? 2 : 0;
    }
    int (*fn)(int, char **) = strcmp(a[0], "add") == 0      ? claims_add
                              : strcmp(a[0], "step") == 0   ? claims_step
                              : strcmp(a[0], "list") == 0   ? claims_list
                              : strcmp(a[0], "report") == 0 ? claims_report
                              : strcmp(a[0], "show") == 0   ? claims_show
                                                            : NULL;
    if (!fn) {
        fputs(USAGE, stderr);
        return 2;
    }
    int rc = fn(n, a); /* each connects once its arguments are checked */
    session_close();
    return rc;
}
