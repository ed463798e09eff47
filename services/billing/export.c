/* export: CSV and XLSX of a payer's lines. Money goes out as whole rupiah;
 * in XLSX as numbers (exact: every rupiah figure here is far below 2^53),
 * with a thousands format so staff read them as they would on paper. */
#include "export.h"
#include "csvout.h"
#include <stdlib.h>
#include <string.h>
#include <xlsxwriter.h>

static const char *SQL_EXPORT_INVOICES =
    "SELECT id, funding_source, payer_name, total, line_count, paid, outstanding, "
    "status, "
    "  to_char(due_date, 'YYYY-MM-DD') "
    "FROM invoice_balances WHERE payer_code = $1 AND period = $2 ORDER BY funding_source";

static const char *SQL_EXPORT_LINES =
    "SELECT a.invoice_id, i.funding_source, a.enrolment_id, e.nik, pa.name, pr.code, "
    "  e.village_code, a.jkk, a.jkm, a.amount, a.supplementary "
    "FROM accruals a JOIN invoices i ON i.id = a.invoice_id AND i.period = a.period "
    "JOIN enrolments e ON e.id = a.enrolment_id "
    "JOIN participants pa ON pa.nik = e.nik "
    "JOIN programs pr ON pr.id = e.program_id "
    "WHERE i.payer_code = $1 AND i.period = $2 AND a.period = $2 "
    "ORDER BY a.invoice_id, e.village_code, a.enrolment_id";

static const char *LINE_HEADER[] = {"invoice_id", "funding_source", "enrolment_id", "nik",
                                    "name",       "program",        "village_code", "jkk",
                                    "jkm",        "amount",         "supplementary"};
#define LINE_COLUMNS 11
#define LINE_MONEY_FIRST 7 /* jkk, jkm, amount */

static const char *SUMMARY_HEADER[] = {"invoice_id",  "funding_source", "payer_name",
                                       "total",       "line_count",     "paid",
                                       "outstanding", "status",         "due_date"};
#define SUMMARY_COLUMNS 9

static void csv_row(FILE *out, const PGresult *r, int row, int columns)
{
    for (int c = 0; c < columns; c++) {
        if (c > 0)
            fputc(',', out);
        csvout_field(out, PQgetvalue(r, row, c));
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
    for (int c = 0; c < LINE_COLUMNS; c++)
        fprintf(out, "%s%s", c ? "," : "", LINE_HEADER[c]);
    fputs("\r\n", out);
    for (int i = 0; i < PQntuples(lines); i++)
        csv_row(out, lines, i, LINE_COLUMNS);
    if (fclose(out) != 0) {
        snprintf(err, errcap, "cannot write %s", path);
        return -1;
    }
    return 0;
}

static bool is_number_column(int c, bool summary)
{
    if (summary)
        return c == 0 || c == 3 || c == 4 || c == 5 || c == 6;
    return c == 0 || c == 2 || (c >= LINE_MONEY_FIRST && c < LINE_COLUMNS - 1);
}

static void xlsx_sheet(lxw_workbook *wb, const char *name, const char *const *header,
                       int columns, const PGresult *r, bool summary)
{
    lxw_worksheet *ws = workbook_add_worksheet(wb, name);
    lxw_format *bold = workbook_add_format(wb);
    format_set_bold(bold);
    lxw_format *money = workbook_add_format(wb);
    format_set_num_format(money, "#,##0");
    for (int c = 0; c < columns; c++)
        worksheet_write_string(ws, 0, (lxw_col_t)c, header[c], bold);
    for (int i = 0; i < PQntuples(r); i++) {
        for (int c = 0; c < columns; c++) {
            const char *v = PQgetvalue(r, i, c);
            lxw_row_t row = (lxw_row_t)i + 1;
            if (is_number_column(c, summary))
                worksheet_write_number(ws, row, (lxw_col_t)c,
                                       (double)strtoll(v, NULL, 10),
                                       c == 0 || c == 2 ? NULL : money);
            else
                worksheet_write_string(ws, row, (lxw_col_t)c, v, NULL);
        }
    }
    worksheet_set_column(ws, 0, (lxw_col_t)columns - 1, 16, NULL);
    worksheet_freeze_panes(ws, 1, 0);
}

static int write_xlsx(const PGresult *lines, const PGresult *invoices, const char *path,
                      char *err, size_t errcap)
{
    lxw_workbook *wb = workbook_new(path);
    if (!wb) {
        snprintf(err, errcap, "cannot write %s", path);
        return -1;
    }
    xlsx_sheet(wb, "summary", SUMMARY_HEADER, SUMMARY_COLUMNS, invoices, true);
    xlsx_sheet(wb, "lines", LINE_HEADER, LINE_COLUMNS, lines, false);
    lxw_error rc = workbook_close(wb);
    if (rc != LXW_NO_ERROR) {
        snprintf(err, errcap, "cannot write %s: %s", path, lxw_strerror(rc));
        return -1;
    }
    return 0;
}

long export_write(db_t *db, const char *payer, period_t period, export_format_t format,
                  const char *path, char *err, size_t errcap)
{
    char month[11];
    date_format(period_first_day(period), month);
    const char *params[] = {payer, month};
    PGresult *inv = db_exec(db, SQL_EXPORT_INVOICES, 2, params);
    PGresult *lines = db_ok(inv) ? db_exec(db, SQL_EXPORT_LINES, 2, params) : NULL;
    long n = -1;
    if (!db_ok(inv) || !db_ok(lines)) {
        snprintf(err, errcap, "database: %s", db_error(db));
    } else if (PQntuples(inv) == 0) {
        char m[8];
        period_format(period, m);
        snprintf(err, errcap, "no invoice for payer %s in %s", payer, m);
    } else {
        int rc = format == EXPORT_XLSX ? write_xlsx(lines, inv, path, err, errcap)
                                       : write_csv(lines, path, err, errcap);
        n = rc == 0 ? PQntuples(lines) : -1;
    }
    PQclear(inv);
    PQclear(lines);
    return n;
}
