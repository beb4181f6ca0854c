/* conform_check.c -- the conformance kit's checks, run in a forked child
 * (conform.h): a case or smoke input parsed at every chunk size, the stop
 * check and the memory check, each driving the plugin through the kit's
 * host (conform_host.c).  Each check ends by writing its outcome into the
 * shared tp__kit_shared; the runner (conform.c) prints it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conform_int.h"

#define MEM_CHUNK 65536 /* bytes per feed in the memory check */
#define MEM_POLL 16     /* memory check: read the RSS every this many feeds */

/* ------------------------------------------------------------ the outcome */

static void outcome(const tp__kit *k, int failed, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void outcome(const tp__kit *k, int failed, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->sh->msg, sizeof k->sh->msg, fmt, ap);
    va_end(ap);
    k->sh->failed = failed;
    k->sh->done = 1;
}

#define FAIL(k, ...) outcome((k), 1, __VA_ARGS__)
#define PASS(k, ...) outcome((k), 0, __VA_ARGS__)

/* What one parse printed. */
typedef struct kit_run {
    char *text; /* rows and problems, JSON lines */
    size_t len;
    int rc;
    char result[700]; /* tp__kit_result() */
    uint64_t rows, problems;
} kit_run;

/* A host for one parse of type `s` with the options `o`. */
static void host_init(tp__kit_host *h, const tp__kit *k, const tp_schema *s, const tp__kit_opts *o)
{
    int opts = o && o->cfg;
    tp__kit_host_init(h, k->sh, s, opts ? tp_branch_type_option : NULL,
                      opts ? (void *)&o->bt : NULL);
}

/* Parse data[0..len) in chunks of `chunk` bytes into *r.  0, or -1 with the
 * rule the plugin broke in `why` (r then holds nothing). */
static int run_once(const tp__kit *k, const tp_schema *s, const tp__kit_opts *o, const char *data,
                    size_t len, size_t chunk, kit_run *r, char *why, size_t whyn)
{
    memset(r, 0, sizeof *r);
    tp__kit_host h;
    host_init(&h, k, s, o);
    h.out = open_memstream(&r->text, &r->len);
    if (!h.out) {
        snprintf(why, whyn, "the kit ran out of memory");
        return -1;
    }
    atomic_store(&k->sh->len, len);
    atomic_store(&k->sh->chunk, chunk);
    tp__kit_slice src = {{tp__kit_slice_next, 0}, data, len, 0, chunk ? chunk : 1, NULL};
    r->rc = tp__kit_drive(&h, k->plugin->desc, &src.base);
    free(src.copy);
    int bad = fclose(h.out) != 0 || src.base.halt;
    r->rows = h.rows;
    r->problems = h.problems;
    tp__kit_result(&h, k->plugin->desc->name, r->rc, r->result, sizeof r->result);
    if (h.breach[0] || bad) {
        snprintf(why, whyn, "%s", h.breach[0] ? h.breach : "the kit ran out of memory");
        free(r->text);
        r->text = NULL;
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ comparing */

/* The length of the line at p (to its newline or `end`). */
static size_t line_len(const char *p, const char *end)
{
    const char *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
    return p >= end ? 0 : nl ? (size_t)(nl - p) : (size_t)(end - p);
}

/* "line 3: got X; WHAT: Y" where got and want first differ; 0 when equal. */
static int text_diff(const char *got, size_t glen, const char *want, size_t wlen, const char *what,
                     char *buf, size_t n)
{
    if (glen == wlen && memcmp(got, want, glen) == 0)
        return 0;
    const char *g = got, *ge = got + glen, *w = want, *we = want + wlen;
    for (size_t i = 1;; i++) {
        size_t gn = line_len(g, ge), wn = line_len(w, we);
        if (g < ge && w < we && gn == wn && memcmp(g, w, gn) == 0) {
            g += gn + (g + gn < ge); /* past the line and its newline */
            w += wn + (w + wn < we);
            continue;
        }
        if (g >= ge && w >= we) /* only a final newline differs */
            snprintf(buf, n, "the last line: one ends with a newline, the other not");
        else
            snprintf(buf, n, "line %zu: got %.*s%s; %s: %.*s%s", i, (int)(gn < 200 ? gn : 200),
                     g < ge ? g : "",
                     g < ge ? (gn > 200 ? "..." : "") : "(nothing: the output ends)", what,
                     (int)(wn < 200 ? wn : 200), w < we ? w : "",
                     w < we ? (wn > 200 ? "..." : "") : "(nothing: it ends)");
        return 1;
    }
}

/* ------------------------------------------------------------ case and smoke */

/* The chunk size after `c` for an input of `len` bytes: every size up to
 * TP_CONFORM_EVERY_SIZE bytes; past it 1..64 (1..8 past 1 MiB), then the
 * powers of two.  Sizes from `len` on are the whole input, parsed first. */
static size_t next_size(size_t len, size_t c)
{
    size_t every = len <= TP_CONFORM_EVERY_SIZE ? len : len <= (1u << 20) ? 64 : 8;
    if (c < every)
        return c + 1;
    size_t p = 1;
    while (p <= c)
        p <<= 1;
    return p;
}

/* Parse at every planned chunk size below the whole; each output must be
 * `ref`'s.  The number of parses (with the whole) in *count; 0, or -1 after
 * writing the failure. */
static int sweep(const tp__kit *k, const tp_schema *s, const tp__kit_input *in, const kit_run *ref,
                 size_t *count)
{
    *count = 1;
    for (size_t c = 1; c < in->len; c = next_size(in->len, c)) {
        kit_run r;
        char why[600], diff[700];
        if (run_once(k, s, &in->opts, in->data, in->len, c, &r, why, sizeof why) < 0) {
            FAIL(k, " at chunk size %zu: %s", c, why);
            return -1;
        }
        int differs =
            text_diff(r.text, r.len, ref->text, ref->len, "whole input", diff, sizeof diff);
        free(r.text);
        if (differs) {
            FAIL(k, " at chunk size %zu: output differs from the whole-input parse at %s", c, diff);
            return -1;
        }
        if (strcmp(r.result, ref->result) != 0) {
            FAIL(k, " at chunk size %zu: the parse ended \"%s\"; with the whole input \"%s\"", c,
                 r.result, ref->result);
            return -1;
        }
        (*count)++;
    }
    return 0;
}

/* The whole-input parse against expected.jsonl and error.  0, or -1 after
 * writing the failure. */
static int against_expected(const tp__kit *k, const tp__kit_input *in, const kit_run *ref,
                            int is_case)
{
    char diff[700];
    if (in->expected && text_diff(ref->text, ref->len, in->expected, in->expected_len,
                                  "expected.jsonl", diff, sizeof diff)) {
        FAIL(k, ": output differs from expected.jsonl at %s", diff);
        return -1;
    }
    if (in->error && ref->rc == TP_PLUGIN_OK) {
        FAIL(k, ": the parse succeeded; error says it fails with: %s", in->error);
        return -1;
    }
    if (in->error && strcmp(ref->result, in->error) != 0) {
        FAIL(k, ": the parse failed with \"%s\"; error says \"%s\"", ref->result, in->error);
        return -1;
    }
    if (is_case && !in->error && ref->rc != TP_PLUGIN_OK) {
        FAIL(k, ": the parse failed: %s (a case that fails says so in a file named error)",
             ref->result);
        return -1;
    }
    return 0;
}

/* A case or smoke input: the whole input first (the reference), checked
 * against the case's files, then every chunk size against it. */
static void check_input(const tp__kit *k, const tp_schema *s, const tp__kit_input *in, int is_case)
{
    kit_run ref;
    char why[600];
    if (run_once(k, s, &in->opts, in->data, in->len, in->len, &ref, why, sizeof why) < 0) {
        FAIL(k, " on the whole input (%zu bytes): %s", in->len, why);
        return;
    }
    size_t count = 0;
    if (against_expected(k, in, &ref, is_case) == 0 && sweep(k, s, in, &ref, &count) == 0) {
        char sizes[120];
        if (in->len == 0)
            snprintf(sizes, sizeof sizes, "the empty input (no feed)");
        else if (in->len <= TP_CONFORM_EVERY_SIZE)
            snprintf(sizes, sizeof sizes, "the same output at every chunk size 1..%zu", in->len);
        else
            snprintf(sizes, sizeof sizes,
                     "the same output at %zu chunk sizes (1..%d, the powers of two, the whole)",
                     count, in->len <= (1u << 20) ? 64 : 8);
        PASS(k, ": %llu row%s, %llu problem%s, %s%s; %s%s", (unsigned long long)ref.rows,
             ref.rows == 1 ? "" : "s", (unsigned long long)ref.problems,
             ref.problems == 1 ? "" : "s",
             ref.rc == TP_PLUGIN_OK ? "result " : "failed: ", ref.result, sizes,
             in->expected
                 ? (in->error ? "; as expected.jsonl and error say" : "; as expected.jsonl says")
                 : "");
    }
    free(ref.text);
}

/* ------------------------------------------------------------ the sample */

/* The size of case i's input.csv when it may be a sample (it exists, is
 * not over the limit, and the case has no error file), else 0. */
static size_t sample_size(const tp__kit *k, size_t i)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/error", k->cases[i].dir);
    if (stat(path, &st) == 0)
        return 0;
    snprintf(path, sizeof path, "%s/input.csv", k->cases[i].dir);
    if (stat(path, &st) != 0 || (size_t)st.st_size > TP_CONFORM_MAX_INPUT)
        return 0;
    return (size_t)st.st_size;
}

/* Rows the plugin should take, for the stop and memory checks: the largest
 * input of a case that loads (options included) and has no error file --
 * the first by name among equals -- else the built-in rows of the type.
 * `what` names it.  0, or -1 after writing the failure. */
static int sample_load(const tp__kit *k, const tp_schema *s, tp__kit_input *in, char *what,
                       size_t n)
{
    char why[600];
    size_t below = (size_t)-1; /* sizes from `below` up have been tried */
    for (;;) {
        size_t best = k->ncases, best_len = 0;
        for (size_t i = 0; i < k->ncases; i++) {
            size_t len = sample_size(k, i);
            if (len > best_len && len < below) {
                best = i;
                best_len = len;
            }
        }
        if (best == k->ncases)
            break;
        for (size_t i = best; i < k->ncases; i++) {
            if (sample_size(k, i) != best_len)
                continue;
            if (tp__kit_case_load(k, &k->cases[i], s, in, why, sizeof why) == 0) {
                snprintf(what, n, "case %s", k->cases[i].name);
                return 0;
            }
        }
        below = best_len;
    }
    if (tp__kit_smoke_load(s, TP__SMOKE_ROWS, in) < 0) {
        FAIL(k, ": out of memory");
        return -1;
    }
    snprintf(what, n, "the built-in %s rows", s->name);
    return 0;
}

/* " on the whole input (N bytes)" or " at chunk size N", as the runner says
 * it. */
static const char *at_chunk(size_t chunk, size_t len, char *buf, size_t n)
{
    if (chunk >= len)
        snprintf(buf, n, " on the whole input (%zu bytes)", len);
    else
        snprintf(buf, n, " at chunk size %zu", chunk);
    return buf;
}

/* Why a refused emit was not honoured, or NULL when it was. */
static const char *stop_failure(const tp__kit_host *h, char *buf, size_t n)
{
    const char *call = tp__kit_call_name(h->refusal_call);
    if (h->breach[0])
        snprintf(buf, n, "%s", h->breach);
    else if (!h->refused)
        return NULL; /* no row to refuse */
    else if (h->after_refusal)
        snprintf(buf, n,
                 "emit refused row 1 (returned -1), yet %s offered %llu more row(s); after a "
                 "refusal the plugin must return TP_PLUGIN_ESTOP",
                 call, (unsigned long long)h->after_refusal);
    else if (h->refusal_rc != TP_PLUGIN_ESTOP)
        snprintf(buf, n,
                 "emit refused row 1 (returned -1) and %s returned %d; it must return "
                 "TP_PLUGIN_ESTOP (%d)",
                 call, h->refusal_rc, TP_PLUGIN_ESTOP);
    else
        return NULL;
    return buf;
}

/* Emit refuses the first row, fed whole and in 1-byte chunks: the plugin
 * must offer no other row in that call and return TP_PLUGIN_ESTOP. */
static void check_stop(const tp__kit *k, const tp_schema *s)
{
    tp__kit_input in;
    char what[200], why[600], at[80];
    if (sample_load(k, s, &in, what, sizeof what) < 0)
        return;
    static const size_t chunks[] = {0, 1}; /* 0: the whole input */
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0] && !k->sh->done; i++) {
        size_t chunk = chunks[i] ? chunks[i] : in.len;
        tp__kit_host h;
        host_init(&h, k, s, &in.opts);
        h.refuse_row = 1;
        atomic_store(&k->sh->len, in.len);
        atomic_store(&k->sh->chunk, chunk);
        tp__kit_slice src = {{tp__kit_slice_next, 0}, in.data, in.len, 0, chunk ? chunk : 1, NULL};
        tp__kit_drive(&h, k->plugin->desc, &src.base);
        free(src.copy);
        if (stop_failure(&h, why, sizeof why))
            FAIL(k, " (%s)%s: %s", what, at_chunk(chunk, in.len, at, sizeof at), why);
        else if (!h.refused && i == 0)
            PASS(k, ": not exercised: %s gave no row to refuse", what);
    }
    if (!k->sh->done)
        PASS(k,
             ": emit refused row 1 of %s; the plugin stopped with TP_PLUGIN_ESTOP (one feed, "
             "and 1-byte chunks)",
             what);
    tp__kit_input_free(&in);
}

/* ------------------------------------------------------------ memory */

/* The peak (VmHWM) or current (VmRSS) resident set in KiB; -1 when
 * /proc/self/status cannot be read. */
static long long status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long long v = -1;
    size_t kl = strlen(key);
    while (v < 0 && fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0)
            v = strtoll(line + kl, NULL, 10);
    fclose(f);
    return v;
}

/* The peak so far is the kit's and its parent's: start it again at the
 * current resident set (Linux 4.0+; without it the growth is counted from the
 * older peak, which can only hide some of it). */
static void reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

static long long peak_kib(void)
{
    long long hwm = status_kib("VmHWM:"), rss = status_kib("VmRSS:");
    return hwm > rss ? hwm : rss;
}

/* The generated input: the sample's first line once, then the rest of it
 * again and again, to `total` bytes (whole repetitions), produced into one
 * reused buffer; the resident set is read every MEM_POLL feeds and the
 * source halts once it has grown past the limit. */
typedef struct gen_source {
    tp__kit_source base;
    const char *head, *body;
    size_t head_len, body_len;
    uint64_t total, pos;
    char *buf;
    unsigned feeds;
    long long base_kib, peak_kib, limit_kib;
    tp__kit_shared *sh;
} gen_source;

static const char *gen_next(tp__kit_source *s, size_t *n)
{
    gen_source *g = (gen_source *)s;
    atomic_store(&g->sh->fed, g->pos);
    if (++g->feeds % MEM_POLL == 0) {
        long long now = peak_kib();
        g->peak_kib = now > g->peak_kib ? now : g->peak_kib;
        if (g->peak_kib - g->base_kib > g->limit_kib) {
            s->halt = 1;
            return NULL;
        }
    }
    size_t got = 0;
    while (got < MEM_CHUNK && g->pos < g->total) {
        const char *src;
        size_t avail;
        if (g->pos < g->head_len) {
            src = g->head + g->pos;
            avail = g->head_len - (size_t)g->pos;
        } else {
            size_t off = (size_t)((g->pos - g->head_len) % g->body_len);
            src = g->body + off;
            avail = g->body_len - off;
        }
        if (avail > MEM_CHUNK - got)
            avail = MEM_CHUNK - got;
        memcpy(g->buf + got, src, avail);
        got += avail;
        g->pos += avail;
    }
    *n = got;
    return got ? g->buf : NULL;
}

/* Split the sample into its first line and the rest, the rest ending with a
 * line end (a copy in *owned when one had to be added).  0, or -1 when the
 * sample has no line after the first. */
static int gen_split(gen_source *g, const tp__kit_input *in, char **owned)
{
    *owned = NULL;
    const char *nl = memchr(in->data, '\n', in->len);
    if (!nl || (size_t)(nl - in->data) + 1 >= in->len)
        return -1;
    g->head = in->data;
    g->head_len = (size_t)(nl - in->data) + 1;
    g->body = nl + 1;
    g->body_len = in->len - g->head_len;
    if (g->body[g->body_len - 1] != '\n') {
        const char *eol = g->head_len > 1 && nl[-1] == '\r' ? "\r\n" : "\n";
        size_t el = strlen(eol);
        if (!(*owned = malloc(g->body_len + el)))
            return -1;
        memcpy(*owned, g->body, g->body_len);
        memcpy(*owned + g->body_len, eol, el);
        g->body = *owned;
        g->body_len += el;
    }
    return 0;
}

static void memory_report(const tp__kit *k, const gen_source *g, const tp__kit_host *h, int rc,
                          const char *what)
{
    double grew = (double)(g->peak_kib - g->base_kib) / 1024.0, mb = (double)g->pos / 1e6;
    double limit = (double)k->memory_limit / (1024.0 * 1024.0);
    char result[700];
    tp__kit_result(h, k->plugin->desc->name, rc, result, sizeof result);
    if (h->breach[0])
        FAIL(k, " after %.1f MB of generated input (%s): %s", mb, what, h->breach);
    else if (g->base.halt)
        FAIL(k,
             ": peak RSS grew by %.1f MiB after %.1f MB of generated input (%s), past the "
             "limit of %.0f MiB: memory must not grow with the file (sdk.h)",
             grew, mb, what, limit);
    else if (rc != TP_PLUGIN_OK)
        FAIL(k,
             ": the plugin failed after %.1f MB of generated input (%s): %s; the memory check "
             "needs a sample it parses (--cases)",
             mb, what, result);
    else
        PASS(k,
             ": peak RSS grew %.1f MiB over %.1f MB of generated input (%s: %llu row%s, %llu "
             "problem%s); limit %.0f MiB",
             grew, mb, what, (unsigned long long)h->rows, h->rows == 1 ? "" : "s",
             (unsigned long long)h->problems, h->problems == 1 ? "" : "s", limit);
}

/* k->memory_input bytes of the sample repeated, fed MEM_CHUNK bytes at a
 * time: the peak RSS may grow by at most k->memory_limit. */
static void check_memory(const tp__kit *k, const tp_schema *s)
{
    tp__kit_input in;
    char what[200], *owned = NULL;
    if (sample_load(k, s, &in, what, sizeof what) < 0)
        return;
    gen_source g = {.base = {gen_next, 0}, .sh = k->sh, .limit_kib = k->memory_limit / 1024};
    if (gen_split(&g, &in, &owned) < 0 || !(g.buf = malloc(MEM_CHUNK))) {
        FAIL(k, ": %s has no row after its first line to repeat", what);
        goto out;
    }
    uint64_t reps = (uint64_t)k->memory_input > g.head_len
                        ? ((uint64_t)k->memory_input - g.head_len + g.body_len - 1) / g.body_len
                        : 1;
    g.total = g.head_len + reps * g.body_len;
    reset_peak();
    g.base_kib = g.peak_kib = peak_kib();
    if (g.base_kib < 0) {
        FAIL(k, ": cannot read /proc/self/status: %s", strerror(errno));
        goto out;
    }
    tp__kit_host h;
    host_init(&h, k, s, &in.opts);
    atomic_store(&k->sh->len, (size_t)g.total);
    atomic_store(&k->sh->chunk, (size_t)MEM_CHUNK);
    int rc = tp__kit_drive(&h, k->plugin->desc, &g.base);
    long long now = peak_kib();
    g.peak_kib = now > g.peak_kib ? now : g.peak_kib;
    memory_report(k, &g, &h, rc, what);
out:
    free(g.buf);
    free(owned);
    tp__kit_input_free(&in);
}

/* ------------------------------------------------------------ dispatch */

void tp__kit_check_run(const tp__kit *k, const tp__kit_check *c)
{
    tp__kit_input in;
    char why[600];
    switch (c->kind) {
    case TP__CHECK_CASE:
        if (tp__kit_case_load(k, &k->cases[c->index], c->schema, &in, why, sizeof why) < 0) {
            FAIL(k, "%s", why);
            return;
        }
        check_input(k, c->schema, &in, 1);
        tp__kit_input_free(&in);
        break;
    case TP__CHECK_SMOKE:
        if (tp__kit_smoke_load(c->schema, c->index, &in) < 0) {
            FAIL(k, ": out of memory");
            return;
        }
        check_input(k, c->schema, &in, 0);
        tp__kit_input_free(&in);
        break;
    case TP__CHECK_STOP: check_stop(k, c->schema); break;
    case TP__CHECK_MEMORY: check_memory(k, c->schema); break;
    default: FAIL(k, ": unknown check %d", c->kind);
    }
}
