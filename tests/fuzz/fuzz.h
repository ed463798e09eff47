/* fuzz.h: what the libFuzzer harnesses of tests/fuzz share. A harness
 * checks properties the parser promises, not only that it survives, so a
 * broken promise is a crash libFuzzer saves as a reproducer like any other. */
#ifndef LINDUNG_FUZZ_H
#define LINDUNG_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "fields.h"

/* A broken promise: say which, then abort so that libFuzzer stops and saves
 * the input (its crash-* file is the reproducer). */
#define FUZZ_CHECK(cond)                                                                 \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: broken promise: %s\n", __FILE__, __LINE__, #cond);   \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* The input as a C string (cut at its first NUL, as a C caller would see
 * it), in a buffer of exactly that size so ASan catches reads past it. */
static inline char *fuzz_cstring(const uint8_t *data, size_t size)
{
    size_t n = strnlen((const char *)data, size);
    char *s = malloc(n + 1);
    FUZZ_CHECK(s != NULL);
    memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

/* A 422's or 400's list of problems as intake answers it (fields.h): each
 * entry {"field", "index"?, "line"?, "column"?, "message"}, at most
 * FIELDS_MAX_ERRORS listed plus one that counts the rest, and the whole
 * printable as UTF-8 JSON, since it goes back to the client as is. */
static inline void fuzz_check_errors(const cJSON *errors)
{
    FUZZ_CHECK(cJSON_IsArray(errors));
    int listed = cJSON_GetArraySize(errors), count = fields_error_count(errors);
    FUZZ_CHECK(listed <= FIELDS_MAX_ERRORS + 1);
    FUZZ_CHECK(count >= (listed > FIELDS_MAX_ERRORS ? FIELDS_MAX_ERRORS : listed));
    const cJSON *e;
    cJSON_ArrayForEach(e, errors)
    {
        FUZZ_CHECK(cJSON_IsObject(e));
        FUZZ_CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "field")));
        FUZZ_CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "message")));
        const cJSON *index = cJSON_GetObjectItemCaseSensitive(e, "index");
        FUZZ_CHECK(!index || (cJSON_IsNumber(index) && index->valueint >= 0));
        const cJSON *line = cJSON_GetObjectItemCaseSensitive(e, "line");
        FUZZ_CHECK(!line || (cJSON_IsNumber(line) && line->valueint >= 1));
    }
    char *text = cJSON_PrintUnformatted(errors);
    FUZZ_CHECK(text != NULL);
    FUZZ_CHECK(fields_text_ok(text, strlen(text)));
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#endif
