/* session: lindungctl's database connection, from LINDUNG_DB, with the one
 * error message every command prints when PostgreSQL cannot be reached; and
 * the one way --json output is printed. */
#ifndef LINDUNG_SESSION_H
#define LINDUNG_SESSION_H
#include <cjson/cJSON.h>
#include "db.h"

/* A connected db_t, or NULL after printing why to stderr. */
db_t *session_connect(void);

/* For dispatchers whose subcommands connect only once they have checked
 * their arguments: the one connection of this run, made at the first call
 * (session_connect), or NULL after printing why; session_close() (by the
 * dispatcher, after the subcommand) closes it, and takes no connection. */
db_t *session_db(void);
void session_close(void);

/* Prints doc, indented, on stdout and deletes it. The exit code: 0, or 1
 * after saying so on stderr when doc is NULL (a builder ran out of memory)
 * or its text cannot be made. */
int session_print_json(cJSON *doc);
#endif
