/* jsonguard: the cheap look at a JSON body before it is parsed
 * (jsonguard.h). A tokenizer in one pass: it follows strings (so brackets,
 * commas and escapes inside them are text), counts values, tracks nesting
 * and, inside objects, which string is a member's name. It never allocates,
 * so what a refused body costs is the buffer it arrived in. */
#include "jsonguard.h"
#include <stdbool.h>
#include <stdint.h>
#include "fields.h"

#define STR_(x) #x
#define STR(x) STR_(x)

typedef struct {
    const char *s;
    size_t len, at;
    size_t values, max_values;
    int depth, max_depth;
    uint64_t objects; /* bit d-1 set: the container at level d is an object */
    bool expect_key;  /* the next string is a member's name */
} scan_t;

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool in_object(const scan_t *sc)
{
    return sc->depth > 0 && (sc->objects >> (sc->depth - 1) & 1);
}

static jsonguard_result_t count_value(scan_t *sc)
{
    return ++sc->values > sc->max_values ? JSONGUARD_TOO_MANY : JSONGUARD_OK;
}

/* \u0000 at p: the escape that decodes to NUL. "\\u0000" never gets here,
 * as the escaped backslash is skipped with its escape. */
static bool nul_escape_at(const char *p, size_t left)
{
    return left >= 6 && p[1] == 'u' && p[2] == '0' && p[3] == '0' && p[4] == '0' &&
           p[5] == '0';
}

/* From the opening quote to just past the closing one (or the end, for the
 * parser to refuse). Counts the string unless it names a member. */
static jsonguard_result_t scan_string(scan_t *sc)
{
    bool key = sc->expect_key;
    sc->expect_key = false;
    size_t i = sc->at + 1;
    for (; i < sc->len && sc->s[i] != '"'; i++) {
        if (sc->s[i] == '\0')
            return JSONGUARD_NOT_TEXT;
        if (sc->s[i] != '\\')
            continue;
        if (nul_escape_at(sc->s + i, sc->len - i))
            return JSONGUARD_NUL_ESCAPE;
        i++; /* the escaped character, whatever it is, is not a quote's end */
    }
    sc->at = i + 1;
    return key ? JSONGUARD_OK : count_value(sc);
}

static jsonguard_result_t scan_open(scan_t *sc, bool object)
{
    sc->at++;
    if (++sc->depth > sc->max_depth)
        return JSONGUARD_TOO_DEEP;
    uint64_t bit = (uint64_t)1 << (sc->depth - 1);
    sc->objects = object ? sc->objects | bit : sc->objects & ~bit;
    sc->expect_key = object;
    return count_value(sc);
}

/* A number, true, false or null: one value however long. */
static jsonguard_result_t scan_literal(scan_t *sc)
{
    sc->expect_key = false;
    while (sc->at < sc->len) {
        char c = sc->s[sc->at];
        bool part = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                    (c >= 'A' && c <= 'Z') || c == '+' || c == '-' || c == '.';
        if (!part)
            break;
        sc->at++;
    }
    return count_value(sc);
}

/* One token at sc->at. *done is set when the top-level object has closed:
 * what follows is the parser's to refuse. */
static jsonguard_result_t scan_token(scan_t *sc, bool *done)
{
    char c = sc->s[sc->at];
    switch (c) {
    case '"':
        return scan_string(sc);
    case '{':
    case '[':
        return scan_open(sc, c == '{');
    case '}':
    case ']':
        sc->at++;
        sc->expect_key = false;
        *done = --sc->depth <= 0;
        return JSONGUARD_OK;
    case ',':
        sc->at++;
        sc->expect_key = in_object(sc);
        return JSONGUARD_OK;
    case '\0':
        return JSONGUARD_NOT_TEXT;
    default:
        if (c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n')
            return scan_literal(sc);
        sc->at++; /* white space, ':' or garbage the parser will refuse */
        return JSONGUARD_OK;
    }
}

jsonguard_result_t jsonguard_scan(const char *body, size_t len, size_t max_values,
                                  int max_depth)
{
    scan_t sc = {.s = body,
                 .len = len,
                 .max_values = max_values,
                 .max_depth = max_depth > 64 ? 64 : max_depth};
    while (sc.at < len && is_space(body[sc.at]))
        sc.at++;
    if (sc.at == len || body[sc.at] != '{')
        return JSONGUARD_NOT_OBJECT;
    bool done = false;
    while (sc.at < len && !done) {
        jsonguard_result_t r = scan_token(&sc, &done);
        if (r != JSONGUARD_OK)
            return r;
    }
    return JSONGUARD_OK;
}

jsonguard_result_t jsonguard_parse(const char *body, size_t len, cJSON **out)
{
    *out = NULL;
    if (!fields_text_ok(body, len))
        return JSONGUARD_NOT_TEXT;
    jsonguard_result_t r =
        jsonguard_scan(body, len, JSONGUARD_MAX_VALUES, JSONGUARD_MAX_DEPTH);
    if (r != JSONGUARD_OK)
        return r;
    /* The whole body must be one value: "{...} garbage" is malformed, not
     * silently half-read. */
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    while (root && end && end < body + len && is_space(*end))
        end++;
    if (!root || !end || end < body + len) {
        cJSON_Delete(root);
        return JSONGUARD_NOT_JSON;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return JSONGUARD_NOT_OBJECT;
    }
    *out = root;
    return JSONGUARD_OK;
}

const char *jsonguard_message(jsonguard_result_t result)
{
    switch (result) {
    case JSONGUARD_OK:
        return "is fine";
    case JSONGUARD_NOT_TEXT:
        return "must be UTF-8 text without NUL bytes";
    case JSONGUARD_NUL_ESCAPE:
        return "must not hold \\u0000 (a NUL character) in any string";
    case JSONGUARD_NOT_OBJECT:
        return "must be a JSON object";
    case JSONGUARD_TOO_MANY:
        return "has more than " STR(JSONGUARD_MAX_VALUES) " JSON values";
    case JSONGUARD_TOO_DEEP:
        return "nests deeper than " STR(JSONGUARD_MAX_DEPTH) " levels";
    case JSONGUARD_NOT_JSON:
        return "is not valid JSON";
    }
    return "could not be read";
}
