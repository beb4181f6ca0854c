/* fs.c -- the fs backend of store.h: objects are files under a root
 * directory.  A put copies into a temporary file beside the object
 * (".tmp-" prefix, O_EXCL) and renames it into place, so a reader sees an
 * object whole or not at all; a failed put removes its temporary.
 * tp_store_sync then makes a batch of objects durable: fdatasync of each,
 * then fsync of its folder, after the whole batch was written.  (syncfs
 * was tried: it flushes every other writer on the file system too --
 * PostgreSQL's files among them -- and cost more in the backfill.) */
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct fs_store {
    char root[PATH_MAX];
} fs_store;

static int obj_path(const tp_store *s, const char *key, char *buf, size_t size, tp_error *err)
{
    const fs_store *fs = s->impl;
    if ((size_t)snprintf(buf, size, "%s/%s", fs->root, key) >= size)
        return tp_error_set(err, TP_ELIMIT, "store: path too long for key %s", key);
    return TP_OK;
}

const char *tp_store_local_path(const tp_store *s, const char *key, char *buf, size_t bufsize)
{
    if (strcmp(s->ops->kind, "fs") != 0 || obj_path(s, key, buf, bufsize, NULL) < 0)
        return NULL;
    return buf;
}

/* mkdir -p of the directories above `path` (the part before the last '/'). */
static int make_parents(const char *path, tp_error *err)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    char *slash = strrchr(tmp, '/');
    if (!slash || slash == tmp)
        return TP_OK;
    *slash = '\0';
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return tp_error_set(err, TP_EIO, "store: mkdir %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
        return tp_error_set(err, TP_EIO, "store: mkdir %s: %s", tmp, strerror(errno));
    return TP_OK;
}

/* Copy all of `in` to `out` (kernel-side where it can). */
static int copy_fd(int in, int out, const char *what, tp_error *err)
{
    for (;;) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
        if (n == 0)
            return TP_OK;
        if (n > 0)
            continue;
        if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)
            break; /* fall back to read/write from where we are */
        return tp_error_set(err, TP_EIO, "store: %s: %s", what, strerror(errno));
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0)
                return tp_error_set(err, TP_EIO, "store: %s: %s", what, strerror(errno));
            off += w;
        }
    return n < 0 ? tp_error_set(err, TP_EIO, "store: %s: %s", what, strerror(errno)) : TP_OK;
}

/* Copy `src` to `dst` through a temporary beside dst, renamed into place.
 * On error no temporary remains. */
static int copy_atomic(const char *src, const char *dst, tp_error *err)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return tp_error_set(err, errno == ENOENT ? TP_ENOTFOUND : TP_EIO, "store: %s: %s", src,
                            strerror(errno));
    char tmp[PATH_MAX + 64];
    const char *slash = strrchr(dst, '/');
    int dirlen = slash ? (int)(slash - dst + 1) : 0;
    static unsigned counter;
    unsigned seq = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    snprintf(tmp, sizeof tmp, "%.*s.tmp-%d-%u-%s", dirlen, dst, (int)getpid(), seq,
             slash ? slash + 1 : dst);
    int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0 && errno == ENOENT && make_parents(dst, err) == TP_OK) /* first in its folder */
        out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        int e = errno;
        close(in);
        return tp_error_set(err, TP_EIO, "store: create %s: %s", tmp, strerror(e));
    }
    int rc = copy_fd(in, out, dst, err);
    if (close(out) < 0 && rc == TP_OK)
        rc = tp_error_set(err, TP_EIO, "store: close %s: %s", dst, strerror(errno));
    close(in);
    if (rc == TP_OK && rename(tmp, dst) < 0)
        rc = tp_error_set(err, TP_EIO, "store: rename to %s: %s", dst, strerror(errno));
    if (rc < 0)
        unlink(tmp);
    return rc;
}

static int fs_put_file(tp_store *s, const char *key, const char *path, uint64_t size, int *existed,
                       tp_error *err)
{
    char dst[PATH_MAX];
    struct stat st;
    if (obj_path(s, key, dst, sizeof dst, err) < 0)
        return TP_ELIMIT;
    if (stat(dst, &st) == 0 && (uint64_t)st.st_size == size) {
        *existed = 1; /* whole (an object of another size is replaced) */
        return TP_OK;
    }
    return copy_atomic(path, dst, err);
}

int tp_store_fs_put_owned(tp_store *s, const char *key, const char *path, int *existed,
                          tp_error *err)
{
    char dst[PATH_MAX], tmp[PATH_MAX + 32];
    struct stat st, src;
    if (obj_path(s, key, dst, sizeof dst, err) < 0)
        return TP_ELIMIT;
    if (stat(dst, &st) == 0 && stat(path, &src) == 0 && st.st_size == src.st_size) {
        *existed = 1; /* whole (an object of another size is replaced) */
        return TP_OK;
    }
    static unsigned counter;
    snprintf(tmp, sizeof tmp, "%s.tmp-%d-%u", dst, (int)getpid(),
             __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
    int rc = link(path, tmp);
    if (rc < 0 && errno == ENOENT && make_parents(dst, NULL) == TP_OK)
        rc = link(path, tmp);
    if (rc < 0) /* another file system, or links not allowed: copy */
        return copy_atomic(path, dst, err);
    if (rename(tmp, dst) < 0) {
        int e = errno;
        unlink(tmp);
        return tp_error_set(err, TP_EIO, "store: rename to %s: %s", dst, strerror(e));
    }
    return TP_OK;
}

/* fsync one file or folder; 0 or errno. */
static int sync_path(const char *path, int dir)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int rc = (dir ? fsync(fd) : fdatasync(fd)) < 0 ? errno : 0;
    /* A stored object is an archive copy, read again rarely: once it is on
     * disk its pages go back to the page cache's free list instead of
     * pushing out what is read every day. */
    if (!rc && !dir)
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    return rc;
}

/* The objects, then their folders (each once: keys sharing a folder are
 * usually next to each other, and a repeat fsync is cheap anyway). */
static int fs_sync(tp_store *s, const char *const *keys, size_t n, tp_error *err)
{
    char last_dir[PATH_MAX] = "";
    for (size_t i = 0; i < n; i++) {
        char p[PATH_MAX];
        if (obj_path(s, keys[i], p, sizeof p, err) < 0)
            return TP_ELIMIT;
        int e = sync_path(p, 0);
        char *slash = strrchr(p, '/');
        if (!e && slash) {
            *slash = '\0';
            if (strcmp(p, last_dir) != 0) {
                snprintf(last_dir, sizeof last_dir, "%s", p);
                e = sync_path(p, 1);
            }
        }
        if (e)
            return tp_error_set(err, TP_EIO, "store: sync %s: %s", keys[i], strerror(e));
    }
    return TP_OK;
}

static int fs_get_file(tp_store *s, const char *key, const char *path, tp_error *err)
{
    char src[PATH_MAX];
    if (obj_path(s, key, src, sizeof src, err) < 0)
        return TP_ELIMIT;
    int rc = copy_atomic(src, path, err);
    if (rc == TP_ENOTFOUND)
        tp_error_set(err, TP_ENOTFOUND, "store: no object %s", key);
    return rc;
}

static int fs_read(tp_store *s, const char *key, tp_store_chunk_fn fn, void *ud, tp_error *err)
{
    char src[PATH_MAX];
    if (obj_path(s, key, src, sizeof src, err) < 0)
        return TP_ELIMIT;
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? tp_error_set(err, TP_ENOTFOUND, "store: no object %s", key)
                               : tp_error_set(err, TP_EIO, "store: %s: %s", key, strerror(errno));
    char buf[65536];
    ssize_t n;
    int rc = TP_OK;
    while (rc == TP_OK && (n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0)
            rc = tp_error_set(err, TP_EIO, "store: read %s: %s", key, strerror(errno));
        else if ((rc = fn(ud, buf, (size_t)n)) < 0)
            break;
    }
    close(fd);
    return rc;
}

static int fs_stat(tp_store *s, const char *key, int *exists, uint64_t *size, tp_error *err)
{
    char p[PATH_MAX];
    struct stat st;
    if (obj_path(s, key, p, sizeof p, err) < 0)
        return TP_ELIMIT;
    if (stat(p, &st) < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return TP_OK;
        return tp_error_set(err, TP_EIO, "store: stat %s: %s", key, strerror(errno));
    }
    *exists = 1;
    if (size)
        *size = (uint64_t)st.st_size;
    return TP_OK;
}

static int fs_del(tp_store *s, const char *key, tp_error *err)
{
    char p[PATH_MAX];
    if (obj_path(s, key, p, sizeof p, err) < 0)
        return TP_ELIMIT;
    if (unlink(p) < 0 && errno != ENOENT)
        return tp_error_set(err, TP_EIO, "store: delete %s: %s", key, strerror(errno));
    return TP_OK;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in folder `dir` (fd), folders with a '/' after them so that
 * sorting them bytewise sorts the keys below them too: *names (each and
 * the array free()d by the caller), *n. */
static int read_names(int dfd, const char *rel, char ***names, size_t *n, tp_error *err)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return tp_error_set(err, TP_EIO, "store: list %s: %s", rel, strerror(errno));
    }
    size_t cap = 0;
    int rc = TP_OK;
    struct dirent *e;
    *names = NULL;
    *n = 0;
    while (rc == TP_OK && (errno = 0, e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue; /* gone meanwhile (a rename into place) */
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            char **v = realloc(*names, cap * sizeof *v);
            if (!v) {
                rc = tp_error_set(err, TP_ENOMEM, "out of memory");
                break;
            }
            *names = v;
        }
        size_t len = strlen(e->d_name);
        char *name = malloc(len + 2);
        if (!name) {
            rc = tp_error_set(err, TP_ENOMEM, "out of memory");
            break;
        }
        memcpy(name, e->d_name, len);
        name[len] = S_ISDIR(st.st_mode) ? '/' : '\0';
        name[len + 1] = '\0';
        (*names)[(*n)++] = name;
    }
    if (rc == TP_OK && errno)
        rc = tp_error_set(err, TP_EIO, "store: list %s: %s", rel, strerror(errno));
    closedir(d);
    if (rc == TP_OK && *n > 1)
        qsort(*names, *n, sizeof **names, cmp_names);
    return rc;
}

/* The regular files under ROOT/rel (rel ends in '/'), in key order. */
static int list_dir(const fs_store *fs, const char *rel, int depth, tp_store_list_fn fn, void *ud,
                    tp_error *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", fs->root, rel);
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno == ENOENT && depth == 0
                   ? TP_OK
                   : tp_error_set(err, TP_EIO, "store: list %s: %s", rel, strerror(errno));
    char **names = NULL;
    size_t n = 0;
    int rc = read_names(dfd, rel, &names, &n, err);
    for (size_t i = 0; i < n; i++) {
        char key[TP_STORE_KEY_MAX * 2];
        size_t len = strlen(names[i]);
        int dir = names[i][len - 1] == '/';
        if (rc != TP_OK ||
            (size_t)snprintf(key, sizeof key, "%s%s", rel, names[i]) >= (size_t)TP_STORE_KEY_MAX)
            goto next; /* (a name no key can have: not an object of ours) */
        if (dir) {
            if (depth < 8)
                rc = list_dir(fs, key, depth + 1, fn, ud, err);
        } else {
            struct stat st;
            snprintf(path, sizeof path, "%s/%s", fs->root, key);
            if (stat(path, &st) == 0)
                rc = fn(ud, key, (uint64_t)st.st_size);
        }
    next:
        free(names[i]);
    }
    free(names);
    return rc;
}

static int fs_list(tp_store *s, const char *prefix, tp_store_list_fn fn, void *ud, tp_error *err)
{
    return list_dir(s->impl, prefix, 0, fn, ud, err);
}

static int fs_check(tp_store *s, tp_error *err)
{
    const fs_store *fs = s->impl;
    if (access(fs->root, W_OK | X_OK) < 0)
        return tp_error_set(err, TP_EIO, "store: %s: %s", fs->root, strerror(errno));
    return TP_OK;
}

static void fs_close(tp_store *s)
{
    free(s->impl);
}

static const tp_store_ops fs_ops = {"fs",   fs_put_file, fs_get_file, fs_read, fs_stat,
                                    fs_del, fs_check,    fs_close,    fs_sync, fs_list};

int tp_store_fs_open(const tp_store_config *cfg, tp_store *s, tp_error *err)
{
    if (!cfg->root || !*cfg->root)
        return tp_error_set(err, TP_ECONFIG, "store: fs needs a directory");
    fs_store *fs = calloc(1, sizeof *fs);
    if (!fs)
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    if (snprintf(fs->root, sizeof fs->root, "%s", cfg->root) >= (int)sizeof fs->root - 200) {
        free(fs);
        return tp_error_set(err, TP_ECONFIG, "store: directory path too long");
    }
    size_t n = strlen(fs->root);
    while (n > 1 && fs->root[n - 1] == '/')
        fs->root[--n] = '\0';
    s->ops = &fs_ops;
    s->impl = fs;
    char probe[PATH_MAX];
    snprintf(probe, sizeof probe, "%s/x", fs->root);
    int rc = make_parents(probe, err);
    if (rc == TP_OK)
        rc = fs_check(s, err);
    if (rc < 0) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err ? err->msg : "");
        free(fs);
        s->impl = NULL;
        return tp_error_set(err, TP_ECONFIG, "%s (the fs store directory)", why);
    }
    return TP_OK;
}
