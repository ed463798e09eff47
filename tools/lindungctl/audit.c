/* audit: reading the audit trail, and lindungctl's own records in it. A
 * NIK is looked for by its hash (audit_nik_hash(), the same function every
 * writer uses), so the trail is searched by person without holding anyone's
 * NIK; the NIK given is never printed. Rows come oldest first: the newest
 * --limit of those that match. */
#include "audit.h"
#include <cjson/cJSON.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>
#include "args.h"
#include "pgjson.h"
#include "session.h"

#define LIMIT_DEFAULT "1000"
#define LIMIT_MAX 100000

static const char USAGE[] =
    "  audit [--nik NIK] [--key KEY_ID] [--since TIME] [--until TIME]\n"
    "        [--action NAME] [--limit N] [--json]\n"
    "                                       the audit trail: every read of a\n"
    "                                       person's data and every change, oldest\n"
    "                                       first (the newest N, default 1000);\n"
    "                                       --nik: those about that person, --key:\n"
    "                                       those by (or creating, revoking) that\n"
    "                                       key, --action: that action or family\n"
    "                                       (invoice: invoice.*); TIME as\n"
    "                                       PostgreSQL reads it, e.g. 2026-05-01 or\n"
    "                                       2026-05-01T08:00:00+07\n";

static const char *SQL_RECORD =
    "INSERT INTO audit_log (actor_kind, actor, action, object, nik_hashes, request_id, "
    "    detail) "
    "VALUES ('operator', $1, $2, $3, "
    "    CASE WHEN $4::text IS NULL THEN '{}' ELSE ARRAY[audit_nik_hash($4)] END, "
    "    $5, coalesce($6::jsonb, '{}'))";

/* $1 NIK (16 digits), $2 key id, $3 since, $4 until, $5 action or family,
 * $6 limit; NULL: no condition. */
static const char *SQL_SEARCH =
    "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
    "  actor_kind, actor, db_user, action, object, nik_count, request_id, detail::text "
    "FROM (SELECT * FROM audit_log "
    "      WHERE ($1::text IS NULL OR nik_hashes @> ARRAY[audit_nik_hash($1)]) "
    "        AND ($2::text IS NULL OR actor = $2 OR actor = lower($2) "
    "             OR (action LIKE 'apikey.%' AND object = lower($2))) "
    "        AND ($3::timestamptz IS NULL OR at >= $3::timestamptz) "
    "        AND ($4::timestamptz IS NULL OR at < $4::timestamptz) "
    "        AND ($5::text IS NULL OR action = $5 OR action LIKE $5 || '.%') "
    "      ORDER BY id DESC LIMIT $6::integer) t "
    "ORDER BY id";

enum {
    A_ID,
    A_AT,
    A_KIND,
    A_ACTOR,
    A_DB_USER,
    A_ACTION,
    A_OBJECT,
    A_NIKS,
    A_REQUEST,
    A_DETAIL
};

const char *audit_operator(void)
{
    static char name[64];
    if (name[0])
        return name;
    const struct passwd *pw = getpwuid(geteuid());
    if (pw && pw->pw_name && pw->pw_name[0])
        snprintf(name, sizeof name, "%s", pw->pw_name);
    else
        snprintf(name, sizeof name, "uid:%u", (unsigned)geteuid());
    return name;
}

const char *audit_invocation(void)
{
    static char id[37];
    if (!id[0]) {
        uuid_t raw;
        uuid_generate_random(raw);
        uuid_unparse_lower(raw, id);
    }
    return id;
}

bool audit_record(db_t *db, const char *action, const char *object, const char *nik,
                  const char *detail)
{
    const char *params[] = {audit_operator(),   action, object, nik,
                            audit_invocation(), detail};
    return db_run(db, SQL_RECORD, 6, params);
}

void audit_usage(FILE *out)
{
    fputs(USAGE, out);
}

/* ---------------------------------------------------------------- search */

typedef struct {
    char nik[NIK_LEN + 1]; /* "" when not asked */
    const char *key, *since, *until, *action, *limit;
    bool json;
} search_t;

static bool valued(int argc, char **argv, const char *flag, const char **out)
{
    *out = args_value(argc, argv, flag);
    if (*out || !args_flag(argc, argv, flag))
        return true;
    fprintf(stderr, "audit: %s needs a value\n", flag);
    return false;
}

static bool search_read(int argc, char **argv, search_t *s)
{
    static const char *const flags[] = {"--json", NULL};
    static const char *const with_value[] = {"--nik",    "--key",   "--since", "--until",
                                             "--action", "--limit", NULL};
    memset(s, 0, sizeof *s);
    const char *nik;
    if (!args_known(argc, argv, flags, with_value, "audit"))
        return false;
    if (!valued(argc, argv, "--nik", &nik) || !valued(argc, argv, "--key", &s->key) ||
        !valued(argc, argv, "--since", &s->since) ||
        !valued(argc, argv, "--until", &s->until) ||
        !valued(argc, argv, "--action", &s->action) ||
        !valued(argc, argv, "--limit", &s->limit))
        return false;
    if (nik && !args_nik_digits(nik, s->nik)) {
        fprintf(stderr, "audit: --nik must be a NIK of 16 digits\n");
        return false;
    }
    if (!s->limit)
        s->limit = LIMIT_DEFAULT;
    size_t n = strlen(s->limit);
    long limit = n && n <= 6 && strspn(s->limit, "0123456789") == n ? atol(s->limit) : 0;
    if (limit < 1 || limit > LIMIT_MAX) {
        fprintf(stderr, "audit: --limit must be a whole number from 1 to %d\n",
                LIMIT_MAX);
        return false;
    }
    s->json = args_flag(argc, argv, "--json");
    return true;
}

static const pgjson_col_t ROW_COLS[] = {{"id", A_ID, PGJSON_INT},
                                        {"at", A_AT, PGJSON_TEXT},
                                        {"actor_kind", A_KIND, PGJSON_TEXT},
                                        {"actor", A_ACTOR, PGJSON_TEXT},
                                        {"db_user", A_DB_USER, PGJSON_TEXT},
                                        {"action", A_ACTION, PGJSON_TEXT},
                                        {"object", A_OBJECT, PGJSON_TEXT},
                                        {"nik_count", A_NIKS, PGJSON_INT},
                                        {"request_id", A_REQUEST, PGJSON_TEXT}};

/* The stored detail, or {} when it cannot be read; NULL when out of memory. */
static cJSON *detail_json(const char *text)
{
    cJSON *detail = cJSON_Parse(text);
    return detail ? detail : cJSON_CreateObject();
}

static cJSON *row_json(const PGresult *r, int i, const void *ctx)
{
    (void)ctx;
    cJSON *o = pgjson_row(r, i, ROW_COLS, PGJSON_NCOLS(ROW_COLS));
    return pgjson_whole(o,
                        pgjson_put(o, "detail", detail_json(PQgetvalue(r, i, A_DETAIL))));
}

static const char *or_dash(const PGresult *r, int i, int c)
{
    return PQgetisnull(r, i, c) ? "-" : PQgetvalue(r, i, c);
}

static void print_text(const PGresult *r)
{
    printf("%-8s %-24s %-8s %-36s %-20s %-36s %5s %-36s %s\n", "ID", "AT (UTC)", "KIND",
           "ACTOR", "ACTION", "OBJECT", "NIKS", "REQUEST", "DETAIL");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%-8s %-24s %-8s %-36s %-20s %-36s %5s %-36s %s\n", PQgetvalue(r, i, A_ID),
               PQgetvalue(r, i, A_AT), PQgetvalue(r, i, A_KIND),
               PQgetvalue(r, i, A_ACTOR), PQgetvalue(r, i, A_ACTION),
               or_dash(r, i, A_OBJECT), PQgetvalue(r, i, A_NIKS),
               or_dash(r, i, A_REQUEST), PQgetvalue(r, i, A_DETAIL));
}

/* A time PostgreSQL cannot read is the operator's mistake (exit 2), not
 * the database's (exit 1). */
static int search_failed(db_t *db, const PGresult *r)
{
    bool bad_input = strncmp(db_sqlstate(r), "22", 2) == 0;
    fprintf(stderr, "audit: %s\n", db_error(db));
    return bad_input ? 2 : 1;
}

static int search(db_t *db, const search_t *s)
{
    const char *params[] = {
        s->nik[0] ? s->nik : NULL, s->key, s->since, s->until, s->action, s->limit};
    PGresult *r = db_exec(db, SQL_SEARCH, 6, params);
    int rc = 0;
    if (!db_ok(r))
        rc = search_failed(db, r);
    else if (s->json)
        rc = session_print_json(pgjson_rows(r, row_json, NULL));
    else
        print_text(r);
    PQclear(r);
    return rc;
}

int audit_main(int argc, char **argv)
{
    int n = argc - 1;
    char **a = argv + 1;
    if (args_flag(n, a, "--help") || args_flag(n, a, "-h")) {
        audit_usage(stdout);
        return 0;
    }
    search_t s;
    if (!search_read(n, a, &s))
        return 2;
    db_t *db = session_connect();
    if (!db)
        return 1;
    int rc = search(db, &s);
    db_destroy(&db);
    return rc;
}
