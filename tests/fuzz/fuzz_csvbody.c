/* fuzz_csvbody: a text/csv submission body through csvbody_parse, as
 * POST /v1/submissions reads it (the query parameters fixed and valid, so
 * every input reaches the CSV). Beyond surviving: OK exactly when no problem
 * is listed, the problems well formed (fuzz.h), and on OK one normalised
 * applicant per counted row. Seeds: corpus/csvbody/, dictionary csvbody.dict. */
#include "csvbody.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    submission_t *s = submission_new();
    cJSON *errors = cJSON_CreateArray();
    submission_result_t r = csvbody_parse(s, (const char *)data, size, "PALI-2025-ADD",
                                          "16.12.01.2001", "Musdes 04/2025", errors);
    FUZZ_CHECK(r == SUBMISSION_OK || r == SUBMISSION_MALFORMED ||
               r == SUBMISSION_INVALID);
    FUZZ_CHECK((r == SUBMISSION_OK) == (fields_error_count(errors) == 0));
    fuzz_check_errors(errors);
    if (r == SUBMISSION_MALFORMED)
        FUZZ_CHECK(fields_error_count(errors) == 1);
    if (r == SUBMISSION_OK) {
        FUZZ_CHECK(s->program_code && s->village_code && s->reference);
        FUZZ_CHECK(cJSON_IsArray(s->applicants));
        FUZZ_CHECK(s->count >= 1 && s->count <= SUBMISSION_MAX_APPLICANTS);
        FUZZ_CHECK(cJSON_GetArraySize(s->applicants) == s->count);
        char *text = cJSON_PrintUnformatted(s->applicants);
        FUZZ_CHECK(text && fields_text_ok(text, strlen(text)));
        free(text);
    }
    cJSON_Delete(errors);
    submission_destroy(&s);
    return 0;
}
