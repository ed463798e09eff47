/* pgjson: one column of a libpq result as a field of a cJSON object, the
 * way every JSON answer and --json output of lindung writes them: SQL NULL
 * as null, bigint columns as JSON integers. Not a general mapper of
 * rows to JSON: the caller names each field. Each returns false when out of
 * memory (obj NULL included), the field then missing. */
#ifndef LINDUNG_PGJSON_H
#define LINDUNG_PGJSON_H
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

bool pgjson_add_text(cJSON *obj, const char *key, const PGresult *r, int row, int col);
/* Through a double, as cJSON holds numbers: written in plain digits and
 * exact below 10^15 (cJSON writes larger ones with an exponent, and rounds
 * them past 2^53). lindung's counts, ids and rupiah stay far below: a month
 * of 10 million people at Rp 16,800 is Rp 1.68 x 10^11. */
bool pgjson_add_int(cJSON *obj, const char *key, const PGresult *r, int row, int col);
/* PostgreSQL's "t" is true; anything else, NULL included, false. */
bool pgjson_add_bool(cJSON *obj, const char *key, const PGresult *r, int row, int col);

/* A small column table, kept next to the SELECT it reads: each field of a
 * JSON row named with the position of its column (an enum beside the SQL)
 * and how it is written. */
typedef enum {
    PGJSON_TEXT,   /* pgjson_add_text: SQL NULL as null */
    PGJSON_STRING, /* the text libpq gives, SQL NULL as "" (never null) */
    PGJSON_INT,    /* pgjson_add_int */
    PGJSON_BOOL    /* pgjson_add_bool */
} pgjson_kind_t;
typedef struct {
    const char *key;
    int col;
    pgjson_kind_t kind;
} pgjson_col_t;
/* Adds the n fields of cols, in order, from row `row` of r; false as soon as
 * one cannot be added (obj NULL included). */
bool pgjson_add_cols(cJSON *obj, const PGresult *r, int row, const pgjson_col_t *cols,
                     size_t n);
/* A new object holding those fields, or NULL when out of memory. */
cJSON *pgjson_row(const PGresult *r, int row, const pgjson_col_t *cols, size_t n);
/* An array of pgjson_row for every row of r, or NULL when out of memory. */
cJSON *pgjson_table(const PGresult *r, const pgjson_col_t *cols, size_t n);
/* An array of fn(r, row, ctx) for every row of r (fn returning NULL when out
 * of memory), or NULL when out of memory. */
typedef cJSON *(*pgjson_row_fn)(const PGresult *r, int row, const void *ctx);
cJSON *pgjson_rows(const PGresult *r, pgjson_row_fn fn, const void *ctx);
#define PGJSON_NCOLS(cols) (sizeof(cols) / sizeof((cols)[0]))

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
