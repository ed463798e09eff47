/* csvout: writing one RFC 4180 CSV field for finance staff's spreadsheets,
 * neutralising spreadsheet formulas (CSV injection, OWASP "CSV Injection").
 * Not a CSV reader (intake parses with libcsv). */
#ifndef LINDUNG_CSVOUT_H
#define LINDUNG_CSVOUT_H
#include <stdio.h>

/* Write `text` as one field. Quoted when it holds a comma, quote, line break,
 * semicolon or tab. A formula (starting with = + - @, tab, CR or LF, also
 * after leading spaces) is quoted with a leading apostrophe, so a
 * spreadsheet shows it instead of running it. A semicolon or tab forces
 * quotes because spreadsheets in an Indonesian locale (decimal
 * comma) split CSV on `;`, and some importers on tabs: inside quotes, what
 * follows a `;` or `,` can never begin a cell, so a formula there is kept as
 * written and is harmless. */
void csvout_field(FILE *out, const char *text);
#endif
