/* gen.h -- a deterministic generator of realistic POS report folders, for
 * the tests, the benchmarks and the demo.
 *
 * A tool of the tests, not of the engine: the static library tillpipe_gen
 * (tests/gen), linked by the tillpipe binary for `tillpipe gen` only and by
 * the tests.  Of the engine it uses only the error type (error.h).
 *
 * tp_gen_run() writes, for every branch, terminal and business day, the seven
 * end-of-day report files the branches send
 * (a_<BRANCH>_<POS>_<type>_<YYYY-MM-DD>_<HH-MM>_.csv; see
 * shared/docs/pos-reports.md) with the headers, column counts and quirks of
 * the real files: classic-POS branches (BMC, MAGS, ...) and the newer-POS
 * layout for BETA, BPAG, BGRAN and BTAB.  The files join the way real ones
 * do (rd5000 item, department, discount codes are in the reference files;
 * rd5800 payments share TRANSNO with rd5000 and PAYCODE with rd5900; the
 * cumulative loyalty file grows day by day and references the day's
 * receipts).  With `faults` on, a few percent of terminal-days get re-sent
 * duplicates (19-59 and 20-00, one of them partial), missing reference files,
 * bad rd5000 rows (bad TIME, previous-day DATE, non-numeric QUANTITY) and
 * short rd5800 rows; every file stays parseable CSV.
 *
 * Everything is a pure function of the options: the same options give
 * byte-identical folders.  Files are streamed through a fixed buffer (memory
 * does not grow with file size), written under a temporary name in the output
 * folder and renamed into place when complete.
 */
#ifndef TP_GEN_H
#define TP_GEN_H

#include "core/error.h"

typedef struct tp_gen_opts {
    int branches;  /* number of branches, 1..200 */
    int terminals; /* terminals per branch, 1..2 (default 2) */
    int days;      /* consecutive business days, 1..3660 */
    unsigned long long seed;
    const char *start_date; /* "YYYY-MM-DD", NULL = "2025-01-01"; borrowed */
    const char
        *out_dir; /* created if missing (one level); files written directly into it; borrowed */
    int faults;   /* 1 = inject re-sent duplicates, missing reference files, bad rows */
    int orders_per_day;  /* 0 = varied realistic volume (dozens to ~1,500 order lines/day);
                            N = exactly N order lines per terminal-day (1..20000) */
    long long blpr_rows; /* rows of the cumulative loyalty file on day 1; 0 = default ~12000,
                            grows daily toward ~25000 (0..5000000) */
} tp_gen_opts;

typedef struct tp_gen_stats {
    long long files;         /* report files written, re-sent duplicates included */
    long long bytes;         /* their total size */
    long long order_lines;   /* rd5000 data rows, one (the full) export per terminal-day */
    long long terminal_days; /* branches x terminals x days */
} tp_gen_stats;

/* Defaults: 1 branch, 2 terminals, 1 day, seed 1, start 2025-01-01, faults
 * on, varied volume, default loyalty size; out_dir NULL (must be set). */
void tp_gen_opts_init(tp_gen_opts *o);

/* Generate the folder described by `o`.  Returns 0, or a negative TP_E* with
 * err set: TP_EINVAL for bad options (out of range, bad date, no out_dir),
 * TP_EIO when the folder cannot be created or a file cannot be written (the
 * files completed before the failure stay; no temporary file is left),
 * TP_ENOMEM.  `stats` (may be NULL) receives the totals, also on failure. */
int tp_gen_run(const tp_gen_opts *o, tp_gen_stats *stats, tp_error *err);

/* Write one classic-POS rd5000 file of about `bytes` bytes (at least `bytes`,
 * at most one row more; the header alone when `bytes` is smaller) at `path`,
 * all rows dated 2025-01-01, for benchmarks.  Streamed in constant memory,
 * written to "<path>.tmp" and renamed.  Returns 0, TP_EINVAL (bytes < 1 or
 * over 1 TiB, no path), TP_EIO or TP_ENOMEM. */
int tp_gen_big_rd5000(const char *path, long long bytes, unsigned long long seed, tp_error *err);

#endif
