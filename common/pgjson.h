/* pgjson: one column of a libpq result as a field of a cJSON object, the
 * way every JSON answer and --json output of lindung writes them: SQL NULL
 * as null, bigint columns as exact JSON integers. Not a general mapper of
 * rows to JSON: the caller names each field. Each returns false when out of
 * memory (obj NULL included), the field then missing. */
#ifndef LINDUNG_PGJSON_H
#define LINDUNG_PGJSON_H
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <libpq-fe.h>

bool pgjson_add_text(cJSON *obj, const char *key, const PGresult *r, int row, int col);
/* Exact for every integer below 2^53 (counts, ids and rupiah are). */
bool pgjson_add_int(cJSON *obj, const char *key, const PGresult *r, int row, int col);
/* PostgreSQL's "t" is true; anything else, NULL included, false. */
bool pgjson_add_bool(cJSON *obj, const char *key, const PGresult *r, int row, int col);

/* For JSON that must be whole (it goes to the database, the bus or a
 * client), built with cJSON, whose every Create and Add may fail: obj when
 * ok, else NULL with obj deleted. The pattern is
 *     cJSON *o = cJSON_CreateObject();
 *     return pgjson_whole(o, o && cJSON_AddStringToObject(o, "a", a) && ...);
 */
cJSON *pgjson_whole(cJSON *obj, bool ok);
/* Appends item to arr; false, with item deleted, when either is NULL (a
 * failed allocation upstream). */
bool pgjson_append(cJSON *arr, cJSON *item);
/* The same for a field of obj. */
bool pgjson_put(cJSON *obj, const char *key, cJSON *item);
#endif
