/* billing_reports: what payers owe, for finance staff: `billing arrears`,
 * `billing lapses`, `billing statement` and `billing export` (the export
 * itself is services/billing's export.c, the code billing uses). Documents
 * are invoices, supplementary invoices and credit notes (negative); what a
 * payer owes in all is every document's total less every payment
 * (docs/billing.md). NIKs are masked with nik_mask, as everywhere. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "billing_internal.h"
#include "date.h"
#include "db.h"
#include "export.h"
#include "money.h"
#include "nik.h"
#include "period.h"
#include "pgjson.h"
#include "session.h"

/* Per payer and funding source. Arrears: what is unpaid on invoices and
 * supplementary invoices past their due date ($1 is today). A credit note is
 * not payable and never in arrears; it is netted into what the payer owes in
 * all (owed = outstanding + credits). Payers with nothing unpaid are left
 * out. */
static const char *SQL_ARREARS =
    "SELECT payer_code, min(payer_name), funding_source, "
    "    count(*) FILTER (WHERE payable AND overdue AND outstanding > 0), "
    "    coalesce(sum(outstanding) FILTER (WHERE payable AND overdue), 0), "
    "    coalesce(sum(outstanding) FILTER (WHERE payable), 0), "
    "    coalesce(sum(total) FILTER (WHERE NOT payable), 0), "
    "    coalesce(to_char(min(period) FILTER (WHERE payable AND overdue "
    "                                           AND outstanding > 0), "
    "                     'YYYY-MM'), '') "
    "FROM (SELECT *, kind <> 'credit_note' AS payable, due_date < $1::date AS overdue "
    "      FROM invoice_balances) b "
    "GROUP BY payer_code, funding_source "
    "HAVING coalesce(sum(outstanding) FILTER (WHERE payable), 0) > 0 "
    "ORDER BY 5 DESC, payer_code, funding_source";

static const char *SQL_LAPSES =
    "SELECT e.id, e.nik, p.code, e.village_code, e.payer_code, "
    "    to_char(e.end_month, 'YYYY-MM'), "
    "    to_char(e.ended_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
    "FROM enrolments e "
    "JOIN programs p ON p.id = e.program_id "
    "WHERE e.end_reason = 'lapsed' "
    "ORDER BY e.ended_at DESC, e.id";

/* Every document of the payer, in the order issued within each month and
 * source; credit notes have negative totals. */
static const char *SQL_STATEMENT =
    "SELECT to_char(period, 'YYYY-MM'), funding_source, id, total, paid, outstanding, "
    "    status, line_count, to_char(due_date, 'YYYY-MM-DD'), kind, "
    "    to_char(issued_at AT TIME ZONE 'Asia/Jakarta', 'YYYY-MM-DD'), payer_name "
    "FROM invoice_balances "
    "WHERE payer_code = $1 "
    "ORDER BY period, funding_source, id";

/* Connect, run a read-only report query and disconnect; NULL (message
 * printed) on failure. */
static PGresult *report_query(const char *sql, int n, const char *const *params)
{
    db_t *db = session_connect();
    if (!db)
        return NULL;
    PGresult *r = db_exec(db, sql, n, params);
    if (!db_ok(r)) {
        fprintf(stderr, "lindungctl: %s\n", db_error(db));
        PQclear(r);
        r = NULL;
    }
    db_destroy(&db);
    return r;
}

enum {
    AR_PAYER,
    AR_NAME,
    AR_SOURCE,
    AR_OVERDUE,
    AR_ARREARS,
    AR_OUTSTANDING,
    AR_CREDITS,
    AR_OLDEST
};

static const pgjson_col_t ARREARS_COLS[] = {{"payer_code", AR_PAYER, PGJSON_TEXT},
                                            {"payer_name", AR_NAME, PGJSON_TEXT},
                                            {"funding_source", AR_SOURCE, PGJSON_TEXT},
                                            {"overdue_invoices", AR_OVERDUE, PGJSON_INT},
                                            {"arrears", AR_ARREARS, PGJSON_INT}};

static cJSON *arrears_json(const PGresult *r, int i, const void *ctx)
{
    (void)ctx;
    int64_t outstanding = money_i64(r, i, AR_OUTSTANDING);
    int64_t credits = money_i64(r, i, AR_CREDITS);
    const char *oldest = PQgetvalue(r, i, AR_OLDEST);
    cJSON *o = pgjson_row(r, i, ARREARS_COLS, PGJSON_NCOLS(ARREARS_COLS));
    return pgjson_whole(
        o, o && cJSON_AddNumberToObject(o, "outstanding", (double)outstanding) &&
               cJSON_AddNumberToObject(o, "credits", (double)credits) &&
               cJSON_AddNumberToObject(o, "owed", (double)(outstanding + credits)) &&
               (oldest[0]
                    ? cJSON_AddStringToObject(o, "oldest_overdue_period", oldest) != NULL
                    : cJSON_AddNullToObject(o, "oldest_overdue_period") != NULL));
}

static void arrears_print_row(const PGresult *r, int i)
{
    int64_t outstanding = money_i64(r, i, AR_OUTSTANDING);
    int64_t credits = money_i64(r, i, AR_CREDITS);
    char ar[MONEY_TEXT_LEN], out[MONEY_TEXT_LEN], cr[MONEY_TEXT_LEN],
        owed[MONEY_TEXT_LEN];
    money_format(money_i64(r, i, AR_ARREARS), ar);
    money_format(outstanding, out);
    money_format(credits, cr);
    money_format(outstanding + credits, owed);
    printf("%-16s %-10s %8s %14s %14s %14s %14s  %-7s %s\n", PQgetvalue(r, i, AR_PAYER),
           PQgetvalue(r, i, AR_SOURCE), PQgetvalue(r, i, AR_OVERDUE), ar, out, cr, owed,
           PQgetvalue(r, i, AR_OLDEST)[0] ? PQgetvalue(r, i, AR_OLDEST) : "-",
           PQgetvalue(r, i, AR_NAME));
}

int billing_arrears(int argc, char **argv)
{
    char today[11];
    date_format(date_today(), today);
    const char *params[] = {today};
    PGresult *r = report_query(SQL_ARREARS, 1, params);
    if (!r)
        return ARGS_FAILED;
    if (args_flag(argc, argv, "--json")) {
        cJSON *list = pgjson_rows(r, arrears_json, NULL);
        PQclear(r);
        return session_print_json(list);
    }
    printf("%-16s %-10s %8s %14s %14s %14s %14s  %s  %s\n", "payer", "source", "overdue",
           "arrears_rp", "outstanding_rp", "credits_rp", "owed_rp", "oldest", "name");
    for (int i = 0; i < PQntuples(r); i++)
        arrears_print_row(r, i);
    PQclear(r);
    printf(
        "arrears: unpaid on invoices and supplementary invoices past their due date; "
        "credit notes are\nnot payable and never in arrears. owed: all that is unpaid, "
        "less the payer's credit notes\n(owed = outstanding + credits).\n");
    return 0;
}

enum { LA_ID, LA_NIK, LA_PROGRAM, LA_VILLAGE, LA_PAYER, LA_END, LA_ENDED };

static cJSON *lapse_json(const PGresult *r, int i, const char *nik)
{
    cJSON *o = cJSON_CreateObject();
    return pgjson_whole(
        o, o && pgjson_add_int(o, "enrolment_id", r, i, LA_ID) &&
               cJSON_AddStringToObject(o, "nik", nik) &&
               cJSON_AddStringToObject(o, "program_code", PQgetvalue(r, i, LA_PROGRAM)) &&
               cJSON_AddStringToObject(o, "village_code", PQgetvalue(r, i, LA_VILLAGE)) &&
               cJSON_AddStringToObject(o, "payer_code", PQgetvalue(r, i, LA_PAYER)) &&
               cJSON_AddStringToObject(o, "end_month", PQgetvalue(r, i, LA_END)) &&
               cJSON_AddStringToObject(o, "ended_at", PQgetvalue(r, i, LA_ENDED)));
}

int billing_lapses(int argc, char **argv)
{
    bool json = args_flag(argc, argv, "--json");
    PGresult *r = report_query(SQL_LAPSES, 0, NULL);
    if (!r)
        return ARGS_FAILED;
    cJSON *list = json ? cJSON_CreateArray() : NULL;
    bool ok = !json || list;
    if (!json)
        printf("%-10s %-16s %-22s %-15s %-16s %-9s %s\n", "enrolment", "nik", "program",
               "village", "payer", "end_month", "ended_at");
    for (int i = 0; ok && i < PQntuples(r); i++) {
        char nik[NIK_MASKED_LEN + 1];
        nik_mask(PQgetvalue(r, i, LA_NIK), nik);
        if (json)
            ok = pgjson_append(list, lapse_json(r, i, nik));
        else
            printf("%-10s %-16s %-22s %-15s %-16s %-9s %s\n", PQgetvalue(r, i, LA_ID),
                   nik, PQgetvalue(r, i, LA_PROGRAM), PQgetvalue(r, i, LA_VILLAGE),
                   PQgetvalue(r, i, LA_PAYER), PQgetvalue(r, i, LA_END),
                   PQgetvalue(r, i, LA_ENDED));
    }
    PQclear(r);
    return json ? session_print_json(pgjson_whole(list, ok)) : ARGS_OK;
}

enum {
    ST_PERIOD,
    ST_SOURCE,
    ST_ID,
    ST_TOTAL,
    ST_PAID,
    ST_OUTSTANDING,
    ST_STATUS,
    ST_LINES,
    ST_DUE,
    ST_KIND,
    ST_ISSUED,
    ST_NAME
};

/* What a payer owes in all: every document's total (credit notes negative)
 * less every payment. */
typedef struct {
    int64_t billed;      /* invoices and supplementary invoices */
    int64_t credited;    /* credit notes, negative */
    int64_t paid;        /* payments */
    int64_t outstanding; /* unpaid on invoices and supplementary invoices */
} owed_t;

static void owed_add(owed_t *t, const PGresult *r, int i)
{
    int64_t total = money_i64(r, i, ST_TOTAL);
    if (strcmp(PQgetvalue(r, i, ST_KIND), "credit_note") == 0) {
        t->credited += total;
    } else {
        t->billed += total;
        t->outstanding += money_i64(r, i, ST_OUTSTANDING);
    }
    t->paid += money_i64(r, i, ST_PAID);
}

static int64_t owed_in_all(const owed_t *t)
{
    return t->billed + t->credited - t->paid;
}

static const pgjson_col_t STATEMENT_DOCUMENT_COLS[] = {
    {"period", ST_PERIOD, PGJSON_TEXT},
    {"funding_source", ST_SOURCE, PGJSON_TEXT},
    {"kind", ST_KIND, PGJSON_TEXT},
    {"invoice_id", ST_ID, PGJSON_INT},
    {"billed", ST_TOTAL, PGJSON_INT},
    {"paid", ST_PAID, PGJSON_INT},
    {"outstanding", ST_OUTSTANDING, PGJSON_INT},
    {"status", ST_STATUS, PGJSON_TEXT},
    {"line_count", ST_LINES, PGJSON_INT},
    {"due_date", ST_DUE, PGJSON_TEXT},
    {"issued_on", ST_ISSUED, PGJSON_TEXT}};

static cJSON *totals_json(const owed_t *t)
{
    cJSON *o = cJSON_CreateObject();
    return pgjson_whole(
        o, o && cJSON_AddNumberToObject(o, "billed", (double)t->billed) &&
               cJSON_AddNumberToObject(o, "credited", (double)t->credited) &&
               cJSON_AddNumberToObject(o, "paid", (double)t->paid) &&
               cJSON_AddNumberToObject(o, "outstanding", (double)t->outstanding) &&
               cJSON_AddNumberToObject(o, "owed", (double)owed_in_all(t)));
}

static int statement_print_json(const char *payer, const PGresult *r, const owed_t *t)
{
    cJSON *doc = cJSON_CreateObject();
    /* "months" as before documents had kinds: one entry per document, by
     * month (scripts read it under that name) */
    bool ok = doc && cJSON_AddStringToObject(doc, "payer_code", payer) &&
              pgjson_add_text(doc, "payer_name", r, 0, ST_NAME) &&
              pgjson_put(doc, "months",
                         pgjson_table(r, STATEMENT_DOCUMENT_COLS,
                                      PGJSON_NCOLS(STATEMENT_DOCUMENT_COLS))) &&
              pgjson_put(doc, "totals", totals_json(t));
    return session_print_json(pgjson_whole(doc, ok));
}

static void statement_print_text(const char *payer, const PGresult *r, const owed_t *t)
{
    printf("statement for payer %s (%s): every document; credit notes are negative\n"
           "%-8s %-10s %-13s %9s %-10s %-10s %14s %14s %14s  %s\n",
           payer, PQgetvalue(r, 0, ST_NAME), "period", "source", "kind", "document",
           "issued", "due", "billed_rp", "paid_rp", "outstanding_rp", "status");
    for (int i = 0; i < PQntuples(r); i++) {
        char bs[MONEY_TEXT_LEN], ps[MONEY_TEXT_LEN], os[MONEY_TEXT_LEN];
        money_format(money_i64(r, i, ST_TOTAL), bs);
        money_format(money_i64(r, i, ST_PAID), ps);
        money_format(money_i64(r, i, ST_OUTSTANDING), os);
        printf("%-8s %-10s %-13s %9s %-10s %-10s %14s %14s %14s  %s\n",
               PQgetvalue(r, i, ST_PERIOD), PQgetvalue(r, i, ST_SOURCE),
               PQgetvalue(r, i, ST_KIND), PQgetvalue(r, i, ST_ID),
               PQgetvalue(r, i, ST_ISSUED), PQgetvalue(r, i, ST_DUE), bs, ps, os,
               PQgetvalue(r, i, ST_STATUS));
    }
    char b[MONEY_TEXT_LEN], c[MONEY_TEXT_LEN], p[MONEY_TEXT_LEN], o[MONEY_TEXT_LEN];
    money_format(t->billed, b), money_format(t->credited, c);
    money_format(t->paid, p), money_format(owed_in_all(t), o);
    printf("billed (invoices and supplementary invoices) Rp %s\n"
           "credit notes                                 Rp %s\n"
           "paid                                         Rp %s\n"
           "owed in all (billed + credit notes - paid)   Rp %s%s\n",
           b, c, p, o, owed_in_all(t) < 0 ? " (in credit)" : "");
}

int billing_statement(int argc, char **argv)
{
    const char *payer = args_value(argc, argv, "--payer");
    if (!payer || !payer[0]) {
        fprintf(stderr, "usage: lindungctl billing statement --payer CODE [--json]\n");
        return ARGS_USAGE;
    }
    const char *params[] = {payer};
    PGresult *r = report_query(SQL_STATEMENT, 1, params);
    if (!r)
        return ARGS_FAILED;
    if (PQntuples(r) == 0) {
        fprintf(stderr, "billing statement: no invoice for payer %s\n", payer);
        PQclear(r);
        return ARGS_FAILED;
    }
    owed_t t = {0};
    for (int i = 0; i < PQntuples(r); i++)
        owed_add(&t, r, i);
    int rc = 0;
    if (args_flag(argc, argv, "--json"))
        rc = statement_print_json(payer, r, &t);
    else
        statement_print_text(payer, r, &t);
    PQclear(r);
    return rc;
}

int billing_export(int argc, char **argv)
{
    const char *payer = args_value(argc, argv, "--payer");
    const char *month = args_value(argc, argv, "--period");
    const char *format = args_value(argc, argv, "--format");
    const char *out = args_value(argc, argv, "--out");
    period_t p;
    bool csv = format && strcmp(format, "csv") == 0;
    bool xlsx = format && strcmp(format, "xlsx") == 0;
    if (!payer || !month || !period_parse(month, &p) || !(csv || xlsx) || !out ||
        !out[0]) {
        fprintf(stderr, "usage: lindungctl billing export --payer CODE --period YYYY-MM "
                        "--format csv|xlsx --out FILE\n");
        return ARGS_USAGE;
    }
    db_t *db = session_connect();
    if (!db)
        return ARGS_FAILED;
    char err[256];
    export_owed_t owed;
    long n = export_write(db, payer, p, xlsx ? EXPORT_XLSX : EXPORT_CSV, out, &owed, err,
                          sizeof err);
    db_destroy(&db);
    if (n < 0) {
        fprintf(stderr, "billing export: %s\n", err);
        return ARGS_FAILED;
    }
    char o[MONEY_TEXT_LEN];
    money_format(owed.owed, o);
    printf(
        "%ld items written to %s\n"
        "payer %s owes Rp %s in all (every month and source: invoices and supplementary "
        "invoices,\nless credit notes, less payments)\n",
        n, out, payer, o);
    return 0;
}
