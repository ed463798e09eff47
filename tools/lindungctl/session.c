/* session: one place for how lindungctl connects, so every command reads the
 * same variable and fails the same way. */
#include "session.h"
#include <stdio.h>
#include "config.h"

db_t *session_connect(void)
{
    db_t *db = db_new(config_str("LINDUNG_DB", "dbname=lindung"));
    if (!db_conn(db)) {
        fprintf(stderr, "lindungctl: cannot connect to PostgreSQL: %s\n", db_error(db));
        db_destroy(&db);
    }
    return db;
}
