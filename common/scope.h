/* scope: what an API key may touch: "admin", "regency:PP.RR" or
 * "village:PP.RR.DD.VVVV". Parsing and the inside/outside question only;
 * looking keys up is intake's job, making them lindungctl's. */
#ifndef LINDUNG_SCOPE_H
#define LINDUNG_SCOPE_H
#include <stdbool.h>

typedef enum { SCOPE_ADMIN = 1, SCOPE_REGENCY, SCOPE_VILLAGE } scope_kind_t;

typedef struct {
    scope_kind_t kind;
    char code[16]; /* the regency or village code; "" for admin */
} scope_t;

/* False when `text` is not one of the three forms. */
bool scope_parse(const char *text, scope_t *out);
void scope_format(const scope_t *scope, char out[32]);
/* May this scope act for the village? */
bool scope_allows_village(const scope_t *scope, const char *village_code);
/* May this scope act for a whole regency (regency-level programmes, lists)? */
bool scope_allows_regency(const scope_t *scope, const char *regency_code);
/* May this scope see a payer's documents (invoices, credit notes)? A payer
 * code is a village's or a regency's: a village key sees its own village's,
 * a regency key its own and every village's in it, admin all. */
bool scope_allows_payer(const scope_t *scope, const char *payer_code);
#endif
