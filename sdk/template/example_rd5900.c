/* example_rd5900.c -- a copy-me tillpipe parser plugin.
 *
 * A working branch override for rd5900 (payment methods).  The generic rd5900
 * plugin reads PAY_CODE from column 0 and PAY_DESC from column 1.  The
 * (fictional) branch EXAMPLE runs a POS that writes the report like this:
 *
 *     TERM_ID,PAY_DESC,METHOD,PAY_CODE,MAX_AMOUNT
 *     1,CASH,0,="00001",0.000
 *
 * -- the name in column 1, the code in column 3 behind an Excel text guard.
 * This plugin reads that layout and emits rows in the SDK's layout for
 * rd5900 (TP_REF_CODE, TP_REF_NAME), like every other rd5900 parser.  Two
 * options from the branch configuration move the columns again:
 * "column.CODE" and "column.NAME" (0-based indexes), the same option names
 * the bundled plugins use.
 *
 * It includes only the SDK: <tillpipe/sdk.h> (the ABI) and <tillpipe/csv.h>
 * (the streaming CSV reader, compiled in here by TP_CSV_IMPLEMENTATION).
 * Build it with -fvisibility=hidden so that tp_plugin_entry is the only
 * symbol it exports (CMakeLists.txt next to this file does).  The whole
 * walk-through is docs/sdk.md in the tillpipe sources.
 *
 * To make your own plugin, follow the numbered steps:
 *
 *   STEP 1  pick a name, the report types and the branches   (search STEP 1)
 *   STEP 2  write the row mapping                            (search STEP 2)
 *   STEP 3  build                                            (CMakeLists.txt)
 *   STEP 4  test with `tillpipe plugin info` and `tillpipe parse`
 *                                                            (search STEP 4)
 */
#define TP_CSV_IMPLEMENTATION /* in exactly one .c file of the plugin */
#include <tillpipe/csv.h>
#include <tillpipe/sdk.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* This file was written against plugin ABI 1.x; a later major may have moved
 * fields, so refuse to compile rather than build a plugin the host refuses. */
#if TP_SDK_ABI_MAJOR != 1
#error "example_rd5900.c was written for tillpipe plugin ABI 1.x"
#endif

/* ===================================================================
 * STEP 1: pick a name, the report types and the branches.
 *
 * PLUGIN_NAME must be unique among the installed plugins (the loader refuses
 * a second plugin with the same name).  Use the same name for this file
 * (<name>.c) and for PLUGIN in CMakeLists.txt, which names the shared object
 * <name>.so.  plugin_types lists the report types parsed (those the SDK has a
 * row layout for: rd5000, rd5800, rd5500, rd1800, discount, rd5900, blpr).
 * plugin_branches lists the branch codes this plugin overrides the generic
 * parser for; a generic plugin leaves .branches NULL in the descriptor (at
 * most one generic plugin may parse each type).  A branch configuration can also name the plugin
 * explicitly: {"parsers": {"rd5900": "example_rd5900"}}.
 * =================================================================== */
#define PLUGIN_NAME "example_rd5900"
#define PLUGIN_VERSION "1.0.0"

static const char *const plugin_types[] = {"rd5900", NULL};
static const char *const plugin_branches[] = {"EXAMPLE", NULL};

/* ===================================================================
 * STEP 2: write the row mapping.
 *
 * open() reads the options and sets up per-file state; on_record() turns one
 * CSV record into one row in the SDK's layout for the type (for rd5900:
 * TP_REF_CODE, TP_REF_NAME; TP_REF_NFIELDS fields) and emits it.  Bad input is
 * reported with api->problem: TP_PROBLEM_ERROR when the row is rejected (do
 * not emit it), TP_PROBLEM_WARNING when it is kept.  Emit values as the
 * source has them, only with CSV quoting decoded (the reader does that) and
 * Excel guards removed (tp_csv_unguard).
 * =================================================================== */
#define DEFAULT_CODE_COLUMN 3
#define DEFAULT_NAME_COLUMN 1
#define MAX_COLUMN 4095

/* Per-file state.  It holds no tp_host_api or tp_host pointer: those are
 * valid only during the callback that received them (the parse may run in
 * another process some day), so each callback passes them down in a `call`
 * on its own stack instead. */
typedef struct state {
    tp_csv csv;
    size_t code_col, name_col;
    int header_seen;
} state;

typedef struct call {
    state *s;
    const tp_host_api *api;
    tp_host *h;
} call;

/* A column option: 0 with *out set (left alone when the option is unset), or
 * -1 after reporting the bad value as a problem. */
static int column_option(const tp_host_api *api, tp_host *h, const char *key, size_t *out)
{
    const char *v = api->config(h, key); /* borrowed: copy what you keep */
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 0 || n > MAX_COLUMN) {
        char msg[160];
        snprintf(msg, sizeof msg, "option %s must be a column index 0..%d, got \"%.40s\"", key,
                 MAX_COLUMN, v);
        api->problem(h, 0, TP_PROBLEM_ERROR, msg);
        return -1;
    }
    *out = (size_t)n;
    return 0;
}

static int plugin_open(const tp_host_api *api, tp_host *h, const char *type, void **out)
{
    if (strcmp(type, "rd5900") != 0)
        return TP_PLUGIN_ETYPE;
    state *s = calloc(1, sizeof *s);
    if (!s)
        return TP_PLUGIN_ENOMEM;
    s->code_col = DEFAULT_CODE_COLUMN;
    s->name_col = DEFAULT_NAME_COLUMN;
    if (column_option(api, h, "column.CODE", &s->code_col) < 0 ||
        column_option(api, h, "column.NAME", &s->name_col) < 0) {
        free(s);
        return TP_PLUGIN_ECONFIG;
    }
    /* Reference reports are small: cap a record at 64 KiB and 256 fields so a
     * corrupt file fails fast instead of growing memory. */
    if (tp_csv_init(&s->csv, 64 * 1024, 256) < 0) {
        free(s);
        return TP_PLUGIN_ENOMEM;
    }
    *out = s;
    return TP_PLUGIN_OK;
}

/* The first record is the header: say so once when the columns we read are
 * not the ones we expect (the branch may have changed its POS again). */
static void check_header(call *c, uint64_t line, const tp_field *f, size_t n)
{
    tp_field code = tp_csv_at(f, n, c->s->code_col), name = tp_csv_at(f, n, c->s->name_col);
    if (tp_csv_field_is(code, "PAY_CODE") && tp_csv_field_is(name, "PAY_DESC"))
        return;
    char msg[200];
    snprintf(msg, sizeof msg,
             "header: expected PAY_CODE in column %zu and PAY_DESC in column %zu, found "
             "\"%.*s\" and \"%.*s\"; reading by position anyway",
             c->s->code_col, c->s->name_col, (int)(code.len > 30 ? 30 : code.len), code.ptr,
             (int)(name.len > 30 ? 30 : name.len), name.ptr);
    c->api->problem(c->h, line, TP_PROBLEM_WARNING, msg);
}

/* One CSV record (tp_csv_record_fn): return < 0 only to stop the parse. */
static int on_record(void *ud, uint64_t line, const tp_field *f, size_t n)
{
    call *c = ud;
    state *s = c->s;
    char msg[160];
    if (!s->header_seen) {
        s->header_seen = 1;
        check_header(c, line, f, n);
        return 0;
    }
    size_t need = (s->code_col > s->name_col ? s->code_col : s->name_col) + 1;
    if (n < need) {
        snprintf(msg, sizeof msg, "row has %zu column%s, this layout needs at least %zu", n,
                 n == 1 ? "" : "s", need);
        c->api->problem(c->h, line, TP_PROBLEM_ERROR, msg);
        return 0; /* rejected: not emitted, the parse goes on */
    }
    tp_field row[TP_REF_NFIELDS];
    row[TP_REF_CODE] = tp_csv_unguard(f[s->code_col]);
    row[TP_REF_NAME] = tp_csv_unguard(f[s->name_col]);
    if (row[TP_REF_CODE].len == 0) {
        snprintf(msg, sizeof msg, "payment method without a code (column %zu is empty)",
                 s->code_col);
        c->api->problem(c->h, line, TP_PROBLEM_ERROR, msg);
        return 0;
    }
    if (row[TP_REF_NAME].len == 0) {
        snprintf(msg, sizeof msg, "payment method %.*s has no name (column %zu is empty)",
                 (int)(row[TP_REF_CODE].len > 40 ? 40 : row[TP_REF_CODE].len), row[TP_REF_CODE].ptr,
                 s->name_col);
        c->api->problem(c->h, line, TP_PROBLEM_WARNING, msg); /* kept */
    }
    /* One emit per row; the host copies what it keeps.  < 0: stop. */
    return c->api->emit(c->h, line, row, TP_REF_NFIELDS) < 0 ? -1 : 0;
}

/* Map the reader's result to a plugin return code. */
static int csv_result(call *c, int rc)
{
    switch (rc) {
    case TP_CSV_OK: return TP_PLUGIN_OK;
    case TP_CSV_ECALLBACK: return TP_PLUGIN_ESTOP; /* emit asked us to stop */
    case TP_CSV_ENOMEM: return TP_PLUGIN_ENOMEM;
    default: /* broken input we cannot continue past: say where and why */
        c->api->problem(c->h, c->s->csv.err_line, TP_PROBLEM_ERROR, c->s->csv.err);
        return TP_PLUGIN_EINVAL;
    }
}

/* The host feeds chunks of any size, split anywhere (even inside a quoted
 * field); the reader carries an unfinished record over to the next feed. */
static int plugin_feed(void *st, const tp_host_api *api, tp_host *h, const char *data, size_t len)
{
    call c = {st, api, h};
    return csv_result(&c, tp_csv_feed(&c.s->csv, data, len, on_record, &c));
}

static int plugin_finish(void *st, const tp_host_api *api, tp_host *h)
{
    call c = {st, api, h};
    int rc = csv_result(&c, tp_csv_finish(&c.s->csv, on_record, &c));
    if (rc == TP_PLUGIN_OK && !c.s->header_seen)
        api->problem(h, 0, TP_PROBLEM_WARNING, "file is empty: no header row");
    return rc;
}

/* Called once after a successful open, whatever happened since. */
static void plugin_close(void *st)
{
    state *s = st;
    if (!s)
        return;
    tp_csv_free(&s->csv);
    free(s);
}

/* The descriptor: designated initializers, so fields you do not name (flags,
 * reserved) are zero as the ABI requires.  Keep magic, abi_major, abi_minor
 * and size exactly as they are: they tell the host which SDK you built with. */
static const tp_plugin_desc plugin_desc = {
    .magic = TP_SDK_MAGIC,
    .abi_major = TP_SDK_ABI_MAJOR,
    .abi_minor = TP_SDK_ABI_MINOR,
    .size = sizeof(tp_plugin_desc),
    .name = PLUGIN_NAME,
    .version = PLUGIN_VERSION,
    .license = "MIT", /* SPDX identifier of your plugin's license */
    .types = plugin_types,
    .branches = plugin_branches,
    .open = plugin_open,
    .feed = plugin_feed,
    .finish = plugin_finish,
    .close = plugin_close,
};

/* The one exported symbol.  Its name is fixed (TP_PLUGIN_ENTRY_NAME); it
 * returns the same constant descriptor every time. */
TP_PLUGIN_EXPORT const tp_plugin_desc *tp_plugin_entry(void);
TP_PLUGIN_EXPORT const tp_plugin_desc *tp_plugin_entry(void)
{
    return &plugin_desc;
}

/* ===================================================================
 * STEP 3: build -- see CMakeLists.txt:
 *
 *     cmake -S . -B build -DCMAKE_PREFIX_PATH=/usr/local   # where the SDK is
 *     cmake --build build
 *
 * STEP 4: test.
 *
 *     tillpipe plugin info build/example_rd5900.so
 *         loads it exactly as the engine will and prints the descriptor, or
 *         says which check failed and what to do;
 *     tillpipe parse --plugins build --plugin example_rd5900 --type rd5900 \
 *         sample/rd5900.csv | diff -u sample/rd5900.expected.jsonl -
 *         runs it over the sample: one JSON line per row or problem.
 *
 * Then replace the sample with a real report of the branch, check the
 * output, and install (cmake --install build, or copy the .so into the
 * directory `tillpipe plugin list` shows).
 * =================================================================== */
