/* csvout: writing one RFC 4180 CSV field for finance staff's spreadsheets.
 * Not a CSV reader (intake parses with libcsv). */
#ifndef LINDUNG_CSVOUT_H
#define LINDUNG_CSVOUT_H
#include <stdio.h>

/* Write `text` as one field: quoted when it holds a comma, quote or line
 * break; and a field starting with = + - or @ is quoted with a leading
 * apostrophe, so a spreadsheet shows it instead of running it as a formula. */
void csvout_field(FILE *out, const char *text);
#endif
