/* bench_fields: seconds intake's parsers take over a submission whose every
 * applicant is wrong in every field (1,000 problems listed, all counted),
 * as JSON and as CSV, for N and 10 x N applicants (N = 1,000 by default: a
 * submission holds at most 10,000). The work must grow with the
 * applicants, not with applicants times problems (it once took 14 s for
 * 10,000, when the error list was walked for each), so the printed ratio
 * should be near 10. Not a test: it prints figures (docs/benchmarks.md,
 * "Error lists"). Usage: bench_fields [N] (1000). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "csvbody.h"
#include "fields.h"
#include "submission.h"

#define ALL_WRONG                                                                        \
    "{\"nik\":1,\"name\":2,\"birth_date\":\"1990-02-30\",\"sex\":\"X\","                 \
    "\"occupation\":2.5,\"address\":3,\"phone\":4,\"monthly_income\":-1,"                \
    "\"poverty_ref\":5}"
#define CSV_HEADER "nik,name,birth_date,sex,occupation,monthly_income\n"
#define CSV_ROW "1,2,1990-02-30,X,,-1\n"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A JSON body of n wrong applicants, or NULL; its length in *len. */
static char *json_body(size_t n, size_t *len)
{
    char *body = malloc(n * (strlen(ALL_WRONG) + 1) + 100);
    if (!body)
        return NULL;
    char *p = body + sprintf(body, "{\"program_code\":\"P\",\"village_code\":"
                                   "\"16.12.01.2001\",\"applicants\":[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s" ALL_WRONG, i ? "," : "");
    p += sprintf(p, "]}");
    *len = (size_t)(p - body);
    return body;
}

static char *csv_body(size_t n, size_t *len)
{
    char *body = malloc(strlen(CSV_HEADER) + n * strlen(CSV_ROW) + 1);
    if (!body)
        return NULL;
    char *p = body + sprintf(body, "%s", CSV_HEADER);
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s", CSV_ROW);
    *len = (size_t)(p - body);
    return body;
}

/* Seconds to parse one body, or -1 when it was not answered as invalid
 * with every problem counted. */
static double parse_once(bool csv, size_t n)
{
    size_t len = 0;
    char *body = csv ? csv_body(n, &len) : json_body(n, &len);
    submission_t *sub = submission_new();
    cJSON *errors = cJSON_CreateArray();
    if (!body || !sub || !errors) {
        free(body);
        submission_destroy(&sub);
        cJSON_Delete(errors);
        return -1;
    }
    double t0 = now_s();
    submission_result_t r =
        csv ? csvbody_parse(sub, body, len, "P", "16.12.01.2001", NULL, errors)
            : submission_from_json(sub, body, len, errors);
    double took = now_s() - t0;
    size_t want = n * (csv ? 4 : 9);
    bool counted = r == SUBMISSION_INVALID && (size_t)fields_error_count(errors) == want;
    free(body);
    submission_destroy(&sub);
    cJSON_Delete(errors);
    return counted ? took : -1;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 1000;
    if (n == 0) {
        fprintf(stderr, "usage: bench_fields [N]\n");
        return 2;
    }
    for (int csv = 0; csv <= 1; csv++) {
        double small = parse_once(csv, n), large = parse_once(csv, 10 * n);
        if (small < 0 || large < 0) {
            fprintf(stderr, "bench_fields: a %s body was not counted in full\n",
                    csv ? "CSV" : "JSON");
            return 1;
        }
        printf(
            "%-4s %zu applicants: %.3f s, %zu: %.3f s, ratio %.1f (linear: about 10)\n",
            csv ? "CSV" : "JSON", n, small, 10 * n, large, large / small);
    }
    return 0;
}
