/* db: a self-healing libpq connection. Reconnection is lazy: a caller that
 * finds the connection broken gets NULL or a failed result, and the next call
 * tries PQreset.
 *
 * Every SQL text is prepared once per connection and then executed by name,
 * because planning the set-based statements costs more than running them.
 * Callers pass SQL as static constants, so the text's address names it; a
 * reconnect starts a new generation and statements are prepared again (the
 * server forgets them with the old session). Not thread-safe: one db_t per
 * thread. */
#define _GNU_SOURCE /* program_invocation_short_name */
#include "db.h"
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "log.h"
#include "metrics.h"

#define DB_MAX_PREPARED 128

typedef struct {
    const char *sql; /* the constant's address identifies it ... */
    char *text;      /* ... and its text confirms it, should an address be reused */
    unsigned generation;
} prepared_t;

struct db_t {
    char *conninfo;
    PGconn *conn;
    char error[256];
    unsigned generation; /* bumped on every (re)connection */
    bool broken;         /* a statement failed for connection reasons: reset */
    bool pinned;         /* the session holds state (a lock): never replace it */
    bool timed_out;      /* the last statement had no answer in time */
    int answer_ms;       /* how long to wait for a statement's answer; 0: forever */
    prepared_t prepared[DB_MAX_PREPARED];
    int n_prepared;
};

/* What every db_t of the process saw, for operators following a failover
 * (docs/ha.md): which server the newest session reached, how often sessions
 * were made and refused, and since when no server would take one. One
 * record per process, because the question is the daemon's, not a
 * thread's; NULL metrics until db_observe. */
static struct {
    pthread_mutex_t lock;
    metrics_t *metrics;
    char server[128];  /* "host:port" of the newest session; "" before one */
    time_t down_since; /* first refused connection of an outage; 0: none */
} seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

void db_observe(metrics_t *metrics)
{
    if (!metrics)
        return;
    pthread_mutex_lock(&seen.lock);
    seen.metrics = metrics;
    /* present at 0 from the start, so that alerts see the first change */
    metrics_counter_add(metrics, "lindung_db_connections_total",
                        "Database sessions made, first ones and reconnections.", NULL, 0);
    metrics_counter_add(metrics, "lindung_db_connect_failures_total",
                        "Attempts to make a database session that no server took "
                        "(none reachable, or none accepting writes).",
                        NULL, 0);
    metrics_counter_add(metrics, "lindung_db_unavailable_seconds_total",
                        "Time from a refused connection to the next session made, "
                        "summed over the outages that ended.",
                        NULL, 0);
    metrics_gauge_set(metrics, "lindung_db_unavailable_since_seconds",
                      "Unix time of the first refused connection of the outage going on; "
                      "0 while sessions are made.",
                      NULL, 0);
    pthread_mutex_unlock(&seen.lock);
}

static void seen_connected(const PGconn *conn)
{
    char server[128];
    snprintf(server, sizeof server, "%s:%s", PQhost(conn), PQport(conn));
    pthread_mutex_lock(&seen.lock);
    metrics_t *m = seen.metrics;
    if (m && strcmp(server, seen.server) != 0) {
        char label[160];
        char esc[140];
        if (seen.server[0]) {
            metrics_escape_label(seen.server, esc, sizeof esc);
            snprintf(label, sizeof label, "server=\"%s\"", esc);
            metrics_gauge_set(m, "lindung_db_server", NULL, label, 0);
        }
        metrics_escape_label(server, esc, sizeof esc);
        snprintf(label, sizeof label, "server=\"%s\"", esc);
        metrics_gauge_set(m, "lindung_db_server",
                          "1 for the database server (host:port) of the newest session.",
                          label, 1);
    }
    snprintf(seen.server, sizeof seen.server, "%s", server);
    if (m)
        metrics_counter_add(m, "lindung_db_connections_total", NULL, NULL, 1);
    if (seen.down_since && m) {
        metrics_counter_add(m, "lindung_db_unavailable_seconds_total", NULL, NULL,
                            (double)(time(NULL) - seen.down_since));
        metrics_gauge_set(m, "lindung_db_unavailable_since_seconds", NULL, NULL, 0);
    }
    seen.down_since = 0;
    pthread_mutex_unlock(&seen.lock);
}

static void seen_refused(void)
{
    pthread_mutex_lock(&seen.lock);
    if (!seen.down_since) {
        seen.down_since = time(NULL);
        if (seen.metrics)
            metrics_gauge_set(seen.metrics, "lindung_db_unavailable_since_seconds", NULL,
                              NULL, (double)seen.down_since);
    }
    if (seen.metrics)
        metrics_counter_add(seen.metrics, "lindung_db_connect_failures_total", NULL, NULL,
                            1);
    pthread_mutex_unlock(&seen.lock);
}

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
    if (!self->conninfo) {
        free(self);
        return NULL;
    }
    return self;
}

void db_destroy(db_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    db_t *self = *self_p;
    if (self->conn)
        PQfinish(self->conn);
    for (int i = 0; i < self->n_prepared; i++)
        free(self->prepared[i].text);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

const char *db_conninfo(const db_t *self)
{
    return self->conninfo;
}

void db_set_answer_timeout(db_t *self, int ms)
{
    self->answer_ms = ms > 0 ? ms : 0;
}

bool db_timed_out(const db_t *self)
{
    return self->timed_out;
}

void db_pin(db_t *self, bool pinned)
{
    self->pinned = pinned;
}

const char *db_server(const db_t *self, char *out, size_t cap)
{
    if (!self->conn || PQstatus(self->conn) != CONNECTION_OK)
        snprintf(out, cap, "none");
    else
        snprintf(out, cap, "%s:%s", PQhost(self->conn), PQport(self->conn));
    return out;
}

/* A session says which program holds it, in pg_stat_activity and in the
 * server's log (%a): the binary's own name, lindung-intake, lindung-verify,
 * lindung-billing or lindungctl, so an operator tells the daemons' sessions
 * apart even where they log in as one user. Only a fallback: an
 * application_name in the conninfo, or PGAPPNAME, wins. The conninfo is
 * expanded as libpq's "dbname" (a connection string or URI), so everything
 * it says still applies; PQreset reconnects with the same settings.
 *
 * The settings before "dbname" are defaults the conninfo may override. They
 * bound how long a session can hang on a database host that vanished (a
 * failover, docs/ha.md) rather than refused: 5 s to connect to each host of
 * a multi-host list, a dead peer noticed by TCP keepalives within about
 * 25 s, and sent data unacknowledged for 30 s ends the session. They apply
 * to TCP only; a local socket ignores them. */
static PGconn *db_connect(const char *conninfo)
{
    const char *const keys[] = {"connect_timeout",           "keepalives_idle",
                                "keepalives_interval",       "keepalives_count",
                                "tcp_user_timeout",          "dbname",
                                "fallback_application_name", NULL};
    const char *const values[] = {
        "5", "10", "5", "3", "30000", conninfo, program_invocation_short_name, NULL};
    return PQconnectdbParams(keys, values, 1);
}

PGconn *db_conn(db_t *self)
{
    if (self->conn && PQstatus(self->conn) == CONNECTION_OK && !self->broken)
        return self->conn;
    if (self->pinned) {
        db_remember_error(self,
                          "the database session was lost, and what it held (a lock) "
                          "with it; nothing more was done on a new one");
        return NULL;
    }
    self->broken = false;
    if (self->conn) {
        PQreset(self->conn);
    } else {
        self->conn = db_connect(self->conninfo);
    }
    if (PQstatus(self->conn) != CONNECTION_OK) {
        db_remember_error(self, PQerrorMessage(self->conn));
        seen_refused();
        return NULL;
    }
    /* Timestamps in UTC (dates are civil dates, unaffected); NOTICEs are noise. */
    PGresult *res =
        PQexec(self->conn, "SET TIME ZONE 'UTC'; SET client_min_messages = warning");
    PQclear(res);
    self->generation++;
    seen_connected(self->conn);
    log_info("db.connected", "server", PQhost(self->conn), "port", PQport(self->conn));
    return self->conn;
}

/* The statement name for `sql`, preparing it on this connection if needed;
 * NULL when the cache is full or preparing failed (then run it unnamed). */
static const char *db_statement(db_t *self, const char *sql, int nparams, char name[32])
{
    int slot = -1;
    for (int i = 0; i < self->n_prepared && slot < 0; i++)
        if (self->prepared[i].sql == sql)
            slot = i;
    if (slot >= 0 && strcmp(self->prepared[slot].text, sql) != 0)
        return NULL; /* a buffer, not a constant: never cache it */
    if (slot < 0 && self->n_prepared == DB_MAX_PREPARED)
        return NULL;
    if (slot < 0) {
        char *text = strdup(sql);
        if (!text)
            return NULL;
        slot = self->n_prepared++;
        self->prepared[slot] = (prepared_t){.sql = sql, .text = text, .generation = 0};
    }
    snprintf(name, 32, "lindung_%d", slot);
    if (self->prepared[slot].generation == self->generation)
        return name;
    PGresult *res = PQprepare(self->conn, name, sql, nparams, NULL);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok)
        return NULL;
    self->prepared[slot].generation = self->generation;
    return name;
}

/* A failure that says the session is gone, whatever PQstatus still claims:
 * after a server shutdown libpq may only learn it from the error. A session
 * on a server that no longer takes writes (25006: a primary demoted to a
 * standby under it) is as good as gone: the next one goes to whichever
 * server is primary now (target_session_attrs=read-write, docs/ha.md). */
static bool db_failure_is_connection(const PGconn *conn, const PGresult *res)
{
    if (PQstatus(conn) != CONNECTION_OK || !res)
        return true;
    /* Errors from the server always carry a SQLSTATE; one without is libpq's
     * own, such as "server closed the connection unexpectedly". */
    const char *state = db_sqlstate(res);
    return state[0] == '\0' || strncmp(state, "08", 2) == 0 ||
           strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 ||
           strcmp(state, "57P03") == 0 || strcmp(state, "25006") == 0;
}

/* The answer to a statement sent with PQsend*, waiting at most answer_ms.
 * No answer in time: the session is closed and NULL returned. Closing it,
 * not cancelling the statement, is deliberate: a COMMIT waiting for a
 * synchronous standby that a cancel interrupts is reported as committed
 * anyway (docs/ha.md), so the caller must hear "outcome unknown". */
static PGresult *db_wait_answer(db_t *self, PGconn *conn)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (self->answer_ms > 0 && PQisBusy(conn)) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long spent =
            (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= self->answer_ms) {
            self->timed_out = true;
            db_remember_error(self,
                              "no answer from the database in time; the session was "
                              "closed, and what it was doing may have completed");
            PQfinish(self->conn);
            self->conn = NULL;
            return NULL;
        }
        struct pollfd p = {.fd = PQsocket(conn), .events = POLLIN};
        if (poll(&p, 1, (int)(self->answer_ms - spent)) < 0 && errno != EINTR)
            break;
        if (!PQconsumeInput(conn))
            break;
    }
    PGresult *last = NULL;
    for (PGresult *r; (r = PQgetResult(conn)) != NULL;) {
        PQclear(last);
        last = r;
    }
    return last;
}

static PGresult *db_exec_once(db_t *self, PGconn *conn, const char *sql, int nparams,
                              const char *const *params)
{
    char name[32];
    bool in_failed_tx = PQtransactionStatus(conn) == PQTRANS_INERROR;
    const char *stmt = in_failed_tx ? NULL : db_statement(self, sql, nparams, name);
    self->timed_out = false;
    if (self->answer_ms == 0)
        return stmt ? PQexecPrepared(conn, stmt, nparams, params, NULL, NULL, 0)
                    : PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    int sent = stmt ? PQsendQueryPrepared(conn, stmt, nparams, params, NULL, NULL, 0)
                    : PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    return sent ? db_wait_answer(self, conn) : NULL;
}

/* Run once; on a lost session, and only when `retry` and no transaction was
 * open, run again on a new session. */
static PGresult *db_exec_mode(db_t *self, const char *sql, int nparams,
                              const char *const *params, bool retry)
{
    PGconn *conn = db_conn(self);
    if (!conn)
        return NULL;
    bool idle = PQtransactionStatus(conn) == PQTRANS_IDLE;
    PGresult *res = db_exec_once(self, conn, sql, nparams, params);
    if (self->timed_out)
        return NULL; /* never sent again: it may have done its work */
    if (!db_ok(res) && db_failure_is_connection(conn, res)) {
        db_remember_error(self, PQresultErrorMessage(res));
        self->broken = true;
        PQclear(res);
        conn = retry && idle ? db_conn(self) : NULL;
        if (!conn)
            return NULL;
        res = db_exec_once(self, conn, sql, nparams, params);
        if (self->timed_out)
            return NULL;
        if (!db_ok(res) && db_failure_is_connection(conn, res))
            self->broken = true;
    }
    if (!db_ok(res))
        db_remember_error(self, PQresultErrorMessage(res));
    return res;
}

/* Never sent twice: a write whose answer was lost may have committed. */
PGresult *db_exec(db_t *self, const char *sql, int nparams, const char *const *params)
{
    return db_exec_mode(self, sql, nparams, params, false);
}

/* A statement without side effects may simply be sent again on a new
 * session when the old one turns out dead (after a PostgreSQL restart). */
PGresult *db_exec_read(db_t *self, const char *sql, int nparams,
                       const char *const *params)
{
    return db_exec_mode(self, sql, nparams, params, true);
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
    return !self->conn || self->broken || PQstatus(self->conn) != CONNECTION_OK;
}

bool db_begin(db_t *self)
{
    /* BEGIN changes nothing, so it heals a dead session like a read. */
    PGresult *res = db_exec_read(self, "BEGIN", 0, NULL);
    bool ok = db_ok(res);
    PQclear(res);
    return ok;
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
