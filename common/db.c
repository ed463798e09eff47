/* db: a self-healing libpq connection. Reconnection is lazy: a caller that
 * finds the connection broken gets NULL or a failed result, and the next call
 * tries PQreset. We use unnamed statements only, so nothing has to be
 * re-prepared after a reset. Not thread-safe: one db_t per thread. */
#include "db.h"
#include <stdlib.h>
#include <string.h>
#include "log.h"

struct db_t {
    char *conninfo;
    PGconn *conn;
    char error[256];
};

static void db_remember_error(db_t *self, const char *msg)
{
    snprintf(self->error, sizeof self->error, "%s", msg ? msg : "unknown error");
    char *nl = strchr(self->error, '\n');
    if (nl)
        *nl = '\0';
}

db_t *db_new(const char *conninfo)
{
    db_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->conninfo = strdup(conninfo);
    return self;
}

void db_destroy(db_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    db_t *self = *self_p;
    if (self->conn)
        PQfinish(self->conn);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

PGconn *db_conn(db_t *self)
{
    if (self->conn && PQstatus(self->conn) == CONNECTION_OK)
        return self->conn;
    if (self->conn) {
        PQreset(self->conn);
    } else {
        self->conn = PQconnectdb(self->conninfo);
    }
    if (PQstatus(self->conn) != CONNECTION_OK) {
        db_remember_error(self, PQerrorMessage(self->conn));
        return NULL;
    }
    /* Timestamps in UTC (dates are civil dates, unaffected); NOTICEs are noise. */
    PGresult *res =
        PQexec(self->conn, "SET TIME ZONE 'UTC'; SET client_min_messages = warning");
    PQclear(res);
    log_info("db.connected");
    return self->conn;
}

PGresult *db_exec(db_t *self, const char *sql, int nparams, const char *const *params)
{
    PGconn *conn = db_conn(self);
    if (!conn)
        return NULL;
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (!db_ok(res))
        db_remember_error(self, PQresultErrorMessage(res));
    return res;
}

bool db_run(db_t *self, const char *sql, int nparams, const char *const *params)
{
    PGresult *res = db_exec(self, sql, nparams, params);
    bool ok = db_ok(res);
    PQclear(res);
    return ok;
}

bool db_ok(const PGresult *res)
{
    if (!res)
        return false;
    ExecStatusType st = PQresultStatus(res);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

const char *db_sqlstate(const PGresult *res)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

const char *db_error(db_t *self)
{
    return self->error;
}

bool db_lost(db_t *self)
{
    return !self->conn || PQstatus(self->conn) != CONNECTION_OK;
}

bool db_begin(db_t *self)
{
    return db_run(self, "BEGIN", 0, NULL);
}

bool db_commit(db_t *self)
{
    return db_run(self, "COMMIT", 0, NULL);
}

void db_rollback(db_t *self)
{
    if (self->conn && PQstatus(self->conn) == CONNECTION_OK)
        PQclear(PQexec(self->conn, "ROLLBACK"));
}
