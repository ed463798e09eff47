/* submission: JSON body -> submission_t. Every applicant is checked field by
 * field and every problem reported, so an integrator fixes a whole file in
 * one round instead of one error per request. */
#include "submission.h"
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "date.h"
#include "fields.h"
#include "jsonguard.h"
#include "pgjson.h"

submission_t *submission_new(void)
{
    return calloc(1, sizeof(submission_t));
}

void submission_destroy(submission_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    submission_t *self = *self_p;
    free(self->program_code);
    free(self->village_code);
    free(self->reference);
    cJSON_Delete(self->applicants);
    free(self);
    *self_p = NULL;
}

bool submission_text_ok(const char *s, size_t len)
{
    return fields_text_ok(s, len);
}

static void add_error(cJSON *errors, const char *field, int index, const char *message)
{
    fields_add_index_error(errors, field, index, message);
}

/* A string field: required or not, with a byte limit. Returns the value or NULL. */
static const char *take_string(const cJSON *obj, const char *key, bool required,
                               size_t max, int index, cJSON *errors)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    char msg[96];
    if (!v || cJSON_IsNull(v)) {
        if (required)
            add_error(errors, key, index, "is required");
        return NULL;
    }
    if (!cJSON_IsString(v)) {
        add_error(errors, key, index, "must be a string");
        return NULL;
    }
    size_t len = strlen(v->valuestring);
    if (required && len == 0) {
        add_error(errors, key, index, "must not be empty");
        return NULL;
    }
    if (len > max) {
        snprintf(msg, sizeof msg, "must be at most %zu bytes", max);
        add_error(errors, key, index, msg);
        return NULL;
    }
    return v->valuestring;
}

static bool copy_string(cJSON *out, const char *key, const char *value)
{
    return value ? cJSON_AddStringToObject(out, key, value) != NULL
                 : cJSON_AddNullToObject(out, key) != NULL;
}

/* Occupation may be a Dukcapil name ("PETANI/PEKEBUN") or its code, as a
 * string or a number; verify resolves it. */
static const char *take_occupation(const cJSON *obj, int index, cJSON *errors,
                                   char buf[16])
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "occupation");
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d < 1 || d > 999 || floor(d) != d) {
            add_error(errors, "occupation", index,
                      "a numeric occupation must be a whole code");
            return NULL;
        }
        snprintf(buf, 16, "%d", (int)d);
        return buf;
    }
    return take_string(obj, "occupation", true, SUBMISSION_MAX_OCCUPATION, index, errors);
}

static bool take_income(const cJSON *obj, int index, cJSON *errors, cJSON *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "monthly_income");
    if (!v || cJSON_IsNull(v)) {
        if (cJSON_AddNullToObject(out, "monthly_income"))
            return true;
        fields_no_memory(errors);
        return false;
    }
    /* cJSON reads numbers as doubles, exact for whole numbers below 2^53;
     * our cap is far below that, so the rupiah amount is exact. */
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 ||
        v->valuedouble > SUBMISSION_MAX_INCOME ||
        floor(v->valuedouble) != v->valuedouble) {
        add_error(errors, "monthly_income", index,
                  "must be a whole number of rupiah from 0 to 1000000000000");
        return false;
    }
    char text[24];
    snprintf(text, sizeof text, "%lld", (long long)v->valuedouble);
    if (cJSON_AddRawToObject(out, "monthly_income", text))
        return true;
    fields_no_memory(errors);
    return false;
}

static void check_applicant(const cJSON *a, int index, cJSON *errors, cJSON *list)
{
    if (!cJSON_IsObject(a)) {
        add_error(errors, "applicants", index, "must be an object");
        return;
    }
    int before = fields_error_count(errors);
    const char *nik = take_string(a, "nik", true, SUBMISSION_MAX_NIK, index, errors);
    const char *name = take_string(a, "name", true, SUBMISSION_MAX_NAME, index, errors);
    const char *birth = take_string(a, "birth_date", true, 10, index, errors);
    date_t d;
    if (birth && !date_parse(birth, &d))
        add_error(errors, "birth_date", index, "must be an existing date as YYYY-MM-DD");
    const char *sex = take_string(a, "sex", true, 1, index, errors);
    if (sex && strcmp(sex, "M") != 0 && strcmp(sex, "F") != 0)
        add_error(errors, "sex", index, "must be \"M\" or \"F\"");
    char occ_buf[16];
    const char *occupation = take_occupation(a, index, errors, occ_buf);
    const char *address =
        take_string(a, "address", false, SUBMISSION_MAX_ADDRESS, index, errors);
    const char *phone =
        take_string(a, "phone", false, SUBMISSION_MAX_PHONE, index, errors);
    const char *poverty =
        take_string(a, "poverty_ref", false, SUBMISSION_MAX_POVERTY_REF, index, errors);
    cJSON *out = cJSON_CreateObject();
    take_income(a, index, errors, out);
    if (fields_error_count(errors) != before) {
        cJSON_Delete(out);
        return;
    }
    bool ok = cJSON_AddNumberToObject(out, "idx", index) &&
              copy_string(out, "nik", nik) && copy_string(out, "name", name) &&
              copy_string(out, "birth_date", birth) && copy_string(out, "sex", sex) &&
              copy_string(out, "occupation", occupation) &&
              copy_string(out, "address", address) && copy_string(out, "phone", phone) &&
              copy_string(out, "poverty_ref", poverty);
    if (!pgjson_append(list, pgjson_whole(out, ok)))
        fields_no_memory(errors);
}

static void check_applicants(submission_t *self, const cJSON *root, cJSON *errors)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "applicants");
    if (!cJSON_IsArray(arr)) {
        add_error(errors, "applicants", -1, arr ? "must be an array" : "is required");
        return;
    }
    int n = cJSON_GetArraySize(arr);
    char msg[96];
    if (n == 0) {
        add_error(errors, "applicants", -1, "must list at least one applicant");
        return;
    }
    if (n > SUBMISSION_MAX_APPLICANTS) {
        snprintf(msg, sizeof msg, "must list at most %d applicants",
                 SUBMISSION_MAX_APPLICANTS);
        add_error(errors, "applicants", -1, msg);
        return;
    }
    self->applicants = cJSON_CreateArray();
    if (!self->applicants) {
        fields_no_memory(errors);
        return;
    }
    int index = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, arr) check_applicant(a, index++, errors, self->applicants);
    self->count = n;
}

submission_result_t submission_from_json(submission_t *self, const char *body, size_t len,
                                         cJSON *errors)
{
    /* Shape, size and NULs are checked on the raw bytes before a tree is
     * built: a tree costs about 80 bytes a value (jsonguard.h). */
    cJSON *root = NULL;
    jsonguard_result_t guard = jsonguard_parse(body, len, &root);
    if (guard != JSONGUARD_OK) {
        add_error(errors, "body", -1, jsonguard_message(guard));
        return SUBMISSION_MALFORMED;
    }
    const char *program =
        take_string(root, "program_code", true, SUBMISSION_MAX_CODE, -1, errors);
    const char *village = take_string(root, "village_code", true, 13, -1, errors);
    const char *reference =
        take_string(root, "reference", false, SUBMISSION_MAX_REFERENCE, -1, errors);
    self->program_code = program ? strdup(program) : NULL;
    self->village_code = village ? strdup(village) : NULL;
    self->reference = reference ? strdup(reference) : NULL;
    if ((program && !self->program_code) || (village && !self->village_code) ||
        (reference && !self->reference))
        fields_no_memory(errors);
    check_applicants(self, root, errors);
    cJSON_Delete(root);
    return fields_error_count(errors) ? SUBMISSION_INVALID : SUBMISSION_OK;
}

void submission_check_applicant(const cJSON *applicant, int index, cJSON *errors,
                                cJSON *list)
{
    check_applicant(applicant, index, errors, list);
}

/* The same checks as the top-level fields of submission_from_json; kept in
 * step with it (village codes are PP.RR.DD.VVVV, 13 bytes). */
void submission_set_target(submission_t *self, const char *program_code,
                           const char *village_code, const char *reference, cJSON *errors)
{
    cJSON *root = cJSON_CreateObject();
    if (!root ||
        (program_code && !cJSON_AddStringToObject(root, "program_code", program_code)) ||
        (village_code && !cJSON_AddStringToObject(root, "village_code", village_code)) ||
        (reference && !cJSON_AddStringToObject(root, "reference", reference))) {
        cJSON_Delete(root);
        fields_no_memory(errors);
        return;
    }
    const char *program =
        take_string(root, "program_code", true, SUBMISSION_MAX_CODE, -1, errors);
    const char *village = take_string(root, "village_code", true, 13, -1, errors);
    const char *ref =
        take_string(root, "reference", false, SUBMISSION_MAX_REFERENCE, -1, errors);
    self->program_code = program ? strdup(program) : NULL;
    self->village_code = village ? strdup(village) : NULL;
    self->reference = ref ? strdup(ref) : NULL;
    if ((program && !self->program_code) || (village && !self->village_code) ||
        (ref && !self->reference))
        fields_no_memory(errors);
    cJSON_Delete(root);
}
