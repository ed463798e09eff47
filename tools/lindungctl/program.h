/* program: import programmes from a JSON file (docs/programs.md). A changed
 * programme gets a new version; the rules of every version are kept, so a
 * decision records the rules it was made under. */
#ifndef LINDUNG_PROGRAM_H
#define LINDUNG_PROGRAM_H
#include "db.h"

/* 0 when every programme in the file was loaded (all or none); -1 otherwise,
 * with each problem on stderr. */
int program_import(db_t *db, const char *path);
#endif
