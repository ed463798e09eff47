/* envelope: the message that wakes a consumer. It names what happened and
 * which row to look at; it never carries the data itself (PostgreSQL is the
 * truth, messages are prompts). Wire form: a topic frame, then this JSON. */
#ifndef LINDUNG_ENVELOPE_H
#define LINDUNG_ENVELOPE_H
#include <stddef.h>

#define ENVELOPE_SUBMISSION_RECEIVED "submission.received"
#define ENVELOPE_ENROLMENTS_CHANGED "enrolments.changed"

typedef struct {
    char type[48];       /* one of the ENVELOPE_ names */
    char id[48];         /* the submission id the message is about */
    char request_id[72]; /* the request that started it, for tracing */
    char sent_at[32];    /* UTC ISO-8601 */
} envelope_t;

void envelope_init(envelope_t *env, const char *type, const char *id,
                   const char *request_id);
/* JSON text; caller frees. NULL when out of memory. */
char *envelope_encode(const envelope_t *env);
/* 0 on success, -1 when the JSON is not an envelope. */
int envelope_decode(const char *json, size_t len, envelope_t *out);
#endif
