/* api.h -- tillpipe's HTTP API for operators (libmicrohttpd, jansson).
 *
 * `tillpipe serve` runs it: JSON in and out, errors as RFC 9457
 * application/problem+json with a stable `code`, 202 for queued work, lists
 * with filters, `limit`, an opaque keyset `cursor`, `total` and `next`.
 * Every /api route but login wants a bearer token (JWT HS256, libjwt) whose
 * user still holds it (not removed, not disabled, its token version
 * unchanged, the token not logged out) and whose role -- the user's role
 * now -- allows it: viewer reads; operator also queues, retries and
 * cancels; admin also manages branches and users.  Users live in the database with
 * argon2id password hashes (libsodium).  Every mutating call is written to
 * audit_log with the token's subject and the request id.
 */
#ifndef TP_API_H
#define TP_API_H

#include <signal.h>

#include "core/error.h"
#include "pipeline/plugset.h"
#include "store/store.h"

typedef struct tp_auth tp_auth; /* who may use the API now (auth.c, session.c) */
typedef struct tp_ops tp_ops;   /* the metrics snapshot and who may read it (ops.c) */

typedef struct tp_api_opts {
    const char *db_url;
    const char *listen_host;    /* "127.0.0.1" by default */
    int port;                   /* 0 = any free port */
    const char *port_file;      /* write the bound port here (temp + rename), or NULL */
    const char *jwt_secret;     /* HS256 key, at least 32 bytes */
    int token_ttl;              /* seconds, default 3600 */
    int threads;                /* pooled database connections for requests, default one per CPU */
    int max_streams;            /* exports and event streams open at once, default 32 */
    int streams_per_user;       /* streams one user may hold open, default 4 */
    int max_connections;        /* client connections at once, default 1000 */
    int conns_per_client;       /* of those, from one address, default 32 */
    double request_timeout;     /* seconds for a request's headers and body, default 30 */
    size_t body_budget;         /* request body bytes in flight per user, default 32 MiB */
    size_t max_body;            /* request body cap in bytes, default 1 MiB */
    size_t max_upload;          /* uploaded file cap (test-parse), default 16 MiB */
    tp_store *store;            /* borrowed, for /readyz (may be NULL) */
    struct tp_plugset *plugset; /* borrowed, for /api/plugins, test-parse (may be NULL) */
    int rate_login;             /* failed logins an account takes in 15 minutes before the
                                   addresses that failed on it wait (growing), 0 = no limit */
    int login_hashes;           /* password hashes at once, default half the CPUs (4 wait
                                   for each; more logins are 503 login_busy) */
    const char *metrics_token;  /* a bearer token good for GET /metrics only, or NULL */
    const char *metrics_allow;  /* CIDR[,CIDR]: who reads /metrics without a token
                                   (NULL: loopback, 127.0.0.0/8 and ::1) */
    tp_auth *auth;              /* tp_auth_create's, borrowed; required */
    tp_ops *ops;                /* tp_ops_create's, borrowed; required */
    int rate_queue;             /* queuing calls per minute per client, 0 = no limit */
    int no_list_cache;          /* compute every list answer anew (see api/cache.h) */
    int quiet;
    /* borrowed: the report servers a branch may name (io/allow.h); NULL: none */
    const struct tp_allow *report_server_allow;
} tp_api_opts;

/* What the server shares beyond HTTP, made before tp_api_serve and
 * destroyed after it (each NULL-safe):
 *  - tp_auth: users' current state and the revoked tokens, kept in memory
 *    by a thread LISTENing on the database (every request's token is
 *    checked against it; the database itself while that thread is not
 *    listening), the per-account login throttle, the bound on password
 *    hashes, and a connection of its own for logins.
 *  - tp_ops: the database's metrics, refreshed by a thread with its own
 *    connection, and the access rule of GET /metrics.
 * NULL with err set (TP_EUSAGE for a bad metrics_allow, TP_ENOMEM). */
tp_auth *tp_auth_create(const tp_api_opts *o, tp_error *err);
void tp_auth_destroy(tp_auth *a);
tp_ops *tp_ops_create(const tp_api_opts *o, tp_error *err);
void tp_ops_destroy(tp_ops *m);

/* Check a --metrics-allow list ("CIDR[,CIDR]", IPv4 or IPv6; an address
 * alone is one host).  0, or TP_EUSAGE with err saying which part. */
int tp_metrics_allow_check(const char *list, tp_error *err);

/* Serve until *stop becomes non-zero.  Returns 0, or < 0 with err set when
 * the server could not start (port taken, no database). */
int tp_api_serve(const tp_api_opts *o, volatile sig_atomic_t *stop, tp_error *err);

/* Passwords: an argon2id hash string (libsodium's crypto_pwhash_str). */
int tp_api_hash_password(const char *password, char out[128], tp_error *err);

#endif
