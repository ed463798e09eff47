/* region: syntax and kind of Kemendagri region codes
 * (PP, PP.RR, PP.RR.DD, PP.RR.DD.VVVV). Whether a code exists is the regions
 * table's business, not this file's. */
#include "region.h"

#include <string.h>

/* Digits per dot-separated part, from province down to village. */
static const int part_widths[] = {2, 2, 2, 4};
#define MAX_PARTS 4

static bool digits_only(const char *s, int n)
{
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

region_level_t region_level(const char *code)
{
    if (!code)
        return REGION_INVALID;
    const char *p = code;
    for (int part = 0; part < MAX_PARTS; part++) {
        int width = part_widths[part];
        if ((int)strnlen(p, (size_t)width) < width || !digits_only(p, width))
            return REGION_INVALID;
        p += width;
        if (*p == '\0')
            return (region_level_t)(REGION_PROVINCE + part);
        if (*p != '.')
            return REGION_INVALID;
        p++;
    }
    return REGION_INVALID;
}

village_kind_t region_village_kind(const char *code)
{
    if (region_level(code) != REGION_VILLAGE)
        return VILLAGE_UNKNOWN;
    /* "PP.RR.DD." is 9 bytes; the village part's first digit is the kind. */
    switch (code[9]) {
    case '1':
        return VILLAGE_KELURAHAN;
    case '2':
        return VILLAGE_DESA;
    case '3':
        return VILLAGE_DESA_ADAT;
    default:
        return VILLAGE_UNKNOWN;
    }
}

bool region_is_desa(const char *code)
{
    village_kind_t kind = region_village_kind(code);
    return kind == VILLAGE_DESA || kind == VILLAGE_DESA_ADAT;
}

bool region_regency_of(const char *code, char out[6])
{
    region_level_t level = region_level(code);
    if (level == REGION_INVALID || level == REGION_PROVINCE) {
        out[0] = '\0';
        return false;
    }
    memcpy(out, code, 5);
    out[5] = '\0';
    return true;
}
