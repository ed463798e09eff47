/* export: one payer's documents for one month (invoices, supplementary
 * invoices, credit notes) and their items (accrual lines and adjustments),
 * for finance staff, as CSV (the items) or as an XLSX workbook (a "summary"
 * sheet of the month's documents, a "lines" sheet of their items and an
 * "owed" sheet: what the payer owes in the month and in all). Items carry
 * the full NIK: the file is for the payer, who reconciles it with BPJS. Not
 * for HTTP (intake's invoices.c writes its own CSV) nor for statements. */
#ifndef LINDUNG_EXPORT_H
#define LINDUNG_EXPORT_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "db.h"
#include "period.h"

typedef enum { EXPORT_CSV, EXPORT_XLSX } export_format_t;

/* What a payer owes in all, every month and funding source: the totals of
 * its invoices and supplementary invoices (billed), of its credit notes
 * (credited, negative), its payments, and owed = billed + credited - paid
 * (negative: the payer is in credit). */
typedef struct {
    int64_t billed, credited, paid, owed;
} export_owed_t;

/* Write the file at `path` and fill `owed` (may be NULL). Returns the
 * number of items written, or -1 with err filled (no document for that
 * payer and month: nothing is written). */
long export_write(db_t *db, const char *payer, period_t period, export_format_t format,
                  const char *path, export_owed_t *owed, char *err, size_t errcap);

#endif
