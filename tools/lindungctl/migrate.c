/* migrate: each migration runs in its own transaction together with its
 * row in schema_migrations, so a crash leaves it applied or not at all, and
 * a session-level advisory lock keeps two migrators from racing. Migration
 * files are trusted SQL from the repository, so they run as whole scripts
 * (PQexec); everything else in lindung uses parameters. A line
 * "-- copy: TABLE (COLS) FROM PATH" also loads PATH (CSV with a header,
 * relative to the migrations' parent folder) into TABLE. */
#include "migrate.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MIGRATIONS 1000

static const char *SQL_TRACKING = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                  "    version integer PRIMARY KEY, "
                                  "    name text NOT NULL, "
                                  "    applied_at timestamptz NOT NULL DEFAULT now())";
static const char *SQL_LOCK = "SELECT pg_advisory_lock(4242, 0)";
static const char *SQL_UNLOCK = "SELECT pg_advisory_unlock(4242, 0)";
static const char *SQL_APPLIED = "SELECT 1 FROM schema_migrations WHERE version = $1";
static const char *SQL_RECORD =
    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)";

/* The whole file, NUL-terminated (caller frees); NULL when it cannot be read
 * or memory ran out. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (!buf) {
        fclose(f);
        return NULL;
    }
    size_t got = fread(buf, 1, (size_t)size, f);
    fclose(f);
    buf[got] = '\0';
    if (len)
        *len = got;
    return buf;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_migration(const char *name)
{
    size_t len = strlen(name);
    return len > 8 && strspn(name, "0123456789") == 3 && name[3] == '_' &&
           strcmp(name + len - 4, ".sql") == 0;
}

/* NNN_name.sql files, sorted; -1 when the folder cannot be read or memory
 * ran out. */
static int list_migrations(const char *dir, char **names, int cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    bool ok = true;
    struct dirent *e;
    while (ok && n < cap && (e = readdir(d)))
        if (is_migration(e->d_name))
            ok = (names[n++] = strdup(e->d_name)) != NULL;
    closedir(d);
    if (!ok) {
        while (n > 0)
            free(names[--n]);
        return -1;
    }
    qsort(names, (size_t)n, sizeof *names, by_name);
    return n;
}

static int copy_csv(PGconn *conn, const char *target, const char *path)
{
    char sql[640];
    snprintf(sql, sizeof sql, "COPY %s FROM STDIN WITH (FORMAT csv, HEADER true)",
             target);
    PGresult *r = PQexec(conn, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        fprintf(stderr, "migrate: %s", PQerrorMessage(conn));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    size_t len = 0;
    char *data = read_file(path, &len);
    if (!data) {
        PQputCopyEnd(conn, "file missing");
        PQclear(PQgetResult(conn));
        fprintf(stderr, "migrate: cannot read %s\n", path);
        return -1;
    }
    int ok = PQputCopyData(conn, data, (int)len) == 1 && PQputCopyEnd(conn, NULL) == 1;
    free(data);
    r = PQgetResult(conn);
    ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "migrate: loading %s: %s", path, PQerrorMessage(conn));
    PQclear(r);
    while ((r = PQgetResult(conn)))
        PQclear(r);
    return ok ? 0 : -1;
}

/* Run the "-- copy:" directives of one migration. */
static int run_copies(PGconn *conn, const char *dir, const char *sql)
{
    const char *tag = "-- copy: ";
    for (const char *p = strstr(sql, tag); p; p = strstr(p + 1, tag)) {
        char line[512], target[512], path[1100];
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len >= sizeof line)
            return -1;
        memcpy(line, p + strlen(tag), len - strlen(tag));
        line[len - strlen(tag)] = '\0';
        char *from = strstr(line, " FROM ");
        if (!from)
            return -1;
        *from = '\0';
        snprintf(target, sizeof target, "%s", line);
        snprintf(path, sizeof path, "%s/../%s", dir, from + 6);
        if (copy_csv(conn, target, path) != 0)
            return -1;
    }
    return 0;
}

static int apply_one(db_t *db, const char *dir, const char *name)
{
    char version[8], path[1024];
    snprintf(version, sizeof version, "%d", atoi(name));
    const char *params[] = {version, name};
    PGresult *r = db_exec(db, SQL_APPLIED, 1, params);
    bool applied = db_ok(r) && PQntuples(r) == 1;
    bool failed = !db_ok(r);
    PQclear(r);
    if (failed)
        return -1;
    if (applied)
        return 0;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *sql = read_file(path, NULL);
    if (!sql)
        return -1;
    PGconn *conn = db_conn(db);
    bool ok = db_begin(db);
    r = ok ? PQexec(conn, sql) : NULL;
    ok = ok && db_ok(r);
    if (!ok && r)
        fprintf(stderr, "migrate: %s: %s", name, PQresultErrorMessage(r));
    PQclear(r);
    ok = ok && run_copies(conn, dir, sql) == 0 && db_run(db, SQL_RECORD, 2, params) &&
         db_commit(db);
    free(sql);
    if (!ok) {
        db_rollback(db);
        return -1;
    }
    printf("applied %s\n", name);
    return 1;
}

int migrate_apply(db_t *db, const char *dir)
{
    if (!db_run(db, SQL_LOCK, 0, NULL)) {
        fprintf(stderr, "migrate: %s\n", db_error(db));
        return -1;
    }
    /* the lock lives in this session: one lost mid-way (a failover) must
     * stop the run, not go on unlocked in a new one */
    db_pin(db, true);
    if (!db_run(db, SQL_TRACKING, 0, NULL)) {
        fprintf(stderr, "migrate: %s\n", db_error(db));
        db_pin(db, false);
        return -1;
    }
    char *names[MAX_MIGRATIONS];
    int n = list_migrations(dir, names, MAX_MIGRATIONS);
    if (n < 0)
        fprintf(stderr, "migrate: cannot read folder %s: %s\n", dir, strerror(errno));
    int applied = 0;
    for (int i = 0; i < n; i++) {
        int rc = applied >= 0 ? apply_one(db, dir, names[i]) : 0;
        if (rc < 0) {
            fprintf(stderr, "migrate: %s failed\n", names[i]);
            applied = -1;
        } else if (applied >= 0) {
            applied += rc;
        }
        free(names[i]);
    }
    db_run(db, SQL_UNLOCK, 0, NULL);
    db_pin(db, false);
    return n < 0 ? -1 : applied;
}
