/* sha.c -- see sha.h. */
#include "sha.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

void tp_sha256_init(tp_sha256 *h)
{
    sha256_init(&h->ctx);
}

void tp_sha256_clear(tp_sha256 *h)
{
    sha256_init(&h->ctx); /* what was fed is forgotten: a fresh digest */
}

void tp_sha256_update(tp_sha256 *h, const void *data, size_t len)
{
    sha256_update(&h->ctx, len, data);
}

int tp_sha256_final_hex(tp_sha256 *h, char hex[TP_SHA256_HEX], tp_error *err)
{
    (void)err;
    static const char digits[] = "0123456789abcdef";
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest(&h->ctx, sizeof d, d);
    for (size_t i = 0; i < sizeof d; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[2 * sizeof d] = '\0';
    return TP_OK;
}

int tp_sha256_hex(const void *data, size_t len, char hex[TP_SHA256_HEX], tp_error *err)
{
    tp_sha256 h;
    tp_sha256_init(&h);
    tp_sha256_update(&h, data, len);
    return tp_sha256_final_hex(&h, hex, err);
}

int tp_sha256_fd(int fd, const char *name, char hex[TP_SHA256_HEX], uint64_t *size, tp_error *err)
{
    tp_sha256 h;
    tp_sha256_init(&h);
    unsigned char buf[65536];
    uint64_t total = 0;
    ssize_t n;
    while ((n = pread(fd, buf, sizeof buf, (off_t)total)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return tp_error_set(err, TP_EIO, "%s: cannot read: %s", name, strerror(errno));
        tp_sha256_update(&h, buf, (size_t)n);
        total += (uint64_t)n;
    }
    if (size)
        *size = total;
    return tp_sha256_final_hex(&h, hex, err);
}

int tp_sha256_file(const char *path, char hex[TP_SHA256_HEX], uint64_t *size, tp_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tp_error_set(err, errno == ENOENT ? TP_ENOTFOUND : TP_EIO, "%s: cannot open: %s",
                            path, strerror(errno));
    int rc = tp_sha256_fd(fd, path, hex, size, err);
    close(fd);
    return rc;
}
