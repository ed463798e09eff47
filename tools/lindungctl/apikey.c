/* apikey: keys are "lk_" and 48 hex digits from getrandom(): 192 bits, far
 * beyond guessing. The prefix (first 11 characters) names a key in listings
 * without revealing it. */
#include "apikey.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <uuid/uuid.h>
#include "scope.h"

#define KEY_BYTES 24
#define PREFIX_LEN 11

static const char *SQL_SCOPE_REGION =
    "SELECT 1 FROM regions WHERE code = $1 AND level = $2";
static const char *SQL_INSERT =
    "INSERT INTO api_keys (id, name, prefix, key_hash, scope) "
    "VALUES ($1, $2, $3, sha256(convert_to($4, 'UTF8')), $5)";
static const char *SQL_LIST =
    "SELECT id, name, prefix, scope, to_char(created_at, "
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "  coalesce(to_char(revoked_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') "
    "FROM api_keys ORDER BY created_at";
static const char *SQL_REVOKE =
    "UPDATE api_keys SET revoked_at = now() "
    "WHERE (id::text = $1 OR prefix = $1) AND revoked_at IS NULL RETURNING id";

static int make_key(char out[3 + 2 * KEY_BYTES + 1])
{
    unsigned char raw[KEY_BYTES];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return -1;
    strcpy(out, "lk_");
    for (int i = 0; i < KEY_BYTES; i++)
        sprintf(out + 3 + 2 * i, "%02x", raw[i]);
    return 0;
}

static bool scope_region_exists(db_t *db, const scope_t *scope)
{
    if (scope->kind == SCOPE_ADMIN)
        return true;
    const char *params[] = {scope->code,
                            scope->kind == SCOPE_REGENCY ? "regency" : "village"};
    PGresult *r = db_exec(db, SQL_SCOPE_REGION, 2, params);
    bool ok = db_ok(r) && PQntuples(r) == 1;
    PQclear(r);
    return ok;
}

int apikey_create(db_t *db, const char *name, const char *scope_text)
{
    scope_t scope;
    if (!name || !name[0]) {
        fprintf(stderr, "apikey create: --name is required\n");
        return -1;
    }
    if (scope_parse(scope_text, &scope) != 0) {
        fprintf(stderr, "apikey create: --scope must be admin, regency:PP.RR or "
                        "village:PP.RR.DD.VVVV\n");
        return -1;
    }
    if (!scope_region_exists(db, &scope)) {
        fprintf(stderr, "apikey create: %s is not a known region\n", scope.code);
        return -1;
    }
    char key[3 + 2 * KEY_BYTES + 1], prefix[PREFIX_LEN + 1], id[37], canonical[32];
    uuid_t raw;
    if (make_key(key) != 0) {
        fprintf(stderr, "apikey create: no randomness available\n");
        return -1;
    }
    memcpy(prefix, key, PREFIX_LEN);
    prefix[PREFIX_LEN] = '\0';
    uuid_generate_random(raw);
    uuid_unparse_lower(raw, id);
    scope_format(&scope, canonical);
    const char *params[] = {id, name, prefix, key, canonical};
    if (!db_run(db, SQL_INSERT, 5, params)) {
        fprintf(stderr, "apikey create: %s\n", db_error(db));
        return -1;
    }
    printf("%s\n", key);
    return 0;
}

int apikey_list(db_t *db, bool json)
{
    PGresult *r = db_exec(db, SQL_LIST, 0, NULL);
    if (!db_ok(r)) {
        fprintf(stderr, "apikey list: %s\n", db_error(db));
        PQclear(r);
        return -1;
    }
    const char *cols[] = {"id", "name", "prefix", "scope", "created_at", "revoked_at"};
    cJSON *list = cJSON_CreateArray();
    if (!json)
        printf("%-36s  %-12s  %-24s  %-20s  %s\n", "ID", "PREFIX", "SCOPE", "CREATED",
               "NAME");
    for (int i = 0; i < PQntuples(r); i++) {
        if (!json) {
            printf("%-36s  %-12s  %-24s  %-20s  %s%s\n", PQgetvalue(r, i, 0),
                   PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4),
                   PQgetvalue(r, i, 1), PQgetvalue(r, i, 5)[0] ? " (revoked)" : "");
            continue;
        }
        cJSON *o = cJSON_CreateObject();
        for (int c = 0; c < 6; c++)
            cJSON_AddStringToObject(o, cols[c], PQgetvalue(r, i, c));
        cJSON_AddItemToArray(list, o);
    }
    if (json) {
        char *text = cJSON_Print(list);
        printf("%s\n", text);
        cJSON_free(text);
    }
    cJSON_Delete(list);
    PQclear(r);
    return 0;
}

int apikey_revoke(db_t *db, const char *which)
{
    if (!which) {
        fprintf(stderr, "apikey revoke: give a key id or prefix\n");
        return -1;
    }
    const char *params[] = {which};
    PGresult *r = db_exec(db, SQL_REVOKE, 1, params);
    int n = db_ok(r) ? PQntuples(r) : -1;
    PQclear(r);
    if (n <= 0) {
        fprintf(stderr, "apikey revoke: no active key %s\n", which);
        return -1;
    }
    printf("revoked %d key(s)\n", n);
    return 0;
}
