/* hash.h -- FNV-1a, 64-bit: a fast non-cryptographic hash of strings for
 * in-memory tables (prepared statements, cached answers).  Never for
 * anything an attacker could exploit by collisions: users of it compare the
 * full key after a hash match. */
#ifndef TP_HASH_H
#define TP_HASH_H

#include <stdint.h>

#define TP_FNV1A_INIT 1469598103934665603ull

/* Continue hash `h` over the bytes of `s` (NUL-terminated; NULL adds nothing). */
static inline uint64_t tp_fnv1a(uint64_t h, const char *s)
{
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

#endif
