/* s3.c -- the s3 backend of store.h: objects in a bucket of an
 * S3-compatible server, through libs3.
 *
 * What Debian's libs3 (2.0) does and does not do, and what this file does
 * about it:
 *
 *  - It signs with AWS signature version 2 only: S3BucketContext has no
 *    authRegion, so the region is only the location constraint of a bucket
 *    this backend creates.  s3rver, MinIO and Ceph accept V2; AWS accepts it
 *    only for older buckets and regions.
 *  - S3_initialize is process-wide and not thread-safe: it runs once, under
 *    pthread_once, and is never undone (libs3 keeps the curl handles of
 *    finished requests for reuse).  Every request names its host in the
 *    bucket context, so libs3's process-wide default host is never used and
 *    stores with different endpoints can live in one process.
 *  - It has no request timeout.  Requests therefore run in an
 *    S3RequestContext that this file drives with select(), abandoning a
 *    request when the server has given no sign of life for timeout_ms
 *    (connecting, waiting for the answer, or stalled mid-transfer); a
 *    transfer that keeps moving is not cut off.  A context is used by one
 *    thread at a time (libs3's rule); finished ones are pooled per store so
 *    that connections are reused.
 *  - It reports a body cut short by the connection as success
 *    (CURLE_PARTIAL_FILE -> S3StatusOK): reads check the byte count against
 *    Content-Length and retry.  A retried read restarts the object and skips
 *    the bytes already handed on, after checking that the ETag is the same.
 *  - https certificates are verified against the system's CA store
 *    (libcurl-gnutls' default) and there is no option to name another CA: a
 *    server with a private CA needs that CA installed system-wide
 *    (update-ca-certificates).
 *  - HEAD answers have no body: a missing bucket and a missing key are both
 *    HttpErrorNotFound, and refused credentials are HttpErrorForbidden with
 *    no details.  Opening and check() therefore GET a probe key, whose error
 *    document tells NoSuchKey (fine) from NoSuchBucket and names refused
 *    credentials.
 *  - Bucket-level requests are signed over "/bucket/" (the path libs3
 *    sends); s3rver verifies them against "/bucket" and answers
 *    SignatureDoesNotMatch, so with s3rver the bucket must exist beforehand
 *    (tests/fixtures/s3/s3ctl.sh start DIR BUCKET creates it).  Object requests are
 *    unaffected.
 *
 * Transient failures (no connection, reset connection, timeout, 5xx,
 * SlowDown) are retried 3 times, 100, 200 and 400 ms apart.  Messages name
 * the operation, the key or bucket, the host and libs3's status and the
 * server's message; never the secret key.  A missing key is TP_ENOTFOUND,
 * everything else from the server TP_EIO (TP_ECONFIG when opening: refused
 * credentials, a bucket that cannot be created).
 */
#include "store_int.h"

#include "core/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <libs3.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S3_RETRIES 3      /* after the first attempt */
#define S3_BACKOFF_MS 100 /* doubled for each retry */
#define S3_POOL 16        /* idle request contexts kept per store */
#define S3_DEFAULT_TIMEOUT 30000
#define S3_PROBE_KEY "tillpipe-probe/none" /* never stored: GET answers NoSuchKey */

typedef struct s3_store {
    S3BucketContext bc; /* points into the arrays below */
    char host[S3_MAX_HOSTNAME_SIZE + 1];
    char bucket[S3_MAX_BUCKET_NAME_SIZE + 1];
    char region[64];
    char access_key[128];
    char secret_key[128];
    int timeout_ms;
    unsigned tmp_seq; /* atomic: names of get_file's temporaries */
    pthread_mutex_t pool_lock;
    S3RequestContext *pool[S3_POOL]; /* idle contexts, under pool_lock */
    int npool;
} s3_store;

/* One operation (all its attempts) and the outcome of its last attempt. */
typedef struct s3_req {
    s3_store *s3;
    const char *op;  /* "put", "get", ... for messages */
    const char *key; /* NULL: the operation is on the bucket */
    int attempts;
    /* the last attempt */
    S3Status status;
    char detail[256]; /* the server's error message */
    int done;         /* libs3 made the complete callback */
    int timed_out;
    int truncated;   /* the body ended before Content-Length */
    int64_t last_ms; /* the last sign of life from the server */
    int have_props;
    uint64_t length; /* Content-Length */
    char etag[96];
    char meta_sha256[65]; /* x-amz-meta-sha256 of the object, "" when none */
    /* put: the source */
    const char *path;
    int in_fd;
    uint64_t size, sent;
    int src_errno;
    int src_short; /* the file ended before `size` bytes */
    /* get and read: the sink, across attempts */
    int out_fd;           /* get_file, else -1 */
    tp_store_chunk_fn fn; /* read */
    void *ud;
    int fn_rc; /* the callback's stop value */
    int sink_errno;
    uint64_t pos;       /* bytes of this attempt's body seen */
    uint64_t delivered; /* bytes handed on */
    char first_etag[96];
    int changed; /* the object's ETag changed between attempts */
    /* list: the keys handed on so far end at `marker` (across attempts) */
    const char *prefix;
    tp_store_list_fn list_fn;
    char marker[TP_STORE_KEY_MAX];
    int more; /* the last page said it was truncated */
} s3_req;

/* ------------------------------------------------------------ libs3 setup */

/* libs3's own state is process-wide; this records whether it came up. */
static pthread_once_t s3_once = PTHREAD_ONCE_INIT;
static S3Status s3_init_status;

static void s3_init(void)
{
    s3_init_status = S3_initialize("tillpipe", S3_INIT_ALL, NULL);
}

/* ------------------------------------------------------------ helpers */

static int64_t now_ms(void)
{
    return (int64_t)(tp_now() * 1000);
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static void req_init(s3_req *r, s3_store *s3, const char *op, const char *key)
{
    memset(r, 0, sizeof *r);
    r->s3 = s3;
    r->op = op;
    r->key = key;
    r->in_fd = -1;
    r->out_fd = -1;
}

static int local_failure(const s3_req *r)
{
    return r->src_errno || r->src_short || r->sink_errno || r->fn_rc || r->changed;
}

static int req_ok(const s3_req *r)
{
    return r->status == S3StatusOK && !r->timed_out && !r->truncated && !local_failure(r);
}

static int req_missing(const s3_req *r)
{
    return !r->timed_out && !local_failure(r) &&
           (r->status == S3StatusHttpErrorNotFound || r->status == S3StatusErrorNoSuchKey);
}

static int req_denied(const s3_req *r)
{
    switch (r->status) {
    case S3StatusHttpErrorForbidden:
    case S3StatusErrorAccessDenied:
    case S3StatusErrorInvalidAccessKeyId:
    case S3StatusErrorSignatureDoesNotMatch: return 1;
    default: return 0;
    }
}

/* Worth another attempt: the network, the server being busy or failing. */
static int req_retryable(const s3_req *r)
{
    if (local_failure(r))
        return 0;
    if (r->timed_out || r->truncated)
        return 1;
    switch (r->status) {
    case S3StatusInternalError: /* libs3's mapping of most curl failures */
    case S3StatusInterrupted:
    case S3StatusErrorSlowDown: /* also libs3's name for a bare 503 */
    case S3StatusHttpErrorUnknown: /* 502, 504 and other unexpected codes */ return 1;
    default: return S3_status_is_retryable(r->status);
    }
}

/* Set err from the failed request; returns the TP_E* code. */
static int req_fail(const s3_req *r, tp_error *err)
{
    const s3_store *s3 = r->s3;
    char what[TP_STORE_KEY_MAX + S3_MAX_BUCKET_NAME_SIZE + 32];
    if (r->key)
        snprintf(what, sizeof what, "s3 %s %s", r->op, r->key);
    else
        snprintf(what, sizeof what, "s3 %s bucket %s", r->op, s3->bucket);
    char tries[32] = "";
    if (r->attempts > 1)
        snprintf(tries, sizeof tries, ", %d attempts", r->attempts);
    const char *name = S3_get_status_name(r->status);
    const char *sep = r->detail[0] ? ": " : "";

    if (r->fn_rc)
        return r->fn_rc;
    if (r->src_errno)
        return tp_error_set(err, TP_EIO, "%s: reading %s: %s", what, r->path,
                            strerror(r->src_errno));
    if (r->src_short)
        return tp_error_set(err, TP_EIO, "%s: %s ended before its %llu bytes", what, r->path,
                            (unsigned long long)r->size);
    if (r->sink_errno)
        return tp_error_set(err, TP_EIO, "%s: writing: %s", what, strerror(r->sink_errno));
    if (r->changed)
        return tp_error_set(err, TP_EIO, "%s: the object changed while it was read", what);
    if (r->timed_out)
        return tp_error_set(err, TP_EIO, "%s: no answer from %s within %d ms (timed out%s)", what,
                            s3->host, s3->timeout_ms, tries);
    if (r->truncated)
        return tp_error_set(err, TP_EIO,
                            "%s: connection to %s closed after %llu of %llu bytes (%s)", what,
                            s3->host, (unsigned long long)r->pos, (unsigned long long)r->length,
                            tries[0] ? tries + 2 : "1 attempt");
    switch (r->status) {
    case S3StatusHttpErrorNotFound:
    case S3StatusErrorNoSuchKey: return tp_error_set(err, TP_ENOTFOUND, "%s: no such object", what);
    case S3StatusNameLookupError:
        return tp_error_set(err, TP_EIO, "%s: could not resolve %s (%s%s)", what, s3->host, name,
                            tries);
    case S3StatusFailedToConnect:
        return tp_error_set(err, TP_EIO, "%s: could not connect to %s (%s%s)", what, s3->host, name,
                            tries);
    case S3StatusConnectionFailed:
    case S3StatusInternalError:
    case S3StatusInterrupted:
        return tp_error_set(err, TP_EIO, "%s: connection to %s failed (%s%s)", what, s3->host, name,
                            tries);
    case S3StatusServerFailedVerification:
        return tp_error_set(err, TP_EIO,
                            "%s: the TLS certificate of %s was not accepted (%s; its CA must be "
                            "in the system's CA store)",
                            what, s3->host, name);
    case S3StatusErrorNoSuchBucket:
        return tp_error_set(err, TP_EIO, "%s: bucket %s does not exist at %s (%s%s%s)", what,
                            s3->bucket, s3->host, name, sep, r->detail);
    default: break;
    }
    if (req_denied(r))
        return tp_error_set(err, TP_EIO,
                            "%s: %s refused the credentials (%s%s%s); check the access key "
                            "and the secret key",
                            what, s3->host, name, sep, r->detail);
    return tp_error_set(err, TP_EIO, "%s: %s (%s%s%s%s)", what, s3->host, name, sep, r->detail,
                        tries);
}

/* ------------------------------------------------------------ callbacks */

static S3Status on_props(const S3ResponseProperties *p, void *cb)
{
    s3_req *r = cb;
    r->last_ms = now_ms();
    r->have_props = 1;
    r->length = p->contentLength;
    snprintf(r->etag, sizeof r->etag, "%s", p->eTag ? p->eTag : "");
    for (int i = 0; i < p->metaDataCount; i++)
        if (p->metaData[i].name && strcasecmp(p->metaData[i].name, "sha256") == 0)
            snprintf(r->meta_sha256, sizeof r->meta_sha256, "%s",
                     p->metaData[i].value ? p->metaData[i].value : "");
    if (r->delivered > 0 && strcmp(r->etag, r->first_etag) != 0) {
        r->changed = 1; /* a retry found another object under the key */
        return S3StatusAbortedByCallback;
    }
    snprintf(r->first_etag, sizeof r->first_etag, "%s", r->etag);
    return S3StatusOK;
}

static void on_done(S3Status status, const S3ErrorDetails *d, void *cb)
{
    s3_req *r = cb;
    r->status = status;
    r->done = 1;
    snprintf(r->detail, sizeof r->detail, "%s", d && d->message ? d->message : "");
}

static int on_send(int cap, char *buf, void *cb)
{
    s3_req *r = cb;
    r->last_ms = now_ms();
    uint64_t left = r->size - r->sent;
    if (left == 0 || cap <= 0)
        return 0;
    size_t want = left < (uint64_t)cap ? (size_t)left : (size_t)cap;
    ssize_t n;
    do
        n = pread(r->in_fd, buf, want, (off_t)r->sent);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        r->src_errno = errno;
        return -1;
    }
    if (n == 0) {
        r->src_short = 1;
        return -1;
    }
    r->sent += (uint64_t)n;
    return (int)n;
}

static S3Status on_body(int len, const char *data, void *cb)
{
    s3_req *r = cb;
    r->last_ms = now_ms();
    uint64_t start = r->pos;
    r->pos += (uint64_t)len;
    if (r->pos <= r->delivered)
        return S3StatusOK; /* handed on by an earlier attempt */
    size_t skip = start < r->delivered ? (size_t)(r->delivered - start) : 0;
    data += skip;
    size_t n = (size_t)len - skip;
    if (r->out_fd >= 0) {
        for (size_t off = 0; off < n;) {
            ssize_t w = write(r->out_fd, data + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                r->sink_errno = errno;
                return S3StatusAbortedByCallback;
            }
            off += (size_t)w;
        }
    } else {
        int rc = r->fn(r->ud, data, n);
        if (rc < 0) {
            r->fn_rc = rc;
            return S3StatusAbortedByCallback;
        }
    }
    r->delivered += n;
    return S3StatusOK;
}

/* A page of a listing: keys after the marker are handed on (a retried
 * page repeats the ones already seen: skipped). */
static S3Status on_list(int truncated, const char *next, int count,
                        const S3ListBucketContent *contents, int nprefixes, const char **prefixes,
                        void *cb)
{
    s3_req *r = cb;
    (void)next, (void)nprefixes, (void)prefixes;
    r->last_ms = now_ms();
    r->more = truncated;
    for (int i = 0; i < count; i++) {
        const char *key = contents[i].key;
        if (!key || strlen(key) >= sizeof r->marker || strcmp(key, r->marker) <= 0)
            continue;
        int rc = r->list_fn(r->ud, key, contents[i].size);
        snprintf(r->marker, sizeof r->marker, "%s", key);
        if (rc < 0) {
            r->fn_rc = rc;
            return S3StatusAbortedByCallback;
        }
    }
    return S3StatusOK;
}

static const S3ResponseHandler plain_handler = {on_props, on_done};
static const S3ListBucketHandler list_handler = {{on_props, on_done}, on_list};
static const S3PutObjectHandler put_handler = {{on_props, on_done}, on_send};
static const S3GetObjectHandler get_handler = {{on_props, on_done}, on_body};

/* ------------------------------------------------------------ requests */

typedef void (*s3_issue_fn)(s3_req *r, S3RequestContext *ctx);

static void issue_head(s3_req *r, S3RequestContext *ctx)
{
    S3_head_object(&r->s3->bc, r->key, ctx, &plain_handler, r);
}

/* The sha256 a content key names (its last segment), or "". */
static const char *key_sha256(const char *key)
{
    const char *slash = strrchr(key, '/');
    const char *sha = slash ? slash + 1 : key;
    return strlen(sha) == 64 && strspn(sha, "0123456789abcdef") == 64 ? sha : "";
}

static void issue_put(s3_req *r, S3RequestContext *ctx)
{
    /* the object carries its own checksum: a later "does it exist?" can
     * tell a whole object from one a crash left behind */
    S3NameValue meta = {"sha256", key_sha256(r->key)};
    S3PutProperties props = {.expires = -1,
                             .cannedAcl = S3CannedAclPrivate,
                             .metaDataCount = meta.value[0] ? 1 : 0,
                             .metaData = &meta};
    S3_put_object(&r->s3->bc, r->key, r->size, &props, ctx, &put_handler, r);
}

static void issue_get(s3_req *r, S3RequestContext *ctx)
{
    S3_get_object(&r->s3->bc, r->key, NULL, 0, 0, ctx, &get_handler, r);
}

static void issue_list(s3_req *r, S3RequestContext *ctx)
{
    S3_list_bucket(&r->s3->bc, r->prefix, r->marker[0] ? r->marker : NULL, NULL, 1000, ctx,
                   &list_handler, r);
}

static void issue_delete(s3_req *r, S3RequestContext *ctx)
{
    S3_delete_object(&r->s3->bc, r->key, ctx, &plain_handler, r);
}

/* The probe: GET of a key that is never stored (only its first byte, should
 * it exist after all). */
static void issue_probe(s3_req *r, S3RequestContext *ctx)
{
    S3GetConditions range_only = {-1, -1, NULL, NULL};
    S3_get_object(&r->s3->bc, S3_PROBE_KEY, &range_only, 0, 1, ctx, &get_handler, r);
}

static void issue_create_bucket(s3_req *r, S3RequestContext *ctx)
{
    const s3_store *s3 = r->s3;
    const char *where = strcmp(s3->region, "us-east-1") == 0 ? NULL : s3->region;
    S3_create_bucket(s3->bc.protocol, s3->access_key, s3->secret_key, s3->host, s3->bucket,
                     S3CannedAclPrivate, where, ctx, &plain_handler, r);
}

static S3RequestContext *ctx_take(s3_store *s3)
{
    S3RequestContext *ctx = NULL;
    pthread_mutex_lock(&s3->pool_lock);
    if (s3->npool > 0)
        ctx = s3->pool[--s3->npool];
    pthread_mutex_unlock(&s3->pool_lock);
    if (!ctx && S3_create_request_context(&ctx) != S3StatusOK)
        return NULL;
    return ctx;
}

static void ctx_give(s3_store *s3, S3RequestContext *ctx)
{
    pthread_mutex_lock(&s3->pool_lock);
    if (s3->npool < S3_POOL) {
        s3->pool[s3->npool++] = ctx;
        ctx = NULL;
    }
    pthread_mutex_unlock(&s3->pool_lock);
    if (ctx)
        S3_destroy_request_context(ctx);
}

/* Wait for the context's sockets, at most `limit_ms`. */
static void wait_io(S3RequestContext *ctx, int64_t limit_ms)
{
    fd_set rd, wr, ex;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_ZERO(&ex);
    int maxfd = -1;
    if (S3_get_request_context_fdsets(ctx, &rd, &wr, &ex, &maxfd) != S3StatusOK)
        maxfd = -1;
    int64_t wait = limit_ms, curl_wants = S3_get_request_context_timeout(ctx);
    if (curl_wants >= 0 && curl_wants < wait)
        wait = curl_wants;
    /* No socket yet (or only ones beyond FD_SETSIZE, which curl leaves out):
     * poll. */
    if (maxfd < 0 && wait > 10)
        wait = 10;
    if (wait > 1000)
        wait = 1000;
    if (wait <= 0)
        return;
    if (maxfd < 0) {
        tp_sleep((double)(wait) / 1000);
        return;
    }
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
    select(maxfd + 1, &rd, &wr, &ex, &tv);
}

/* One attempt: issue the request and drive it to its end or to the idle
 * timeout. */
static void attempt(s3_req *r, s3_issue_fn issue)
{
    s3_store *s3 = r->s3;
    r->status = S3StatusInternalError;
    r->detail[0] = '\0';
    r->done = r->timed_out = r->truncated = r->have_props = 0;
    r->length = 0;
    r->etag[0] = '\0';
    r->pos = r->sent = 0;
    S3RequestContext *ctx = ctx_take(s3);
    if (!ctx) {
        r->status = S3StatusOutOfMemory;
        return;
    }
    r->last_ms = now_ms();
    issue(r, ctx);
    S3Status broken = S3StatusOK;
    while (!r->done) {
        int running = 0;
        broken = S3_runonce_request_context(ctx, &running);
        if (broken != S3StatusOK || r->done)
            break;
        int64_t idle = now_ms() - r->last_ms;
        if (idle >= s3->timeout_ms) {
            r->timed_out = 1;
            break;
        }
        wait_io(ctx, s3->timeout_ms - idle);
    }
    if (r->done && broken == S3StatusOK) {
        ctx_give(s3, ctx);
    } else {
        /* Abandon the request: destroying the context finishes it (the
         * complete callback runs, with Interrupted). */
        S3_destroy_request_context(ctx);
        if (broken != S3StatusOK)
            r->status = broken;
    }
    if (r->status == S3StatusOK && r->have_props && r->pos != r->length && (issue == issue_get))
        r->truncated = 1;
}

/* All attempts of one operation. */
static void perform(s3_req *r, s3_issue_fn issue)
{
    for (r->attempts = 1;; r->attempts++) {
        attempt(r, issue);
        if (req_ok(r) || !req_retryable(r) || r->attempts > S3_RETRIES)
            return;
        tp_sleep((double)((int64_t)S3_BACKOFF_MS << (r->attempts - 1)) / 1000);
    }
}

/* ------------------------------------------------------------ operations */

static int s3_put_file(tp_store *s, const char *key, const char *path, uint64_t size, int *existed,
                       tp_error *err)
{
    s3_store *s3 = s->impl;
    s3_req r;
    req_init(&r, s3, "put", key);
    perform(&r, issue_head);
    /* an object under the key counts only when it is whole: its size, and
     * the checksum it was written with when it has one (an S3 server that
     * crashed mid-upload may keep a truncated object) */
    const char *sha = key_sha256(key);
    if (req_ok(&r) && r.length == size && (!r.meta_sha256[0] || strcmp(r.meta_sha256, sha) == 0)) {
        *existed = 1;
        return TP_OK;
    }
    if (!req_ok(&r) && !req_missing(&r))
        return req_fail(&r, err);
    if (req_ok(&r))
        fprintf(stderr,
                "tillpipe: s3 put %s: the object there is not whole (%llu bytes, sha256 \"%s\"; "
                "want %llu bytes): uploading it again\n",
                key, (unsigned long long)r.length, r.meta_sha256, (unsigned long long)size);

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tp_error_set(err, errno == ENOENT ? TP_ENOTFOUND : TP_EIO, "s3 put %s: %s: %s", key,
                            path, strerror(errno));
    struct stat st;
    int rc = TP_OK;
    if (fstat(fd, &st) < 0)
        rc = tp_error_set(err, TP_EIO, "s3 put %s: %s: %s", key, path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = tp_error_set(err, TP_EINVAL, "s3 put %s: %s is not a regular file", key, path);
    else if ((uint64_t)st.st_size != size)
        rc = tp_error_set(err, TP_EINVAL, "s3 put %s: %s has %lld bytes, not %llu", key, path,
                          (long long)st.st_size, (unsigned long long)size);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    req_init(&r, s3, "put", key);
    r.path = path;
    r.in_fd = fd;
    r.size = size;
    perform(&r, issue_put); /* S3 replaces an object whole: no temporary key */
    close(fd);
    return req_ok(&r) ? TP_OK : req_fail(&r, err);
}

static int s3_get_file(tp_store *s, const char *key, const char *path, tp_error *err)
{
    s3_store *s3 = s->impl;
    char tmp[PATH_MAX + 64];
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path + 1) : 0;
    unsigned seq = __atomic_add_fetch(&s3->tmp_seq, 1, __ATOMIC_RELAXED);
    if ((size_t)snprintf(tmp, sizeof tmp, "%.*s.tmp-%d-%u-%s", dirlen, path, (int)getpid(), seq,
                         slash ? slash + 1 : path) >= sizeof tmp)
        return tp_error_set(err, TP_ELIMIT, "s3 get %s: path too long: %s", key, path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return tp_error_set(err, TP_EIO, "s3 get %s: create %s: %s", key, tmp, strerror(errno));
    s3_req r;
    req_init(&r, s3, "get", key);
    r.out_fd = fd;
    perform(&r, issue_get);
    int rc = req_ok(&r) ? TP_OK : req_fail(&r, err);
    if (close(fd) < 0 && rc == TP_OK)
        rc = tp_error_set(err, TP_EIO, "s3 get %s: close %s: %s", key, tmp, strerror(errno));
    if (rc == TP_OK && rename(tmp, path) < 0)
        rc = tp_error_set(err, TP_EIO, "s3 get %s: rename to %s: %s", key, path, strerror(errno));
    if (rc < 0)
        unlink(tmp);
    return rc;
}

static int s3_read(tp_store *s, const char *key, tp_store_chunk_fn fn, void *ud, tp_error *err)
{
    s3_req r;
    req_init(&r, s->impl, "read", key);
    r.fn = fn;
    r.ud = ud;
    perform(&r, issue_get);
    return req_ok(&r) ? TP_OK : req_fail(&r, err);
}

static int s3_stat(tp_store *s, const char *key, int *exists, uint64_t *size, tp_error *err)
{
    s3_req r;
    req_init(&r, s->impl, "stat", key);
    perform(&r, issue_head);
    if (req_missing(&r))
        return TP_OK;
    if (!req_ok(&r))
        return req_fail(&r, err);
    *exists = 1;
    if (size)
        *size = r.length;
    return TP_OK;
}

static int s3_del(tp_store *s, const char *key, tp_error *err)
{
    s3_req r;
    req_init(&r, s->impl, "delete", key);
    perform(&r, issue_delete);
    return req_ok(&r) || req_missing(&r) ? TP_OK : req_fail(&r, err);
}

/* Page after page (each retried as a whole, its keys seen already
 * skipped). */
static int s3_list(tp_store *s, const char *prefix, tp_store_list_fn fn, void *ud, tp_error *err)
{
    s3_req r;
    req_init(&r, s->impl, "list", NULL);
    r.prefix = prefix;
    r.list_fn = fn;
    r.ud = ud;
    char before[sizeof r.marker];
    do {
        snprintf(before, sizeof before, "%s", r.marker);
        r.more = 0;
        perform(&r, issue_list);
        if (!req_ok(&r))
            return req_fail(&r, err);
    } while (r.more && strcmp(before, r.marker) != 0); /* (a page that adds nothing ends it) */
    return TP_OK;
}

/* The probe key answers NoSuchKey (or, should it exist, its first byte or
 * InvalidRange for an empty object): the server is there, takes the
 * credentials, and has the bucket. */
static int probe_ok(const s3_req *r)
{
    return req_ok(r) || req_missing(r) ||
           (!r->timed_out && !local_failure(r) && r->status == S3StatusErrorInvalidRange);
}

/* The probe's body, if any, goes nowhere. */
static int discard(void *ud, const void *data, size_t len)
{
    return 0;
}

static int s3_check(tp_store *s, tp_error *err)
{
    s3_req r;
    req_init(&r, s->impl, "check", NULL);
    r.fn = discard;
    perform(&r, issue_probe);
    return probe_ok(&r) ? TP_OK : req_fail(&r, err);
}

static void s3_close(tp_store *s)
{
    s3_store *s3 = s->impl;
    if (!s3)
        return;
    for (int i = 0; i < s3->npool; i++)
        S3_destroy_request_context(s3->pool[i]);
    pthread_mutex_destroy(&s3->pool_lock);
    explicit_bzero(s3->secret_key, sizeof s3->secret_key);
    free(s3);
    s->impl = NULL;
}

static const tp_store_ops s3_ops = {"s3",   s3_put_file, s3_get_file, s3_read, s3_stat,
                                    s3_del, s3_check,    s3_close,    NULL,    s3_list};

/* ------------------------------------------------------------ open */

/* The keys from the configuration, else the environment: TILLPIPE_S3_* as
 * a pair, else AWS_* as a pair. */
static int resolve_keys(const tp_store_config *cfg, s3_store *s3, tp_error *err)
{
    const char *ak = cfg->access_key && *cfg->access_key ? cfg->access_key : NULL;
    const char *sk = cfg->secret_key && *cfg->secret_key ? cfg->secret_key : NULL;
    if (!ak || !sk) {
        const char *tak = env_nonempty("TILLPIPE_S3_ACCESS_KEY");
        const char *tsk = env_nonempty("TILLPIPE_S3_SECRET_KEY");
        if (tak || tsk) {
            ak = ak ? ak : tak;
            sk = sk ? sk : tsk;
        } else {
            ak = ak ? ak : env_nonempty("AWS_ACCESS_KEY_ID");
            sk = sk ? sk : env_nonempty("AWS_SECRET_ACCESS_KEY");
        }
    }
    if (!ak || !sk)
        return tp_error_set(err, TP_ECONFIG,
                            "s3 store: no %s: set $TILLPIPE_S3_ACCESS_KEY and "
                            "$TILLPIPE_S3_SECRET_KEY (or $AWS_ACCESS_KEY_ID and "
                            "$AWS_SECRET_ACCESS_KEY)",
                            !ak && !sk ? "access key and secret key"
                            : !ak      ? "access key"
                                       : "secret key");
    if (strlen(ak) >= sizeof s3->access_key || strlen(sk) >= sizeof s3->secret_key)
        return tp_error_set(err, TP_ECONFIG, "s3 store: access key or secret key too long");
    snprintf(s3->access_key, sizeof s3->access_key, "%s", ak);
    snprintf(s3->secret_key, sizeof s3->secret_key, "%s", sk);
    return TP_OK;
}

static int configure(const tp_store_config *cfg, s3_store *s3, tp_error *err)
{
    const char *ep = cfg->endpoint;
    if (!ep || !*ep)
        return tp_error_set(err, TP_ECONFIG, "s3 store: no endpoint (host[:port])");
    if (strchr(ep, '/') || strlen(ep) >= sizeof s3->host)
        return tp_error_set(err, TP_ECONFIG,
                            "s3 store: endpoint '%.300s' is not host[:port] (http or https is "
                            "chosen with https=0|1)",
                            ep);
    snprintf(s3->host, sizeof s3->host, "%s", ep);
    const char *b = cfg->bucket ? cfg->bucket : "";
    if (!*b || strlen(b) >= sizeof s3->bucket)
        return tp_error_set(err, TP_ECONFIG, "s3 store: no bucket, or a bucket name too long");
    S3Status st = S3_validate_bucket_name(b, S3UriStylePath);
    if (st != S3StatusOK)
        return tp_error_set(err, TP_ECONFIG, "s3 store: invalid bucket name '%s' (%s)", b,
                            S3_get_status_name(st));
    snprintf(s3->bucket, sizeof s3->bucket, "%s", b);
    const char *region = cfg->region && *cfg->region ? cfg->region : "us-east-1";
    if (strlen(region) >= sizeof s3->region)
        return tp_error_set(err, TP_ECONFIG, "s3 store: region name too long");
    snprintf(s3->region, sizeof s3->region, "%s", region);
    if (cfg->timeout_ms < 0)
        return tp_error_set(err, TP_ECONFIG, "s3 store: negative timeout");
    s3->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : S3_DEFAULT_TIMEOUT;
    int rc = resolve_keys(cfg, s3, err);
    if (rc < 0)
        return rc;
    s3->bc.hostName = s3->host;
    s3->bc.bucketName = s3->bucket;
    s3->bc.protocol = cfg->https ? S3ProtocolHTTPS : S3ProtocolHTTP;
    s3->bc.uriStyle = S3UriStylePath;
    s3->bc.accessKeyId = s3->access_key;
    s3->bc.secretAccessKey = s3->secret_key;
    return TP_OK;
}

/* Reach the server and make sure the bucket is there (creating it). */
static int ensure_bucket(s3_store *s3, tp_error *err)
{
    s3_req r;
    req_init(&r, s3, "open", NULL);
    r.fn = discard;
    perform(&r, issue_probe);
    if (probe_ok(&r))
        return TP_OK;
    if (r.status != S3StatusErrorNoSuchBucket) {
        int rc = req_fail(&r, err);
        if (!req_denied(&r))
            return rc;
        if (err)
            err->code = TP_ECONFIG; /* wrong keys: the configuration's fault */
        return TP_ECONFIG;
    }
    req_init(&r, s3, "open", NULL);
    perform(&r, issue_create_bucket);
    if (req_ok(&r) || r.status == S3StatusErrorBucketAlreadyOwnedByYou)
        return TP_OK;
    if (r.status == S3StatusErrorSignatureDoesNotMatch)
        return tp_error_set(err, TP_ECONFIG,
                            "s3 open bucket %s: no such bucket at %s, and creating it failed "
                            "(%s: %s): the keys work for objects, so the server refuses the "
                            "signature of bucket requests (s3rver does so with libs3's); create "
                            "the bucket beforehand",
                            s3->bucket, s3->host, S3_get_status_name(r.status), r.detail);
    tp_error why = {0};
    char head[S3_MAX_BUCKET_NAME_SIZE + 32];
    req_fail(&r, &why);
    size_t n = (size_t)snprintf(head, sizeof head, "s3 open bucket %s: ", s3->bucket);
    return tp_error_set(
        err, TP_ECONFIG, "s3 open bucket %s: no such bucket at %s, and creating it failed: %s",
        s3->bucket, s3->host, strncmp(why.msg, head, n) == 0 ? why.msg + n : why.msg);
}

int tp_store_s3_open(const tp_store_config *cfg, tp_store *s, tp_error *err)
{
    pthread_once(&s3_once, s3_init);
    if (s3_init_status != S3StatusOK)
        return tp_error_set(err, TP_EIO, "s3 store: libs3 could not start (%s)",
                            S3_get_status_name(s3_init_status));
    s3_store *s3 = calloc(1, sizeof *s3);
    if (!s3)
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    pthread_mutex_init(&s3->pool_lock, NULL);
    s->ops = &s3_ops;
    s->impl = s3;
    int rc = configure(cfg, s3, err);
    if (rc == TP_OK)
        rc = ensure_bucket(s3, err);
    /* A server that cannot be reached now may be back for the first job:
     * long-running callers start anyway (their jobs retry), and see why
     * with tp_store_check. */
    if (rc == TP_EIO)
        rc = TP_OK;
    if (rc < 0) {
        s3_close(s);
        s->ops = NULL;
        return rc;
    }
    return TP_OK;
}
