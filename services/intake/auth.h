/* auth: find the API key behind an "Authorization: Bearer ..." header.
 * Keys are stored as sha256 hashes; the lookup hashes what was sent, and
 * notes the time of use at most once a minute per key (last_used_at). */
#ifndef LINDUNG_AUTH_H
#define LINDUNG_AUTH_H
#include "db.h"
#include "scope.h"

typedef enum {
    AUTH_OK = 0,
    AUTH_MISSING,    /* no bearer header: 401 */
    AUTH_INVALID,    /* unknown, revoked or expired: 401 */
    AUTH_UNAVAILABLE /* database down: 503 */
} auth_result_t;

typedef struct {
    char key_id[40];
    scope_t scope;
} auth_t;

auth_result_t auth_check(db_t *db, const char *authorization, auth_t *out);
#endif
