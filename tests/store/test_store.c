/* test_store.c -- the raw-file store (store.h) through its public API, the
 * same cases against both backends: fs in a temporary directory, and s3
 * against a real s3rver that this binary starts (tests/fixtures/s3/s3ctl.sh) with the
 * bucket the cases use.  Byte-exact round trips (empty, 5 MB of random
 * bytes), keys that exist already, stat, chunked and stopped reads, delete,
 * missing keys and missing local files, 8 threads on different and identical
 * keys.  s3 only: a closed port, a server that went away, a frozen server
 * (SIGSTOP) against the timeout, refused credentials, missing keys, a missing
 * bucket, a local file of the wrong size.
 *
 * The s3rver helpers (s3srv_*) are local for now; they are meant to move to
 * testutil.c as tu_s3_start()/tu_s3_stop(). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "testutil.h"

#define BUCKET "tillpipe-test"
#define S3_KEY "S3RVER" /* s3rver's one account: access key = secret key */
#define MB (1024 * 1024)

/* ------------------------------------------------------------ s3rver */

typedef struct s3srv {
    char dir[256];     /* s3ctl.sh's directory: data/, log, pid, endpoint */
    char endpoint[64]; /* 127.0.0.1:PORT */
} s3srv;

static s3srv main_srv; /* started by main(), shared by the forked cases */

static int s3ctl(const s3srv *srv, const char *verb, const char *args, const char *env)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "S3CTL_OWNER_PID=%d %s '%s/tests/fixtures/s3/s3ctl.sh' %s '%s' %s >/dev/null",
             (int)getpid(), env ? env : "", TP_TEST_SOURCE_DIR, verb, srv->dir, args ? args : "");
    return system(cmd);
}

/* Start an s3rver with these buckets (space-separated, may be NULL) in a new
 * temporary directory; `lax` turns its signature checks off.  0, or -1 with
 * a message on stderr.  The server is stopped when this process ends even
 * without s3srv_stop (s3ctl.sh's watchdog). */
static int s3srv_start(s3srv *srv, const char *buckets, int lax)
{
    snprintf(srv->dir, sizeof srv->dir, "/tmp/tillpipe-test-s3-XXXXXX");
    srv->endpoint[0] = '\0';
    if (!mkdtemp(srv->dir))
        return -1;
    if (s3ctl(srv, "start", buckets, lax ? "S3CTL_ALLOW_MISMATCHED_SIGNATURES=1" : NULL) != 0) {
        fprintf(
            stderr,
            "test_store: could not start s3rver in %s (tests/fixtures/s3/s3ctl.sh; log: %s/log)\n",
            srv->dir, srv->dir);
        return -1;
    }
    char path[300];
    snprintf(path, sizeof path, "%s/endpoint", srv->dir);
    char *ep = tu_read(path, NULL);
    if (!ep)
        return -1;
    ep[strcspn(ep, "\n")] = '\0';
    snprintf(srv->endpoint, sizeof srv->endpoint, "%s", ep);
    free(ep);
    return 0;
}

static void s3srv_stop(s3srv *srv)
{
    if (srv->dir[0])
        s3ctl(srv, "stop", NULL, NULL);
    srv->dir[0] = '\0';
}

static void s3srv_pause(const s3srv *srv)
{
    ck_assert_int_eq(s3ctl(srv, "pause", NULL, NULL), 0);
}

static void s3srv_resume(const s3srv *srv)
{
    ck_assert_int_eq(s3ctl(srv, "resume", NULL, NULL), 0);
}

/* ------------------------------------------------------------ helpers */

static tp_store *store; /* this case's store */
static char *tmp;       /* this case's scratch directory */
static char *fsroot;    /* the fs backend's root */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Open an s3 store on `endpoint`/`bucket` from an address string, the way
 * the command line does; keys from the arguments (NULL: the environment). */
static int open_s3(const char *endpoint, const char *bucket, const char *ak, const char *sk,
                   int timeout_ms, tp_store **out, tp_error *e)
{
    char spec[256], buf[256];
    snprintf(spec, sizeof spec, "s3://%s?endpoint=%s&https=0", bucket, endpoint);
    tp_store_config cfg;
    int rc = tp_store_config_parse(spec, buf, sizeof buf, &cfg, e);
    ck_assert_msg(rc == TP_OK, "parse %s: %s", spec, e->msg);
    cfg.access_key = ak;
    cfg.secret_key = sk;
    cfg.timeout_ms = timeout_ms;
    return tp_store_open(&cfg, out, e);
}

static void setup_common(void)
{
    tmp = tu_tmpdir();
    ck_assert_ptr_nonnull(tmp);
}

static void setup_fs(void)
{
    setup_common();
    fsroot = tu_tmpdir();
    ck_assert_ptr_nonnull(fsroot);
    char spec[300], buf[300];
    snprintf(spec, sizeof spec, "fs:%s/store", fsroot);
    tp_store_config cfg;
    tp_error e = {0};
    ck_assert_int_eq(tp_store_config_parse(spec, buf, sizeof buf, &cfg, &e), TP_OK);
    ck_assert_msg(tp_store_open(&cfg, &store, &e) == TP_OK, "open fs: %s", e.msg);
    ck_assert_str_eq(tp_store_kind(store), "fs");
}

static void setup_s3(void)
{
    setup_common();
    tp_error e = {0};
    ck_assert_msg(open_s3(main_srv.endpoint, BUCKET, NULL, NULL, 10000, &store, &e) == TP_OK,
                  "open s3: %s", e.msg);
    ck_assert_str_eq(tp_store_kind(store), "s3");
}

static void teardown(void)
{
    tp_store_close(store);
    store = NULL;
    tu_rmrf(tmp);
    free(tmp);
    tmp = NULL;
    if (fsroot) {
        tu_rmrf(fsroot);
        free(fsroot);
        fsroot = NULL;
    }
}

/* xorshift64*: fast random bytes; seeded per process and call so that keys
 * differ between cases and runs (the s3 bucket outlives a case). */
static void fill_random(unsigned char *p, size_t n)
{
    static uint64_t x;
    if (!x)
        x = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid() << 17 ^
            (uint64_t)(uintptr_t)p;
    for (size_t i = 0; i < n; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        p[i] = (unsigned char)((x * 0x2545F4914F6CDD1Dull) >> 56);
    }
}

/* A file of `n` random bytes in dir; *data gets a copy (caller frees) when
 * not NULL.  Returns the path (caller frees). */
static char *random_file(const char *dir, const char *name, size_t n, unsigned char **data)
{
    unsigned char *buf = malloc(n ? n : 1);
    fill_random(buf, n);
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
    if (data)
        *data = buf;
    else
        free(buf);
    return path;
}

/* A fresh content key: "raw/xx/<64 hex>" (not a real sha256: unique). */
static void fresh_key(char key[TP_STORE_KEY_MAX])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char r[32];
    char h[65];
    fill_random(r, sizeof r);
    for (int i = 0; i < 32; i++) {
        h[2 * i] = hex[r[i] >> 4];
        h[2 * i + 1] = hex[r[i] & 15];
    }
    h[64] = '\0';
    tp_store_key(h, key);
}

static void put_ok(const char *key, const char *path, uint64_t size, int want_existed)
{
    tp_error e = {0};
    int existed = -1;
    int rc = tp_store_put_file(store, key, path, size, &existed, &e);
    ck_assert_msg(rc == TP_OK, "put %s: %s", key, e.msg);
    ck_assert_int_eq(existed, want_existed);
}

/* get `key` into tmp/name and compare it with data[0..n). */
static void get_equals(const char *key, const char *name, const unsigned char *data, size_t n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    tp_error e = {0};
    int rc = tp_store_get_file(store, key, path, &e);
    ck_assert_msg(rc == TP_OK, "get %s: %s", key, e.msg);
    size_t len = 0;
    char *got = tu_read(path, &len);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(len, n);
    ck_assert_msg(n == 0 || memcmp(got, data, n) == 0, "get %s: bytes differ", key);
    free(got);
}

static void stat_is_in(tp_store *st, const char *key, int want_exists, uint64_t want_size)
{
    tp_error e = {0};
    int exists = -1;
    uint64_t size = 12345;
    int rc = tp_store_stat(st, key, &exists, &size, &e);
    ck_assert_msg(rc == TP_OK, "stat %s: %s", key, e.msg);
    ck_assert_int_eq(exists, want_exists);
    if (want_exists)
        ck_assert_uint_eq(size, want_size);
}

static void stat_is(const char *key, int want_exists, uint64_t want_size)
{
    stat_is_in(store, key, want_exists, want_size);
}

/* read() into memory, counting chunks; stop (returning -42) after
 * `stop_after` chunks when > 0. */
typedef struct sink {
    unsigned char *buf;
    size_t len, cap;
    int chunks, stop_after;
} sink;

static int sink_fn(void *ud, const void *data, size_t len)
{
    sink *k = ud;
    if (k->len + len > k->cap) {
        k->cap = (k->len + len) * 2;
        k->buf = realloc(k->buf, k->cap);
    }
    memcpy(k->buf + k->len, data, len);
    k->len += len;
    k->chunks++;
    return k->stop_after > 0 && k->chunks >= k->stop_after ? -42 : 0;
}

/* ------------------------------------------------------------ both backends */

START_TEST(roundtrip_empty)
{
    char key[TP_STORE_KEY_MAX];
    fresh_key(key);
    char *src = random_file(tmp, "empty", 0, NULL);
    stat_is(key, 0, 0);
    put_ok(key, src, 0, 0);
    stat_is(key, 1, 0);
    tp_error se = {0};
    const char *keys[] = {key};
    ck_assert_msg(tp_store_sync(store, keys, 1, &se) == TP_OK, "sync: %s", se.msg);
    const char *bad[] = {"../escape"};
    ck_assert_int_eq(tp_store_sync(store, bad, 1, &se), TP_EINVAL);
    get_equals(key, "empty.out", (const unsigned char *)"", 0);
    sink k = {0};
    tp_error e = {0};
    ck_assert_int_eq(tp_store_read(store, key, sink_fn, &k, &e), TP_OK);
    ck_assert_uint_eq(k.len, 0);
    free(k.buf);
    free(src);
}
END_TEST

START_TEST(roundtrip_5mb)
{
    char key[TP_STORE_KEY_MAX];
    fresh_key(key);
    unsigned char *data;
    size_t n = 5 * MB + 17;
    char *src = random_file(tmp, "big", n, &data);
    put_ok(key, src, n, 0);
    stat_is(key, 1, n);
    get_equals(key, "big.out", data, n);
    /* the source is untouched, and a get replaces an existing local file */
    get_equals(key, "big.out", data, n);
    size_t len = 0;
    char *again = tu_read(src, &len);
    ck_assert_uint_eq(len, n);
    ck_assert(memcmp(again, data, n) == 0);
    /* no temporaries left beside the output */
    ck_assert_int_eq(tu_count_entries(tmp), 2);
    free(again);
    free(data);
    free(src);
}
END_TEST

START_TEST(put_existing_key_is_kept)
{
    char key[TP_STORE_KEY_MAX];
    fresh_key(key);
    unsigned char *first, *second;
    char *a = random_file(tmp, "a", 1000, &first);
    char *b = random_file(tmp, "b", 2000, &second);
    unsigned char *third;
    char *c = random_file(tmp, "c", 1000, &third);
    put_ok(key, a, 1000, 0);
    put_ok(key, a, 1000, 1);
    /* a whole object (its size) is kept: other bytes of that size under the
     * key change nothing (the key names the content) */
    put_ok(key, c, 1000, 1);
    stat_is(key, 1, 1000);
    get_equals(key, "out", first, 1000);
    /* one of another size is not whole -- a crash left it short -- and is
     * replaced */
    put_ok(key, b, 2000, 0);
    stat_is(key, 1, 2000);
    get_equals(key, "out", second, 2000);
    free(third);
    free(c);
    /* a NULL existed is allowed */
    tp_error e = {0};
    ck_assert_int_eq(tp_store_put_file(store, key, a, 1000, NULL, &e), TP_OK);
    free(first);
    free(second);
    free(a);
    free(b);
}
END_TEST

START_TEST(stat_missing_and_present)
{
    char key[TP_STORE_KEY_MAX], other[TP_STORE_KEY_MAX];
    fresh_key(key);
    fresh_key(other);
    stat_is(key, 0, 0);
    char *src = random_file(tmp, "f", 4321, NULL);
    put_ok(key, src, 4321, 0);
    stat_is(key, 1, 4321);
    stat_is(other, 0, 0);
    /* size may be NULL */
    tp_error e = {0};
    int exists = 0;
    ck_assert_int_eq(tp_store_stat(store, key, &exists, NULL, &e), TP_OK);
    ck_assert_int_eq(exists, 1);
    free(src);
}
END_TEST

START_TEST(read_streams_in_chunks_and_stops)
{
    char key[TP_STORE_KEY_MAX];
    fresh_key(key);
    unsigned char *data;
    size_t n = 3 * MB + 5;
    char *src = random_file(tmp, "f", n, &data);
    put_ok(key, src, n, 0);

    sink k = {0};
    tp_error e = {0};
    ck_assert_msg(tp_store_read(store, key, sink_fn, &k, &e) == TP_OK, "read: %s", e.msg);
    ck_assert_uint_eq(k.len, n);
    ck_assert(memcmp(k.buf, data, n) == 0);
    ck_assert_int_gt(k.chunks, 1);
    free(k.buf);

    /* the callback's negative value stops the read and is returned */
    sink stop = {.stop_after = 2};
    ck_assert_int_eq(tp_store_read(store, key, sink_fn, &stop, &e), -42);
    ck_assert_int_eq(stop.chunks, 2);
    ck_assert_uint_lt(stop.len, n);
    ck_assert(memcmp(stop.buf, data, stop.len) == 0);
    free(stop.buf);

    /* a missing key */
    char missing[TP_STORE_KEY_MAX];
    fresh_key(missing);
    sink none = {0};
    ck_assert_int_eq(tp_store_read(store, missing, sink_fn, &none, &e), TP_ENOTFOUND);
    ck_assert_int_eq(none.chunks, 0);
    free(data);
    free(src);
}
END_TEST

START_TEST(delete_then_missing)
{
    char key[TP_STORE_KEY_MAX];
    fresh_key(key);
    char *src = random_file(tmp, "f", 100, NULL);
    put_ok(key, src, 100, 0);
    tp_error e = {0};
    ck_assert_msg(tp_store_delete(store, key, &e) == TP_OK, "delete: %s", e.msg);
    stat_is(key, 0, 0);
    /* deleting a missing key is fine */
    ck_assert_msg(tp_store_delete(store, key, &e) == TP_OK, "delete again: %s", e.msg);
    /* and the key can be stored again */
    put_ok(key, src, 100, 0);
    stat_is(key, 1, 100);
    free(src);
}
END_TEST

START_TEST(get_missing_leaves_no_file)
{
    char key[TP_STORE_KEY_MAX];
    fresh_key(key);
    char path[4200];
    snprintf(path, sizeof path, "%s/out", tmp);
    tp_error e = {0};
    ck_assert_int_eq(tp_store_get_file(store, key, path, &e), TP_ENOTFOUND);
    ck_assert_int_eq(e.code, TP_ENOTFOUND);
    ck_assert_msg(strstr(e.msg, key) != NULL, "message names the key: %s", e.msg);
    ck_assert_int_eq(access(path, F_OK), -1);
    ck_assert_int_eq(tu_count_entries(tmp), 0); /* no temporary either */
}
END_TEST

START_TEST(put_missing_local_file)
{
    char key[TP_STORE_KEY_MAX];
    fresh_key(key);
    char path[4200];
    snprintf(path, sizeof path, "%s/no-such-file", tmp);
    tp_error e = {0};
    int existed = -1;
    int rc = tp_store_put_file(store, key, path, 10, &existed, &e);
    ck_assert_int_lt(rc, 0);
    ck_assert_int_eq(rc, e.code);
    ck_assert_msg(strstr(e.msg, "no-such-file") != NULL, "message names the file: %s", e.msg);
    ck_assert_int_ne(existed, 1);
    stat_is(key, 0, 0);
}
END_TEST

/* 8 threads, each putting and getting a key of its own and one key they all
 * share, several rounds; failures are collected and asserted in the main
 * thread. */
#define NTHREADS 8
#define ROUNDS 4

typedef struct worker {
    int id;
    const char *own_key, *own_path;
    const unsigned char *own_data;
    size_t own_len;
    const char *shared_key, *shared_path;
    const unsigned char *shared_data;
    size_t shared_len;
    int existed_own, existed_shared;
    char fail[1200];
} worker;

static int same_file(const char *path, const unsigned char *data, size_t n)
{
    size_t len = 0;
    char *got = tu_read(path, &len);
    int same = got && len == n && memcmp(got, data, n) == 0;
    free(got);
    return same;
}

/* The threads' first puts of the shared key all end before any reads it:
 * an object shorter than the file is replaced (a crash may have left it),
 * and an S3 server that writes in place (s3rver) shows an upload in progress
 * as such an object -- a read racing that rewrite would see it torn, where
 * real S3 replaces objects whole. */
static pthread_barrier_t first_puts;

static void *worker_main(void *p)
{
    worker *w = p;
    char out[4200];
    tp_error e0 = {0};
    int existed0 = 0;
    if (tp_store_put_file(store, w->shared_key, w->shared_path, w->shared_len, &existed0, &e0) < 0)
        snprintf(w->fail, sizeof w->fail, "put shared: %s", e0.msg);
    w->existed_shared += existed0;
    pthread_barrier_wait(&first_puts);
    for (int round = 0; round < ROUNDS && !w->fail[0]; round++) {
        tp_error e = {0};
        int existed = 0;
        if (tp_store_put_file(store, w->own_key, w->own_path, w->own_len, &existed, &e) < 0) {
            snprintf(w->fail, sizeof w->fail, "put own: %s", e.msg);
            break;
        }
        w->existed_own += existed;
        if (tp_store_put_file(store, w->shared_key, w->shared_path, w->shared_len, &existed, &e) <
            0) {
            snprintf(w->fail, sizeof w->fail, "put shared: %s", e.msg);
            break;
        }
        w->existed_shared += existed;
        snprintf(out, sizeof out, "%s/own-%d", tmp, w->id);
        if (tp_store_get_file(store, w->own_key, out, &e) < 0 ||
            !same_file(out, w->own_data, w->own_len)) {
            snprintf(w->fail, sizeof w->fail, "get own: %s", e.msg[0] ? e.msg : "bytes differ");
            break;
        }
        snprintf(out, sizeof out, "%s/shared-%d", tmp, w->id);
        if (tp_store_get_file(store, w->shared_key, out, &e) < 0 ||
            !same_file(out, w->shared_data, w->shared_len)) {
            snprintf(w->fail, sizeof w->fail, "get shared: %s", e.msg[0] ? e.msg : "bytes differ");
            break;
        }
        int exists = 0;
        uint64_t size = 0;
        if (tp_store_stat(store, w->shared_key, &exists, &size, &e) < 0 || !exists ||
            size != w->shared_len) {
            snprintf(w->fail, sizeof w->fail, "stat shared: %s", e.msg);
            break;
        }
        sink k = {0};
        if (tp_store_read(store, w->own_key, sink_fn, &k, &e) < 0 || k.len != w->own_len ||
            memcmp(k.buf, w->own_data, k.len) != 0)
            snprintf(w->fail, sizeof w->fail, "read own: %s", e.msg[0] ? e.msg : "bytes differ");
        free(k.buf);
    }
    return NULL;
}

START_TEST(threads_different_and_identical_keys)
{
    char keys[NTHREADS][TP_STORE_KEY_MAX], shared_key[TP_STORE_KEY_MAX];
    char *paths[NTHREADS];
    unsigned char *datas[NTHREADS], *shared_data;
    worker w[NTHREADS];
    pthread_t th[NTHREADS];
    fresh_key(shared_key);
    char *shared_path = random_file(tmp, "shared", MB + 3, &shared_data);
    for (int i = 0; i < NTHREADS; i++) {
        char name[32];
        snprintf(name, sizeof name, "own%d", i);
        size_t n = 200000 + (size_t)i * 1111;
        fresh_key(keys[i]);
        paths[i] = random_file(tmp, name, n, &datas[i]);
        w[i] = (worker){.id = i,
                        .own_key = keys[i],
                        .own_path = paths[i],
                        .own_data = datas[i],
                        .own_len = n,
                        .shared_key = shared_key,
                        .shared_path = shared_path,
                        .shared_data = shared_data,
                        .shared_len = MB + 3};
    }
    pthread_barrier_init(&first_puts, NULL, NTHREADS);
    for (int i = 0; i < NTHREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    int shared_existed = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(!w[i].fail[0], "thread %d: %s", i, w[i].fail);
        /* its own key: new in round 1, there in the later rounds */
        ck_assert_int_eq(w[i].existed_own, ROUNDS - 1);
        shared_existed += w[i].existed_shared;
    }
    pthread_barrier_destroy(&first_puts);
    /* the shared key was new to at least one put and at most all of the
     * first ones, which raced */
    ck_assert_int_ge(shared_existed, NTHREADS * (ROUNDS + 1) - NTHREADS);
    ck_assert_int_le(shared_existed, NTHREADS * (ROUNDS + 1) - 1);
    stat_is(shared_key, 1, MB + 3);
    for (int i = 0; i < NTHREADS; i++) {
        stat_is(keys[i], 1, 200000 + (uint64_t)i * 1111);
        free(paths[i]);
        free(datas[i]);
    }
    free(shared_path);
    free(shared_data);
}
END_TEST

/* ------------------------------------------------------------ no backend */

START_TEST(key_format)
{
    const char *hex = "ab34567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef";
    char key[TP_STORE_KEY_MAX];
    tp_store_key(hex, key);
    ck_assert_str_eq(key,
                     "raw/ab/ab34567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef");
    ck_assert_uint_eq(strlen(key), 7 + 64);
}
END_TEST

/* ------------------------------------------------------------ s3 only */

/* A local port nothing listens on (just closed). */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

START_TEST(s3_closed_port_fails_fast)
{
    char ep[64];
    snprintf(ep, sizeof ep, "127.0.0.1:%d", closed_port());
    tp_store *s = NULL;
    tp_error e = {0};
    double t0 = now_s();
    /* Opening succeeds (a worker starts; its jobs retry until the server
     * answers); the check and every operation say why they cannot work. */
    int rc = open_s3(ep, BUCKET, S3_KEY, "SECRET-NOT-IN-MESSAGES", 20000, &s, &e);
    ck_assert_int_eq(rc, TP_OK);
    ck_assert_ptr_nonnull(s);
    rc = tp_store_check(s, &e);
    double took = now_s() - t0;
    ck_assert_int_eq(rc, TP_EIO);
    ck_assert_msg(strstr(e.msg, "could not connect to") && strstr(e.msg, ep), "message: %s", e.msg);
    int existed = 0;
    ck_assert_int_eq(tp_store_put_file(s, "raw/aa/x", "/dev/null", 0, &existed, &e), TP_EIO);
    ck_assert_msg(strstr(e.msg, "could not connect to") && strstr(e.msg, ep), "message: %s", e.msg);
    tp_store_close(s);
    ck_assert_msg(!strstr(e.msg, "SECRET-NOT-IN-MESSAGES"), "secret in message: %s", e.msg);
    ck_assert_msg(took < 8.0, "took %.1f s, the timeout is 20 s", took);
}
END_TEST

START_TEST(s3_server_gone)
{
    s3srv srv;
    ck_assert_int_eq(s3srv_start(&srv, BUCKET, 0), 0);
    tp_store *s = NULL;
    tp_error e = {0};
    ck_assert_msg(open_s3(srv.endpoint, BUCKET, NULL, NULL, 20000, &s, &e) == TP_OK, "open: %s",
                  e.msg);
    char key[TP_STORE_KEY_MAX], key2[TP_STORE_KEY_MAX];
    fresh_key(key);
    fresh_key(key2);
    char *src = random_file(tmp, "f", 1000, NULL);
    ck_assert_int_eq(tp_store_put_file(s, key, src, 1000, NULL, &e), TP_OK);
    ck_assert_int_eq(tp_store_check(s, &e), TP_OK);
    s3srv_stop(&srv);

    double t0 = now_s();
    int rc = tp_store_put_file(s, key2, src, 1000, NULL, &e);
    ck_assert_int_eq(rc, TP_EIO);
    ck_assert_msg(strstr(e.msg, "s3 put ") && strstr(e.msg, key2) &&
                      strstr(e.msg, "could not connect to") && strstr(e.msg, srv.endpoint),
                  "message: %s", e.msg);
    char path[4200];
    snprintf(path, sizeof path, "%s/out", tmp);
    ck_assert_int_eq(tp_store_get_file(s, key, path, &e), TP_EIO);
    ck_assert_msg(strstr(e.msg, "s3 get "), "message: %s", e.msg);
    ck_assert_int_eq(tu_count_entries(tmp), 1); /* only the source */
    int exists = 0;
    ck_assert_int_eq(tp_store_stat(s, key, &exists, NULL, &e), TP_EIO);
    ck_assert_int_eq(tp_store_check(s, &e), TP_EIO);
    ck_assert_msg(strstr(e.msg, "s3 check bucket " BUCKET), "message: %s", e.msg);
    ck_assert_msg(now_s() - t0 < 15.0, "four failures took %.1f s", now_s() - t0);
    tp_store_close(s);
    free(src);
}
END_TEST

START_TEST(s3_frozen_server_times_out)
{
    s3srv srv;
    ck_assert_int_eq(s3srv_start(&srv, BUCKET, 0), 0);
    tp_store *s = NULL;
    tp_error e = {0};
    ck_assert_msg(open_s3(srv.endpoint, BUCKET, NULL, NULL, 500, &s, &e) == TP_OK, "open: %s",
                  e.msg);
    char key[TP_STORE_KEY_MAX];
    fresh_key(key);
    char *src = random_file(tmp, "f", 300000, NULL);
    s3srv_pause(&srv);

    /* 4 attempts of 500 ms and 100 + 200 + 400 ms between them */
    double t0 = now_s();
    int rc = tp_store_put_file(s, key, src, 300000, NULL, &e);
    double took = now_s() - t0;
    ck_assert_int_eq(rc, TP_EIO);
    ck_assert_msg(strstr(e.msg, "no answer from") && strstr(e.msg, "within 500 ms") &&
                      strstr(e.msg, "4 attempts"),
                  "message: %s", e.msg);
    ck_assert_msg(took >= 2.5 && took < 6.0, "took %.1f s", took);

    char path[4200];
    snprintf(path, sizeof path, "%s/out", tmp);
    ck_assert_int_eq(tp_store_get_file(s, key, path, &e), TP_EIO);
    ck_assert_int_eq(tu_count_entries(tmp), 1); /* no temporary left */

    s3srv_resume(&srv);
    /* the server works again, and the failed put left nothing */
    stat_is_in(s, key, 0, 0);
    ck_assert_int_eq(tp_store_put_file(s, key, src, 300000, NULL, &e), TP_OK);
    tp_store_close(s);
    s3srv_stop(&srv);
    free(src);
}
END_TEST

START_TEST(s3_wrong_credentials)
{
    tp_store *s = NULL;
    tp_error e = {0};
    int rc = open_s3(main_srv.endpoint, BUCKET, S3_KEY, "WRONG-SECRET-x1", 10000, &s, &e);
    ck_assert_int_eq(rc, TP_ECONFIG);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(e.msg, "refused the credentials") &&
                      strstr(e.msg, "SignatureDoesNotMatch"),
                  "message: %s", e.msg);
    ck_assert_msg(!strstr(e.msg, "WRONG-SECRET-x1"), "secret in message: %s", e.msg);

    rc = open_s3(main_srv.endpoint, BUCKET, "NO-SUCH-ACCESS-KEY", "WRONG-SECRET-x1", 10000, &s, &e);
    ck_assert_int_eq(rc, TP_ECONFIG);
    ck_assert_msg(strstr(e.msg, "InvalidAccessKeyId"), "message: %s", e.msg);
    ck_assert_msg(!strstr(e.msg, "WRONG-SECRET-x1"), "secret in message: %s", e.msg);
}
END_TEST

START_TEST(s3_keys_from_the_environment)
{
    tp_store *s = NULL;
    tp_error e = {0};
    unsetenv("TILLPIPE_S3_ACCESS_KEY");
    unsetenv("TILLPIPE_S3_SECRET_KEY");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    ck_assert_int_eq(open_s3(main_srv.endpoint, BUCKET, NULL, NULL, 0, &s, &e), TP_ECONFIG);
    ck_assert_msg(strstr(e.msg, "TILLPIPE_S3_ACCESS_KEY") && strstr(e.msg, "AWS_ACCESS_KEY_ID"),
                  "message: %s", e.msg);
    /* AWS_* when there are no TILLPIPE_S3_* */
    setenv("AWS_ACCESS_KEY_ID", S3_KEY, 1);
    setenv("AWS_SECRET_ACCESS_KEY", S3_KEY, 1);
    ck_assert_msg(open_s3(main_srv.endpoint, BUCKET, NULL, NULL, 0, &s, &e) == TP_OK, "open: %s",
                  e.msg);
    tp_store_close(s);
    /* TILLPIPE_S3_* first */
    setenv("TILLPIPE_S3_ACCESS_KEY", S3_KEY, 1);
    setenv("TILLPIPE_S3_SECRET_KEY", "WRONG", 1);
    ck_assert_int_eq(open_s3(main_srv.endpoint, BUCKET, NULL, NULL, 0, &s, &e), TP_ECONFIG);
    /* the configuration over the environment */
    ck_assert_msg(open_s3(main_srv.endpoint, BUCKET, S3_KEY, S3_KEY, 0, &s, &e) == TP_OK,
                  "open: %s", e.msg);
    tp_store_close(s);
}
END_TEST

START_TEST(s3_bad_configuration)
{
    tp_store *s = NULL;
    tp_error e = {0};
    tp_store_config cfg = {.kind = "s3", .endpoint = main_srv.endpoint, .bucket = "a"};
    ck_assert_int_eq(tp_store_open(&cfg, &s, &e), TP_ECONFIG);
    ck_assert_msg(strstr(e.msg, "bucket"), "message: %s", e.msg);
    cfg.bucket = BUCKET;
    cfg.endpoint = "http://127.0.0.1:1";
    ck_assert_int_eq(tp_store_open(&cfg, &s, &e), TP_ECONFIG);
    ck_assert_msg(strstr(e.msg, "host[:port]"), "message: %s", e.msg);
    cfg.endpoint = NULL;
    ck_assert_int_eq(tp_store_open(&cfg, &s, &e), TP_ECONFIG);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(s3_missing_bucket)
{
    /* s3rver refuses libs3's signature of bucket requests: a clear error */
    tp_store *s = NULL;
    tp_error e = {0};
    ck_assert_int_eq(open_s3(main_srv.endpoint, "tillpipe-no-such-bucket", NULL, NULL, 0, &s, &e),
                     TP_ECONFIG);
    ck_assert_msg(strstr(e.msg, "no such bucket") && strstr(e.msg, "create the bucket"),
                  "message: %s", e.msg);

    /* a server that creates it: opening makes the bucket, which then works */
    s3srv srv;
    ck_assert_int_eq(s3srv_start(&srv, NULL, 1), 0);
    ck_assert_msg(open_s3(srv.endpoint, "tillpipe-new", NULL, NULL, 0, &s, &e) == TP_OK, "open: %s",
                  e.msg);
    char key[TP_STORE_KEY_MAX];
    fresh_key(key);
    char *src = random_file(tmp, "f", 10, NULL);
    ck_assert_msg(tp_store_put_file(s, key, src, 10, NULL, &e) == TP_OK, "put: %s", e.msg);
    ck_assert_int_eq(tp_store_check(s, &e), TP_OK);
    tp_store_close(s);
    /* and a second open finds it */
    ck_assert_msg(open_s3(srv.endpoint, "tillpipe-new", NULL, NULL, 0, &s, &e) == TP_OK, "open: %s",
                  e.msg);
    tp_store_close(s);
    s3srv_stop(&srv);
    free(src);
}
END_TEST

START_TEST(s3_put_wrong_size)
{
    char key[TP_STORE_KEY_MAX];
    fresh_key(key);
    char *src = random_file(tmp, "f", 1000, NULL);
    tp_error e = {0};
    ck_assert_int_eq(tp_store_put_file(store, key, src, 999, NULL, &e), TP_EINVAL);
    ck_assert_msg(strstr(e.msg, "1000 bytes"), "message: %s", e.msg);
    stat_is(key, 0, 0);
    ck_assert_int_eq(tp_store_check(store, &e), TP_OK);
    char buf[64];
    ck_assert_ptr_null(tp_store_local_path(store, key, buf, sizeof buf));
    free(src);
}
END_TEST

/* ------------------------------------------------------------ suite */

static void add_common(TCase *tc)
{
    tcase_add_test(tc, roundtrip_empty);
    tcase_add_test(tc, roundtrip_5mb);
    tcase_add_test(tc, put_existing_key_is_kept);
    tcase_add_test(tc, stat_missing_and_present);
    tcase_add_test(tc, read_streams_in_chunks_and_stops);
    tcase_add_test(tc, delete_then_missing);
    tcase_add_test(tc, get_missing_leaves_no_file);
    tcase_add_test(tc, put_missing_local_file);
    tcase_add_test(tc, threads_different_and_identical_keys);
}

static Suite *suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("fs");
    tcase_add_checked_fixture(tc, setup_fs, teardown);
    add_common(tc);
    suite_add_tcase(s, tc);

    tc = tcase_create("s3");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup_s3, teardown);
    add_common(tc);
    tcase_add_test(tc, s3_put_wrong_size);
    suite_add_tcase(s, tc);

    tc = tcase_create("s3-failures");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup_common, teardown);
    tcase_add_test(tc, s3_closed_port_fails_fast);
    tcase_add_test(tc, s3_server_gone);
    tcase_add_test(tc, s3_frozen_server_times_out);
    tcase_add_test(tc, s3_wrong_credentials);
    tcase_add_test(tc, s3_keys_from_the_environment);
    tcase_add_test(tc, s3_bad_configuration);
    tcase_add_test(tc, s3_missing_bucket);
    suite_add_tcase(s, tc);

    tc = tcase_create("keys");
    tcase_add_test(tc, key_format);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (s3srv_start(&main_srv, BUCKET, 0) != 0) {
        fprintf(stderr,
                "test_store: cannot start s3rver for the tests (tests/fixtures/s3/s3ctl.sh; are "
                "node and npm installed?)\n");
        s3srv_stop(&main_srv);
        return EXIT_FAILURE;
    }
    /* the cases' stores take their keys from the environment */
    setenv("TILLPIPE_S3_ACCESS_KEY", S3_KEY, 1);
    setenv("TILLPIPE_S3_SECRET_KEY", S3_KEY, 1);
    int failed = tu_run_suite(suite());
    s3srv_stop(&main_srv);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
