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
