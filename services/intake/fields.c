/* fields: shared checks of intake's routes (fields.h). */
#include "fields.h"
#include <string.h>

void fields_add_error(cJSON *errors, const char *field, const char *message)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "field", field);
    cJSON_AddStringToObject(e, "message", message);
    cJSON_AddItemToArray(errors, e);
}

bool fields_all_digits(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n > 0 && n <= max && strspn(s, "0123456789") == n;
}

bool fields_one_of(const char *value, const char *const *allowed)
{
    for (const char *const *a = allowed; value && *a; a++)
        if (strcmp(value, *a) == 0)
            return true;
    return false;
}

const char *fields_scope_kind(const scope_t *s)
{
    return s->kind == SCOPE_ADMIN     ? "admin"
           : s->kind == SCOPE_REGENCY ? "regency"
                                      : "village";
}
