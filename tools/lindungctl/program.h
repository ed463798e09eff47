/* program: import programmes from a JSON file (docs/programs.md). A changed
 * programme gets a new version; the rules of every version are kept, so a
 * decision records the rules it was made under. */
#ifndef LINDUNG_PROGRAM_H
#define LINDUNG_PROGRAM_H
#include <stdbool.h>
#include "db.h"

/* True when every programme in the file was loaded (all or none); false
 * otherwise, with each problem on stderr. */
bool program_import(db_t *db, const char *path);
#endif
