/* fetch.c -- see fetch.h. */
#include "fetch.h"

#include "core/clock.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LIST_MAX_BYTES (1u << 20) /* a list body; the real ones are a few KB */
#define PATH_MAX_LEN 1024
#define SERVERS_MAX 64
#define SNIFF_BYTES 4096
#define FILE_BUFFER (256 * 1024) /* a download's stdio buffer */

static const char server_error_text[] =
    "An error occurred, check your Internet or contact a technician.";

const char *tp_fetch_kind_code(tp_fetch_kind k)
{
    switch (k) {
    case TP_FETCH_OK: return "ok";
    case TP_FETCH_NO_FILES: return "no_files";
    case TP_FETCH_SERVER_ERROR: return "server_error";
    case TP_FETCH_NETWORK: return "network_error";
    case TP_FETCH_BAD_FILE: return "bad_file";
    }
    return "unknown";
}

/* ------------------------------------------------------------ limits */

/* Politeness towards one report server (scheme://host:port), shared by
 * every thread of the process. */
typedef struct server {
    char origin[256];
    int in_flight;
    double next_at; /* earliest start of the next request (monotonic s) */
} server;

struct tp_fetcher {
    tp_fetch_opts o;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    server servers[SERVERS_MAX];
    int nservers;
    tp_fetch_stats stats;
};

struct tp_fetch_conn {
    tp_fetcher *f;
    CURL *curl;
    unsigned seed;
    char errbuf[CURL_ERROR_SIZE];
    int (*stop)(void *ud); /* the caller's poll, or NULL */
    void *stop_ud;
    int stopped;                  /* its value when it ended the request */
    char host[TP_ALLOW_HOST_MAX]; /* the request's host, as the allow-list checked it */
    int opened, refused;          /* the request's connections opened and refused */
    char refusal[512];            /* why the last one was refused */
};

/* "http://host:port" of a URL: what the limits are kept per. */
static void origin_of(const char *url, char *out, size_t size)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    snprintf(out, size, "%.*s", (int)((size_t)(p - url) + n), url);
}

static server *server_for(tp_fetcher *f, const char *url)
{
    char origin[256];
    origin_of(url, origin, sizeof origin);
    for (int i = 0; i < f->nservers; i++)
        if (strcmp(f->servers[i].origin, origin) == 0)
            return &f->servers[i];
    /* More servers than slots: the last slot is shared (still limited). */
    server *s = &f->servers[f->nservers < SERVERS_MAX ? f->nservers++ : SERVERS_MAX - 1];
    snprintf(s->origin, sizeof s->origin, "%s", origin);
    return s;
}

/* Wait for a free slot and the next start time for `url`'s server. */
static server *limit_enter(tp_fetcher *f, const char *url)
{
    pthread_mutex_lock(&f->mu);
    server *s = server_for(f, url);
    while (s->in_flight >= f->o.max_in_flight)
        pthread_cond_wait(&f->cv, &f->mu);
    s->in_flight++;
    double start = tp_now();
    if (f->o.max_per_second > 0) {
        if (s->next_at > start)
            start = s->next_at;
        s->next_at = start + 1.0 / f->o.max_per_second;
    }
    f->stats.requests++;
    pthread_mutex_unlock(&f->mu);
    tp_sleep(start - tp_now());
    return s;
}

static void limit_leave(tp_fetcher *f, server *s)
{
    pthread_mutex_lock(&f->mu);
    s->in_flight--;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void count(tp_fetcher *f, uint64_t *field, uint64_t n)
{
    pthread_mutex_lock(&f->mu);
    *field += n;
    pthread_mutex_unlock(&f->mu);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int tp_fetcher_create(const tp_fetch_opts *opts, tp_fetcher **out, tp_error *err)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return tp_error_set(err, TP_EIO, "libcurl: %s", curl_easy_strerror(curl_init_rc));
    tp_fetcher *f = calloc(1, sizeof *f);
    if (!f)
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    tp_fetch_opts o = opts ? *opts : (tp_fetch_opts){.retries = -1, .backoff_base = -1};
    if (o.connect_timeout_ms <= 0)
        o.connect_timeout_ms = 10000;
    if (o.list_timeout_ms <= 0)
        o.list_timeout_ms = 30000;
    if (o.file_timeout_ms <= 0)
        o.file_timeout_ms = 60000;
    if (o.retries < 0)
        o.retries = 3;
    if (o.backoff_base < 0)
        o.backoff_base = 0.5;
    if (o.max_file_bytes == 0)
        o.max_file_bytes = 256u << 20;
    if (o.max_in_flight <= 0)
        o.max_in_flight = 8;
    f->o = o;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    *out = f;
    return TP_OK;
}

void tp_fetcher_destroy(tp_fetcher *f)
{
    if (!f)
        return;
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}

void tp_fetcher_stats(tp_fetcher *f, tp_fetch_stats *out)
{
    pthread_mutex_lock(&f->mu);
    *out = f->stats;
    pthread_mutex_unlock(&f->mu);
}

uint64_t tp_fetcher_max_file_bytes(const tp_fetcher *f)
{
    return f->o.max_file_bytes;
}

tp_fetch_conn *tp_fetch_conn_create(tp_fetcher *f, tp_error *err)
{
    tp_fetch_conn *c = calloc(1, sizeof *c);
    if (!c || !(c->curl = curl_easy_init())) {
        free(c);
        tp_error_set(err, TP_ENOMEM, "libcurl: cannot create a handle");
        return NULL;
    }
    c->f = f;
    c->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)c;
    return c;
}

void tp_fetch_conn_set_stop(tp_fetch_conn *c, int (*stop)(void *ud), void *ud)
{
    c->stop = stop;
    c->stop_ud = ud;
}

/* The caller's poll: its value (and noted), 0 to go on. */
static int poll_stop(tp_fetch_conn *c)
{
    int v = c->stop ? c->stop(c->stop_ud) : 0;
    if (v)
        c->stopped = v < 0 ? v : TP_ESTOP;
    return v;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return poll_stop(ud) ? 1 : 0; /* non-zero: CURLE_ABORTED_BY_CALLBACK */
}

void tp_fetch_conn_destroy(tp_fetch_conn *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    free(c);
}

/* ------------------------------------------------------------ one request */

/* Where a response body goes: memory (the list) or a file (a download). */
typedef struct body {
    char *mem;
    size_t len, cap, limit; /* memory */
    FILE *file;             /* or a file, hashed as it streams */
    tp_sha256 sha;
    uint64_t size, max;
    unsigned char sniff[SNIFF_BYTES];
    size_t nsniff;
    int over; /* the body passed its cap */
    int write_failed;
} body;

static size_t on_body(char *data, size_t one, size_t n, void *ud)
{
    body *b = ud;
    n *= one;
    if (b->nsniff < SNIFF_BYTES) {
        size_t k = n < SNIFF_BYTES - b->nsniff ? n : SNIFF_BYTES - b->nsniff;
        memcpy(b->sniff + b->nsniff, data, k);
        b->nsniff += k;
    }
    if (b->size + n > b->max) {
        b->over = 1;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    b->size += n;
    if (b->file) {
        if (fwrite(data, 1, n, b->file) != n) {
            b->write_failed = errno ? errno : EIO;
            return 0;
        }
        tp_sha256_update(&b->sha, data, n);
        return n;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *m = realloc(b->mem, cap);
        if (!m)
            return 0;
        b->mem = m;
        b->cap = cap;
    }
    memcpy(b->mem + b->len, data, n);
    b->len += n;
    b->mem[b->len] = '\0';
    return n;
}

static void body_reset(body *b)
{
    b->len = 0;
    b->size = 0;
    b->nsniff = 0;
    b->over = 0;
    b->write_failed = 0;
    if (b->mem)
        b->mem[0] = '\0';
    if (b->file && ftell(b->file) > 0) { /* a retry: start the file again */
        /* (only then: ext4 flushes a file truncated to 0 when it is closed) */
        rewind(b->file);
        if (ftruncate(fileno(b->file), 0) < 0)
            b->write_failed = errno;
    }
    tp_sha256_clear(&b->sha);
}

/* What the server's error pages look like: an HTML document or the text. */
static int looks_html(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n && isspace(p[i]))
        i++;
    static const char *const starts[] = {"<!doctype html", "<html", "<head", "<body"};
    for (size_t k = 0; k < sizeof starts / sizeof *starts; k++) {
        size_t len = strlen(starts[k]);
        if (n - i >= len && strncasecmp((const char *)p + i, starts[k], len) == 0)
            return 1;
    }
    return 0;
}

static int is_error_text(const unsigned char *p, size_t n)
{
    while (n > 0 && isspace(p[n - 1]))
        n--;
    while (n > 0 && isspace(*p)) {
        p++;
        n--;
    }
    size_t len = sizeof server_error_text - 1;
    return n == len && memcmp(p, server_error_text, len) == 0;
}

static int is_archive_magic(const unsigned char *p, size_t n)
{
    return (n >= 4 && p[0] == 'P' && p[1] == 'K' && (p[2] == 3 || p[2] == 5) &&
            (p[3] == 4 || p[3] == 6)) ||
           (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) ||
           (n >= 262 && memcmp(p + 257, "ustar", 5) == 0);
}

typedef enum outcome { OK, RETRY, FINAL } outcome;

/* Classify a finished request.  Sets *kind and err for RETRY / FINAL. */
static outcome classify(tp_fetch_conn *c, CURLcode cc, const body *b, const char *what, int is_list,
                        tp_fetch_kind *kind, tp_error *err)
{
    long status = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK && c->refused > 0 && c->opened == 0) {
        *kind = TP_FETCH_SERVER_ERROR;
        tp_error_set(err, TP_ECONFIG, "%s: refused: %s", what, c->refusal);
        return FINAL;
    }
    if (b->over) {
        *kind = TP_FETCH_BAD_FILE;
        tp_error_set(err, TP_ELIMIT, "%s: larger than the %llu-byte cap", what,
                     (unsigned long long)c->f->o.max_file_bytes);
        return FINAL;
    }
    if (b->write_failed) {
        *kind = TP_FETCH_BAD_FILE;
        tp_error_set(err, TP_EIO, "%s: cannot write the download: %s", what,
                     strerror(b->write_failed));
        return FINAL;
    }
    if (cc == CURLE_FILESIZE_EXCEEDED) {
        *kind = TP_FETCH_BAD_FILE;
        tp_error_set(err, TP_ELIMIT, "%s: larger than the %llu-byte cap (Content-Length)", what,
                     (unsigned long long)c->f->o.max_file_bytes);
        return FINAL;
    }
    if (cc == CURLE_PARTIAL_FILE) {
        *kind = TP_FETCH_BAD_FILE;
        tp_error_set(err, TP_EIO, "%s: truncated: the body ended before its Content-Length (%s)",
                     what, c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
        return RETRY;
    }
    if (cc != CURLE_OK) {
        *kind = TP_FETCH_NETWORK;
        tp_error_set(err, TP_EIO, "%s: %s", what,
                     c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
        switch (cc) {
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_OUT_OF_MEMORY: return FINAL;
        default: return RETRY; /* connect, resolve, reset, timeout, empty reply ... */
        }
    }
    if (status >= 500 || status == 429 || status == 408) {
        *kind = TP_FETCH_SERVER_ERROR;
        tp_error_set(err, TP_EIO, "%s: HTTP %ld from the report server", what, status);
        return RETRY;
    }
    if (status != 200) {
        *kind = TP_FETCH_SERVER_ERROR;
        tp_error_set(err, TP_EIO, "%s: HTTP %ld from the report server", what, status);
        return FINAL;
    }
    if (looks_html(b->sniff, b->nsniff)) {
        *kind = TP_FETCH_SERVER_ERROR;
        tp_error_set(err, TP_EIO, "%s: the report server answered with an HTML error page", what);
        return RETRY;
    }
    if (is_error_text(b->sniff, b->nsniff) && b->size == b->nsniff) {
        *kind = TP_FETCH_SERVER_ERROR;
        tp_error_set(err, TP_EIO, "%s: the report server answered \"%s\"", what, server_error_text);
        return RETRY;
    }
    if (!is_list && !is_archive_magic(b->sniff, b->nsniff) && memchr(b->sniff, 0, b->nsniff)) {
        *kind = TP_FETCH_BAD_FILE;
        tp_error_set(err, TP_EPARSE, "%s: not a CSV file (binary content)", what);
        return FINAL;
    }
    return OK;
}

/* Run the request set up on c->curl with retries, if the allow-list lets
 * it go to `url`.  0 or < 0 (*kind, err). */
static int perform(tp_fetch_conn *c, const char *url, body *b, const char *what, int is_list,
                   tp_fetch_kind *kind, tp_error *err)
{
    tp_fetcher *f = c->f;
    if (tp_allow_url(f->o.allow, url, c->host, err) < 0) {
        *kind = TP_FETCH_SERVER_ERROR;
        count(f, &f->stats.errors[*kind], 1);
        return tp_error_prefix(err, "%s: refused: ", what);
    }
    for (int attempt = 0;; attempt++) {
        body_reset(b);
        c->errbuf[0] = '\0';
        c->stopped = 0;
        c->opened = c->refused = 0;
        c->refusal[0] = '\0';
        CURLcode cc = CURLE_ABORTED_BY_CALLBACK;
        if (!poll_stop(c)) {
            server *s = limit_enter(f, url);
            cc = curl_easy_perform(c->curl);
            limit_leave(f, s);
        }
        if (c->stopped) /* the caller's stop: not the server's fault, not retried */
            return tp_error_set(err, c->stopped, "%s: stopped (%s)", what, tp_strerror(c->stopped));
        outcome oc = classify(c, cc, b, what, is_list, kind, err);
        if (oc == OK) {
            *kind = TP_FETCH_OK;
            count(f, &f->stats.bytes, b->size);
            return TP_OK;
        }
        if (oc == FINAL || attempt >= f->o.retries) {
            if (oc == RETRY && attempt > 0)
                tp_error_prefix(err, "after %d tries: ", attempt + 1);
            count(f, &f->stats.errors[*kind], 1);
            return err ? (err->code ? err->code : TP_EIO) : TP_EIO;
        }
        count(f, &f->stats.retries, 1);
        double d = f->o.backoff_base * (double)(1u << (attempt < 10 ? attempt : 10));
        d = d / 2 + d / 2 * ((double)rand_r(&c->seed) / RAND_MAX); /* jitter: [d/2, d] */
        for (double end = tp_now() + d; tp_now() < end && !poll_stop(c);)
            tp_sleep(end - tp_now() < 0.05 ? end - tp_now() : 0.05);
    }
}

/* Every connection's address, checked as it is opened: a name on the
 * allow-list must not lead to a loopback or link-local address. */
static curl_socket_t open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    tp_fetch_conn *c = ud;
    if (purpose != CURLSOCKTYPE_IPCXN) {
        snprintf(c->refusal, sizeof c->refusal, "%s: not a connection to a report server", c->host);
        c->refused++;
        return CURL_SOCKET_BAD;
    }
    if (!tp_allow_address(c->host, &a->addr, c->refusal, sizeof c->refusal)) {
        c->refused++;
        return CURL_SOCKET_BAD;
    }
    curl_socket_t s = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    c->opened += s != CURL_SOCKET_BAD;
    return s;
}

static void common_opts(tp_fetch_conn *c, body *b, long timeout_ms)
{
    CURL *h = c->curl;
    curl_easy_reset(h); /* keeps the connection cache */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->f->o.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)b->max);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROXY, ""); /* the address connected is the one checked */
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, c);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "tillpipe/" TP_VERSION);
    /* A body cut short of its Content-Length must be an error. */
    curl_easy_setopt(h, CURLOPT_IGNORE_CONTENT_LENGTH, 0L);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, (long)FILE_BUFFER); /* fewer, larger writes */
    if (c->stop) { /* the caller's poll, while the request runs */
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
}

/* base + "/" + path, each segment URL-escaped. */
static char *join_url(CURL *h, const char *base, const char *path)
{
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    size_t cap = blen + 3 * strlen(path) + 2;
    char *url = malloc(cap);
    if (!url)
        return NULL;
    size_t n = (size_t)snprintf(url, cap, "%.*s", (int)blen, base);
    for (const char *seg = path; seg;) {
        const char *end = strchr(seg, '/');
        int len = end ? (int)(end - seg) : (int)strlen(seg);
        char *esc = curl_easy_escape(h, seg, len);
        if (!esc) {
            free(url);
            return NULL;
        }
        n += (size_t)snprintf(url + n, cap - n, "/%s", esc);
        curl_free(esc);
        seg = end ? end + 1 : NULL;
    }
    return url;
}

/* ------------------------------------------------------------ list */

void tp_fetch_list_free(char **paths, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

/* A listed path must be relative, without "." / ".." segments or control
 * characters: the name of a file under the server's base. */
static int path_ok(const char *p, size_t n)
{
    if (n == 0 || n >= PATH_MAX_LEN || p[0] == '/' || p[n - 1] == '/')
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\' || p[i] == '?' ||
            p[i] == '#')
            return 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        if ((j - i == 1 && p[i] == '.') || (j - i == 2 && p[i] == '.' && p[i + 1] == '.') || j == i)
            return 0;
        i = j + 1;
    }
    return 1;
}

int tp_fetch_list_parse(const char *text, size_t len, const char *what, char ***paths, size_t *n,
                        tp_fetch_kind *kind, tp_error *err)
{
    *paths = NULL;
    *n = 0;
    *kind = TP_FETCH_OK;
    /* comma-separated relative paths; whitespace around them ignored */
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    const char *p = text, *end_of_body = text + len;
    int rc = TP_OK;
    while (rc == TP_OK && p < end_of_body) {
        const char *end = memchr(p, ',', (size_t)(end_of_body - p));
        const char *stop = end ? end : end_of_body;
        const char *s = p;
        while (s < stop && isspace((unsigned char)*s))
            s++;
        const char *e = stop;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        if (e > s) {
            if (!path_ok(s, (size_t)(e - s))) {
                *kind = TP_FETCH_SERVER_ERROR;
                rc = tp_error_set(err, TP_EPARSE, "%s: the server listed an invalid path '%.*s'",
                                  what, (int)((e - s) > 120 ? 120 : (e - s)), s);
                break;
            }
            if (cnt == cap) {
                cap = cap ? cap * 2 : 16;
                char **nv = realloc(v, cap * sizeof *nv);
                if (!nv) {
                    rc = tp_error_set(err, TP_ENOMEM, "out of memory");
                    break;
                }
                v = nv;
            }
            if (!(v[cnt] = strndup(s, (size_t)(e - s)))) {
                rc = tp_error_set(err, TP_ENOMEM, "out of memory");
                break;
            }
            cnt++;
        }
        p = end ? end + 1 : stop;
    }
    if (rc < 0) {
        tp_fetch_list_free(v, cnt);
        return rc;
    }
    *paths = v;
    *n = cnt;
    if (cnt == 0)
        *kind = TP_FETCH_NO_FILES;
    return TP_OK;
}

int tp_fetch_list(tp_fetch_conn *c, const char *base, const char *branch, int pos, const char *date,
                  char ***paths, size_t *n, tp_fetch_kind *kind, tp_error *err)
{
    *paths = NULL;
    *n = 0;
    *kind = TP_FETCH_OK;
    char what[160];
    snprintf(what, sizeof what, "list %s/%d/%s", branch, pos, date);
    char *url = join_url(c->curl, base, "fetch_list2.php");
    char *eb = curl_easy_escape(c->curl, branch, 0), *ed = curl_easy_escape(c->curl, date, 0);
    char form[256];
    int ok =
        url && eb && ed &&
        (size_t)snprintf(form, sizeof form, "branch=%s&pos=%d&date=%s", eb, pos, ed) < sizeof form;
    curl_free(eb);
    curl_free(ed);
    if (!ok) {
        free(url);
        *kind = TP_FETCH_SERVER_ERROR;
        return tp_error_set(err, TP_EINVAL, "%s: cannot build the request", what);
    }
    body b = {.max = LIST_MAX_BYTES};
    common_opts(c, &b, c->f->o.list_timeout_ms);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, form);
    int rc = perform(c, url, &b, what, 1, kind, err);
    free(url);
    if (rc < 0) {
        free(b.mem);
        return rc;
    }
    rc = tp_fetch_list_parse(b.mem ? b.mem : "", b.len, what, paths, n, kind, err);
    free(b.mem);
    return rc;
}

/* ------------------------------------------------------------ download */

int tp_fetch_file(tp_fetch_conn *c, const char *base, const char *relpath, const char *dest,
                  char sha256[TP_SHA256_HEX], uint64_t *size, tp_fetch_kind *kind, tp_error *err)
{
    *kind = TP_FETCH_OK;
    char what[PATH_MAX_LEN + 16];
    snprintf(what, sizeof what, "download %s", relpath);
    if (!path_ok(relpath, strlen(relpath))) {
        *kind = TP_FETCH_SERVER_ERROR;
        return tp_error_set(err, TP_EINVAL, "%s: invalid path", what);
    }
    char *url = join_url(c->curl, base, relpath);
    if (!url)
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    body b = {.max = c->f->o.max_file_bytes};
    /* (glibc ignores the size given with a NULL buffer: bring one) */
    char *fbuf = malloc(FILE_BUFFER);
    if (fbuf && (b.file = fopen(dest, "wbx")))
        setvbuf(b.file, fbuf, _IOFBF, FILE_BUFFER);
    if (!b.file) {
        free(fbuf);
        free(url);
        *kind = TP_FETCH_BAD_FILE;
        return tp_error_set(err, TP_EIO, "%s: cannot create %s: %s", what, dest, strerror(errno));
    }
    common_opts(c, &b, c->f->o.file_timeout_ms);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    int rc = perform(c, url, &b, what, 0, kind, err);
    free(url);
    int closed = fclose(b.file);
    free(fbuf);
    if (closed != 0 && rc == TP_OK) {
        *kind = TP_FETCH_BAD_FILE;
        rc = tp_error_set(err, TP_EIO, "%s: cannot write %s: %s", what, dest, strerror(errno));
    }
    if (rc == TP_OK && (rc = tp_sha256_final_hex(&b.sha, sha256, err)) < 0)
        *kind = TP_FETCH_BAD_FILE;
    if (rc < 0) {
        tp_sha256_clear(&b.sha);
        unlink(dest);
        return rc;
    }
    *size = b.size;
    count(c->f, &c->f->stats.files, 1);
    return TP_OK;
}
