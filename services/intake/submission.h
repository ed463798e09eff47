/* submission: turn a request body into a validated submission, listing every
 * problem (field and applicant index) at once. Shape only: whether a NIK is
 * well-formed or a person eligible is verify's decision, not intake's, so a
 * bad NIK is stored and rejected with a reason rather than refused here. */
#ifndef LINDUNG_SUBMISSION_H
#define LINDUNG_SUBMISSION_H
#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

/* Limits, documented in docs/api.md. Lengths are in bytes of UTF-8. */
#define SUBMISSION_MAX_APPLICANTS 10000
#define SUBMISSION_MAX_NIK 32
#define SUBMISSION_MAX_NAME 200
#define SUBMISSION_MAX_OCCUPATION 100
#define SUBMISSION_MAX_ADDRESS 500
#define SUBMISSION_MAX_PHONE 32
#define SUBMISSION_MAX_POVERTY_REF 100
#define SUBMISSION_MAX_REFERENCE 200
#define SUBMISSION_MAX_CODE 64
#define SUBMISSION_MAX_INCOME                                                            \
    1000000000000LL /* Rp 1 trillion: far above any real income */

typedef struct {
    char *program_code;
    char *village_code;
    char *reference;   /* may be NULL */
    cJSON *applicants; /* normalised array, ready for jsonb_to_recordset */
    int count;
} submission_t;

typedef enum {
    SUBMISSION_OK = 0,
    SUBMISSION_MALFORMED, /* not a JSON object, not UTF-8, a NUL (byte or \u0000),
                             over jsonguard's limits: 400 */
    SUBMISSION_INVALID    /* JSON, but fields are wrong: 422, see errors */
} submission_result_t;

submission_t *submission_new(void);
void submission_destroy(submission_t **self_p);

/* Parse a JSON body, after jsonguard has looked at its raw bytes. On
 * SUBMISSION_INVALID every problem is appended to `errors` as {"field",
 * "index"?, "message"} (the first FIELDS_MAX_ERRORS listed, the rest counted:
 * fields.h); on MALFORMED one entry explains. */
submission_result_t submission_from_json(submission_t *self, const char *body, size_t len,
                                         cJSON *errors);

/* True when `s` (len bytes) is valid UTF-8 with no NUL byte. */
bool submission_text_ok(const char *s, size_t len);

/* Check one applicant object exactly as submission_from_json does: every
 * problem appended to `errors` as {"field", "index", "message"}; when there
 * is none, the normalised copy (with "idx" = index) is appended to `list`.
 * For bodies that are not JSON (CSV) but must answer the same. */
void submission_check_applicant(const cJSON *applicant, int index, cJSON *errors,
                                cJSON *list);

/* Set program_code, village_code and reference from values that did not come
 * in a JSON body (query parameters of a CSV upload), with the same checks and
 * messages as the JSON fields. NULL means absent. */
void submission_set_target(submission_t *self, const char *program_code,
                           const char *village_code, const char *reference,
                           cJSON *errors);
#endif
