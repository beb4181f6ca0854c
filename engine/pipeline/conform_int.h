/* conform_int.h -- what the conformance kit's runner (conform.c: the plan,
 * the forks, the watchdog, the report) and its checks (conform_check.c: the
 * host and the parses, run in the forked child) share.  Private to
 * engine/pipeline. */
#ifndef TP_CONFORM_INT_H
#define TP_CONFORM_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "conform.h"
#include "core/config.h"
#include "core/schema.h"
#include "plugin.h"

enum { TP__CHECK_CASE, TP__CHECK_SMOKE, TP__CHECK_STOP, TP__CHECK_MEMORY };

/* Which plugin callback the child is in (for messages and the host's
 * rules). */
enum { TP__CALL_NONE, TP__CALL_OPEN, TP__CALL_FEED, TP__CALL_FINISH, TP__CALL_CLOSE };

/* What the plugin's descriptor says, as a child that loaded it reports it:
 * the runner never loads the plugin itself, so none of its code (its
 * constructors, its entry function) runs in the kit's own process. */
typedef struct tp__kit_desc {
    char name[128], version[64], sha256[65];
    unsigned abi_major, abi_minor;
    int types[TP_TYPE_COUNT]; /* tp_report_type, in the descriptor's order */
    size_t ntypes;
} tp__kit_desc;

/* The child's report to the runner, in a shared anonymous mapping: the
 * counters are read while the child runs (the watchdog), the outcome once it
 * has been reaped. */
typedef struct tp__kit_shared {
    atomic_uint_fast64_t progress; /* bumped by every callback and host call */
    atomic_int call;               /* TP__CALL_* under way */
    atomic_size_t chunk;           /* chunk size of the parse under way */
    atomic_size_t len;             /* input size of the parse under way */
    atomic_uint_fast64_t fed;      /* memory check: bytes fed so far */
    int done;                      /* the child finished the check */
    int failed;                    /* ... and it failed */
    int code;                      /* the load step: TP_E* of a refusal */
    char msg[1536];                /* ": what was seen" or " at chunk size N: why" */
    char breach[400];              /* the first rule broken, as soon as it was */
    tp__kit_desc desc;             /* the load step: the descriptor */
} tp__kit_shared;

typedef struct tp__kit_case {
    char *name; /* the folder's name */
    char *dir;  /* its path */
} tp__kit_case;

/* One run of the kit: read-only in the children. */
typedef struct tp__kit {
    const char *path;        /* the plugin file */
    tp__kit_desc desc;       /* its descriptor, from the load step */
    const tp_plugin *plugin; /* loaded: in a check's child only */
    unsigned timeout_s;
    long long memory_input, memory_limit; /* resolved: > 0 */
    tp__kit_case *cases;                  /* sorted by name; NULL = smoke */
    size_t ncases;
    tp__kit_shared *sh;
} tp__kit;

typedef struct tp__kit_check {
    int kind;                /* TP__CHECK_* */
    const tp_schema *schema; /* the report type */
    size_t index;            /* the case or smoke input */
} tp__kit_check;

/* Run check `c` in this (forked) process; the outcome into k->sh. */
void tp__kit_check_run(const tp__kit *k, const tp__kit_check *c);

/* ------------------------------------------------------------ the host
 * (conform_host.c): a host table of the kit's own that holds the plugin to
 * every rule of sdk.h it can see while one parse runs. */

/* "open", "feed", ... for TP__CALL_*; "between calls" for none. */
const char *tp__kit_call_name(int call);

/* What tp_host points to while the kit drives a plugin. */
typedef struct tp__kit_host {
    const tp_schema *schema;
    tp__kit_shared *sh;
    const char *(*get)(void *ud, const char *key); /* parser options, or NULL */
    void *get_ud;
    FILE *out;    /* rows and problems as `tillpipe parse` prints them; NULL: counted */
    int call;     /* TP__CALL_* under way */
    uint64_t fed; /* input bytes fed so far */
    uint64_t rows, problems;
    uint64_t refuse_row; /* the stop check: emit refuses this row (1-based); 0 = never */
    int refused;         /* emit refused a row in the call under way */
    int refusal_seen;    /* that call has returned: */
    int refusal_rc, refusal_call;
    uint64_t after_refusal; /* rows offered after the refusal */
    char breach[400];       /* the first rule the plugin broke, or "" */
    char last_error[256];   /* the last error problem: failures are worded with it */
    uint64_t last_error_line;
} tp__kit_host;

/* A host for one parse of type `s`; parser options from get(ud, key), or
 * none when get is NULL. */
void tp__kit_host_init(tp__kit_host *h, tp__kit_shared *sh, const tp_schema *s,
                       const char *(*get)(void *ud, const char *key), void *ud);

/* Where the bytes come from: next() gives the next chunk (valid until the
 * next call) and its size, NULL at the end -- or with `halt` set, to stop
 * without finish (the kit is out of memory, the memory check is over its
 * limit). */
typedef struct tp__kit_source {
    const char *(*next)(struct tp__kit_source *s, size_t *n);
    int halt;
} tp__kit_source;

/* A buffer fed `chunk` bytes at a time, each chunk from an allocation of its
 * own, freed as soon as feed has returned: a plugin that keeps a pointer into
 * one reads freed memory, which AddressSanitizer reports. */
typedef struct tp__kit_slice {
    tp__kit_source base;
    const char *data;
    size_t len, at, chunk;
    char *copy;
} tp__kit_slice;

/* The next chunk of a tp__kit_slice (its `base.next`). */
const char *tp__kit_slice_next(tp__kit_source *s, size_t *n);

/* One parse: open; feed every chunk of `src`; finish; close -- close after
 * every open that succeeded and no other, feed and finish only while the
 * plugin returns TP_PLUGIN_OK and emit has refused nothing.  Returns the
 * plugin's result. */
int tp__kit_drive(tp__kit_host *h, const tp_plugin_desc *d, tp__kit_source *src);

/* The failure as `tillpipe parse` words it (parse.c), the input named
 * input.csv; "ok" for success. */
void tp__kit_result(const tp__kit_host *h, const char *plugin, int rc, char *buf, size_t n);

/* ------------------------------------------------------------ inputs
 * (conform_input.c): case folders and the built-in smoke inputs. */

/* Parser options: a branch's, for the type; none when cfg is NULL. */
typedef struct tp__kit_opts {
    tp_config *cfg;
    tp_branch_type bt;
} tp__kit_opts;

/* One input to parse: a case's files, or a smoke input. */
typedef struct tp__kit_input {
    char *data; /* input.csv */
    size_t len;
    char *expected; /* expected.jsonl, or NULL */
    size_t expected_len;
    char *error;  /* the failure `error` names, or NULL */
    char *branch; /* the branch file, or NULL */
    tp__kit_opts opts;
} tp__kit_input;

void tp__kit_input_free(tp__kit_input *in);

/* A case folder into *in, with its options (options.json; else a branch
 * file's options in the built-in configuration), parsed as type `s`.  0, or
 * -1 with why set (": what is wrong"). */
int tp__kit_case_load(const tp__kit *k, const tp__kit_case *c, const tp_schema *s,
                      tp__kit_input *in, char *why, size_t whyn);

/* The built-in smoke inputs: how many, and the name of the i-th. */
size_t tp__kit_smoke_count(void);
const char *tp__kit_smoke_name(size_t i);

/* The smoke inputs, in the order they run. */
enum {
    TP__SMOKE_ROWS,
    TP__SMOKE_EMPTY,
    TP__SMOKE_NO_FINAL_NEWLINE,
    TP__SMOKE_CRLF,
    TP__SMOKE_QUOTED,
    TP__SMOKE_COUNT
};

/* Smoke input `which` (TP__SMOKE_*) for type `s` into in->data.  0, or -1
 * (out of memory). */
int tp__kit_smoke_load(const tp_schema *s, size_t which, tp__kit_input *in);

#endif
