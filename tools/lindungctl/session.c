/* session: one place for how lindungctl connects, so every command reads the
 * same variable and fails the same way. */
#include "session.h"
#include <stdio.h>
#include "config.h"

db_t *session_connect(void)
{
    db_t *db = db_new(config_str("LINDUNG_DB", "dbname=lindung"));
    if (!db) {
        fprintf(stderr, "lindungctl: out of memory\n");
        return NULL;
    }
    if (!db_conn(db)) {
        fprintf(stderr, "lindungctl: cannot connect to PostgreSQL: %s\n", db_error(db));
        db_destroy(&db);
    }
    return db;
}

static db_t *shared;

db_t *session_db(void)
{
    if (!shared)
        shared = session_connect();
    return shared;
}

void session_close(void)
{
    db_destroy(&shared);
}

int session_print_json(cJSON *doc)
{
    char *text = doc ? cJSON_Print(doc) : NULL;
    cJSON_Delete(doc);
    if (!text) {
        fprintf(stderr, "lindungctl: out of memory\n");
        return 1;
    }
    printf("%s\n", text);
    cJSON_free(text);
    return 0;
}
