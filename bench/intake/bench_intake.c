/* bench_intake: an HTTP/1.1 keep-alive load generator for lindung-intake.
 * THREADS clients (one connection each, reconnecting if the server closes
 * it) POST JSON submissions of PER applicants to /v1/submissions for SECONDS
 * and print one line of figures:
 *   requests=N ok=N errors=N applicants=N seconds=S submissions_per_s=R
 *   applicants_per_s=R p50_ms=L p99_ms=L max_ms=L
 * Every request is a new submission (no Idempotency-Key); the NIKs differ per
 * request (thread, sequence) so the rows look like real lists.
 *
 *   bench_intake HOST PORT KEY PER THREADS SECONDS [CSVOUT]
 * With CSVOUT, the rows of one PER-applicant body are also written there as
 * CSV (for the COPY comparison of bench/intake/run). Not a test: it prints
 * figures. Plain POSIX sockets; no dependencies. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *host, *port, *key;
static int per, seconds;
static double deadline;

typedef struct {
    int id;
    long requests, ok, errors;
    double *lat;
    size_t nlat, cap;
} worker_t;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The applicant i of request (thread, seq): a valid-looking NIK of PALI. */
static int applicant_json(char *out, size_t cap, int thread, long seq, int i)
{
    int day = 1 + (i % 28), month = 1 + (int)(seq % 12), year = 70 + (int)(seq % 30);
    bool female = i % 2;
    long serial = 1 + ((long)thread * 1000003L + seq * 131L + i) % 9999;
    return snprintf(
        out, cap,
        "%s{\"nik\":\"161201%02d%02d%02d%04ld\",\"name\":\"Peserta %d-%ld-%d\","
        "\"birth_date\":\"19%02d-%02d-%02d\",\"sex\":\"%c\","
        "\"occupation\":\"PETANI/PEKEBUN\",\"monthly_income\":1500000}",
        i ? "," : "", day + (female ? 40 : 0), month, year, serial, thread, seq, i, year,
        month, day, female ? 'F' : 'M');
}

static size_t build_request(char *buf, size_t cap, int thread, long seq)
{
    static __thread char body[1 << 20];
    size_t n = (size_t)snprintf(body, sizeof body,
                                "{\"program_code\":\"PALI-TEST-ADD\",\"village_code\":"
                                "\"16.12.01.2001\",\"reference\":\"bench %d-%ld\","
                                "\"applicants\":[",
                                thread, seq);
    for (int i = 0; i < per; i++)
        n += (size_t)applicant_json(body + n, sizeof body - n, thread, seq, i);
    n += (size_t)snprintf(body + n, sizeof body - n, "]}");
    size_t h = (size_t)snprintf(buf, cap,
                                "POST /v1/submissions HTTP/1.1\r\nHost: %s:%s\r\n"
                                "Authorization: Bearer %s\r\n"
                                "Content-Type: application/json\r\n"
                                "Content-Length: %zu\r\n\r\n",
                                host, port, key, n);
    memcpy(buf + h, body, n);
    return h + n;
}

static int connect_to(void)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        return -1;
    int fd = socket(ai->ai_family, ai->ai_socktype, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return false;
        }
        p += w, n -= (size_t)w;
    }
    return true;
}

/* Read one response; return its status (0 on a broken connection) and set
 * *close_after when the server will close the connection. */
static int read_response(int fd, bool *close_after)
{
    char buf[65536];
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        ssize_t r = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (r <= 0)
            return 0;
        len += (size_t)r;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (!end && len == sizeof buf - 1)
            return 0;
    }
    int status = 0;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    size_t clen = 0;
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    if (cl)
        clen = strtoul(cl + 17, NULL, 10);
    *close_after = strcasestr(buf, "\r\nConnection: close") != NULL;
    size_t have = len - (size_t)(end + 4 - buf);
    while (have < clen) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0)
            return 0;
        have += (size_t)r;
    }
    return status;
}

static void *run(void *arg)
{
    worker_t *w = arg;
    size_t cap = (size_t)per * 300 + 4096;
    char *req = malloc(cap);
    int fd = -1;
    for (long seq = 0; now() < deadline; seq++) {
        size_t n = build_request(req, cap, w->id, seq);
        if (fd < 0 && (fd = connect_to()) < 0) {
            w->errors++;
            usleep(1000);
            continue;
        }
        double t0 = now();
        bool close_after = false;
        int status = send_all(fd, req, n) ? read_response(fd, &close_after) : 0;
        double ms = (now() - t0) * 1000.0;
        w->requests++;
        if (status == 202) {
            w->ok++;
            if (w->nlat == w->cap) {
                w->cap = w->cap ? w->cap * 2 : 4096;
                w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
            }
            w->lat[w->nlat++] = ms;
        } else {
            w->errors++;
            if (w->errors < 5)
                fprintf(stderr, "bench_intake: status %d\n", status);
        }
        if (status == 0 || close_after) {
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0)
        close(fd);
    free(req);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void write_csv(const char *path)
{
    /* The same rows, as COPY text for applicants (submission id filled in by
     * the caller's SQL): idx, nik, name, birth_date, sex, occupation, income. */
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    char one[512];
    for (int i = 0; i < per; i++) {
        applicant_json(one, sizeof one, 0, 0, i);
        char nik[17], name[64], birth[11], sex;
        const char *p = strstr(one, "\"nik\":\"") + 7;
        memcpy(nik, p, 16), nik[16] = '\0';
        p = strstr(one, "\"name\":\"") + 8;
        size_t nl = (size_t)(strchr(p, '"') - p);
        memcpy(name, p, nl), name[nl] = '\0';
        p = strstr(one, "\"birth_date\":\"") + 14;
        memcpy(birth, p, 10), birth[10] = '\0';
        sex = strstr(one, "\"sex\":\"")[7];
        fprintf(f, "%d,%s,%s,%s,%c,PETANI/PEKEBUN,1500000\n", i, nik, name, birth, sex);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr,
                "usage: bench_intake HOST PORT KEY PER THREADS SECONDS [CSVOUT]\n");
        return 2;
    }
    host = argv[1], port = argv[2], key = argv[3];
    per = atoi(argv[4]);
    int threads = atoi(argv[5]);
    seconds = atoi(argv[6]);
    if (per < 1 || per > 10000 || threads < 1 || threads > 256 || seconds < 1) {
        fprintf(stderr, "bench_intake: bad arguments\n");
        return 2;
    }
    if (argc > 7)
        write_csv(argv[7]);
    worker_t *w = calloc((size_t)threads, sizeof *w);
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    double start = now();
    deadline = start + seconds;
    for (int i = 0; i < threads; i++) {
        w[i].id = i;
        pthread_create(&t[i], NULL, run, &w[i]);
    }
    long requests = 0, ok = 0, errors = 0;
    size_t nlat = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        requests += w[i].requests, ok += w[i].ok, errors += w[i].errors;
        nlat += w[i].nlat;
    }
    double elapsed = now() - start;
    double *all = malloc((nlat ? nlat : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + k, w[i].lat, w[i].nlat * sizeof *all);
        k += w[i].nlat;
        free(w[i].lat);
    }
    qsort(all, nlat, sizeof *all, cmp);
    double p50 = nlat ? all[nlat / 2] : 0, p99 = nlat ? all[(nlat * 99) / 100] : 0,
           max = nlat ? all[nlat - 1] : 0;
    printf("requests=%ld ok=%ld errors=%ld applicants=%ld seconds=%.2f "
           "submissions_per_s=%.0f applicants_per_s=%.0f p50_ms=%.2f p99_ms=%.2f "
           "max_ms=%.2f\n",
           requests, ok, errors, ok * per, elapsed, (double)ok / elapsed,
           (double)(ok * per) / elapsed, p50, p99, max);
    free(all);
    free(w);
    free(t);
    return errors > ok / 100 ? 1 : 0;
}
