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
    if (n >= 4 && p[0] == 'P' && p[1] == 'K' && (p[2] == 3 || p[2] == 5) && (p[3] == 4 || p[3] == 6))
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

int tp_archive_extract(const char *path, const char *outdir, const tp_archive_limits *lim,
                       tp_archive_member_fn fn, void *ud, tp_error *err)
{
    uint64_t max_member = lim && lim->max_member ? lim->max_member : 256u << 20;
    uint64_t max_total = lim && lim->max_total ? lim->max_total : 1u << 30;
    unsigned max_members = lim && lim->max_members ? lim->max_members : 10000;
    const char *aname = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

    struct archive *a = archive_read_new();
    if (!a)
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    archive_read_support_filter_gzip(a);
    archive_read_support_format_zip(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    int rc = TP_OK;
    if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
        rc = tp_error_set(err, TP_EPARSE, "%s: not a readable zip or tar archive: %s", aname,
                          archive_error_string(a));
        archive_read_free(a);
        return rc;
    }
    struct archive_entry *e;
    uint64_t total = 0;
    unsigned index = 0;
    for (;;) {
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            rc = tp_error_set(err, TP_EPARSE, "%s: broken archive: %s", aname,
                              archive_error_string(a));
            break;
        }
        const char *mp = archive_entry_pathname(e);
        if (!member_path_ok(mp)) {
            rc = tp_error_set(err, TP_EPARSE,
                              "%s: unsafe member path '%.200s' (absolute or with '..'): archive rejected",
                              aname, mp ? mp : "");
            break;
        }
        if (archive_entry_hardlink(e) || archive_entry_symlink(e) ||
            archive_entry_filetype(e) == AE_IFLNK) {
            rc = tp_error_set(err, TP_EPARSE, "%s: member '%.200s' is a link: archive rejected",
                              aname, mp);
            break;
        }
        if (archive_entry_filetype(e) == AE_IFDIR)
            continue;
        if (archive_entry_filetype(e) != AE_IFREG) {
            rc = tp_error_set(err, TP_EPARSE,
                              "%s: member '%.200s' is not a regular file: archive rejected", aname, mp);
            break;
        }
        if (++index > max_members) {
            rc = tp_error_set(err, TP_ELIMIT, "%s: more than %u members", aname, max_members);
            break;
        }
        const char *base = strrchr(mp, '/') ? strrchr(mp, '/') + 1 : mp;
        char dir[PATH_MAX], out[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%u", outdir, index);
        if ((size_t)snprintf(out, sizeof out, "%s/%s", dir, base) >= sizeof out) {
            rc = tp_error_set(err, TP_ELIMIT, "%s: member name too long", aname);
            break;
        }
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
            rc = tp_error_set(err, TP_EIO, "%s: mkdir %s: %s", aname, dir, strerror(errno));
            break;
        }
        int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
            rc = tp_error_set(err, TP_EIO, "%s: create %s: %s", aname, out, strerror(errno));
            break;
        }
        tp_sha256 h;
        tp_sha256_init(&h);
        uint64_t size = 0;
        char chunk[65536];
        la_ssize_t n;
        while (rc == TP_OK && (n = archive_read_data(a, chunk, sizeof chunk)) != 0) {
            if (n < 0) {
                rc = tp_error_set(err, TP_EPARSE, "%s: member '%.200s': %s", aname, mp,
                                  archive_error_string(a));
                break;
            }
            size += (uint64_t)n;
            total += (uint64_t)n;
            if (size > max_member || total > max_total) {
                rc = tp_error_set(err, TP_ELIMIT,
                                  "%s: member '%.200s' passes the %s cap of %llu bytes (archive bomb?)",
                                  aname, mp, size > max_member ? "per-file" : "archive",
                                  (unsigned long long)(size > max_member ? max_member : max_total));
                break;
            }
            tp_sha256_update(&h, chunk, (size_t)n);
            for (la_ssize_t off = 0; off < n;) {
                ssize_t w = write(fd, chunk + off, (size_t)(n - off));
                if (w < 0) {
                    rc = tp_error_set(err, TP_EIO, "%s: write %s: %s", aname, out, strerror(errno));
                    break;
                }
                off += w;
            }
        }
        if (close(fd) < 0 && rc == TP_OK)
            rc = tp_error_set(err, TP_EIO, "%s: write %s: %s", aname, out, strerror(errno));
        char hex[TP_SHA256_HEX];
        if (rc < 0) {
            tp_sha256_clear(&h);
            break;
        }
        if ((rc = tp_sha256_final_hex(&h, hex, err)) < 0 ||
            (rc = fn(ud, base, out, size, hex, err)) < 0)
            break;
    }
    archive_read_free(a);
    return rc;
}
