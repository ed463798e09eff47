/* zmqkeys: reading, checking and writing CURVE key files. Permissions are
 * checked on the open descriptor (fstat), not the path, so the file judged is
 * the file read. Symbolic links are followed: secret stores often mount keys
 * through them. */
#include "zmqkeys.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define ZMQKEYS_FILE_MAX                                                                 \
    128 /* a key file is 41 bytes; anything much longer is not one                       \
         */

static bool key_ok(const char *key)
{
    uint8_t raw[32];
    return strlen(key) == ZMQKEYS_LEN && zmq_z85_decode(raw, key) != NULL;
}

/* The file's bytes as a string without its final newline; -1 with err. */
static int read_small(int fd, const char *path, char *out, size_t cap, char *err,
                      size_t errcap)
{
    ssize_t n = read(fd, out, cap - 1);
    if (n < 0) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return -1;
    }
    out[n] = '\0';
    if (n > 0 && out[n - 1] == '\n')
        out[--n] = '\0';
    if (n > 0 && out[n - 1] == '\r')
        out[--n] = '\0';
    return 0;
}

/* Refuse a secret that group or others may read or write. */
static int check_mode(const struct stat *st, const char *path, zmqkeys_kind_t kind,
                      char *err, size_t errcap)
{
    if (!S_ISREG(st->st_mode)) {
        snprintf(err, errcap, "%s: not a regular file", path);
        return -1;
    }
    if (kind == ZMQKEYS_SECRET && (st->st_mode & 077) != 0) {
        snprintf(err, errcap,
                 "%s: a secret key file must be readable by its owner only "
                 "(mode %03o; run chmod 600 %s)",
                 path, (unsigned)(st->st_mode & 0777), path);
        return -1;
    }
    return 0;
}

int zmqkeys_read(const char *path, zmqkeys_kind_t kind, char out[ZMQKEYS_LEN + 1],
                 char *err, size_t errcap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    char text[ZMQKEYS_FILE_MAX];
    int rc = fstat(fd, &st) == 0 ? check_mode(&st, path, kind, err, errcap) : -1;
    if (rc == 0)
        rc = read_small(fd, path, text, sizeof text, err, errcap);
    close(fd);
    if (rc != 0)
        return -1;
    if (!key_ok(text)) {
        snprintf(err, errcap, "%s: not a CURVE key (one line of 40 Z85 characters)",
                 path);
        return -1;
    }
    memcpy(out, text, ZMQKEYS_LEN + 1);
    return 0;
}

/* NAME from "NAME.pub"; false for other file names. */
static bool pub_name(const char *file, char *name, size_t namecap)
{
    size_t len = strlen(file);
    if (len <= 4 || strcmp(file + len - 4, ".pub") != 0 || len - 4 > ZMQKEYS_NAME_MAX)
        return false;
    char stem[ZMQKEYS_NAME_MAX + 1];
    snprintf(stem, sizeof stem, "%.*s", (int)(len - 4), file);
    if (!zmqkeys_name_ok(stem))
        return false;
    if (name)
        snprintf(name, namecap, "%s", stem);
    return true;
}

/* The key in dir/file, when the file is one key that only its owner may
 * change. */
static bool read_authorized(const char *dir, const char *file, char key[ZMQKEYS_LEN + 1])
{
    char path[4096], err[256];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    struct stat st;
    if (stat(path, &st) != 0 || (st.st_mode & 022) != 0)
        return false;
    return zmqkeys_read(path, ZMQKEYS_PUBLIC, key, err, sizeof err) == 0;
}

int zmqkeys_check_dir(const char *dir, char *err, size_t errcap)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errcap, "%s: not a directory", dir);
        return -1;
    }
    if ((st.st_mode & 022) != 0) {
        snprintf(err, errcap,
                 "%s: group or others may add keys to this directory (mode %03o; run "
                 "chmod go-w %s)",
                 dir, (unsigned)(st.st_mode & 0777), dir);
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errcap, "%s: %s", dir, strerror(errno));
        return -1;
    }
    int n = 0;
    char key[ZMQKEYS_LEN + 1];
    for (struct dirent *e = readdir(d); e; e = readdir(d))
        if (pub_name(e->d_name, NULL, 0) && read_authorized(dir, e->d_name, key))
            n++;
    closedir(d);
    return n;
}

bool zmqkeys_authorized(const char *dir, const char *key, char *name, size_t namecap)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    char candidate[ZMQKEYS_LEN + 1], stem[ZMQKEYS_NAME_MAX + 1];
    for (struct dirent *e = readdir(d); e && !found; e = readdir(d))
        found = pub_name(e->d_name, stem, sizeof stem) &&
                read_authorized(dir, e->d_name, candidate) && strcmp(candidate, key) == 0;
    closedir(d);
    if (found && name)
        snprintf(name, namecap, "%s", stem);
    return found;
}

bool zmqkeys_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > ZMQKEYS_NAME_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

int zmqkeys_write(const char *path, const char *key, unsigned mode, char *err,
                  size_t errcap)
{
    /* O_EXCL: a key is never replaced by accident; the mode is set at
     * creation, so a secret is never readable by others, even briefly. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[ZMQKEYS_LEN + 2];
    int len = snprintf(line, sizeof line, "%s\n", key);
    bool ok = fchmod(fd, (mode_t)mode) == 0 && write(fd, line, (size_t)len) == len;
    ok = close(fd) == 0 && ok;
    if (!ok) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        unlink(path);
        return -1;
    }
    return 0;
}
