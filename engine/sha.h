/* sha.h -- SHA-256 (libsodium) of byte streams and files, as lowercase hex.
 *
 * Raw report files and plugins are identified by their sha256; the fetch
 * stage hashes downloads as they stream, so nothing is read twice.
 */
#ifndef TP_SHA_H
#define TP_SHA_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define TP_SHA256_HEX 65 /* 64 hex digits and the NUL */

typedef struct tp_sha256 {
    crypto_hash_sha256_state st;
} tp_sha256;

void tp_sha256_init(tp_sha256 *h);
void tp_sha256_update(tp_sha256 *h, const void *data, size_t len);
void tp_sha256_final_hex(tp_sha256 *h, char hex[TP_SHA256_HEX]);

/* The sha256 and size of a file (size may be NULL).  TP_ENOTFOUND or
 * TP_EIO with err naming the file. */
int tp_sha256_file(const char *path, char hex[TP_SHA256_HEX], uint64_t *size, tp_error *err);

#endif
