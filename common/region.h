/* region: Kemendagri region codes (PP, PP.RR, PP.RR.DD, PP.RR.DD.VVVV).
 * Syntax and kind only; which codes exist lives in the regions table. */
#ifndef LINDUNG_REGION_H
#define LINDUNG_REGION_H
#include <stdbool.h>

typedef enum {
    REGION_INVALID = 0,
    REGION_PROVINCE,
    REGION_REGENCY,
    REGION_DISTRICT,
    REGION_VILLAGE
} region_level_t;

typedef enum {
    VILLAGE_UNKNOWN = 0,
    VILLAGE_KELURAHAN, /* last part starts with 1: no ADD */
    VILLAGE_DESA,      /* starts with 2 */
    VILLAGE_DESA_ADAT  /* starts with 3: a customary desa, receives ADD */
} village_kind_t;

region_level_t region_level(const char *code); /* REGION_INVALID if malformed */
village_kind_t region_village_kind(const char *code);
bool region_is_desa(const char *code); /* desa or desa adat */
/* Copy the "PP.RR" prefix of a regency, district or village code. */
bool region_regency_of(const char *code, char out[6]);
#endif
