/* unpack.c -- see unpack.h. */
#include "unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tp_archive_sniff(const char *path)
{
    unsigned char p[262];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, p, sizeof p);
    close(fd);
    if (n >= 4 && p[0] == 'P' && p[1] == 'K' && (p[2] == 3 || p[2] == 5) &&
        (p[3] == 4 || p[3] == 6))
        return 1;
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        return 1;
    return n >= 262 && memcmp(p + 257, "ustar", 5) == 0;
}

/* A member path is safe when it is relative and has no ".." segment. */
static int member_path_ok(const char *p)
{
    if (!p || !*p || p[0] == '/' || p[0] == '\\')
        return 0;
    for (const char *seg = p; seg;) {
        const char *end = strpbrk(seg, "/\\");
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 2 && seg[0] == '.' && seg[1] == '.')
            return 0;
        seg = end ? end + 1 : NULL;
    }
    return 1;
}

/* One extraction: the archive, its limits and what was taken so far. */
typedef struct unpack {
    struct archive *a;
    const char *aname; /* the archive's file name, for messages */
    const char *outdir;
    uint64_t max_member, max_total, total;
    unsigned max_members, index;
} unpack;

/* A member that may be extracted: 1; 0 to skip it (a folder); < 0 with err
 * set when it rejects the whole archive. */
static int member_ok(unpack *u, struct archive_entry *e, tp_error *err)
{
    const char *mp = archive_entry_pathname(e);
    if (!member_path_ok(mp))
        return tp_error_set(err, TP_EPARSE,
                            "%s: unsafe member path '%.200s' (absolute or with '..'): archive "
                            "rejected",
                            u->aname, mp ? mp : "");
    if (archive_entry_hardlink(e) || archive_entry_symlink(e) ||
        archive_entry_filetype(e) == AE_IFLNK)
        return tp_error_set(err, TP_EPARSE, "%s: member '%.200s' is a link: archive rejected",
                            u->aname, mp);
    if (archive_entry_filetype(e) == AE_IFDIR)
        return 0;
    if (archive_entry_filetype(e) != AE_IFREG)
        return tp_error_set(err, TP_EPARSE,
                            "%s: member '%.200s' is not a regular file: archive rejected", u->aname,
                            mp);
    if (++u->index > u->max_members)
        return tp_error_set(err, TP_ELIMIT, "%s: more than %u members", u->aname, u->max_members);
    return 1;
}

/* Write all of buf to fd. */
static int write_all(int fd, const char *buf, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, buf + off, n - off);
        if (w < 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}

/* The current member's data into fd, hashed, within the caps. */
static int copy_member(unpack *u, const char *mp, const char *out, int fd, tp_sha256 *h,
                       uint64_t *size, tp_error *err)
{
    char chunk[65536];
    la_ssize_t n;
    while ((n = archive_read_data(u->a, chunk, sizeof chunk)) != 0) {
        if (n < 0)
            return tp_error_set(err, TP_EPARSE, "%s: member '%.200s': %s", u->aname, mp,
                                archive_error_string(u->a));
        *size += (uint64_t)n;
        u->total += (uint64_t)n;
        if (*size > u->max_member || u->total > u->max_total) {
            int per_file = *size > u->max_member;
            return tp_error_set(err, TP_ELIMIT,
                                "%s: member '%.200s' passes the %s cap of %llu bytes (archive "
                                "bomb?)",
                                u->aname, mp, per_file ? "per-file" : "archive",
                                (unsigned long long)(per_file ? u->max_member : u->max_total));
        }
        tp_sha256_update(h, chunk, (size_t)n);
        if (write_all(fd, chunk, (size_t)n) < 0)
            return tp_error_set(err, TP_EIO, "%s: write %s: %s", u->aname, out, strerror(errno));
    }
    return TP_OK;
}

/* Extract the current member to outdir/<index>/<name> and hand it to fn. */
static int extract_member(unpack *u, struct archive_entry *e, tp_archive_member_fn fn, void *ud,
                          tp_error *err)
{
    const char *mp = archive_entry_pathname(e);
    const char *base = strrchr(mp, '/') ? strrchr(mp, '/') + 1 : mp;
    char dir[PATH_MAX], out[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%u", u->outdir, u->index);
    if ((size_t)snprintf(out, sizeof out, "%s/%s", dir, base) >= sizeof out)
        return tp_error_set(err, TP_ELIMIT, "%s: member name too long", u->aname);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return tp_error_set(err, TP_EIO, "%s: mkdir %s: %s", u->aname, dir, strerror(errno));
    int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return tp_error_set(err, TP_EIO, "%s: create %s: %s", u->aname, out, strerror(errno));
    tp_sha256 h;
    tp_sha256_init(&h);
    uint64_t size = 0;
    int rc = copy_member(u, mp, out, fd, &h, &size, err);
    if (close(fd) < 0 && rc == TP_OK)
        rc = tp_error_set(err, TP_EIO, "%s: write %s: %s", u->aname, out, strerror(errno));
    char hex[TP_SHA256_HEX];
    if (rc == TP_OK)
        rc = tp_sha256_final_hex(&h, hex, err);
    return rc == TP_OK ? fn(ud, base, out, size, hex, err) : rc;
}

int tp_archive_extract(const char *path, const char *outdir, const tp_archive_limits *lim,
                       tp_archive_member_fn fn, void *ud, tp_error *err)
{
    unpack u = {.aname = strrchr(path, '/') ? strrchr(path, '/') + 1 : path,
                .outdir = outdir,
                .max_member = lim && lim->max_member ? lim->max_member : 256u << 20,
                .max_total = lim && lim->max_total ? lim->max_total : 1u << 30,
                .max_members = lim && lim->max_members ? lim->max_members : 10000};
    if (!(u.a = archive_read_new()))
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    archive_read_support_filter_gzip(u.a);
    archive_read_support_format_zip(u.a);
    archive_read_support_format_tar(u.a);
    archive_read_support_format_gnutar(u.a);
    int rc = TP_OK;
    if (archive_read_open_filename(u.a, path, 65536) != ARCHIVE_OK)
        rc = tp_error_set(err, TP_EPARSE, "%s: not a readable zip or tar archive: %s", u.aname,
                          archive_error_string(u.a));
    struct archive_entry *e;
    int r;
    while (rc == TP_OK && (r = archive_read_next_header(u.a, &e)) != ARCHIVE_EOF) {
        if (r < ARCHIVE_WARN)
            rc = tp_error_set(err, TP_EPARSE, "%s: broken archive: %s", u.aname,
                              archive_error_string(u.a));
        else if ((rc = member_ok(&u, e, err)) > 0)
            rc = extract_member(&u, e, fn, ud, err);
    }
    archive_read_free(u.a);
    return rc;
}
