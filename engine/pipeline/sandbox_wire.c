/* sandbox_wire.c -- frames between the engine and its plugin helpers; see
 * sandbox_int.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sandbox_int.h"

char *tp__sbx_reserve(tp_sbx_buf *b, size_t n)
{
    if (b->oom)
        return NULL;
    if (b->len + n > b->cap && b->fixed) {
        b->oom = 1;
        return NULL;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    b->len += n;
    return b->p + b->len - n;
}

void tp__sbx_put(tp_sbx_buf *b, const void *d, size_t n)
{
    char *w = tp__sbx_reserve(b, n);
    if (w && n)
        memcpy(w, d, n);
}

void tp__sbx_u32(tp_sbx_buf *b, uint32_t v)
{
    tp__sbx_put(b, &v, sizeof v);
}

void tp__sbx_u64(tp_sbx_buf *b, uint64_t v)
{
    tp__sbx_put(b, &v, sizeof v);
}

void tp__sbx_str(tp_sbx_buf *b, const char *s, size_t n)
{
    tp__sbx_u32(b, (uint32_t)n);
    tp__sbx_put(b, s, n);
}

size_t tp__sbx_begin(tp_sbx_buf *b, int kind)
{
    size_t at = b->len;
    unsigned char hdr[TP_SBX_HDR] = {0, 0, 0, 0, (unsigned char)kind, 0, 0, 0};
    tp__sbx_put(b, hdr, sizeof hdr);
    return at;
}

void tp__sbx_end(tp_sbx_buf *b, size_t at)
{
    if (b->oom)
        return;
    uint32_t len = (uint32_t)(b->len - at - TP_SBX_HDR);
    memcpy(b->p + at, &len, sizeof len);
}

const char *tp__sbx_get_bytes(tp_sbx_rd *r, size_t n)
{
    if (r->bad || n > r->left) {
        r->bad = 1;
        return NULL;
    }
    const char *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

uint32_t tp__sbx_get_u32(tp_sbx_rd *r)
{
    uint32_t v = 0;
    const char *p = tp__sbx_get_bytes(r, sizeof v);
    if (p)
        memcpy(&v, p, sizeof v);
    return v;
}

uint64_t tp__sbx_get_u64(tp_sbx_rd *r)
{
    uint64_t v = 0;
    const char *p = tp__sbx_get_bytes(r, sizeof v);
    if (p)
        memcpy(&v, p, sizeof v);
    return v;
}

size_t tp__sbx_get_str(tp_sbx_rd *r, char *out, size_t cap)
{
    uint32_t n = tp__sbx_get_u32(r);
    const char *p = tp__sbx_get_bytes(r, n);
    size_t k = p ? (n < cap - 1 ? n : cap - 1) : 0;
    if (k)
        memcpy(out, p, k);
    out[k] = '\0';
    return k;
}

int tp__sbx_write_fds(int fd, const void *p, size_t n, const int *fds, int nfds)
{
    const char *c = p;
    while (n > 0) {
        struct iovec iov = {(void *)c, n};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
        union {
            char buf[CMSG_SPACE(4 * sizeof(int))];
            struct cmsghdr align;
        } u;
        if (nfds > 0) {
            memset(&u, 0, sizeof u);
            m.msg_control = u.buf;
            m.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
            struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
            memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
        }
        ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
        nfds = 0; /* the descriptors went with the first bytes */
    }
    return 0;
}

int tp__sbx_write(int fd, const void *p, size_t n)
{
    return tp__sbx_write_fds(fd, p, n, NULL, 0);
}

/* Keep what fits in fds, close the rest. */
static void take_fds(struct msghdr *m, int *fds, int *nfds, int *got)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int f;
            memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof f);
            if (fds && *got < *nfds)
                fds[(*got)++] = f;
            else
                close(f);
        }
    }
}

int tp__sbx_read(int fd, void *p, size_t n, int *fds, int *nfds)
{
    char *c = p;
    int got = 0;
    size_t done = 0;
    while (done < n) {
        struct iovec iov = {c + done, n - done};
        union {
            char buf[CMSG_SPACE(4 * sizeof(int))];
            struct cmsghdr align;
        } u;
        struct msghdr m = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
        ssize_t r = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        take_fds(&m, fds, nfds, &got);
        if (r == 0)
            return done == 0 ? 0 : -1;
        done += (size_t)r;
    }
    if (nfds)
        *nfds = got;
    return 1;
}
