/* fuzz_submission_json: a JSON submission body through jsonguard and
 * submission_from_json, as POST /v1/submissions reads it.
 *
 * Besides surviving, jsonguard's promise is checked against cJSON itself
 * (jsonguard.h: "exact for valid JSON"): for a body that is strictly valid
 * JSON, one object, jsonguard answers OK exactly when the tree is within the
 * limits, and with small limits (so that a short input can cross them) it
 * refuses exactly the trees that are not. Seeds: corpus/submission_json/,
 * dictionary submission_json.dict. */
#include "fuzz.h"
#include "jsonguard.h"
#include "submission.h"

/* Small limits for the second look, reachable by inputs of a few hundred
 * bytes; the real ones (200,000 values) are not. */
#define SMALL_VALUES 24
#define SMALL_DEPTH 4

/* Values (every node but a member's name) and container depth of a tree,
 * counted as jsonguard.h defines them. */
static void measure(const cJSON *v, int level, size_t *values, int *depth)
{
    ++*values;
    if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
        return;
    if (level > *depth)
        *depth = level;
    for (const cJSON *c = v->child; c; c = c->next)
        measure(c, level + 1, values, depth);
}

/* JSON as RFC 8259 writes it, as far as cJSON's leniencies go: cJSON also
 * takes a byte-order mark, every control character as white space and raw
 * control characters in strings, which jsonguard may refuse. */
static bool strict_bytes(const uint8_t *data, size_t size)
{
    if (size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        return false;
    for (size_t i = 0; i < size; i++)
        if (data[i] < 0x20 && data[i] != ' ' && data[i] != '\t' && data[i] != '\r' &&
            data[i] != '\n')
            return false;
    return true;
}

/* "\u0000" anywhere, even as the text of an escaped backslash: the one
 * escape cJSON cannot show in its tree (it cuts the string there). */
static bool has_nul_escape_text(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i + 6 <= size; i++)
        if (memcmp(data + i, "\\u0000", 6) == 0)
            return true;
    return false;
}

static void check_guard(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    cJSON *tree = NULL;
    jsonguard_result_t g = jsonguard_parse(body, size, &tree);
    FUZZ_CHECK((g == JSONGUARD_OK) == (tree != NULL));
    if (g == JSONGUARD_NUL_ESCAPE)
        FUZZ_CHECK(has_nul_escape_text(data, size));
    if (g == JSONGUARD_OK) {
        size_t values = 0;
        int depth = 0;
        FUZZ_CHECK(cJSON_IsObject(tree));
        measure(tree, 1, &values, &depth);
        FUZZ_CHECK(values <= JSONGUARD_MAX_VALUES && depth <= JSONGUARD_MAX_DEPTH);
    }
    cJSON_Delete(tree);
    FUZZ_CHECK(jsonguard_message(g) != NULL);

    if (!fields_text_ok(body, size) || !strict_bytes(data, size) ||
        has_nul_escape_text(data, size))
        return;
    const char *end = NULL;
    cJSON *ref = cJSON_ParseWithLengthOpts(body, size, &end, 0);
    while (ref && end < body + size &&
           (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    if (ref && end == body + size && cJSON_IsObject(ref)) {
        size_t values = 0;
        int depth = 0;
        measure(ref, 1, &values, &depth);
        bool within = values <= JSONGUARD_MAX_VALUES && depth <= JSONGUARD_MAX_DEPTH;
        FUZZ_CHECK((g == JSONGUARD_OK) == within);
        jsonguard_result_t small = jsonguard_scan(body, size, SMALL_VALUES, SMALL_DEPTH);
        if (values <= SMALL_VALUES && depth <= SMALL_DEPTH)
            FUZZ_CHECK(small == JSONGUARD_OK);
        else
            FUZZ_CHECK((small == JSONGUARD_TOO_MANY && values > SMALL_VALUES) ||
                       (small == JSONGUARD_TOO_DEEP && depth > SMALL_DEPTH));
    }
    cJSON_Delete(ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_guard(data, size);

    submission_t *s = submission_new();
    cJSON *errors = cJSON_CreateArray();
    submission_result_t r = submission_from_json(s, (const char *)data, size, errors);
    FUZZ_CHECK(r == SUBMISSION_OK || r == SUBMISSION_MALFORMED ||
               r == SUBMISSION_INVALID);
    FUZZ_CHECK((r == SUBMISSION_OK) == (fields_error_count(errors) == 0));
    fuzz_check_errors(errors);
    if (r == SUBMISSION_MALFORMED)
        FUZZ_CHECK(fields_error_count(errors) == 1);
    if (r == SUBMISSION_OK) {
        FUZZ_CHECK(s->program_code && s->village_code);
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
