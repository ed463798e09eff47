/* auth: bearer-key lookup. A key is compared by its hash only, so a leaked
 * database does not leak usable keys. */
#include "auth.h"
#include <stdio.h>
#include <string.h>

/* Keys made by lindungctl use only these; anything else cannot be a key. */
static const char *KEY_CHARS =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";

static const char *SQL_FIND_KEY =
    "SELECT id, scope FROM api_keys "
    "WHERE key_hash = sha256(convert_to($1, 'UTF8')) AND revoked_at IS NULL";

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
    if (PQntuples(res) == 1 && scope_parse(PQgetvalue(res, 0, 1), &out->scope) == 0) {
        snprintf(out->key_id, sizeof out->key_id, "%s", PQgetvalue(res, 0, 0));
        rc = AUTH_OK;
    }
    PQclear(res);
    return rc;
}
