/* tlsprobe: see tlsprobe.h. The socket's receive and send timeouts (set by
 * the caller) bound every step; a step that times out is an error, never a
 * retry, so a silent server cannot hold the status screen. */
#include "tlsprobe.h"
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define HANDSHAKE_TIMEOUT_MS 5000

static bool is_address(const char *host)
{
    unsigned char a[16];
    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* Why the handshake failed, in words: for a refused certificate, what
 * GnuTLS found wrong with it. */
static void handshake_error(gnutls_session_t s, int rc, char *err, size_t errcap)
{
    if (rc != GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
        snprintf(err, errcap, "TLS: %s", gnutls_strerror(rc));
        return;
    }
    gnutls_datum_t why = {NULL, 0};
    unsigned status = gnutls_session_get_verify_cert_status(s);
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why, 0) ==
        0) {
        snprintf(err, errcap, "TLS: %s", (const char *)why.data);
        gnutls_free(why.data);
        return;
    }
    snprintf(err, errcap, "TLS: the certificate was not accepted");
}

static bool send_all(gnutls_session_t s, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = gnutls_record_send(s, buf, len);
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* Until the server closes. A close without TLS's close_notify counts as
 * the end: the answer is HTTP/1.0, whose end is the connection's. */
static ssize_t recv_all(gnutls_session_t s, char *buf, size_t cap, char *err,
                        size_t errcap)
{
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t n = gnutls_record_recv(s, buf + len, cap - 1 - len);
        if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION)
            break;
        if (n < 0) {
            snprintf(err, errcap, "TLS: %s", gnutls_strerror((int)n));
            return -1;
        }
        len += (size_t)n;
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

static ssize_t exchange(gnutls_session_t s, int fd, const char *host, const char *request,
                        char *buf, size_t cap, char *err, size_t errcap)
{
    if (gnutls_set_default_priority(s) < 0) {
        snprintf(err, errcap, "TLS: no usable priorities");
        return -1;
    }
    if (!is_address(host))
        gnutls_server_name_set(s, GNUTLS_NAME_DNS, host, strlen(host));
    gnutls_session_set_verify_cert(s, host, 0);
    gnutls_transport_set_int(s, fd);
    gnutls_handshake_set_timeout(s, HANDSHAKE_TIMEOUT_MS);
    int rc = gnutls_handshake(s);
    if (rc < 0) {
        handshake_error(s, rc, err, errcap);
        return -1;
    }
    if (!send_all(s, request, strlen(request))) {
        snprintf(err, errcap, "TLS: the request could not be sent");
        return -1;
    }
    return recv_all(s, buf, cap, err, errcap);
}

ssize_t tlsprobe_exchange(int fd, const char *host, const char *ca_file,
                          const char *request, char *buf, size_t cap, char *err,
                          size_t errcap)
{
    gnutls_certificate_credentials_t cred = NULL;
    gnutls_session_t s = NULL;
    ssize_t got = -1;
    if (cap == 0 || gnutls_certificate_allocate_credentials(&cred) < 0) {
        snprintf(err, errcap, "TLS: out of memory");
        return -1;
    }
    gnutls_certificate_set_x509_system_trust(cred); /* none is fine with ca_file */
    if (ca_file &&
        gnutls_certificate_set_x509_trust_file(cred, ca_file, GNUTLS_X509_FMT_PEM) <= 0) {
        snprintf(err, errcap, "TLS: no certificate read from %s", ca_file);
    } else if (gnutls_init(&s, GNUTLS_CLIENT) < 0 ||
               gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred) < 0) {
        snprintf(err, errcap, "TLS: out of memory");
    } else {
        got = exchange(s, fd, host, request, buf, cap, err, errcap);
    }
    if (s)
        gnutls_deinit(s);
    gnutls_certificate_free_credentials(cred);
    return got;
}
