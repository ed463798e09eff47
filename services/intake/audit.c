/* audit: the read records intake writes itself, after reads whose result
 * it filters in C. The rest are CTEs in the routes' own statements
 * (audit.h). */
#include "audit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *SQL_READ =
    "INSERT INTO audit_log (actor_kind, actor, action, object, nik_hashes, request_id, "
    "    detail) "
    "VALUES ('key', $1, $2, $3, audit_nik_hashes($4::text[]), $5, "
    "    coalesce($6::jsonb, '{}'))";

/* {"a","b"}: the NIKs as one text[] parameter, each quoted (a NIK stored as
 * typed may hold spaces, and a quote or backslash must not break the
 * literal). NULL when out of memory. */
static char *text_array(const char *const *items, int n)
{
    size_t cap = 3;
    for (int i = 0; i < n; i++)
        cap += 2 * strlen(items[i]) + 3;
    char *out = malloc(cap), *p = out;
    if (!out)
        return NULL;
    *p++ = '{';
    for (int i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        *p++ = '"';
        for (const char *c = items[i]; *c; c++) {
            if (*c == '"' || *c == '\\')
                *p++ = '\\';
            *p++ = *c;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

bool audit_read(db_t *db, const auth_t *auth, const http_request_t *req,
                const char *action, const char *object, const char *const *niks, int n,
                const char *detail)
{
    char *list = text_array(niks, n);
    if (!list)
        return false;
    const char *params[] = {auth->key_id, action, object, list, req->request_id, detail};
    bool ok = db_run(db, SQL_READ, 6, params);
    free(list);
    return ok;
}
