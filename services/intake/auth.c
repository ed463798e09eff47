/* auth: bearer-key lookup. A key is compared by its hash only, so a leaked
 * database does not leak usable keys. An expired key is refused exactly as
 * an unknown or revoked one (025_keys.sql). */
#include "auth.h"
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "log.h"

/* Keys made by lindungctl use only these; anything else cannot be a key. */
static const char *KEY_CHARS =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";

/* The third column says whether last_used_at is due a write: a minute old
 * or never set. */
static const char *SQL_FIND_KEY =
    "SELECT id, scope, "
    "    last_used_at IS NULL OR last_used_at < now() - interval '1 minute' "
    "FROM api_keys "
    "WHERE key_hash = sha256(convert_to($1, 'UTF8')) "
    "    AND revoked_at IS NULL "
    "    AND (expires_at IS NULL OR expires_at > now())";
enum { K_ID, K_SCOPE, K_TOUCH };

/* The condition again, so that workers racing on one key write it once: the
 * second sees the first's time once the row lock is released. */
static const char *SQL_TOUCH_KEY =
    "UPDATE api_keys SET last_used_at = now() "
    "WHERE id = $1 "
    "    AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')";

/* Records the use; a failure only leaves last_used_at older, so the request
 * goes on (the next statement reports a database that went away). */
static void touch_key(db_t *db, const char *key_id)
{
    const char *params[] = {key_id};
    if (!db_run(db, SQL_TOUCH_KEY, 1, params))
        log_warn("auth.last_used_not_recorded", "key_id", key_id, "detail", db_error(db));
}

auth_result_t auth_check(db_t *db, const char *authorization, auth_t *out)
{
    memset(out, 0, sizeof *out);
    if (!authorization || strncmp(authorization, "Bearer ", 7) != 0)
        return AUTH_MISSING;
    const char *key = authorization + 7;
    size_t n = strlen(key);
    if (n == 0 || n > 128 || strspn(key, KEY_CHARS) != n)
        return AUTH_INVALID;
    const char *params[] = {key};
    PGresult *res = db_exec_read(db, SQL_FIND_KEY, 1, params);
    if (!db_ok(res)) {
        PQclear(res);
        return AUTH_UNAVAILABLE;
    }
    auth_result_t rc = AUTH_INVALID;
    bool touch = false;
    if (PQntuples(res) == 1 && scope_parse(PQgetvalue(res, 0, K_SCOPE), &out->scope)) {
        snprintf(out->key_id, sizeof out->key_id, "%s", PQgetvalue(res, 0, K_ID));
        touch = PQgetvalue(res, 0, K_TOUCH)[0] == 't';
        rc = AUTH_OK;
    }
    PQclear(res);
    if (touch)
        touch_key(db, out->key_id);
    return rc;
}
