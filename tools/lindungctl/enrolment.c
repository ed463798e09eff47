/* enrolment: `lindungctl enrolment end|transfer|history` and `lindungctl
 * program renewal`. The end month is the last month still covered and
 * billed; it may not be before the enrolment's first month. A NIK may have
 * several active enrolments one after the other (this year's and next
 * year's renewal), never two covering the same month (013_money_rules.sql).
 * NIKs are masked in everything printed. */
#include "enrolment.h"
#include "args.h"
#include "audit.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nik.h"
#include "period.h"
#include "pgjson.h"
#include "region.h"
#include "session.h"

static const char *const REASONS[] = {"death",  "moved",         "left",
                                      "lapsed", "program_ended", NULL};

/* The enrolment covering the month ends with it. */
static const char *SQL_END =
    "UPDATE enrolments "
    "SET status = 'ended', end_month = $2::date, end_reason = $3, ended_at = now() "
    "WHERE nik = $1 AND status = 'active' AND start_month <= $2::date "
    "  AND (end_month IS NULL OR end_month >= $2::date) "
    "RETURNING id, (SELECT code FROM programs p WHERE p.id = program_id), village_code";

/* A later one (a renewal waiting for next year) would cover months after
 * the end: it is cancelled, ending the month before it starts (it then covers
 * nothing), with the same reason. Someone who died does not renew. */
static const char *SQL_CANCEL_LATER =
    "UPDATE enrolments "
    "SET status = 'ended', end_month = (start_month - interval '1 month')::date, "
    "    end_reason = $3, ended_at = now() "
    "WHERE nik = $1 AND status = 'active' AND start_month > $2::date "
    "RETURNING id, (SELECT code FROM programs p WHERE p.id = program_id), village_code, "
    "    to_char(start_month, 'YYYY-MM')";
/* A death ended this way is recorded on the person, as a death reported
 * through the API is (017), so that verify refuses the NIK from now on
 * (DECEASED). The date is the first day of the death month: lindungctl is
 * told the month, not the day (the JKM claim takes the same date, 021). A
 * date already recorded is kept. Someone born in that month died no earlier
 * than their birth date, which is taken instead. Recorded before the end, so
 * that the claim opened by the end (claims_on_deaths) takes the same date. */
static const char *SQL_DECEASED = "UPDATE participants "
                                  "SET deceased_on = greatest($2::date, birth_date), "
                                  "    updated_at = now() "
                                  "WHERE nik = $1 AND deceased_on IS NULL";

/* A death's month may not be before the month the person was born (a typing
 * error, 1925 for 2025, would otherwise cancel every enrolment and credit
 * every month billed, as 037 refuses for death events). One row: whether
 * the month is before the birth month. */
static const char *SQL_BORN = "SELECT date_trunc('month', birth_date)::date > $2::date "
                              "FROM participants WHERE nik = $1";

/* The columns both return; EN_START only SQL_CANCEL_LATER. */
enum { EN_ID, EN_PROGRAM, EN_VILLAGE, EN_START };

/* The transfer and, when made, its audit record ($6 operator, $7 invocation;
 * audit.h) in one statement. */
static const char *SQL_TRANSFER =
    "WITH r AS MATERIALIZED ("
    "    SELECT result, old_enrolment_id, new_enrolment_id, message "
    "    FROM enrolment_transfer($1, $2, $3, $4::date, $5)), "
    "  au AS (INSERT INTO audit_log (actor_kind, actor, action, object, nik_hashes, "
    "              request_id, detail) "
    "         SELECT 'operator', $6, 'enrolment.transfer', r.old_enrolment_id::text, "
    "             ARRAY[audit_nik_hash($1)], $7, "
    "             jsonb_build_object('new_enrolment_id', r.new_enrolment_id, "
    "                                'village', $3::text, 'month', $4::date) "
    "         FROM r "
    "         WHERE r.result = 'ok') "
    "SELECT * FROM r";
enum { TR_RESULT, TR_OLD, TR_NEW, TR_MESSAGE };

static const char *SQL_HISTORY =
    "SELECT e.id, p.code, e.village_code, e.funding_source, e.payer_code, "
    "    to_char(e.start_month, 'YYYY-MM'), "
    "    coalesce(to_char(e.end_month, 'YYYY-MM'), ''), e.status, "
    "    coalesce(e.end_reason, ''), coalesce(e.previous_enrolment_id::text, '') "
    "FROM enrolments e "
    "JOIN programs p ON p.id = e.program_id "
    "WHERE e.nik = $1 "
    /* every status: answered from the exclusion constraint's index, which
     * leads with the NIK (013_money_rules.sql) */
    "ORDER BY e.id";
enum {
    HI_ID,
    HI_PROGRAM,
    HI_VILLAGE,
    HI_FUNDING,
    HI_PAYER,
    HI_START,
    HI_END,
    HI_STATUS,
    HI_REASON,
    HI_PREVIOUS
};

static const char *SQL_RENEWAL_PROGRAM = "SELECT p.id, r.code "
                                         "FROM programs p "
                                         "LEFT JOIN programs r ON r.id = p.renews "
                                         "WHERE p.code = $1";
enum { RP_ID, RP_RENEWS };

/* The applicants a renewal queued (program_renewal_queue, 013), with the
 * enrolment verify made of the accepted ones. */
static const char *SQL_RENEWAL_ITEMS =
    "SELECT a.nik, s.village_code, a.decision, a.reasons::text, a.renews_enrolment_id, "
    "    e.id, to_char(e.start_month, 'YYYY-MM') "
    "FROM submissions s "
    "JOIN applicants a ON a.submission_id = s.id "
    "LEFT JOIN enrolments e ON e.applicant_id = a.id "
    "WHERE s.program_id = $1 AND s.origin = 'renewal' "
    "  AND a.renews_enrolment_id IS NOT NULL "
    "ORDER BY s.village_code, a.id";
enum { RI_NIK, RI_VILLAGE, RI_DECISION, RI_REASONS, RI_RENEWS, RI_ENROLMENT, RI_START };

static bool known_reason(const char *r)
{
    for (const char *const *p = REASONS; r && *p; p++)
        if (strcmp(*p, r) == 0)
            return true;
    return false;
}

/* ---------------------------------------------------------------- end */

/* What an end changed, printed once it is committed. */
static void end_print(const PGresult *covering, const PGresult *later, const char *masked,
                      const char *month, const char *reason)
{
    if (PQntuples(covering) == 1)
        printf("ended enrolment %s of %s (programme %s, village %s) after %s: %s\n",
               PQgetvalue(covering, 0, EN_ID), masked,
               PQgetvalue(covering, 0, EN_PROGRAM), PQgetvalue(covering, 0, EN_VILLAGE),
               month, reason);
    for (int i = 0; i < PQntuples(later); i++)
        printf("cancelled enrolment %s of %s (programme %s, village %s) that was to "
               "start %s: %s\n",
               PQgetvalue(later, i, EN_ID), masked, PQgetvalue(later, i, EN_PROGRAM),
               PQgetvalue(later, i, EN_VILLAGE), PQgetvalue(later, i, EN_START), reason);
}

/* The ids (EN_ID) of r as a JSON array; NULL when out of memory. */
static cJSON *ids_json(const PGresult *r)
{
    cJSON *list = cJSON_CreateArray();
    bool ok = list != NULL;
    for (int i = 0; ok && i < PQntuples(r); i++)
        ok = pgjson_append(list, cJSON_CreateNumber(atof(PQgetvalue(r, i, EN_ID))));
    return pgjson_whole(list, ok);
}

/* The end's audit record, in its transaction (audit.h); false, message
 * printed, when it failed. */
static bool end_record(db_t *db, const nik_t *nik, const PGresult *covering,
                       const PGresult *later, const char *month, const char *reason)
{
    cJSON *detail = cJSON_CreateObject();
    bool ok = detail && cJSON_AddStringToObject(detail, "month", month) &&
              cJSON_AddStringToObject(detail, "reason", reason) &&
              pgjson_put(detail, "ended", ids_json(covering)) &&
              pgjson_put(detail, "cancelled", ids_json(later));
    char *text = ok ? cJSON_PrintUnformatted(detail) : NULL;
    cJSON_Delete(detail);
    if (!text) {
        fprintf(stderr, "enrolment end: out of memory\n");
        return false;
    }
    const PGresult *first = PQntuples(covering) ? covering : later;
    ok =
        audit_record(db, "enrolment.end", PQgetvalue(first, 0, EN_ID), nik->digits, text);
    free(text);
    if (!ok)
        fprintf(stderr, "enrolment end: %s\n", db_error(db));
    return ok;
}

/* The checked command line of `enrolment end`. */
typedef struct {
    nik_t nik;
    period_t p;
    const char *month, *reason;
} end_args_t;

/* false (exit 2) on a usage error, said on stderr. */
static bool end_args(const char *nik_text, const char *month, const char *reason,
                     end_args_t *e)
{
    nik_t nik;
    period_t p;
    if (!nik_text || nik_parse(nik_text, date_today(), &nik) != NIK_OK) {
        fprintf(stderr, "enrolment end: not a valid NIK\n");
        return false;
    }
    if (!month || !period_parse(month, &p)) {
        fprintf(stderr,
                "enrolment end: --month YYYY-MM (the last covered month) is required\n");
        return false;
    }
    if (!known_reason(reason)) {
        fprintf(stderr, "enrolment end: --reason must be death, moved, left, lapsed or "
                        "program_ended\n");
        return false;
    }
    /* other ends may be planned ahead; a death has happened */
    if (strcmp(reason, "death") == 0 && period_compare(p, period_of(date_today())) > 0) {
        fprintf(stderr, "enrolment end: a death's --month cannot be after this month\n");
        return false;
    }
    *e = (end_args_t){.nik = nik, .p = p, .month = month, .reason = reason};
    return true;
}

/* True when a death in `first_day`'s month is possible for the person (or
 * the person is unknown: SQL_END then finds nothing to end). */
static bool death_after_birth(db_t *db, const char *const params[], const char *masked,
                              const char *month)
{
    PGresult *r = db_exec_read(db, SQL_BORN, 2, params);
    bool ok = db_ok(r);
    if (!ok)
        fprintf(stderr, "enrolment end: %s\n", db_error(db));
    else if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
        /* not the birth date: with the masked NIK it gives back most of the
         * digits the mask hides (docs/security.md) */
        fprintf(stderr, "enrolment end: %s was born after %s: check the month\n", masked,
                month);
        ok = false;
    }
    PQclear(r);
    return ok;
}

static int end_one(db_t *db, const end_args_t *e)
{
    const nik_t nik = e->nik;
    const period_t p = e->p;
    const char *month = e->month, *reason = e->reason;
    char first_day[11], masked[NIK_MASKED_LEN + 1];
    date_format(period_first_day(p), first_day);
    nik_mask(nik.digits, masked);
    const char *params[] = {nik.digits, first_day, reason};
    if (strcmp(reason, "death") == 0 && !death_after_birth(db, params, masked, month))
        return 1;
    /* both or neither: a later enrolment is never left running alone */
    bool death = strcmp(reason, "death") == 0;
    bool begun = db_begin(db) && (!death || db_run(db, SQL_DECEASED, 2, params));
    PGresult *covering = begun ? db_exec(db, SQL_END, 3, params) : NULL;
    PGresult *later = db_ok(covering) ? db_exec(db, SQL_CANCEL_LATER, 3, params) : NULL;
    int rc = 0;
    if (!db_ok(later)) {
        fprintf(stderr, "enrolment end: %s\n", db_error(db));
        rc = 1;
    } else if (PQntuples(covering) + PQntuples(later) == 0) {
        fprintf(stderr,
                "enrolment end: %s has no active enrolment covering %s, nor one starting "
                "after it\n",
                masked, month);
        rc = 1;
    }
    if (rc == 0 && !end_record(db, &nik, covering, later, month, reason))
        rc = 1;
    if (rc != 0) {
        db_rollback(db);
    } else if (!db_commit(db)) {
        fprintf(stderr, "enrolment end: %s\n", db_error(db));
        rc = 1;
    } else {
        end_print(covering, later, masked, month, reason);
    }
    PQclear(covering);
    PQclear(later);
    return rc;
}

/* ---------------------------------------------------------------- transfer */

typedef struct {
    nik_t nik;
    char masked[NIK_MASKED_LEN + 1];
    const char *village;
    const char *program; /* NULL: the same programme */
    char month[8];       /* M, "YYYY-MM" */
    char first_day[11];  /* M's first day */
    bool json;
} transfer_args_t;

/* false (exit 2) on a usage error, said on stderr. */
static bool transfer_args(int argc, char **argv, transfer_args_t *t)
{
    const char *nik_text = argc > 2 ? argv[2] : NULL;
    if (!nik_text || nik_parse(nik_text, date_today(), &t->nik) != NIK_OK) {
        fprintf(stderr, "enrolment transfer: not a valid NIK\n");
        return false;
    }
    nik_mask(t->nik.digits, t->masked);
    t->village = args_value(argc, argv, "--village");
    if (!t->village || region_level(t->village) != REGION_VILLAGE) {
        fprintf(stderr, "enrolment transfer: --village PP.RR.DD.VVVV is required\n");
        return false;
    }
    t->program = args_value(argc, argv, "--program");
    const char *month = args_value(argc, argv, "--month");
    /* M defaults to the current month in Asia/Jakarta, as the SQL does */
    period_t p = period_of(date_today());
    if (month && !period_parse(month, &p)) {
        fprintf(stderr, "enrolment transfer: --month must be YYYY-MM (the last month in "
                        "the old village)\n");
        return false;
    }
    period_format(p, t->month);
    date_format(period_first_day(p), t->first_day);
    t->json = args_flag(argc, argv, "--json");
    return true;
}

/* 0, or 1 when the JSON could not be printed. */
static int transfer_print(const transfer_args_t *t, const PGresult *r, bool ok)
{
    if (t->json) {
        cJSON *doc = cJSON_CreateObject();
        return session_print_json(
            pgjson_whole(doc, pgjson_add_text(doc, "result", r, 0, TR_RESULT) &&
                                  cJSON_AddStringToObject(doc, "nik", t->masked) &&
                                  cJSON_AddStringToObject(doc, "month", t->month) &&
                                  pgjson_add_int(doc, "old_enrolment_id", r, 0, TR_OLD) &&
                                  pgjson_add_int(doc, "new_enrolment_id", r, 0, TR_NEW) &&
                                  pgjson_add_text(doc, "message", r, 0, TR_MESSAGE)));
    }
    if (ok)
        printf("transferred %s: %s\n", t->masked, PQgetvalue(r, 0, TR_MESSAGE));
    else
        fprintf(stderr, "enrolment transfer: %s: %s: %s\n", t->masked,
                PQgetvalue(r, 0, TR_RESULT), PQgetvalue(r, 0, TR_MESSAGE));
    return 0;
}

static int transfer(db_t *db, const transfer_args_t *args)
{
    const transfer_args_t t = *args;
    /* who asked, for enrolment_transfers: the tool and the operator's login */
    char source[96];
    const char *user = getenv("USER");
    snprintf(source, sizeof source, "lindungctl%s%.80s", user ? ":" : "",
             user ? user : "");
    const char *params[] = {t.nik.digits,      t.program, t.village,
                            t.first_day,       source,    audit_operator(),
                            audit_invocation()};
    PGresult *r = db_exec(db, SQL_TRANSFER, 7, params);
    if (!db_ok(r) || PQntuples(r) != 1) {
        fprintf(stderr, "enrolment transfer: %s\n", db_error(db));
        PQclear(r);
        return 1;
    }
    bool ok = strcmp(PQgetvalue(r, 0, TR_RESULT), "ok") == 0;
    int printed = transfer_print(&t, r, ok);
    PQclear(r);
    return ok ? printed : 1;
}

/* ---------------------------------------------------------------- history */

static const pgjson_col_t HISTORY_FROM[] = {{"program_code", HI_PROGRAM, PGJSON_STRING},
                                            {"village_code", HI_VILLAGE, PGJSON_STRING},
                                            {"funding_source", HI_FUNDING, PGJSON_STRING},
                                            {"payer_code", HI_PAYER, PGJSON_STRING},
                                            {"start_month", HI_START, PGJSON_STRING}};

/* A coalesced column ('' for none): the text, or null. */
static bool add_or_null(cJSON *o, const char *key, const PGresult *r, int i, int col)
{
    const char *v = PQgetvalue(r, i, col);
    return (v[0] ? cJSON_AddStringToObject(o, key, v) : cJSON_AddNullToObject(o, key)) !=
           NULL;
}

static cJSON *history_row(const PGresult *r, int i, const void *ctx)
{
    (void)ctx;
    const char *previous = PQgetvalue(r, i, HI_PREVIOUS);
    cJSON *o = cJSON_CreateObject();
    return pgjson_whole(
        o,
        o && cJSON_AddNumberToObject(o, "enrolment_id", atof(PQgetvalue(r, i, HI_ID))) &&
            pgjson_add_cols(o, r, i, HISTORY_FROM, PGJSON_NCOLS(HISTORY_FROM)) &&
            add_or_null(o, "end_month", r, i, HI_END) &&
            cJSON_AddStringToObject(o, "status", PQgetvalue(r, i, HI_STATUS)) &&
            add_or_null(o, "end_reason", r, i, HI_REASON) &&
            (previous[0] ? cJSON_AddNumberToObject(o, "previous_enrolment_id",
                                                   atof(previous)) != NULL
                         : cJSON_AddNullToObject(o, "previous_enrolment_id") != NULL));
}

/* false (exit 2) on a usage error, said on stderr. */
static bool history_args(const char *nik_text, nik_t *nik)
{
    if (!nik_text || nik_parse(nik_text, date_today(), nik) != NIK_OK) {
        fprintf(stderr, "enrolment history: not a valid NIK\n");
        return false;
    }
    return true;
}

static int history(db_t *db, const nik_t *nikp, bool json)
{
    const nik_t nik = *nikp;
    const char *params[] = {nik.digits};
    PGresult *r = db_exec(db, SQL_HISTORY, 1, params);
    if (!db_ok(r)) {
        fprintf(stderr, "enrolment history: %s\n", db_error(db));
        PQclear(r);
        return 1;
    }
    if (json) {
        int rc = session_print_json(pgjson_rows(r, history_row, NULL));
        PQclear(r);
        return rc;
    }
    printf("%-8s %-24s %-15s %-10s %-8s %-8s %-7s %-14s %s\n", "ID", "PROGRAMME",
           "VILLAGE", "SOURCE", "FROM", "TO", "STATUS", "REASON", "CONTINUES");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%-8s %-24s %-15s %-10s %-8s %-8s %-7s %-14s %s\n",
               PQgetvalue(r, i, HI_ID), PQgetvalue(r, i, HI_PROGRAM),
               PQgetvalue(r, i, HI_VILLAGE), PQgetvalue(r, i, HI_FUNDING),
               PQgetvalue(r, i, HI_START), PQgetvalue(r, i, HI_END),
               PQgetvalue(r, i, HI_STATUS), PQgetvalue(r, i, HI_REASON),
               PQgetvalue(r, i, HI_PREVIOUS));
    PQclear(r);
    return 0;
}

/* ---------------------------------------------------------------- renewal */

typedef struct {
    long queued, pending, accepted, rejected;
} renewal_counts_t;

static void renewal_count(renewal_counts_t *n, const char *decision)
{
    n->queued++;
    if (strcmp(decision, "accepted") == 0)
        n->accepted++;
    else if (strcmp(decision, "rejected") == 0)
        n->rejected++;
    else
        n->pending++;
}

/* "CODE: message; CODE: message" from a reasons array. */
static void reasons_text(const char *json, char *out, size_t cap)
{
    cJSON *list = cJSON_Parse(json);
    size_t used = 0;
    out[0] = '\0';
    const cJSON *r;
    cJSON_ArrayForEach(r, list)
    {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(r, "code");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(r, "message");
        int n = snprintf(out + used, cap - used, "%s%s: %s", used ? "; " : "",
                         cJSON_IsString(code) ? code->valuestring : "?",
                         cJSON_IsString(msg) ? msg->valuestring : "");
        if (n < 0 || (size_t)n >= cap - used)
            break;
        used += (size_t)n;
    }
    cJSON_Delete(list);
}

static const pgjson_col_t RENEWAL_DECISION[] = {{"village_code", RI_VILLAGE, PGJSON_TEXT},
                                                {"decision", RI_DECISION, PGJSON_TEXT}};
static const pgjson_col_t RENEWAL_ENROLMENT[] = {
    {"renews_enrolment_id", RI_RENEWS, PGJSON_INT},
    {"enrolment_id", RI_ENROLMENT, PGJSON_INT},
    {"start_month", RI_START, PGJSON_TEXT}};

/* The applicant's reasons as stored, or [] when they cannot be read; NULL
 * when out of memory. */
static cJSON *reasons_json(const char *text)
{
    cJSON *reasons = cJSON_Parse(text);
    return reasons ? reasons : cJSON_CreateArray();
}

static cJSON *renewal_item(const PGresult *r, int i)
{
    char masked[NIK_MASKED_LEN + 1];
    nik_mask(PQgetvalue(r, i, RI_NIK), masked);
    cJSON *o = cJSON_CreateObject();
    return pgjson_whole(
        o,
        o && cJSON_AddStringToObject(o, "nik", masked) &&
            pgjson_add_cols(o, r, i, RENEWAL_DECISION, PGJSON_NCOLS(RENEWAL_DECISION)) &&
            pgjson_put(o, "reasons", reasons_json(PQgetvalue(r, i, RI_REASONS))) &&
            pgjson_add_cols(o, r, i, RENEWAL_ENROLMENT, PGJSON_NCOLS(RENEWAL_ENROLMENT)));
}

static cJSON *renewal_counts_json(const renewal_counts_t *n)
{
    cJSON *o = cJSON_CreateObject();
    return pgjson_whole(o,
                        o && cJSON_AddNumberToObject(o, "queued", (double)n->queued) &&
                            cJSON_AddNumberToObject(o, "pending", (double)n->pending) &&
                            cJSON_AddNumberToObject(o, "accepted", (double)n->accepted) &&
                            cJSON_AddNumberToObject(o, "rejected", (double)n->rejected));
}

static int renewal_json(const char *code, const PGresult *p, const PGresult *r)
{
    renewal_counts_t n = {0};
    cJSON *items = cJSON_CreateArray();
    bool listed = items != NULL;
    for (int i = 0; listed && i < PQntuples(r); i++) {
        listed = pgjson_append(items, renewal_item(r, i));
        renewal_count(&n, PQgetvalue(r, i, RI_DECISION));
    }
    cJSON *doc = cJSON_CreateObject();
    bool ok = doc && listed && cJSON_AddStringToObject(doc, "program_code", code) &&
              pgjson_add_text(doc, "renews", p, 0, RP_RENEWS);
    if (!ok)
        cJSON_Delete(items); /* else pgjson_put takes it, whatever happens */
    ok = ok && pgjson_put(doc, "items", items) &&
         pgjson_put(doc, "counts", renewal_counts_json(&n));
    return session_print_json(pgjson_whole(doc, ok));
}

static void renewal_text(const char *code, const PGresult *p, const PGresult *r)
{
    renewal_counts_t n = {0};
    if (PQgetisnull(p, 0, RP_RENEWS))
        printf("programme %s renews no programme\n", code);
    else
        printf("programme %s renews %s\n", code, PQgetvalue(p, 0, RP_RENEWS));
    printf("%-14s %-15s %-9s %-7s %s\n", "NIK", "VILLAGE", "DECISION", "FROM", "REASONS");
    for (int i = 0; i < PQntuples(r); i++) {
        char masked[NIK_MASKED_LEN + 1], reasons[1024];
        nik_mask(PQgetvalue(r, i, RI_NIK), masked);
        reasons_text(PQgetvalue(r, i, RI_REASONS), reasons, sizeof reasons);
        printf("%-14s %-15s %-9s %-7s %s\n", masked, PQgetvalue(r, i, RI_VILLAGE),
               PQgetvalue(r, i, RI_DECISION), PQgetvalue(r, i, RI_START), reasons);
        renewal_count(&n, PQgetvalue(r, i, RI_DECISION));
    }
    printf("%ld queued: %ld pending, %ld accepted, %ld rejected\n", n.queued, n.pending,
           n.accepted, n.rejected);
}

int enrolment_renewal_list(db_t *db, const char *code, bool json)
{
    const char *pp[] = {code};
    PGresult *p = db_exec(db, SQL_RENEWAL_PROGRAM, 1, pp);
    if (!db_ok(p) || PQntuples(p) != 1) {
        fprintf(stderr, "program renewal: %s\n",
                db_ok(p) ? "no such programme" : db_error(db));
        PQclear(p);
        return 1;
    }
    const char *ip[] = {PQgetvalue(p, 0, RP_ID)};
    PGresult *r = db_exec(db, SQL_RENEWAL_ITEMS, 1, ip);
    int rc = 0;
    if (!db_ok(r)) {
        fprintf(stderr, "program renewal: %s\n", db_error(db));
        rc = 1;
    } else if (json) {
        rc = renewal_json(code, p, r);
    } else {
        renewal_text(code, p, r);
    }
    PQclear(r);
    PQclear(p);
    return rc;
}

/* ---------------------------------------------------------------- dispatch */

static const char *ENROLMENT_USAGE =
    "usage: lindungctl enrolment end NIK --month YYYY-MM --reason REASON\n"
    "       lindungctl enrolment transfer NIK --village CODE [--program CODE]\n"
    "                                      [--month YYYY-MM] [--json]\n"
    "       lindungctl enrolment history NIK [--json]\n";

/* The command line of one subcommand, checked before anything connects. */
typedef struct {
    enum { E_NONE, E_END, E_TRANSFER, E_HISTORY } verb;
    end_args_t end;
    transfer_args_t transfer;
    nik_t nik;
    bool json;
} enrolment_args_t;

/* ARGS_OK with a, or ARGS_USAGE (said on stderr). */
static int enrolment_args(int argc, char **argv, enrolment_args_t *a)
{
    const char *verb = argc > 1 ? argv[1] : "";
    const char *what = argc > 2 ? argv[2] : NULL;
    memset(a, 0, sizeof *a);
    a->json = args_flag(argc, argv, "--json");
    if (strcmp(verb, "end") == 0 && what) {
        a->verb = E_END;
        return end_args(what, args_value(argc, argv, "--month"),
                        args_value(argc, argv, "--reason"), &a->end)
                   ? ARGS_OK
                   : ARGS_USAGE;
    }
    if (strcmp(verb, "transfer") == 0) {
        a->verb = E_TRANSFER;
        return transfer_args(argc, argv, &a->transfer) ? ARGS_OK : ARGS_USAGE;
    }
    if (strcmp(verb, "history") == 0) {
        a->verb = E_HISTORY;
        return history_args(what, &a->nik) ? ARGS_OK : ARGS_USAGE;
    }
    return args_usage(ENROLMENT_USAGE);
}

int enrolment_main(int argc, char **argv)
{
    enrolment_args_t a;
    int rc = enrolment_args(argc, argv, &a);
    if (rc != ARGS_OK)
        return rc;
    db_t *db = session_connect();
    if (!db)
        return ARGS_FAILED;
    rc = a.verb == E_END        ? end_one(db, &a.end)
         : a.verb == E_TRANSFER ? transfer(db, &a.transfer)
                                : history(db, &a.nik, a.json);
    db_destroy(&db);
    return rc;
}
