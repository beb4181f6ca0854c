/* fsutil.c -- see fsutil.h. */
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

char *tp_make_workdir(const char *root, const char *prefix, tp_error *err)
{
    if (!root || !*root)
        root = getenv("TMPDIR");
    if (!root || !*root)
        root = "/tmp";
    size_t n = strlen(root) + strlen(prefix) + 8;
    char *p = malloc(n);
    if (!p) {
        tp_error_set(err, TP_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(p, n, "%s/%sXXXXXX", root, prefix);
    if (!mkdtemp(p)) {
        tp_error_set(err, TP_EIO, "cannot create a work folder in %s: %s", root, strerror(errno));
        free(p);
        return NULL;
    }
    return p;
}

static _Thread_local int keep_top; /* nftw has no user argument */

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    if (keep_top && ftw->level == 0)
        return 0;
    int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
    return rc < 0 && errno != ENOENT ? -1 : 0;
}

static int walk(const char *path, int keep)
{
    if (!path || !*path)
        return 0;
    keep_top = keep;
    return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT ? -1 : 0;
}

int tp_remove_tree(const char *path)
{
    return walk(path, 0);
}

int tp_empty_tree(const char *path)
{
    return walk(path, 1);
}

/* ------------------------------------------------------------ result files */

enum { OUT_STDOUT, OUT_ATOMIC, OUT_IN_PLACE };
enum { OUT_BUF = 1 << 20 };
/* Room kept for ".tmp-<pid>-<hex>" when the target's name is long. */
enum { TEMP_BASE_MAX = 200 };

struct tp_outfile {
    FILE *f;
    int kind;     /* OUT_* */
    char *path;   /* as given, for messages */
    char *target; /* the file renamed over (OUT_ATOMIC) */
    char *dir;    /* its folder */
    char *prefix; /* ".NAME.tmp-": the temporaries of this target */
    char *tmp;    /* the temporary's name, NULL while unnamed */
    int perm;     /* permission bits to give the new file, -1: the umask's */
    int fdnum;    /* an inherited descriptor written in place, or -1 */
    char *buf;    /* stdio buffer */
};

static char *dup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dup_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

/* The folder of `path` ("." when it has none) and its last component. */
static int split_path(const char *path, char **dir, char **base)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        *dir = strdup(".");
    else if (slash == path)
        *dir = strdup("/");
    else
        *dir = strndup(path, (size_t)(slash - path));
    *base = strdup(slash ? slash + 1 : path);
    return *dir && *base ? 0 : -1;
}

/* Where a dangling symlink leads: the first path in its chain that does not
 * exist, in a folder that does.  NULL with err set otherwise. */
static char *dangling_target(const char *path, tp_error *err)
{
    char cur[PATH_MAX], next[PATH_MAX], link[PATH_MAX];
    snprintf(cur, sizeof cur, "%s", path);
    for (int hops = 0; hops < 40; hops++) {
        ssize_t n = readlink(cur, link, sizeof link - 1);
        if (n < 0)
            break;
        link[n] = '\0';
        const char *slash = strrchr(cur, '/');
        if (link[0] == '/' || !slash)
            snprintf(next, sizeof next, "%s", link);
        else
            snprintf(next, sizeof next, "%.*s/%s", (int)(slash - cur), cur, link);
        memcpy(cur, next, sizeof cur);
        struct stat st;
        if (lstat(cur, &st) != 0 && errno == ENOENT) {
            char *dir = NULL, *base = NULL, real[PATH_MAX];
            char *out = NULL;
            if (split_path(cur, &dir, &base) == 0 && realpath(dir, real))
                out = dup_printf("%s/%s", strcmp(real, "/") ? real : "", base);
            else
                tp_error_set(err, TP_EINVAL,
                             "%s: a symlink to %s, whose folder does not exist; not written", path,
                             cur);
            free(dir);
            free(base);
            return out;
        }
    }
    tp_error_set(err, TP_EINVAL, "%s: a symlink that cannot be followed (a loop?); not written",
                 path);
    return NULL;
}

/* What an existing, non-symlink `st` allows: OUT_ATOMIC or OUT_IN_PLACE, or
 * TP_EINVAL with err set. */
static int kind_of(const char *path, const struct stat *st, tp_error *err)
{
    if (S_ISREG(st->st_mode))
        return OUT_ATOMIC;
    if (S_ISCHR(st->st_mode) || S_ISFIFO(st->st_mode))
        return OUT_IN_PLACE;
    const char *what = S_ISDIR(st->st_mode)    ? "a folder"
                       : S_ISBLK(st->st_mode)  ? "a block device"
                       : S_ISSOCK(st->st_mode) ? "a socket"
                                               : "not a regular file";
    return tp_error_set(err, TP_EINVAL,
                        "%s is %s: give a file name, \"-\" (standard output), a character "
                        "device or a FIFO",
                        path, what);
}

/* The descriptor a path names ("/dev/stdout", "/dev/fd/N",
 * "/proc/self/fd/N"), or -1.  Written through a duplicate of it, these go
 * where the descriptor goes, at its offset (a shell's `>>` appends). */
static int fd_path(const char *path)
{
    static const char *const prefixes[] = {"/dev/fd/", "/proc/self/fd/"};
    if (strcmp(path, "/dev/stdout") == 0)
        return 1;
    if (strcmp(path, "/dev/stderr") == 0)
        return 2;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t n = strlen(prefixes[i]);
        char *end;
        if (strncmp(path, prefixes[i], n) != 0 || !path[n])
            continue;
        errno = 0;
        long fd = strtol(path + n, &end, 10);
        if (!errno && !*end && fd >= 0 && fd <= INT_MAX)
            return (int)fd;
    }
    return -1;
}

/* Decide what `o->path` is: o->kind, o->target and o->perm.  0 or < 0. */
static int resolve_target(tp_outfile *o, tp_error *err)
{
    struct stat st;
    o->perm = -1;
    if ((o->fdnum = fd_path(o->path)) >= 0) {
        o->kind = OUT_IN_PLACE;
        o->target = strdup(o->path);
    } else if (lstat(o->path, &st) != 0) {
        if (errno != ENOENT)
            return tp_error_set(err, TP_EIO, "%s: cannot create output: %s", o->path,
                                strerror(errno));
        o->kind = OUT_ATOMIC;
        o->target = strdup(o->path);
    } else if (S_ISLNK(st.st_mode) && stat(o->path, &st) != 0) {
        if (errno != ENOENT)
            return tp_error_set(err, TP_EINVAL, "%s: %s; not written", o->path, strerror(errno));
        o->kind = OUT_ATOMIC;
        if (!(o->target = dangling_target(o->path, err)))
            return err ? err->code : TP_EINVAL;
    } else {
        /* st is the file itself, or what the symlink leads to */
        if ((o->kind = kind_of(o->path, &st, err)) < 0)
            return o->kind;
        if (o->kind == OUT_IN_PLACE)
            o->target = strdup(o->path);
        else if (!(o->target = realpath(o->path, NULL)))
            return tp_error_set(err, TP_EIO, "%s: %s", o->path, strerror(errno));
        else
            o->perm = (int)(st.st_mode & 07777);
    }
    return o->target ? TP_OK : tp_error_set(err, TP_ENOMEM, "out of memory");
}

/* Remove the temporaries of this target whose writer is gone: only regular
 * files named exactly "<prefix><pid>-<hex>" of a pid that does not exist. */
static void clean_stale(const tp_outfile *o)
{
    DIR *d = opendir(o->dir);
    if (!d)
        return;
    size_t plen = strlen(o->prefix);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, o->prefix, plen) != 0)
            continue;
        const char *p = e->d_name + plen;
        char *end;
        errno = 0;
        long pid = strtol(p, &end, 10);
        if (errno || end == p || *end != '-' || pid <= 0 || pid == (long)getpid() ||
            strspn(end + 1, "0123456789abcdef") != 8 || end[9] != '\0')
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* alive (or not ours to signal): its writer may still commit */
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

/* A fresh temporary name for this target, into o->tmp (a clash is retried
 * by the caller: the names only need to differ, not to be secret). */
static int next_temp_name(tp_outfile *o)
{
    unsigned r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r = (unsigned)ts.tv_nsec ^ (unsigned)(uintptr_t)o;
    }
    free(o->tmp);
    o->tmp = dup_printf("%s/%s%ld-%08x", o->dir, o->prefix, (long)getpid(), r);
    return o->tmp ? 0 : -1;
}

/* 1 when O_TMPFILE files can be given a name here (linkat through /proc). */
static int can_link_unnamed(void)
{
    return access("/proc/self/fd", X_OK) == 0;
}

/* Create the temporary in the target's folder: an fd, or < 0 with err set. */
static int create_temp(tp_outfile *o, tp_error *err)
{
    mode_t mode = o->perm >= 0 ? (mode_t)o->perm : 0644;
    int fd = -1;
    if (can_link_unnamed()) {
        fd = open(o->dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
        /* not supported by this kernel or file system: a named one */
        if (fd < 0 && errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
            return tp_error_set(err, TP_EIO, "%s: cannot create output: %s", o->path,
                                strerror(errno));
    }
    for (int tries = 0; fd < 0 && tries < 100; tries++) {
        if (next_temp_name(o) < 0)
            return tp_error_set(err, TP_ENOMEM, "out of memory");
        fd = open(o->tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        int e = errno;
        free(o->tmp);
        o->tmp = NULL;
        return tp_error_set(err, TP_EIO, "%s: cannot create output: %s", o->path, strerror(e));
    }
    if (o->perm >= 0)
        fchmod(fd, (mode_t)o->perm); /* exactly the replaced file's bits, not the umask's */
    return fd;
}

/* Open the written-in-place target; fd or < 0 with err set. */
static int open_in_place(tp_outfile *o, tp_error *err)
{
    if (o->fdnum >= 0) {
        int fd = fcntl(o->fdnum, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
            return tp_error_set(err, TP_EIO, "%s: %s", o->path, strerror(errno));
        return fd;
    }
    int fd = open(o->target, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return tp_error_set(err, TP_EIO, "%s: %s", o->path, strerror(errno));
    if (fstat(fd, &st) != 0 || !(S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))) {
        close(fd); /* replaced since it was looked at */
        return tp_error_set(err, TP_EINVAL, "%s changed while it was opened; not written", o->path);
    }
    return fd;
}

static int open_stream(tp_outfile *o, tp_error *err)
{
    char *base = NULL;
    int fd;
    if (o->kind == OUT_IN_PLACE) {
        fd = open_in_place(o, err);
    } else {
        if (split_path(o->target, &o->dir, &base) < 0 ||
            !(o->prefix = dup_printf(".%.*s.tmp-", TEMP_BASE_MAX, base))) {
            free(base);
            return tp_error_set(err, TP_ENOMEM, "out of memory");
        }
        free(base);
        clean_stale(o);
        fd = create_temp(o, err);
    }
    if (fd < 0)
        return fd;
    if (!(o->f = fdopen(fd, "wb"))) {
        close(fd);
        return tp_error_set(err, TP_EIO, "%s: %s", o->path, strerror(errno));
    }
    if ((o->buf = malloc(OUT_BUF)))
        setvbuf(o->f, o->buf, _IOFBF, OUT_BUF);
    return TP_OK;
}

tp_outfile *tp_outfile_open(const char *path, tp_error *err)
{
    tp_outfile *o = calloc(1, sizeof *o);
    if (!o || !(o->path = strdup(path))) {
        free(o);
        tp_error_set(err, TP_ENOMEM, "out of memory");
        return NULL;
    }
    o->fdnum = -1;
    if (strcmp(path, "-") == 0) {
        o->kind = OUT_STDOUT;
        o->f = stdout;
        return o;
    }
    if (resolve_target(o, err) < 0 || open_stream(o, err) < 0) {
        tp_outfile_abort(o);
        return NULL;
    }
    return o;
}

FILE *tp_outfile_stream(tp_outfile *o)
{
    return o->f;
}

const char *tp_outfile_temp_name(const tp_outfile *o)
{
    return o->tmp;
}

static void free_outfile(tp_outfile *o)
{
    free(o->path);
    free(o->target);
    free(o->dir);
    free(o->prefix);
    free(o->tmp);
    free(o->buf);
    free(o);
}

/* Give an unnamed temporary its name (linkat through /proc/self/fd). */
static int link_unnamed(tp_outfile *o, tp_error *err)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fileno(o->f));
    for (int tries = 0; tries < 100; tries++) {
        if (next_temp_name(o) < 0)
            return tp_error_set(err, TP_ENOMEM, "out of memory");
        if (linkat(AT_FDCWD, proc, AT_FDCWD, o->tmp, AT_SYMLINK_FOLLOW) == 0)
            return TP_OK;
        if (errno != EEXIST)
            break;
    }
    int e = errno;
    free(o->tmp);
    o->tmp = NULL;
    return tp_error_set(err, TP_EIO, "%s: cannot name the output: %s", o->path, strerror(e));
}

/* The rename is durable once the folder is on disk; a failure here loses
 * nothing written, so it is not reported. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static int commit_atomic(tp_outfile *o, tp_error *err)
{
    int rc = TP_OK;
    if (fflush(o->f) != 0 || ferror(o->f))
        rc = tp_error_set(err, TP_EIO, "%s: write error: %s", o->path, strerror(errno));
    if (rc == TP_OK && fsync(fileno(o->f)) != 0)
        rc = tp_error_set(err, TP_EIO, "%s: fsync: %s", o->path, strerror(errno));
    if (rc == TP_OK && !o->tmp)
        rc = link_unnamed(o, err);
    if (fclose(o->f) != 0 && rc == TP_OK)
        rc = tp_error_set(err, TP_EIO, "%s: close: %s", o->path, strerror(errno));
    o->f = NULL;
    if (rc == TP_OK && rename(o->tmp, o->target) != 0)
        rc =
            tp_error_set(err, TP_EIO, "%s: cannot rename into place: %s", o->path, strerror(errno));
    if (rc != TP_OK && o->tmp)
        unlink(o->tmp);
    if (rc == TP_OK)
        sync_dir(o->dir);
    return rc;
}

int tp_outfile_commit(tp_outfile *o, tp_error *err)
{
    int rc = TP_OK;
    if (o->kind == OUT_ATOMIC) {
        rc = commit_atomic(o, err);
    } else {
        if (fflush(o->f) != 0 || ferror(o->f))
            rc = tp_error_set(err, TP_EIO, "%s: write error: %s",
                              o->kind == OUT_STDOUT ? "standard output" : o->path, strerror(errno));
        if (o->kind == OUT_IN_PLACE && fclose(o->f) != 0 && rc == TP_OK)
            rc = tp_error_set(err, TP_EIO, "%s: close: %s", o->path, strerror(errno));
    }
    free_outfile(o);
    return rc;
}

void tp_outfile_abort(tp_outfile *o)
{
    if (!o)
        return;
    if (o->kind == OUT_STDOUT)
        fflush(stdout);
    else if (o->f)
        fclose(o->f); /* an unnamed temporary vanishes with its last descriptor */
    if (o->kind == OUT_ATOMIC && o->tmp)
        unlink(o->tmp);
    free_outfile(o);
}
