/* sandbox_int.h -- the wire between the engine and a plugin helper.
 *
 * A stream socket carries frames: a header { u32 payload length, u8 kind,
 * 3 zero bytes } and the payload, integers little-endian as the machine
 * writes them (both ends are the same binary).  Requests that hand over
 * descriptors (the plugin's file, the report) carry them as SCM_RIGHTS with
 * the header.  Everything read from a helper is checked: a helper runs
 * plugin code and may send anything.
 *
 *   engine -> helper
 *     PARSE     i32 type, u64 chunk, str sha256, str name,
 *               str version, str file name, u64 fields mask, u32 key field,
 *               u32 nkeys, nkeys x str key, u32 all options given (0/1),
 *               u32 nopts, nopts x (str key, str value); fds: report, plugin
 *     DESCRIBE  str sha256, str path; fd: plugin
 *     CONFIG_REPLY  u8 present, str value
 *   helper -> engine
 *     ROWS      rows: u64 line, u32 n, n x u32 length, then the n fields' bytes
 *     PROBLEM   u64 line, i32 severity, str reason
 *     LOG       i32 level, str message
 *     CONFIG    str key (the helper then waits for CONFIG_REPLY)
 *     TICK      (nothing: alive, working through a file with no rows yet)
 *     DONE      i32 rc, u64 bytes, rows, warnings, rejected, str message
 *     DESC      str JSON of the descriptor, or {"error": message}
 *     BATCH     u32 slot, u32 length: the frames above, in shared memory
 * A str is u32 length and bytes (no NUL).
 *
 * Rows cross in shared memory: each helper has two slots of
 * TP_SBX_SLOT bytes (a memfd, fd 4 in the helper) that it fills with frames
 * in turn, handing each over with a BATCH frame on the socket; the engine
 * handles the frames where they lie and answers FREE (u32 slot) when the
 * slot may be filled again.  No row is copied through the kernel, and a
 * socket message moves a slot's worth of rows.  The engine checks every
 * length it reads there, once, like anything else from a helper.
 */
#ifndef TP_SANDBOX_INT_H
#define TP_SANDBOX_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <tillpipe/sdk.h>

enum {
    TP_SBX_PARSE = 1,
    TP_SBX_DESCRIBE,
    TP_SBX_CONFIG_REPLY,
    TP_SBX_FREE,
    TP_SBX_ROWS = 16,
    TP_SBX_PROBLEM,
    TP_SBX_LOG,
    TP_SBX_CONFIG,
    TP_SBX_TICK,
    TP_SBX_DONE,
    TP_SBX_DESC,
    TP_SBX_BATCH
};

#define TP_SBX_HDR 8
#define TP_SBX_FRAME_MAX (8u << 20) /* a frame's payload, at most */
#define TP_SBX_FIELDS_MAX 64        /* fields of one row, at most */
#define TP_SBX_SLOT (1u << 20)      /* a shared-memory slot; a row is smaller */
#define TP_SBX_SHM_FD 4             /* where a helper finds its slots */

/* An output buffer of frames. */
typedef struct tp_sbx_buf {
    char *p;
    size_t len, cap;
    int oom;
    int fixed; /* p is a shared-memory slot: never reallocated */
} tp_sbx_buf;

void tp__sbx_put(tp_sbx_buf *b, const void *d, size_t n);
/* Room for n more bytes, counted as written: where to write them (NULL
 * when out of memory). */
char *tp__sbx_reserve(tp_sbx_buf *b, size_t n);
void tp__sbx_u32(tp_sbx_buf *b, uint32_t v);
void tp__sbx_u64(tp_sbx_buf *b, uint64_t v);
void tp__sbx_str(tp_sbx_buf *b, const char *s, size_t n);
/* Start a frame of `kind`; returns where it starts, for tp__sbx_end. */
size_t tp__sbx_begin(tp_sbx_buf *b, int kind);
void tp__sbx_end(tp_sbx_buf *b, size_t at);

/* Reading a payload: every get fails (bad = 1) rather than read past it. */
typedef struct tp_sbx_rd {
    const char *p;
    size_t left;
    int bad;
} tp_sbx_rd;

uint32_t tp__sbx_get_u32(tp_sbx_rd *r);
uint64_t tp__sbx_get_u64(tp_sbx_rd *r);
const char *tp__sbx_get_bytes(tp_sbx_rd *r, size_t n);
/* A str into `out` (NUL-terminated, cut to cap); returns its length. */
size_t tp__sbx_get_str(tp_sbx_rd *r, char *out, size_t cap);

/* Write all of it (no SIGPIPE); 0 or -1. */
int tp__sbx_write(int fd, const void *p, size_t n);
/* Write all of it with `nfds` descriptors attached; 0 or -1. */
int tp__sbx_write_fds(int fd, const void *p, size_t n, const int *fds, int nfds);
/* Read exactly n bytes; 1, 0 at a clean end of stream, -1. Descriptors that
 * come with them land in fds (up to *nfds, updated; others closed). */
int tp__sbx_read(int fd, void *p, size_t n, int *fds, int *nfds);

/* A descriptor as JSON (the helper's answer to DESCRIBE), and back: a copy
 * with the callbacks NULL, freed with tp__desc_copy_free. */
json_t *tp__desc_to_json(const tp_plugin_desc *d);
tp_plugin_desc *tp__desc_from_json(const json_t *o);

#endif
