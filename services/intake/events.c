/* events: POST /v1/participants/{nik}/events and POST /v1/events.
 *
 * Intake checks the shape of every event (listing every problem with its
 * index, as for submissions) and normalises them: the NIK to its 16 digits,
 * the date to YYYY-MM-DD. Then three steps in SQL (035_events_in_parts.sql):
 * participant_events_store answers an Idempotency-Key retry, checks the
 * key's scope and stores every event, pending, in one transaction; the
 * batch's parts are applied (eventparts.c: a big batch's two parts at once,
 * on two sessions); the stored results are read back with the record of
 * the NIKs they show (audit.h). A client that heard 201 knows its events
 * are applied. One that heard nothing (intake killed, connection lost)
 * retries with the same key: events never stored are stored now; events
 * stored and not yet applied are applied by the retry (or by intake's
 * start and sweep, whichever comes first); applied ones are answered from
 * storage. None is applied twice. Set-based in SQL, so 10,000 events cost
 * a handful of statements, not 10,000 round trips. */
#include "events.h"
#include "eventparts.h"
#include "audit.h"
#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>
#include "date.h"
#include "fields.h"
#include "jsonguard.h"
#include "log.h"
#include "nik.h"
#include "pgjson.h"
#include "region.h"
#include "submission.h"

#define CSV_MAX_COLUMNS 16

/* Step one: the batch stored, pending (or found, for a retry). One row.
 * A new batch's record (audit.h: the key sent these people's events) is
 * written with it, so that it exists however the events come to be applied
 * (now, by a retry, or by intake's sweep after a crash). */
static const char *SQL_STORE =
    "WITH s AS MATERIALIZED ("
    "    SELECT outcome, batch_id, idx, parts "
    "    FROM participant_events_store($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8::jsonb, "
    "        $9::int)"
    "), "
    "au AS ("
    "    INSERT INTO audit_log (actor_kind, actor, action, object, nik_hashes, "
    "        request_id, detail) "
    "    SELECT 'key', $2::text, 'event.create', s.batch_id::text, "
    "        audit_nik_hashes(ARRAY(SELECT x ->> 'nik' "
    "                               FROM jsonb_array_elements($8::jsonb) x)), $5, "
    "        jsonb_build_object('events', jsonb_array_length($8::jsonb)) "
    "    FROM s WHERE s.outcome = 'stored'"
    ") "
    "SELECT * FROM s";
enum { S_OUTCOME, S_BATCH, S_INDEX, S_PARTS };

/* Step three: the results of an applied batch ($2: 'applied', or 'replay'
 * for a retry), and for a retry the record that its answer showed these
 * people again (audit.h), in one statement: nobody reads the NIKs without
 * the record (a new batch's was written when it was stored). */
static const char *SQL_RESULTS =
    "WITH r AS MATERIALIZED ("
    "    SELECT outcome, batch_id, idx, event_id, kind, nik, result, code, message, "
    "        enrolment_id, new_enrolment_id "
    "    FROM participant_events_results($1::uuid, $2)"
    "), "
    "au AS ("
    "    INSERT INTO audit_log (actor_kind, actor, action, object, nik_hashes, "
    "        request_id, detail) "
    "    SELECT 'key', $3::text, 'event.replay', $1::text, "
    "        audit_nik_hashes(array_agg(nik)), $4, "
    "        jsonb_build_object('events', count(*), "
    "            'applied', count(*) FILTER (WHERE result = 'applied')) "
    "    FROM r "
    "    WHERE $2 = 'replay' "
    "    HAVING count(*) > 0"
    ") "
    "SELECT * FROM r ORDER BY idx";
enum {
    R_OUTCOME, /* participant_events_results: the batch's events */
    R_BATCH,
    R_INDEX,
    R_EVENT,
    R_KIND,
    R_NIK,
    R_RESULT,
    R_CODE,
    R_MESSAGE,
    R_ENROLMENT,
    R_NEW_ENROLMENT
};

static const char *const CSV_COLUMNS[] = {"kind",       "nik",    "date", "reference",
                                          "to_village", "reason", NULL};

static bool known_kind(const char *k)
{
    for (const char *const *p = EVENTPARTS_KINDS; *p; p++)
        if (strcmp(*p, k) == 0)
            return true;
    return false;
}

/* A string field: NULL when absent (or empty and optional); an error when
 * present but not a string, or longer than max. */
static const char *text_field(const cJSON *ev, const char *name, int index, size_t max,
                              bool required, cJSON *errors)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, name);
    if (!v || cJSON_IsNull(v) || (cJSON_IsString(v) && !v->valuestring[0] && !required)) {
        if (required)
            fields_add_index_error(errors, name, index, "is required");
        return NULL;
    }
    if (!cJSON_IsString(v)) {
        fields_add_index_error(errors, name, index, "must be a string");
        return NULL;
    }
    if (required && !v->valuestring[0]) {
        fields_add_index_error(errors, name, index, "must not be empty");
        return NULL;
    }
    if (strlen(v->valuestring) > max) {
        char m[64];
        snprintf(m, sizeof m, "must be at most %zu bytes", max);
        fields_add_index_error(errors, name, index, m);
        return NULL;
    }
    return v->valuestring;
}

/* out's field key, or the list of errors told that memory ran out. */
static void put_text(cJSON *out, const char *key, const char *value, cJSON *errors)
{
    if (!cJSON_AddStringToObject(out, key, value))
        fields_no_memory(errors);
}

static void check_kind_fields(const cJSON *ev, const char *kind, int index, cJSON *errors,
                              cJSON *out)
{
    const char *ref =
        text_field(ev, "reference", index, EVENTS_MAX_REFERENCE, false, errors);
    if (ref)
        put_text(out, "reference", ref, errors);
    if (strcmp(kind, "moved") == 0) {
        const char *v = text_field(ev, "to_village", index, 32, true, errors);
        if (v && region_level(v) != REGION_VILLAGE)
            fields_add_index_error(errors, "to_village", index,
                                   "must be a village code PP.RR.DD.VVVV");
        else if (v)
            put_text(out, "to_village", v, errors);
    }
    if (strcmp(kind, "left") == 0) {
        const char *r = text_field(ev, "reason", index, EVENTS_MAX_REASON, true, errors);
        if (r)
            put_text(out, "reason", r, errors);
    }
}

/* One event: every problem to `errors`; when there is none, the normalised
 * copy (with "idx") to `list`, else, when its NIK parsed, to `rejected`
 * (so that a repeated NIK is listed with the event's other problems, not
 * only once they are fixed). path_nik: the NIK of the per-person route. */
static void check_event(const cJSON *ev, int index, const char *path_nik, cJSON *errors,
                        cJSON *list, cJSON *rejected)
{
    if (!cJSON_IsObject(ev)) {
        fields_add_index_error(errors, "events", index, "must be an object");
        return;
    }
    int before = fields_error_count(errors);
    cJSON *out = cJSON_CreateObject();
    if (!cJSON_AddNumberToObject(out, "idx", index))
        fields_no_memory(errors);
    date_t today = date_today(), when;
    const char *kind = text_field(ev, "kind", index, 16, true, errors);
    if (kind && !known_kind(kind))
        fields_add_index_error(errors, "kind", index,
                               "must be \"death\", \"moved\" or \"left\"");
    else if (kind)
        put_text(out, "kind", kind, errors);
    const char *nik_text =
        path_nik ? path_nik
                 : text_field(ev, "nik", index, SUBMISSION_MAX_NIK, true, errors);
    nik_t nik;
    if (nik_text && nik_parse(nik_text, today, &nik) != NIK_OK)
        fields_add_index_error(errors, "nik", index, "must be a valid 16-digit NIK");
    else if (nik_text)
        put_text(out, "nik", nik.digits, errors);
    const char *date = text_field(ev, "date", index, 10, true, errors);
    if (date && !date_parse(date, &when))
        fields_add_index_error(errors, "date", index,
                               "must be an existing date as YYYY-MM-DD");
    else if (date && date_compare(when, today) > 0)
        fields_add_index_error(errors, "date", index,
                               "must not be in the future (Asia/Jakarta)");
    else if (date)
        put_text(out, "date", date, errors);
    if (kind && known_kind(kind))
        check_kind_fields(ev, kind, index, errors, out);
    cJSON *to = list;
    if (fields_error_count(errors) != before) /* "idx" too: by_nik reads both */
        to = cJSON_GetObjectItem(out, "nik") && cJSON_GetObjectItem(out, "idx") ? rejected
                                                                                : NULL;
    if (!to)
        cJSON_Delete(out);
    else if (!pgjson_append(to, out))
        fields_no_memory(errors);
}

static int by_nik(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    int c = strcmp(cJSON_GetObjectItem(x, "nik")->valuestring,
                   cJSON_GetObjectItem(y, "nik")->valuestring);
    if (c)
        return c;
    return cJSON_GetObjectItem(x, "idx")->valueint -
           cJSON_GetObjectItem(y, "idx")->valueint;
}

/* One event per person per request: the events of one request are applied
 * together, set-based, so two about one person would have no order. Looks
 * at the valid events (`list`) and at those refused for another problem
 * whose NIK parsed (`rejected`): every repeat is listed in one answer. */
static void check_one_per_person(const cJSON *list, const cJSON *rejected, cJSON *errors)
{
    int n = cJSON_GetArraySize(list) + cJSON_GetArraySize(rejected);
    if (n < 2)
        return;
    const cJSON **sorted = malloc(sizeof *sorted * (size_t)n);
    if (!sorted) {
        fields_no_memory(errors);
        return;
    }
    int i = 0;
    const cJSON *ev;
    cJSON_ArrayForEach(ev, list) sorted[i++] = ev;
    cJSON_ArrayForEach(ev, rejected) sorted[i++] = ev;
    qsort(sorted, (size_t)n, sizeof *sorted, by_nik);
    for (i = 1; i < n; i++)
        if (strcmp(cJSON_GetObjectItem(sorted[i - 1], "nik")->valuestring,
                   cJSON_GetObjectItem(sorted[i], "nik")->valuestring) == 0)
            fields_add_index_error(
                errors, "nik", cJSON_GetObjectItem(sorted[i], "idx")->valueint,
                "appears more than once in this request: send one event per "
                "person, later ones in a later request");
    free(sorted);
}

/* Every event of `events` checked, then one per person across them all.
 * csv: a record of the wrong width is null here, its problem listed
 * already (csv_event); in JSON a null is an event that is not an object. */
static events_parse_t check_list(const cJSON *events, const char *path_nik, bool csv,
                                 cJSON *errors, cJSON *list)
{
    if (!cJSON_IsArray(events)) {
        fields_add_index_error(errors, "events", -1,
                               events ? "must be an array" : "is required");
        return EVENTS_PARSE_INVALID;
    }
    int n = cJSON_GetArraySize(events);
    if (n == 0 || n > EVENTS_MAX) {
        fields_add_index_error(errors, "events", -1,
                               n ? "must list at most 10000 events"
                                 : "must list at least one event");
        return EVENTS_PARSE_INVALID;
    }
    cJSON *rejected = cJSON_CreateArray();
    if (!rejected)
        fields_no_memory(errors);
    int i = 0;
    for (const cJSON *ev = events->child; ev; ev = ev->next, i++)
        if (!(csv && cJSON_IsNull(ev)))
            check_event(ev, i, path_nik, errors, list, rejected);
    check_one_per_person(list, rejected, errors);
    cJSON_Delete(rejected);
    return fields_error_count(errors) ? EVENTS_PARSE_INVALID : EVENTS_PARSE_OK;
}

/* JSON: {"events": [...]} on /v1/events, one event object on the
 * per-person route. */
static events_parse_t parse_json(const char *body, size_t len, const char *path_nik,
                                 cJSON *errors, cJSON *list)
{
    /* shape, size and NULs on the raw bytes first: jsonguard.h */
    cJSON *doc = NULL;
    jsonguard_result_t guard = jsonguard_parse(body, len, &doc);
    if (guard != JSONGUARD_OK) {
        fields_add_index_error(errors, "body", -1, jsonguard_message(guard));
        return EVENTS_PARSE_MALFORMED;
    }
    events_parse_t rc;
    if (path_nik) {
        cJSON *one = cJSON_CreateArray();
        if (one && cJSON_AddItemReferenceToArray(one, doc)) {
            rc = check_list(one, path_nik, false, errors, list);
        } else {
            fields_no_memory(errors);
            rc = EVENTS_PARSE_INVALID;
        }
        cJSON_Delete(one);
    } else {
        rc = check_list(cJSON_GetObjectItemCaseSensitive(doc, "events"), NULL, false,
                        errors, list);
    }
    cJSON_Delete(doc);
    return rc;
}

/* What one body may hold in memory: the header and one record more than
 * EVENTS_MAX, so that the cap is still reported; one field more than a header
 * may have, so that a wider record still differs from it. Past these a
 * record or field is dropped, not kept: 8 MiB of commas is not 4 million
 * strings. */
#define CSV_MAX_RECORDS (EVENTS_MAX + 2)
#define CSV_MAX_FIELDS (CSV_MAX_COLUMNS + 1)

typedef struct {
    cJSON *rows;    /* each record as an array of strings */
    cJSON *record;  /* the current one */
    int records;    /* records in rows */
    int fields;     /* fields in record */
    bool no_memory; /* a record or field could not be kept */
} csv_reader_t;

static void csv_field(void *s, size_t len, void *arg)
{
    csv_reader_t *r = arg;
    if (!r->record) {
        r->record = cJSON_CreateArray();
        r->fields = 0;
        if (!r->record) {
            r->no_memory = true;
            return;
        }
    }
    if (r->records >= CSV_MAX_RECORDS || r->fields >= CSV_MAX_FIELDS)
        return;
    r->fields++;
    char *text = strndup(s ? s : "", s ? len : 0);
    if (!text || !pgjson_append(r->record, cJSON_CreateString(text)))
        r->no_memory = true;
    free(text);
}

static void csv_row(int c, void *arg)
{
    (void)c;
    csv_reader_t *r = arg;
    if (!r->record)
        return; /* a blank line */
    if (r->records < CSV_MAX_RECORDS) {
        if (pgjson_append(r->rows, r->record))
            r->records++;
        else
            r->no_memory = true;
    } else {
        cJSON_Delete(r->record);
    }
    r->record = NULL;
}

static int no_space(unsigned char c)
{
    (void)c;
    return 0;
}

/* The header's column names -> index into CSV_COLUMNS; false on a problem. */
static bool csv_header(const cJSON *header, int column[CSV_MAX_COLUMNS], cJSON *errors)
{
    int n = cJSON_GetArraySize(header);
    if (n > CSV_MAX_COLUMNS) {
        fields_add_index_error(errors, "header", -1, "has more than 16 columns");
        return false;
    }
    bool seen[CSV_MAX_COLUMNS] = {false};
    int i = 0;
    for (const cJSON *cell = header->child; cell; cell = cell->next, i++) {
        column[i] = -1;
        for (int k = 0; CSV_COLUMNS[k]; k++)
            if (strcmp(CSV_COLUMNS[k], cell->valuestring) == 0)
                column[i] = k;
        if (column[i] < 0) {
            fields_add_index_error(
                errors, "header", -1,
                "unknown column; known columns are kind, nik, date, reference, "
                "to_village, reason");
            return false;
        }
        /* a second "date" column would silently win over the first */
        if (seen[column[i]]) {
            fields_add_index_error(errors, CSV_COLUMNS[column[i]], -1,
                                   "column appears more than once");
            return false;
        }
        seen[column[i]] = true;
    }
    return true;
}

/* A data record as the JSON object a JSON client would have sent. */
static cJSON *csv_event(const cJSON *record, const int *column, int width, int index,
                        cJSON *errors)
{
    if (cJSON_GetArraySize(record) != width) {
        fields_add_index_error(errors, "events", index,
                               "has a different number of fields than the header");
        return NULL;
    }
    cJSON *ev = cJSON_CreateObject();
    bool ok = ev != NULL;
    for (int i = 0; ok && i < width; i++) {
        const char *v = cJSON_GetArrayItem(record, i)->valuestring;
        if (v[0])
            ok = cJSON_AddStringToObject(ev, CSV_COLUMNS[column[i]], v) != NULL;
    }
    if (!ok)
        fields_no_memory(errors);
    return pgjson_whole(ev, ok);
}

/* text/csv on /v1/events: a header row, then one event per record. */
static events_parse_t parse_csv(const char *body, size_t len, cJSON *errors, cJSON *list)
{
    /* a spreadsheet's "CSV UTF-8" starts with a byte-order mark, as for
     * submissions (csvbody.c) */
    if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0)
        body += 3, len -= 3;
    struct csv_parser p;
    csv_reader_t r = {.rows = cJSON_CreateArray()};
    bool ok = submission_text_ok(body, len) && len > 0 &&
              csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) == 0;
    if (ok) {
        csv_set_space_func(&p, no_space);
        ok = csv_parse(&p, body, len, csv_field, csv_row, &r) == len &&
             csv_fini(&p, csv_field, csv_row, &r) == 0;
        csv_free(&p);
    }
    cJSON_Delete(r.record);
    if (!r.rows || r.no_memory) {
        cJSON_Delete(r.rows);
        fields_no_memory(errors);
        return EVENTS_PARSE_INVALID;
    }
    if (!ok || r.records == 0) {
        cJSON_Delete(r.rows);
        fields_add_index_error(errors, "body", -1,
                               "must be RFC 4180 CSV in UTF-8 with a header row");
        return EVENTS_PARSE_MALFORMED;
    }
    int column[CSV_MAX_COLUMNS];
    const cJSON *header = cJSON_GetArrayItem(r.rows, 0);
    int width = cJSON_GetArraySize(header);
    events_parse_t rc = EVENTS_PARSE_INVALID;
    if (csv_header(header, column, errors)) {
        cJSON *events = cJSON_CreateArray();
        if (!events)
            fields_no_memory(errors);
        int index = 0;
        /* walked, not indexed: cJSON_GetArrayItem walks from the start */
        for (const cJSON *record = header->next; events && record;
             record = record->next) {
            cJSON *ev = csv_event(record, column, width, index++, errors);
            if (!pgjson_append(events, ev ? ev : cJSON_CreateNull()))
                fields_no_memory(errors);
        }
        /* the other records too, whatever the width of some: one answer
         * lists every mistake (docs/lifecycle.md) */
        if (events)
            rc = check_list(events, NULL, true, errors, list);
        cJSON_Delete(events);
    }
    cJSON_Delete(r.rows);
    return rc;
}

events_parse_t events_parse(const char *body, size_t len, bool csv, const char *path_nik,
                            cJSON *errors, cJSON *list)
{
    return csv ? parse_csv(body, len, errors, list)
               : parse_json(body, len, path_nik, errors, list);
}

static cJSON *result_json(const PGresult *r, int i)
{
    cJSON *o = cJSON_CreateObject();
    return pgjson_whole(o,
                        pgjson_add_int(o, "index", r, i, R_INDEX) &&
                            pgjson_add_int(o, "event_id", r, i, R_EVENT) &&
                            pgjson_add_text(o, "kind", r, i, R_KIND) &&
                            pgjson_add_text(o, "nik", r, i, R_NIK) &&
                            pgjson_add_text(o, "result", r, i, R_RESULT) &&
                            pgjson_add_text(o, "code", r, i, R_CODE) &&
                            pgjson_add_text(o, "message", r, i, R_MESSAGE) &&
                            pgjson_add_int(o, "enrolment_id", r, i, R_ENROLMENT) &&
                            pgjson_add_int(o, "new_enrolment_id", r, i, R_NEW_ENROLMENT));
}

/* 201 (stored and applied now) or 200 (a retry: the stored results). */
static void answer_results(http_response_t *res, const PGresult *r, bool replay,
                           const char *request_id)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *counts = NULL, *events = NULL;
    bool ok = doc &&
              cJSON_AddStringToObject(doc, "batch_id", PQgetvalue(r, 0, R_BATCH)) &&
              (counts = cJSON_AddObjectToObject(doc, "counts")) != NULL &&
              (events = cJSON_AddArrayToObject(doc, "events")) != NULL;
    int applied = 0, n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        applied += strcmp(PQgetvalue(r, i, R_RESULT), "applied") == 0;
        ok = ok && pgjson_append(events, result_json(r, i));
    }
    ok = ok && cJSON_AddNumberToObject(counts, "total", n) &&
         cJSON_AddNumberToObject(counts, "applied", applied) &&
         cJSON_AddNumberToObject(counts, "refused", n - applied);
    doc = pgjson_whole(doc, ok);
    char na[16], nr[16];
    snprintf(na, sizeof na, "%d", applied);
    snprintf(nr, sizeof nr, "%d", n - applied);
    log_info(replay ? "events.replayed" : "events.applied", "batch_id",
             PQgetvalue(r, 0, R_BATCH), "applied", na, "refused", nr, "request_id",
             request_id);
    if (!doc && !replay) { /* the events are stored and applied: say so */
        http_response_error(
            res, 500, "INTERNAL",
            "the server ran out of memory after the events were stored and "
            "applied: retry with the same Idempotency-Key to read the results",
            NULL);
        return;
    }
    route_answer_json(res, replay ? 200 : 201, doc);
}

static void answer_not_found(http_response_t *res, const PGresult *r, bool per_person)
{
    /* the per-person route answers exactly as GET of an unknown NIK */
    cJSON *details = NULL;
    if (!per_person) {
        details = cJSON_CreateArray();
        fields_add_index_error(details, "nik", atoi(PQgetvalue(r, 0, S_INDEX)),
                               "no participant with that NIK in this key's scope");
    }
    if (per_person)
        http_response_error(res, 404, "NOT_FOUND", "no participant with that NIK", NULL);
    else
        route_answer_error(res, 404, "NOT_FOUND", "no participant with that NIK",
                           details);
}

/* 503 when a stored batch could not be applied now: its events wait,
 * pending, and are applied by a retry or by intake's sweep. */
static void answer_pending(db_t *db, http_response_t *res, const char *batch_id)
{
    log_warn("events.pending", "batch_id", batch_id, "detail", db_error(db));
    http_response_error(
        res, 503, "DATABASE_UNAVAILABLE",
        "the events are stored but not all applied yet; they will be "
        "applied: retry with the same Idempotency-Key to read the results",
        NULL);
}

/* Steps two and three for a stored batch (new, or a retry's). */
static void apply_and_answer(route_ctx_t *ctx, db_t *db, const http_request_t *req,
                             const auth_t *auth, const PGresult *stored,
                             http_response_t *res)
{
    const char *batch_id = PQgetvalue(stored, 0, S_BATCH);
    bool replay = strcmp(PQgetvalue(stored, 0, S_OUTCOME), "replay") == 0;
    int parts = atoi(PQgetvalue(stored, 0, S_PARTS));
    db_t *second = parts > 1 ? route_second_take(ctx) : NULL;
    int applied = eventparts_apply(db, second, batch_id, parts, ctx->metrics);
    route_second_give(second);
    if (applied != 0) {
        answer_pending(db, res, batch_id);
        return;
    }
    const char *params[] = {batch_id, replay ? "replay" : "applied", auth->key_id,
                            req->request_id};
    PGresult *r = db_exec(db, SQL_RESULTS, 4, params);
    if (!db_ok(r) || PQntuples(r) == 0) {
        PQclear(r);
        answer_pending(db, res, batch_id);
        return;
    }
    answer_results(res, r, replay, req->request_id);
    PQclear(r);
}

static void receive(route_ctx_t *ctx, db_t *db, const auth_t *auth,
                    const http_request_t *req, const char *idem_key, const char *events,
                    bool per_person, http_response_t *res)
{
    uuid_t raw;
    char id[37], split[16];
    uuid_generate_random(raw);
    uuid_unparse_lower(raw, id);
    snprintf(split, sizeof split, "%d", ctx->events_split_from);
    const char *params[] = {id,
                            auth->key_id,
                            idem_key,
                            events,
                            req->request_id,
                            fields_scope_kind(&auth->scope),
                            auth->scope.code,
                            events,
                            split};
    PGresult *r = db_exec(db, SQL_STORE, 9, params);
    if (!db_ok(r) || PQntuples(r) == 0) {
        PQclear(r);
        route_db_failure(db, res);
        return;
    }
    const char *outcome = PQgetvalue(r, 0, S_OUTCOME);
    if (strcmp(outcome, "conflict") == 0)
        http_response_error(res, 409, "IDEMPOTENCY_CONFLICT",
                            "this Idempotency-Key was used with different events", NULL);
    else if (strcmp(outcome, "not_found") == 0)
        answer_not_found(res, r, per_person);
    else
        apply_and_answer(ctx, db, req, auth, r, res);
    PQclear(r);
}

static void bad_body(http_response_t *res, events_parse_t parsed, bool csv, cJSON *errors)
{
    bool malformed = parsed == EVENTS_PARSE_MALFORMED;
    route_answer_error(res, malformed ? 400 : 422,
                       malformed ? "MALFORMED_BODY" : "INVALID_FIELDS",
                       malformed ? (csv ? "the body is not RFC 4180 CSV in UTF-8"
                                        : "the body is not a JSON object in UTF-8")
                                 : "the events have invalid fields",
                       errors);
}

/* Both routes: path_nik is the per-person route's NIK, NULL for the batch. */
static void create_events(route_ctx_t *ctx, const http_request_t *req,
                          http_response_t *res, const char *path_nik)
{
    db_t *db = route_db(ctx);
    auth_t auth;
    if (!route_authenticate(db, req, res, &auth))
        return;
    bool csv = !path_nik && http_request_media_type_is(req, "text/csv");
    if (!csv && !http_request_media_type_is(req, "application/json")) {
        http_response_error(res, 415, "UNSUPPORTED_MEDIA_TYPE",
                            path_nik ? "send Content-Type: application/json"
                                     : "send Content-Type: application/json or text/csv",
                            NULL);
        return;
    }
    const char *idem_key;
    if (!route_idempotency_key(req, res, &idem_key))
        return;
    nik_t nik;
    if (path_nik && nik_parse(path_nik, date_today(), &nik) != NIK_OK) {
        http_response_error(res, 404, "NOT_FOUND", "no participant with that NIK", NULL);
        return;
    }
    cJSON *errors = cJSON_CreateArray(), *list = cJSON_CreateArray();
    if (!errors || !list) {
        cJSON_Delete(errors);
        cJSON_Delete(list);
        route_out_of_memory(res);
        return;
    }
    events_parse_t parsed = events_parse(req->body, req->body_len, csv,
                                         path_nik ? nik.digits : NULL, errors, list);
    if (parsed != EVENTS_PARSE_OK) {
        bad_body(res, parsed, csv, errors);
        cJSON_Delete(list);
        return;
    }
    cJSON_Delete(errors);
    /* the normalised events are both what is stored and what an
     * Idempotency-Key promises (their hash is kept with the batch) */
    char *text = cJSON_PrintUnformatted(list);
    cJSON_Delete(list);
    if (!text) {
        route_out_of_memory(res);
        return;
    }
    receive(ctx, db, &auth, req, idem_key, text, path_nik != NULL, res);
    free(text);
}

static bool not_allowed(http_response_t *res, const char *route)
{
    http_response_method_not_allowed(res, route, "POST", "only POST is allowed here");
    return true;
}

bool events_route(route_ctx_t *ctx, const http_request_t *req, http_response_t *res)
{
    const char *path = req->path, *prefix = "/v1/participants/", *suffix = "/events";
    bool post = strcmp(req->method, "POST") == 0;
    if (strcmp(path, "/v1/events") == 0) {
        res->route = "/v1/events";
        if (!post)
            return not_allowed(res, "/v1/events");
        create_events(ctx, req, res, NULL);
        return true;
    }
    size_t plen = strlen(prefix), len = strlen(path), slen = strlen(suffix);
    if (strncmp(path, prefix, plen) != 0 || len <= plen + slen ||
        strcmp(path + len - slen, suffix) != 0)
        return false;
    char nik[SUBMISSION_MAX_NIK + 1];
    size_t nlen = len - plen - slen;
    if (nlen > SUBMISSION_MAX_NIK || memchr(path + plen, '/', nlen))
        return false;
    snprintf(nik, sizeof nik, "%.*s", (int)nlen, path + plen);
    res->route = "/v1/participants/{nik}/events";
    if (!post)
        return not_allowed(res, "/v1/participants/{nik}/events");
    create_events(ctx, req, res, nik);
    return true;
}
