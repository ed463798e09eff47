/* pgjson: columns of a libpq result as cJSON fields (pgjson.h). */
#include "pgjson.h"
#include <stdlib.h>
#include <string.h>

bool pgjson_add_text(cJSON *obj, const char *key, const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return cJSON_AddNullToObject(obj, key) != NULL;
    return cJSON_AddStringToObject(obj, key, PQgetvalue(r, row, col)) != NULL;
}

bool pgjson_add_int(cJSON *obj, const char *key, const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return cJSON_AddNullToObject(obj, key) != NULL;
    return cJSON_AddNumberToObject(
               obj, key, (double)strtoll(PQgetvalue(r, row, col), NULL, 10)) != NULL;
}

bool pgjson_add_bool(cJSON *obj, const char *key, const PGresult *r, int row, int col)
{
    return cJSON_AddBoolToObject(obj, key, strcmp(PQgetvalue(r, row, col), "t") == 0) !=
           NULL;
}

bool pgjson_add_cols(cJSON *obj, const PGresult *r, int row, const pgjson_col_t *cols,
                     size_t n)
{
    bool ok = obj != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        const pgjson_col_t *c = &cols[i];
        switch (c->kind) {
        case PGJSON_INT:
            ok = pgjson_add_int(obj, c->key, r, row, c->col);
            break;
        case PGJSON_BOOL:
            ok = pgjson_add_bool(obj, c->key, r, row, c->col);
            break;
        case PGJSON_STRING:
            ok = cJSON_AddStringToObject(obj, c->key, PQgetvalue(r, row, c->col)) != NULL;
            break;
        default:
            ok = pgjson_add_text(obj, c->key, r, row, c->col);
            break;
        }
    }
    return ok;
}

cJSON *pgjson_row(const PGresult *r, int row, const pgjson_col_t *cols, size_t n)
{
    cJSON *o = cJSON_CreateObject();
    return pgjson_whole(o, pgjson_add_cols(o, r, row, cols, n));
}

cJSON *pgjson_table(const PGresult *r, const pgjson_col_t *cols, size_t n)
{
    cJSON *list = cJSON_CreateArray();
    bool ok = list != NULL;
    for (int i = 0; ok && i < PQntuples(r); i++)
        ok = pgjson_append(list, pgjson_row(r, i, cols, n));
    return pgjson_whole(list, ok);
}

cJSON *pgjson_rows(const PGresult *r, pgjson_row_fn fn, const void *ctx)
{
    cJSON *list = cJSON_CreateArray();
    bool ok = list != NULL;
    for (int i = 0; ok && i < PQntuples(r); i++)
        ok = pgjson_append(list, fn(r, i, ctx));
    return pgjson_whole(list, ok);
}

cJSON *pgjson_whole(cJSON *obj, bool ok)
{
    if (ok)
        return obj;
    cJSON_Delete(obj);
    return NULL;
}

bool pgjson_append(cJSON *arr, cJSON *item)
{
    if (arr && item && cJSON_AddItemToArray(arr, item))
        return true;
    cJSON_Delete(item);
    return false;
}

bool pgjson_put(cJSON *obj, const char *key, cJSON *item)
{
    if (obj && item && cJSON_AddItemToObject(obj, key, item))
        return true;
    cJSON_Delete(item);
    return false;
}
