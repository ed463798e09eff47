/* report: `lindungctl report participants [--program CODE] [--level
 * village|district|regency] [--json]`, participants against target read
 * from the views of db/migrations/022_reports.sql, the same ones GET
 * /v1/reports/participants reads. An operator on the database host sees
 * every programme (no key, no scope). --json prints the rows as a JSON
 * array with the API's field names; numbers are numbers, NULL is null
 * (json_agg does the typing, so there is no column list to keep here). */
#include "report.h"
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "args.h"
#include "db.h"
#include "session.h"

#define USAGE                                                                            \
    "usage: lindungctl report participants [--program CODE]\n"                           \
    "                  [--level village|district|regency] [--json]\n"                    \
    "                  participants against target (default level: village)\n"

/* $1 the programme code (NULL: all). The columns of GET /v1/reports/participants. */
static const char SQL_VILLAGES[] =
    "SELECT program_code, regency_code, district_code, village_code, village_name, "
    "    village_kind, enrolled, active, covered_now, village_target, village_quota, "
    "    target_share_bp "
    "FROM report_participants_village "
    "WHERE ($1::text IS NULL OR program_code = $1) "
    "ORDER BY program_code, village_code";

static const char SQL_DISTRICTS[] =
    "SELECT program_code, regency_code, district_code, district_name, villages, "
    "    enrolled, active, covered_now, target, quota, villages_at_target, "
    "    target_share_bp "
    "FROM report_participants_district "
    "WHERE ($1::text IS NULL OR program_code = $1) "
    "ORDER BY program_code, district_code";

static const char SQL_REGENCIES[] =
    "SELECT program_code, regency_code, regency_name, villages, enrolled, active, "
    "    covered_now, target, total_target, total_quota, villages_at_target, "
    "    target_share_bp, bpjs_unconfirmed "
    "FROM report_participants_regency "
    "WHERE ($1::text IS NULL OR program_code = $1) "
    "ORDER BY program_code";

/* The same rows as one JSON array. */
static const char SQL_AS_JSON[] = "SELECT coalesce(json_agg(t), '[]')::text FROM (%s) t";
enum { AJ_DOCUMENT };

static const char SQL_PROGRAM_EXISTS[] = "SELECT 1 FROM programs WHERE code = $1";

static const char *level_sql(const char *level)
{
    if (!level || strcmp(level, "village") == 0)
        return SQL_VILLAGES;
    if (strcmp(level, "district") == 0)
        return SQL_DISTRICTS;
    if (strcmp(level, "regency") == 0)
        return SQL_REGENCIES;
    return NULL;
}

/* A table: a header of column names, then one line per row, each column as
 * wide as its widest value; NULL shown as "-". */
static void print_table(const PGresult *r)
{
    int nf = PQnfields(r), n = PQntuples(r);
    int width[32] = {0};
    for (int c = 0; c < nf && c < 32; c++) {
        width[c] = (int)strlen(PQfname(r, c));
        for (int i = 0; i < n; i++)
            if (PQgetlength(r, i, c) > width[c])
                width[c] = PQgetlength(r, i, c);
    }
    for (int c = 0; c < nf && c < 32; c++)
        printf("%-*s%s", width[c], PQfname(r, c), c + 1 < nf ? "  " : "\n");
    for (int i = 0; i < n; i++)
        for (int c = 0; c < nf && c < 32; c++)
            printf("%-*s%s", width[c], PQgetisnull(r, i, c) ? "-" : PQgetvalue(r, i, c),
                   c + 1 < nf ? "  " : "\n");
}

static bool program_exists(db_t *db, const char *program)
{
    const char *params[] = {program};
    PGresult *r = db_exec(db, SQL_PROGRAM_EXISTS, 1, params);
    bool ok = db_ok(r) && PQntuples(r) == 1;
    PQclear(r);
    return ok;
}

static int participants(int argc, char **argv)
{
    const char *program = args_value(argc, argv, "--program");
    const char *sql = level_sql(args_value(argc, argv, "--level"));
    if (!sql) {
        fputs(USAGE, stderr);
        return 2;
    }
    db_t *db = session_db();
    if (!db)
        return 1;
    if (program && !program_exists(db, program)) {
        fprintf(stderr, "report participants: no programme %s\n", program);
        return 1;
    }
    bool json = args_flag(argc, argv, "--json");
    char wrapped[2048];
    if (json)
        snprintf(wrapped, sizeof wrapped, SQL_AS_JSON, sql);
    const char *params[] = {program};
    PGresult *r = db_exec(db, json ? wrapped : sql, 1, params);
    if (!db_ok(r)) {
        fprintf(stderr, "report participants: %s\n", db_error(db));
        PQclear(r);
        return 1;
    }
    if (json)
        printf("%s\n", PQgetvalue(r, 0, AJ_DOCUMENT));
    else
        print_table(r);
    PQclear(r);
    return 0;
}

void report_usage(FILE *out)
{
    fputs(USAGE, out);
}

int report_main(int argc, char **argv)
{
    /* argv[0] is "report" */
    int n = argc - 1;
    char **a = argv + 1;
    if (n >= 1 && (args_flag(n, a, "--help") || args_flag(n, a, "-h"))) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (n < 1 || strcmp(a[0], "participants") != 0) {
        fputs(USAGE, stderr);
        return 2;
    }
    int rc = participants(n, a); /* connects once its arguments are checked */
    session_close();
    return rc;
}
