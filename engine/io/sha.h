/* sha.h -- SHA-256 of byte streams and files, as lowercase hex.
 *
 * Raw report files and plugins are identified by their sha256; the fetch
 * stage hashes downloads as they stream, so nothing is read twice.  Every
 * byte of every report goes through here: nettle's sha256 uses the CPU's
 * SHA extensions where it has them (~1.4 GB/s on the benchmark machine,
 * against ~380 MB/s for portable C).  tests/io/test_io.c checks it against
 * known answers and libsodium's digest.
 */
#ifndef TP_SHA_H
#define TP_SHA_H

#include <nettle/sha2.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define TP_SHA256_HEX 65 /* 64 hex digits and the NUL */

/* A digest in progress: tp_sha256_init it, feed it with tp_sha256_update,
 * end it with tp_sha256_final_hex, or abandon what it was fed with
 * tp_sha256_clear (it is then a fresh digest).  It holds no resources: a
 * digest may also be dropped at any point. */
typedef struct tp_sha256 {
    struct sha256_ctx ctx;
} tp_sha256;

void tp_sha256_init(tp_sha256 *h);
void tp_sha256_update(tp_sha256 *h, const void *data, size_t len);
/* The digest as hex; the digest starts over.  Always TP_OK: nettle cannot
 * fail (err is never set). */
int tp_sha256_final_hex(tp_sha256 *h, char hex[TP_SHA256_HEX], tp_error *err);
void tp_sha256_clear(tp_sha256 *h);

/* The sha256 of a buffer (TP_OK). */
int tp_sha256_hex(const void *data, size_t len, char hex[TP_SHA256_HEX], tp_error *err);

/* The sha256 and size of what descriptor fd holds, from its start (pread:
 * its offset is left alone); `name` names it in messages.  TP_EIO. */
int tp_sha256_fd(int fd, const char *name, char hex[TP_SHA256_HEX], uint64_t *size, tp_error *err);

/* The sha256 and size of a file (size may be NULL).  TP_ENOTFOUND or
 * TP_EIO with err naming the file. */
int tp_sha256_file(const char *path, char hex[TP_SHA256_HEX], uint64_t *size, tp_error *err);

#endif
