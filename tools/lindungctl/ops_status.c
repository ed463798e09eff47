/* ops_status: `lindungctl status`, the operator's one screen: each daemon's
 * /readyz, the verification queue, decisions in the last hour, the last
 * billing run. Daemons are asked over a tiny blocking HTTP/1.0 GET (one
 * request, then the server closes), because pulling in an HTTP client
 * library for one probe is not worth it; intake over HTTPS when it serves
 * HTTPS (tlsprobe.c). Not a monitoring system: Prometheus and the alerts in
 * deploy/ are. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "config.h"
#include "ops_internal.h"
#include "tlsprobe.h"

#define PROBE_TIMEOUT_MS 2000
#define PROBE_MAX_ANSWER 8192

static const char *SQL_QUEUE =
    "SELECT count(*), coalesce(extract(epoch FROM now() - min(received_at)), 0)::float8 "
    "FROM submissions "
    "WHERE status <> 'verified'";
enum { QU_DEPTH, QU_OLDEST };

/* Through submissions.verified_at: a submission's decisions are written in
 * the transaction that verifies it (db/migrations/006_ops_indexes.sql). */
static const char *SQL_DECISIONS_HOUR =
    "SELECT a.decision, count(*) "
    "FROM submissions s "
    "JOIN applicants a ON a.submission_id = s.id "
    "WHERE s.verified_at >= now() - interval '1 hour' "
    "GROUP BY a.decision "
    "ORDER BY a.decision";
enum { DE_DECISION, DE_COUNT };

static const char *SQL_REASONS_HOUR =
    "SELECT r->>'code', count(*) "
    "FROM submissions s "
    "JOIN applicants a ON a.submission_id = s.id "
    "CROSS JOIN LATERAL jsonb_array_elements(a.reasons) r "
    "WHERE s.verified_at >= now() - interval '1 hour' "
    "GROUP BY 1 "
    "ORDER BY 2 DESC, 1";
enum { RE_CODE, RE_COUNT };

/* Runs are one transaction each (accrual.c): a row is a finished run. */
static const char *SQL_LAST_RUN =
    "SELECT id, to_char(period, 'YYYY-MM'), trigger, "
    "    to_char((started_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
    "    to_char((finished_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
    "    lines_added, amount_added, "
    "    extract(epoch FROM finished_at - started_at)::float8, "
    "    extract(epoch FROM now() - finished_at)::float8 "
    "FROM billing_runs "
    "WHERE finished_at IS NOT NULL "
    "ORDER BY finished_at DESC, id DESC "
    "LIMIT 1";
enum {
    LR_ID,
    LR_PERIOD,
    LR_TRIGGER,
    LR_STARTED,
    LR_FINISHED,
    LR_LINES,
    LR_AMOUNT,
    LR_DURATION,
    LR_AGE
};

typedef struct {
    const char *name, *port_var, *host_var;
    long default_port;
    bool may_use_tls; /* only intake serves HTTPS (docs/operations.md) */
} daemon_t;

static const daemon_t daemons[] = {
    {"intake", "LINDUNG_INTAKE_PORT", "LINDUNG_INTAKE_HOST", 8080, true},
    {"verify", "LINDUNG_VERIFY_PORT", "LINDUNG_VERIFY_HOST", 8081, false},
    {"billing", "LINDUNG_BILLING_PORT", "LINDUNG_BILLING_HOST", 8082, false},
};
#define NDAEMONS (sizeof daemons / sizeof daemons[0])

/* What to trust when intake serves HTTPS: LINDUNG_INTAKE_CA_FILE, else the
 * certificate intake itself serves (LINDUNG_INTAKE_TLS_CERT_FILE, from the
 * same environment on intake's host); NULL when neither is set, and then
 * intake is asked in plain HTTP. */
static const char *intake_trust(void)
{
    const char *ca =
        config_str("LINDUNG_INTAKE_CA_FILE", NULL); /* unset or empty: NULL */
    return ca ? ca : config_str("LINDUNG_INTAKE_TLS_CERT_FILE", NULL);
}

typedef struct {
    char url[160];
    const char *state; /* "ready", "unready", "down" */
    int http_status;   /* 0 when there was no answer */
    char reason[256];
} probe_t;

/* ------------------------------------------------------------ HTTP probe */

static int probe_connect(const char *host, const char *port, char *err, size_t errcap)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *list;
    int rc = getaddrinfo(host, port, &hints, &list);
    if (rc != 0) {
        snprintf(err, errcap, "%s: %s", host, gai_strerror(rc));
        return -1;
    }
    /* On Linux SO_SNDTIMEO bounds connect() too, so a black-holed host
     * cannot hang the status screen. */
    struct timeval tv = {.tv_sec = PROBE_TIMEOUT_MS / 1000,
                         .tv_usec = PROBE_TIMEOUT_MS % 1000 * 1000};
    int fd = -1;
    for (struct addrinfo *ai = list; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            snprintf(err, errcap, "%s", strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(list);
    return fd;
}

static bool send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* The whole answer until the server closes (HTTP/1.0), NUL-terminated. */
static ssize_t recv_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

/* GET path, over TLS when trust is not NULL (the certificates to trust);
 * *status gets the HTTP status and body points into answer. -1 with err
 * filled when the daemon did not answer. */
static int http_get(const char *host, const char *port, const char *trust,
                    const char *path, int *status, char *answer, size_t cap,
                    const char **body, char *err, size_t errcap)
{
    int fd = probe_connect(host, port, err, errcap);
    if (fd < 0)
        return -1;
    char request[256];
    snprintf(request, sizeof request,
             "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: lindungctl\r\n\r\n", path, host);
    ssize_t n;
    if (trust) {
        n = tlsprobe_exchange(fd, host, trust, request, answer, cap, err, errcap);
    } else {
        n = send_all(fd, request, strlen(request)) ? recv_all(fd, answer, cap) : -1;
        if (n < 0)
            snprintf(err, errcap, "%s", strerror(errno));
    }
    close(fd);
    if (n < 0)
        return -1;
    if (sscanf(answer, "HTTP/%*d.%*d %d", status) != 1) {
        snprintf(err, errcap, "not an HTTP answer");
        return -1;
    }
    const char *sep = strstr(answer, "\r\n\r\n");
    *body = sep ? sep + 4 : "";
    return 0;
}

static void probe_daemon(const daemon_t *d, probe_t *p)
{
    char err[256], answer[PROBE_MAX_ANSWER], port[16];
    long port_num = d->default_port;
    const char *host = config_str(d->host_var, "127.0.0.1");
    config_int(d->port_var, d->default_port, 1, 65535, &port_num, err, sizeof err);
    snprintf(port, sizeof port, "%ld", port_num);
    const char *trust = d->may_use_tls ? intake_trust() : NULL;
    snprintf(p->url, sizeof p->url, "%s://%s:%s/readyz", trust ? "https" : "http", host,
             port);
    const char *body = "";
    if (http_get(host, port, trust, "/readyz", &p->http_status, answer, sizeof answer,
                 &body, err, sizeof err) != 0) {
        p->state = "down";
        p->http_status = 0;
        snprintf(p->reason, sizeof p->reason, "%s", err);
        return;
    }
    p->state = p->http_status == 200 ? "ready" : "unready";
    p->reason[0] = '\0';
    cJSON *doc = cJSON_Parse(body);
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(doc, "reason");
    if (cJSON_IsString(why))
        snprintf(p->reason, sizeof p->reason, "%s", why->valuestring);
    else if (p->http_status != 200)
        snprintf(p->reason, sizeof p->reason, "HTTP %d", p->http_status);
    cJSON_Delete(doc);
}

/* ------------------------------------------------------------ database part */

typedef struct {
    PGresult *queue, *decisions, *reasons, *last_run;
    char error[256]; /* "" when the database answered everything */
} facts_t;

static void facts_load(facts_t *f)
{
    memset(f, 0, sizeof *f);
    db_t *db = db_new(config_str("LINDUNG_DB", "dbname=lindung"));
    if (!db) {
        snprintf(f->error, sizeof f->error, "out of memory");
        return;
    }
    f->queue = db_exec(db, SQL_QUEUE, 0, NULL);
    f->decisions = db_ok(f->queue) ? db_exec(db, SQL_DECISIONS_HOUR, 0, NULL) : NULL;
    f->reasons = db_ok(f->decisions) ? db_exec(db, SQL_REASONS_HOUR, 0, NULL) : NULL;
    f->last_run = db_ok(f->reasons) ? db_exec(db, SQL_LAST_RUN, 0, NULL) : NULL;
    if (!db_ok(f->last_run))
        snprintf(f->error, sizeof f->error, "%s", db_error(db));
    db_destroy(&db);
}

static void facts_clear(facts_t *f)
{
    PQclear(f->queue);
    PQclear(f->decisions);
    PQclear(f->reasons);
    PQclear(f->last_run);
}

static long decisions_of(const facts_t *f, const char *decision)
{
    for (int i = 0; i < PQntuples(f->decisions); i++)
        if (strcmp(PQgetvalue(f->decisions, i, DE_DECISION), decision) == 0)
            return atol(PQgetvalue(f->decisions, i, DE_COUNT));
    return 0;
}

/* ------------------------------------------------------------ output */

static cJSON *daemon_json(const daemon_t *d, const probe_t *p)
{
    cJSON *o = cJSON_CreateObject();
    return pgjson_whole(
        o, o && cJSON_AddStringToObject(o, "name", d->name) &&
               cJSON_AddStringToObject(o, "url", p->url) &&
               cJSON_AddStringToObject(o, "status", p->state) &&
               (p->http_status
                    ? cJSON_AddNumberToObject(o, "http_status", p->http_status) != NULL
                    : cJSON_AddNullToObject(o, "http_status") != NULL) &&
               (p->reason[0] ? cJSON_AddStringToObject(o, "reason", p->reason) != NULL
                             : cJSON_AddNullToObject(o, "reason") != NULL));
}

static cJSON *daemons_json(const probe_t *probes)
{
    cJSON *list = cJSON_CreateArray();
    bool ok = list != NULL;
    for (size_t i = 0; ok && i < NDAEMONS; i++)
        ok = pgjson_append(list, daemon_json(&daemons[i], &probes[i]));
    return pgjson_whole(list, ok);
}

static const pgjson_col_t LAST_RUN_COLS[] = {{"run_id", LR_ID, PGJSON_INT},
                                             {"period", LR_PERIOD, PGJSON_TEXT},
                                             {"trigger", LR_TRIGGER, PGJSON_TEXT},
                                             {"started_at", LR_STARTED, PGJSON_TEXT},
                                             {"finished_at", LR_FINISHED, PGJSON_TEXT},
                                             {"lines_added", LR_LINES, PGJSON_INT},
                                             {"amount_added", LR_AMOUNT, PGJSON_INT}};

static cJSON *last_run_json(const PGresult *r)
{
    if (PQntuples(r) != 1)
        return cJSON_CreateNull();
    cJSON *o = pgjson_row(r, 0, LAST_RUN_COLS, PGJSON_NCOLS(LAST_RUN_COLS));
    return pgjson_whole(
        o, o &&
               cJSON_AddNumberToObject(o, "duration_seconds",
                                       atof(PQgetvalue(r, 0, LR_DURATION))) &&
               cJSON_AddNumberToObject(o, "age_seconds", atof(PQgetvalue(r, 0, LR_AGE))));
}

static cJSON *queue_json(const PGresult *q)
{
    cJSON *o = cJSON_CreateObject();
    return pgjson_whole(o,
                        pgjson_add_int(o, "depth", q, 0, QU_DEPTH) &&
                            cJSON_AddNumberToObject(o, "oldest_age_seconds",
                                                    atof(PQgetvalue(q, 0, QU_OLDEST))));
}

static cJSON *reasons_json(const PGresult *r)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL;
    for (int i = 0; ok && i < PQntuples(r); i++)
        ok = cJSON_AddNumberToObject(o, PQgetvalue(r, i, RE_CODE),
                                     atof(PQgetvalue(r, i, RE_COUNT))) != NULL;
    return pgjson_whole(o, ok);
}

static cJSON *decisions_json(const facts_t *f)
{
    cJSON *o = cJSON_CreateObject();
    return pgjson_whole(
        o,
        o &&
            cJSON_AddNumberToObject(o, "accepted", (double)decisions_of(f, "accepted")) &&
            cJSON_AddNumberToObject(o, "rejected", (double)decisions_of(f, "rejected")) &&
            pgjson_put(o, "reasons", reasons_json(f->reasons)));
}

static cJSON *database_json(const facts_t *f)
{
    cJSON *o = cJSON_CreateObject();
    return pgjson_whole(
        o, o && cJSON_AddBoolToObject(o, "reachable", f->error[0] == '\0') &&
               (f->error[0] ? cJSON_AddStringToObject(o, "error", f->error) != NULL
                            : cJSON_AddNullToObject(o, "error") != NULL));
}

static bool add_database_json(cJSON *doc, const facts_t *f)
{
    if (!pgjson_put(doc, "database", database_json(f)))
        return false;
    if (f->error[0])
        return cJSON_AddNullToObject(doc, "queue") &&
               cJSON_AddNullToObject(doc, "decisions_last_hour") &&
               cJSON_AddNullToObject(doc, "last_billing_run");
    return pgjson_put(doc, "queue", queue_json(f->queue)) &&
           pgjson_put(doc, "decisions_last_hour", decisions_json(f)) &&
           pgjson_put(doc, "last_billing_run", last_run_json(f->last_run));
}

static int print_json(const probe_t *probes, const facts_t *f, bool healthy)
{
    cJSON *doc = cJSON_CreateObject();
    bool ok = doc && cJSON_AddBoolToObject(doc, "ok", healthy) &&
              pgjson_put(doc, "daemons", daemons_json(probes)) &&
              add_database_json(doc, f);
    return ops_print_json(pgjson_whole(doc, ok));
}

static void print_reasons(const PGresult *r)
{
    for (int i = 0; i < PQntuples(r); i++)
        printf("%s%s %s", i == 0 ? " (" : ", ", PQgetvalue(r, i, RE_CODE),
               PQgetvalue(r, i, RE_COUNT));
    printf("%s\n", PQntuples(r) > 0 ? ")" : "");
}

static void print_last_run(const PGresult *r)
{
    if (PQntuples(r) != 1) {
        printf("last billing     never run\n");
        return;
    }
    char money[48], age[32];
    money_format_rp(strtoll(PQgetvalue(r, 0, LR_AMOUNT), NULL, 10), money, sizeof money);
    ops_age(atof(PQgetvalue(r, 0, LR_AGE)), age, sizeof age);
    printf("last billing     %s run %s (%s), finished %s (%s ago) in %.1fs: "
           "%s lines, %s\n",
           PQgetvalue(r, 0, LR_PERIOD), PQgetvalue(r, 0, LR_ID),
           PQgetvalue(r, 0, LR_TRIGGER), PQgetvalue(r, 0, LR_FINISHED), age,
           atof(PQgetvalue(r, 0, LR_DURATION)), PQgetvalue(r, 0, LR_LINES), money);
}

static void print_text(const probe_t *probes, const facts_t *f)
{
    printf("daemons\n");
    for (size_t i = 0; i < NDAEMONS; i++)
        printf("  %-8s %-8s %s%s%s\n", daemons[i].name, probes[i].state, probes[i].url,
               probes[i].reason[0] ? "  " : "", probes[i].reason);
    if (f->error[0]) {
        printf("database         UNREACHABLE: %s\n", f->error);
        return;
    }
    printf("database         reachable\n");
    char age[32];
    ops_age(atof(PQgetvalue(f->queue, 0, QU_OLDEST)), age, sizeof age);
    printf("verify queue     %s waiting, oldest %s\n", PQgetvalue(f->queue, 0, QU_DEPTH),
           age);
    printf("decisions (1h)   %ld accepted, %ld rejected", decisions_of(f, "accepted"),
           decisions_of(f, "rejected"));
    print_reasons(f->reasons);
    print_last_run(f->last_run);
}

int ops_status(const ops_args_t *args)
{
    if (args->npositional > 0 || args->unmasked) {
        fprintf(stderr, "usage: lindungctl status [--json]\n");
        return OPS_USAGE;
    }
    probe_t probes[NDAEMONS];
    bool healthy = true;
    for (size_t i = 0; i < NDAEMONS; i++) {
        probe_daemon(&daemons[i], &probes[i]);
        healthy = healthy && strcmp(probes[i].state, "ready") == 0;
    }
    facts_t f;
    facts_load(&f);
    healthy = healthy && f.error[0] == '\0';
    int rc = OPS_OK;
    if (args->json)
        rc = print_json(probes, &f, healthy);
    else
        print_text(probes, &f);
    facts_clear(&f);
    return healthy ? rc : OPS_FAILED;
}
