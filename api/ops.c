/* ops.c -- health and metrics: GET /livez, /readyz, /metrics.
 *
 * The database's metrics come from a snapshot (tp_ops, api.h) that a
 * thread with its own connection refreshes -- every few seconds, and at
 * once for the scrapes waiting on it, all of them served by one refresh.
 * A refresh first reads the database's write-ahead-log position (one
 * trivial statement) and runs the aggregates only when it moved since the
 * snapshot was taken, so a scrape always sees what was committed before it
 * and costs nothing while nothing changes; no scrape ever takes a
 * connection from the request pool.  When the database does not answer,
 * the last snapshot is served with its age and tillpipe_database_up 0.
 *
 * Who may scrape: an address of --metrics-allow (default loopback), or a
 * bearer token that is --metrics-token or any valid API token. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "db/metrics.h"
#include "db/workers.h"
#include "routes.h"
#include "session.h"
#include "store/store.h"

#define REFRESH_EVERY_S 5
#define SCRAPE_WAIT_S 5 /* a scrape waits this long for a refresh, then takes the last one */
#define ALLOW_MAX 32

void tp__livez(tp_req *req)
{
    tp_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

/* Its own short-lived connection: a pool starved by a dead database must
 * not make the probe wait. */
void tp__readyz(tp_req *req)
{
    tp_error err = {0};
    long long live = 0;
    tp_db *db = tp_db_connect(tp_server_opts(req->srv)->db_url, &err);
    int rc = db ? tp_workers_alive(db, &live, &err) : TP_EDB;
    tp_db_close(db);
    if (rc < 0) {
        tp_reply_problem(req, 503, "not_ready", "database: not answering");
        return;
    }
    tp_store *st = tp_server_opts(req->srv)->store;
    if (st && tp_store_check(st, &err) < 0) {
        tp_reply_problem(req, 503, "not_ready", "store: not answering");
        return;
    }
    if (live == 0) {
        tp_reply_problem(req, 503, "not_ready",
                         "no live worker: none has sent a heartbeat in the last 2 minutes");
        return;
    }
    tp_reply_json(req, 200,
                  json_pack("{s:s, s:s, s:s, s:I}", "status", "ready", "database", "ok", "store",
                            st ? "ok" : "not configured", "workers", (json_int_t)live));
}

/* ------------------------------------------------------------ access */

typedef struct cidr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int bits;
} cidr;

/* One "ADDRESS[/BITS]": 0, or -1. */
static int cidr_parse(const char *s, size_t n, cidr *c)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    c->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
    int max = c->family == AF_INET ? 32 : 128;
    if (inet_pton(c->family, buf, c->addr) != 1)
        return -1;
    c->bits = max;
    if (slash) {
        char *end;
        long b = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || b < 0 || b > max)
            return -1;
        c->bits = (int)b;
    }
    return 0;
}

/* A comma-separated list into c (at most ALLOW_MAX): the count, or -1
 * with err saying which part is wrong. */
static int allow_parse(const char *list, cidr *c, tp_error *err)
{
    int n = 0;
    for (const char *p = list;; p++) {
        size_t len = strcspn(p, ",");
        if (n == ALLOW_MAX || cidr_parse(p, len, &c[n]) < 0) {
            tp_error_set(err, TP_EUSAGE,
                         n == ALLOW_MAX ? "--metrics-allow: at most %d networks"
                                        : "--metrics-allow: \"%.*s\" is not ADDRESS[/BITS]",
                         n == ALLOW_MAX ? ALLOW_MAX : (int)len, p);
            return -1;
        }
        n++;
        p += len;
        if (!*p)
            return n;
    }
}

int tp_metrics_allow_check(const char *list, tp_error *err)
{
    cidr c[ALLOW_MAX];
    return allow_parse(list, c, err) < 0 ? TP_EUSAGE : TP_OK;
}

static int cidr_match(const cidr *c, const struct sockaddr_storage *sa)
{
    const unsigned char *a;
    unsigned char mapped[4];
    if (sa->ss_family == AF_INET && c->family == AF_INET)
        a = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
    else if (sa->ss_family == AF_INET6 && c->family == AF_INET6)
        a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    else if (sa->ss_family == AF_INET6 && c->family == AF_INET &&
             IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr))
        a = memcpy(mapped, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr + 12, 4);
    else
        return 0;
    int full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(a, c->addr, (size_t)full) != 0)
        return 0;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return rest == 0 || (a[full] & mask) == (c->addr[full] & mask);
}

/* ------------------------------------------------------------ snapshot */

struct tp_ops {
    char *db_url;
    cidr allow[ALLOW_MAX];
    int nallow;
    unsigned char token_hash[crypto_hash_sha256_BYTES]; /* of --metrics-token */
    int has_token;
    pthread_t th;
    int started;
    atomic_int stop;
    pthread_mutex_t mu; /* guards what follows */
    pthread_cond_t want_cv, done_cv;
    unsigned long long want, done; /* refresh rounds asked for, and done */
    char *text;                    /* the snapshot, NULL before the first */
    char mark[32];                 /* the log position read before it was taken */
    double taken_at;
    int db_up;
    unsigned long long refreshes;
};

/* One round: the mark, and the aggregates when it moved. */
static void refresh(tp_ops *m, tp_db **db)
{
    tp_error err = {0};
    char mark[32];
    if (*db && tp_db_broken(*db)) {
        tp_db_close(*db);
        *db = NULL;
    }
    if (!*db)
        *db = tp_db_connect(m->db_url, &err);
    int up = *db && tp_metrics_mark(*db, mark, &err) == 0;
    pthread_mutex_lock(&m->mu);
    int same = up && m->text && strcmp(mark, m->mark) == 0;
    pthread_mutex_unlock(&m->mu);
    char *text = up && !same ? tp_metrics_text(*db, &err) : NULL;
    pthread_mutex_lock(&m->mu);
    m->db_up = up && (same || text);
    if (text) {
        free(m->text);
        m->text = text;
        snprintf(m->mark, sizeof m->mark, "%s", mark);
        m->refreshes++;
    }
    if (m->db_up)
        m->taken_at = tp_now();
    pthread_mutex_unlock(&m->mu);
}

static void *refresh_loop(void *arg)
{
    tp_ops *m = arg;
    tp_db *db = NULL;
    while (!atomic_load(&m->stop)) {
        pthread_mutex_lock(&m->mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += REFRESH_EVERY_S;
        while (m->want == m->done && !atomic_load(&m->stop))
            if (pthread_cond_timedwait(&m->want_cv, &m->mu, &until) != 0)
                break;
        unsigned long long round = m->want;
        pthread_mutex_unlock(&m->mu);
        if (atomic_load(&m->stop))
            break;
        refresh(m, &db);
        pthread_mutex_lock(&m->mu);
        m->done = round;
        pthread_cond_broadcast(&m->done_cv);
        pthread_mutex_unlock(&m->mu);
    }
    tp_db_close(db);
    return NULL;
}

/* A refresh made after now (or the last snapshot, after SCRAPE_WAIT_S):
 * a copy of its text with its age and the database's state; NULL when
 * there has never been one. */
static char *snapshot_text(tp_ops *m, double *age, int *up, unsigned long long *refreshes)
{
    pthread_mutex_lock(&m->mu);
    unsigned long long mine = ++m->want;
    pthread_cond_signal(&m->want_cv);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += SCRAPE_WAIT_S;
    while (m->done < mine && !atomic_load(&m->stop))
        if (pthread_cond_timedwait(&m->done_cv, &m->mu, &until) != 0)
            break;
    char *t = m->text ? strdup(m->text) : NULL;
    *age = m->text ? tp_now() - m->taken_at : 0;
    *up = m->done >= mine && m->db_up;
    *refreshes = m->refreshes;
    pthread_mutex_unlock(&m->mu);
    return t;
}

tp_ops *tp_ops_create(const tp_api_opts *o, tp_error *err)
{
    tp_ops *m = calloc(1, sizeof *m);
    if (!m || !(m->db_url = strdup(o->db_url ? o->db_url : ""))) {
        free(m);
        tp_error_set(err, TP_ENOMEM, "out of memory");
        return NULL;
    }
    m->nallow = allow_parse(o->metrics_allow ? o->metrics_allow : "127.0.0.0/8,::1", m->allow, err);
    if (o->metrics_token && *o->metrics_token) {
        m->has_token = 1;
        crypto_hash_sha256(m->token_hash, (const unsigned char *)o->metrics_token,
                           strlen(o->metrics_token));
    }
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->want_cv, NULL);
    pthread_cond_init(&m->done_cv, NULL);
    if (m->nallow >= 0)
        m->started = pthread_create(&m->th, NULL, refresh_loop, m) == 0;
    if (!m->started) {
        if (m->nallow >= 0)
            tp_error_set(err, TP_ENOMEM, "cannot start the metrics thread");
        tp_ops_destroy(m);
        return NULL;
    }
    return m;
}

void tp_ops_destroy(tp_ops *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    atomic_store(&m->stop, 1);
    pthread_cond_broadcast(&m->want_cv);
    pthread_cond_broadcast(&m->done_cv);
    pthread_mutex_unlock(&m->mu);
    if (m->started)
        pthread_join(m->th, NULL);
    free(m->text);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->want_cv);
    pthread_cond_destroy(&m->done_cv);
    free(m->db_url);
    sodium_memzero(m->token_hash, sizeof m->token_hash);
    free(m);
}

/* ------------------------------------------------------------ GET /metrics */

/* From an allowed address, with the metrics token, or with a valid API
 * token: 1; else 0. */
static int may_scrape(tp_req *req, tp_ops *m)
{
    struct sockaddr_storage sa;
    char text[64];
    if (tp__client_address(req, &sa, text) == 0)
        for (int i = 0; i < m->nallow; i++)
            if (cidr_match(&m->allow[i], &sa))
                return 1;
    const char *tok = tp__bearer(req);
    if (!tok || strlen(tok) > 4096)
        return 0;
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)tok, strlen(tok));
    if (m->has_token && sodium_memcmp(h, m->token_hash, sizeof h) == 0)
        return 1;
    const tp_api_opts *o = tp_server_opts(req->srv);
    tp_claims c;
    const char *why;
    tp_role role;
    tp_error err = {0};
    return o->auth && tp_token_claims(o->jwt_secret, tok, &c, &why) == 0 &&
           tp__auth_check(o->auth, &c, NULL, &role, &why, &err) == 0;
}

/* Prometheus text: what the database knows (the snapshot), then this
 * server's HTTP and login counters. */
void tp__metrics(tp_req *req)
{
    const tp_api_opts *o = tp_server_opts(req->srv);
    if (!o->ops) {
        tp_reply_problem(req, 503, "not_ready", "metrics are not available");
        return;
    }
    if (!may_scrape(req, o->ops)) {
        tp_reply_problem(req, 401, "unauthorized",
                         "metrics: from an allowed address (--metrics-allow), or with the"
                         " metrics token or an API token");
        return;
    }
    double age;
    int up;
    unsigned long long refreshes;
    char *out = snapshot_text(o->ops, &age, &up, &refreshes);
    if (!out) {
        tp_reply_problem(req, 503, "database_unavailable",
                         "the database could not answer; try again (request %s)", req->request_id);
        return;
    }
    size_t len = strlen(out), cap = len + 1;
    tp_strcatf(&out, &len, &cap,
               "# HELP tillpipe_database_up 1 when the database answered the last refresh.\n"
               "# TYPE tillpipe_database_up gauge\ntillpipe_database_up %d\n"
               "# HELP tillpipe_metrics_snapshot_age_seconds Age of the database's figures.\n"
               "# TYPE tillpipe_metrics_snapshot_age_seconds gauge\n"
               "tillpipe_metrics_snapshot_age_seconds %.3f\n"
               "# HELP tillpipe_metrics_refreshes_total Snapshots taken (the aggregates run).\n"
               "# TYPE tillpipe_metrics_refreshes_total counter\n"
               "tillpipe_metrics_refreshes_total %llu\n",
               up, age, refreshes);
    tp_server_metrics(req->srv, &out, &len, &cap);
    if (o->auth)
        tp__auth_metrics(o->auth, &out, &len, &cap);
    tp_reply_text(req, 200, "text/plain; version=0.0.4", out ? out : "");
    free(out);
}
