/* audit: how intake writes the audit trail (db/migrations/028_audit.sql;
 * docs/security.md, "Audit trail"). Every read of a person's data and every
 * change leaves one row per request, never one per person: the NIKs go into
 * one array, hashed by audit_nik_hashes() in the database.
 *
 * Two ways in, both one INSERT per request:
 *  - inside the statement that reads or changes, as a data-modifying CTE
 *    (the SQL, written out, lives with the route): the change and its
 *    record commit together or not at all, and a read costs no extra round
 *    trip;
 *  - audit_read(), for a read whose visibility the route decides in C after
 *    its statements (a participant, a claim): called before the answer, so
 *    when the record cannot be written, the data is not sent either.
 * Not here: what each route records (its action names and details). */
#ifndef LINDUNG_AUDIT_H
#define LINDUNG_AUDIT_H
#include <stdbool.h>
#include "auth.h"
#include "db.h"
#include "httpd.h"

/* Every audit INSERT names the columns actor_kind, actor, action, object,
 * nik_hashes, request_id, detail, in this order. Never with RETURNING: the
 * daemon roles may INSERT into audit_log, not read it. */

/* Record that the request's key read the data of the n people `niks` (as
 * stored or normalised: the database normalises before hashing) through
 * `object` (an id, never a NIK; may be NULL). detail: a JSON object without
 * personal data, or NULL. False when the row could not be written: answer
 * with route_db_failure and send nothing. */
bool audit_read(db_t *db, const auth_t *auth, const http_request_t *req,
                const char *action, const char *object, const char *const *niks, int n,
                const char *detail);
#endif
