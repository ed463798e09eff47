/* pgjson: columns of a libpq result as cJSON fields (pgjson.h). */
#include "pgjson.h"
#include <stdlib.h>
#include <string.h>

void pgjson_add_text(cJSON *obj, const char *key, const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        cJSON_AddNullToObject(obj, key);
    else
        cJSON_AddStringToObject(obj, key, PQgetvalue(r, row, col));
}

void pgjson_add_int(cJSON *obj, const char *key, const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        cJSON_AddNullToObject(obj, key);
    else
        cJSON_AddNumberToObject(obj, key,
                                (double)strtoll(PQgetvalue(r, row, col), NULL, 10));
}

void pgjson_add_bool(cJSON *obj, const char *key, const PGresult *r, int row, int col)
{
    cJSON_AddBoolToObject(obj, key, strcmp(PQgetvalue(r, row, col), "t") == 0);
}
