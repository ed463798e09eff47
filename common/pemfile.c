/* pemfile: reading certificate and key files. The file is checked on the
 * open descriptor (fstat), not the path, so the file judged is the file
 * read; symbolic links are followed (certificates are often reached through
 * them, as in /etc/letsencrypt/live). Whatever held key bytes is wiped
 * before it is freed. */
#include "pemfile.h"
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BEGIN "-----BEGIN "
#define DASHES "-----"

static const char *const key_labels[] = {"PRIVATE KEY", "RSA PRIVATE KEY",
                                         "EC PRIVATE KEY"};

static void wipe_free(char *buf, size_t len)
{
    if (!buf)
        return;
    explicit_bzero(buf, len);
    free(buf);
}

static bool label_is(const char *label, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(label, want, len) == 0;
}

static bool label_fits(pemfile_kind_t kind, const char *label, size_t len)
{
    if (kind == PEMFILE_CERTIFICATE)
        return label_is(label, len, "CERTIFICATE");
    for (size_t i = 0; i < sizeof key_labels / sizeof key_labels[0]; i++)
        if (label_is(label, len, key_labels[i]))
            return true;
    return false;
}

/* Whether text holds a "-----BEGIN LABEL-----" line of the kind wanted. */
static bool has_block(const char *text, pemfile_kind_t kind)
{
    for (const char *p = strstr(text, BEGIN); p; p = strstr(p + 1, BEGIN)) {
        const char *label = p + strlen(BEGIN);
        const char *end = strstr(label, DASHES);
        if (end && label_fits(kind, label, (size_t)(end - label)))
            return true;
    }
    return false;
}

static int check_file(const struct stat *st, const char *path, pemfile_kind_t kind,
                      char *err, size_t errcap)
{
    if (!S_ISREG(st->st_mode)) {
        snprintf(err, errcap, "%s: not a regular file", path);
        return -1;
    }
    if (st->st_size > PEMFILE_MAX) {
        snprintf(err, errcap, "%s: larger than %d bytes, so not a certificate or key",
                 path, PEMFILE_MAX);
        return -1;
    }
    if (kind == PEMFILE_PRIVATE_KEY && (st->st_mode & 007) != 0) {
        snprintf(err, errcap,
                 "%s: a private key file must not be open to others "
                 "(mode %03o; run chmod o-rwx %s)",
                 path, (unsigned)(st->st_mode & 0777), path);
        return -1;
    }
    return 0;
}

/* The whole file, NUL-terminated, into *out; -1 with err. */
static int read_all(int fd, const char *path, char **out, char *err, size_t errcap)
{
    char *buf = malloc(PEMFILE_MAX + 2);
    size_t len = 0;
    ssize_t n = 1;
    while (buf && n > 0 && len <= PEMFILE_MAX) {
        n = read(fd, buf + len, PEMFILE_MAX + 1 - len);
        if (n > 0)
            len += (size_t)n;
        else if (n < 0 && errno == EINTR)
            n = 1;
    }
    if (!buf || n < 0) {
        snprintf(err, errcap, "%s: %s", path, strerror(buf ? errno : ENOMEM));
        wipe_free(buf, len);
        return -1;
    }
    buf[len] = '\0';
    if (len > PEMFILE_MAX || strlen(buf) != len) {
        snprintf(err, errcap, "%s: %s", path,
                 len > PEMFILE_MAX ? "grew past the size limit while being read"
                                   : "holds a NUL byte, so it is not PEM text");
        wipe_free(buf, len);
        return -1;
    }
    *out = buf;
    return 0;
}

static int check_text(const char *text, const char *path, pemfile_kind_t kind, char *err,
                      size_t errcap)
{
    if (has_block(text, kind))
        return 0;
    if (kind == PEMFILE_CERTIFICATE)
        snprintf(err, errcap,
                 "%s: no PEM certificate in it (a line -----BEGIN CERTIFICATE-----)",
                 path);
    else
        snprintf(err, errcap,
                 "%s: no unencrypted PEM private key in it (a line -----BEGIN PRIVATE "
                 "KEY-----; decrypt an encrypted key with openssl pkey)",
                 path);
    return -1;
}

/* The file opened for reading, once it passed check_file; -1 with err. */
static int open_checked(const char *path, pemfile_kind_t kind, char *err, size_t errcap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (check_file(&st, path, kind, err, errcap) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int pemfile_read(const char *path, pemfile_kind_t kind, char **out, char *err,
                 size_t errcap)
{
    *out = NULL;
    int fd = open_checked(path, kind, err, errcap);
    if (fd < 0)
        return -1;
    char *text = NULL;
    int rc = read_all(fd, path, &text, err, errcap);
    close(fd);
    if (rc == 0)
        rc = check_text(text, path, kind, err, errcap);
    if (rc != 0) {
        pemfile_free(&text);
        return -1;
    }
    *out = text;
    return 0;
}

void pemfile_free(char **pem)
{
    if (!pem || !*pem)
        return;
    wipe_free(*pem, strlen(*pem));
    *pem = NULL;
}
