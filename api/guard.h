/* guard.h -- what keeps one client from taking the API down (http.c uses
 * it; private to api/):
 *
 *  - a deadline per request: a request's headers and body must be whole
 *    within `request_timeout` seconds of its start (the connection's start,
 *    or the end of the previous request on a kept-alive connection) -- a
 *    total, not an idle timer that each byte resets.  A watchdog thread cuts
 *    (shutdown(2)) the connections whose request is late; libmicrohttpd then
 *    closes them.  Connections are known from MHD_OPTION_NOTIFY_CONNECTION.
 *  - a budget of request body bytes in flight, per user (or per address for
 *    anonymous requests) and in all, reserved when a request's headers are
 *    complete, before any body byte is read;
 *  - slots for streams (exports, event streams): per user, and a reserve of
 *    the server's slots that only exports may take, so event streams never
 *    starve them.
 *
 * Every function is thread-safe.  Names: `who` is a user name or
 * "@address", at most TP__WHO_MAX bytes with its NUL.
 */
#ifndef TP_GUARD_H
#define TP_GUARD_H

#include <stddef.h>

#define TP__WHO_MAX 80

typedef struct tp__guard tp__guard;
typedef struct tp__guard_conn tp__guard_conn;

typedef struct tp__guard_opts {
    double request_timeout; /* seconds for a request's headers and body */
    size_t body_user;       /* body bytes in flight per user (or address) */
    size_t body_total;      /* body bytes in flight in all */
    int max_streams;        /* streams open at once */
    int stream_reserve;     /* of those, slots only exports may take */
    int streams_per_user;   /* streams one user may hold */
} tp__guard_opts;

/* Start the watchdog: the guard, or NULL (memory, threads). */
tp__guard *tp__guard_create(const tp__guard_opts *o);
/* Stop the watchdog; every connection must be closed already.  NULL: no-op. */
void tp__guard_destroy(tp__guard *g);

/* ---- connections ---- */

/* A connection on socket `fd` has opened: its first request's deadline runs
 * from now.  NULL when out of memory (the connection then has no deadline). */
tp__guard_conn *tp__guard_conn_open(tp__guard *g, int fd);
/* The connection is closed (before its socket is): forget it.  NULL: no-op. */
void tp__guard_conn_close(tp__guard *g, tp__guard_conn *c);
/* Its request is whole (or answered before its body): no deadline while
 * the answer goes out. */
void tp__guard_conn_received(tp__guard *g, tp__guard_conn *c);
/* Its request is over: the next request's deadline runs from now. */
void tp__guard_conn_idle(tp__guard *g, tp__guard_conn *c);
/* Connections cut for a late request so far. */
unsigned long long tp__guard_cuts(tp__guard *g);

/* ---- request bodies ---- */

enum { TP__GUARD_OK = 0, TP__GUARD_USER = 1, TP__GUARD_FULL = 2 };

/* Reserve `bytes` of body for `who`: TP__GUARD_OK, TP__GUARD_USER (over
 * the user's budget) or TP__GUARD_FULL (over the total).  Give back exactly
 * what was taken with tp__guard_body_give. */
int tp__guard_body_take(tp__guard *g, const char *who, size_t bytes);
void tp__guard_body_give(tp__guard *g, const char *who, size_t bytes);

/* ---- streams ---- */

enum { TP__STREAM_EVENTS = 1, TP__STREAM_EXPORT = 2 };

/* A stream slot for `who`'s stream of `kind`, known by `key` (unique while
 * the stream lasts): TP__GUARD_OK, TP__GUARD_USER (who holds
 * streams_per_user already) or TP__GUARD_FULL (no slot left for the kind). */
int tp__guard_stream_take(tp__guard *g, const char *who, int kind, const void *key);
/* The slot held by `from` is now known by `to`. */
void tp__guard_stream_rekey(tp__guard *g, const void *from, const void *to);
/* Give `key`'s slot back (a key holding none: no-op). */
void tp__guard_stream_give(tp__guard *g, const void *key);

#endif
