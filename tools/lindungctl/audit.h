/* audit: `lindungctl audit` (who read or changed whose data, from
 * audit_log: db/migrations/028_audit.sql) and what lindungctl's own changes
 * record there. An operator is named by the OS login that ran lindungctl;
 * the row also keeps the database login (db_user), which PostgreSQL sets
 * itself. Changes made in one statement record themselves in it (a CTE
 * INSERT INTO audit_log (actor_kind, actor, action, object, nik_hashes,
 * request_id, detail), with audit_operator() and audit_invocation() as
 * parameters); changes made in a transaction call audit_record() before
 * their COMMIT. Either way a change and its record commit together. */
#ifndef LINDUNG_CTL_AUDIT_H
#define LINDUNG_CTL_AUDIT_H
#include <stdio.h>
#include "db.h"

/* The OS login running lindungctl (from the password database, not $USER),
 * or "uid:N" when it has no name. */
const char *audit_operator(void);

/* One id (a UUID) for every record this lindungctl run writes, in
 * audit_log.request_id: the rows of one command go together. */
const char *audit_invocation(void);

/* Record an operator's change on this connection (inside the caller's
 * transaction, before COMMIT). object: an id or NULL; nik: the NIK it
 * concerns or NULL; detail: a JSON object without personal data, or NULL.
 * False, with the database's message in db_error, when it failed: roll
 * back. */
bool audit_record(db_t *db, const char *action, const char *object, const char *nik,
                  const char *detail);

void audit_usage(FILE *out);
/* `lindungctl audit ...`; argv[0] is "audit". Exit code. */
int audit_main(int argc, char **argv);
#endif
