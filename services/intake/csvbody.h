/* csvbody: a `text/csv` submission body -> the same submission_t, the same
 * checks and the same messages as the JSON path (submission.h), so an
 * integrator gets one answer whichever format they send. Every error also
 * names the physical CSV line where its record starts ("line", 1-based).
 *
 * For: RFC 4180 CSV in UTF-8 (BOM optional, CRLF or LF), a header row naming
 * applicant fields in any order. Not for: other encodings or delimiters,
 * programme-level fields in the body (they come as query parameters), or
 * anything beyond shape (NIK structure and eligibility are verify's). */
#ifndef LINDUNG_CSVBODY_H
#define LINDUNG_CSVBODY_H
#include <stddef.h>
#include <cjson/cJSON.h>
#include "httpd.h"
#include "submission.h"

/* Parse `body` (len bytes, may contain NULs) into `out`, a fresh
 * submission_new(). program_code and village_code are required, reference
 * optional (NULL: absent); they are checked like the JSON fields.
 *
 * Returns SUBMISSION_MALFORMED (answer 400) when the body is not UTF-8, holds
 * a NUL byte, is empty or is not RFC 4180 CSV; SUBMISSION_INVALID (answer 422)
 * when columns or fields are wrong; SUBMISSION_OK otherwise. Problems are
 * appended to `errors` as {"field", "index"?, "line"?, "message"}: "index" is
 * the applicant (data row, 0-based), "line" the 1-based physical line where
 * the record starts; past FIELDS_MAX_ERRORS they are counted, not listed
 * (fields.h). Nothing is appended on SUBMISSION_OK. */
submission_result_t csvbody_parse(submission_t *out, const char *body, size_t len,
                                  const char *program_code, const char *village_code,
                                  const char *reference, cJSON *errors);

/* csvbody_parse of a request: its body, and program_code, village_code and
 * reference from its query string. A query value holding a NUL (%00) is
 * SUBMISSION_MALFORMED naming the parameter, never read as cut short there. */
submission_result_t csvbody_parse_request(submission_t *out, const http_request_t *req,
                                          cJSON *errors);
#endif
