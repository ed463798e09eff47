/* csvbody: a text/csv submission -> submission_t through libcsv in strict
 * mode. Each data row becomes the cJSON object a JSON client would have sent
 * and goes through submission.c's own applicant check, so both formats share
 * one set of rules and messages; this file adds only what CSV needs on top:
 * the header row, field counts and line numbers.
 *
 * Not for: deciding anything about a person (verify does), or guessing at
 * encodings, delimiters or headerless files: those are refused, not fixed. */
#include "csvbody.h"
#include <csv.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fields.h"
#include "pgjson.h"

/* The applicant fields of design.md §4, in the documented order. */
static const char *COLUMN_NAME[] = {"nik",   "name",           "birth_date",
                                    "sex",   "occupation",     "address",
                                    "phone", "monthly_income", "poverty_ref"};
static const bool COLUMN_REQUIRED[] = {true,  true,  true,  true, true,
                                       false, false, false, false};
#define COLUMNS ((int)(sizeof COLUMN_NAME / sizeof COLUMN_NAME[0]))
#define COLUMN_INCOME 7
#define COLUMN_LIST                                                                      \
    "nik, name, birth_date, sex, occupation, address, phone, monthly_income, "           \
    "poverty_ref"

/* A header wider than this is not an applicant list; refusing it bounds the
 * work and the number of errors one request can cause. */
#define MAX_COLUMNS 64
/* Column names quoted back in messages are cut to this many bytes. */
#define MAX_QUOTED_NAME 64

typedef struct {
    /* Where we are. Records may span lines (quoted line breaks), so a record's
     * line is the line being fed when the parser was last between records. */
    int line;        /* physical line being fed, 1-based */
    int start_line;  /* where the next or current record starts */
    bool between;    /* the parser was between records when `line` began */
    bool row_ended;  /* a record ended while feeding `line` */
    bool in_record;  /* a field of the current record has been seen */
    int record_line; /* where the current record started */
    int field;       /* fields seen in the current record */

    bool have_header;
    bool header_bad;
    int width;               /* columns in the header */
    int column[MAX_COLUMNS]; /* applicant field of each header column, -1 unknown */
    bool seen[COLUMNS];

    cJSON *row;     /* the current data row as a JSON applicant object */
    bool row_empty; /* every field so far is empty */
    int rows;       /* data rows that count as applicants */
    int over_line;  /* line of the first row past the cap; 0 if none */
    cJSON *errors;  /* ours until the end, so a malformed body reports only that */
    cJSON *list;    /* normalised applicants */
} reader_t;

/* RFC 4180: spaces are part of a field. libcsv trims them unless told no. */
static int no_space(unsigned char c)
{
    (void)c;
    return 0;
}

/* {"field", "index"?, "line"?, "column"?, "message"}; -1 or 0 leave one out. */
static void add_error_at(cJSON *errors, const char *field, int index, int line,
                         int column, const char *message)
{
    cJSON *e = cJSON_CreateObject();
    bool ok = e && cJSON_AddStringToObject(e, "field", field) &&
              (index < 0 || cJSON_AddNumberToObject(e, "index", index)) &&
              (line <= 0 || cJSON_AddNumberToObject(e, "line", line)) &&
              (column <= 0 || cJSON_AddNumberToObject(e, "column", column)) &&
              cJSON_AddStringToObject(e, "message", message);
    fields_append_error(errors, pgjson_whole(e, ok));
}

static void add_error(cJSON *errors, const char *field, int index, int line,
                      const char *message)
{
    add_error_at(errors, field, index, line, 0, message);
}

/* The last element: cJSON keeps the tail in child->prev. */
static cJSON *tail_of(cJSON *array)
{
    return array->child ? array->child->prev : NULL;
}

/* submission.c reports {"field", "index", "message"}; name the line too,
 * placed before "message" so the objects read like ours. Not on the entry
 * that only counts what a full list leaves out (fields.h). */
static void add_line_after(cJSON *errors, cJSON *tail, int line)
{
    cJSON *e = tail ? tail->next : errors->child;
    for (; e; e = e->next) {
        if (fields_is_truncation(e))
            continue;
        cJSON *message = cJSON_DetachItemFromObjectCaseSensitive(e, "message");
        if (!cJSON_AddNumberToObject(e, "line", line) ||
            (message && !pgjson_put(e, "message", message))) {
            if (!cJSON_GetObjectItemCaseSensitive(e, "line"))
                cJSON_Delete(message);
            fields_no_memory(errors);
        }
    }
}

static int column_of(const char *name, size_t len)
{
    for (int c = 0; c < COLUMNS; c++)
        if (strlen(COLUMN_NAME[c]) == len && memcmp(COLUMN_NAME[c], name, len) == 0)
            return c;
    return -1;
}

/* Cut at a character boundary so the message stays valid UTF-8. */
static size_t quoted_length(const char *s, size_t len)
{
    if (len <= MAX_QUOTED_NAME)
        return len;
    size_t n = MAX_QUOTED_NAME;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

static void header_field(reader_t *r, const char *s, size_t len)
{
    int index = r->field;
    if (index == MAX_COLUMNS) {
        char msg[64];
        snprintf(msg, sizeof msg, "has more than %d columns", MAX_COLUMNS);
        add_error(r->errors, "header", -1, r->record_line, msg);
        r->header_bad = true;
    }
    if (index >= MAX_COLUMNS)
        return;
    int c = column_of(s, len);
    r->column[index] = c;
    if (c >= 0 && !r->seen[c]) {
        r->seen[c] = true;
        return;
    }
    char msg[256];
    if (c >= 0) {
        add_error_at(r->errors, COLUMN_NAME[c], -1, r->record_line, index + 1,
                     "column appears more than once");
        r->column[index] = -1;
    } else if (len == 0) {
        add_error_at(r->errors, "header", -1, r->record_line, index + 1,
                     "column has no name");
    } else {
        snprintf(msg, sizeof msg,
                 "unknown column \"%.*s\"; known columns are " COLUMN_LIST,
                 (int)quoted_length(s, len), s);
        add_error_at(r->errors, "header", -1, r->record_line, index + 1, msg);
    }
    r->header_bad = true;
}

static void header_end(reader_t *r)
{
    r->have_header = true;
    r->width = r->field < MAX_COLUMNS ? r->field : MAX_COLUMNS;
    for (int c = 0; c < COLUMNS; c++) {
        if (COLUMN_REQUIRED[c] && !r->seen[c]) {
            add_error(r->errors, COLUMN_NAME[c], -1, r->record_line,
                      "column is required");
            r->header_bad = true;
        }
    }
}

static bool all_digits(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return len > 0;
}

/* An empty cell is an absent field, as a spreadsheet means it. Income is a
 * number when it is plainly one (15 digits stay exact in a double) and text
 * otherwise, so the shared check answers exactly as it does for JSON. */
static void data_field(reader_t *r, const char *s, size_t len)
{
    if (len > 0)
        r->row_empty = false;
    if (r->header_bad || r->rows >= SUBMISSION_MAX_APPLICANTS || r->field >= r->width)
        return;
    int c = r->column[r->field];
    if (c < 0 || len == 0)
        return;
    if (!r->row)
        r->row = cJSON_CreateObject();
    bool ok =
        r->row &&
        (c == COLUMN_INCOME && all_digits(s, len) && len <= 15
             ? cJSON_AddNumberToObject(r->row, COLUMN_NAME[c], strtod(s, NULL)) != NULL
             : cJSON_AddStringToObject(r->row, COLUMN_NAME[c], s) != NULL);
    if (!ok)
        fields_no_memory(r->errors);
}

static void data_end(reader_t *r)
{
    /* Spreadsheets pad with rows of empty cells; they hold no applicant. */
    if (r->row_empty)
        return;
    int index = r->rows++;
    if (r->rows > SUBMISSION_MAX_APPLICANTS) {
        if (!r->over_line)
            r->over_line = r->record_line;
        return;
    }
    if (r->header_bad)
        return;
    if (r->field != r->width) {
        char msg[96];
        snprintf(msg, sizeof msg, "has %d fields; the header row has %d", r->field,
                 r->width);
        add_error(r->errors, "applicants", index, r->record_line, msg);
        return;
    }
    if (!r->row)
        r->row = cJSON_CreateObject();
    if (!r->row) {
        fields_no_memory(r->errors);
        return;
    }
    cJSON *tail = tail_of(r->errors);
    submission_check_applicant(r->row, index, r->errors, r->list);
    add_line_after(r->errors, tail, r->record_line);
}

static void on_field(void *s, size_t len, void *data)
{
    reader_t *r = data;
    const char *text = s ? s : "";
    if (!r->in_record) {
        r->in_record = true;
        r->record_line = r->start_line;
        r->field = 0;
        r->row_empty = true;
    }
    if (r->have_header)
        data_field(r, text, len);
    else
        header_field(r, text, len);
    r->field++;
}

static void on_record(int terminator, void *data)
{
    (void)terminator;
    reader_t *r = data;
    if (!r->in_record)
        return;
    if (r->have_header)
        data_end(r);
    else
        header_end(r);
    cJSON_Delete(r->row);
    r->row = NULL;
    r->in_record = false;
    r->row_ended = true;
}

/* Index just past the line starting at i: LF, CRLF or a lone CR ends it. */
static size_t line_end(const char *s, size_t len, size_t i)
{
    for (; i < len; i++) {
        if (s[i] == '\n')
            return i + 1;
        if (s[i] == '\r')
            return i + 1 < len && s[i + 1] == '\n' ? i + 2 : i + 1;
    }
    return len;
}

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

/* Feed the body one physical line at a time, so that each callback knows
 * which line it is on. A line has at most one terminator, at its end, so a
 * record can only end there. Returns false with `problem` set when the body
 * is not UTF-8 or not CSV; `*bad_line` says where. */
static bool feed(reader_t *r, struct csv_parser *p, const char *body, size_t len,
                 const char **problem, int *bad_line)
{
    size_t at = 0;
    r->between = true;
    r->line = 0;
    while (at < len) {
        size_t end = line_end(body, len, at);
        r->line++;
        /* A LF is never inside a UTF-8 sequence, so line-wise checking is exact. */
        if (!submission_text_ok(body + at, end - at)) {
            *problem = "must be UTF-8 text without NUL bytes";
            *bad_line = r->line;
            return false;
        }
        if (r->between)
            r->start_line = r->line;
        r->row_ended = false;
        if (csv_parse(p, body + at, end - at, on_field, on_record, r) != end - at) {
            *problem = csv_error(p) == CSV_EPARSE
                           ? "is not valid CSV: a quote may only open a field, close it, "
                             "or be doubled inside a quoted field"
                           : "could not be read";
            *bad_line = r->line;
            return false;
        }
        r->between = r->row_ended || (r->between && is_blank(body + at, end - at));
        at = end;
    }
    if (r->between)
        r->start_line = r->line + 1;
    if (csv_fini(p, on_field, on_record, r) != 0) {
        *problem = "is not valid CSV: a quoted field is never closed";
        *bad_line = r->start_line;
        return false;
    }
    return true;
}

static bool params_ok(const char *const values[3], cJSON *errors)
{
    static const char *names[] = {"program_code", "village_code", "reference"};
    for (int i = 0; i < 3; i++) {
        if (values[i] && !submission_text_ok(values[i], strlen(values[i]))) {
            add_error(errors, names[i], -1, 0, "must be UTF-8 text without NUL bytes");
            return false;
        }
    }
    return true;
}

/* After a clean parse: the same top-level answers as submission_from_json. */
static submission_result_t conclude(reader_t *r, submission_t *out, cJSON *errors)
{
    char msg[96];
    if (r->header_bad) {
        fields_move_errors(r->errors, errors);
    } else if (r->rows == 0) {
        add_error(errors, "applicants", -1, 0, "must list at least one applicant");
    } else if (r->rows > SUBMISSION_MAX_APPLICANTS) {
        snprintf(msg, sizeof msg, "must list at most %d applicants",
                 SUBMISSION_MAX_APPLICANTS);
        add_error(errors, "applicants", -1, r->over_line, msg);
    } else {
        fields_move_errors(r->errors, errors);
        out->applicants = r->list;
        r->list = NULL;
        out->count = r->rows;
    }
    return fields_error_count(errors) ? SUBMISSION_INVALID : SUBMISSION_OK;
}

submission_result_t csvbody_parse(submission_t *out, const char *body, size_t len,
                                  const char *program_code, const char *village_code,
                                  const char *reference, cJSON *errors)
{
    const char *params[3] = {program_code, village_code, reference};
    if (!params_ok(params, errors))
        return SUBMISSION_MALFORMED;
    if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0)
        body += 3, len -= 3;

    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        add_error(errors, "body", -1, 0, "could not be read");
        return SUBMISSION_MALFORMED;
    }
    csv_set_space_func(&p, no_space);
    reader_t r = {.errors = cJSON_CreateArray(), .list = cJSON_CreateArray()};
    if (!r.errors || !r.list) {
        csv_free(&p);
        cJSON_Delete(r.errors);
        cJSON_Delete(r.list);
        fields_no_memory(errors);
        return SUBMISSION_INVALID;
    }
    const char *problem = NULL;
    int bad_line = 0;
    bool parsed = feed(&r, &p, body, len, &problem, &bad_line);
    csv_free(&p);
    cJSON_Delete(r.row);

    submission_result_t result = SUBMISSION_MALFORMED;
    if (!parsed) {
        add_error(errors, "body", -1, bad_line, problem);
    } else if (!r.have_header) {
        add_error(errors, "body", -1, 0,
                  "is empty; send a header row naming the columns");
    } else {
        submission_set_target(out, program_code, village_code, reference, errors);
        result = conclude(&r, out, errors);
    }
    cJSON_Delete(r.errors);
    cJSON_Delete(r.list);
    return result;
}

submission_result_t csvbody_parse_request(submission_t *out, const http_request_t *req,
                                          cJSON *errors)
{
    static const char *names[] = {"program_code", "village_code", "reference"};
    const char *values[3];
    for (int i = 0; i < 3; i++) {
        if (!fields_query_text(req, names[i], &values[i])) {
            add_error(errors, names[i], -1, 0, "must not hold a NUL character (%00)");
            return SUBMISSION_MALFORMED;
        }
    }
    return csvbody_parse(out, req->body, req->body_len, values[0], values[1], values[2],
                         errors);
}
