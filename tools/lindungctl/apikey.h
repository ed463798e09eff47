/* apikey: make, list and revoke API keys. A key is shown once, when made;
 * only its sha256 hash and a short prefix are stored. */
#ifndef LINDUNG_APIKEY_H
#define LINDUNG_APIKEY_H
#include <stdbool.h>
#include "db.h"

/* Prints the new key alone on one line. 0 on success. */
int apikey_create(db_t *db, const char *name, const char *scope);
int apikey_list(db_t *db, bool json);
/* `which` is a key id or a key prefix. */
int apikey_revoke(db_t *db, const char *which);
#endif
