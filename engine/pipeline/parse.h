/* parse.h -- running one plugin over one report file (the host side of the
 * SDK).
 *
 * The file is read in fixed-size chunks and fed to the plugin; every row the
 * plugin emits is checked against the type's layout (field count) and handed
 * to the caller's sink; problems the plugin reports go to the sink too.  The
 * plugin sees only the host function table and an opaque handle for the
 * duration of each call, so this stage can later move into a child process
 * without changing plugins.
 */
#ifndef TP_PARSE_H
#define TP_PARSE_H

#include <stdint.h>
#include <stdio.h>
#include <tillpipe/sdk.h>

#include "core/error.h"
#include "core/schema.h"
#include "plugin.h"

typedef struct tp_parse_sink {
    /* A row in the type's layout; return < 0 to stop the parse (the parse
     * then fails with TP_ESTOP unless err was set by the sink). */
    int (*row)(void *ud, uint64_t line, const tp_field *fields, size_t n);
    /* A problem with the input; `severity` is TP_PROBLEM_*. */
    void (*problem)(void *ud, uint64_t line, int severity, const char *reason);
    void *ud;
} tp_parse_sink;

/* Parser options for one (branch, type) -- a borrowed lookup -- and how the
 * host drives the parse.  Zeroed members take their defaults, so
 * `{lookup, ud}` is a whole value. */
typedef struct tp_parse_options {
    const char *(*get)(void *ud, const char *key);
    void *ud;
    /* Every option: the i-th key (and *value), NULL past the last.  When
     * set, a sandboxed parse hands the helper all of them at once, so the
     * plugin's questions are answered without a round trip; NULL: each
     * question crosses to `get`. */
    const char *(*at)(void *ud, size_t i, const char **value);
    size_t chunk_size; /* bytes per feed call; 0 = TP_PARSE_CHUNK */
    /* Polled while the parse runs (between chunks, and at least every
     * TP_PARSE_POLL_MS in a sandboxed parse): nonzero stops it at once with
     * that TP_E* code (TP_ECANCELLED, TP_ELOST, TP_ESTOP).  NULL = never. */
    int (*cancelled)(void *ud);
    void *cancel_ud;
    /* Hints from the sink: it reads only these fields (bit i = field i;
     * 0 = all), and it wants only rows whose field `key` is one of `keys`
     * (keys NULL = every row).  A sandboxed parse applies them in the
     * helper, so what is not wanted never crosses the process boundary;
     * in-process they cost nothing and change nothing.  Rows are counted
     * either way, and a sink still checks what it gets. */
    uint64_t fields;
    int key;
    const tp_field *keys;
    size_t nkeys;
} tp_parse_options;

#define TP_PARSE_CHUNK (256 * 1024) /* default bytes per feed call */

typedef struct tp_parse_stats {
    uint64_t bytes;    /* input bytes fed */
    uint64_t rows;     /* rows emitted */
    uint64_t warnings; /* problems of severity warning */
    uint64_t rejected; /* problems of severity error (rows not emitted) */
} tp_parse_stats;

/* Parse the open stream `in` (read to its end, not closed) as report `type`
 * with plugin `p`.  `name` names the input in messages.  Returns 0, or < 0
 * with err set when the plugin failed (bad input it could not continue past,
 * out of memory) or reading failed. */
int tp_parse_stream(const tp_plugin *p, tp_report_type type, FILE *in, const char *name,
                    const tp_parse_options *opts, const tp_parse_sink *sink, tp_parse_stats *stats,
                    tp_error *err);

/* The same for a path. */
int tp_parse_file(const tp_plugin *p, tp_report_type type, const char *path,
                  const tp_parse_options *opts, const tp_parse_sink *sink, tp_parse_stats *stats,
                  tp_error *err);

#endif
