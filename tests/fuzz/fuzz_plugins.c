/* fuzz_plugins.c -- every bundled plugin through the host: tp_parse_stream
 * in this process (`--isolation none`), over a memory file.
 *
 * Input: [plugin][options][delimiter][field][column][chunk] then the file.
 * The first byte picks a plugin of the build's plugin folder (and one of its
 * report types), the next ones the parser options a branch could give it
 * (`delimiter`, `column.<FIELD>`, good values and bad).  The file is parsed
 * twice, in one chunk and in chunks of 1-2040 bytes (at least a 32nd of the
 * file): rows, problems, counts and the result must not change (what `tillpipe parse --chunk-size`
 * promises), and every row has its type's field count.
 */
#include <string.h>

#include "core/schema.h"
#include "fuzz.h"
#include "pipeline/parse.h"
#include "pipeline/plugin.h"

static tp_registry *reg;

typedef struct opts {
    const char *key[2];
    const char *val[2];
    size_t n;
} opts;

static const char *opt_get(void *ud, const char *key)
{
    const opts *o = ud;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->key[i], key) == 0)
            return o->val[i];
    return NULL;
}

static const char *opt_at(void *ud, size_t i, const char **value)
{
    const opts *o = ud;
    if (i >= o->n)
        return NULL;
    *value = o->val[i];
    return o->key[i];
}

typedef struct out {
    const tp_schema *schema;
    uint64_t hash, rows, problems;
} out;

static int on_row(void *ud, uint64_t line, const tp_field *f, size_t n)
{
    out *o = ud;
    TP_FUZZ_CHECK(n == o->schema->nfields);
    TP_FUZZ_CHECK(line >= 1);
    o->rows++;
    o->hash = tp_fuzz_hash(o->hash, &line, sizeof line);
    for (size_t i = 0; i < n; i++) {
        TP_FUZZ_CHECK(f[i].ptr || f[i].len == 0);
        o->hash = tp_fuzz_hash(o->hash, &f[i].len, sizeof f[i].len);
        o->hash = tp_fuzz_hash(o->hash, f[i].ptr, f[i].len);
    }
    return 0;
}

static void on_problem(void *ud, uint64_t line, int severity, const char *reason)
{
    out *o = ud;
    TP_FUZZ_CHECK(severity == TP_PROBLEM_WARNING || severity == TP_PROBLEM_ERROR);
    TP_FUZZ_CHECK(reason != NULL);
    o->problems++;
    o->hash = tp_fuzz_hash(o->hash, &line, sizeof line);
    o->hash = tp_fuzz_hash(o->hash, &severity, sizeof severity);
    o->hash = tp_fuzz_hash(o->hash, reason, strlen(reason));
}

typedef struct result {
    out o;
    int rc;
    tp_parse_stats st;
    char msg[256];
} result;

static result parse(const tp_plugin *p, tp_report_type t, const uint8_t *data, size_t n, opts *op,
                    size_t chunk)
{
    result r = {.o = {.schema = tp_schema_of(t), .hash = TP_FUZZ_HASH_INIT}};
    static const char empty[1];
    FILE *f = fmemopen(n ? (void *)(uintptr_t)data : (void *)(uintptr_t)empty, n ? n : 1, "r");
    TP_FUZZ_CHECK(f != NULL);
    if (n == 0)
        (void)fgetc(f); /* an empty file: at its end */
    tp_parse_options po = {.get = opt_get, .at = opt_at, .ud = op, .chunk_size = chunk};
    tp_parse_sink sink = {on_row, on_problem, &r.o};
    tp_error err = {0};
    r.rc = tp_parse_stream(p, t, f, "fuzz.csv", &po, &sink, &r.st, &err);
    fclose(f);
    TP_FUZZ_CHECK((r.rc == 0) == (err.code == 0));
    snprintf(r.msg, sizeof r.msg, "%s", err.msg);
    TP_FUZZ_CHECK(r.st.rows == r.o.rows);
    TP_FUZZ_CHECK(r.st.warnings + r.st.rejected == r.o.problems);
    return r;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    tp_error err = {0};
    reg = tp_registry_create();
    if (!reg || tp_registry_load_dir(reg, TP_FUZZ_PLUGIN_DIR, &err) < 0 ||
        tp_registry_count(reg) == 0) {
        fprintf(stderr, "fuzz_plugins: no plugins in %s: %s\n", TP_FUZZ_PLUGIN_DIR, err.msg);
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tp_fuzz_in in = {data, size};
    uint8_t pick = tp_fuzz_byte(&in), flags = tp_fuzz_byte(&in), delim = tp_fuzz_byte(&in),
            field = tp_fuzz_byte(&in), column = tp_fuzz_byte(&in), chunk = tp_fuzz_byte(&in);
    const tp_plugin *p = tp_registry_get(reg, pick % tp_registry_count(reg));
    size_t ntypes = 0;
    while (p->desc->types[ntypes])
        ntypes++;
    int t = tp_schema_find(p->desc->types[(size_t)(pick >> 4) % ntypes]);
    TP_FUZZ_CHECK(t >= 0);
    const tp_schema *s = tp_schema_of((tp_report_type)t);

    opts op = {.n = 0};
    char dval[3] = {(char)delim, (flags & 4) ? ';' : '\0', '\0'}, key[64], cval[16];
    if (flags & 1) {
        op.key[op.n] = "delimiter";
        op.val[op.n++] = (flags & 8) ? "" : dval;
    }
    if (flags & 2) {
        snprintf(key, sizeof key, "column.%s", s->field_names[field % s->nfields]);
        if (flags & 16)
            snprintf(cval, sizeof cval, "%s", (flags & 32) ? "4096" : "x1");
        else
            snprintf(cval, sizeof cval, "%d", (flags & 32) ? -(int)column : (int)column);
        op.key[op.n] = key;
        op.val[op.n++] = cval;
    }
    /* the default chunk (256 KiB) is one feed for inputs of this size: ask for
     * just that much, not a 256 KiB buffer per run */
    result a = parse(p, (tp_report_type)t, in.p, in.n, &op, in.n ? in.n : 1);
    /* 1-16 bytes (a record over many feeds), else 128-2040 (a few per feed);
     * at least a 32nd of the file, as a record carried over feeds is read
     * again at each one */
    size_t small = chunk < 16 ? (size_t)chunk + 1 : (size_t)chunk * 8;
    if (small < in.n / 32)
        small = in.n / 32;
    result b = parse(p, (tp_report_type)t, in.p, in.n, &op, small);
    TP_FUZZ_CHECK(a.rc == b.rc);
    TP_FUZZ_CHECK(strcmp(a.msg, b.msg) == 0);
    TP_FUZZ_CHECK(a.o.hash == b.o.hash && a.o.rows == b.o.rows && a.o.problems == b.o.problems);
    TP_FUZZ_CHECK(a.st.bytes == b.st.bytes && a.st.rows == b.st.rows);
    TP_FUZZ_CHECK(a.st.warnings == b.st.warnings && a.st.rejected == b.st.rejected);
    return 0;
}
