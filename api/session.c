/* session.c -- see session.h and tp_auth_create (api.h). */
#include "session.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "db/users.h"

/* More users or live revoked tokens than this are not kept in memory:
 * every check then asks the database. */
#define SNAPSHOT_MAX 100000
#define RELOAD_EVERY_S 60.0 /* drop revocations of expired tokens now and then */
#define WAITING_PER_HASH 4  /* logins that may wait for each hash slot */

typedef struct snapshot {
    tp_user_state *users; /* by name, bytewise */
    size_t nusers, capusers;
    char (*jtis)[65]; /* revoked, by jti, bytewise */
    size_t njtis, capjtis;
    unsigned long long seen; /* local changes made before it was read */
} snapshot;

struct tp_auth {
    char *db_url;
    int free_failures;
    char dummy[crypto_pwhash_STRBYTES];
    pthread_t listener;
    int started; /* the listener runs */
    atomic_int stop;
    atomic_ullong changes; /* changes this process made (logouts) */
    pthread_mutex_t mu;    /* guards snap and the counters */
    snapshot *snap;        /* NULL: not listening, ask the database */
    unsigned long long verifications, busy, throttled;
    pthread_mutex_t db_mu; /* guards db */
    tp_db *db;             /* the logins' connection (NULL: not connected) */
    pthread_mutex_t hash_mu;
    pthread_cond_t hash_cv;
    int hashing, waiting, max_hashing;
};

/* ------------------------------------------------------------ snapshot */

static void snapshot_free(snapshot *s)
{
    if (!s)
        return;
    free(s->users);
    free(s->jtis);
    free(s);
}

static int add_user(void *ud, const tp_user_state *u)
{
    snapshot *s = ud;
    if (s->nusers == SNAPSHOT_MAX)
        return TP_ELIMIT;
    if (s->nusers == s->capusers) {
        size_t cap = s->capusers ? s->capusers * 2 : 64;
        tp_user_state *m = realloc(s->users, cap * sizeof *m);
        if (!m)
            return TP_ENOMEM;
        s->users = m;
        s->capusers = cap;
    }
    s->users[s->nusers++] = *u;
    return TP_OK;
}

static int add_jti(void *ud, const char *jti)
{
    snapshot *s = ud;
    if (s->njtis == SNAPSHOT_MAX)
        return TP_ELIMIT;
    if (s->njtis == s->capjtis) {
        size_t cap = s->capjtis ? s->capjtis * 2 : 64;
        char(*m)[65] = realloc(s->jtis, cap * sizeof *m);
        if (!m)
            return TP_ENOMEM;
        s->jtis = m;
        s->capjtis = cap;
    }
    snprintf(s->jtis[s->njtis++], 65, "%s", jti);
    return TP_OK;
}

/* Every user and revoked token as the database has them now; NULL when it
 * cannot be read or is too large to keep. */
static snapshot *snapshot_load(tp_auth *a, tp_db *db)
{
    snapshot *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->seen = atomic_load(&a->changes); /* before reading: a change after it is newer */
    tp_error err = {0};
    if (tp_users_each(db, add_user, s, &err) < 0 || tp_revoked_each(db, add_jti, s, &err) < 0) {
        snapshot_free(s);
        return NULL;
    }
    return s;
}

static void publish(tp_auth *a, snapshot *s)
{
    pthread_mutex_lock(&a->mu);
    snapshot *old = a->snap;
    a->snap = s;
    pthread_mutex_unlock(&a->mu);
    snapshot_free(old);
}

static int by_name(const void *k, const void *e)
{
    return strcmp(k, ((const tp_user_state *)e)->name);
}

static int by_jti(const void *k, const void *e)
{
    return strcmp(k, *(const char(*)[65])e);
}

static void pause_ms(tp_auth *a, int ms)
{
    for (; ms > 0 && !atomic_load(&a->stop); ms -= 100)
        tp_sleep(0.1);
}

/* LISTEN, then load; load again on every notification (and now and then);
 * on any failure forget the snapshot until listening again. */
static void *listen_loop(void *arg)
{
    tp_auth *a = arg;
    int backoff = 500;
    while (!atomic_load(&a->stop)) {
        tp_error err = {0};
        tp_db *db = tp_db_connect(a->db_url, &err);
        if (!db || tp_db_listen(db, TP_CHANNEL_USERS, &err) < 0) {
            tp_db_close(db);
            pause_ms(a, backoff);
            backoff = backoff < 16000 ? backoff * 2 : backoff;
            continue;
        }
        backoff = 500;
        int n = 1;
        double loaded = 0;
        while (!atomic_load(&a->stop) && n >= 0) {
            if (n > 0 || tp_now() - loaded > RELOAD_EVERY_S) {
                snapshot *s = snapshot_load(a, db);
                publish(a, s);
                loaded = tp_now();
                if (!s && tp_db_broken(db))
                    break;
            }
            n = tp_db_wait(db, 250, -1, NULL);
        }
        publish(a, NULL);
        tp_db_close(db);
    }
    return NULL;
}

/* ------------------------------------------------------------ checks */

static int judge(const tp_claims *c, const tp_user_state *u, int found, int revoked, tp_role *role,
                 const char **why)
{
    if (!found)
        *why = "the token's user no longer exists";
    else if (u->disabled)
        *why = "the token's user is disabled";
    else if (u->token_version != c->ver)
        *why = "token revoked: the user's password, role or standing changed since it was issued";
    else if (revoked)
        *why = "token revoked: logged out";
    else if ((*role = tp_role_parse(u->role)) == TP_ROLE_NONE)
        *why = "the token's user has no known role";
    else
        return 0;
    return 1;
}

/* The check from memory: 0 or 1 as tp__auth_check; -1 when memory cannot
 * answer (not listening, or a change of ours not yet reloaded). */
static int check_memory(tp_auth *a, const tp_claims *c, tp_role *role, const char **why)
{
    pthread_mutex_lock(&a->mu);
    snapshot *s = a->snap;
    if (!s || s->seen < atomic_load(&a->changes)) {
        pthread_mutex_unlock(&a->mu);
        return -1;
    }
    const tp_user_state *u =
        s->nusers ? bsearch(c->sub, s->users, s->nusers, sizeof *s->users, by_name) : NULL;
    tp_user_state copy = {.token_version = 0};
    if (u)
        copy = *u;
    int revoked = s->njtis && bsearch(c->jti, s->jtis, s->njtis, sizeof *s->jtis, by_jti);
    pthread_mutex_unlock(&a->mu);
    return judge(c, &copy, u != NULL, revoked, role, why);
}

int tp__auth_check(tp_auth *a, const tp_claims *c, tp_db *db, tp_role *role, const char **why,
                   tp_error *err)
{
    int rc = check_memory(a, c, role, why);
    if (rc >= 0)
        return rc;
    tp_db *own = db ? NULL : tp__auth_db_get(a, err);
    if (!db && !own)
        return TP_EDB;
    tp_user_state u;
    int found = 0, revoked = 0;
    rc = tp_user_state_get(db ? db : own, c->sub, c->jti, &u, &found, &revoked, err);
    if (own)
        tp__auth_db_put(a, own);
    return rc < 0 ? TP_EDB : judge(c, &u, found, revoked, role, why);
}

void tp__auth_changed(tp_auth *a)
{
    atomic_fetch_add(&a->changes, 1);
}

tp_db *tp__auth_db_get(tp_auth *a, tp_error *err)
{
    pthread_mutex_lock(&a->db_mu);
    if (a->db && tp_db_broken(a->db)) {
        tp_db_close(a->db);
        a->db = NULL;
    }
    if (!a->db && !(a->db = tp_db_connect(a->db_url, err))) {
        pthread_mutex_unlock(&a->db_mu);
        return NULL;
    }
    return a->db;
}

void tp__auth_db_put(tp_auth *a, tp_db *db)
{
    tp_db_abandon(db);
    pthread_mutex_unlock(&a->db_mu);
}

/* ------------------------------------------------------------ hashing */

int tp__auth_verify(tp_auth *a, const char *hash, const char *password)
{
    pthread_mutex_lock(&a->hash_mu);
    if (a->hashing >= a->max_hashing && a->waiting >= a->max_hashing * WAITING_PER_HASH) {
        pthread_mutex_unlock(&a->hash_mu);
        pthread_mutex_lock(&a->mu);
        a->busy++;
        pthread_mutex_unlock(&a->mu);
        return -1;
    }
    a->waiting++;
    while (a->hashing >= a->max_hashing)
        pthread_cond_wait(&a->hash_cv, &a->hash_mu);
    a->waiting--;
    a->hashing++;
    pthread_mutex_unlock(&a->hash_mu);
    /* the dummy hash has the same cost as a user's: an unknown user takes
     * as long as a wrong password */
    int ok = crypto_pwhash_str_verify(hash ? hash : a->dummy, password, strlen(password)) == 0;
    pthread_mutex_lock(&a->hash_mu);
    a->hashing--;
    pthread_cond_signal(&a->hash_cv);
    pthread_mutex_unlock(&a->hash_mu);
    pthread_mutex_lock(&a->mu);
    a->verifications++;
    pthread_mutex_unlock(&a->mu);
    return ok && hash;
}

int tp__auth_free_failures(const tp_auth *a)
{
    return a->free_failures;
}

void tp__auth_count_throttled(tp_auth *a)
{
    pthread_mutex_lock(&a->mu);
    a->throttled++;
    pthread_mutex_unlock(&a->mu);
}

void tp__auth_metrics(tp_auth *a, char **out, size_t *len, size_t *cap)
{
    pthread_mutex_lock(&a->mu);
    unsigned long long v = a->verifications, b = a->busy, t = a->throttled;
    int listening = a->snap != NULL;
    pthread_mutex_unlock(&a->mu);
    tp_strcatf(out, len, cap,
               "# HELP tillpipe_login_verifications_total Password verifications run by logins"
               " (unknown users too).\n# TYPE tillpipe_login_verifications_total counter\n"
               "tillpipe_login_verifications_total %llu\n"
               "# HELP tillpipe_login_refused_total Logins refused before any verification.\n"
               "# TYPE tillpipe_login_refused_total counter\n"
               "tillpipe_login_refused_total{reason=\"throttled\"} %llu\n"
               "tillpipe_login_refused_total{reason=\"busy\"} %llu\n"
               "# HELP tillpipe_auth_cache_listening 1 while users are checked from memory"
               " (0: each request asks the database).\n"
               "# TYPE tillpipe_auth_cache_listening gauge\ntillpipe_auth_cache_listening %d\n",
               v, t, b, listening);
}

/* ------------------------------------------------------------ requests */

int tp__client_address(tp_req *req, struct sockaddr_storage *sa, char text[64])
{
    snprintf(text, 64, "?");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return -1;
    const struct sockaddr *p = ci->client_addr;
    if (p->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)p)->sin_addr, text, 64);
        if (sa)
            memcpy(sa, p, sizeof(struct sockaddr_in));
    } else if (p->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)p)->sin6_addr, text, 64);
        if (sa)
            memcpy(sa, p, sizeof(struct sockaddr_in6));
    } else
        return -1;
    return 0;
}

const char *tp__bearer(tp_req *req)
{
    const char *h =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    return h && strncasecmp(h, "Bearer ", 7) == 0 ? h + 7 : NULL;
}

/* ------------------------------------------------------------ lifetime */

tp_auth *tp_auth_create(const tp_api_opts *o, tp_error *err)
{
    if (sodium_init() < 0) {
        tp_error_set(err, TP_EIO, "libsodium could not start");
        return NULL;
    }
    tp_auth *a = calloc(1, sizeof *a);
    if (!a || !(a->db_url = strdup(o->db_url ? o->db_url : ""))) {
        free(a);
        tp_error_set(err, TP_ENOMEM, "out of memory");
        return NULL;
    }
    a->free_failures = o->rate_login;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    a->max_hashing = o->login_hashes > 0 ? o->login_hashes : cpus >= 4 ? (int)(cpus / 2) : 1;
    unsigned char pw[32];
    randombytes_buf(pw, sizeof pw);
    int rc = crypto_pwhash_str_alg(
        a->dummy, (const char *)pw, sizeof pw, crypto_pwhash_OPSLIMIT_INTERACTIVE,
        crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13);
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->db_mu, NULL);
    pthread_mutex_init(&a->hash_mu, NULL);
    pthread_cond_init(&a->hash_cv, NULL);
    if (rc == 0)
        a->started = pthread_create(&a->listener, NULL, listen_loop, a) == 0;
    if (!a->started) {
        tp_auth_destroy(a);
        tp_error_set(err, TP_ENOMEM, "out of memory (the login state)");
        return NULL;
    }
    return a;
}

void tp_auth_destroy(tp_auth *a)
{
    if (!a)
        return;
    atomic_store(&a->stop, 1);
    if (a->started)
        pthread_join(a->listener, NULL);
    snapshot_free(a->snap);
    tp_db_close(a->db);
    pthread_mutex_destroy(&a->mu);
    pthread_mutex_destroy(&a->db_mu);
    pthread_mutex_destroy(&a->hash_mu);
    pthread_cond_destroy(&a->hash_cv);
    free(a->db_url);
    free(a);
}
