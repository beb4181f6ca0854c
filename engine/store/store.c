/* store.c -- see store.h: the store address, key checks and dispatch to the
 * backend. */
#include "store.h"

#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *tp_store_spec(const char *opt)
{
    if (opt && *opt)
        return opt;
    const char *env = getenv("TILLPIPE_STORE");
    if (env && *env)
        return env;
    env = getenv("TILLPIPE_STORE_DIR");
    return env && *env ? env : "./tillpipe-store";
}

/* s3://bucket?endpoint=host:port&https=0&region=R */
static int parse_s3(char *p, tp_store_config *cfg, tp_error *err)
{
    cfg->kind = "s3";
    cfg->https = 1;
    char *q = strchr(p, '?');
    if (q)
        *q++ = '\0';
    cfg->bucket = p;
    if (!*p || strchr(p, '/'))
        return tp_error_set(err, TP_ECONFIG,
                            "store: s3 address needs a bucket: s3://BUCKET?endpoint=HOST:PORT");
    while (q && *q) {
        char *amp = strchr(q, '&');
        if (amp)
            *amp++ = '\0';
        char *eq = strchr(q, '=');
        if (!eq)
            return tp_error_set(err, TP_ECONFIG, "store: s3 option '%s' has no value", q);
        *eq++ = '\0';
        if (strcmp(q, "endpoint") == 0)
            cfg->endpoint = eq;
        else if (strcmp(q, "region") == 0)
            cfg->region = eq;
        else if (strcmp(q, "https") == 0 && (strcmp(eq, "0") == 0 || strcmp(eq, "1") == 0))
            cfg->https = eq[0] == '1';
        else
            return tp_error_set(err, TP_ECONFIG,
                                "store: unknown s3 option '%s' (endpoint, region, https=0|1)", q);
        q = amp;
    }
    if (!cfg->endpoint || !*cfg->endpoint)
        return tp_error_set(err, TP_ECONFIG, "store: s3 address needs endpoint=HOST:PORT");
    return TP_OK;
}

int tp_store_config_parse(const char *spec, char *buf, size_t bufsize, tp_store_config *cfg,
                          tp_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    if (!spec || !*spec)
        return tp_error_set(err, TP_ECONFIG, "store: empty address");
    if (strlen(spec) >= bufsize)
        return tp_error_set(err, TP_ECONFIG, "store: address too long");
    memcpy(buf, spec, strlen(spec) + 1);
    if (strncmp(buf, "s3://", 5) == 0)
        return parse_s3(buf + 5, cfg, err);
    cfg->kind = "fs";
    cfg->root = strncmp(buf, "fs:", 3) == 0 ? buf + 3 : buf;
    if (!*cfg->root)
        return tp_error_set(err, TP_ECONFIG, "store: fs address needs a directory: fs:/path");
    if (strstr(buf, "://"))
        return tp_error_set(
            err, TP_ECONFIG,
            "store: unknown address '%s' (fs:/path or s3://BUCKET?endpoint=HOST:PORT)", spec);
    return TP_OK;
}

int tp_store_open(const tp_store_config *cfg, tp_store **out, tp_error *err)
{
    *out = NULL;
    tp_store *s = calloc(1, sizeof *s);
    if (!s)
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    int rc;
    if (cfg->kind && strcmp(cfg->kind, "fs") == 0)
        rc = tp_store_fs_open(cfg, s, err);
    else if (cfg->kind && strcmp(cfg->kind, "s3") == 0)
        rc = tp_store_s3_open(cfg, s, err);
    else
        rc = tp_error_set(err, TP_ECONFIG, "store: unknown kind '%s' (fs or s3)",
                          cfg->kind ? cfg->kind : "");
    if (rc < 0) {
        free(s);
        return rc;
    }
    *out = s;
    return TP_OK;
}

void tp_store_close(tp_store *s)
{
    if (!s)
        return;
    s->ops->close(s);
    free(s);
}

const char *tp_store_kind(const tp_store *s)
{
    return s->ops->kind;
}

void tp_store_key(const char *sha256_hex, char key[TP_STORE_KEY_MAX])
{
    snprintf(key, TP_STORE_KEY_MAX, "raw/%.2s/%s", sha256_hex, sha256_hex);
}

/* Keys are relative paths of [A-Za-z0-9._-] segments; no "." or ".." ones. */
static int key_ok(const char *key, tp_error *err)
{
    size_t n = key ? strlen(key) : 0;
    int ok = n > 0 && n < TP_STORE_KEY_MAX && key[0] != '/' && key[n - 1] != '/';
    for (const char *seg = key; ok && seg && *seg;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            ok = 0;
        for (size_t i = 0; ok && i < len; i++) {
            char c = seg[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        }
        seg = end ? end + 1 : NULL;
    }
    return ok ? TP_OK
              : tp_error_set(err, TP_EINVAL, "store: invalid key '%.*s'", 160, key ? key : "");
}

static int put(tp_store *s, const char *key, const char *path, uint64_t size, int *existed,
               int owned, tp_error *err)
{
    int dummy;
    if (!existed)
        existed = &dummy;
    *existed = 0;
    if (key_ok(key, err) < 0)
        return TP_EINVAL;
    if (owned && strcmp(s->ops->kind, "fs") == 0)
        return tp_store_fs_put_owned(s, key, path, existed, err);
    return s->ops->put_file(s, key, path, size, existed, err);
}

int tp_store_put_file(tp_store *s, const char *key, const char *path, uint64_t size, int *existed,
                      tp_error *err)
{
    return put(s, key, path, size, existed, 0, err);
}

int tp_store_put_owned(tp_store *s, const char *key, const char *path, uint64_t size, int *existed,
                       tp_error *err)
{
    return put(s, key, path, size, existed, 1, err);
}

int tp_store_get_file(tp_store *s, const char *key, const char *path, tp_error *err)
{
    return key_ok(key, err) < 0 ? TP_EINVAL : s->ops->get_file(s, key, path, err);
}

int tp_store_read(tp_store *s, const char *key, tp_store_chunk_fn fn, void *ud, tp_error *err)
{
    return key_ok(key, err) < 0 ? TP_EINVAL : s->ops->read(s, key, fn, ud, err);
}

int tp_store_stat(tp_store *s, const char *key, int *exists, uint64_t *size, tp_error *err)
{
    *exists = 0;
    return key_ok(key, err) < 0 ? TP_EINVAL : s->ops->stat(s, key, exists, size, err);
}

int tp_store_delete(tp_store *s, const char *key, tp_error *err)
{
    return key_ok(key, err) < 0 ? TP_EINVAL : s->ops->del(s, key, err);
}

int tp_store_sync(tp_store *s, const char *const *keys, size_t n, tp_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (key_ok(keys[i], err) < 0)
            return TP_EINVAL;
    return s->ops->sync ? s->ops->sync(s, keys, n, err) : TP_OK;
}

int tp_store_check(tp_store *s, tp_error *err)
{
    return s->ops->check(s, err);
}

int tp_store_list(tp_store *s, const char *prefix, tp_store_list_fn fn, void *ud, tp_error *err)
{
    size_t n = prefix ? strlen(prefix) : 0;
    if (n == 0 || n >= TP_STORE_KEY_MAX || prefix[n - 1] != '/' || prefix[0] == '/' ||
        strstr(prefix, "..") || strspn(prefix, "abcdefghijklmnopqrstuvwxyz0123456789_-./") != n)
        return tp_error_set(err, TP_EINVAL, "store: invalid prefix '%.*s'", 160,
                            prefix ? prefix : "");
    return s->ops->list(s, prefix, fn, ud, err);
}

long tp_store_temp_pid(const char *key)
{
    const char *base = strrchr(key, '/') ? strrchr(key, '/') + 1 : key;
    const char *t = strstr(base, ".tmp-");
    if (!t)
        return 0;
    char *end = NULL;
    errno = 0;
    long pid = strtol(t + 5, &end, 10);
    if (errno || end == t + 5 || *end != '-' || pid <= 0 || t[5] < '0' || t[5] > '9')
        return 0;
    /* "<name>.tmp-<pid>-<n>" ends in digits; ".tmp-<pid>-<n>-<name>" starts so */
    const char *seq = end + 1;
    size_t digits = strspn(seq, "0123456789");
    if (digits == 0 || (seq[digits] != '\0' && !(t == base && seq[digits] == '-')))
        return 0;
    return pid;
}

typedef struct sweep_ctx {
    tp_store *s;
    int removed, kept;
    tp_error *err;
} sweep_ctx;

static int sweep_one(void *ud, const char *key, uint64_t size)
{
    sweep_ctx *c = ud;
    (void)size;
    long pid = tp_store_temp_pid(key);
    if (pid == 0)
        return TP_OK;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) {
        c->kept++; /* its writer is alive (or not ours to signal: alive too) */
        return TP_OK;
    }
    int rc = tp_store_delete(c->s, key, c->err);
    if (rc == TP_OK)
        c->removed++;
    return rc;
}

int tp_store_sweep(tp_store *s, int *removed, int *kept, tp_error *err)
{
    sweep_ctx c = {s, 0, 0, err};
    int rc = strcmp(s->ops->kind, "fs") == 0 ? tp_store_list(s, "raw/", sweep_one, &c, err) : TP_OK;
    if (removed)
        *removed = c.removed;
    if (kept)
        *kept = c.kept;
    return rc;
}

int tp_store_open_fd(tp_store *s, const char *key, tp_error *err)
{
    char local[4200];
    const char *lp = tp_store_local_path(s, key, local, sizeof local);
    if (lp) {
        int fd = open(lp, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            tp_error_set(err, errno == ENOENT ? TP_ENOTFOUND : TP_EIO, "%s: %s", key,
                         strerror(errno));
        return fd;
    }
    const char *tmpdir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(local, sizeof local, "%s/tillpipe-get-XXXXXX", tmpdir);
    int tmp = mkstemp(local);
    if (tmp < 0) {
        tp_error_set(err, TP_EIO, "%s: %s", tmpdir, strerror(errno));
        return -1;
    }
    close(tmp);
    int fd =
        tp_store_get_file(s, key, local, err) == TP_OK ? open(local, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0 && err && err->code == TP_OK)
        tp_error_set(err, TP_EIO, "%s: %s", local, strerror(errno));
    unlink(local); /* the descriptor keeps it while it is read */
    return fd;
}
