/* fuzz_events: a life-event body through events_parse (events.h), as
 * POST /v1/events and POST /v1/participants/{nik}/events read it.
 *
 * The first byte picks the route, so one corpus covers all three: 'C' a CSV
 * batch, 'P' one JSON event on the per-person route (its NIK fixed), any
 * other byte a JSON batch; the rest is the body. Beyond surviving: OK
 * exactly when no problem is listed, the problems well formed (fuzz.h), and
 * on OK every event normalised (kind, a 16-digit NIK that parses, a date,
 * "idx") and at most one per person. Seeds: corpus/events/, dictionary
 * events.dict. */
#include "date.h"
#include "events.h"
#include "fuzz.h"
#include "nik.h"

#define PATH_NIK "1612010101900001"

static void check_event(const cJSON *ev, int count, const char *path_nik)
{
    FUZZ_CHECK(cJSON_IsObject(ev));
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(ev, "idx");
    FUZZ_CHECK(cJSON_IsNumber(idx) && idx->valueint >= 0 && idx->valueint < count);
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(ev, "kind");
    FUZZ_CHECK(cJSON_IsString(kind));
    FUZZ_CHECK(strcmp(kind->valuestring, "death") == 0 ||
               strcmp(kind->valuestring, "moved") == 0 ||
               strcmp(kind->valuestring, "left") == 0);
    const cJSON *nik = cJSON_GetObjectItemCaseSensitive(ev, "nik");
    FUZZ_CHECK(cJSON_IsString(nik) && strlen(nik->valuestring) == NIK_LEN);
    FUZZ_CHECK(nik_parse(nik->valuestring, date_today(), NULL) == NIK_OK);
    if (path_nik)
        FUZZ_CHECK(strcmp(nik->valuestring, path_nik) == 0);
    const cJSON *date = cJSON_GetObjectItemCaseSensitive(ev, "date");
    date_t d;
    FUZZ_CHECK(cJSON_IsString(date) && date_parse(date->valuestring, &d));
    if (strcmp(kind->valuestring, "moved") == 0)
        FUZZ_CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(ev, "to_village")));
    if (strcmp(kind->valuestring, "left") == 0)
        FUZZ_CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(ev, "reason")));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    bool csv = data[0] == 'C';
    const char *path_nik = data[0] == 'P' ? PATH_NIK : NULL;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;

    cJSON *errors = cJSON_CreateArray(), *list = cJSON_CreateArray();
    events_parse_t r = events_parse(body, len, csv, path_nik, errors, list);
    FUZZ_CHECK(r == EVENTS_PARSE_OK || r == EVENTS_PARSE_MALFORMED ||
               r == EVENTS_PARSE_INVALID);
    FUZZ_CHECK((r == EVENTS_PARSE_OK) == (fields_error_count(errors) == 0));
    fuzz_check_errors(errors);
    if (r == EVENTS_PARSE_MALFORMED)
        FUZZ_CHECK(fields_error_count(errors) == 1);
    if (r == EVENTS_PARSE_OK) {
        int count = cJSON_GetArraySize(list);
        FUZZ_CHECK(count >= 1 && count <= EVENTS_MAX);
        FUZZ_CHECK(!path_nik || count == 1);
        const cJSON *ev;
        cJSON_ArrayForEach(ev, list) check_event(ev, count, path_nik);
        for (const cJSON *a = list->child; a; a = a->next)
            for (const cJSON *b = a->next; b; b = b->next)
                FUZZ_CHECK(strcmp(cJSON_GetObjectItem(a, "nik")->valuestring,
                                  cJSON_GetObjectItem(b, "nik")->valuestring) != 0);
        char *text = cJSON_PrintUnformatted(list);
        FUZZ_CHECK(text && fields_text_ok(text, strlen(text)));
        free(text);
    }
    cJSON_Delete(errors);
    cJSON_Delete(list);
    return 0;
}
