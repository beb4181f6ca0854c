/* fuzz.h -- what the libFuzzer harnesses share (tests/fuzz/fuzz_*.c).
 *
 * Each harness defines the two libFuzzer entry points below.  Built with
 * -DTP_FUZZ=ON they are driven by libFuzzer; otherwise replay.c calls them
 * on the files it is given (seeds and crash cases), so the same code runs
 * in the gcc and sanitizer builds.  A harness checks behaviour, not only
 * the absence of crashes: a broken promise aborts through TP_FUZZ_CHECK.
 */
#ifndef TP_FUZZ_H
#define TP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort (a crash libFuzzer keeps) when `cond` is false. */
#define TP_FUZZ_CHECK(cond)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A reader over the input: bytes taken from the front as choices. */
typedef struct tp_fuzz_in {
    const uint8_t *p;
    size_t n;
} tp_fuzz_in;

/* The next byte (0 when the input is used up). */
uint8_t tp_fuzz_byte(tp_fuzz_in *in);

/* The next line without its '\n' (NUL-terminated copy into buf, cut to
 * cap - 1 bytes); 0 when the input is used up. */
int tp_fuzz_line(tp_fuzz_in *in, char *buf, size_t cap);

/* The next piece up to the separator `sep` (or the end): *piece and *len
 * point into the input; 0 when the input is used up. */
int tp_fuzz_piece(tp_fuzz_in *in, const char *sep, const uint8_t **piece, size_t *len);

/* A memory file holding `len` bytes, positioned at 0: its descriptor
 * (close it), or -1.  "/proc/self/fd/N" opens it by name. */
int tp_fuzz_memfd(const void *data, size_t len);

/* Make the memory file `fd` hold exactly `len` bytes (its offset is left
 * alone: name it, or pread): 0, or -1.  Reusing one file per input spares
 * the creating and closing. */
int tp_fuzz_memfd_set(int fd, const void *data, size_t len);

/* 64-bit FNV-1a, to compare two runs' outputs without keeping them. */
uint64_t tp_fuzz_hash(uint64_t h, const void *p, size_t n);
#define TP_FUZZ_HASH_INIT 1469598103934665603ull

#endif
