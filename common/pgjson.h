/* pgjson: one column of a libpq result as a field of a cJSON object, the
 * way every JSON answer and --json output of lindung writes them: SQL NULL
 * as null, bigint columns as exact JSON integers. Not a general mapper of
 * rows to JSON: the caller names each field. */
#ifndef LINDUNG_PGJSON_H
#define LINDUNG_PGJSON_H
#include <cjson/cJSON.h>
#include <libpq-fe.h>

void pgjson_add_text(cJSON *obj, const char *key, const PGresult *r, int row, int col);
/* Exact for every integer below 2^53 (counts, ids and rupiah are). */
void pgjson_add_int(cJSON *obj, const char *key, const PGresult *r, int row, int col);
/* PostgreSQL's "t" is true; anything else, NULL included, false. */
void pgjson_add_bool(cJSON *obj, const char *key, const PGresult *r, int row, int col);
#endif
