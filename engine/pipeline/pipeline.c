/* pipeline.c -- see pipeline.h. */
#include "pipeline.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/combine.h"
#include "io/scan.h"
#include "parse.h"

typedef struct ctx {
    tp_combine *combine;
    tp_report_type type;
    const tp_candidate *file;
    tp_termday_result *res;
    tp_record_fn fn;
    void *ud;
    tp_error *err;
    int oom;
    int pass_only; /* a preliminary pass: do not count rows or bytes */
    /* the order lines' transaction numbers, as the loyalty parse's key hint */
    char *tbuf;
    size_t tlen, tcap;
    tp_field *keys;
    size_t nkeys, kcap;
} ctx;

/* Keep one transaction number (its bytes; pointers are made at the end). */
static int keep_transno(ctx *c, tp_field f)
{
    if (c->tlen + f.len > c->tcap || c->nkeys == c->kcap) {
        size_t tcap = c->tcap ? c->tcap : 16384, kcap = c->kcap ? c->kcap : 1024;
        while (tcap < c->tlen + f.len)
            tcap *= 2;
        kcap *= c->nkeys == c->kcap ? 2 : 1;
        char *t = realloc(c->tbuf, tcap);
        if (t)
            c->tbuf = t, c->tcap = tcap;
        tp_field *k = realloc(c->keys, kcap * sizeof *k);
        if (k)
            c->keys = k, c->kcap = kcap;
        if (!t || !k)
            return -1;
    }
    memcpy(c->tbuf + c->tlen, f.ptr, f.len);
    c->keys[c->nkeys++] = (tp_field){(const char *)(uintptr_t)c->tlen, f.len};
    c->tlen += f.len;
    return 0;
}

static void on_problem(void *ud, uint64_t line, int severity, const char *reason)
{
    ctx *c = ud;
    if (tp_quality_add(&c->res->quality, c->file->name, line, severity, reason) < 0)
        c->oom = 1;
}

static int on_ref_row(void *ud, uint64_t line, const tp_field *f, size_t n)
{
    ctx *c = ud;
    if (tp_combine_ref_row(c->combine, c->type, f, n) < 0) {
        tp_error_set(c->err, TP_ENOMEM, "out of memory");
        return -1;
    }
    return 0;
}

static int on_transno(void *ud, uint64_t line, const tp_field *f, size_t n)
{
    ctx *c = ud;
    if (n > TP_RD5000_TRANSNO && (tp_combine_want_transno(c->combine, f[TP_RD5000_TRANSNO]) < 0 ||
                                  keep_transno(c, f[TP_RD5000_TRANSNO]) < 0)) {
        tp_error_set(c->err, TP_ENOMEM, "out of memory");
        return -1;
    }
    return 0;
}

static int on_order_row(void *ud, uint64_t line, const tp_field *f, size_t n)
{
    ctx *c = ud;
    tp_record r;
    int rc = tp_combine_order_row(c->combine, f, n, c->file->name, line, &c->res->quality, &r);
    if (rc < 0) {
        tp_error_set(c->err, TP_ENOMEM, "out of memory");
        return -1;
    }
    if (rc == 0)
        return 0;
    if (c->fn(c->ud, &r, c->err) < 0)
        return -1;
    c->res->records++;
    return 0;
}

/* Parse the chosen file of `type` with the resolved plugin. */
static int parse_type(const tp_pipeline *p, tp_termday *td, const tp_branch_cfg *bc,
                      tp_report_type type, ctx *c, tp_parse_sink *sink, tp_error *err)
{
    int idx = td->chosen[type];
    if (idx < 0)
        return TP_OK;
    const char *tname = tp_schema_of(type)->name;
    const tp_plugin *pl =
        tp_registry_resolve(p->plugins, tname, td->branch, tp_branch_plugin(bc, tname),
                            tp_branch_plugin_version(bc, tname), c->res->plugin_why[type],
                            sizeof c->res->plugin_why[type], err);
    if (!pl)
        return err ? err->code : TP_EPLUGIN;
    c->res->plugin[type] = pl;
    char why[512];
    if (p->refuse && p->refuse(p->refuse_ud, pl, why, sizeof why)) {
        c->res->refused = 1;
        return tp_error_set(err, TP_EPLUGIN, "%s (for %s of branch %s)", why, tname, td->branch);
    }
    c->type = type;
    c->file = &td->cands[idx];
    tp_branch_type bt = {bc, tname};
    tp_parse_options opts = {.get = tp_branch_type_option,
                             .at = tp_branch_type_option_at,
                             .ud = &bt,
                             .cancelled = p->cancelled,
                             .cancel_ud = p->cancel_ud};
    if (c->pass_only) /* the transaction numbers alone */
        opts.fields = 1ull << TP_RD5000_TRANSNO;
    if (type == TP_TYPE_BLPR && c->nkeys) { /* the loyalty rows of these alone (as the
                                                 combine's own filter) */
        opts.key = TP_BLPR_ORNO;
        opts.keys = c->keys;
        opts.nkeys = c->nkeys;
    }
    tp_parse_stats st;
    int rc = tp_parse_file(pl, type, c->file->path, &opts, sink, &st, err);
    if (rc == TP_ECRASHED)
        c->res->failed = pl;
    if (!c->pass_only) {
        c->res->rows_parsed += st.rows;
        c->res->bytes += st.bytes;
        /* every data row was either emitted or rejected with a problem */
        if (rc == TP_OK)
            tp_candidate_set_rows(&td->cands[idx], st.rows + st.rejected);
    }
    if (rc == TP_OK && c->oom)
        rc = tp_error_set(err, TP_ENOMEM, "out of memory");
    return rc;
}

/* Each type's delimiter as the branch's "delimiter" parser option gives it
 * (one character; anything else is the plugin's to refuse). */
static void delimiters_of(const tp_branch_cfg *bc, tp_delimiters *d)
{
    memset(d, 0, sizeof *d);
    for (int t = 0; bc && t < TP_TYPE_COUNT; t++) {
        const char *v = tp_branch_option(bc, tp_schema_of(t)->name, "delimiter");
        if (v && v[0] && !v[1])
            d->of[t] = v[0];
    }
}

int tp_pipeline_termday(const tp_pipeline *p, tp_termday *td, tp_record_fn fn, void *ud,
                        tp_termday_result *res, tp_error *err)
{
    memset(res, 0, sizeof *res);
    const tp_branch_cfg *bc = tp_config_branch(p->config, td->branch);
    tp_delimiters delims;
    delimiters_of(bc, &delims);
    int rc = tp_select_files(td, &delims, err);
    if (rc < 0)
        return rc;
    res->branch_listed = bc != NULL;
    for (int t = 0; t < TP_TYPE_COUNT; t++)
        if (td->chosen[t] < 0)
            res->quality.missing |= 1u << t;
    if (td->chosen[TP_TYPE_RD5000] < 0) {
        res->status = TP_TERMDAY_NO_ORDERS;
        return tp_select_count_rest(td, &delims, err);
    }
    tp_combine_opts co = {td->branch, td->pos, td->date, bc ? bc->newer_pos : 0};
    ctx c = {.combine = tp_combine_create(&co), .res = res, .fn = fn, .ud = ud, .err = err};
    if (!c.combine)
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    tp_parse_sink ref_sink = {on_ref_row, on_problem, &c};
    static const tp_report_type refs[] = {TP_TYPE_RD5500, TP_TYPE_RD1800, TP_TYPE_DISCOUNT,
                                          TP_TYPE_RD5900, TP_TYPE_RD5800, TP_TYPE_BLPR};
    for (size_t i = 0; rc == TP_OK && i < sizeof refs / sizeof refs[0]; i++) {
        if (refs[i] == TP_TYPE_BLPR && td->chosen[TP_TYPE_BLPR] >= 0) {
            /* A first, quiet pass over the order lines: their transaction
             * numbers are all the cumulative loyalty file can match. */
            tp_parse_sink pre = {on_transno, NULL, &c};
            c.pass_only = 1;
            rc = parse_type(p, td, bc, TP_TYPE_RD5000, &c, &pre, err);
            c.pass_only = 0;
            if (rc < 0)
                break;
            for (size_t k = 0; k < c.nkeys; k++) /* offsets to pointers, now the bytes stay */
                c.keys[k].ptr = c.tbuf + (uintptr_t)c.keys[k].ptr;
        }
        rc = parse_type(p, td, bc, refs[i], &c, &ref_sink, err);
    }
    if (rc == TP_OK) {
        tp_parse_sink order_sink = {on_order_row, on_problem, &c};
        rc = parse_type(p, td, bc, TP_TYPE_RD5000, &c, &order_sink, err);
    }
    tp_combine_destroy(c.combine);
    free(c.tbuf);
    free(c.keys);
    res->status = TP_TERMDAY_COMBINED;
    return rc;
}

void tp_termday_result_clear(tp_termday_result *res)
{
    tp_quality_clear(&res->quality);
}
