/* enrolment: end a participant's active enrolment (death, moved away, left
 * the programme, lapsed), move it to another village or programme (a
 * transfer: ended in month M, continued from M+1, enrolment_transfer in
 * 014_transfers.sql), and list a programme's renewal. Rows are never
 * deleted: an ended enrolment stays as history, and the NIK may be enrolled
 * again afterwards. */
#ifndef LINDUNG_ENROLMENT_H
#define LINDUNG_ENROLMENT_H
#include <stdbool.h>
#include "db.h"

/* argv[0] is "enrolment". Checks the command line, then connects. Returns
 * the process exit code: 0 done, 1 refused or failed, 2 usage. */
int enrolment_main(int argc, char **argv);

/* `lindungctl program renewal CODE` (code not NULL): every applicant the renewal of
 * programme `code` queued (masked NIK, village, decision, reasons, the new
 * enrolment's first month), then the counts. Exit code as above. */
int enrolment_renewal_list(db_t *db, const char *code, bool json);
#endif
