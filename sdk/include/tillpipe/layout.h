/* tillpipe/layout.h -- a parser plugin as a column map: declarative layouts.
 *
 * Most report parsers only pick columns out of a CSV row, maybe strip an
 * Excel text guard or cut a timestamp to its date, and emit the row in the
 * SDK's layout for the report type (sdk.h, TP_<TYPE>_*).  Such a plugin is a
 * constant tpp_layout per report type -- which source column feeds each
 * output field, what its header should say, what to do with its value --
 * and one TPP_PLUGIN(...) line that makes the descriptor and the exported
 * entry function.  The open/feed/finish/close callbacks come from here, on
 * the streaming reader of csv.h:
 *
 *     #define TPP_LAYOUT_IMPLEMENTATION // in the file that uses TPP_PLUGIN
 *     #include <tillpipe/layout.h>
 *
 *     static const tpp_column columns[TP_REF_NFIELDS] = {
 *         [TP_REF_CODE] = {.field = "CODE", .col = 0, .header = "PAY_CODE"},
 *         [TP_REF_NAME] = {.field = "NAME", .col = 1, .header = "PAY_DESC"},
 *     };
 *     static const tpp_layout rd5900 = {.type = "rd5900", TPP_COLUMNS(columns)};
 *     static const tpp_layout *const layouts[] = {&rd5900};
 *     static const char *const types[] = {"rd5900", NULL};
 *
 *     TPP_PLUGIN("rd5900", "1.0.0", types, NULL, layouts)
 *
 * What a layout does with a file:
 *   - The first record is the header (unless .no_header).  Each column with
 *     a .header, not moved by an option, is compared with it (ASCII case and
 *     surrounding spaces ignored); the first mismatch is one warning and the
 *     file is read by position anyway.  When no name matches and a checked
 *     column starts with a digit, the file came without its header: a
 *     warning, and the record is parsed as data.
 *   - A row of fewer than .min_columns fields is rejected: one error.
 *   - Each output field is its column of the row (empty when the row is
 *     shorter), or .alt_col when the row reaches that far; then TPP_UNGUARD
 *     and TPP_DATE_PART apply.  An empty TPP_REQUIRED field rejects the row
 *     (one error, for the first such field); an empty TPP_WARN_EMPTY field
 *     is a warning and the row is kept.
 *   - The row is emitted, its fields in the order of .columns.
 *   - An empty file (no header) is a warning for the file (line 0).
 *
 * Branch options (the branch configuration's "options" for the type):
 *   column.<FIELD>  a 0-based column index replacing .col of the field named
 *                   FIELD (its .header and .alt_col are then not used);
 *   delimiter       the one character between fields, replacing .delimiter:
 *                   a tab, or printable ASCII other than a letter, a digit,
 *                   a space or '"' -- e.g. ";" or "|".
 * A bad value is reported with api->problem (line 0, TP_PROBLEM_ERROR) and
 * open returns TP_PLUGIN_ECONFIG.
 *
 * Limits and errors.  Open checks the layout before anything else: at most
 * TPP_MAX_COLUMNS columns (at least one), each with a field name of at most
 * TPP_MAX_FIELD_NAME bytes, known flags, and every column index (.col,
 * .alt_col, options) in 0..TPP_MAX_COLUMN_INDEX -- the columns the reader
 * can deliver.  A layout that fails is reported with api->problem (line 0,
 * TP_PROBLEM_ERROR, "layout for TYPE: ...") and open returns
 * TP_PLUGIN_EINVAL: a plugin bug, found on the first file, never a buffer
 * overrun.  Every loop over a layout's columns is bounded by
 * TPP_MAX_COLUMNS as well.  Broken input the reader cannot continue past
 * (an unclosed quote, a record over the reader's limits) is one error at
 * its line and TP_PLUGIN_EINVAL; TP_PLUGIN_ENOMEM and TP_PLUGIN_ESTOP (emit
 * said stop) are passed on.  Open fails with TP_PLUGIN_ETYPE for a type
 * without a layout.
 *
 * Ownership: layouts, their columns and strings are the plugin's constant
 * data, read for as long as it is loaded.  Open allocates the per-file
 * state, close frees it (open frees what it allocated when it fails).  The
 * state keeps no host pointer beyond the callback that passed it.  Memory
 * per file is the reader's: one record, at most TP_CSV_DEFAULT_MAX_RECORD
 * bytes.
 *
 * Compiling: header-only, like csv.h.  Include it anywhere for the
 * declarations; in the one source file that uses TPP_PLUGIN define
 * TPP_LAYOUT_IMPLEMENTATION before including it, which compiles this code
 * and the CSV reader's in (so no other file of the plugin may define
 * TP_CSV_IMPLEMENTATION).  Without it TPP_PLUGIN fails to compile, naming
 * the macro.  Build with -fvisibility=hidden: the plugin then exports only
 * tp_plugin_entry.  Self-contained C11 plus libc.
 */
#ifndef TILLPIPE_LAYOUT_H
#define TILLPIPE_LAYOUT_H

#include <stddef.h>

#include "csv.h"
#include "sdk.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most columns (output fields) in a layout; the widest row layout, rd5000's,
 * has 18. */
#define TPP_MAX_COLUMNS 32
/* Highest source column a layout or a column option may name: the reader
 * delivers at most TP_CSV_DEFAULT_MAX_FIELDS fields per record. */
#define TPP_MAX_COLUMN_INDEX (TP_CSV_DEFAULT_MAX_FIELDS - 1)
/* Longest tpp_column.field, in bytes (it is part of the option's key). */
#define TPP_MAX_FIELD_NAME 40

/* tpp_column.flags. */
enum {
    TPP_UNGUARD = 1u << 0,    /* strip an Excel text guard: ="00019702" -> 00019702 */
    TPP_DATE_PART = 1u << 1,  /* keep a timestamp's date: text before the first ' ' or 'T' */
    TPP_REQUIRED = 1u << 2,   /* empty (after the above): the row is rejected */
    TPP_WARN_EMPTY = 1u << 3, /* empty (after the above): a warning, the row is kept */
};

/* One output field: where it comes from and what is done to it. */
typedef struct tpp_column {
    const char *field;  /* field name for options (column.<FIELD>) and messages; required */
    int col;            /* 0-based source column, 0..TPP_MAX_COLUMN_INDEX */
    const char *header; /* what the header row says in col (checked), or NULL: not checked */
    unsigned flags;     /* TPP_* above, or 0 */
    int alt_col;        /* 0: none; else read this column instead of col in rows that have it
                           (a newer POS's extra column, e.g. rd5500 CATEG_ID) */
} tpp_column;

/* How one report type is read.  Zero is the default for every member but
 * .type and .columns/.ncolumns (use designated initializers). */
typedef struct tpp_layout {
    const char *type;          /* report type, e.g. "rd5900"; one of the plugin's types */
    const tpp_column *columns; /* one per field of the SDK's row layout, in its order */
    size_t ncolumns;           /* entries in columns (TP_<TYPE>_NFIELDS), 1..TPP_MAX_COLUMNS */
    size_t min_columns;        /* rows with fewer fields are rejected; 0: any row is read */
    int no_header;             /* 1: the file has no header row, the first record is data */
    char delimiter;            /* between fields: 0 = ','; the "delimiter" option replaces it */
} tpp_layout;

/* .columns and .ncolumns from an array: {.type = "rd5900", TPP_COLUMNS(cols)}. */
#define TPP_COLUMNS(a) .columns = (a), .ncolumns = sizeof(a) / sizeof((a)[0])

/* The plugin callbacks, for a tp_plugin_desc (TPP_PLUGIN fills one in).
 * tpp_layout_open picks the layout for `type` among `nlayouts` and returns
 * TP_PLUGIN_OK with *state set, or a TP_PLUGIN_E* code (see the top of this
 * file); the others behave as sdk.h says for feed, finish and close. */
int tpp_layout_open(const tpp_layout *const *layouts, size_t nlayouts, const tp_host_api *api,
                    tp_host *h, const char *type, void **state);
int tpp_layout_feed(void *state, const tp_host_api *api, tp_host *h, const char *data, size_t len);
int tpp_layout_finish(void *state, const tp_host_api *api, tp_host *h);
void tpp_layout_close(void *state);

/* SPDX identifier TPP_PLUGIN puts in the descriptor; define it before
 * including this header to change it. */
#ifndef TPP_PLUGIN_LICENSE
#define TPP_PLUGIN_LICENSE "MIT"
#endif

/* Descriptor flags TPP_PLUGIN sets (sdk.h's TP_PLUGIN_*, ABI 1.1): define it
 * before including this header, e.g. to TP_PLUGIN_NAMED_ONLY for a plugin
 * used only where a branch configuration names it. */
#ifndef TPP_PLUGIN_FLAGS
#define TPP_PLUGIN_FLAGS 0
#endif

/* A whole plugin from its layouts: the descriptor and the exported entry
 * function.  NAME, VERSION: strings; TYPES, BRANCHES: NULL-terminated arrays
 * of strings (BRANCHES NULL for a generic plugin); LAYOUTS: an array (not a
 * pointer) of const tpp_layout *, one per type.  Use it once per plugin, in
 * the file that defines TPP_LAYOUT_IMPLEMENTATION. */
#define TPP_PLUGIN(NAME, VERSION, TYPES, BRANCHES, LAYOUTS)                                        \
    typedef tpp__define_TPP_LAYOUT_IMPLEMENTATION_before_including_layout_h tpp__implemented;      \
    static int tpp__open(const tp_host_api *api, tp_host *h, const char *type, void **state)       \
    {                                                                                              \
        return tpp_layout_open(LAYOUTS, sizeof(LAYOUTS) / sizeof((LAYOUTS)[0]), api, h, type,      \
                               state);                                                             \
    }                                                                                              \
    static const tp_plugin_desc tpp__desc = {                                                      \
        .magic = TP_SDK_MAGIC,                                                                     \
        .abi_major = TP_SDK_ABI_MAJOR,                                                             \
        .abi_minor = TP_SDK_ABI_MINOR,                                                             \
        .size = sizeof(tp_plugin_desc),                                                            \
        .flags = TPP_PLUGIN_FLAGS,                                                                 \
        .name = NAME,                                                                              \
        .version = VERSION,                                                                        \
        .license = TPP_PLUGIN_LICENSE,                                                             \
        .types = TYPES,                                                                            \
        .branches = BRANCHES,                                                                      \
        .open = tpp__open,                                                                         \
        .feed = tpp_layout_feed,                                                                   \
        .finish = tpp_layout_finish,                                                               \
        .close = tpp_layout_close,                                                                 \
    };                                                                                             \
    TP_PLUGIN_EXPORT const tp_plugin_desc *tp_plugin_entry(void);                                  \
    TP_PLUGIN_EXPORT const tp_plugin_desc *tp_plugin_entry(void)                                   \
    {                                                                                              \
        return &tpp__desc;                                                                         \
    }

#ifdef __cplusplus
}
#endif
#endif /* TILLPIPE_LAYOUT_H */

/* ================================================================ code
 * Guarded on its own, like csv.h's: compiled once, when
 * TPP_LAYOUT_IMPLEMENTATION is defined before an include of this header. */
#if defined(TPP_LAYOUT_IMPLEMENTATION) && !defined(TILLPIPE_LAYOUT_IMPLEMENTED)
#define TILLPIPE_LAYOUT_IMPLEMENTED

#ifndef TP_CSV_IMPLEMENTATION
#define TP_CSV_IMPLEMENTATION
#endif
#include "csv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What TPP_PLUGIN checks for: it exists only where this code is compiled. */
typedef int tpp__define_TPP_LAYOUT_IMPLEMENTATION_before_including_layout_h;

#define TPP__KNOWN_FLAGS (TPP_UNGUARD | TPP_DATE_PART | TPP_REQUIRED | TPP_WARN_EMPTY)

/* One file being parsed. */
typedef struct tpp__state {
    const tpp_layout *layout;
    size_t ncolumns;                 /* layout->ncolumns, checked to be <= TPP_MAX_COLUMNS */
    int col[TPP_MAX_COLUMNS];        /* source column per output field, options applied */
    int alt[TPP_MAX_COLUMNS];        /* its alt_col; 0 none; -1 moved by an option */
    unsigned flags[TPP_MAX_COLUMNS]; /* its flags */
    unsigned all_flags;              /* every column's flags or-ed: which checks a row needs */
    int header_seen;                 /* the first record has been looked at */
    const tp_host_api *api;          /* set during feed and finish only */
    tp_host *host;                   /* likewise */
    tp_csv csv;                      /* the reader, delimiter set */
} tpp__state;

#if defined(__GNUC__)
#define TPP__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TPP__PRINTF(f, a)
#endif

/* Write a message into msg[cap]; returns -1, for `return tpp__fail(...)`. */
static int tpp__fail(char *msg, size_t cap, const char *fmt, ...) TPP__PRINTF(3, 4);
static int tpp__fail(char *msg, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* Why column entry i of `l` cannot be used, into msg (-1); 0 when it can. */
static int tpp__check_column(const tpp_layout *l, size_t i, char *msg, size_t cap)
{
    const tpp_column *c = &l->columns[i];
    if (!c->field || !c->field[0])
        return tpp__fail(msg, cap,
                         "layout for %s: column entry %zu has no field name (an output field "
                         "left out of the column map?)",
                         l->type, i);
    if (strlen(c->field) > TPP_MAX_FIELD_NAME)
        return tpp__fail(msg, cap, "layout for %s: field name \"%.40s...\" is longer than %d bytes",
                         l->type, c->field, TPP_MAX_FIELD_NAME);
    if (c->col < 0 || c->col > TPP_MAX_COLUMN_INDEX)
        return tpp__fail(msg, cap, "layout for %s: field %s reads column %d; columns are 0..%d",
                         l->type, c->field, c->col, TPP_MAX_COLUMN_INDEX);
    if (c->alt_col < 0 || c->alt_col > TPP_MAX_COLUMN_INDEX)
        return tpp__fail(msg, cap,
                         "layout for %s: field %s has alt_col %d; it is 0 (none) or a column "
                         "1..%d",
                         l->type, c->field, c->alt_col, TPP_MAX_COLUMN_INDEX);
    if (c->flags & ~(unsigned)TPP__KNOWN_FLAGS)
        return tpp__fail(msg, cap, "layout for %s: field %s has unknown flags 0x%x", l->type,
                         c->field, c->flags & ~(unsigned)TPP__KNOWN_FLAGS);
    return 0;
}

/* 1 when `d` may separate fields: a tab, or printable ASCII that is not a
 * letter, a digit, a space or a quote (those make every file ambiguous). */
static int tpp__delimiter_ok(char d)
{
    unsigned char u = (unsigned char)d;
    if (u == '\t')
        return 1;
    if (u <= ' ' || u >= 0x7f || u == '"')
        return 0;
    return !((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z'));
}

#define TPP__DELIMITER_RULE                                                                        \
    "a tab, or printable ASCII other than a letter, a digit, a space or '\"' (e.g. \";\" or "      \
    "\"|\")"

/* Why `l` cannot be used, into msg (-1); 0 when it can. */
static int tpp__check_layout(const tpp_layout *l, char *msg, size_t cap)
{
    if (!l->columns || l->ncolumns == 0)
        return tpp__fail(msg, cap, "layout for %s has no columns", l->type);
    if (l->ncolumns > TPP_MAX_COLUMNS)
        return tpp__fail(msg, cap, "layout for %s has %zu columns; a layout has at most %d",
                         l->type, l->ncolumns, TPP_MAX_COLUMNS);
    if (l->min_columns > (size_t)TPP_MAX_COLUMN_INDEX + 1)
        return tpp__fail(msg, cap,
                         "layout for %s wants rows of at least %zu columns; the reader "
                         "delivers at most %d",
                         l->type, l->min_columns, TPP_MAX_COLUMN_INDEX + 1);
    if (l->delimiter && !tpp__delimiter_ok(l->delimiter))
        return tpp__fail(msg, cap, "layout for %s: delimiter 0x%02x cannot be used; use %s",
                         l->type, (unsigned char)l->delimiter, TPP__DELIMITER_RULE);
    for (size_t i = 0; i < l->ncolumns && i < TPP_MAX_COLUMNS; i++)
        if (tpp__check_column(l, i, msg, cap) < 0)
            return -1;
    return 0;
}

/* s->col, alt, flags from the layout and the "column.<FIELD>" options; -1
 * after reporting a bad option. */
static int tpp__columns(tpp__state *s, const tp_host_api *api, tp_host *h)
{
    const tpp_layout *l = s->layout;
    for (size_t i = 0; i < s->ncolumns && i < TPP_MAX_COLUMNS; i++) {
        const tpp_column *c = &l->columns[i];
        s->col[i] = c->col;
        s->alt[i] = c->alt_col;
        s->flags[i] = c->flags;
        s->all_flags |= c->flags;
        char key[sizeof "column." + TPP_MAX_FIELD_NAME];
        snprintf(key, sizeof key, "column.%s", c->field);
        const char *v = api->config(h, key);
        if (!v)
            continue;
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end || n < 0 || n > TPP_MAX_COLUMN_INDEX) {
            char msg[160];
            snprintf(msg, sizeof msg, "option %s must be a column index 0..%d, got \"%.40s\"", key,
                     TPP_MAX_COLUMN_INDEX, v);
            api->problem(h, 0, TP_PROBLEM_ERROR, msg);
            return -1;
        }
        s->col[i] = (int)n;
        s->alt[i] = -1; /* the option names the column: no alternative, no header check */
    }
    return 0;
}

/* The delimiter: the "delimiter" option, else the layout's, else ','.
 * -1 after reporting a bad option. */
static int tpp__delimiter(const tpp_layout *l, const tp_host_api *api, tp_host *h, char *out)
{
    const char *v = api->config(h, "delimiter");
    *out = l->delimiter ? l->delimiter : ',';
    if (!v)
        return 0;
    if (v[0] == '\0' || v[1] != '\0' || !tpp__delimiter_ok(v[0])) {
        char msg[200];
        snprintf(msg, sizeof msg, "option delimiter must be one character: %s; got \"%.40s\"",
                 TPP__DELIMITER_RULE, v);
        api->problem(h, 0, TP_PROBLEM_ERROR, msg);
        return -1;
    }
    *out = v[0];
    return 0;
}

int tpp_layout_open(const tpp_layout *const *layouts, size_t nlayouts, const tp_host_api *api,
                    tp_host *h, const char *type, void **state)
{
    const tpp_layout *l = NULL;
    for (size_t i = 0; i < nlayouts && !l; i++)
        if (layouts[i] && layouts[i]->type && strcmp(layouts[i]->type, type) == 0)
            l = layouts[i];
    char msg[240];
    if (!l) {
        snprintf(msg, sizeof msg, "the plugin has no layout for %.40s", type);
        api->problem(h, 0, TP_PROBLEM_ERROR, msg);
        return TP_PLUGIN_ETYPE;
    }
    if (tpp__check_layout(l, msg, sizeof msg) < 0) {
        api->problem(h, 0, TP_PROBLEM_ERROR, msg);
        return TP_PLUGIN_EINVAL;
    }
    tpp__state *s = calloc(1, sizeof *s);
    if (!s)
        return TP_PLUGIN_ENOMEM;
    s->layout = l;
    /* checked above; the bound keeps out[] and col[] safe whatever a check missed */
    s->ncolumns = l->ncolumns < TPP_MAX_COLUMNS ? l->ncolumns : TPP_MAX_COLUMNS;
    char delim;
    if (tpp__columns(s, api, h) < 0 || tpp__delimiter(l, api, h, &delim) < 0) {
        free(s);
        return TP_PLUGIN_ECONFIG;
    }
    if (tp_csv_init(&s->csv, 0, 0) < 0) {
        free(s);
        return TP_PLUGIN_ENOMEM;
    }
    (void)tp_csv_set_delimiter(&s->csv, delim); /* checked above, stricter than the reader */
    *state = s;
    return TP_PLUGIN_OK;
}

/* Check the first record against the expected header names.  Returns 1 when
 * it is a header, 0 when it looks like data instead -- no expected name and a
 * value starting with a digit -- so a file sent without its header loses no
 * row (the legacy combiner read such files from the first line). */
static int tpp__check_header(tpp__state *s, uint64_t line, const tp_field *f, size_t n)
{
    const tpp_layout *l = s->layout;
    const tpp_column *bad = NULL;
    tp_field bad_got = {"", 0};
    int matched = 0, digits = 0;
    for (size_t i = 0; i < s->ncolumns && i < TPP_MAX_COLUMNS; i++) {
        const tpp_column *c = &l->columns[i];
        if (!c->header || s->alt[i] < 0)
            continue;
        tp_field got = tp_csv_at(f, n, (size_t)c->col);
        if (tp_csv_field_is(got, c->header))
            matched++;
        else if (!bad) {
            bad = c;
            bad_got = got;
        }
        if (got.len > 0 && got.ptr[0] >= '0' && got.ptr[0] <= '9')
            digits++;
    }
    if (!matched && digits) {
        s->api->problem(s->host, line, TP_PROBLEM_WARNING,
                        "header missing: the first line reads as data and is parsed as such");
        return 0;
    }
    if (bad) {
        char msg[240];
        snprintf(msg, sizeof msg,
                 "header: column %d is \"%.*s\", expected \"%.40s\" for %s; reading by "
                 "position anyway (wrong report type, or a branch needing an override?)",
                 bad->col, (int)(bad_got.len > 40 ? 40 : bad_got.len), bad_got.ptr, bad->header,
                 bad->field);
        s->api->problem(s->host, line, TP_PROBLEM_WARNING, msg);
    }
    return 1;
}

/* The column field i is read from in a row of n fields. */
static size_t tpp__source(const tpp__state *s, size_t i, size_t n)
{
    int alt = s->alt[i];
    return (size_t)(alt > 0 && n > (size_t)alt ? alt : s->col[i]);
}

/* Fill out[] from a data record of n fields: the hot loop, one pass. */
static void tpp__map_row(const tpp__state *s, const tp_field *f, size_t n, tp_field *out)
{
    for (size_t i = 0; i < s->ncolumns && i < TPP_MAX_COLUMNS; i++) {
        tp_field v = tp_csv_at(f, n, tpp__source(s, i, n));
        unsigned flags = s->flags[i];
        if (flags & TPP_UNGUARD)
            v = tp_csv_unguard(v);
        if (flags & TPP_DATE_PART)
            v = tp_csv_date_part(v);
        out[i] = v;
    }
}

/* Empty TPP_REQUIRED and TPP_WARN_EMPTY fields of a mapped row: -1 after
 * rejecting it for the first empty required field, else 0 after a warning
 * for each empty TPP_WARN_EMPTY field (so a rejected row gets none). */
static int tpp__check_empty(const tpp__state *s, uint64_t line, size_t n, const tp_field *out)
{
    const tpp_layout *l = s->layout;
    char msg[120];
    for (size_t i = 0; i < s->ncolumns && i < TPP_MAX_COLUMNS; i++)
        if (out[i].len == 0 && (s->flags[i] & TPP_REQUIRED)) {
            snprintf(msg, sizeof msg, "%s is empty (column %zu) and required", l->columns[i].field,
                     tpp__source(s, i, n));
            s->api->problem(s->host, line, TP_PROBLEM_ERROR, msg);
            return -1;
        }
    for (size_t i = 0; i < s->ncolumns && i < TPP_MAX_COLUMNS; i++)
        if (out[i].len == 0 && (s->flags[i] & TPP_WARN_EMPTY)) {
            snprintf(msg, sizeof msg, "%s is empty (column %zu)", l->columns[i].field,
                     tpp__source(s, i, n));
            s->api->problem(s->host, line, TP_PROBLEM_WARNING, msg);
        }
    return 0;
}

static void tpp__short_row(const tpp__state *s, uint64_t line, size_t n)
{
    char msg[120];
    snprintf(msg, sizeof msg, "row has %zu column%s, %s rows need at least %zu", n,
             n == 1 ? "" : "s", s->layout->type, s->layout->min_columns);
    s->api->problem(s->host, line, TP_PROBLEM_ERROR, msg);
}

static int tpp__on_record(void *ud, uint64_t line, const tp_field *f, size_t n)
{
    tpp__state *s = ud;
    const tpp_layout *l = s->layout;
    if (!l->no_header && !s->header_seen) {
        s->header_seen = 1;
        if (tpp__check_header(s, line, f, n))
            return 0;
    }
    if (n < l->min_columns) {
        tpp__short_row(s, line, n);
        return 0; /* rejected; the parse goes on */
    }
    tp_field out[TPP_MAX_COLUMNS];
    tpp__map_row(s, f, n, out);
    if ((s->all_flags & (TPP_REQUIRED | TPP_WARN_EMPTY)) && tpp__check_empty(s, line, n, out) < 0)
        return 0;
    return s->api->emit(s->host, line, out, s->ncolumns) < 0 ? -1 : 0;
}

static int tpp__csv_result(tpp__state *s, int rc)
{
    if (rc == TP_CSV_OK)
        return TP_PLUGIN_OK;
    if (rc == TP_CSV_ECALLBACK)
        return TP_PLUGIN_ESTOP;
    if (rc == TP_CSV_ENOMEM)
        return TP_PLUGIN_ENOMEM;
    s->api->problem(s->host, s->csv.err_line, TP_PROBLEM_ERROR, s->csv.err);
    return TP_PLUGIN_EINVAL;
}

int tpp_layout_feed(void *state, const tp_host_api *api, tp_host *h, const char *data, size_t len)
{
    tpp__state *s = state;
    s->api = api;
    s->host = h;
    int rc = tpp__csv_result(s, tp_csv_feed(&s->csv, data, len, tpp__on_record, s));
    s->api = NULL;
    s->host = NULL;
    return rc;
}

int tpp_layout_finish(void *state, const tp_host_api *api, tp_host *h)
{
    tpp__state *s = state;
    s->api = api;
    s->host = h;
    int rc = tpp__csv_result(s, tp_csv_finish(&s->csv, tpp__on_record, s));
    if (rc == TP_PLUGIN_OK && !s->layout->no_header && !s->header_seen)
        api->problem(h, 0, TP_PROBLEM_WARNING, "file is empty: no header row");
    s->api = NULL;
    s->host = NULL;
    return rc;
}

void tpp_layout_close(void *state)
{
    tpp__state *s = state;
    if (!s)
        return;
    tp_csv_free(&s->csv);
    free(s);
}

#endif /* TPP_LAYOUT_IMPLEMENTATION */
