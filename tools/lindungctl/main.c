/* lindungctl: the operator's command line. Each command is a module of its
 * own; this file only reads the command line and dispatches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include "apikey.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "period.h"
#include "program.h"

static const char *USAGE =
    "usage: lindungctl COMMAND [ARGS]\n"
    "\n"
    "  migrate [--dir DIR]                  apply database migrations (idempotent)\n"
    "  program import FILE.json             load or update programmes\n"
    "  apikey create --name NAME [--scope SCOPE]\n"
    "                                       make a key; SCOPE is admin (default),\n"
    "                                       regency:PP.RR or village:PP.RR.DD.VVVV;\n"
    "                                       prints the key alone on one line, once\n"
    "  apikey list [--json]                 list keys (never the keys themselves)\n"
    "  apikey revoke ID|PREFIX              revoke a key\n"
    "  billing run YYYY-MM                  ask lindung-billing to accrue a month\n"
    "\n"
    "environment: LINDUNG_DB (libpq conninfo, default dbname=lindung),\n"
    "  LINDUNG_MIGRATIONS, LINDUNG_BILLING_CONTROL, LINDUNG_CTL_TIMEOUT_S\n";

/* The value after `flag` in argv, or NULL. */
static const char *option(int argc, char **argv, const char *flag)
{
    for (int i = 0; i < argc - 1; i++)
        if (strcmp(argv[i], flag) == 0)
            return argv[i + 1];
    return NULL;
}

static bool has_flag(int argc, char **argv, const char *flag)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return true;
    return false;
}

static db_t *connect_db(void)
{
    db_t *db = db_new(config_str("LINDUNG_DB", "dbname=lindung"));
    if (!db_conn(db)) {
        fprintf(stderr, "lindungctl: cannot connect to PostgreSQL: %s\n", db_error(db));
        db_destroy(&db);
    }
    return db;
}

/* Send one request to billing's control socket and print the reply. */
static int billing_run(const char *month)
{
    period_t p;
    if (!month || !period_parse(month, &p)) {
        fprintf(stderr, "billing run: give the month as YYYY-MM\n");
        return 2;
    }
    long timeout_s = 0;
    char err[256];
    if (config_int("LINDUNG_CTL_TIMEOUT_S", 600, 1, 86400, &timeout_s, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    const char *endpoint = config_str("LINDUNG_BILLING_CONTROL", "tcp://127.0.0.1:5563");
    void *ctx = zmq_ctx_new();
    void *req = zmq_socket(ctx, ZMQ_REQ);
    int linger = 0;
    zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(req, endpoint);
    char body[96];
    snprintf(body, sizeof body, "{\"command\":\"run\",\"period\":\"%s\"}", month);
    zmq_send(req, body, strlen(body), 0);
    zmq_pollitem_t item = {.socket = req, .events = ZMQ_POLLIN};
    int rc = 1;
    if (zmq_poll(&item, 1, timeout_s * 1000) == 1) {
        char reply[4096];
        int n = zmq_recv(req, reply, sizeof reply - 1, 0);
        reply[n < 0 ? 0 : (n < (int)sizeof reply ? n : (int)sizeof reply - 1)] = '\0';
        printf("%s\n", reply);
        rc = strstr(reply, "\"ok\":true") ? 0 : 1;
    } else {
        fprintf(stderr, "billing run: no answer from lindung-billing at %s within %lds\n",
                endpoint, timeout_s);
    }
    zmq_close(req);
    zmq_ctx_term(ctx);
    return rc;
}

static int with_db(int (*fn)(db_t *, int, char **), int argc, char **argv)
{
    db_t *db = connect_db();
    if (!db)
        return 1;
    int rc = fn(db, argc, argv);
    db_destroy(&db);
    return rc == 0 ? 0 : 1;
}

static int cmd_migrate(db_t *db, int argc, char **argv)
{
    const char *dir = option(argc, argv, "--dir");
    if (!dir)
        dir = config_str("LINDUNG_MIGRATIONS", LINDUNG_SOURCE_DIR "/db/migrations");
    int n = migrate_apply(db, dir);
    if (n >= 0)
        printf("migrations: %d applied, schema current\n", n);
    return n < 0 ? -1 : 0;
}

static int cmd_program(db_t *db, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[0], "import") != 0) {
        fprintf(stderr, "usage: lindungctl program import FILE.json\n");
        return -1;
    }
    return program_import(db, argv[1]);
}

static int cmd_apikey(db_t *db, int argc, char **argv)
{
    const char *verb = argc > 0 ? argv[0] : "";
    if (strcmp(verb, "create") == 0) {
        const char *scope = option(argc, argv, "--scope");
        return apikey_create(db, option(argc, argv, "--name"), scope ? scope : "admin");
    }
    if (strcmp(verb, "list") == 0)
        return apikey_list(db, has_flag(argc, argv, "--json"));
    if (strcmp(verb, "revoke") == 0)
        return apikey_revoke(db, argc > 1 ? argv[1] : NULL);
    fprintf(stderr, "usage: lindungctl apikey create|list|revoke\n");
    return -1;
}

int main(int argc, char **argv)
{
    /* Operators read stdout; only warnings and errors go to the log. */
    setenv("LINDUNG_LOG_LEVEL", "warn", 0);
    log_init("lindungctl");
    const char *cmd = argc > 1 ? argv[1] : "";
    int rest = argc > 2 ? argc - 2 : 0;
    char **args = argv + 2;
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (has_flag(rest, args, "--help")) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (strcmp(cmd, "migrate") == 0)
        return with_db(cmd_migrate, rest, args);
    if (strcmp(cmd, "program") == 0)
        return with_db(cmd_program, rest, args);
    if (strcmp(cmd, "apikey") == 0)
        return with_db(cmd_apikey, rest, args);
    if (strcmp(cmd, "billing") == 0 && rest >= 1 && strcmp(args[0], "run") == 0)
        return billing_run(rest > 1 ? args[1] : NULL);
    fputs(USAGE, stderr);
    return 2;
}
