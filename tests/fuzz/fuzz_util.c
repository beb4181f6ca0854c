/* fuzz_util.c -- see fuzz.h. */
#include "fuzz.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

uint8_t tp_fuzz_byte(tp_fuzz_in *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

int tp_fuzz_line(tp_fuzz_in *in, char *buf, size_t cap)
{
    if (in->n == 0)
        return 0;
    const uint8_t *nl = memchr(in->p, '\n', in->n);
    size_t len = nl ? (size_t)(nl - in->p) : in->n;
    size_t k = len < cap - 1 ? len : cap - 1;
    memcpy(buf, in->p, k);
    buf[k] = '\0';
    size_t used = nl ? len + 1 : len;
    in->p += used;
    in->n -= used;
    return 1;
}

int tp_fuzz_piece(tp_fuzz_in *in, const char *sep, const uint8_t **piece, size_t *len)
{
    if (in->n == 0)
        return 0;
    size_t sl = strlen(sep);
    const uint8_t *at = sl ? memmem(in->p, in->n, sep, sl) : NULL;
    *piece = in->p;
    *len = at ? (size_t)(at - in->p) : in->n;
    size_t used = at ? *len + sl : *len;
    in->p += used;
    in->n -= used;
    return 1;
}

int tp_fuzz_memfd(const void *data, size_t len)
{
    int fd = memfd_create("tp-fuzz", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    const char *p = data;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, p + off, len - off);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int tp_fuzz_memfd_set(int fd, const void *data, size_t len)
{
    const char *p = data;
    for (size_t off = 0; off < len;) {
        ssize_t w = pwrite(fd, p + off, len - off, (off_t)off);
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return ftruncate(fd, (off_t)len);
}

uint64_t tp_fuzz_hash(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}
