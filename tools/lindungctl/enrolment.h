/* enrolment: end a participant's active enrolment (death, moved away, left
 * the programme, lapsed). Rows are never deleted: an ended enrolment stays as
 * history, and the NIK may be enrolled again afterwards. */
#ifndef LINDUNG_ENROLMENT_H
#define LINDUNG_ENROLMENT_H
#include "db.h"

/* argv[0] is "enrolment". Returns the process exit code. */
int enrolment_main(db_t *db, int argc, char **argv);
#endif
