/* sha.c -- see sha.h. */
#include "sha.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

void tp_sha256_init(tp_sha256 *h)
{
    crypto_hash_sha256_init(&h->st);
}

void tp_sha256_update(tp_sha256 *h, const void *data, size_t len)
{
    crypto_hash_sha256_update(&h->st, data, (unsigned long long)len);
}

void tp_sha256_final_hex(tp_sha256 *h, char hex[TP_SHA256_HEX])
{
    unsigned char out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&h->st, out);
    sodium_bin2hex(hex, TP_SHA256_HEX, out, sizeof out);
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
    if (n < 0)
        return tp_error_set(err, TP_EIO, "%s: cannot read: %s", path, strerror(saved));
    tp_sha256_final_hex(&h, hex);
    if (size)
        *size = total;
    return TP_OK;
}
