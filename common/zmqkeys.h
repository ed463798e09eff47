/* zmqkeys: CURVE key files. A file holds one key, the 40 Z85 characters of
 * 32 bytes, and nothing else but a final newline. A secret key file must be
 * a regular file that neither group nor others may read or write (as ssh
 * wants of its private keys). A directory of authorized client keys holds
 * one NAME.pub file per client. Not for sockets (zmqauth.h) nor for the
 * ZAP handler (zap.h). */
#ifndef LINDUNG_ZMQKEYS_H
#define LINDUNG_ZMQKEYS_H
#include <stdbool.h>
#include <stddef.h>

#define ZMQKEYS_LEN 40      /* Z85 characters of a key */
#define ZMQKEYS_NAME_MAX 64 /* a key's name: [A-Za-z0-9._-], not starting with '.' */

typedef enum { ZMQKEYS_PUBLIC, ZMQKEYS_SECRET } zmqkeys_kind_t;

/* Read the key in `path` into out (NUL-terminated). -1 with err when the file
 * cannot be read, is not exactly one key, or is a secret key file that group
 * or others may access. */
int zmqkeys_read(const char *path, zmqkeys_kind_t kind, char out[ZMQKEYS_LEN + 1],
                 char *err, size_t errcap);

/* Check a directory of authorized keys: it must exist and not be writable by
 * group or others (whoever can add a file there can let a client in).
 * Returns how many NAME.pub files in it hold a key, or -1 with err. */
int zmqkeys_check_dir(const char *dir, char *err, size_t errcap);

/* Whether `key` (Z85) is in one of dir's NAME.pub files; name (may be NULL)
 * gets that NAME. Files that are not one key, or that group or others may
 * write, are skipped. */
bool zmqkeys_authorized(const char *dir, const char *key, char *name, size_t namecap);

/* Whether `name` may name a key: 1-64 of [A-Za-z0-9._-], not starting with '.'. */
bool zmqkeys_name_ok(const char *name);

/* Create `path` holding key and a newline, with `mode`; never replaces a
 * file (-1 with err when it exists). */
int zmqkeys_write(const char *path, const char *key, unsigned mode, char *err,
                  size_t errcap);
#endif
