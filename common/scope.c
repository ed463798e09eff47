/* scope: key scopes. A village key is inside its own village only; a regency
 * key inside every village of the regency; admin everywhere. */
#include "scope.h"
#include <stdio.h>
#include <string.h>
#include "region.h"

bool scope_parse(const char *text, scope_t *out)
{
    memset(out, 0, sizeof *out);
    if (!text)
        return false;
    if (strcmp(text, "admin") == 0) {
        out->kind = SCOPE_ADMIN;
        return true;
    }
    if (strncmp(text, "regency:", 8) == 0 && region_level(text + 8) == REGION_REGENCY) {
        out->kind = SCOPE_REGENCY;
        snprintf(out->code, sizeof out->code, "%s", text + 8);
        return true;
    }
    if (strncmp(text, "village:", 8) == 0 && region_level(text + 8) == REGION_VILLAGE) {
        out->kind = SCOPE_VILLAGE;
        snprintf(out->code, sizeof out->code, "%s", text + 8);
        return true;
    }
    return false;
}

void scope_format(const scope_t *scope, char out[32])
{
    if (scope->kind == SCOPE_ADMIN)
        snprintf(out, 32, "admin");
    else
        snprintf(out, 32, "%s:%s", scope->kind == SCOPE_REGENCY ? "regency" : "village",
                 scope->code);
}

bool scope_allows_village(const scope_t *scope, const char *village_code)
{
    char regency[6];
    switch (scope->kind) {
    case SCOPE_ADMIN:
        return true;
    case SCOPE_REGENCY:
        return region_regency_of(village_code, regency) &&
               strcmp(regency, scope->code) == 0;
    case SCOPE_VILLAGE:
        return strcmp(village_code, scope->code) == 0;
    }
    return false;
}

bool scope_allows_regency(const scope_t *scope, const char *regency_code)
{
    if (scope->kind == SCOPE_ADMIN)
        return true;
    return scope->kind == SCOPE_REGENCY && strcmp(scope->code, regency_code) == 0;
}

bool scope_allows_payer(const scope_t *scope, const char *payer_code)
{
    if (scope->kind == SCOPE_ADMIN)
        return true;
    if (scope->kind == SCOPE_VILLAGE)
        return strcmp(scope->code, payer_code) == 0;
    size_t n = strlen(scope->code);
    return strncmp(scope->code, payer_code, n) == 0 &&
           (payer_code[n] == '\0' || payer_code[n] == '.');
}
