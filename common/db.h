/* db: one PostgreSQL connection that reconnects by itself, and small helpers
 * around PQexecParams. Not a pool: each thread or loop owns its own db_t.
 * SQL lives next to the code that runs it, as named constants. */
#ifndef LINDUNG_DB_H
#define LINDUNG_DB_H
#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>
#include "metrics.h"

typedef struct db_t db_t;

/* NULL when out of memory; connects on first use, not here. */
db_t *db_new(const char *conninfo);
void db_destroy(db_t **self_p);

/* The connection string it was made with (for a second session to the same
 * database). */
const char *db_conninfo(const db_t *self);

/* Wait at most `ms` for each statement's answer (0, the default: as long
 * as it takes). Past it the session is closed and the call fails as if the
 * connection was lost (db_lost), with db_timed_out true: the statement may
 * still have done its work, as with any lost answer. For request handlers
 * whose clients wait (intake); a COMMIT waiting for a synchronous standby
 * that is gone would otherwise hold the thread until the standby returns. */
void db_set_answer_timeout(db_t *self, int ms);
bool db_timed_out(const db_t *self);
/* While pinned, a lost session is an error for every call, reads and BEGIN
 * included, rather than replaced by a new one: for a caller whose session
 * holds state, such as a session-level advisory lock, which a new session
 * would not have. */
void db_pin(db_t *self, bool pinned);
/* The server ("host:port") of this db_t's session, "none" without one. */
const char *db_server(const db_t *self, char *out, size_t cap);
/* Count every db_t's sessions in `metrics` from now on (lindung_db_*:
 * sessions made, refused, the server reached, time without one; docs/ha.md).
 * Once per process, before the threads start. */
void db_observe(metrics_t *metrics);
/* The live connection, reconnecting first if it was lost; NULL while
 * PostgreSQL is unreachable (try again later). */
PGconn *db_conn(db_t *self);

/* Run one statement with text parameters. Returns the result (caller clears it)
 * or NULL when there was no connection. Check it with db_ok(). Never sent
 * twice: a write whose answer was lost may still have committed. */
PGresult *db_exec(db_t *self, const char *sql, int nparams, const char *const *params);

/* The same for a statement without side effects: when the session turns out
 * dead (PostgreSQL restarted) and no transaction was open, it is sent again
 * on a new session. Never for a SELECT that calls a function that writes. */
PGresult *db_exec_read(db_t *self, const char *sql, int nparams,
                       const char *const *params);

/* Run a statement whose result is not needed; true on success. */
bool db_run(db_t *self, const char *sql, int nparams, const char *const *params);

bool db_ok(const PGresult *res);
/* The SQLSTATE of a failed result ("" when none): 23505 unique, 40P01 deadlock... */
const char *db_sqlstate(const PGresult *res);
/* The last error message of the connection, one line. */
const char *db_error(db_t *self);
/* True when a failure was the connection's, not the statement's. */
bool db_lost(db_t *self);

bool db_begin(db_t *self);
bool db_commit(db_t *self);
void db_rollback(db_t *self);
#endif
