/* test_plugins.c -- the bundled parser plugins over data-driven cases.
 *
 * A case is a folder tests/plugins/cases/<plugin>/<case>/ holding
 *   input.csv       the report file;
 *   expected.jsonl  what `tillpipe parse` prints for it, row and problem
 *                   lines in order ({"line":N,"row":{...}} and
 *                   {"line":N,"severity":"...","problem":"..."});
 *   branch          optional: the branch code to parse as (resolves the
 *                   plugin through the built-in branch configuration);
 *   options.json    optional: parser options for the case's report type,
 *                   {"column.DATE": "1"}, given to the plugin through a
 *                   branch configuration as `tillpipe parse --branches` would
 *                   (for the case's branch, else for a branch TEST);
 *   error           optional: the parse must fail with this message (the
 *                   input's path written as "input.csv"); the plugin may
 *                   refuse its options at open.
 * The report type is the first one the plugin's descriptor lists, and the
 * case checks that the branch really resolves to the plugin it is filed
 * under.
 *
 * Each case runs twice.  First through the engine exactly as `tillpipe
 * parse` does (tp_registry, tp_parse_file, the JSON of cmd_parse.c).  Then by
 * driving the plugin's descriptor directly with a host table of our own,
 * feeding the input in small chunks (1, 2, 3, 5, 7 bytes and pseudo-random
 * 1..4): tp_parse_stream always reads 256 KiB at a time, so only this shows
 * that a plugin copes with records, quoted fields, CRLF pairs and UTF-8
 * sequences split between feeds.  Both must print expected.jsonl exactly.
 * For a case that parses, tp_count_rows (what Select ranks candidates by)
 * must also count the data rows the parse read, emitted or rejected.
 *
 * Then the limits of <tillpipe/layout.h>, through plugins built from
 * tests/fixtures/plugins/layout_limits.c: layouts past a limit are refused when
 * a file is opened, with one problem naming what is wrong; layouts at the
 * limit work; the layout's delimiter, the "delimiter" option's accepted and
 * refused values, headerless files, required fields and alt columns.
 */
#include <check.h>

#include "testutil.h"
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tillpipe/layout.h>

#include "core/config.h"
#include "core/reports.h"
#include "core/schema.h"
#include "io/config_file.h"
#include "io/output.h"
#include "io/scan.h"
#include "pipeline/parse.h"
#include "pipeline/plugin.h"

#define CASES_DIR TP_TEST_SOURCE_DIR "/tests/plugins/cases"
/* The branch a case's options.json is configured for when it has no branch
 * file. */
#define OPTIONS_BRANCH "TEST"
#define MIN_CASES_PER_PLUGIN 3

/* ------------------------------------------------------------ the case list */

typedef struct plugin_case {
    char plugin[64];
    char name[128];
    char dir[PATH_MAX];
} plugin_case;

/* Found once in main() before the runner forks; read-only afterwards. */
static plugin_case *all_cases;
static int ncases;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names of the subdirectories of `dir` (NULL-terminated; the
 * caller frees each and the array).  NULL when `dir` cannot be read. */
static char **subdirs(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    size_t cap = 16;
    char **v = malloc(cap * sizeof *v);
    *n = 0;
    struct dirent *e;
    while (v && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        if (*n + 1 >= cap) {
            char **nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv)
                break;
            v = nv;
        }
        v[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    if (!v)
        return NULL;
    qsort(v, *n, sizeof *v, cmp_str);
    v[*n] = NULL;
    return v;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static void find_cases(void)
{
    size_t np = 0;
    char **plugins = subdirs(CASES_DIR, &np);
    int cap = 64;
    all_cases = calloc((size_t)cap, sizeof *all_cases);
    ncases = 0;
    for (size_t i = 0; plugins && i < np; i++) {
        char pdir[PATH_MAX];
        snprintf(pdir, sizeof pdir, "%s/%s", CASES_DIR, plugins[i]);
        size_t nc = 0;
        char **cs = subdirs(pdir, &nc);
        for (size_t j = 0; cs && j < nc; j++) {
            if (ncases == cap) {
                plugin_case *nv = realloc(all_cases, (size_t)(cap *= 2) * sizeof *nv);
                if (!nv)
                    break;
                all_cases = nv;
            }
            plugin_case *c = &all_cases[ncases++];
            snprintf(c->plugin, sizeof c->plugin, "%s", plugins[i]);
            snprintf(c->name, sizeof c->name, "%s", cs[j]);
            snprintf(c->dir, sizeof c->dir, "%s/%s", pdir, cs[j]);
        }
        free_strv(cs);
    }
    free_strv(plugins);
}

/* ------------------------------------------------------------ small helpers */

/* A whole file, NUL-terminated; NULL when it does not exist. */
static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        ck_assert_msg(errno == ENOENT, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            buf = realloc(buf, cap *= 2);
            ck_assert_ptr_nonnull(buf);
        }
    }
    ck_assert_msg(!ferror(f), "%s: read error", path);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Strip trailing white space (a one-line file's newline). */
static char *chomp(char *s)
{
    if (s) {
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
            s[--n] = '\0';
    }
    return s;
}

/* Replace every `from` in `s` by `to` (a new string). */
static char *replace_all(const char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = s; fl && (p = strstr(p, from)) != NULL; p += fl)
        n++;
    char *out = malloc(strlen(s) + n * tl + 1), *o = out;
    ck_assert_ptr_nonnull(out);
    const char *p = s, *q;
    while (fl && (q = strstr(p, from)) != NULL) {
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, tl);
        o += tl;
        p = q + fl;
    }
    memcpy(o, p, strlen(p) + 1);
    return out;
}

/* ------------------------------------------------------------ output, as cmd_parse.c */

typedef struct out_ctx {
    const tp_schema *schema;
    FILE *f;
    uint64_t rows;     /* rows printed */
    uint64_t rejected; /* error problems about a row (line > 0) */
} out_ctx;

static int on_row(void *ud, uint64_t line, const tp_field *fields, size_t n)
{
    out_ctx *o = ud;
    o->rows++;
    fprintf(o->f, "{\"line\":%llu,\"row\":{", (unsigned long long)line);
    for (size_t i = 0; i < n; i++) {
        if (i)
            putc(',', o->f);
        fprintf(o->f, "\"%s\":", o->schema->field_names[i]);
        tp_json_write_string(o->f, fields[i].ptr, fields[i].len);
    }
    fputs("}}\n", o->f);
    return ferror(o->f) ? -1 : 0;
}

static void on_problem(void *ud, uint64_t line, int severity, const char *reason)
{
    out_ctx *o = ud;
    if (severity == TP_PROBLEM_ERROR && line > 0)
        o->rejected++;
    fprintf(o->f, "{\"line\":%llu,\"severity\":\"%s\",\"problem\":", (unsigned long long)line,
            severity == TP_PROBLEM_ERROR ? "error" : "warning");
    tp_json_write_string(o->f, reason, strlen(reason));
    fputs("}\n", o->f);
}

/* ------------------------------------------------------------ readable diffs */

typedef struct lines {
    char **v;
    size_t n;
} lines;

static lines split_lines(const char *s)
{
    lines l = {NULL, 0};
    size_t cap = 16;
    l.v = malloc(cap * sizeof *l.v);
    ck_assert_ptr_nonnull(l.v);
    while (*s) {
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (l.n == cap) {
            l.v = realloc(l.v, (cap *= 2) * sizeof *l.v);
            ck_assert_ptr_nonnull(l.v);
        }
        l.v[l.n] = malloc(len + 1);
        ck_assert_ptr_nonnull(l.v[l.n]);
        memcpy(l.v[l.n], s, len);
        l.v[l.n++][len] = '\0';
        s += len + (e ? 1 : 0);
    }
    return l;
}

static void free_lines(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* A line diff of `want` and `got` (" " same, "-" only expected, "+" only
 * got), by longest common subsequence; the cases are small. */
static char *line_diff(const char *want, const char *got)
{
    lines a = split_lines(want), b = split_lines(got);
    size_t w = b.n + 1;
    size_t *lcs = calloc((a.n + 1) * w, sizeof *lcs);
    ck_assert_ptr_nonnull(lcs);
    for (size_t i = a.n; i-- > 0;)
        for (size_t j = b.n; j-- > 0;)
            lcs[i * w + j] = strcmp(a.v[i], b.v[j]) == 0
                                 ? lcs[(i + 1) * w + j + 1] + 1
                                 : (lcs[(i + 1) * w + j] > lcs[i * w + j + 1] ? lcs[(i + 1) * w + j]
                                                                              : lcs[i * w + j + 1]);
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    ck_assert_ptr_nonnull(f);
    size_t i = 0, j = 0;
    while (i < a.n || j < b.n) {
        if (i < a.n && j < b.n && strcmp(a.v[i], b.v[j]) == 0) {
            fprintf(f, "  %s\n", a.v[i]);
            i++;
            j++;
        } else if (j < b.n && (i == a.n || lcs[i * w + j + 1] >= lcs[(i + 1) * w + j])) {
            fprintf(f, "+ %s\n", b.v[j]);
            j++;
        } else {
            fprintf(f, "- %s\n", a.v[i]);
            i++;
        }
    }
    fclose(f);
    free(lcs);
    free_lines(&a);
    free_lines(&b);
    return out;
}

/* Fail when `got` is not `want`, printing the diff (in full on stderr). */
static void check_output(const plugin_case *c, const char *how, const char *want, const char *got)
{
    if (strcmp(want, got) == 0)
        return;
    char *d = line_diff(want, got);
    fprintf(stderr,
            "\n=== case %s/%s (%s): output differs from expected.jsonl\n"
            "--- expected.jsonl\n+++ got\n%s",
            c->plugin, c->name, how, d);
    ck_abort_msg("case %s/%s (%s): output differs from expected.jsonl (- expected, + got):\n"
                 "%.3000s",
                 c->plugin, c->name, how, d);
    free(d);
}

/* ------------------------------------------------------------ one case */

typedef struct case_env {
    const plugin_case *c;
    tp_registry *reg;
    tp_config *cfg;
    const tp_plugin *plugin;
    const tp_schema *schema;
    tp_report_type type;
    const tp_branch_cfg *branch_cfg;
    char *branch; /* or NULL */
    char *input;  /* the input's bytes */
    size_t input_len;
    char *expected; /* expected.jsonl */
    char *error;    /* expected failure message, or NULL */
    char input_path[PATH_MAX];
} case_env;

typedef struct opt_ctx {
    const tp_branch_cfg *branch;
    const char *type;
} opt_ctx;

static const char *get_option(void *ud, const char *key)
{
    opt_ctx *o = ud;
    return tp_branch_option(o->branch, o->type, key);
}

/* options.json -> a one-branch configuration naming the case's plugin with
 * those options, as one would write it for `tillpipe parse --branches`. */
static tp_config *options_config(const case_env *e, const char *options_text)
{
    json_error_t jerr;
    json_t *opts = json_loads(options_text, 0, &jerr);
    ck_assert_msg(json_is_object(opts), "case %s/%s: options.json:%d: %s", e->c->plugin, e->c->name,
                  jerr.line, json_is_object(opts) ? "" : jerr.text);
    json_t *root = json_pack("{s:[{s:s, s:[i], s:{s:{s:s, s:o}}}]}", "branches", "code", e->branch,
                             "terminals", 1, "parsers", e->schema->name, "plugin", e->c->plugin,
                             "options", opts);
    ck_assert_ptr_nonnull(root);
    char *text = json_dumps(root, 0);
    json_decref(root);
    tp_error err = {0};
    tp_config *cfg = tp_config_parse(text, "options.json", &err);
    ck_assert_msg(cfg != NULL, "case %s/%s: options.json: %s", e->c->plugin, e->c->name, err.msg);
    free(text);
    return cfg;
}

static void case_open(case_env *e, const plugin_case *c)
{
    memset(e, 0, sizeof *e);
    e->c = c;
    tp_error err = {0};
    e->reg = tp_registry_create();
    ck_assert_ptr_nonnull(e->reg);
    ck_assert_msg(tp_registry_load_dir(e->reg, TP_TEST_PLUGIN_DIR, &err) == 0, "%s", err.msg);
    e->plugin = tp_registry_find(e->reg, c->plugin);
    ck_assert_msg(e->plugin != NULL,
                  "case %s/%s: no plugin \"%s\" in %s (cases are filed by plugin name)", c->plugin,
                  c->name, c->plugin, TP_TEST_PLUGIN_DIR);
    int t = tp_schema_find(e->plugin->desc->types[0]);
    ck_assert_int_ge(t, 0);
    e->type = (tp_report_type)t;
    e->schema = tp_schema_of(e->type);

    snprintf(e->input_path, sizeof e->input_path, "%s/input.csv", c->dir);
    e->input = slurp(c->dir, "input.csv", &e->input_len);
    ck_assert_msg(e->input != NULL, "case %s/%s: input.csv is missing", c->plugin, c->name);
    e->expected = slurp(c->dir, "expected.jsonl", NULL);
    ck_assert_msg(e->expected != NULL, "case %s/%s: expected.jsonl is missing", c->plugin, c->name);
    e->branch = chomp(slurp(c->dir, "branch", NULL));
    e->error = chomp(slurp(c->dir, "error", NULL));

    char *options = slurp(c->dir, "options.json", NULL);
    if (options && !e->branch)
        e->branch = strdup(OPTIONS_BRANCH); /* the branch the options are given to */
    if (options)
        e->cfg = options_config(e, options);
    else {
        e->cfg = tp_config_load(NULL, &err);
        ck_assert_msg(e->cfg != NULL, "%s", err.msg);
    }
    free(options);
    e->branch_cfg = e->branch ? tp_config_branch(e->cfg, e->branch) : NULL;

    char why[160];
    const tp_plugin *p = tp_registry_resolve(e->reg, e->schema->name, e->branch,
                                             tp_branch_plugin(e->branch_cfg, e->schema->name), NULL,
                                             why, sizeof why, &err);
    ck_assert_msg(p != NULL, "case %s/%s: %s", c->plugin, c->name, err.msg);
    ck_assert_msg(p == e->plugin,
                  "case %s/%s: %s for branch %s resolves to plugin %s (%s), but the case is "
                  "filed under %s",
                  c->plugin, c->name, e->schema->name, e->branch ? e->branch : "(none)",
                  p->desc->name, why, c->plugin);
}

static void case_close(case_env *e)
{
    tp_registry_destroy(e->reg);
    tp_config_destroy(e->cfg);
    free(e->branch);
    free(e->input);
    free(e->expected);
    free(e->error);
}

/* The parse as `tillpipe parse` runs it. */
static void run_engine(case_env *e)
{
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    ck_assert_ptr_nonnull(f);
    out_ctx o = {e->schema, f, 0, 0};
    tp_parse_sink sink = {on_row, on_problem, &o};
    opt_ctx oc = {e->branch_cfg, e->schema->name};
    tp_parse_options po = {.get = get_option, .ud = &oc};
    tp_parse_stats st;
    tp_error err = {0};
    int rc = tp_parse_file(e->plugin, e->type, e->input_path, &po, &sink, &st, &err);
    fclose(f);
    if (e->error) {
        ck_assert_msg(rc < 0, "case %s/%s: the parse succeeded, expected it to fail with: %s",
                      e->c->plugin, e->c->name, e->error);
        char *msg = replace_all(err.msg, e->input_path, "input.csv");
        ck_assert_msg(strcmp(msg, e->error) == 0,
                      "case %s/%s: the parse failed with\n  %s\nexpected\n  %s", e->c->plugin,
                      e->c->name, msg, e->error);
        free(msg);
    } else
        ck_assert_msg(rc == 0, "case %s/%s: the parse failed: %s", e->c->plugin, e->c->name,
                      err.msg);
    check_output(e->c, "tp_parse_file", e->expected, out);
    free(out);

    /* Select ranks candidates by tp_count_rows: it must count the data rows
     * the parse reads, emitted or rejected. */
    if (!e->error) {
        uint64_t counted = 0;
        const char *d = tp_branch_option(e->branch_cfg, e->schema->name, "delimiter");
        char delim = d && d[0] && !d[1] ? d[0] : 0; /* as the pipeline passes it */
        ck_assert_int_eq(tp_count_rows(e->input_path, delim, &counted, &err), 0);
        /* a file sent without its header: the count took line 1 for one */
        uint64_t headerless = strstr(e->expected, "header missing: the first line") != NULL;
        ck_assert_msg(counted + headerless == o.rows + o.rejected,
                      "case %s/%s: tp_count_rows counts %llu data rows, the parse read %llu "
                      "(%llu emitted, %llu rejected)",
                      e->c->plugin, e->c->name, (unsigned long long)counted,
                      (unsigned long long)(o.rows + o.rejected), (unsigned long long)o.rows,
                      (unsigned long long)o.rejected);
    }
}

/* ---- the plugin driven directly, in small chunks */

typedef struct chunk_host {
    const tp_schema *schema;
    out_ctx out;
    opt_ctx opts;
    char bad[200]; /* a row of the wrong shape, as parse.c refuses it */
} chunk_host;

/* tp_host is opaque to plugins; here it is a chunk_host. */
static int ch_emit(tp_host *h, uint64_t line, const tp_field *fields, size_t n)
{
    chunk_host *c = (chunk_host *)(void *)h;
    if (n != c->schema->nfields) {
        snprintf(c->bad, sizeof c->bad, "row of %zu fields at line %llu; %s rows have %zu", n,
                 (unsigned long long)line, c->schema->name, c->schema->nfields);
        return -1;
    }
    return on_row(&c->out, line, fields, n);
}

static void ch_problem(tp_host *h, uint64_t line, int severity, const char *reason)
{
    chunk_host *c = (chunk_host *)(void *)h;
    on_problem(&c->out, line, severity, reason ? reason : "(no reason given)");
}

static void ch_log(tp_host *h, int level, const char *msg) {}

static const char *ch_config(tp_host *h, const char *key)
{
    chunk_host *c = (chunk_host *)(void *)h;
    return get_option(&c->opts, key);
}

static const tp_host_api chunk_api = {
    .size = sizeof(tp_host_api),
    .abi_major = TP_SDK_ABI_MAJOR,
    .abi_minor = TP_SDK_ABI_MINOR,
    .emit = ch_emit,
    .problem = ch_problem,
    .log = ch_log,
    .config = ch_config,
};

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Feed the input in chunks of `size` bytes (0: pseudo-random 1..4), each in
 * an allocation of its own freed as soon as feed returns. */
static void run_chunked(case_env *e, size_t size)
{
    const tp_plugin_desc *d = e->plugin->desc;
    char *out = NULL;
    size_t outlen = 0;
    chunk_host host = {.schema = e->schema, .opts = {e->branch_cfg, e->schema->name}};
    host.out.schema = e->schema;
    host.out.f = open_memstream(&out, &outlen);
    ck_assert_ptr_nonnull(host.out.f);
    tp_host *h = (tp_host *)(void *)&host;
    char how[64];
    if (size)
        snprintf(how, sizeof how, "fed in %zu-byte chunks", size);
    else
        snprintf(how, sizeof how, "fed in random 1-4 byte chunks");

    void *state = NULL;
    int rc = d->open(&chunk_api, h, e->schema->name, &state);
    int opened = rc == TP_PLUGIN_OK;
    /* a case may expect the plugin to refuse its options: nothing to feed */
    ck_assert_msg(opened || e->error, "case %s/%s: open failed (%d)", e->c->plugin, e->c->name, rc);
    uint64_t seed = 0xC0FFEE ^ e->input_len;
    for (size_t at = 0; at < e->input_len && rc == TP_PLUGIN_OK;) {
        size_t n = size ? size : 1 + (size_t)(rng_next(&seed) % 4);
        if (n > e->input_len - at)
            n = e->input_len - at;
        char *chunk = malloc(n);
        ck_assert_ptr_nonnull(chunk);
        memcpy(chunk, e->input + at, n);
        rc = d->feed(state, &chunk_api, h, chunk, n);
        free(chunk);
        at += n;
    }
    if (rc == TP_PLUGIN_OK)
        rc = d->finish(state, &chunk_api, h);
    if (opened)
        d->close(state);
    fclose(host.out.f);
    ck_assert_msg(!host.bad[0], "case %s/%s (%s): plugin emitted a %s", e->c->plugin, e->c->name,
                  how, host.bad);
    if (e->error)
        ck_assert_msg(rc != TP_PLUGIN_OK,
                      "case %s/%s (%s): the parse succeeded, expected it "
                      "to fail with: %s",
                      e->c->plugin, e->c->name, how, e->error);
    else
        ck_assert_msg(rc == TP_PLUGIN_OK, "case %s/%s (%s): the plugin failed (%d)", e->c->plugin,
                      e->c->name, how, rc);
    check_output(e->c, how, e->expected, out);
    free(out);
}

START_TEST(test_case)
{
    case_env e;
    case_open(&e, &all_cases[_i]);
    run_engine(&e);
    static const size_t sizes[] = {1, 2, 3, 5, 7, 0};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        run_chunked(&e, sizes[i]);
    case_close(&e);
}
END_TEST

/* Every plugin the build ships has cases, and every case folder is complete. */
START_TEST(test_coverage)
{
    tp_error err = {0};
    tp_registry *reg = tp_registry_create();
    ck_assert_ptr_nonnull(reg);
    ck_assert_msg(tp_registry_load_dir(reg, TP_TEST_PLUGIN_DIR, &err) == 0, "%s", err.msg);
    ck_assert_msg(tp_registry_failure_count(reg) == 0, "a bundled plugin failed to load: %s: %s",
                  tp_registry_failure(reg, 0)->path, tp_registry_failure(reg, 0)->message);
    ck_assert_uint_gt(tp_registry_count(reg), 0);
    for (size_t i = 0; i < tp_registry_count(reg); i++) {
        const char *name = tp_registry_get(reg, i)->desc->name;
        int n = 0;
        for (int j = 0; j < ncases; j++)
            n += strcmp(all_cases[j].plugin, name) == 0;
        ck_assert_msg(n >= MIN_CASES_PER_PLUGIN,
                      "plugin %s has %d case%s in %s/%s, at least %d wanted", name, n,
                      n == 1 ? "" : "s", CASES_DIR, name, MIN_CASES_PER_PLUGIN);
    }
    tp_registry_destroy(reg);
}
END_TEST

/* ------------------------------------------------------------ layout limits */

/* The host of a layout_limits plugin: what it emits and reports, printed as
 * `tillpipe parse` does, and the "delimiter" option (or none). */
typedef struct limit_host {
    out_ctx out;
    const char *delimiter;
} limit_host;

static int lh_emit(tp_host *h, uint64_t line, const tp_field *fields, size_t n)
{
    limit_host *l = (limit_host *)(void *)h;
    ck_assert_uint_eq(n, TP_REF_NFIELDS);
    return on_row(&l->out, line, fields, n);
}

static void lh_problem(tp_host *h, uint64_t line, int severity, const char *reason)
{
    on_problem(&((limit_host *)(void *)h)->out, line, severity, reason);
}

static const char *lh_config(tp_host *h, const char *key)
{
    limit_host *l = (limit_host *)(void *)h;
    return strcmp(key, "delimiter") == 0 ? l->delimiter : NULL;
}

static const tp_host_api limit_api = {
    .size = sizeof(tp_host_api),
    .abi_major = TP_SDK_ABI_MAJOR,
    .abi_minor = TP_SDK_ABI_MINOR,
    .emit = lh_emit,
    .problem = lh_problem,
    .log = ch_log,
    .config = lh_config,
};

static tp_plugin *load_layout(const char *name, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s.so", TP_TEST_LAYOUT_DIR, name);
    tp_error err = {0};
    tp_plugin *p = tp_plugin_load(path, &err);
    ck_assert_msg(p != NULL, "%s did not load: %s", path, err.msg);
    return p;
}

/* Parse `input` with plugin `name`, fed 3 bytes at a time (1000 for long
 * inputs: each feed reads the carried record again); *out gets the output
 * (caller frees).  Returns the first callback result that is not OK. */
static int drive_layout(const char *name, const char *delimiter, const char *input, char **out)
{
    char path[PATH_MAX];
    tp_plugin *p = load_layout(name, path, sizeof path);
    const tp_plugin_desc *d = p->desc;
    size_t outlen = 0, len = strlen(input);
    limit_host lh = {.out = {tp_schema_of(TP_TYPE_RD5900), NULL, 0, 0}, .delimiter = delimiter};
    lh.out.f = open_memstream(out, &outlen);
    ck_assert_ptr_nonnull(lh.out.f);
    tp_host *h = (tp_host *)(void *)&lh;
    void *state = NULL;
    int rc = d->open(&limit_api, h, "rd5900", &state);
    int opened = rc == TP_PLUGIN_OK;
    size_t step = len < 1000 ? 3 : 1000;
    for (size_t at = 0; rc == TP_PLUGIN_OK && at < len; at += step)
        rc = d->feed(state, &limit_api, h, input + at, len - at < step ? len - at : step);
    if (rc == TP_PLUGIN_OK)
        rc = d->finish(state, &limit_api, h);
    if (opened)
        d->close(state);
    fclose(lh.out.f);
    tp_plugin_unload(p);
    return rc;
}

/* The JSON line `tillpipe parse` prints for a problem. */
static char *problem_line(uint64_t line, int severity, const char *reason)
{
    char *text = NULL;
    size_t len = 0;
    out_ctx o = {NULL, open_memstream(&text, &len), 0, 0};
    ck_assert_ptr_nonnull(o.f);
    on_problem(&o, line, severity, reason);
    fclose(o.f);
    return text;
}

static const struct {
    const char *plugin;
    const char *problem;
} layout_refusals[] = {
    {"wide33", "layout for rd5900 has 33 columns; a layout has at most 32"},
    {"beyond", "layout for rd5900: field CODE reads column 4096; columns are 0..4095"},
    {"negative", "layout for rd5900: field CODE reads column -1; columns are 0..4095"},
    {"alt_negative",
     "layout for rd5900: field NAME has alt_col -1; it is 0 (none) or a column 1..4095"},
    {"gap", "layout for rd5900: column entry 1 has no field name (an output field left out of "
            "the column map?)"},
    {"quote_delim", "layout for rd5900: delimiter 0x22 cannot be used; use a tab, or printable "
                    "ASCII other than a letter, a digit, a space or '\"' (e.g. \";\" or \"|\")"},
    {"bad_flags", "layout for rd5900: field CODE has unknown flags 0x80"},
    {"long_name", "layout for rd5900: field name \"CODE_WITH_A_NAME_FAR_TOO_LONG_FOR_OPTION...\" "
                  "is longer than 40 bytes"},
};

/* A layout past a limit is refused at open: one error problem for the file,
 * TP_PLUGIN_EINVAL, nothing read -- and the engine says so for the file. */
START_TEST(test_layout_refused)
{
    const char *plugin = layout_refusals[_i].plugin, *problem = layout_refusals[_i].problem;
    char *out = NULL;
    ck_assert_int_eq(drive_layout(plugin, NULL, "PAY_CODE,PAY_DESC\n1,CASH\n", &out),
                     TP_PLUGIN_EINVAL);
    char *want = problem_line(0, TP_PROBLEM_ERROR, problem);
    ck_assert_msg(strcmp(out, want) == 0, "%s: got\n%s\nwant\n%s", plugin, out, want);
    free(out);
    free(want);

    char path[PATH_MAX], msg[600];
    tp_plugin *p = load_layout(plugin, path, sizeof path);
    tp_parse_sink sink = {NULL, NULL, NULL};
    tp_error err = {0};
    const char *input = CASES_DIR "/rd5900/classic/input.csv";
    ck_assert_int_eq(tp_parse_file(p, TP_TYPE_RD5900, input, NULL, &sink, NULL, &err), TP_EPARSE);
    snprintf(msg, sizeof msg, "%s:0: %s", input, problem);
    ck_assert_str_eq(err.msg, msg);
    tp_plugin_unload(p);
}
END_TEST

static void check_layout_run(const char *plugin, const char *delimiter, const char *input,
                             int want_rc, const char *want)
{
    char *out = NULL;
    int rc = drive_layout(plugin, delimiter, input, &out);
    ck_assert_msg(rc == want_rc && strcmp(out, want) == 0,
                  "%s (delimiter %s) returned %d, want %d; output\n%s\nwant\n%s", plugin,
                  delimiter ? delimiter : "unset", rc, want_rc, out, want);
    free(out);
}

/* TPP_MAX_COLUMNS columns and column TPP_MAX_COLUMN_INDEX are accepted, and
 * that column is the last one the reader delivers. */
START_TEST(test_layout_at_limits)
{
    check_layout_run("wide32", NULL, "", TP_PLUGIN_OK,
                     "{\"line\":0,\"severity\":\"warning\",\"problem\":\"file is empty: no header "
                     "row\"}\n");
    char *in = NULL, *want = NULL;
    size_t inlen = 0, wantlen = 0;
    FILE *f = open_memstream(&in, &inlen);
    ck_assert_ptr_nonnull(f);
    for (int row = 0; row < 2; row++)
        for (int i = 0; i <= TPP_MAX_COLUMN_INDEX + row; i++)
            fprintf(f, "c%d%c", i, i < TPP_MAX_COLUMN_INDEX + row ? ',' : '\n');
    fclose(f);
    f = open_memstream(&want, &wantlen);
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"line\":1,\"row\":{\"CODE\":\"c%d\",\"NAME\":\"c1\"}}\n", TPP_MAX_COLUMN_INDEX);
    fputs("{\"line\":2,\"severity\":\"error\",\"problem\":\"record has too many fields\"}\n", f);
    fclose(f);
    check_layout_run("far", NULL, in, TP_PLUGIN_EINVAL, want);
    free(in);
    free(want);
}
END_TEST

/* The layout's delimiter, and the option replacing it. */
START_TEST(test_layout_delimiter)
{
    check_layout_run("semicolon", NULL, "PAY_CODE;PAY_DESC\n1;\"A;B\"\n2;C,D\n", TP_PLUGIN_OK,
                     "{\"line\":2,\"row\":{\"CODE\":\"1\",\"NAME\":\"A;B\"}}\n"
                     "{\"line\":3,\"row\":{\"CODE\":\"2\",\"NAME\":\"C,D\"}}\n");
    check_layout_run("semicolon", ",", "PAY_CODE,PAY_DESC\n1,A;B\n", TP_PLUGIN_OK,
                     "{\"line\":2,\"row\":{\"CODE\":\"1\",\"NAME\":\"A;B\"}}\n");
    check_layout_run("no_header", "|", "1|\"CASH|CARD\"\n2|X\n", TP_PLUGIN_OK,
                     "{\"line\":1,\"row\":{\"CODE\":\"1\",\"NAME\":\"CASH|CARD\"}}\n"
                     "{\"line\":2,\"row\":{\"CODE\":\"2\",\"NAME\":\"X\"}}\n");
    check_layout_run("no_header", "\t", "1\tA,B;C\n", TP_PLUGIN_OK,
                     "{\"line\":1,\"row\":{\"CODE\":\"1\",\"NAME\":\"A,B;C\"}}\n");
}
END_TEST

/* Values of the "delimiter" option that are refused: not one byte, or one
 * that would make files ambiguous. */
static const char *const bad_delimiters[] = {"",  "ab", "\"", " ",    "a",        "Z",
                                             "7", "\n", "\r", "\x01", "\xc3\xa9", ";;"};

START_TEST(test_layout_bad_delimiter_option)
{
    const char *v = bad_delimiters[_i];
    char reason[300];
    snprintf(reason, sizeof reason,
             "option delimiter must be one character: a tab, or printable ASCII other than a "
             "letter, a digit, a space or '\"' (e.g. \";\" or \"|\"); got \"%s\"",
             v);
    char *want = problem_line(0, TP_PROBLEM_ERROR, reason);
    check_layout_run("semicolon", v, "PAY_CODE;PAY_DESC\n1;A\n", TP_PLUGIN_ECONFIG, want);
    free(want);
}
END_TEST

/* TPP_REQUIRED rejects a row whose field is empty after unguarding; an
 * alt_col is read by rows that reach it. */
START_TEST(test_layout_required_and_alt)
{
    check_layout_run("required", NULL,
                     "PAY_CODE,PAY_DESC\n=\"\",X\n7,SHORT\n8,IGNORED,x,LONG\n\"=\"\"09\"\"\",Y\n",
                     TP_PLUGIN_OK,
                     "{\"line\":2,\"severity\":\"error\",\"problem\":\"CODE is empty (column 0) "
                     "and required\"}\n"
                     "{\"line\":3,\"row\":{\"CODE\":\"7\",\"NAME\":\"SHORT\"}}\n"
                     "{\"line\":4,\"row\":{\"CODE\":\"8\",\"NAME\":\"LONG\"}}\n"
                     "{\"line\":5,\"row\":{\"CODE\":\"09\",\"NAME\":\"Y\"}}\n");
}
END_TEST

int main(void)
{
    find_cases();
    if (ncases == 0)
        fprintf(stderr, "test_plugins: no cases found in %s\n", CASES_DIR);
    Suite *s = suite_create("plugins");
    TCase *tc = tcase_create("cases");
    tcase_add_test(tc, test_coverage);
    tcase_add_loop_test(tc, test_case, 0, ncases);
    suite_add_tcase(s, tc);
    tc = tcase_create("layout");
    tcase_add_loop_test(tc, test_layout_refused, 0,
                        (int)(sizeof layout_refusals / sizeof layout_refusals[0]));
    tcase_add_test(tc, test_layout_at_limits);
    tcase_add_test(tc, test_layout_delimiter);
    tcase_add_loop_test(tc, test_layout_bad_delimiter_option, 0,
                        (int)(sizeof bad_delimiters / sizeof bad_delimiters[0]));
    tcase_add_test(tc, test_layout_required_and_alt);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s);
    free(all_cases);
    return failed || ncases == 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
