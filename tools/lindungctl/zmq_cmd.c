/* zmq_cmd: makes CURVE key pairs as files (zmqkeys.h) in one directory:
 *
 *   DIR/server.secret, server.pub      intake and billing (the servers)
 *   DIR/NAME.secret, NAME.pub          one pair per client (verify, lindungctl)
 *   DIR/authorized/NAME.pub            the clients the servers let in
 *
 * Whatever exists is kept, so running it again is harmless and adds only
 * what is missing. A client's public key is copied into authorized/ only
 * when its pair is made: removing authorized/NAME.pub revokes that client,
 * and a later keygen does not bring it back. Secrets are created 0600. */
#include "zmq_cmd.h"
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>
#include "zmqkeys.h"

#define ZMQ_CMD_MAX_CLIENTS 32

static const char *USAGE =
    "usage: lindungctl zmq keygen DIR [--client NAME]...\n"
    "                                       CURVE keys for ZeroMQ: a server pair\n"
    "                                       and one pair per client (default:\n"
    "                                       verify and lindungctl), clients\n"
    "                                       authorized in DIR/authorized; existing\n"
    "                                       files are kept\n";

void zmq_cmd_usage(FILE *out)
{
    fputs(USAGE, out);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return 0;
    fprintf(stderr, "zmq keygen: %s: %s\n", path, strerror(errno));
    return -1;
}

/* Make DIR/NAME.secret and DIR/NAME.pub unless both exist: 1 made, 0 kept,
 * -1 on error (also when only one of the two exists: which key is right
 * cannot be told). The public key goes to pub. */
static int make_pair(const char *dir, const char *name, char pub[ZMQKEYS_LEN + 1])
{
    char secret_path[PATH_MAX + 96], pub_path[PATH_MAX + 96], err[PATH_MAX + 160];
    snprintf(secret_path, sizeof secret_path, "%s/%s.secret", dir, name);
    snprintf(pub_path, sizeof pub_path, "%s/%s.pub", dir, name);
    bool has_secret = exists(secret_path), has_pub = exists(pub_path);
    if (has_secret && has_pub)
        return 0;
    if (has_secret || has_pub) {
        fprintf(stderr,
                "zmq keygen: %s exists without %s; remove it or restore the other\n",
                has_secret ? secret_path : pub_path, has_secret ? pub_path : secret_path);
        return -1;
    }
    char secret[ZMQKEYS_LEN + 1];
    if (zmq_curve_keypair(pub, secret) != 0) {
        fprintf(stderr, "zmq keygen: %s\n", zmq_strerror(zmq_errno()));
        return -1;
    }
    int rc = zmqkeys_write(secret_path, secret, 0600, err, sizeof err);
    explicit_bzero(secret, sizeof secret);
    if (rc == 0 && zmqkeys_write(pub_path, pub, 0644, err, sizeof err) != 0) {
        unlink(secret_path);
        rc = -1;
    }
    if (rc != 0)
        fprintf(stderr, "zmq keygen: %s\n", err);
    return rc == 0 ? 1 : -1;
}

/* A client's pair, authorized when it is new. */
static int make_client(const char *dir, const char *name)
{
    char pub[ZMQKEYS_LEN + 1], path[PATH_MAX + 96], err[PATH_MAX + 160];
    int made = make_pair(dir, name, pub);
    if (made < 0)
        return -1;
    if (made == 0) {
        printf("client %-12s %s/%s.secret kept\n", name, dir, name);
        return 0;
    }
    snprintf(path, sizeof path, "%s/authorized/%s.pub", dir, name);
    if (zmqkeys_write(path, pub, 0644, err, sizeof err) != 0) {
        fprintf(stderr, "zmq keygen: %s\n", err);
        return -1;
    }
    printf("client %-12s %s/%s.secret made, authorized in %s/authorized\n", name, dir,
           name, dir);
    return 0;
}

static void print_settings(const char *dir)
{
    printf("\nsettings (docs/operations.md, \"ZeroMQ security\"):\n"
           "  intake, billing:  LINDUNG_ZMQ_SERVER_SECRET_FILE=%s/server.secret\n"
           "                    LINDUNG_ZMQ_AUTHORIZED_KEYS_DIR=%s/authorized\n"
           "  each client:      LINDUNG_ZMQ_SERVER_PUBLIC_FILE=%s/server.pub\n"
           "                    LINDUNG_ZMQ_CLIENT_SECRET_FILE=%s/NAME.secret\n",
           dir, dir, dir, dir);
}

/* The client names: every --client NAME, else verify and lindungctl. */
static int client_names(int argc, char **argv, const char **names)
{
    int n = 0;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--client") != 0 || i + 1 >= argc) {
            fprintf(stderr, "zmq keygen: unexpected argument %s\n%s", argv[i], USAGE);
            return -1;
        }
        const char *name = argv[++i];
        if (!zmqkeys_name_ok(name) || strcmp(name, "server") == 0 ||
            n == ZMQ_CMD_MAX_CLIENTS) {
            fprintf(stderr,
                    "zmq keygen: a client name is 1-64 of A-Z a-z 0-9 . _ - (not "
                    "\"server\", not starting with '.'; at most %d), got \"%s\"\n",
                    ZMQ_CMD_MAX_CLIENTS, name);
            return -1;
        }
        names[n++] = name;
    }
    if (n == 0) {
        names[n++] = "verify";
        names[n++] = "lindungctl";
    }
    return n;
}

static int keygen(int argc, char **argv)
{
    const char *names[ZMQ_CMD_MAX_CLIENTS];
    if (argc < 3 || strncmp(argv[2], "--", 2) == 0) {
        fputs(USAGE, stderr);
        return 2;
    }
    int n = client_names(argc, argv, names);
    if (n < 0)
        return 2;
    char dir[PATH_MAX], sub[PATH_MAX + 16];
    if (make_dir(argv[2]) != 0 || !realpath(argv[2], dir))
        return 1;
    snprintf(sub, sizeof sub, "%s/authorized", dir);
    if (make_dir(sub) != 0)
        return 1;
    char pub[ZMQKEYS_LEN + 1];
    int made = make_pair(dir, "server", pub);
    if (made < 0)
        return 1;
    printf("server              %s/server.secret %s\n", dir, made ? "made" : "kept");
    for (int i = 0; i < n; i++)
        if (make_client(dir, names[i]) != 0)
            return 1;
    print_settings(dir);
    return 0;
}

int zmq_cmd_main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return 0;
        }
    if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
        return keygen(argc, argv);
    fputs(USAGE, stderr);
    return 2;
}
