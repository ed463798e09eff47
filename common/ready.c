/* ready: one mutex-guarded connection for readiness probes. */
#include "ready.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "bus.h"
#include "db.h"

#define READY_MAX_BUSES 4

struct ready_t {
    db_t *db;
    pthread_mutex_t lock;
    bus_t *buses[READY_MAX_BUSES];
    int n_buses;
};

/* The schema's version, and whether the server is a standby: one taken
 * without target_session_attrs=read-write in LINDUNG_DB (docs/ha.md) would
 * refuse every write. */
static const char *SQL_SCHEMA_VERSION =
    "SELECT coalesce(max(version), 0), pg_is_in_recovery() FROM schema_migrations";
enum { RS_VERSION, RS_STANDBY };

ready_t *ready_new(const char *conninfo)
{
    ready_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->db = db_new(conninfo);
    if (!self->db) {
        free(self);
        return NULL;
    }
    pthread_mutex_init(&self->lock, NULL);
    return self;
}

void ready_watch(ready_t *self, struct bus_t *bus)
{
    if (bus && self->n_buses < READY_MAX_BUSES)
        self->buses[self->n_buses++] = bus;
}

void ready_destroy(ready_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ready_t *self = *self_p;
    db_destroy(&self->db);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

bool ready_check(void *arg, char *text, size_t cap)
{
    ready_t *self = arg;
    pthread_mutex_lock(&self->lock);
    /* A read: after a PostgreSQL restart the dead session is replaced and
     * the query sent again, so the first probe after it is not a false 503. */
    PGresult *r = db_exec_read(self->db, SQL_SCHEMA_VERSION, 0, NULL);
    bool ok = db_ok(r) && PQntuples(r) == 1;
    int version = ok ? atoi(PQgetvalue(r, 0, RS_VERSION)) : 0;
    bool standby = ok && PQgetvalue(r, 0, RS_STANDBY)[0] == 't';
    char server[128];
    db_server(self->db, server, sizeof server);
    if (!ok)
        snprintf(text, cap, "database: %s", db_error(self->db));
    else if (standby)
        snprintf(text, cap,
                 "database server %s is a standby (read-only): LINDUNG_DB needs "
                 "target_session_attrs=read-write",
                 server);
    else if (version < LINDUNG_SCHEMA_VERSION)
        snprintf(text, cap,
                 "schema at version %d, this build needs %d: run lindungctl migrate",
                 version, LINDUNG_SCHEMA_VERSION);
    PQclear(r);
    ok = ok && !standby && version >= LINDUNG_SCHEMA_VERSION;
    for (int i = 0; ok && i < self->n_buses; i++)
        ok = bus_ready(self->buses[i], text, cap);
    if (ok)
        snprintf(text, cap, "%s", server);
    pthread_mutex_unlock(&self->lock);
    return ok;
}
