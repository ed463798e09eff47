/* apikey: `lindungctl apikey create|list|revoke`: make, list and revoke API
 * keys. A key is shown once, when made; only its sha256 hash and a short
 * prefix are stored. A key is named by its id (a UUID), never by its
 * prefix: two keys may share a prefix. */
#ifndef LINDUNG_APIKEY_H
#define LINDUNG_APIKEY_H
#include <stdio.h>

/* argv[0] is "apikey". Returns the process exit code: 0 done, 1 failed (no
 * such key, database unreachable), 2 bad usage (also an id that is not a
 * whole key id, and an --expires already past). */
int apikey_main(int argc, char **argv);

/* The apikey command's lines for lindungctl's usage text. */
void apikey_usage(FILE *out);
#endif
