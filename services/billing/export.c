/* export: CSV and XLSX of a payer's documents and their items. Money goes
 * out as whole rupiah, credit notes negative; in XLSX as numbers (exact:
 * every rupiah figure here is far below 2^53), with a thousands format so
 * staff read them as they would on paper. */
#include "export.h"
#include "csvout.h"
#include <stdlib.h>
#include <string.h>
#include <xlsxwriter.h>

/* The month's documents, in the order issued. */
static const char *SQL_EXPORT_INVOICES =
    "SELECT id, funding_source, payer_name, total, line_count, paid, outstanding, "
    "    status, to_char(due_date, 'YYYY-MM-DD'), kind, "
    "    to_char(issued_at AT TIME ZONE 'Asia/Jakarta', 'YYYY-MM-DD HH24:MI') "
    "FROM invoice_balances "
    "WHERE payer_code = $1 AND period = $2 "
    "ORDER BY id";

/* Every item of the month's documents (document_items(): accrual lines and
 * adjustments, with what payments to the document allocated to each), in
 * the order a payment without lines pays them. An adjustment names the line
 * it corrects by (enrolment, month); line_invoice_id is the document that
 * carries that line. */
static const char *SQL_EXPORT_LINES =
    "SELECT i.id, i.funding_source, d.enrolment_id, e.nik, pa.name, pr.code, "
    "    e.village_code, d.jkk, d.jkm, d.amount, "
    "    coalesce(d.item = 'line' AND a.supplementary, false), i.kind, "
    "    CASE WHEN d.item = 'line' THEN 'line' ELSE 'adjustment' END, "
    "    CASE WHEN d.item = 'line' THEN '' ELSE d.item END, "
    "    to_char(d.period, 'YYYY-MM'), d.allocated, a.invoice_id, coalesce(e.kpj, '') "
    "FROM invoices i "
    "CROSS JOIN LATERAL document_items(i.id) d "
    "JOIN enrolments e ON e.id = d.enrolment_id "
    "JOIN participants pa ON pa.nik = e.nik "
    "JOIN programs pr ON pr.id = e.program_id "
    "LEFT JOIN accruals a ON a.enrolment_id = d.enrolment_id AND a.period = d.period "
    "WHERE i.payer_code = $1 AND i.period = $2 "
    "ORDER BY i.id, e.village_code, d.enrolment_id, d.period, d.item <> 'line', d.item";

/* What the payer owes: in the month, and in all (every month and source).
 * Owed is every document's total (credit notes negative) less payments. */
static const char *SQL_EXPORT_OWED =
    "SELECT w.label, "
    "    coalesce(sum(b.total) FILTER (WHERE b.kind <> 'credit_note'), 0), "
    "    coalesce(sum(b.total) FILTER (WHERE b.kind = 'credit_note'), 0), "
    "    coalesce(sum(b.paid), 0), coalesce(sum(b.total - b.paid), 0) "
    "FROM (VALUES (1, to_char($2::date, 'YYYY-MM')), (2, 'every month')) AS w (n, label) "
    "LEFT JOIN invoice_balances b ON b.payer_code = $1 AND (w.n = 2 OR b.period = $2) "
    "GROUP BY w.n, w.label "
    "ORDER BY w.n";
/* Its columns (OWED_COLUMNS below names them for the sheet) and rows. */
enum { OW_MONTHS, OW_BILLED, OW_CREDITED, OW_PAID, OW_OWED };
enum { OW_ROW_MONTH, OW_ROW_EVERY_MONTH };

typedef enum { COL_TEXT, COL_ID, COL_MONEY } column_type_t;

typedef struct {
    const char *name;
    column_type_t type;
} column_t;

/* The first eleven are the columns of exports before documents had
 * adjustments, in the same order. kpj, last so earlier columns keep their
 * places: the person's BPJS membership number once BPJS registered them
 * (019_bpjs.sql), for the payer's reconciliation. */
static const column_t LINE_COLUMNS[] = {
    {"invoice_id", COL_ID},     {"funding_source", COL_TEXT}, {"enrolment_id", COL_ID},
    {"nik", COL_TEXT},          {"name", COL_TEXT},           {"program", COL_TEXT},
    {"village_code", COL_TEXT}, {"jkk", COL_MONEY},           {"jkm", COL_MONEY},
    {"amount", COL_MONEY},      {"supplementary", COL_TEXT},  {"kind", COL_TEXT},
    {"item", COL_TEXT},         {"reason", COL_TEXT},         {"period", COL_TEXT},
    {"allocated", COL_MONEY},   {"line_invoice_id", COL_ID},  {"kpj", COL_TEXT},
};

static const column_t SUMMARY_COLUMNS[] = {
    {"invoice_id", COL_ID},     {"funding_source", COL_TEXT}, {"payer_name", COL_TEXT},
    {"total", COL_MONEY},       {"line_count", COL_ID},       {"paid", COL_MONEY},
    {"outstanding", COL_MONEY}, {"status", COL_TEXT},         {"due_date", COL_TEXT},
    {"kind", COL_TEXT},         {"issued_at", COL_TEXT},
};

static const column_t OWED_COLUMNS[] = {
    {"months", COL_TEXT}, {"billed", COL_MONEY}, {"credited", COL_MONEY},
    {"paid", COL_MONEY},  {"owed", COL_MONEY},
};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Numbers go out bare, so that "-16800" stays a number: csvout_field would
 * read its minus sign as a formula and prefix an apostrophe. */
static void csv_value(FILE *out, const char *v, column_type_t type)
{
    if (type == COL_TEXT)
        csvout_field(out, v);
    else
        fputs(v, out);
}

static void csv_row(FILE *out, const PGresult *r, int row, const column_t *cols, int n)
{
    for (int c = 0; c < n; c++) {
        if (c > 0)
            fputc(',', out);
        csv_value(out, PQgetvalue(r, row, c), cols[c].type);
    }
    fputs("\r\n", out);
}

static int write_csv(const PGresult *lines, const char *path, char *err, size_t errcap)
{
    FILE *out = fopen(path, "wb");
    if (!out) {
        snprintf(err, errcap, "cannot write %s", path);
        return -1;
    }
    for (int c = 0; c < COUNT(LINE_COLUMNS); c++)
        fprintf(out, "%s%s", c ? "," : "", LINE_COLUMNS[c].name);
    fputs("\r\n", out);
    for (int i = 0; i < PQntuples(lines); i++)
        csv_row(out, lines, i, LINE_COLUMNS, COUNT(LINE_COLUMNS));
    if (fclose(out) != 0) {
        snprintf(err, errcap, "cannot write %s", path);
        return -1;
    }
    return 0;
}

static void xlsx_cell(lxw_worksheet *ws, lxw_row_t row, lxw_col_t col, const char *v,
                      column_type_t type, lxw_format *money)
{
    if (type == COL_TEXT)
        worksheet_write_string(ws, row, col, v, NULL);
    else if (v[0]) /* NULL (an adjustment's missing line) stays blank */
        worksheet_write_number(ws, row, col, (double)strtoll(v, NULL, 10),
                               type == COL_MONEY ? money : NULL);
}

static void xlsx_sheet(lxw_workbook *wb, const char *name, const column_t *cols,
                       int columns, const PGresult *r)
{
    lxw_worksheet *ws = workbook_add_worksheet(wb, name);
    lxw_format *bold = workbook_add_format(wb);
    format_set_bold(bold);
    lxw_format *money = workbook_add_format(wb);
    format_set_num_format(money, "#,##0");
    for (int c = 0; c < columns; c++)
        worksheet_write_string(ws, 0, (lxw_col_t)c, cols[c].name, bold);
    for (int i = 0; i < PQntuples(r); i++)
        for (int c = 0; c < columns; c++)
            xlsx_cell(ws, (lxw_row_t)i + 1, (lxw_col_t)c, PQgetvalue(r, i, c),
                      cols[c].type, money);
    worksheet_set_column(ws, 0, (lxw_col_t)columns - 1, 16, NULL);
    worksheet_freeze_panes(ws, 1, 0);
}

static int write_xlsx(const PGresult *lines, const PGresult *invoices,
                      const PGresult *owed, const char *path, char *err, size_t errcap)
{
    lxw_workbook *wb = workbook_new(path);
    if (!wb) {
        snprintf(err, errcap, "cannot write %s", path);
        return -1;
    }
    xlsx_sheet(wb, "summary", SUMMARY_COLUMNS, COUNT(SUMMARY_COLUMNS), invoices);
    xlsx_sheet(wb, "lines", LINE_COLUMNS, COUNT(LINE_COLUMNS), lines);
    xlsx_sheet(wb, "owed", OWED_COLUMNS, COUNT(OWED_COLUMNS), owed);
    lxw_error rc = workbook_close(wb);
    if (rc != LXW_NO_ERROR) {
        snprintf(err, errcap, "cannot write %s: %s", path, lxw_strerror(rc));
        return -1;
    }
    return 0;
}

/* The "every month" row of SQL_EXPORT_OWED. */
static void owed_read(const PGresult *r, export_owed_t *owed)
{
    if (!owed)
        return;
    owed->billed = strtoll(PQgetvalue(r, OW_ROW_EVERY_MONTH, OW_BILLED), NULL, 10);
    owed->credited = strtoll(PQgetvalue(r, OW_ROW_EVERY_MONTH, OW_CREDITED), NULL, 10);
    owed->paid = strtoll(PQgetvalue(r, OW_ROW_EVERY_MONTH, OW_PAID), NULL, 10);
    owed->owed = strtoll(PQgetvalue(r, OW_ROW_EVERY_MONTH, OW_OWED), NULL, 10);
}

long export_write(db_t *db, const char *payer, period_t period, export_format_t format,
                  const char *path, export_owed_t *owed, char *err, size_t errcap)
{
    char month[11];
    date_format(period_first_day(period), month);
    const char *params[] = {payer, month};
    PGresult *inv = db_exec(db, SQL_EXPORT_INVOICES, 2, params);
    PGresult *lines = db_ok(inv) ? db_exec(db, SQL_EXPORT_LINES, 2, params) : NULL;
    PGresult *sums = db_ok(lines) ? db_exec(db, SQL_EXPORT_OWED, 2, params) : NULL;
    long n = -1;
    if (!db_ok(inv) || !db_ok(lines) || !db_ok(sums) || PQntuples(sums) != 2) {
        snprintf(err, errcap, "database: %s", db_error(db));
    } else if (PQntuples(inv) == 0) {
        char m[8];
        period_format(period, m);
        snprintf(err, errcap, "no invoice for payer %s in %s", payer, m);
    } else {
        int rc = format == EXPORT_XLSX ? write_xlsx(lines, inv, sums, path, err, errcap)
                                       : write_csv(lines, path, err, errcap);
        n = rc == 0 ? PQntuples(lines) : -1;
        owed_read(sums, owed);
    }
    PQclear(inv);
    PQclear(lines);
    PQclear(sums);
    return n;
}
