/* api.h -- tillpipe's HTTP API for operators (libmicrohttpd, jansson).
 *
 * `tillpipe serve` runs it: JSON in and out, errors as RFC 9457
 * application/problem+json with a stable `code`, 202 for queued work, lists
 * with filters, `limit`, an opaque keyset `cursor`, `total` and `next`.
 * Every /api route but login wants a bearer token (JWT HS256, libjwt) whose
 * role allows it: viewer reads; operator also queues, retries and cancels;
 * admin also manages branches and users.  Users live in the database with
 * argon2id password hashes (libsodium).  Every mutating call is written to
 * audit_log with the token's subject and the request id.
 */
#ifndef TP_API_H
#define TP_API_H

#include <signal.h>

#include "core/error.h"
#include "pipeline/plugset.h"
#include "store/store.h"

typedef struct tp_api_opts {
    const char *db_url;
    const char *listen_host;    /* "127.0.0.1" by default */
    int port;                   /* 0 = any free port */
    const char *port_file;      /* write the bound port here (temp + rename), or NULL */
    const char *jwt_secret;     /* HS256 key, at least 32 bytes */
    int token_ttl;              /* seconds, default 3600 */
    int threads;                /* pooled database connections for requests, default one per CPU */
    int max_streams;            /* exports and event streams open at once, default 32 */
    size_t max_body;            /* request body cap in bytes, default 1 MiB */
    size_t max_upload;          /* uploaded file cap (test-parse), default 16 MiB */
    tp_store *store;            /* borrowed, for /readyz (may be NULL) */
    struct tp_plugset *plugset; /* borrowed, for /api/plugins, test-parse (may be NULL) */
    int rate_login;             /* login attempts per minute per client, 0 = no limit */
    int rate_queue;             /* queuing calls per minute per client, 0 = no limit */
    int no_list_cache;          /* compute every list answer anew (see api/cache.h) */
    int quiet;
    /* borrowed: the report servers a branch may name (io/allow.h); NULL: none */
    const struct tp_allow *report_server_allow;
} tp_api_opts;

/* Serve until *stop becomes non-zero.  Returns 0, or < 0 with err set when
 * the server could not start (port taken, no database). */
int tp_api_serve(const tp_api_opts *o, volatile sig_atomic_t *stop, tp_error *err);

/* Passwords: an argon2id hash string (libsodium's crypto_pwhash_str). */
int tp_api_hash_password(const char *password, char out[128], tp_error *err);

#endif
