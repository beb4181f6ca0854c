/* http.h -- the API's request/response plumbing over libmicrohttpd: one
 * tp_req per request (method, path, query, body collected up to a cap, the
 * caller's identity once authenticated), a route table matched segment by
 * segment ("{id}" matches a positive integer only), JSON and problem+json
 * responses, a database connection pool, and per-route counters. */
#ifndef TP_HTTP_H
#define TP_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>

#include "api.h"
#include "db/db.h"
#include "db/lists.h"

typedef enum tp_role { TP_ROLE_NONE = 0, TP_ROLE_VIEWER, TP_ROLE_OPERATOR, TP_ROLE_ADMIN } tp_role;

const char *tp_role_name(tp_role r);
tp_role tp_role_parse(const char *s); /* TP_ROLE_NONE when unknown */

typedef struct tp_server tp_server;

typedef struct tp_req {
    tp_server *srv;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    char *body; /* NUL-terminated, or NULL */
    size_t body_len;
    int body_too_large;
    long long ids[2]; /* the {id} segments, in order */
    char code[65];    /* the {code} segment (a branch code) or {sha256} (64 hex) */
    /* a multipart upload (routes with `upload`): its file, spooled to disk */
    struct MHD_PostProcessor *pp;
    char upload_path[256]; /* "" when none */
    FILE *upload;
    char upload_name[256]; /* the file's name as sent */
    char upload_type[16];  /* the "type" form field */
    uint64_t upload_size;
    int upload_bad;      /* 1: over the cap; 2: not multipart; 3: write error;
                            4: a file name that is not UTF-8 */
    uint64_t upload_cap; /* bytes of the file at most */
    int route;           /* index into the route table, -1 = none */
    char request_id[33];
    char subject[64]; /* the token's user, "" before auth */
    tp_role role;
    tp_db *db; /* from the pool, for the handler */
    struct MHD_Response *resp;
    unsigned status;
    char *cache_key;    /* a cached route's key, while its answer is computed */
    uint64_t cache_gen; /* the cache generation read before computing it */
    /* the edge (http.c, guard.h) */
    char *raw_uri;        /* the request target as sent, before any decoding */
    int started;          /* 1 after the first call (the headers) */
    char who[80];         /* whose body budget: the user, or "@address" */
    size_t body_reserved; /* body bytes reserved in that budget */
} tp_req;

/* A handler fills req->resp/status via tp_reply_*; returns nothing. */
typedef void (*tp_handler)(tp_req *req);

typedef struct tp_route {
    const char *method;
    const char *pattern; /* "/api/jobs/{id}/retry" */
    tp_role need;        /* TP_ROLE_NONE: no token needed */
    tp_handler fn;
    const char *name; /* metrics label */
    int no_db;        /* the handler needs no pooled connection (req->db NULL) */
    int limit;        /* rate-limit class: 0 none, TP_LIMIT_LOGIN, TP_LIMIT_QUEUE */
    int upload;       /* the body is a multipart/form-data upload, spooled to a file */
    int cached;       /* a GET whose 200 answers may be kept until jobs or records change
                         (cache.h); only for answers that do not depend on who asks */
} tp_route;

enum { TP_LIMIT_LOGIN = 1, TP_LIMIT_QUEUE = 2 };

/* The route table (routes.c) and its size. */
extern const tp_route tp_routes[];
extern const int tp_nroutes;

/* Get ready for a multipart/form-data upload of at most `cap` bytes:
 * libmicrohttpd's post processor with tillpipe's form callback, the "file"
 * part spooled to a temporary file in $TMPDIR, the "type" field kept (the
 * processor in req->pp, or req->upload_bad = 2 when the request is not
 * multipart).  Feed it with MHD_post_process. */
void tp__upload_start(tp_req *req, uint64_t cap);

/* Responses. */
void tp_reply_json(tp_req *req, unsigned status, json_t *body); /* steals body */
void tp_reply_text(tp_req *req, unsigned status, const char *ctype, const char *text);
/* A body the caller malloc'd: the reply owns it from here. */
void tp_reply_owned(tp_req *req, unsigned status, const char *ctype, char *body, size_t len);
/* RFC 9457 problem: {"type","title","status","detail","code"}. */
void tp_reply_problem(tp_req *req, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A database failure: 503 database_unavailable, no SQL or message leaked. */
void tp_reply_db_error(tp_req *req, const tp_error *err);

/* Query parameters. */
const char *tp_query(tp_req *req, const char *name);

/* The JSON body as an object, or NULL after replying 400/413/415. */
json_t *tp_body_object(tp_req *req);

/* Record a mutating call in audit_log (actor = the token's subject);
 * `details` (may be NULL) is stolen. */
void tp_audit(tp_req *req, const char *action, const char *target, json_t *details);

/* A handler that answers with a stream (an export, an event stream) gets a
 * database connection of its own for as long as the stream lasts: the
 * request's pooled one, the pool making itself another, or a new one.
 * At most max_streams at once, of which event streams may not take the
 * exports' reserve, and at most streams_per_user of one user's: NULL after
 * replying 503 too_many_streams (the server's slots), 429 too_many_streams
 * (the user's) or the database error; else give it back with
 * tp_server_release_db when the stream ends. */
tp_db *tp_req_stream_db(tp_req *req);
void tp_server_release_db(tp_server *s, tp_db *db);

/* 1 once the server is stopping (long streams end). */
int tp_server_stopping(const tp_server *s);

/* The server's options and shared state, for handlers. */
const tp_api_opts *tp_server_opts(const tp_server *s);
tp_list_totals *tp_server_totals(tp_server *s);
/* Prometheus text of the HTTP counters, appended to `out` (a growing string). */
void tp_server_metrics(tp_server *s, char **out, size_t *len, size_t *cap);

/* auth.c */
/* A signed token for `subject` with `role` and the user's token `version`,
 * a new random jti, valid `ttl` seconds (caller frees). */
char *tp_token_issue(const char *secret, const char *subject, tp_role role, long long version,
                     int ttl, long long *expires_at);
int tp_password_verify(const char *hash, const char *password);
/* A bearer token, checked in full: HS256 with the server's secret only (alg
 * "none" and any other algorithm refused), not expired, a known role; and its
 * user as things are now -- it exists, is not disabled, its token version is
 * the token's, the token was not logged out.  0 with req->subject and
 * req->role (the user's current role) set, or -1 after replying (401, or 503
 * when the database had to be asked and could not answer). */
int tp_auth_current(tp_req *req, const char *token);

/* The pending bytes of a streamed response: handlers append, the
 * libmicrohttpd read callback drains. */
typedef struct tp_outbuf {
    char *data;
    size_t len, off, cap;
} tp_outbuf;

int tp_outbuf_append(tp_outbuf *b, const void *p, size_t n); /* 0 or -1 (memory) */
int tp_outbuf_empty(const tp_outbuf *b); /* 1 when drained (and reset for refilling) */
size_t tp_outbuf_drain(tp_outbuf *b, char *buf, size_t max);
void tp_outbuf_free(tp_outbuf *b);

/* The read callback's body for a stream kept in a tp_outbuf: when it is
 * empty, `fill` (unless NULL after the end) refills it; < 0 from fill ends the
 * stream with an error, an empty buffer after filling ends it normally. */
ssize_t tp_outbuf_serve(tp_outbuf *b, int (*fill)(void *ud), void *ud, char *buf, size_t max);

/* Answer with `resp` (a file or a callback response; 200), its content type
 * and, when not NULL, a download file name. */
void tp_reply_response(tp_req *req, struct MHD_Response *resp, const char *ctype,
                       const char *filename);

/* Answer 200 with a streamed body read through `cb`; when the response
 * cannot be made, `fr(cls)` runs and the answer is a 500. */
void tp_reply_stream(tp_req *req, MHD_ContentReaderCallback cb, void *cls,
                     MHD_ContentReaderFreeCallback fr, const char *ctype, const char *filename);

/* Grow-able string helper for text bodies. */
void tp_strcatf(char **out, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
