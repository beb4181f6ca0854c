/* sha.c -- see sha.h. */
#include "sha.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

void tp_sha256_init(tp_sha256 *h)
{
    memset(h, 0, sizeof *h);
}

void tp_sha256_clear(tp_sha256 *h)
{
    if (h->a)
        archive_write_free(h->a);
    tp_sha256_init(h);
}

/* The writer's output lands in h->out (one short line; more is refused). */
static la_ssize_t collect(struct archive *a, void *ud, const void *buf, size_t n)
{
    (void)a;
    tp_sha256 *h = ud;
    if (n > sizeof h->out - 1 - h->nout) {
        h->failed = 1;
        return -1;
    }
    memcpy(h->out + h->nout, buf, n);
    h->nout += n;
    return (la_ssize_t)n;
}

/* An mtree writer keeping only the sha256 keyword, one regular file of
 * unbounded size open in it. */
static int open_writer(tp_sha256 *h)
{
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    int ok = a && e && archive_write_set_format_mtree(a) == ARCHIVE_OK &&
             archive_write_set_options(a, "!all,sha256") == ARCHIVE_OK &&
             archive_write_set_bytes_per_block(a, 0) == ARCHIVE_OK &&
             archive_write_open(a, h, NULL, collect, NULL) == ARCHIVE_OK;
    if (ok) {
        archive_entry_set_pathname(e, "x");
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, INT64_MAX);
        ok = archive_write_header(a, e) == ARCHIVE_OK;
    }
    archive_entry_free(e);
    if (!ok) {
        if (a)
            archive_write_free(a);
        h->failed = 1;
        return -1;
    }
    h->a = a;
    return 0;
}

void tp_sha256_update(tp_sha256 *h, const void *data, size_t len)
{
    if (h->failed || len == 0 || (!h->a && open_writer(h) < 0))
        return;
    const char *p = data;
    while (len > 0) { /* archive_write_data takes at most SSIZE_MAX-ish per call */
        size_t n = len < ((size_t)1 << 30) ? len : ((size_t)1 << 30);
        if (archive_write_data(h->a, p, n) != (la_ssize_t)n) {
            h->failed = 1;
            return;
        }
        p += n;
        len -= n;
    }
}

int tp_sha256_final_hex(tp_sha256 *h, char hex[TP_SHA256_HEX], tp_error *err)
{
    const char *d = NULL;
    if (!h->failed && (h->a || open_writer(h) == 0) &&
        archive_write_finish_entry(h->a) == ARCHIVE_OK && archive_write_close(h->a) == ARCHIVE_OK) {
        h->out[h->nout] = '\0';
        if ((d = strstr(h->out, "sha256digest=")))
            d += strlen("sha256digest=");
        if (d && strspn(d, "0123456789abcdef") < TP_SHA256_HEX - 1)
            d = NULL;
    }
    if (d) {
        memcpy(hex, d, TP_SHA256_HEX - 1);
        hex[TP_SHA256_HEX - 1] = '\0';
    }
    tp_sha256_clear(h);
    return d ? TP_OK : tp_error_set(err, TP_ENOMEM, "sha256: out of memory");
}

int tp_sha256_hex(const void *data, size_t len, char hex[TP_SHA256_HEX], tp_error *err)
{
    tp_sha256 h;
    tp_sha256_init(&h);
    tp_sha256_update(&h, data, len);
    return tp_sha256_final_hex(&h, hex, err);
}

int tp_sha256_file(const char *path, char hex[TP_SHA256_HEX], uint64_t *size, tp_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tp_error_set(err, errno == ENOENT ? TP_ENOTFOUND : TP_EIO, "%s: cannot open: %s",
                            path, strerror(errno));
    tp_sha256 h;
    tp_sha256_init(&h);
    unsigned char buf[65536];
    uint64_t total = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        tp_sha256_update(&h, buf, (size_t)n);
        total += (uint64_t)n;
    }
    int saved = errno;
    close(fd);
    if (n < 0) {
        tp_sha256_clear(&h);
        return tp_error_set(err, TP_EIO, "%s: cannot read: %s", path, strerror(saved));
    }
    if (tp_sha256_final_hex(&h, hex, err) < 0) {
        tp_error_prefix(err, "%s: ", path);
        return TP_ENOMEM;
    }
    if (size)
        *size = total;
    return TP_OK;
}
