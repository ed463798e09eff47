/* enrolment: `lindungctl enrolment end NIK --month YYYY-MM --reason R` and
 * `lindungctl enrolment history NIK`. The end month is the last month still
 * covered and billed; it may not be before the enrolment's first month. */
#include "enrolment.h"
#include "args.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nik.h"
#include "period.h"

static const char *const REASONS[] = {"death",  "moved",         "left",
                                      "lapsed", "program_ended", NULL};

static const char *SQL_END =
    "UPDATE enrolments SET status = 'ended', end_month = $2::date, end_reason = $3, "
    "  ended_at = now() "
    "WHERE nik = $1 AND status = 'active' AND start_month <= $2::date "
    "RETURNING id, (SELECT code FROM programs p WHERE p.id = program_id), village_code";

static const char *SQL_HISTORY =
    "SELECT e.id, p.code, e.village_code, e.funding_source, e.payer_code, "
    "  to_char(e.start_month, 'YYYY-MM'), coalesce(to_char(e.end_month, 'YYYY-MM'), ''), "
    "  e.status, coalesce(e.end_reason, '') "
    "FROM enrolments e JOIN programs p ON p.id = e.program_id WHERE e.nik = $1 "
    /* every status, spelt out: answered from the index of active NIKs and the
     * index of ended ones (008_verify_speed.sql) */
    "  AND (e.status = 'active' OR e.status = 'ended') ORDER BY e.id";

static bool known_reason(const char *r)
{
    for (const char *const *p = REASONS; r && *p; p++)
        if (strcmp(*p, r) == 0)
            return true;
    return false;
}

static int end_one(db_t *db, const char *nik_text, const char *month, const char *reason)
{
    nik_t nik;
    period_t p;
    if (nik_parse(nik_text, date_today(), &nik) != NIK_OK) {
        fprintf(stderr, "enrolment end: not a valid NIK\n");
        return 2;
    }
    if (!month || !period_parse(month, &p)) {
        fprintf(stderr,
                "enrolment end: --month YYYY-MM (the last covered month) is required\n");
        return 2;
    }
    if (!known_reason(reason)) {
        fprintf(stderr, "enrolment end: --reason must be death, moved, left, lapsed or "
                        "program_ended\n");
        return 2;
    }
    char first_day[11], masked[NIK_MASKED_LEN + 1];
    date_format(period_first_day(p), first_day);
    nik_mask(nik.digits, masked);
    const char *params[] = {nik.digits, first_day, reason};
    PGresult *r = db_exec(db, SQL_END, 3, params);
    int rc = 0;
    if (!db_ok(r)) {
        fprintf(stderr, "enrolment end: %s\n", db_error(db));
        rc = 1;
    } else if (PQntuples(r) == 0) {
        fprintf(stderr, "enrolment end: %s has no active enrolment that started by %s\n",
                masked, month);
        rc = 1;
    } else {
        printf("ended enrolment %s of %s (programme %s, village %s) after %s: %s\n",
               PQgetvalue(r, 0, 0), masked, PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
               month, reason);
    }
    PQclear(r);
    return rc;
}

static void history_json(const PGresult *r)
{
    const char *keys[] = {"enrolment_id",   "program_code", "village_code",
                          "funding_source", "payer_code",   "start_month",
                          "end_month",      "status",       "end_reason"};
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; i < PQntuples(r); i++) {
        cJSON *o = cJSON_CreateObject();
        for (int c = 0; c < 9; c++) {
            const char *v = PQgetvalue(r, i, c);
            if (c == 0)
                cJSON_AddNumberToObject(o, keys[c], atof(v));
            else if (!v[0] && (c == 6 || c == 8))
                cJSON_AddNullToObject(o, keys[c]);
            else
                cJSON_AddStringToObject(o, keys[c], v);
        }
        cJSON_AddItemToArray(list, o);
    }
    char *text = cJSON_Print(list);
    printf("%s\n", text);
    cJSON_free(text);
    cJSON_Delete(list);
}

static int history(db_t *db, const char *nik_text, bool json)
{
    nik_t nik;
    if (!nik_text || nik_parse(nik_text, date_today(), &nik) != NIK_OK) {
        fprintf(stderr, "enrolment history: not a valid NIK\n");
        return 2;
    }
    const char *params[] = {nik.digits};
    PGresult *r = db_exec(db, SQL_HISTORY, 1, params);
    if (!db_ok(r)) {
        fprintf(stderr, "enrolment history: %s\n", db_error(db));
        PQclear(r);
        return 1;
    }
    if (json) {
        history_json(r);
        PQclear(r);
        return 0;
    }
    printf("%-8s %-24s %-15s %-10s %-8s %-8s %-7s %s\n", "ID", "PROGRAMME", "VILLAGE",
           "SOURCE", "FROM", "TO", "STATUS", "REASON");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%-8s %-24s %-15s %-10s %-8s %-8s %-7s %s\n", PQgetvalue(r, i, 0),
               PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
               PQgetvalue(r, i, 5), PQgetvalue(r, i, 6), PQgetvalue(r, i, 7),
               PQgetvalue(r, i, 8));
    PQclear(r);
    return 0;
}

int enrolment_main(db_t *db, int argc, char **argv)
{
    const char *verb = argc > 1 ? argv[1] : "";
    if (strcmp(verb, "end") == 0 && argc > 2)
        return end_one(db, argv[2], args_value(argc, argv, "--month"),
                       args_value(argc, argv, "--reason"));
    if (strcmp(verb, "history") == 0)
        return history(db, argc > 2 ? argv[2] : NULL, args_flag(argc, argv, "--json"));
    fprintf(stderr,
            "usage: lindungctl enrolment end NIK --month YYYY-MM --reason REASON\n"
            "       lindungctl enrolment history NIK [--json]\n");
    return 2;
}
