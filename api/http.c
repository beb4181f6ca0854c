/* http.c -- see http.h, and tp_api_serve (api.h). */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "core/clock.h"
#include "db/audit.h"
#include "guard.h"
#include "io/fsutil.h"
#include "routes.h"

#define MAX_STATUS 600
#define BUCKETS 1024 /* clients remembered per rate-limit class */
/* An upload's body is its file and the multipart framing around it. */
#define UPLOAD_FRAMING (64u << 10)

/* A token bucket per (class, client address): refilled at rate/60 per
 * second up to `rate`; the least recently used entry makes room. */
typedef struct bucket {
    char client[48];
    double tokens, at;
} bucket;

struct tp_server {
    tp_api_opts o;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    tp_db **pool; /* idle connections (NULL slots = not connected yet) */
    int npool, nfree;
    /* requests by route (tp_nroutes = unmatched) and status */
    unsigned long long (*hits)[MAX_STATUS];
    bucket buckets[2][BUCKETS];
    tp_cache *cache;        /* NULL with --no-list-cache */
    tp_list_totals *totals; /* estimated list totals, kept a few seconds */
    tp__guard *guard;       /* request deadlines, body budgets, stream slots */
    volatile int stopping;
};

int tp_server_stopping(const tp_server *s)
{
    return s->stopping;
}

const tp_api_opts *tp_server_opts(const tp_server *s)
{
    return &s->o;
}

tp_list_totals *tp_server_totals(tp_server *s)
{
    return s->totals;
}

void tp_strcatf(char **out, size_t *len, size_t *cap, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        size_t room = *cap - *len;
        int n = vsnprintf(*out ? *out + *len : NULL, *out ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (*out && (size_t)n < room) {
            *len += (size_t)n;
            return;
        }
        size_t ncap = (*cap ? *cap : 1024) * 2;
        while (ncap < *len + (size_t)n + 1)
            ncap *= 2;
        char *p = realloc(*out, ncap);
        if (!p)
            return;
        *out = p;
        *cap = ncap;
    }
}

int tp_outbuf_append(tp_outbuf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64 * 1024;
        while (cap < b->len + n)
            cap *= 2;
        char *m = realloc(b->data, cap);
        if (!m)
            return -1;
        b->data = m;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int tp_outbuf_empty(const tp_outbuf *b)
{
    return b->off == b->len;
}

size_t tp_outbuf_drain(tp_outbuf *b, char *buf, size_t max)
{
    size_t n = b->len - b->off < max ? b->len - b->off : max;
    memcpy(buf, b->data + b->off, n);
    b->off += n;
    if (b->off == b->len)
        b->off = b->len = 0;
    return n;
}

ssize_t tp_outbuf_serve(tp_outbuf *b, int (*fill)(void *ud), void *ud, char *buf, size_t max)
{
    if (tp_outbuf_empty(b)) {
        if (fill && fill(ud) < 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (tp_outbuf_empty(b))
            return MHD_CONTENT_READER_END_OF_STREAM;
    }
    return (ssize_t)tp_outbuf_drain(b, buf, max);
}

void tp_outbuf_free(tp_outbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------ pool */

static tp_db *pool_get(tp_server *s, tp_error *err)
{
    pthread_mutex_lock(&s->mu);
    while (s->nfree == 0)
        pthread_cond_wait(&s->cv, &s->mu);
    tp_db *db = s->pool[--s->nfree];
    pthread_mutex_unlock(&s->mu);
    if (db && tp_db_broken(db)) {
        tp_db_close(db);
        db = NULL;
    }
    if (!db)
        db = tp_db_connect(s->o.db_url, err);
    if (!db) { /* give the slot back empty */
        pthread_mutex_lock(&s->mu);
        s->pool[s->nfree++] = NULL;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    return db;
}

static void pool_put(tp_server *s, tp_db *db)
{
    tp_db_abandon(db);
    pthread_mutex_lock(&s->mu);
    s->pool[s->nfree++] = db;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* A stream slot for the request's user: 0, or -1 after replying 429 (the
 * user holds their share) or 503 (the server's slots, or those event
 * streams may take, are taken). */
static int stream_slot(tp_req *req)
{
    tp_server *s = req->srv;
    const tp_route *rt = req->route >= 0 ? &tp_routes[req->route] : NULL;
    int events = rt && rt->fn == tp__events;
    int rc = tp__guard_stream_take(s->guard, req->subject,
                                   events ? TP__STREAM_EVENTS : TP__STREAM_EXPORT, req);
    if (rc == TP__GUARD_USER) {
        tp_reply_problem(req, 429, "too_many_streams",
                         "you have %d streams (exports, event streams) open; close one first",
                         s->o.streams_per_user);
        if (req->resp)
            MHD_add_response_header(req->resp, MHD_HTTP_HEADER_RETRY_AFTER, "5");
        return -1;
    }
    if (rc != TP__GUARD_OK) {
        tp_reply_problem(req, 503, "too_many_streams",
                         "%d streams (exports, event streams) are open; try again later",
                         s->o.max_streams);
        return -1;
    }
    return 0;
}

tp_db *tp_req_stream_db(tp_req *req)
{
    tp_server *s = req->srv;
    if (stream_slot(req) < 0)
        return NULL;
    tp_db *db = req->db;
    tp_error err = {0};
    if (db) { /* the pool makes itself a new connection in its place */
        req->db = NULL;
        pthread_mutex_lock(&s->mu);
        s->pool[s->nfree++] = NULL;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
    } else if (!(db = tp_db_connect(s->o.db_url, &err))) {
        tp__guard_stream_give(s->guard, req);
        tp_reply_db_error(req, &err);
        return NULL;
    }
    tp__guard_stream_rekey(s->guard, req, db);
    return db;
}

void tp_server_release_db(tp_server *s, tp_db *db)
{
    tp__guard_stream_give(s->guard, db);
    tp_db_close(db);
}

/* ------------------------------------------------------------ replies */

static void set_response(tp_req *req, unsigned status, const char *ctype, char *data, size_t len)
{
    if (req->resp)
        MHD_destroy_response(req->resp);
    if (req->cache_key && status == 200)
        tp_cache_put(req->srv->cache, req->cache_key, req->cache_gen, data, len);
    req->resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    req->status = status;
    if (!req->resp) {
        free(data);
        return;
    }
    MHD_add_response_header(req->resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(req->resp, "X-Request-Id", req->request_id);
    MHD_add_response_header(req->resp, "Cache-Control", "no-store");
    MHD_add_response_header(req->resp, "X-Content-Type-Options", "nosniff");
}

void tp_reply_json(tp_req *req, unsigned status, json_t *body)
{
    char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!s) {
        tp_reply_problem(req, 500, "internal", "could not build the response");
        return;
    }
    size_t n = strlen(s);
    char *t = realloc(s, n + 2); /* a final newline for humans with curl */
    if (t) {
        t[n] = '\n';
        t[n + 1] = '\0';
        s = t;
        n++;
    }
    set_response(req, status, "application/json", s, n);
}

void tp_reply_owned(tp_req *req, unsigned status, const char *ctype, char *body, size_t len)
{
    set_response(req, status, ctype, body, len);
}

void tp_reply_text(tp_req *req, unsigned status, const char *ctype, const char *text)
{
    char *s = strdup(text);
    if (s)
        set_response(req, status, ctype, s, strlen(s));
}

static const char *status_title(unsigned status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return status >= 500 ? "Internal Server Error" : "Error";
    }
}

/* The length of the well-formed UTF-8 sequence at s (at most n bytes), or
 * 0 when there is none: no overlong forms, surrogates or code points past
 * U+10FFFF. */
static size_t utf8_char(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len = s[0] >= 0xc2 && s[0] <= 0xdf   ? 2
                 : (s[0] & 0xf0) == 0xe0        ? 3
                 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
                                                : 0;
    if (!len || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
        return 0;
    return len;
}

/* 1 when the string is UTF-8 throughout. */
static int utf8_valid(const char *s)
{
    size_t n = strlen(s), k;
    for (size_t i = 0; i < n; i += k)
        if (!(k = utf8_char((const unsigned char *)s + i, n - i)))
            return 0;
    return 1;
}

/* Make text JSON can carry: every byte that is not part of well-formed
 * UTF-8 (what a client sent, or a sequence cut by truncation) becomes '?'. */
static void utf8_scrub(char *s)
{
    size_t n = strlen(s), k;
    for (size_t i = 0; i < n; i += k)
        if (!(k = utf8_char((const unsigned char *)s + i, n - i))) {
            s[i] = '?';
            k = 1;
        }
}

void tp_reply_problem(tp_req *req, unsigned status, const char *code, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    utf8_scrub(detail); /* (it may quote the request) */
    json_t *p = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "type", "about:blank", "title",
                          status_title(status), "status", (int)status, "detail", detail, "code",
                          code, "request_id", req->request_id);
    char *s = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (s)
        set_response(req, status, "application/problem+json", s, strlen(s));
    if (status == 401 && req->resp)
        MHD_add_response_header(req->resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
}

void tp_reply_db_error(tp_req *req, const tp_error *err)
{
    (void)err; /* the server's message may quote SQL or data: not for clients */
    tp_reply_problem(req, 503, "database_unavailable",
                     "the database could not answer; try again (request %s)", req->request_id);
}

void tp_reply_response(tp_req *req, struct MHD_Response *resp, const char *ctype,
                       const char *filename)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (filename) {
        char disp[320];
        snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", filename);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp);
    }
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (req->resp)
        MHD_destroy_response(req->resp);
    req->resp = resp;
    req->status = 200;
}

void tp_reply_stream(tp_req *req, MHD_ContentReaderCallback cb, void *cls,
                     MHD_ContentReaderFreeCallback fr, const char *ctype, const char *filename)
{
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, cb, cls, fr);
    if (!resp) {
        fr(cls);
        tp_reply_problem(req, 500, "internal", "could not build the response");
        return;
    }
    tp_reply_response(req, resp, ctype, filename);
}

const char *tp_query(tp_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

json_t *tp_body_object(tp_req *req)
{
    if (req->body_too_large) {
        tp_reply_problem(req, 413, "body_too_large", "the request body is over %zu bytes",
                         req->srv->o.max_body);
        return NULL;
    }
    const char *ct =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
        tp_reply_problem(req, 415, "unsupported_media_type", "send the body as application/json");
        return NULL;
    }
    json_error_t je;
    json_t *o =
        req->body ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!o) {
        tp_reply_problem(req, 400, "malformed_json", "the body is not valid JSON%s%s",
                         req->body ? ": " : "", req->body ? je.text : "");
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        tp_reply_problem(req, 400, "malformed_json", "the body must be a JSON object");
        return NULL;
    }
    return o;
}

void tp_audit(tp_req *req, const char *action, const char *target, json_t *details)
{
    char *d = details ? json_dumps(details, JSON_COMPACT) : NULL;
    tp_error err = {0};
    if (tp_audit_add(req->db, req->subject[0] ? req->subject : "anonymous", action, target,
                     req->request_id, d, &err) < 0 &&
        !req->srv->o.quiet)
        fprintf(stderr, "tillpipe serve: audit not recorded (request %s)\n", req->request_id);
    free(d);
    json_decref(details);
}

/* ------------------------------------------------------------ routing */

/* Match `path` against `pattern`; {id} takes 1-18 digits, {code} a branch
 * code (1-32 letters, digits or '-'). */
static int match(const char *pattern, const char *path, long long ids[2], char code[65])
{
    int nid = 0;
    const char *p = pattern, *q = path;
    while (*p && *q) {
        if (strncmp(p, "{sha256}", 8) == 0) {
            size_t n = strspn(q, "0123456789abcdef");
            if (n != 64 || (q[n] && q[n] != '/'))
                return 0;
            memcpy(code, q, n);
            code[n] = '\0';
            q += n;
            p += 8;
            continue;
        }
        if (strncmp(p, "{code}", 6) == 0) {
            size_t n = 0;
            while ((isalnum((unsigned char)q[n]) || q[n] == '-') && n < 33)
                n++;
            if (n == 0 || n > 32 || (q[n] && q[n] != '/'))
                return 0;
            memcpy(code, q, n);
            code[n] = '\0';
            q += n;
            p += 6;
            continue;
        }
        if (strncmp(p, "{id}", 4) == 0) {
            const char *start = q;
            long long v = 0;
            while (*q >= '0' && *q <= '9' && q - start < 18)
                v = v * 10 + (*q++ - '0');
            if (q == start || (*q && *q != '/') || v <= 0 || nid >= 2)
                return 0;
            ids[nid++] = v;
            p += 4;
            continue;
        }
        if (*p != *q)
            return 0;
        p++;
        q++;
    }
    return *p == '\0' && *q == '\0';
}

static void count(tp_server *s, int route, unsigned status)
{
    if (status >= MAX_STATUS)
        status = MAX_STATUS - 1;
    pthread_mutex_lock(&s->mu);
    s->hits[route < 0 ? tp_nroutes : route][status]++;
    pthread_mutex_unlock(&s->mu);
}

void tp_server_metrics(tp_server *s, char **out, size_t *len, size_t *cap)
{
    tp_strcatf(out, len, cap,
               "# HELP tillpipe_http_connections_cut_total Connections cut because their request"
               " was not whole by its deadline.\n"
               "# TYPE tillpipe_http_connections_cut_total counter\n"
               "tillpipe_http_connections_cut_total %llu\n",
               tp__guard_cuts(s->guard));
    tp_strcatf(out, len, cap,
               "# HELP tillpipe_http_requests_total HTTP requests by route and status.\n"
               "# TYPE tillpipe_http_requests_total counter\n");
    pthread_mutex_lock(&s->mu);
    for (int r = 0; r <= tp_nroutes; r++)
        for (unsigned st = 0; st < MAX_STATUS; st++)
            if (s->hits[r][st])
                tp_strcatf(out, len, cap,
                           "tillpipe_http_requests_total{route=\"%s\",status=\"%u\"} %llu\n",
                           r < tp_nroutes ? tp_routes[r].name : "unmatched", st, s->hits[r][st]);
    pthread_mutex_unlock(&s->mu);
    if (s->cache) {
        unsigned long long hit, miss;
        tp_cache_counts(s->cache, &hit, &miss);
        tp_strcatf(
            out, len, cap,
            "# HELP tillpipe_http_list_cache_total List answers from the cache or computed.\n"
            "# TYPE tillpipe_http_list_cache_total counter\n"
            "tillpipe_http_list_cache_total{result=\"hit\"} %llu\n"
            "tillpipe_http_list_cache_total{result=\"miss\"} %llu\n",
            hit, miss);
    }
}

/* A cached route's key: its name and its query arguments as received, each
 * name and value prefixed by its length (a value absent: '~'), so no bytes a
 * client sends -- separators included -- can make two questions one key. */
typedef struct {
    char buf[2048];
    size_t len;
    int overflow;
} cache_key;

static void key_add(cache_key *ck, const char *text)
{
    size_t room = sizeof ck->buf - ck->len;
    int n = text ? snprintf(ck->buf + ck->len, room, "%zu:%s", strlen(text), text)
                 : snprintf(ck->buf + ck->len, room, "~");
    if (n < 0 || (size_t)n >= room)
        ck->overflow = 1;
    else
        ck->len += (size_t)n;
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
    (void)kind;
    cache_key *ck = cls;
    key_add(ck, k);
    key_add(ck, v);
    return ck->overflow ? MHD_NO : MHD_YES;
}

/* Answer a cached route from the cache (1), or get ready to keep what the
 * handler computes (0). */
static int from_cache(tp_req *req, const tp_route *rt)
{
    cache_key ck = {.len = 0};
    key_add(&ck, rt->name);
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, add_arg, &ck);
    if (ck.overflow)
        return 0;
    char *body;
    size_t len;
    if (tp_cache_get(req->srv->cache, ck.buf, &body, &len)) {
        tp_reply_owned(req, 200, "application/json", body, len);
        return 1;
    }
    req->cache_gen = tp_cache_generation(req->srv->cache);
    if (req->cache_gen)
        req->cache_key = strdup(ck.buf);
    return 0;
}

/* The client's address as text, "?" when unknown. */
static void client_address(struct MHD_Connection *conn, char out[48])
{
    snprintf(out, 48, "?");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, 48);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, 48);
    }
}

/* 0 when the client may go on, else the seconds until it may. */
static int rate_limited(tp_req *req, int cls)
{
    int rate = cls == TP_LIMIT_LOGIN ? req->srv->o.rate_login : req->srv->o.rate_queue;
    if (rate <= 0)
        return 0;
    char client[48];
    client_address(req->conn, client);
    double now = tp_now(), per_s = rate / 60.0;
    int wait = 0;
    pthread_mutex_lock(&req->srv->mu);
    bucket *v = req->srv->buckets[cls - 1], *b = NULL, *oldest = &v[0];
    for (int i = 0; i < BUCKETS && !b; i++) {
        if (strcmp(v[i].client, client) == 0)
            b = &v[i];
        else if (v[i].at < oldest->at)
            oldest = &v[i];
    }
    if (!b) {
        b = oldest;
        snprintf(b->client, sizeof b->client, "%s", client);
        b->tokens = rate;
        b->at = now;
    }
    b->tokens += (now - b->at) * per_s;
    if (b->tokens > rate)
        b->tokens = rate;
    b->at = now;
    if (b->tokens >= 1)
        b->tokens -= 1;
    else
        wait = (int)((1 - b->tokens) / per_s) + 1;
    pthread_mutex_unlock(&req->srv->mu);
    return wait;
}

/* The bearer token: 0 with req->subject and req->role set, or -1 after
 * replying 401.  The one place a token is checked. */
static int check_token(tp_req *req)
{
    const char *h =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
        req->subject[0] = '\0';
        tp_reply_problem(req, 401, "unauthorized", "missing bearer token");
        return -1;
    }
    return tp_auth_current(req, h + 7);
}

/* The caller may use `rt` (rate limit, token, role): 0, or -1 after
 * replying 429, 401 or 403. */
static int admit(tp_req *req, const tp_route *rt)
{
    int wait = rt->limit ? rate_limited(req, rt->limit) : 0;
    if (wait > 0) {
        tp_reply_problem(req, 429, "rate_limited", "too many requests; try again in %d s", wait);
        char ra[16];
        snprintf(ra, sizeof ra, "%d", wait);
        if (req->resp)
            MHD_add_response_header(req->resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
        return -1;
    }
    if (rt->need == TP_ROLE_NONE)
        return 0;
    if (check_token(req) < 0)
        return -1;
    if (req->role < rt->need) {
        tp_reply_problem(req, 403, "forbidden", "this needs the %s role; you are %s",
                         tp_role_name(rt->need), tp_role_name(req->role));
        return -1;
    }
    return 0;
}

/* The handler, once the request is whole. */
static void run(tp_req *req, const tp_route *rt)
{
    if (req->upload_bad == 4) {
        tp_reply_problem(req, 400, "invalid_body", "the uploaded file's name is not UTF-8");
        return;
    }
    if (rt->cached && req->srv->cache && from_cache(req, rt))
        return;
    if (rt->no_db) {
        rt->fn(req);
        return;
    }
    tp_error err = {0};
    if (!(req->db = pool_get(req->srv, &err))) {
        tp_reply_db_error(req, &err);
        return;
    }
    rt->fn(req);
    if (req->db) /* (a streaming handler may have taken it) */
        pool_put(req->srv, req->db);
    req->db = NULL;
    /* this server's own changes show in its lists at once, before their
     * notification comes back */
    if (req->srv->cache && strcmp(rt->method, "GET") != 0 && req->status < 400)
        tp_cache_bump(req->srv->cache);
}

/* The request's route (req->route, ids and code set), or NULL after
 * replying 404, or 405 with the methods the path has. */
static const tp_route *route_find(tp_req *req)
{
    int path_matched = 0;
    char allow[64] = ""; /* the methods the path has, for a 405's Allow */
    /* HEAD is GET without the body (libmicrohttpd sends no body for HEAD) */
    const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
    for (int i = 0; i < tp_nroutes; i++) {
        long long ids[2] = {0, 0};
        if (!match(tp_routes[i].pattern, req->path, ids, req->code))
            continue;
        path_matched = 1;
        size_t k = strlen(allow);
        snprintf(allow + k, sizeof allow - k, "%s%s%s", k ? ", " : "", tp_routes[i].method,
                 strcmp(tp_routes[i].method, "GET") == 0 ? ", HEAD" : "");
        if (strcmp(tp_routes[i].method, method) != 0)
            continue;
        req->route = i;
        memcpy(req->ids, ids, sizeof ids);
        return &tp_routes[i];
    }
    if (path_matched) {
        tp_reply_problem(req, 405, "method_not_allowed", "%s is not allowed on %s (allowed: %s)",
                         req->method, req->path, allow);
        if (req->resp)
            MHD_add_response_header(req->resp, "Allow", allow);
    } else
        tp_reply_problem(req, 404, "not_found", "no such resource");
    return NULL;
}

/* ------------------------------------------------------------ strict input */

/* A method is an RFC 9110 token: letters, digits and !#$%&'*+-.^_`|~. */
static int method_ok(const char *m)
{
    if (!*m)
        return 0;
    for (; *m; m++) {
        unsigned char c = (unsigned char)*m;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              (c && strchr("!#$%&'*+-.^_`|~", c))))
            return 0;
    }
    return 1;
}

typedef struct framing {
    int length, encoding, chunked, host;
} framing;

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *k,
                                    const char *v)
{
    (void)kind;
    framing *f = cls;
    if (strcasecmp(k, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        f->length++;
    else if (strcasecmp(k, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->encoding++;
        f->chunked = v && strcasecmp(v, "chunked") == 0;
    } else if (strcasecmp(k, MHD_HTTP_HEADER_HOST) == 0)
        f->host++;
    return MHD_YES;
}

/* Framing a proxy in front could read otherwise (request smuggling): 0, or
 * -1 after replying 400.  libmicrohttpd 0.9.75 takes the first of two
 * Content-Lengths, lets Transfer-Encoding win over Content-Length, reads a
 * coding other than chunked until the connection closes, and (unless
 * strict, when it answers in HTML) takes HTTP/1.1 without Host. */
static int framing_ok(tp_req *req, const char *version)
{
    framing f = {0, 0, 0, 0};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_header, &f);
    const char *why = NULL;
    if (f.length > 1)
        why = "more than one Content-Length";
    else if (f.length && f.encoding)
        why = "both Content-Length and Transfer-Encoding";
    else if (f.encoding > 1 || (f.encoding && !f.chunked))
        why = "a Transfer-Encoding other than chunked";
    else if (strcmp(version, MHD_HTTP_VERSION_1_1) == 0 && f.host != 1)
        why = "HTTP/1.1 wants exactly one Host header";
    if (why) {
        tp_reply_problem(req, 400, "invalid_request", "the request's framing is refused: %s", why);
        return -1;
    }
    return 0;
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The request target as sent (libmicrohttpd decodes it before routing):
 * no NUL anywhere (%00, or a raw one that hid the query from this copy),
 * no encoded '/' in a path segment.  0, or -1 after replying 400. */
static int target_ok(tp_req *req)
{
    const char *u = req->raw_uri, *q = strchr(u, '?');
    for (const char *p = u; *p; p++) {
        if (*p != '%' || hex_value(p[1]) < 0 || hex_value(p[2]) < 0)
            continue;
        int c = hex_value(p[1]) * 16 + hex_value(p[2]);
        if (c == 0) {
            tp_reply_problem(req, 400, q && p > q ? "invalid_parameter" : "invalid_path",
                             "%%00 (NUL) is refused in the %s", q && p > q ? "query" : "path");
            return -1;
        }
        if (c == '/' && (!q || p < q)) {
            tp_reply_problem(req, 400, "invalid_path",
                             "an encoded '/' (%%2F) is refused in a path segment");
            return -1;
        }
    }
    if (!q && MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, NULL, NULL) > 0) {
        tp_reply_problem(req, 400, "invalid_path", "a NUL byte is refused in the request line");
        return -1;
    }
    return 0;
}

/* The request line and headers hold together: 0, or -1 after replying 400. */
static int request_ok(tp_req *req, const char *version)
{
    if (!method_ok(req->method)) {
        tp_reply_problem(
            req, 400, "invalid_request",
            "the method is not an HTTP token (ASCII letters, digits, !#$%%&'*+-.^_`|~)");
        return -1;
    }
    return framing_ok(req, version) < 0 || target_ok(req) < 0 ? -1 : 0;
}

/* The body the headers announce, against the route's cap and the caller's
 * budget of bodies in flight (reserved here, given back in on_done): 0, or
 * -1 after replying 413, 429 or 503.  A chunked body reserves the cap. */
static int reserve_body(tp_req *req, const tp_route *rt)
{
    tp_server *s = req->srv;
    size_t cap = rt->upload ? s->o.max_upload + UPLOAD_FRAMING : s->o.max_body;
    const char *cl =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    unsigned long long want = te ? cap : cl ? strtoull(cl, NULL, 10) : 0;
    if (want > cap) {
        tp_reply_problem(req, 413, "body_too_large", "the request body is over %zu bytes",
                         rt->upload ? s->o.max_upload : cap);
        return -1;
    }
    if (want == 0)
        return 0;
    if (req->subject[0])
        snprintf(req->who, sizeof req->who, "%s", req->subject);
    else {
        char addr[48];
        client_address(req->conn, addr);
        snprintf(req->who, sizeof req->who, "@%s", addr);
    }
    int rc = tp__guard_body_take(s->guard, req->who, (size_t)want);
    if (rc == TP__GUARD_USER) {
        tp_reply_problem(req, 429, "body_budget",
                         "your request bodies in flight are over %zu bytes; try again when they"
                         " are done",
                         s->o.body_budget);
        if (req->resp)
            MHD_add_response_header(req->resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
        return -1;
    }
    if (rc != TP__GUARD_OK) {
        tp_reply_problem(req, 503, "busy", "too many request bodies are in flight; try again");
        return -1;
    }
    req->body_reserved = (size_t)want;
    return 0;
}

/* ------------------------------------------------------------ uploads */

static enum MHD_Result on_form(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
    (void)kind, (void)content_type, (void)transfer_encoding;
    tp_req *req = cls;
    if (!key) /* libmicrohttpd passes a part without a name with a NULL key */
        return MHD_YES;
    if (strcmp(key, "type") == 0) {
        size_t have = strlen(req->upload_type);
        if (have + size < sizeof req->upload_type) {
            memcpy(req->upload_type + have, data, size);
            req->upload_type[have + size] = '\0';
        }
        return MHD_YES;
    }
    if (strcmp(key, "file") != 0 || req->upload_bad)
        return MHD_YES;
    if (off == 0 && filename && !utf8_valid(filename)) {
        req->upload_bad = 4; /* nothing is spooled */
        return MHD_YES;
    }
    if (off == 0 && filename) {
        snprintf(req->upload_name, sizeof req->upload_name, "%s", filename);
        utf8_scrub(req->upload_name); /* (a character the cut split) */
    }
    if (!req->upload) {
        const char *tmpdir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(req->upload_path, sizeof req->upload_path, "%s/tillpipe-upload-XXXXXX", tmpdir);
        int fd = mkstemp(req->upload_path);
        if (fd < 0 || !(req->upload = fdopen(fd, "w+b"))) {
            if (fd >= 0)
                close(fd);
            req->upload_path[0] = '\0';
            req->upload_bad = 3;
            return MHD_YES;
        }
    }
    if (req->upload_size + size > req->upload_cap) {
        req->upload_bad = 1;
        return MHD_YES;
    }
    if (size && fwrite(data, 1, size, req->upload) != size)
        req->upload_bad = 3;
    req->upload_size += size;
    return MHD_YES;
}

void tp__upload_start(tp_req *req, uint64_t cap)
{
    req->upload_cap = cap;
    const char *ct =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (ct && strncasecmp(ct, "multipart/form-data", 19) == 0)
        req->pp = MHD_create_post_processor(req->conn, 65536, on_form, req);
    if (!req->pp)
        req->upload_bad = 2;
}

/* ------------------------------------------------------------ MHD glue */

static tp_req *req_new(tp_server *s, struct MHD_Connection *conn, const char *uri)
{
    tp_req *req = calloc(1, sizeof *req);
    if (!req || !(req->raw_uri = strdup(uri ? uri : ""))) {
        free(req);
        return NULL;
    }
    req->srv = s;
    req->conn = conn;
    req->route = -1;
    unsigned char rnd[16];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(req->request_id, sizeof req->request_id, rnd, sizeof rnd);
    return req;
}

/* The request target before decoding (MHD_OPTION_URI_LOG_CALLBACK): a
 * request's state starts here. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    return req_new(cls, conn, uri);
}

static tp__guard_conn *guard_conn(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    tp_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? tp__guard_conn_open(s->guard, ci->connect_fd) : NULL;
    } else {
        tp__guard_conn_close(s->guard, *socket_context);
        *socket_context = NULL;
    }
}

/* The headers are complete: everything that needs no body is checked now,
 * so a request refused is answered before a byte of its body is read. */
static void first_call(tp_req *req, const char *version)
{
    const tp_route *rt = NULL;
    if (request_ok(req, version) < 0 || !(rt = route_find(req)) || admit(req, rt) < 0 ||
        reserve_body(req, rt) < 0)
        return;
    if (rt->upload)
        tp__upload_start(req, req->srv->o.max_upload);
}

/* Queue the answer (a refusal in the first call: libmicrohttpd then reads
 * no body and closes the connection after it). */
static enum MHD_Result answer(tp_req *req)
{
    tp__guard_conn_received(req->srv->guard, guard_conn(req->conn));
    if (!req->resp)
        tp_reply_problem(req, 500, "internal", "no response");
    count(req->srv, req->route, req->status);
    return req->resp ? MHD_queue_response(req->conn, req->status, req->resp) : MHD_NO;
}

/* A piece of the body: an upload to its file, else kept up to the cap. */
static enum MHD_Result body_piece(tp_req *req, const char *upload, size_t n)
{
    if (req->pp || req->upload_bad == 2 || req->upload_bad == 4) {
        if (req->pp && MHD_post_process(req->pp, upload, n) != MHD_YES && !req->upload_bad)
            req->upload_bad = 2;
        return MHD_YES;
    }
    if (req->body_too_large || req->body_len + n > req->srv->o.max_body) {
        req->body_too_large = 1;
        free(req->body);
        req->body = NULL;
        req->body_len = 0;
        return MHD_YES;
    }
    char *b = realloc(req->body, req->body_len + n + 1);
    if (!b)
        return MHD_NO;
    memcpy(b + req->body_len, upload, n);
    req->body = b;
    req->body_len += n;
    req->body[req->body_len] = '\0';
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    tp_req *req = *con_cls;
    if (!req && !(req = *con_cls = req_new(cls, conn, NULL)))
        return MHD_NO;
    req->method = method;
    req->path = url;
    if (!req->started) { /* first call: headers only */
        req->started = 1;
        first_call(req, version);
        return req->resp ? answer(req) : MHD_YES;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        return body_piece(req, upload, n);
    }
    run(req, &tp_routes[req->route]);
    return answer(req);
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    tp_server *s = cls;
    tp_req *req = *con_cls;
    /* a kept-alive connection's next request has its own deadline */
    tp__guard_conn_idle(s->guard, guard_conn(conn));
    if (!req)
        return;
    tp__guard_body_give(s->guard, req->who, req->body_reserved);
    if (req->pp)
        MHD_destroy_post_processor(req->pp);
    if (req->upload)
        fclose(req->upload);
    if (req->upload_path[0])
        unlink(req->upload_path);
    if (req->resp)
        MHD_destroy_response(req->resp);
    free(req->cache_key);
    free(req->body);
    free(req->raw_uri);
    free(req);
    *con_cls = NULL;
}

/* The edge's limits hold together (one address never takes the server's
 * connections: a reserve of an eighth, at least 4, stays for the others)
 * and its guard runs: TP_OK, or an error. */
static int guard_start(tp_server *s, tp_error *err)
{
    int reserve = s->o.max_connections / 8 > 4 ? s->o.max_connections / 8 : 4;
    if (s->o.conns_per_client > s->o.max_connections - reserve)
        return tp_error_set(err, TP_EUSAGE,
                            "%d connections per client leave too few of %d for the others (at"
                            " most %d)",
                            s->o.conns_per_client, s->o.max_connections,
                            s->o.max_connections - reserve);
    tp__guard_opts go = {
        .request_timeout = s->o.request_timeout,
        .body_user = s->o.body_budget,
        .body_total = s->o.body_budget * 16,
        .max_streams = s->o.max_streams,
        .stream_reserve = s->o.max_streams / 4, /* for exports: event streams take the rest */
        .streams_per_user = s->o.streams_per_user,
    };
    if (!(s->guard = tp__guard_create(&go)))
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    return TP_OK;
}

/* The bound port, for whoever started us (whole or not at all). */
static int write_port_file(const char *path, int port, tp_error *err)
{
    tp_outfile *o = tp_outfile_open(path, err);
    if (!o)
        return TP_EIO;
    fprintf(tp_outfile_stream(o), "%d\n", port);
    return tp_outfile_commit(o, err);
}

int tp_api_serve(const tp_api_opts *opts, volatile sig_atomic_t *stop, tp_error *err)
{
    if (!opts->jwt_secret || strlen(opts->jwt_secret) < 32)
        return tp_error_set(err, TP_ECONFIG,
                            "no token secret: set TILLPIPE_JWT_SECRET to at least 32 random"
                            " characters (e.g. `openssl rand -hex 32`)");
    if (sodium_init() < 0)
        return tp_error_set(err, TP_EIO, "libsodium could not start");
    tp_server *s = calloc(1, sizeof *s);
    if (!s)
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    s->o = *opts;
    if (s->o.threads <= 0) { /* one per CPU: more only queue up in the database */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        s->o.threads = cpus < 2 ? 2 : cpus > 16 ? 16 : (int)cpus;
    }
    if (s->o.max_streams <= 0)
        s->o.max_streams = 32;
    if (s->o.streams_per_user <= 0)
        s->o.streams_per_user = 4;
    if (s->o.max_connections <= 0)
        s->o.max_connections = 1000;
    if (s->o.conns_per_client <= 0)
        s->o.conns_per_client = 32;
    if (s->o.request_timeout <= 0)
        s->o.request_timeout = 30;
    if (s->o.body_budget == 0)
        s->o.body_budget = 32u << 20;
    if (s->o.token_ttl <= 0)
        s->o.token_ttl = 3600;
    if (s->o.max_body == 0)
        s->o.max_body = 1u << 20;
    if (s->o.max_upload == 0)
        s->o.max_upload = 16u << 20;
    if (!s->o.listen_host)
        s->o.listen_host = "127.0.0.1";
    s->npool = s->nfree = s->o.threads;
    s->pool = calloc((size_t)s->npool, sizeof *s->pool);
    s->hits = calloc((size_t)tp_nroutes + 1, sizeof *s->hits);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (!s->o.no_list_cache)
        s->cache = tp_cache_create(s->o.db_url, 64u << 20);
    s->totals = tp_list_totals_create();
    int rc = guard_start(s, err);
    if (rc == TP_OK && !(s->pool && s->hits && s->totals && (s->cache || s->o.no_list_cache)))
        rc = tp_error_set(err, TP_ENOMEM, "out of memory");
    /* Fail fast on the database: reachable and migrated. */
    tp_db *db = rc == TP_OK ? tp_db_connect(s->o.db_url, err) : NULL;
    if (rc == TP_OK && (!db || tp_db_check_schema(db, err) < 0))
        rc = err ? err->code : TP_EDB;
    tp_db_close(db);

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->o.port)};
    if (rc == TP_OK && inet_pton(AF_INET, s->o.listen_host, &addr.sin_addr) != 1)
        rc =
            tp_error_set(err, TP_EUSAGE, "--listen: '%s' is not an IPv4 address", s->o.listen_host);
    struct MHD_Daemon *d = NULL;
    if (rc == TP_OK) {
        /* A thread per connection: event streams and exports may block on
         * the database for long; the pool bounds database connections. */
        d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                 MHD_USE_POLL | MHD_USE_ERROR_LOG,
                             0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &addr,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                             MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->o.max_connections,
                             MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)s->o.conns_per_client,
                             MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                             MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_NOTIFY_COMPLETED,
                             on_done, s, MHD_OPTION_END);
        if (!d)
            rc = tp_error_set(err, TP_EIO, "cannot listen on %s:%d: %s", s->o.listen_host,
                              s->o.port, strerror(errno));
    }
    if (rc == TP_OK) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        int port = info ? (int)info->port : s->o.port;
        if (!s->o.quiet)
            fprintf(stderr, "tillpipe serve: listening on http://%s:%d\n", s->o.listen_host, port);
        if (s->o.port_file && write_port_file(s->o.port_file, port, err) < 0)
            rc = tp_error_prefix(err, "--port-file: ");
        while (rc == TP_OK && !*stop)
            tp_sleep(0.1);
        s->stopping = 1;
        MHD_stop_daemon(d);
        if (s->o.port_file)
            unlink(s->o.port_file);
    }
    tp_cache_destroy(s->cache);
    tp__guard_destroy(s->guard);
    for (int i = 0; s->pool && i < s->npool; i++)
        tp_db_close(s->pool[i]);
    free(s->pool);
    tp_list_totals_destroy(s->totals);
    free(s->hits);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
    return rc;
}
