/* ops_internal: what the ops command files (ops.c, ops_status.c, ops_trace.c)
 * share: parsed options, the database connection, output helpers that mask
 * NIKs. Not part of lindungctl's interface to other commands (that is ops.h). */
#ifndef LINDUNG_OPS_INTERNAL_H
#define LINDUNG_OPS_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "args.h"
#include "db.h"
#include "money.h" /* money_format_rp: "Rp 1,234,500" */
#include "pgjson.h"

/* Exit codes of every ops command: lindungctl's (args.h). */
#define OPS_OK ARGS_OK
#define OPS_FAILED ARGS_FAILED /* database unreachable, not found, something unready */
#define OPS_USAGE ARGS_USAGE

#define OPS_MAX_POSITIONAL 4

typedef struct {
    bool json, unmasked, help;
    const char *village, *program, *status, *limit;
    const char *positional[OPS_MAX_POSITIONAL];
    int npositional;
} ops_args_t;

/* Timestamps leave PostgreSQL as UTC ISO-8601 with milliseconds, whatever the
 * session's TimeZone, so they sort as text and the "Z" is true: each SELECT
 * of ops spells out to_char((col) AT TIME ZONE 'UTC',
 * 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'). */

/* A connection to LINDUNG_DB, or NULL with a message on stderr. */
db_t *ops_connect(const char *command);

/* Pretty-print doc on stdout and free it: OPS_OK, or OPS_FAILED when doc
 * is NULL (out of memory) or cannot be printed (session_print_json). */
int ops_print_json(cJSON *doc);

/* A NIK for output: masked ("1612******0001") unless args->unmasked. */
void ops_nik(const ops_args_t *args, const char *nik, char *out, size_t cap);
/* Free text for output (names, references, request ids, messages): any
 * NIK-like digit run inside it is masked unless args->unmasked. */
void ops_text(const ops_args_t *args, const char *text, char *out, size_t cap);

/* "2h 05m", "3m 12s", "41s" */
void ops_age(double seconds, char *out, size_t cap);

/* "" for SQL NULL, so text output never prints "(null)". */
const char *ops_val(const PGresult *r, int row, int col);

/* A free-text column as a JSON field, masked as ops_text does; null for SQL
 * NULL. False when out of memory. */
bool ops_add_text(const ops_args_t *args, cJSON *obj, const char *key, const PGresult *r,
                  int row, int col);

int ops_status(const ops_args_t *args);
int ops_trace(const ops_args_t *args);
#endif
