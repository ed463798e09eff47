/* session: lindungctl's database connection, from LINDUNG_DB, with the one
 * error message every command prints when PostgreSQL cannot be reached. */
#ifndef LINDUNG_SESSION_H
#define LINDUNG_SESSION_H
#include "db.h"

/* A connected db_t, or NULL after printing why to stderr. */
db_t *session_connect(void);
#endif
