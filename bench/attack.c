/* attack.c -- the load generator of bench/attack.sh: GET /livez latency
 * measured from one loopback address while another runs a slowloris and a
 * login flood against the same `tillpipe serve`.
 *
 *  - probe: from 127.0.0.1, a fresh connection every --probe-ms, one
 *    `GET /livez`, its answer read whole; the time from connect to the last
 *    byte is one sample (a connection refused or answered late is an error);
 *  - slowloris: --slowloris N connections from --src, each sending a
 *    request's headers a byte at a time (one byte per connection per second,
 *    never the blank line that ends them); a connection the server closes
 *    is opened again at the next round;
 *  - login flood: --login-loops L threads from --src, each posting a wrong
 *    password to /api/auth/login as fast as answers come (a refused
 *    connection waits 10 ms before the next try).
 *
 * Output, one line: "p50_ms p99_ms samples errors held refused logins
 * login_429 login_refused" (held: slowloris connections the server has kept
 * for more than 3 s at the end; refused: those it closed or refused over
 * the run).
 *
 * usage: tp-attack --port P [--src ADDR] [--slowloris N] [--login-loops L]
 *                  [--seconds S] [--probe-ms MS] */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 100000
#define MAX_SLOW 4096

typedef struct opts {
    int port, slowloris, login_loops, seconds, probe_ms;
    const char *src;
} opts;

static opts o = {0, 0, 0, 20, 20, "127.0.0.2"};
static atomic_int stop;
static atomic_long held, refused, logins, login_429, login_refused;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A connection to the server from `src` (NULL: any), reads and writes
 * timing out after 5 s: the descriptor, or -1. */
static int dial(const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET};
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if ((src && (inet_pton(AF_INET, src, &a.sin_addr) != 1 ||
                 bind(fd, (struct sockaddr *)&a, sizeof a) != 0)) ||
        connect(fd, (struct sockaddr *)&to, sizeof to) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send a request and read its whole answer (the server closes after it):
 * the status, or -1. */
static int exchange(int fd, const char *req)
{
    size_t n = strlen(req);
    if (send(fd, req, n, MSG_NOSIGNAL) != (ssize_t)n)
        return -1;
    char buf[4096];
    int status = -1, first = 1;
    ssize_t got;
    while ((got = recv(fd, buf, sizeof buf - 1, 0)) > 0) {
        if (first) {
            buf[got] = '\0';
            if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
                status = -1;
            first = 0;
        }
    }
    return got < 0 ? -1 : status;
}

/* ------------------------------------------------------------ slowloris */

static void *slowloris(void *arg)
{
    (void)arg;
    static int fd[MAX_SLOW];
    static size_t sent[MAX_SLOW];
    static const char head[] = "GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    int n = o.slowloris < MAX_SLOW ? o.slowloris : MAX_SLOW;
    for (int i = 0; i < n; i++)
        fd[i] = -1;
    while (!atomic_load(&stop)) {
        double round = now_s();
        long open = 0;
        for (int i = 0; i < n && !atomic_load(&stop); i++) {
            if (fd[i] < 0) {
                fd[i] = dial(o.src);
                sent[i] = 0;
            }
            if (fd[i] < 0)
                continue;
            char c = sent[i] < sizeof head - 1 ? head[sent[i]] : 'a';
            struct pollfd p = {fd[i], POLLIN, 0};
            char sink;
            if (send(fd[i], &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1 ||
                (poll(&p, 1, 0) == 1 && recv(fd[i], &sink, 1, MSG_DONTWAIT) <= 0)) {
                close(fd[i]);
                fd[i] = -1;
                atomic_fetch_add(&refused, 1);
                continue;
            }
            open += ++sent[i] > 3; /* kept by the server, not just opened again */
        }
        atomic_store(&held, open);
        double left = 1.0 - (now_s() - round);
        if (left > 0)
            pause_ms((int)(left * 1000));
    }
    for (int i = 0; i < n; i++)
        if (fd[i] >= 0)
            close(fd[i]);
    return NULL;
}

/* ------------------------------------------------------------ login flood */

static void *login_flood(void *arg)
{
    (void)arg;
    static const char body[] = "{\"username\": \"bench\", \"password\": \"not-the-password\"}";
    char req[512];
    snprintf(req, sizeof req,
             "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
             sizeof body - 1, body);
    while (!atomic_load(&stop)) {
        int fd = dial(o.src);
        int st = fd < 0 ? -1 : exchange(fd, req);
        if (fd >= 0)
            close(fd);
        atomic_fetch_add(&logins, 1);
        if (st == 429)
            atomic_fetch_add(&login_429, 1);
        if (st < 0) {
            atomic_fetch_add(&login_refused, 1);
            pause_ms(10);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------ the probe */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int parse(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        int n = (int)strtol(v, NULL, 10);
        if (strcmp(k, "--port") == 0)
            o.port = n;
        else if (strcmp(k, "--src") == 0)
            o.src = v;
        else if (strcmp(k, "--slowloris") == 0)
            o.slowloris = n;
        else if (strcmp(k, "--login-loops") == 0)
            o.login_loops = n;
        else if (strcmp(k, "--seconds") == 0)
            o.seconds = n;
        else if (strcmp(k, "--probe-ms") == 0)
            o.probe_ms = n;
        else
            return -1;
    }
    return argc % 2 == 1 && o.port > 0 && o.seconds > 0 && o.probe_ms > 0 && o.login_loops <= 64 &&
                   o.slowloris <= MAX_SLOW
               ? 0
               : -1;
}

int main(int argc, char **argv)
{
    if (parse(argc, argv) < 0) {
        fprintf(stderr, "usage: tp-attack --port P [--src ADDR] [--slowloris N]"
                        " [--login-loops L<=64] [--seconds S] [--probe-ms MS]\n");
        return 2;
    }
    pthread_t th[65];
    int nth = 0;
    if (o.slowloris > 0 && pthread_create(&th[nth], NULL, slowloris, NULL) == 0)
        nth++;
    for (int i = 0; i < o.login_loops; i++)
        if (pthread_create(&th[nth], NULL, login_flood, NULL) == 0)
            nth++;
    if (nth)
        pause_ms(3000); /* the attack in place before measuring */
    static double ms[MAX_SAMPLES];
    int n = 0, errors = 0;
    double end = now_s() + o.seconds;
    while (now_s() < end && n < MAX_SAMPLES) {
        double t0 = now_s();
        int fd = dial(NULL);
        int st = fd < 0
                     ? -1
                     : exchange(fd, "GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        if (fd >= 0)
            close(fd);
        double t = (now_s() - t0) * 1000;
        if (st == 200)
            ms[n++] = t;
        else
            errors++;
        if (t < o.probe_ms)
            pause_ms(o.probe_ms - (int)t);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    qsort(ms, (size_t)n, sizeof *ms, cmp_double);
    printf("%.3f %.3f %d %d %ld %ld %ld %ld %ld\n", n ? ms[(n - 1) / 2] : 0.0,
           n ? ms[(int)((n - 1) * 0.99)] : 0.0, n, errors, atomic_load(&held),
           atomic_load(&refused), atomic_load(&logins), atomic_load(&login_429),
           atomic_load(&login_refused));
    return 0;
}
