/* export: one payer's invoice lines for one month, for finance staff, as CSV
 * or as an XLSX workbook (a "lines" sheet and a "summary" sheet). Lines carry
 * the full NIK: the file is for the payer, who reconciles it with BPJS. Not
 * for HTTP (intake's invoices.c writes its own CSV) nor for statements. */
#ifndef LINDUNG_EXPORT_H
#define LINDUNG_EXPORT_H
#include <stdbool.h>
#include <stdio.h>
#include "db.h"
#include "period.h"

typedef enum { EXPORT_CSV, EXPORT_XLSX } export_format_t;

/* Write the file at `path`. Returns the number of lines written, or -1 with
 * err filled (no such payer or month: nothing is written). */
long export_write(db_t *db, const char *payer, period_t period, export_format_t format,
                  const char *path, char *err, size_t errcap);

#endif
