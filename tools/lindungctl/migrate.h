/* migrate: apply db/migrations in order, once each, tracked in
 * schema_migrations. Not a down-migration tool: fixes go forward. */
#ifndef LINDUNG_MIGRATE_H
#define LINDUNG_MIGRATE_H
#include "db.h"

/* Apply every migration in `dir` not yet applied. Returns how many were
 * applied, or -1 with a message on stderr. */
int migrate_apply(db_t *db, const char *dir);
#endif
