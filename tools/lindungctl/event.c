/* event: list a person's life events and correct a death reported in
 * error. The rules live in SQL (017_life_events.sql) so the API and this
 * tool cannot disagree; this file reads arguments and prints. NIKs are
 * masked in everything printed, and NIK-like digits in free text (a
 * reference, a reason, a message) too, unless --unmasked (docs/operations.md,
 * "lindungctl for operators"): a village may type a NIK anywhere. */
#include "event.h"
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "audit.h"
#include "nik.h"
#include "pgjson.h"
#include "session.h"

#define MAX_REASON 500

static const char *SQL_LIST =
    "SELECT id, kind, to_char(event_date, 'YYYY-MM-DD'), coalesce(reference, ''), "
    "    coalesce(to_village, ''), coalesce(reason, ''), coalesce(result, ''), "
    "    coalesce(code, ''), coalesce(message, ''), coalesce(enrolment_id::text, ''), "
    "    coalesce(new_enrolment_id::text, ''), "
    "    to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "    coalesce(api_key_id::text, ''), "
    "    coalesce(to_char(corrected_at AT TIME ZONE 'UTC', "
    "                     'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
    "    coalesce(correction_reason, ''), coalesce(corrected_by, '') "
    "FROM participant_events "
    "WHERE nik = $1 "
    "ORDER BY id";
enum {
    EV_ID,
    EV_KIND,
    EV_DATE,
    EV_REFERENCE,
    EV_TO_VILLAGE,
    EV_REASON,
    EV_RESULT,
    EV_CODE,
    EV_MESSAGE,
    EV_ENROLMENT,
    EV_NEW_ENROLMENT,
    EV_RECEIVED,
    EV_API_KEY,
    EV_CORRECTED_AT,
    EV_CORRECTION_REASON,
    EV_CORRECTED_BY
};

static const char *SQL_DECEASED =
    "SELECT coalesce(to_char(deceased_on, 'YYYY-MM-DD'), '') "
    "FROM participants "
    "WHERE nik = $1";
enum { DE_ON };

/* The correction and, when made, its audit record ($4 operator, $5
 * invocation; audit.h) in one statement; not the reason, which is free text
 * and stays with the event. */
static const char *SQL_CORRECT =
    "WITH r AS MATERIALIZED ("
    "    SELECT result, message "
    "    FROM participant_event_correct($1::bigint, $2, $3)), "
    "  au AS (INSERT INTO audit_log (actor_kind, actor, action, object, nik_hashes, "
    "              request_id, detail) "
    "         SELECT 'operator', $4, 'event.correct', $1::text, "
    "             ARRAY(SELECT audit_nik_hash(pe.nik) FROM participant_events pe "
    "                   WHERE pe.id = $1::bigint), "
    "             $5, '{}' "
    "         FROM r "
    "         WHERE r.result = 'ok') "
    "SELECT * FROM r";
enum { CO_RESULT, CO_MESSAGE };

void event_usage(FILE *out)
{
    fputs(
        "  event list NIK [--unmasked] [--json] a person's life events (death, moved,\n"
        "                                       left) as reported, with results\n"
        "                                       (NIKs in them masked unless --unmasked)\n"
        "  event correct EVENT_ID --reason TEXT a death reported in error: clear\n"
        "                                       deceased_on, restore the coverage\n"
        "                                       (billing bills it again)\n",
        out);
}

static const pgjson_col_t EVENT_COLS[] = {
    {"event_id", EV_ID, PGJSON_TEXT},
    {"kind", EV_KIND, PGJSON_TEXT},
    {"date", EV_DATE, PGJSON_TEXT},
    {"reference", EV_REFERENCE, PGJSON_TEXT},
    {"to_village", EV_TO_VILLAGE, PGJSON_TEXT},
    {"reason", EV_REASON, PGJSON_TEXT},
    {"result", EV_RESULT, PGJSON_TEXT},
    {"code", EV_CODE, PGJSON_TEXT},
    {"message", EV_MESSAGE, PGJSON_TEXT},
    {"enrolment_id", EV_ENROLMENT, PGJSON_TEXT},
    {"new_enrolment_id", EV_NEW_ENROLMENT, PGJSON_TEXT},
    {"received_at", EV_RECEIVED, PGJSON_TEXT},
    {"api_key_id", EV_API_KEY, PGJSON_TEXT},
    {"corrected_at", EV_CORRECTED_AT, PGJSON_TEXT},
    {"correction_reason", EV_CORRECTION_REASON, PGJSON_TEXT},
    {"corrected_by", EV_CORRECTED_BY, PGJSON_TEXT}};

/* The free-text columns: what people typed (a reference, a reason) or
 * what was said back to them. */
static const int FREE_TEXT[] = {EV_REFERENCE, EV_REASON, EV_MESSAGE, EV_CORRECTION_REASON,
                                EV_CORRECTED_BY};
#define N_FREE_TEXT (sizeof FREE_TEXT / sizeof FREE_TEXT[0])

/* Every free-text column of row i as printed: NIK-like digit runs masked
 * unless unmasked. False when out of memory; text[] is then freed. */
static bool shown_texts(const PGresult *r, int i, bool unmasked, char *text[N_FREE_TEXT])
{
    bool ok = true;
    for (size_t t = 0; t < N_FREE_TEXT; t++) {
        text[t] =
            ok ? nik_mask_text_copy(PQgetvalue(r, i, FREE_TEXT[t]), unmasked) : NULL;
        ok = text[t] != NULL;
    }
    for (size_t t = 0; !ok && t < N_FREE_TEXT; t++) {
        free(text[t]);
        text[t] = NULL;
    }
    return ok;
}

static void texts_free(char *text[N_FREE_TEXT])
{
    for (size_t t = 0; t < N_FREE_TEXT; t++)
        free(text[t]);
}

/* The text of column col as shown_texts made it. */
static const char *shown(char *const text[N_FREE_TEXT], int col)
{
    for (size_t t = 0; t < N_FREE_TEXT; t++)
        if (FREE_TEXT[t] == col)
            return text[t];
    return "";
}

/* One event as EVENT_COLS writes it, its free text replaced where it
 * stands (the keys keep their order) by what shown_texts made. */
static cJSON *event_json(const PGresult *r, int i, const void *ctx)
{
    const bool *unmasked = ctx;
    char *text[N_FREE_TEXT];
    if (!shown_texts(r, i, *unmasked, text))
        return NULL;
    cJSON *o = pgjson_row(r, i, EVENT_COLS, PGJSON_NCOLS(EVENT_COLS));
    bool ok = o != NULL;
    for (size_t c = 0; ok && c < PGJSON_NCOLS(EVENT_COLS); c++) {
        for (size_t t = 0; ok && t < N_FREE_TEXT; t++) {
            if (EVENT_COLS[c].col != FREE_TEXT[t])
                continue;
            cJSON *item = cJSON_CreateString(text[t]);
            ok = item &&
                 cJSON_ReplaceItemInObjectCaseSensitive(o, EVENT_COLS[c].key, item);
            if (!ok)
                cJSON_Delete(item);
        }
    }
    texts_free(text);
    return pgjson_whole(o, ok);
}

static cJSON *list_json(const PGresult *r, const char *deceased, bool unmasked)
{
    cJSON *doc = cJSON_CreateObject();
    bool ok = doc && (deceased[0] ? cJSON_AddStringToObject(doc, "deceased_on", deceased)
                                  : cJSON_AddNullToObject(doc, "deceased_on"));
    return pgjson_whole(
        doc, ok && pgjson_put(doc, "events", pgjson_rows(r, event_json, &unmasked)));
}

/* False when out of memory (said on stderr). */
static bool list_text(const PGresult *r, const char *shown_nik, const char *deceased,
                      bool unmasked)
{
    printf("%s%s%s\n", shown_nik, deceased[0] ? ": deceased on " : "", deceased);
    for (int i = 0; i < PQntuples(r); i++) {
        char *text[N_FREE_TEXT];
        if (!shown_texts(r, i, unmasked, text)) {
            fprintf(stderr, "event list: out of memory\n");
            return false;
        }
        printf("event %s  %s %s  %s %s: %s", PQgetvalue(r, i, EV_ID),
               PQgetvalue(r, i, EV_KIND), PQgetvalue(r, i, EV_DATE),
               PQgetvalue(r, i, EV_RESULT), PQgetvalue(r, i, EV_CODE),
               shown(text, EV_MESSAGE));
        if (PQgetvalue(r, i, EV_CORRECTED_AT)[0])
            printf("  [corrected %s by %s: %s]", PQgetvalue(r, i, EV_CORRECTED_AT),
                   shown(text, EV_CORRECTED_BY), shown(text, EV_CORRECTION_REASON));
        printf("\n");
        texts_free(text);
    }
    return true;
}

static int event_list(db_t *db, const nik_t *nikp, bool json, bool unmasked)
{
    const nik_t nik = *nikp;
    const char *params[] = {nik.digits};
    PGresult *d = db_exec(db, SQL_DECEASED, 1, params);
    PGresult *r = db_ok(d) ? db_exec(db, SQL_LIST, 1, params) : NULL;
    int rc = 0;
    if (!db_ok(r)) {
        fprintf(stderr, "event list: %s\n", db_error(db));
        rc = 1;
    } else {
        const char *deceased = PQntuples(d) ? PQgetvalue(d, 0, DE_ON) : "";
        char masked[NIK_MASKED_LEN + 1];
        nik_mask(nik.digits, masked);
        if (json)
            rc = session_print_json(list_json(r, deceased, unmasked));
        else
            rc = list_text(r, unmasked ? nik.digits : masked, deceased, unmasked) ? 0 : 1;
    }
    PQclear(d);
    PQclear(r);
    return rc;
}

/* false (exit 2) on a usage error, said on stderr. */
static bool correct_args(const char *id, const char *reason)
{
    if (!id || strspn(id, "0123456789") != strlen(id) || !id[0] || strlen(id) > 18) {
        fprintf(stderr, "event correct: EVENT_ID must be an event number\n");
        return false;
    }
    if (!reason || !reason[0] || strlen(reason) > MAX_REASON) {
        fprintf(stderr, "event correct: --reason TEXT (1 to 500 bytes) is required\n");
        return false;
    }
    return true;
}

static int event_correct(db_t *db, const char *id, const char *reason)
{
    const char *params[] = {id, reason, "lindungctl", audit_operator(),
                            audit_invocation()};
    PGresult *r = db_exec(db, SQL_CORRECT, 5, params);
    int rc = 0;
    if (!db_ok(r) || PQntuples(r) != 1) {
        fprintf(stderr, "event correct: %s\n", db_error(db));
        rc = 1;
    } else if (strcmp(PQgetvalue(r, 0, CO_RESULT), "ok") != 0) {
        fprintf(stderr, "event correct: refused (%s): %s\n", PQgetvalue(r, 0, CO_RESULT),
                PQgetvalue(r, 0, CO_MESSAGE));
        rc = 1;
    } else {
        printf("%s\n", PQgetvalue(r, 0, CO_MESSAGE));
    }
    PQclear(r);
    return rc;
}

int event_main(int argc, char **argv)
{
    const char *verb = argc > 1 ? argv[1] : "";
    const char *what = argc > 2 ? argv[2] : NULL;
    const char *reason = args_value(argc, argv, "--reason");
    bool list = strcmp(verb, "list") == 0 && what;
    bool correct = strcmp(verb, "correct") == 0 && what;
    nik_t nik;
    if (!list && !correct) {
        fputs("usage:\n", stderr);
        event_usage(stderr);
        return ARGS_USAGE;
    }
    if (list && nik_parse(what, date_today(), &nik) != NIK_OK) {
        fprintf(stderr, "event list: not a valid NIK\n");
        return ARGS_USAGE;
    }
    if (correct && !correct_args(what, reason))
        return ARGS_USAGE;
    db_t *db = session_connect();
    if (!db)
        return ARGS_FAILED;
    int rc = list ? event_list(db, &nik, args_flag(argc, argv, "--json"),
                               args_flag(argc, argv, "--unmasked"))
                  : event_correct(db, what, reason);
    db_destroy(&db);
    return rc;
}
