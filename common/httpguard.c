/* httpguard: the registry is one list behind one mutex. It is short (the
 * open connections plus those being shut down) and walked only by the
 * reaper, five times a second, and when the table is full. A connection is
 * cut with shutdown(2) on its socket from whichever thread notices;
 * libmicrohttpd then reads end-of-file in its own thread and closes it.
 * That is safe because libmicrohttpd closes a socket only after
 * MHD_CONNECTION_NOTIFY_CLOSED, which waits for the same mutex, so the
 * descriptor cannot have been reused while we hold it. */
#include "httpguard.h"
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#define REAP_INTERVAL_MS 200

typedef enum { WAIT_HEAD, READ_BODY, ANSWER } phase_t;

struct httpguard_conn_t {
    httpguard_conn_t *prev, *next;
    int fd;
    phase_t phase;
    int64_t since_ms; /* when the phase began */
    size_t received;  /* body bytes so far */
    bool cut;         /* shut down by us; libmicrohttpd has yet to close it */
};

struct httpguard_t {
    httpguard_config_t config;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t reaper;
    bool stopping;
    httpguard_conn_t *first, *last;
    int open;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void count_cut(httpguard_t *self, const char *reason)
{
    if (!self->config.metrics)
        return;
    char labels[64];
    snprintf(labels, sizeof labels, "reason=\"%s\"", reason);
    metrics_counter_add(self->config.metrics, "lindung_http_connections_closed_total",
                        "Connections the server shut down to keep room for others: "
                        "header_timeout, body_timeout, evicted, full.",
                        labels, 1);
}

/* Under the lock. */
static void cut(httpguard_t *self, httpguard_conn_t *c, const char *reason)
{
    shutdown(c->fd, SHUT_RDWR);
    c->cut = true;
    self->open--;
    count_cut(self, reason);
}

static int64_t deadline_ms(const httpguard_t *self, const httpguard_conn_t *c)
{
    switch (c->phase) {
    case WAIT_HEAD:
        return c->since_ms + (int64_t)self->config.header_timeout_s * 1000;
    case READ_BODY:
        return c->since_ms + (int64_t)self->config.body_grace_s * 1000 +
               (int64_t)(c->received * 1000 / self->config.body_min_rate);
    case ANSWER:
        break;
    }
    return INT64_MAX;
}

static void reap(httpguard_t *self, int64_t now)
{
    for (httpguard_conn_t *c = self->first; c; c = c->next)
        if (!c->cut && now >= deadline_ms(self, c))
            cut(self, c, c->phase == WAIT_HEAD ? "header_timeout" : "body_timeout");
    if (self->config.metrics)
        metrics_gauge_set(self->config.metrics, "lindung_http_open_connections",
                          "HTTP connections open now.", NULL, self->open);
}

static void *reaper_main(void *arg)
{
    httpguard_t *self = arg;
    pthread_mutex_lock(&self->lock);
    while (!self->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += REAP_INTERVAL_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&self->wake, &self->lock, &until);
        reap(self, now_ms());
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

httpguard_t *httpguard_new(const httpguard_config_t *config)
{
    httpguard_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    if (self->config.body_min_rate == 0)
        self->config.body_min_rate = 1;
    pthread_mutex_init(&self->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&self->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&self->reaper, NULL, reaper_main, self) != 0) {
        pthread_cond_destroy(&self->wake);
        pthread_mutex_destroy(&self->lock);
        free(self);
        return NULL;
    }
    return self;
}

void httpguard_destroy(httpguard_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    httpguard_t *self = *self_p;
    pthread_mutex_lock(&self->lock);
    self->stopping = true;
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->lock);
    pthread_join(self->reaper, NULL);
    while (self->first) {
        httpguard_conn_t *c = self->first;
        self->first = c->next;
        free(c);
    }
    pthread_cond_destroy(&self->wake);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

/* The connection that has waited longest for its request head, other than
 * `except`: the likeliest to be a slow client, and a keep-alive connection
 * that sits idle loses only its reuse. Under the lock. */
static httpguard_conn_t *oldest_waiting(httpguard_t *self, const httpguard_conn_t *except)
{
    httpguard_conn_t *best = NULL;
    for (httpguard_conn_t *c = self->first; c; c = c->next)
        if (!c->cut && c != except && c->phase == WAIT_HEAD &&
            (!best || c->since_ms < best->since_ms))
            best = c;
    return best;
}

static void on_started(httpguard_t *self, struct MHD_Connection *conn, void **ctx)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    httpguard_conn_t *c = calloc(1, sizeof *c);
    if (!info || !c) {
        free(c);
        return; /* unguarded, rather than refused */
    }
    c->fd = info->connect_fd;
    c->phase = WAIT_HEAD;
    c->since_ms = now_ms();
    *ctx = c;
    pthread_mutex_lock(&self->lock);
    c->prev = self->last;
    if (self->last)
        self->last->next = c;
    else
        self->first = c;
    self->last = c;
    self->open++;
    if (self->open > self->config.max_connections) {
        httpguard_conn_t *victim = oldest_waiting(self, c);
        cut(self, victim ? victim : c, victim ? "evicted" : "full");
    }
    pthread_mutex_unlock(&self->lock);
}

static void on_closed(httpguard_t *self, void **ctx)
{
    httpguard_conn_t *c = *ctx;
    if (!c)
        return;
    pthread_mutex_lock(&self->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        self->first = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        self->last = c->prev;
    if (!c->cut)
        self->open--;
    pthread_mutex_unlock(&self->lock);
    free(c);
    *ctx = NULL;
}

void httpguard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode code)
{
    httpguard_t *self = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        on_started(self, conn, socket_context);
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
        on_closed(self, socket_context);
}

httpguard_conn_t *httpguard_conn(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

static void enter(httpguard_t *self, httpguard_conn_t *c, phase_t phase)
{
    if (!c)
        return;
    pthread_mutex_lock(&self->lock);
    c->phase = phase;
    c->since_ms = now_ms();
    c->received = 0;
    pthread_mutex_unlock(&self->lock);
}

void httpguard_head_done(httpguard_t *self, httpguard_conn_t *c, bool body_follows)
{
    enter(self, c, body_follows ? READ_BODY : ANSWER);
}

void httpguard_body_read(httpguard_t *self, httpguard_conn_t *c, size_t bytes)
{
    if (!c)
        return;
    pthread_mutex_lock(&self->lock);
    c->received += bytes;
    pthread_mutex_unlock(&self->lock);
}

void httpguard_answering(httpguard_t *self, httpguard_conn_t *c)
{
    enter(self, c, ANSWER);
}

void httpguard_request_done(httpguard_t *self, httpguard_conn_t *c)
{
    enter(self, c, WAIT_HEAD);
}
