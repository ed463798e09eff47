/* apikey: keys are "lk_" and 48 hex digits from getrandom(): 192 bits, far
 * beyond guessing. The prefix (first 11 characters) names a key in listings
 * without revealing it, but it is not unique: revocation takes the key's id
 * (a UUID, printed at creation and by `apikey list`) and nothing else, so a
 * revocation can never reach a second key. Expiry and last use are columns
 * of 025_keys.sql; intake's auth honours the first and writes the second. */
#include "apikey.h"
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <uuid/uuid.h>
#include "args.h"
#include "audit.h"
#include "date.h"
#include "db.h"
#include "pgjson.h"
#include "scope.h"
#include "session.h"

#define KEY_BYTES 24
#define KEY_LEN (3 + 2 * KEY_BYTES)
#define PREFIX_LEN 11
#define ID_LEN 36
#define MAX_EXPIRY_DAYS 36500

/* to_char's format for times: UTC, ISO 8601 with milliseconds, as every
 * --json of lindungctl. Passed as a parameter, so the SQL stays readable. */
static const char TS_FORMAT[] = "YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"";

static const char USAGE[] =
    "usage: lindungctl apikey create --name NAME [--scope SCOPE]\n"
    "                  [--expires YYYY-MM-DD|DAYS] [--json]\n"
    "                  make a key; SCOPE is admin (default), regency:PP.RR or\n"
    "                  village:PP.RR.DD.VVVV; --expires DATE: it works through that\n"
    "                  day (Asia/Jakarta), DAYS: for that many days from now.\n"
    "                  Prints the key alone on one line, once (its id on stderr);\n"
    "                  --json prints {id, key, name, scope, expires_at}\n"
    "       lindungctl apikey list [--json]\n"
    "                  every key: id, prefix, name, scope, status, created,\n"
    "                  expires, last used (within a minute), revoked; never the key\n"
    "       lindungctl apikey revoke ID\n"
    "                  revoke the key with that id (the whole id, as listed)\n";

static const char SQL_SCOPE_REGION[] =
    "SELECT 1 FROM regions WHERE code = $1 AND level = $2";

/* $6 a last day (the key stops at the next midnight, Asia/Jakarta), or $7 a
 * number of days from now; neither: no end. Recorded in the audit trail in
 * the same statement ($9 operator, $10 invocation; audit.h): the scope, not
 * the name, which may be a person's. */
static const char SQL_INSERT[] =
    "WITH k AS (INSERT INTO api_keys (id, name, prefix, key_hash, scope, expires_at) "
    "           VALUES ($1, $2, $3, sha256(convert_to($4, 'UTF8')), $5, "
    "               CASE WHEN $6::date IS NOT NULL "
    "                    THEN ($6::date + 1)::timestamp AT TIME ZONE 'Asia/Jakarta' "
    "                    WHEN $7::integer IS NOT NULL "
    "                    THEN now() + make_interval(days => $7::integer) END) "
    "           RETURNING id, scope, expires_at), "
    "  au AS (INSERT INTO audit_log (actor_kind, actor, action, object, nik_hashes, "
    "              request_id, detail) "
    "         SELECT 'operator', $9, 'apikey.create', k.id::text, '{}', $10, "
    "             jsonb_build_object('scope', k.scope) "
    "         FROM k) "
    "SELECT to_char(expires_at AT TIME ZONE 'UTC', $8) "
    "FROM k";
enum { IN_EXPIRES };

enum {
    L_ID,
    L_NAME,
    L_PREFIX,
    L_SCOPE,
    L_STATUS,
    L_CREATED,
    L_EXPIRES,
    L_USED,
    L_REVOKED
};

/* $1 TS_FORMAT */
static const char SQL_LIST[] = "SELECT id, name, prefix, scope, "
                               "    CASE WHEN revoked_at IS NOT NULL THEN 'revoked' "
                               "         WHEN expires_at <= now() THEN 'expired' "
                               "         ELSE 'active' END, "
                               "    to_char(created_at AT TIME ZONE 'UTC', $1), "
                               "    to_char(expires_at AT TIME ZONE 'UTC', $1), "
                               "    to_char(last_used_at AT TIME ZONE 'UTC', $1), "
                               "    to_char(revoked_at AT TIME ZONE 'UTC', $1) "
                               "FROM api_keys "
                               "ORDER BY created_at, id";

/* With its audit record ($2 operator, $3 invocation). */
static const char SQL_REVOKE[] =
    "WITH k AS (UPDATE api_keys SET revoked_at = now() "
    "           WHERE id = $1::uuid AND revoked_at IS NULL "
    "           RETURNING id, name, prefix), "
    "  au AS (INSERT INTO audit_log (actor_kind, actor, action, object, nik_hashes, "
    "              request_id, detail) "
    "         SELECT 'operator', $2, 'apikey.revoke', k.id::text, '{}', $3, '{}' "
    "         FROM k) "
    "SELECT id, name, prefix "
    "FROM k";
enum { RV_ID, RV_NAME, RV_PREFIX };

static const char SQL_REVOKED_AT[] = "SELECT to_char(revoked_at AT TIME ZONE 'UTC', $2) "
                                     "FROM api_keys "
                                     "WHERE id = $1::uuid";
enum { RA_AT };

/* Keys an operator may have meant by something that is not a whole id: the
 * same prefix, or an id beginning with it (4 characters at least, or every
 * key would be listed for ""). */
static const char SQL_CANDIDATES[] =
    "SELECT id, prefix, name "
    "FROM api_keys "
    "WHERE prefix = $1 "
    "   OR (length($1) >= 4 AND left(id::text, length($1)) = lower($1)) "
    "ORDER BY created_at, id";
enum { CA_ID, CA_PREFIX, CA_NAME };

/* ---------------------------------------------------------------- create */

typedef struct {
    const char *name;
    const char *scope;
    const char *expires_date; /* "YYYY-MM-DD" or NULL */
    const char *expires_days; /* "N" or NULL */
    bool json;
} create_args_t;

static int make_key(char out[KEY_LEN + 1])
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

/* --expires: a last day, not before today (Asia/Jakarta), or a whole number
 * of days. False, with a message, for anything else. */
static bool expiry_read(const char *v, create_args_t *a)
{
    date_t day;
    if (date_parse(v, &day)) {
        if (date_compare(day, date_today()) < 0) {
            fprintf(stderr, "apikey create: --expires %s is already past\n", v);
            return false;
        }
        a->expires_date = v;
        return true;
    }
    size_t n = strlen(v);
    long days = n > 0 && n <= 5 && strspn(v, "0123456789") == n ? strtol(v, NULL, 10) : 0;
    if (days < 1 || days > MAX_EXPIRY_DAYS) {
        fprintf(stderr,
                "apikey create: --expires takes a date YYYY-MM-DD or a number of "
                "days (1-%d)\n",
                MAX_EXPIRY_DAYS);
        return false;
    }
    a->expires_days = v;
    return true;
}

static bool create_args_read(int argc, char **argv, create_args_t *a)
{
    memset(a, 0, sizeof *a);
    a->name = args_value(argc, argv, "--name");
    a->scope = args_value(argc, argv, "--scope");
    a->json = args_flag(argc, argv, "--json");
    if (!a->scope)
        a->scope = "admin";
    if (!a->name || !a->name[0]) {
        fprintf(stderr, "apikey create: --name is required\n");
        return false;
    }
    const char *expires = args_value(argc, argv, "--expires");
    if (!expires && args_flag(argc, argv, "--expires")) {
        fprintf(stderr, "apikey create: --expires needs a value\n");
        return false;
    }
    return !expires || expiry_read(expires, a);
}

/* stdout carries the key alone (scripts read it with $(...)); the id, which
 * an operator needs to revoke it later, goes to stderr. 0, or 1 when the
 * JSON could not be printed (the key exists: revoke it). */
static int print_created(const create_args_t *a, const char *id, const char *key,
                         const char *scope, const PGresult *r)
{
    bool expires = !PQgetisnull(r, 0, IN_EXPIRES);
    if (!a->json) {
        printf("%s\n", key);
        fprintf(stderr, "apikey create: key id %s (%s), %s%s\n", id, a->name,
                expires ? "expires " : "no expiry",
                expires ? PQgetvalue(r, 0, IN_EXPIRES) : "");
        return 0;
    }
    cJSON *o = cJSON_CreateObject();
    bool ok =
        o && cJSON_AddStringToObject(o, "id", id) &&
        cJSON_AddStringToObject(o, "key", key) &&
        cJSON_AddStringToObject(o, "name", a->name) &&
        cJSON_AddStringToObject(o, "scope", scope) &&
        (expires ? cJSON_AddStringToObject(o, "expires_at", PQgetvalue(r, 0, IN_EXPIRES))
                 : cJSON_AddNullToObject(o, "expires_at"));
    if (session_print_json(pgjson_whole(o, ok)) == 0)
        return 0;
    fprintf(stderr, "apikey create: key id %s was created but not shown: revoke it\n",
            id);
    return 1;
}

static int apikey_create(db_t *db, const create_args_t *a)
{
    scope_t scope;
    if (!scope_parse(a->scope, &scope)) {
        fprintf(stderr, "apikey create: --scope must be admin, regency:PP.RR or "
                        "village:PP.RR.DD.VVVV\n");
        return 2;
    }
    if (!scope_region_exists(db, &scope)) {
        fprintf(stderr, "apikey create: %s is not a known region\n", scope.code);
        return 1;
    }
    char key[KEY_LEN + 1], prefix[PREFIX_LEN + 1], id[ID_LEN + 1], canonical[32];
    uuid_t raw;
    if (make_key(key) != 0) {
        fprintf(stderr, "apikey create: no randomness available\n");
        return 1;
    }
    memcpy(prefix, key, PREFIX_LEN);
    prefix[PREFIX_LEN] = '\0';
    uuid_generate_random(raw);
    uuid_unparse_lower(raw, id);
    scope_format(&scope, canonical);
    const char *params[] = {id,
                            a->name,
                            prefix,
                            key,
                            canonical,
                            a->expires_date,
                            a->expires_days,
                            TS_FORMAT,
                            audit_operator(),
                            audit_invocation()};
    PGresult *r = db_exec(db, SQL_INSERT, 10, params);
    if (!db_ok(r) || PQntuples(r) != 1) {
        fprintf(stderr, "apikey create: %s\n", db_error(db));
        PQclear(r);
        return 1;
    }
    int rc = print_created(a, id, key, canonical, r);
    PQclear(r);
    return rc;
}

/* ---------------------------------------------------------------- list */

static const pgjson_col_t LIST_COLS[] = {{"id", L_ID, PGJSON_TEXT},
                                         {"name", L_NAME, PGJSON_TEXT},
                                         {"prefix", L_PREFIX, PGJSON_TEXT},
                                         {"scope", L_SCOPE, PGJSON_TEXT},
                                         {"status", L_STATUS, PGJSON_TEXT},
                                         {"created_at", L_CREATED, PGJSON_TEXT},
                                         {"expires_at", L_EXPIRES, PGJSON_TEXT},
                                         {"last_used_at", L_USED, PGJSON_TEXT},
                                         {"revoked_at", L_REVOKED, PGJSON_TEXT}};

static int list_json(const PGresult *r)
{
    return session_print_json(pgjson_table(r, LIST_COLS, PGJSON_NCOLS(LIST_COLS)));
}

/* A time for the table: "2025-05-30T10:11Z" (UTC, to the minute), "-" for none. */
static const char *short_time(const PGresult *r, int row, int col, char out[18])
{
    if (PQgetisnull(r, row, col))
        return "-";
    snprintf(out, 18, "%.16sZ", PQgetvalue(r, row, col));
    return out;
}

static void list_text(const PGresult *r)
{
    printf("%-36s  %-11s  %-21s  %-7s  %-17s  %-17s  %-17s  %-17s  %s\n", "ID", "PREFIX",
           "SCOPE", "STATUS", "CREATED", "EXPIRES", "LAST USED", "REVOKED", "NAME");
    for (int i = 0; i < PQntuples(r); i++) {
        char created[18], expires[18], used[18], revoked[18];
        printf("%-36s  %-11s  %-21s  %-7s  %-17s  %-17s  %-17s  %-17s  %s\n",
               PQgetvalue(r, i, L_ID), PQgetvalue(r, i, L_PREFIX),
               PQgetvalue(r, i, L_SCOPE), PQgetvalue(r, i, L_STATUS),
               short_time(r, i, L_CREATED, created), short_time(r, i, L_EXPIRES, expires),
               short_time(r, i, L_USED, used), short_time(r, i, L_REVOKED, revoked),
               PQgetvalue(r, i, L_NAME));
    }
}

static int apikey_list(db_t *db, bool json)
{
    const char *params[] = {TS_FORMAT};
    PGresult *r = db_exec(db, SQL_LIST, 1, params);
    if (!db_ok(r)) {
        fprintf(stderr, "apikey list: %s\n", db_error(db));
        PQclear(r);
        return 1;
    }
    int rc = 0;
    if (json)
        rc = list_json(r);
    else
        list_text(r);
    PQclear(r);
    return rc;
}

/* ---------------------------------------------------------------- revoke */

/* A whole key id: a UUID, 8-4-4-4-12 hex digits. */
static bool is_key_id(const char *s)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    if (strlen(s) != ID_LEN)
        return false;
    for (size_t i = 0; i < ID_LEN; i++) {
        bool hex = strchr("0123456789abcdefABCDEF", s[i]) != NULL;
        if (shape[i] == '-' ? s[i] != '-' : !hex)
            return false;
    }
    return true;
}

/* Something that is not a whole id revokes nothing: a prefix may be shared
 * by several keys. Lists the keys it could mean, so the operator can pick. */
static int revoke_refuse(db_t *db, const char *which)
{
    const char *params[] = {which};
    PGresult *r = db_exec(db, SQL_CANDIDATES, 1, params);
    int n = db_ok(r) ? PQntuples(r) : 0;
    fprintf(stderr,
            "apikey revoke: %s is not a key id; nothing revoked. Give the whole id "
            "(36 characters) as `lindungctl apikey list` shows it.\n",
            which);
    if (n > 0)
        fprintf(stderr, "keys it could mean (%d):\n", n);
    for (int i = 0; i < n; i++)
        fprintf(stderr, "  %s  %s  %s\n", PQgetvalue(r, i, CA_ID),
                PQgetvalue(r, i, CA_PREFIX), PQgetvalue(r, i, CA_NAME));
    PQclear(r);
    return 2;
}

/* Why nothing was revoked: an id already revoked, or no such key. */
static int revoke_explain(db_t *db, const char *id)
{
    const char *params[] = {id, TS_FORMAT};
    PGresult *r = db_exec(db, SQL_REVOKED_AT, 2, params);
    if (!db_ok(r))
        fprintf(stderr, "apikey revoke: %s\n", db_error(db));
    else if (PQntuples(r) == 1)
        fprintf(stderr, "apikey revoke: key %s was already revoked at %s\n", id,
                PQgetvalue(r, 0, RA_AT));
    else
        fprintf(stderr, "apikey revoke: no key has id %s\n", id);
    PQclear(r);
    return 1;
}

static int apikey_revoke(db_t *db, const char *which)
{
    if (!is_key_id(which))
        return revoke_refuse(db, which);
    const char *params[] = {which, audit_operator(), audit_invocation()};
    PGresult *r = db_exec(db, SQL_REVOKE, 3, params);
    if (!db_ok(r)) {
        fprintf(stderr, "apikey revoke: %s\n", db_error(db));
        PQclear(r);
        return 1;
    }
    int n = PQntuples(r);
    if (n == 1)
        printf("revoked key %s (%s, %s)\n", PQgetvalue(r, 0, RV_ID),
               PQgetvalue(r, 0, RV_PREFIX), PQgetvalue(r, 0, RV_NAME));
    PQclear(r);
    return n == 1 ? 0 : revoke_explain(db, which);
}

/* ---------------------------------------------------------------- dispatch */

void apikey_usage(FILE *out)
{
    fputs(USAGE, out);
}

static int usage_error(void)
{
    fputs(USAGE, stderr);
    return 2;
}

int apikey_main(int argc, char **argv)
{
    int n = argc - 1;
    char **a = argv + 1;
    if (args_flag(n, a, "--help") || args_flag(n, a, "-h")) {
        fputs(USAGE, stdout);
        return 0;
    }
    const char *verb = n > 0 ? a[0] : "";
    create_args_t create;
    bool is_create = strcmp(verb, "create") == 0;
    if (is_create && !create_args_read(n, a, &create))
        return 2;
    if (!is_create && strcmp(verb, "list") != 0 &&
        !(strcmp(verb, "revoke") == 0 && n == 2))
        return usage_error();
    db_t *db = session_connect();
    if (!db)
        return 1;
    int rc = is_create                   ? apikey_create(db, &create)
             : strcmp(verb, "list") == 0 ? apikey_list(db, args_flag(n, a, "--json"))
                                         : apikey_revoke(db, a[1]);
    db_destroy(&db);
    return rc;
}
