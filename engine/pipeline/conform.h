/* conform.h -- the conformance kit behind `tillpipe plugin test`: one
 * plugin's descriptor driven directly by a host of the kit's own, so that an
 * integrator sees that the plugin keeps the SDK's contract (sdk.h) before
 * tillpipe runs it on real files.
 *
 * Per report type -- the one asked for, else every type the plugin declares
 * (with cases: the first one, as tests/plugins/cases reads them) -- it runs
 * these checks, each in a fork()ed child, so that a plugin that crashes,
 * exits or stops making progress fails that one check instead of the kit
 * (the plugin is loaded only in children: first one that reads its
 * descriptor, then each check's own):
 *
 *   case NAME   a case folder: input.csv, and optionally expected.jsonl,
 *               error, branch, options.json (the layout of
 *               tests/plugins/cases/README.md).  input.csv is parsed at
 *               every chunk size from 1 byte to its size (past
 *               TP_CONFORM_EVERY_SIZE bytes: 1..64, the powers of two and
 *               the whole input); every parse must print the same rows,
 *               problems and result, and that output must be expected.jsonl
 *               and the failure, when there is one, the message in `error`.
 *   smoke NAME  without cases: built-in inputs for the type (a header and
 *               rows; empty; no final newline; CRLF; a quoted field holding
 *               the delimiter and a newline) at every chunk size: no crash,
 *               the same output at every chunking.
 *   stop        when emit refuses a row (returns < 0) the plugin emits no
 *               more and returns TP_PLUGIN_ESTOP.
 *   memory      TP_CONFORM_MEMORY_INPUT bytes of generated rows (a case's
 *               input, or the built-in rows, repeated in memory, never
 *               written to disk): the child's peak RSS (VmHWM) may grow by
 *               at most TP_CONFORM_MEMORY_LIMIT.
 *
 * Every parse also checks that each row has the type's field count
 * (core/schema.h), that rows are emitted only during feed and finish, and
 * that problems, options and logs are asked for only during open, feed and
 * finish.  Close is called once after every open that succeeded, never after
 * one that failed; every chunk is fed from an allocation of its own, freed
 * when feed returns (a plugin that keeps a pointer into it is caught under
 * AddressSanitizer).
 *
 * The kit writes one line per check to opts->out -- "ok   TYPE CHECK: what
 * was seen" or "FAIL TYPE CHECK: why" -- and a summary line.
 */
#ifndef TP_CONFORM_H
#define TP_CONFORM_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"

#define TP_CONFORM_TIMEOUT 30                         /* s without progress: killed */
#define TP_CONFORM_MEMORY_INPUT (200LL * 1000 * 1000) /* bytes fed by the memory check */
#define TP_CONFORM_MEMORY_LIMIT (64LL << 20)          /* peak RSS growth allowed */
#define TP_CONFORM_EVERY_SIZE 4096                    /* inputs up to this size: every chunk size */
#define TP_CONFORM_MAX_INPUT (16 << 20)               /* largest case input.csv */

typedef struct tp_conform_opts {
    const char *type;       /* only this report type; NULL = the plugin's */
    const char *cases_dir;  /* case folders (see tp_conform_run); NULL = smoke */
    unsigned timeout_s;     /* a check making no progress this long is killed;
                               0 = TP_CONFORM_TIMEOUT */
    long long memory_input; /* bytes the memory check feeds; 0 = default,
                               < 0 = no memory check */
    long long memory_limit; /* peak RSS growth allowed; 0 = default */
    FILE *out;              /* the report; NULL = stdout */
} tp_conform_opts;

typedef struct tp_conform_result {
    unsigned checks; /* checks run */
    unsigned failed; /* of which failed */
} tp_conform_result;

/* Run the kit on the plugin file `path`.  opts->cases_dir is one case
 * folder (it holds input.csv), or a folder whose subfolder named after the
 * plugin holds the cases (tests/plugins/cases), or a folder of case
 * folders.  Returns 0 when the checks ran (res says how many failed), or < 0
 * with err set when they could not: the plugin does not load, or crashes,
 * exits or hangs while it loads (TP_EPLUGIN),
 * does not parse opts->type (TP_EINVAL), the cases folder cannot be read or
 * holds no case (TP_ENOTFOUND), out of memory.  `opts` and `res` may be
 * NULL.  The caller must be single-threaded: each check runs in a fork()ed
 * child. */
int tp_conform_run(const char *path, const tp_conform_opts *opts, tp_conform_result *res,
                   tp_error *err);

#endif
