/* report: the `lindungctl report ...` commands: participants against target
 * per village, district or regency (db/migrations/022_reports.sql). */
#ifndef LINDUNG_REPORT_CMD_H
#define LINDUNG_REPORT_CMD_H
#include <stdio.h>

/* argv[0] is "report". Returns the process exit code: 0 done, 1 failed (or
 * no such programme), 2 bad usage. */
int report_main(int argc, char **argv);

/* The report command's lines for lindungctl's usage text. */
void report_usage(FILE *out);
#endif
