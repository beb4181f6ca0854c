/* sandbox.h -- parser plugins run in helper processes.
 *
 * A plugin is code an integrator wrote for one branch; it must not be able
 * to take the engine down.  A tp_sandbox keeps a small pool of helper
 * processes (the tillpipe binary run as `tillpipe __plugin-host`, a fresh
 * process with one thread).  Each helper:
 *   - dies with the thread that started it (PR_SET_PDEATHSIG),
 *   - has an address-space limit (RLIMIT_AS, memory_mb) and, per file, a
 *     CPU-time limit (RLIMIT_CPU) that scales with the file's size,
 *   - runs under a seccomp filter installed before any plugin loads: no
 *     exec, no fork, no sockets, no signals to others, no file opened for
 *     writing, created, renamed or removed,
 *   - loads each plugin from the descriptor the engine opened and hashed
 *     (passed over the socket), once, and keeps it for later files.
 * A parse sends the helper the report's descriptor and streams back rows in
 * batches (one write per ~128 KiB of fields), problems and a final result:
 * the same tp_parse_stream the engine would run, at the other end of a
 * socket, so results are identical byte for byte.  The engine side watches
 * the helper: a crash, an exit, no output for progress_seconds, the file's
 * deadline, memory over the limit, or a cancel from the caller ends that
 * parse with TP_ECRASHED (a message naming the plugin, its version and
 * sha256, the file and what happened) or the caller's code, kills the
 * helper at once and starts a fresh one for the next parse.  Other parses,
 * other helpers and the engine go on.
 */
#ifndef TP_SANDBOX_H
#define TP_SANDBOX_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "parse.h"
#include "plugin.h"

typedef struct tp_sandbox_opts {
    const char *exe;            /* the tillpipe binary helpers run; NULL = this one */
    unsigned memory_mb;         /* address space per helper; 0 = 1024 */
    unsigned progress_s;        /* no output for this long kills a parse; 0 = 30 */
    unsigned deadline_s;        /* a file's wall-clock (and CPU) budget: this, */
    unsigned deadline_s_per_mb; /* plus this per MB of the file; 0, 0 = 60, 1 */
    unsigned helpers;           /* at most this many helpers at once; 0 = 4 */
} tp_sandbox_opts;

#define TP_SANDBOX_MEMORY_MB 1024
#define TP_SANDBOX_PROGRESS_S 30

/* A sandbox with no helper started yet (they start on first use), or NULL
 * with err set. */
tp_sandbox *tp_sandbox_create(const tp_sandbox_opts *o, tp_error *err);

/* Stop every helper (no parse may be running) and free. NULL is a no-op. */
void tp_sandbox_destroy(tp_sandbox *sb);

/* Helpers started before now end when next idle: a plugin set was replaced,
 * and the plugins it loaded into them go with them. */
void tp_sandbox_recycle(tp_sandbox *sb);

/* The limits in force. */
const tp_sandbox_opts *tp_sandbox_limits(const tp_sandbox *sb);

/* Load plugin `p` (p->fd, p->path, p->sha256 set) in a helper and run the
 * SDK's checks there; on success p->desc is a copy without callbacks. */
int tp_sandbox_describe(tp_sandbox *sb, tp_plugin *p, tp_plugin_claims *claims, tp_error *err);

/* Parse descriptor `fd` (read from its current offset to its end) as report
 * `type` with sandboxed plugin `p`; the contract of tp_parse_stream. */
int tp_sandbox_parse(tp_sandbox *sb, const tp_plugin *p, tp_report_type type, int fd,
                     const char *name, const tp_parse_options *opts, const tp_parse_sink *sink,
                     tp_parse_stats *stats, tp_error *err);

/* Parses that ended with TP_ECRASHED since the sandbox was made. */
uint64_t tp_sandbox_failures(const tp_sandbox *sb);

/* A helper's life: `tillpipe __plugin-host` calls this with its socket (fd
 * 3).  Returns the process's exit status. */
int tp_sandbox_helper_main(int sock);

/* The descriptor copy a sandboxed plugin keeps (plugin.c frees it). */
void tp__desc_copy_free(void *copy);

#endif
