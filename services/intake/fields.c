/* fields: shared checks of intake's routes (fields.h). */
#include "fields.h"
#include "utf8.h"
#include <microhttpd.h>
#include <string.h>
#include "pgjson.h"
#include "region.h"

/* A 422's list is a plain cJSON array that routes hand to httpd as is, so
 * its count rides on the array itself: an array's number fields are unused
 * by cJSON (not printed, not freed), and walking the list to count it, as
 * cJSON_GetArraySize does, made checking 10,000 bad applicants quadratic. */
static int count_of(const cJSON *errors)
{
    return errors->valueint;
}

/* A list that lost an entry for want of memory is marked by a negative
 * valuedouble (its count stays in valueint) and is never answered as is
 * (fields_errors_whole). */
static void count_set(cJSON *errors, int n)
{
    errors->valueint = n;
    if (errors->valuedouble >= 0)
        errors->valuedouble = n;
}

static void mark_broken(cJSON *errors)
{
    if (errors)
        errors->valuedouble = -1;
}

bool fields_errors_whole(const cJSON *errors)
{
    return errors && errors->valuedouble >= 0;
}

void fields_no_memory(cJSON *errors)
{
    if (!errors)
        return;
    count_set(errors, count_of(errors) + 1);
    mark_broken(errors);
}

bool fields_is_truncation(const cJSON *entry)
{
    return entry && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(entry, "truncated"));
}

/* Keep (or make) the list's last entry the one that counts what is not
 * listed, with the total so far. */
static void note_truncation(cJSON *errors)
{
    cJSON *last = errors->child ? errors->child->prev : NULL;
    if (!fields_is_truncation(last)) {
        last = cJSON_CreateObject();
        bool ok = last && cJSON_AddStringToObject(last, "field", "details") &&
                  cJSON_AddStringToObject(last, "message",
                                          "only the first 1000 problems are listed; "
                                          "\"total\" counts them all") &&
                  cJSON_AddTrueToObject(last, "truncated") &&
                  cJSON_AddNumberToObject(last, "total", 0);
        last = pgjson_whole(last, ok);
        if (!pgjson_append(errors, last)) {
            mark_broken(errors);
            return;
        }
    }
    cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(last, "total"),
                         count_of(errors));
}

void fields_append_error(cJSON *errors, cJSON *entry)
{
    if (!errors) {
        cJSON_Delete(entry);
        return;
    }
    count_set(errors, count_of(errors) + 1);
    if (!entry) {
        mark_broken(errors);
        return;
    }
    if (count_of(errors) <= FIELDS_MAX_ERRORS) {
        if (!pgjson_append(errors, entry))
            mark_broken(errors);
        return;
    }
    cJSON_Delete(entry);
    note_truncation(errors);
}

void fields_add_error(cJSON *errors, const char *field, const char *message)
{
    cJSON *e = cJSON_CreateObject();
    bool ok = e && cJSON_AddStringToObject(e, "field", field) &&
              cJSON_AddStringToObject(e, "message", message);
    fields_append_error(errors, pgjson_whole(e, ok));
}

void fields_add_index_error(cJSON *errors, const char *field, int index,
                            const char *message)
{
    cJSON *e = cJSON_CreateObject();
    bool ok = e && cJSON_AddStringToObject(e, "field", field) &&
              (index < 0 || cJSON_AddNumberToObject(e, "index", index)) &&
              cJSON_AddStringToObject(e, "message", message);
    fields_append_error(errors, pgjson_whole(e, ok));
}

int fields_error_count(const cJSON *errors)
{
    return errors ? count_of(errors) : 1;
}

void fields_move_errors(cJSON *from, cJSON *to)
{
    if (!from)
        return;
    if (!to) {
        while (from->child)
            cJSON_Delete(cJSON_DetachItemViaPointer(from, from->child));
        count_set(from, 0);
        return;
    }
    if (!fields_errors_whole(from))
        mark_broken(to);
    int moved = 0;
    while (from->child) {
        cJSON *e = cJSON_DetachItemViaPointer(from, from->child);
        if (fields_is_truncation(e)) {
            cJSON_Delete(e);
            continue;
        }
        fields_append_error(to, e);
        moved++;
    }
    int unlisted = count_of(from) - moved;
    count_set(from, 0);
    if (unlisted <= 0)
        return;
    count_set(to, count_of(to) + unlisted);
    if (count_of(to) > FIELDS_MAX_ERRORS)
        note_truncation(to);
}

bool fields_all_digits(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n > 0 && n <= max && strspn(s, "0123456789") == n;
}

bool fields_one_of(const char *value, const char *const *allowed)
{
    for (const char *const *a = allowed; value && *a; a++)
        if (strcmp(value, *a) == 0)
            return true;
    return false;
}

const char *fields_scope_kind(const scope_t *s)
{
    return s->kind == SCOPE_ADMIN     ? "admin"
           : s->kind == SCOPE_REGENCY ? "regency"
                                      : "village";
}

bool fields_scope_sees_regency(const scope_t *s, const char *regency_code)
{
    char own[6];
    if (s->kind == SCOPE_ADMIN)
        return true;
    if (!regency_code)
        return false;
    if (s->kind == SCOPE_REGENCY)
        return strcmp(s->code, regency_code) == 0;
    return region_regency_of(s->code, own) && strcmp(own, regency_code) == 0;
}

bool fields_query_text(const http_request_t *req, const char *name, const char **value)
{
    const char *v = NULL;
    size_t len = 0;
    *value = NULL;
    if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name,
                                      strlen(name), &v, &len) != MHD_YES ||
        !v)
        return true;
    if (memchr(v, '\0', len))
        return false;
    *value = v;
    return true;
}

bool fields_text_ok(const char *s, size_t len)
{
    return utf8_valid(s, len);
}
