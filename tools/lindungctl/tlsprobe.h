/* tlsprobe: one HTTPS request over an already connected socket, for
 * `lindungctl status` when intake serves HTTPS (ops_status.c). GnuTLS, the
 * TLS library libmicrohttpd already brings: the certificate is checked
 * against the given CA file (or the system's trust store) and the host name.
 * Not an HTTP client: it sends the caller's request and reads until the
 * server closes, as the plain probe does. */
#ifndef LINDUNG_TLSPROBE_H
#define LINDUNG_TLSPROBE_H
#include <stddef.h>
#include <sys/types.h>

/* Handshake on fd with `host` (its name or IP address is what the
 * certificate must name), send `request`, read the whole answer into buf
 * (NUL-terminated, at most cap - 1 bytes). ca_file: PEM certificates to
 * trust besides the system's, or NULL. Returns the bytes read, or -1 with
 * err filled (a refused certificate says why). Does not close fd. */
ssize_t tlsprobe_exchange(int fd, const char *host, const char *ca_file,
                          const char *request, char *buf, size_t cap, char *err,
                          size_t errcap);

#endif
