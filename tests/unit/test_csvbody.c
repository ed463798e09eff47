/* test_csvbody: text/csv submissions give the same submission_t and the same
 * errors as JSON, plus the CSV line of each problem: RFC 4180 quoting, BOM,
 * CRLF, header columns in any order, unknown and missing columns, row
 * lengths, malformed bodies and the applicant cap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "csvbody.h"
#include "submission.h"

#define PROGRAM "PALI-ADD-2025"
#define VILLAGE "16.12.01.2001"
#define HEADER                                                                           \
    "nik,name,birth_date,sex,occupation,address,phone,monthly_income,poverty_ref"
#define ROW_SITI "1612014501900001,Siti Aminah,1990-01-05,F,PETANI/PEKEBUN,,,,"
#define ROW_BUDI                                                                         \
    "1612010101850002,Budi,1985-01-01,M,NELAYAN/PERIKANAN,Dusun II,0812,1500000,DTKS-1"

typedef struct {
    submission_t *sub;
    cJSON *errors;
    submission_result_t result;
} parsed_t;

static parsed_t parse_full(const char *body, size_t len, const char *program,
                           const char *village, const char *reference)
{
    parsed_t p = {submission_new(), cJSON_CreateArray(), SUBMISSION_OK};
    p.result = csvbody_parse(p.sub, body, len, program, village, reference, p.errors);
    return p;
}

static parsed_t parse(const char *body)
{
    return parse_full(body, strlen(body), PROGRAM, VILLAGE, NULL);
}

static parsed_t parse_json(const char *body)
{
    parsed_t p = {submission_new(), cJSON_CreateArray(), SUBMISSION_OK};
    p.result = submission_from_json(p.sub, body, strlen(body), p.errors);
    return p;
}

static void done(parsed_t *p)
{
    submission_destroy(&p->sub);
    cJSON_Delete(p->errors);
}

static int number(const cJSON *e, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, key);
    return v ? v->valueint : -1;
}

/* The error for (field, index), or NULL; index -1 means "no index". */
static const cJSON *find_error(const cJSON *errors, const char *field, int index)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, errors)
    {
        if (strcmp(cJSON_GetObjectItemCaseSensitive(e, "field")->valuestring, field) ==
                0 &&
            number(e, "index") == index)
            return e;
    }
    return NULL;
}

/* Asserts an error exists with that line (-1: none) and a message starting
 * with `message`. */
static const cJSON *assert_error(const cJSON *errors, const char *field, int index,
                                 int line, const char *message)
{
    const cJSON *e = find_error(errors, field, index);
    if (!e) {
        char *all = cJSON_PrintUnformatted(errors);
        fail_msg("no error for %s[%d] in %s", field, index, all);
    }
    assert_int_equal(number(e, "line"), line);
    const char *got = cJSON_GetObjectItemCaseSensitive(e, "message")->valuestring;
    if (strncmp(got, message, strlen(message)) != 0)
        fail_msg("message \"%s\" does not start with \"%s\"", got, message);
    return e;
}

static const char *applicant_string(const submission_t *s, int i, const char *key)
{
    const cJSON *v =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(s->applicants, i), key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void assert_same_applicants(const parsed_t *csv, const char *json_body)
{
    parsed_t json = parse_json(json_body);
    assert_int_equal(json.result, SUBMISSION_OK);
    assert_int_equal(csv->result, SUBMISSION_OK);
    if (!cJSON_Compare(csv->sub->applicants, json.sub->applicants, true)) {
        char *a = cJSON_PrintUnformatted(csv->sub->applicants);
        char *b = cJSON_PrintUnformatted(json.sub->applicants);
        fail_msg("CSV %s\nJSON %s", a, b);
    }
    assert_int_equal(csv->sub->count, json.sub->count);
    done(&json);
}

#define JSON_SITI_BUDI                                                                   \
    "{\"program_code\":\"PALI-ADD-2025\",\"village_code\":\"16.12.01.2001\","            \
    "\"applicants\":[{\"nik\":\"1612014501900001\",\"name\":\"Siti Aminah\","            \
    "\"birth_date\":\"1990-01-05\",\"sex\":\"F\",\"occupation\":\"PETANI/PEKEBUN\"},"    \
    "{\"nik\":\"1612010101850002\",\"name\":\"Budi\",\"birth_date\":\"1985-01-01\","     \
    "\"sex\":\"M\",\"occupation\":\"NELAYAN/PERIKANAN\",\"address\":\"Dusun II\","       \
    "\"phone\":\"0812\",\"monthly_income\":1500000,\"poverty_ref\":\"DTKS-1\"}]}"

static void test_same_as_json(void **state)
{
    (void)state;
    parsed_t p = parse(HEADER "\n" ROW_SITI "\n" ROW_BUDI "\n");
    assert_int_equal(cJSON_GetArraySize(p.errors), 0);
    assert_string_equal(p.sub->program_code, PROGRAM);
    assert_string_equal(p.sub->village_code, VILLAGE);
    assert_null(p.sub->reference);
    assert_same_applicants(&p, JSON_SITI_BUDI);
    done(&p);
}

static void test_crlf_bom_and_no_final_newline(void **state)
{
    (void)state;
    const char *bodies[] = {
        HEADER "\r\n" ROW_SITI "\r\n" ROW_BUDI "\r\n",
        "\xEF\xBB\xBF" HEADER "\n" ROW_SITI "\n" ROW_BUDI "\n",
        "\xEF\xBB\xBF" HEADER "\r\n" ROW_SITI "\r\n" ROW_BUDI,
        HEADER "\n" ROW_SITI "\n" ROW_BUDI,
        HEADER "\n" ROW_SITI "\n" ROW_BUDI "\n\n",
        HEADER "\r\n" ROW_SITI "\r\n" ROW_BUDI "\r\n\r\n",
        HEADER "\r" ROW_SITI "\r" ROW_BUDI "\r", /* classic Mac line ends */
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        parsed_t p = parse(bodies[i]);
        assert_int_equal(cJSON_GetArraySize(p.errors), 0);
        assert_same_applicants(&p, JSON_SITI_BUDI);
        done(&p);
    }
}

static void test_column_order(void **state)
{
    (void)state;
    parsed_t p = parse("sex,poverty_ref,name,monthly_income,nik,occupation,birth_date,"
                       "phone,address\n"
                       "F,,Siti Aminah,,1612014501900001,PETANI/PEKEBUN,1990-01-05,,\n"
                       "M,DTKS-1,Budi,1500000,1612010101850002,NELAYAN/PERIKANAN,"
                       "1985-01-01,0812,Dusun II\n");
    assert_same_applicants(&p, JSON_SITI_BUDI);
    done(&p);

    /* Optional columns may be left out altogether. */
    p = parse("occupation,birth_date,sex,name,nik\n"
              "PETANI/PEKEBUN,1990-01-05,F,Siti Aminah,1612014501900001\n");
    assert_int_equal(p.result, SUBMISSION_OK);
    assert_int_equal(p.sub->count, 1);
    assert_string_equal(applicant_string(p.sub, 0, "name"), "Siti Aminah");
    done(&p);
}

static void test_quoting(void **state)
{
    (void)state;
    parsed_t p =
        parse(HEADER "\n"
                     "1,\"Aminah, Siti\",1990-01-05,F,PETANI,\"Jl. \"\"Mawar\"\" 3\",,,\n"
                     "2,\"Line\nBreak\",1990-01-05,F,PETANI,\"RT 1\r\nRW 2\",,,\n"
                     "3,\"\",1990-01-05,F,PETANI,\"\",\"\",\"\",\"\"\n"
                     "4,\" padded \",1990-01-05,F,PETANI, unquoted ,,,\n");
    assert_int_equal(p.result, SUBMISSION_INVALID); /* row 3 has an empty name */
    assert_string_equal(applicant_string(p.sub, 0, "name"), "Aminah, Siti");
    assert_string_equal(applicant_string(p.sub, 0, "address"), "Jl. \"Mawar\" 3");
    assert_string_equal(applicant_string(p.sub, 1, "name"), "Line\nBreak");
    assert_string_equal(applicant_string(p.sub, 1, "address"), "RT 1\r\nRW 2");
    /* RFC 4180: spaces are part of a field, quoted or not. */
    assert_string_equal(applicant_string(p.sub, 2, "name"), " padded ");
    assert_string_equal(applicant_string(p.sub, 2, "address"), " unquoted ");
    /* Row 3 starts on line 6: the quoted line breaks of row 2 count. */
    assert_error(p.errors, "name", 2, 6, "is required");
    assert_int_equal(cJSON_GetArraySize(p.errors), 1);
    done(&p);
}

static void test_kept_exactly(void **state)
{
    (void)state;
    parsed_t p =
        parse(HEADER "\n"
                     "1,\"Robert'); DROP TABLE applicants;--\",1990-01-05,M,x,"
                     "\"a; b; OR 1=1 --\",,,\n"
                     "2,O'Brien;SELECT,1990-01-05,M,\"DELETE FROM x\",\"\\\\n\",,,\n"
                     "3,\"Ni Luh \xe2\x80\x9c"
                     "Ayu\xe2\x80\x9d \xc3\xa9\",1990-01-05,F,x,,,,\n");
    assert_int_equal(p.result, SUBMISSION_OK);
    assert_string_equal(applicant_string(p.sub, 0, "name"),
                        "Robert'); DROP TABLE applicants;--");
    assert_string_equal(applicant_string(p.sub, 0, "address"), "a; b; OR 1=1 --");
    assert_string_equal(applicant_string(p.sub, 1, "name"), "O'Brien;SELECT");
    assert_string_equal(applicant_string(p.sub, 1, "occupation"), "DELETE FROM x");
    assert_string_equal(applicant_string(p.sub, 1, "address"), "\\\\n");
    assert_string_equal(applicant_string(p.sub, 2, "name"), "Ni Luh \xe2\x80\x9c"
                                                            "Ayu\xe2\x80\x9d \xc3\xa9");
    done(&p);
}

static void test_unknown_column(void **state)
{
    (void)state;
    parsed_t p = parse("nik,name,birth_date,sex,occupation,umur,\n" ROW_SITI "\n");
    assert_int_equal(p.result, SUBMISSION_INVALID);
    const cJSON *e = assert_error(p.errors, "header", -1, 1, "unknown column \"umur\"");
    assert_int_equal(number(e, "column"), 6);
    const cJSON *blank = cJSON_GetArrayItem(p.errors, 1);
    assert_string_equal(cJSON_GetObjectItem(blank, "message")->valuestring,
                        "column has no name");
    assert_int_equal(number(blank, "column"), 7);
    /* Rows are not checked against a header that is wrong. */
    assert_int_equal(cJSON_GetArraySize(p.errors), 2);
    done(&p);

    /* Names are exact: a spreadsheet's "NIK" or " nik" is not "nik". */
    p = parse("NIK, name,birth_date,sex,occupation\n1,A,1990-01-01,M,x\n");
    assert_error(p.errors, "nik", -1, 1, "column is required");
    assert_int_equal(cJSON_GetArraySize(p.errors), 4);
    done(&p);

    /* A long unknown name is quoted back cut short, still valid UTF-8. */
    char header[400] = "nik,name,birth_date,sex,occupation,";
    for (int i = 0; i < 100; i++)
        strcat(header, "\xc3\xa9");
    strcat(header, "\n1,A,1990-01-01,M,x,y\n");
    p = parse(header);
    e = assert_error(p.errors, "header", -1, 1, "unknown column");
    const char *msg = cJSON_GetObjectItem(e, "message")->valuestring;
    assert_true(submission_text_ok(msg, strlen(msg)));
    assert_true(strlen(msg) < 250);
    done(&p);
}

static void test_missing_and_duplicate_columns(void **state)
{
    (void)state;
    parsed_t p = parse("\n\nname,sex,address,name\nA,M,x,B\n");
    assert_int_equal(p.result, SUBMISSION_INVALID);
    /* The header starts on line 3, after two blank lines. */
    assert_error(p.errors, "nik", -1, 3, "column is required");
    assert_error(p.errors, "birth_date", -1, 3, "column is required");
    assert_error(p.errors, "occupation", -1, 3, "column is required");
    const cJSON *dup =
        assert_error(p.errors, "name", -1, 3, "column appears more than once");
    assert_int_equal(number(dup, "column"), 4);
    assert_null(find_error(p.errors, "sex", -1));
    assert_int_equal(cJSON_GetArraySize(p.errors), 4);
    done(&p);
}

static void test_too_many_columns(void **state)
{
    (void)state;
    char header[1024] = HEADER;
    for (int i = 0; i < 70; i++)
        strcat(header, ",x");
    strcat(header, "\n");
    parsed_t p = parse(header);
    assert_int_equal(p.result, SUBMISSION_INVALID);
    const cJSON *last = cJSON_GetArrayItem(p.errors, cJSON_GetArraySize(p.errors) - 1);
    assert_string_equal(cJSON_GetObjectItem(last, "message")->valuestring,
                        "has more than 64 columns");
    assert_int_equal(number(last, "line"), 1);
    /* x in columns 10..64 are unknown; columns past 64 are not listed one by one. */
    assert_int_equal(cJSON_GetArraySize(p.errors), 1 + 55);
    done(&p);
}

static void test_row_length(void **state)
{
    (void)state;
    parsed_t p = parse(HEADER "\n" ROW_SITI "\n"
                              "1,Short,1990-01-01,M\n" ROW_SITI ",extra\n"
                              "2,,1990-01-01,M,x,,,,\n");
    assert_int_equal(p.result, SUBMISSION_INVALID);
    assert_error(p.errors, "applicants", 1, 3, "has 4 fields; the header row has 9");
    assert_error(p.errors, "applicants", 2, 4, "has 10 fields; the header row has 9");
    /* Other rows are still checked, so one round fixes the whole file. */
    assert_error(p.errors, "name", 3, 5, "is required");
    assert_int_equal(cJSON_GetArraySize(p.errors), 3);
    done(&p);
}

static void test_line_numbers(void **state)
{
    (void)state;
    parsed_t p =
        parse(HEADER "\r\n"                                               /* 1 */
                     "1,\"Multi\r\nline\r\nname\",1990-01-01,X,x,,,,\r\n" /* 2-4 */
                     "\r\n"                                               /* 5 */
                     ",,,,,,,,\r\n"                                       /* 6 */
                     "2,B,1990-02-30,M,x,,,1.000.000,\r\n"                /* 7 */
                     "\"3\",C,1990-01-01,M,x,,,,\r\n"                     /* 8 */
                     "\"\"\"4\",\"D\n\",01/01/1990,F,x,,,,");             /* 9-10 */
    assert_int_equal(p.result, SUBMISSION_INVALID);
    /* Row 2 of the file holds applicant 0; blank and all-empty rows are skipped. */
    const cJSON *e = assert_error(p.errors, "sex", 0, 2, "must be \"M\" or \"F\"");
    /* Keys read field, index, line, message. */
    assert_string_equal(e->child->string, "field");
    assert_string_equal(e->child->next->string, "index");
    assert_string_equal(e->child->next->next->string, "line");
    assert_string_equal(e->child->next->next->next->string, "message");
    assert_error(p.errors, "birth_date", 1, 7, "must be an existing date as YYYY-MM-DD");
    assert_error(p.errors, "monthly_income", 1, 7,
                 "must be a whole number of rupiah from 0 to 1000000000000");
    assert_error(p.errors, "birth_date", 3, 9, "must be an existing date");
    assert_int_equal(cJSON_GetArraySize(p.errors), 4);
    assert_int_equal(p.sub->count, 4);
    done(&p);
}

static void test_same_errors_as_json(void **state)
{
    (void)state;
    parsed_t csv = parse(HEADER "\n"
                                "1612014501900001,A,1990-13-01,W,,,,-5,\n"
                                ",,,,12,,,99999999999999999999,\n");
    parsed_t json = parse_json(
        "{\"program_code\":\"" PROGRAM "\",\"village_code\":\"" VILLAGE "\","
        "\"applicants\":[{\"nik\":\"1612014501900001\",\"name\":\"A\",\"birth_date\":"
        "\"1990-13-01\",\"sex\":\"W\",\"monthly_income\":\"-5\"},{\"occupation\":\"12\","
        "\"monthly_income\":99999999999999999999}]}");
    assert_int_equal(csv.result, SUBMISSION_INVALID);
    assert_int_equal(json.result, SUBMISSION_INVALID);
    cJSON *e;
    cJSON_ArrayForEach(e, csv.errors)
    {
        assert_true(number(e, "line") >= 2);
        cJSON_DeleteItemFromObject(e, "line");
    }
    if (!cJSON_Compare(csv.errors, json.errors, true)) {
        char *a = cJSON_PrintUnformatted(csv.errors);
        char *b = cJSON_PrintUnformatted(json.errors);
        fail_msg("CSV %s\nJSON %s", a, b);
    }
    done(&csv);
    done(&json);
}

static void test_income(void **state)
{
    (void)state;
    parsed_t p = parse("nik,name,birth_date,sex,occupation,monthly_income\n"
                       "1,A,1990-01-01,M,x,0\n"
                       "1,A,1990-01-01,M,x,1000000000000\n"
                       "1,A,1990-01-01,M,x,0001500000\n"
                       "1,A,1990-01-01,M,x,\n");
    assert_int_equal(p.result, SUBMISSION_OK);
    const char *want[] = {"0", "1000000000000", "1500000"};
    for (int i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetObjectItem(cJSON_GetArrayItem(p.sub->applicants, i),
                                             "monthly_income");
        assert_true(cJSON_IsRaw(v));
        assert_string_equal(v->valuestring, want[i]);
    }
    assert_true(cJSON_IsNull(
        cJSON_GetObjectItem(cJSON_GetArrayItem(p.sub->applicants, 3), "monthly_income")));
    done(&p);

    const char *bad[] = {"1000000000001", "1.5", "1e6",  " 100",
                         "Rp100",         "-0",  "0x10", "1234567890123456"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "nik,name,birth_date,sex,occupation,monthly_income\n"
                 "1,A,1990-01-01,M,x,\"%s\"\n",
                 bad[i]);
        p = parse(body);
        assert_int_equal(p.result, SUBMISSION_INVALID);
        assert_error(p.errors, "monthly_income", 0, 2, "must be a whole number");
        done(&p);
    }
}

static void test_field_limits(void **state)
{
    (void)state;
    char name[SUBMISSION_MAX_NAME + 2];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    char body[512];
    snprintf(body, sizeof body,
             "nik,name,birth_date,sex,occupation\n1,%s,1990-01-01,M,x\n", name);
    parsed_t p = parse(body);
    assert_error(p.errors, "name", 0, 2, "must be at most 200 bytes");
    done(&p);
    name[SUBMISSION_MAX_NAME] = '\0';
    snprintf(body, sizeof body,
             "nik,name,birth_date,sex,occupation\n1,%s,1990-01-01,M,x\n", name);
    p = parse(body);
    assert_int_equal(p.result, SUBMISSION_OK);
    done(&p);
}

static void test_malformed_csv(void **state)
{
    (void)state;
    struct {
        const char *body;
        int line;
        const char *message;
    } cases[] = {
        {HEADER "\n1,Bu\"di,1990-01-01,M,x,,,,\n", 2, "is not valid CSV: a quote"},
        {HEADER "\n1,\"Budi\" Santoso,1990-01-01,M,x,,,,\n", 2,
         "is not valid CSV: a quote"},
        {HEADER "\n1,\"Budi\" ,1990-01-01,M,x,,,,\n", 2, "is not valid CSV: a quote"},
        {HEADER "\n" ROW_SITI "\n1,\"Budi,1990-01-01,M,x,,,,\nnext\n", 3,
         "is not valid CSV: a quoted field is never closed"},
        {"", 0, "is empty"},
        {"\r\n\n", 0, "is empty"},
        {"\xEF\xBB\xBF", 0, "is empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        parsed_t p = parse(cases[i].body);
        assert_int_equal(p.result, SUBMISSION_MALFORMED);
        assert_int_equal(cJSON_GetArraySize(p.errors), 1);
        assert_error(p.errors, "body", -1, cases[i].line ? cases[i].line : -1,
                     cases[i].message);
        done(&p);
    }
}

static void test_invalid_utf8_and_nul(void **state)
{
    (void)state;
    const char *bad[] = {"\xff", "\xc0\xaf", "\xed\xa0\x80", "Sit\xe9", "\xe2\x82"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 HEADER "\n" ROW_SITI "\n1,\"%s\",1990-01-01,M,x,,,,\n", bad[i]);
        parsed_t p = parse(body);
        assert_int_equal(p.result, SUBMISSION_MALFORMED);
        assert_int_equal(cJSON_GetArraySize(p.errors), 1);
        assert_error(p.errors, "body", -1, 3, "must be UTF-8 text without NUL bytes");
        done(&p);
    }
    /* A NUL byte, even inside a quoted field, and on a later line. */
    const char body[] = HEADER "\n" ROW_SITI "\n\n1,\"A\0B\",1990-01-01,M,x,,,,\n";
    parsed_t p = parse_full(body, sizeof body - 1, PROGRAM, VILLAGE, NULL);
    assert_int_equal(p.result, SUBMISSION_MALFORMED);
    assert_error(p.errors, "body", -1, 4, "must be UTF-8 text without NUL bytes");
    done(&p);
    /* A BOM anywhere but the start is a character, not a marker. */
    p = parse("\xEF\xBB\xBF\xEF\xBB\xBFnik,name,birth_date,sex,occupation\n1,A,1990-01-"
              "01,M,x\n");
    assert_int_equal(p.result, SUBMISSION_INVALID);
    assert_error(p.errors, "header", -1, 1, "unknown column");
    done(&p);
}

static void test_query_parameters(void **state)
{
    (void)state;
    const char *body = HEADER "\n" ROW_SITI "\n";
    parsed_t p = parse_full(body, strlen(body), PROGRAM, VILLAGE, "Musdes 4/2025");
    assert_int_equal(p.result, SUBMISSION_OK);
    assert_string_equal(p.sub->reference, "Musdes 4/2025");
    done(&p);

    p = parse_full(body, strlen(body), NULL, "16.12.01.20011", "");
    assert_int_equal(p.result, SUBMISSION_INVALID);
    assert_error(p.errors, "program_code", -1, -1, "is required");
    assert_error(p.errors, "village_code", -1, -1, "must be at most 13 bytes");
    assert_int_equal(cJSON_GetArraySize(p.errors), 2);
    done(&p);

    /* Query and row problems come in one answer, as for JSON. */
    const char *no_name = HEADER "\n1,,1990-01-01,M,x,,,,\n";
    p = parse_full(no_name, strlen(no_name), "", VILLAGE, NULL);
    assert_error(p.errors, "program_code", -1, -1, "must not be empty");
    assert_error(p.errors, "name", 0, 2, "is required");
    done(&p);

    p = parse_full(body, strlen(body), PROGRAM, "16.12.01.\xff", NULL);
    assert_int_equal(p.result, SUBMISSION_MALFORMED);
    assert_error(p.errors, "village_code", -1, -1,
                 "must be UTF-8 text without NUL bytes");
    done(&p);
}

static void test_no_rows(void **state)
{
    (void)state;
    parsed_t p = parse(HEADER "\n");
    assert_int_equal(p.result, SUBMISSION_INVALID);
    assert_error(p.errors, "applicants", -1, -1, "must list at least one applicant");
    done(&p);
    p = parse(HEADER "\n,,,,,,,,\n\n");
    assert_error(p.errors, "applicants", -1, -1, "must list at least one applicant");
    done(&p);
}

static char *rows(int n, const char *last)
{
    size_t row = strlen(ROW_SITI) + 1;
    char *body = malloc(strlen(HEADER) + 2 + row * (size_t)n + strlen(last) + 1);
    char *at = body + sprintf(body, "%s\n", HEADER);
    for (int i = 0; i < n; i++)
        at += sprintf(at, "%s\n", ROW_SITI);
    strcpy(at, last);
    return body;
}

static void test_applicant_cap(void **state)
{
    (void)state;
    char *body = rows(SUBMISSION_MAX_APPLICANTS, "");
    parsed_t p = parse(body);
    assert_int_equal(p.result, SUBMISSION_OK);
    assert_int_equal(p.sub->count, SUBMISSION_MAX_APPLICANTS);
    assert_int_equal(cJSON_GetArraySize(p.sub->applicants), SUBMISSION_MAX_APPLICANTS);
    done(&p);
    free(body);

    /* Over the cap: one error, naming the first row too many, and nothing else. */
    body = rows(SUBMISSION_MAX_APPLICANTS, "1,,bad,X,,,,,\n" ROW_SITI "\n");
    p = parse(body);
    assert_int_equal(p.result, SUBMISSION_INVALID);
    assert_int_equal(cJSON_GetArraySize(p.errors), 1);
    assert_error(p.errors, "applicants", -1, SUBMISSION_MAX_APPLICANTS + 2,
                 "must list at most 10000 applicants");
    done(&p);
    free(body);

    /* A malformed body is malformed whatever its length. */
    body = rows(SUBMISSION_MAX_APPLICANTS + 5, "1,\"open\n");
    p = parse(body);
    assert_int_equal(p.result, SUBMISSION_MALFORMED);
    done(&p);
    free(body);
}

int main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_json),
        cmocka_unit_test(test_crlf_bom_and_no_final_newline),
        cmocka_unit_test(test_column_order),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_kept_exactly),
        cmocka_unit_test(test_unknown_column),
        cmocka_unit_test(test_missing_and_duplicate_columns),
        cmocka_unit_test(test_too_many_columns),
        cmocka_unit_test(test_row_length),
        cmocka_unit_test(test_line_numbers),
        cmocka_unit_test(test_same_errors_as_json),
        cmocka_unit_test(test_income),
        cmocka_unit_test(test_field_limits),
        cmocka_unit_test(test_malformed_csv),
        cmocka_unit_test(test_invalid_utf8_and_nul),
        cmocka_unit_test(test_query_parameters),
        cmocka_unit_test(test_no_rows),
        cmocka_unit_test(test_applicant_cap),
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
