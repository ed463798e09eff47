/* pemfile: reading a TLS certificate or private key file in PEM form, to hand
 * its text to the HTTP server (intake's HTTPS, docs/operations.md "HTTPS").
 * A file is read whole, at most PEMFILE_MAX bytes, and judged only by its
 * PEM headers: whether the certificate and key are well formed and belong
 * together is for the TLS library at start. A key file that others (not its
 * owner or group) may read or write is refused. Not for CURVE keys
 * (zmqkeys.h), and not for encrypted private keys. */
#ifndef LINDUNG_PEMFILE_H
#define LINDUNG_PEMFILE_H
#include <stddef.h>

#define PEMFILE_MAX (1 << 20) /* bytes; a certificate chain is a few KiB */

typedef enum { PEMFILE_CERTIFICATE, PEMFILE_PRIVATE_KEY } pemfile_kind_t;

/* Read `path` into *out (malloc'd, NUL-terminated; free with pemfile_free).
 * -1 with err, naming the file, when it cannot be read, is not a regular
 * file, is larger than PEMFILE_MAX, holds a NUL byte, has no PEM block of
 * the kind wanted (a CERTIFICATE; a PRIVATE KEY, RSA or EC, unencrypted), or
 * is a key file others may access. */
int pemfile_read(const char *path, pemfile_kind_t kind, char **out, char *err,
                 size_t errcap);

/* Wipe and free what pemfile_read gave (a key must not linger in freed
 * memory); *pem becomes NULL. */
void pemfile_free(char **pem);
#endif
