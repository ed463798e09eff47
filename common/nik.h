/* nik: structural checks of the Indonesian NIK (Nomor Induk Kependudukan), and
 * masking it for logs. Offline structure only: whether a NIK exists is for
 * Dukcapil or BPJS to say. Rules: docs/nik.md. */
#ifndef LINDUNG_NIK_H
#define LINDUNG_NIK_H
#include <stdbool.h>
#include <stddef.h>
#include "date.h"

#define NIK_LEN 16
#define NIK_MASKED_LEN 14 /* "1612******0001" */

typedef enum {
    NIK_OK = 0,
    NIK_ERR_LENGTH,    /* not 16 digits after removing spaces, dots, dashes */
    NIK_ERR_CHARS,     /* a character other than digits and separators */
    NIK_ERR_TEMPORARY, /* starts with 0: a village-issued temporary number */
    NIK_ERR_PROVINCE,  /* unknown province code */
    NIK_ERR_DAY,       /* day 00, 32-40 or over 71 */
    NIK_ERR_MONTH,     /* month outside 01-12 */
    NIK_ERR_DATE,      /* the date exists in neither 19YY nor 20YY */
    NIK_ERR_FUTURE,    /* the birth date is in the future in every century */
    NIK_ERR_SERIAL     /* serial 0000 */
} nik_error_t;

typedef struct {
    char digits[NIK_LEN + 1]; /* the 16 digits, NUL-terminated */
    char regency[6];          /* "PP.RR" */
    int day;                  /* day of birth, 40 already removed for women */
    int month;
    int yy;      /* two-digit year */
    bool female; /* day was encoded with +40 */
    int serial;
} nik_t;

/* Parse and check `input` against every structural rule. `today` bounds the
 * future check. On NIK_OK fills `out`. */
nik_error_t nik_parse(const char *input, date_t today, nik_t *out);

/* A stable, human-readable message for an error, e.g. "serial 0000 is not issued". */
const char *nik_error_message(nik_error_t err);

/* True when the NIK's date (DDMMYY, women +40) is the declared birth date. */
bool nik_matches_birth_date(const nik_t *nik, date_t birth);

/* True when the +40 rule agrees with the declared sex ('M' or 'F'). */
bool nik_matches_sex(const nik_t *nik, char sex);

/* Mask for logs: first 4 digits, six stars, last 4. Anything that is not a
 * 16-digit string is masked as "****". `out` holds NIK_MASKED_LEN + 1. */
void nik_mask(const char *nik, char out[NIK_MASKED_LEN + 1]);

/* Copy `s` into `out` (size `cap`), replacing every run of 12 or more digits
 * (a NIK, however separated or truncated) with its masked form. Used by the
 * logger as a last line of defence. */
void nik_mask_text(const char *s, char *out, size_t cap);

/* A new copy of `s` (caller frees) as printed: masked as nik_mask_text
 * unless `unmasked`. Sized for the worst case (a masked run, 14 characters,
 * stands for at least 12 digits). NULL when out of memory. */
char *nik_mask_text_copy(const char *s, bool unmasked);
#endif
