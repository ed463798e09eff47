/* lindungctl: the operator's command line. Each command is a module of its
 * own; this file only reads the command line and dispatches. Every command
 * follows one convention (docs/development.md, "lindungctl commands"): it
 * checks its arguments before it connects to PostgreSQL, and exits 0 when
 * done, 1 when it failed (database, not found, refused) and 2 on a usage
 * mistake (args.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "apikey.h"
#include "audit.h"
#include "billing_cmd.h"
#include "claims.h"
#include "bpjs.h"
#include "report.h"
#include "config.h"
#include "args.h"
#include "db.h"
#include "session.h"
#include "enrolment.h"
#include "event.h"
#include "log.h"
#include "migrate.h"
#include "ops.h"
#include "program.h"
#include "zmq_cmd.h"

static const char *USAGE =
    "usage: lindungctl COMMAND [ARGS]\n"
    "\n"
    "  migrate [--dir DIR]                  apply database migrations (idempotent)\n"
    "  program import FILE.json             load or update programmes\n"
    "  program renewal CODE [--json]        the renewal of programme CODE: who was\n"
    "                                       queued, accepted or rejected and why\n"
    "  enrolment end NIK --month YYYY-MM --reason death|moved|left|lapsed|program_ended\n"
    "                                       end the enrolment covering that month\n"
    "                                       (and cancel a later one, e.g. a renewal)\n"
    "  enrolment transfer NIK --village CODE [--program CODE]\n"
    "                     [--month YYYY-MM] [--json]\n"
    "                                       end the enrolment in month M (default:\n"
    "                                       this month, Asia/Jakarta) and continue it\n"
    "                                       from M+1 there; refused: exit 1, a code\n"
    "  enrolment history NIK [--json]       every enrolment of a NIK, ended ones too\n"
    "\n";

static const char *ENVIRONMENT =
    "\n"
    "environment: LINDUNG_DB (libpq conninfo, default dbname=lindung),\n"
    "  LINDUNG_MIGRATIONS, LINDUNG_BILLING_CONTROL, LINDUNG_CTL_TIMEOUT_S,\n"
    "  LINDUNG_ZMQ_SERVER_PUBLIC_FILE, LINDUNG_ZMQ_CLIENT_SECRET_FILE (billing run),\n"
    "  LINDUNG_{INTAKE,VERIFY,BILLING}_{HOST,PORT} (for status), and for an\n"
    "  HTTPS intake LINDUNG_INTAKE_CA_FILE or LINDUNG_INTAKE_TLS_CERT_FILE\n"
    "`lindungctl COMMAND --help` shows one command's usage.\n";

static void usage(FILE *out)
{
    fputs(USAGE, out);
    apikey_usage(out);
    event_usage(out);
    billing_cmd_usage(out);
    claims_cmd_usage(out);
    bpjs_usage(out);
    report_usage(out);
    ops_usage(out);
    zmq_cmd_usage(out);
    audit_usage(out);
    fputs(ENVIRONMENT, out);
}

static const char *MIGRATE_USAGE = "usage: lindungctl migrate [--dir DIR]\n";
static const char *PROGRAM_USAGE = "usage: lindungctl program import FILE.json\n"
                                   "       lindungctl program renewal CODE [--json]\n";

/* `migrate [--dir DIR]`: checked, then connected. */
static int cmd_migrate(int argc, char **argv)
{
    const char *dir = args_value(argc, argv, "--dir");
    if (argc != (dir ? 2 : 0) || (dir && strcmp(argv[0], "--dir") != 0))
        return args_usage(MIGRATE_USAGE);
    if (!dir)
        dir = config_str("LINDUNG_MIGRATIONS", LINDUNG_SOURCE_DIR "/db/migrations");
    db_t *db = session_connect();
    if (!db)
        return ARGS_FAILED;
    int n = migrate_apply(db, dir);
    db_destroy(&db);
    if (n < 0)
        return ARGS_FAILED;
    printf("migrations: %d applied, schema current\n", n);
    return ARGS_OK;
}

/* `program import FILE` and `program renewal CODE [--json]`. */
static int cmd_program(int argc, char **argv)
{
    bool renewal = argc >= 2 && strcmp(argv[0], "renewal") == 0;
    bool import = argc >= 2 && strcmp(argv[0], "import") == 0;
    if (!renewal && !import)
        return args_usage(PROGRAM_USAGE);
    db_t *db = session_connect();
    if (!db)
        return ARGS_FAILED;
    int rc = renewal
                 ? enrolment_renewal_list(db, argv[1], args_flag(argc, argv, "--json"))
             : program_import(db, argv[1]) ? ARGS_OK
                                           : ARGS_FAILED;
    db_destroy(&db);
    return rc;
}

int main(int argc, char **argv)
{
    /* Operators read stdout; only warnings and errors go to the log. */
    setenv("LINDUNG_LOG_LEVEL", "warn", 0);
    log_init("lindungctl");
    const char *cmd = argc > 1 ? argv[1] : "";
    int rest = argc > 2 ? argc - 2 : 0;
    char **args = argv + 2;
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
        strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    bool own_help = strcmp(cmd, "billing") == 0 || strcmp(cmd, "rates") == 0 ||
                    strcmp(cmd, "claims") == 0 || strcmp(cmd, "bpjs") == 0 ||
                    strcmp(cmd, "report") == 0 || strcmp(cmd, "status") == 0 ||
                    strcmp(cmd, "submissions") == 0 || strcmp(cmd, "participants") == 0 ||
                    strcmp(cmd, "trace") == 0 || strcmp(cmd, "apikey") == 0 ||
                    strcmp(cmd, "zmq") == 0 || strcmp(cmd, "audit") == 0;
    if (!own_help && (args_flag(rest, args, "--help") || args_flag(rest, args, "-h"))) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(rest, args);
    if (strcmp(cmd, "enrolment") == 0)
        return enrolment_main(argc - 1, argv + 1);
    if (strcmp(cmd, "event") == 0)
        return event_main(argc - 1, argv + 1);
    if (strcmp(cmd, "program") == 0)
        return cmd_program(rest, args);
    if (strcmp(cmd, "apikey") == 0)
        return apikey_main(argc - 1, argv + 1);
    if (strcmp(cmd, "billing") == 0 || strcmp(cmd, "rates") == 0)
        return billing_cmd_main(argc - 1, argv + 1);
    if (strcmp(cmd, "claims") == 0)
        return claims_cmd_main(argc - 1, argv + 1);
    if (strcmp(cmd, "audit") == 0)
        return audit_main(argc - 1, argv + 1);
    if (strcmp(cmd, "bpjs") == 0)
        return bpjs_main(argc - 1, argv + 1);
    if (strcmp(cmd, "zmq") == 0)
        return zmq_cmd_main(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0)
        return report_main(argc - 1, argv + 1);
    if (strcmp(cmd, "status") == 0 || strcmp(cmd, "submissions") == 0 ||
        strcmp(cmd, "participants") == 0 || strcmp(cmd, "trace") == 0)
        return ops_main(argc - 1, argv + 1);
    usage(stderr);
    return 2;
}
