/* layout.c -- see layout.h. */
#define TP_CSV_IMPLEMENTATION
#include <tillpipe/csv.h>

#include "layout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TPP_MAX_COLUMNS 32

typedef struct tpp_state {
    const tpp_layout *layout;
    const tp_host_api *api; /* valid only during the current callback */
    tp_host *host;          /* likewise */
    tp_csv csv;
    int col[TPP_MAX_COLUMNS]; /* source column per output field (options applied) */
    int header_seen;
} tpp_state;

static int parse_index(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 4095)
        return -1;
    *out = (int)v;
    return 0;
}

int tpp_layout_open(const tpp_layout *const *layouts, size_t nlayouts,
                    const tp_host_api *api, tp_host *h, const char *type, void **state)
{
    const tpp_layout *l = NULL;
    for (size_t i = 0; i < nlayouts; i++)
        if (strcmp(layouts[i]->type, type) == 0)
            l = layouts[i];
    if (!l)
        return TP_PLUGIN_ETYPE;
    tpp_state *s = calloc(1, sizeof *s);
    if (!s)
        return TP_PLUGIN_ENOMEM;
    s->layout = l;
    for (size_t i = 0; i < l->ncolumns && i < TPP_MAX_COLUMNS; i++) {
        char key[64];
        snprintf(key, sizeof key, "column.%s", l->columns[i].field);
        const char *v = api->config(h, key);
        s->col[i] = l->columns[i].col;
        if (v && parse_index(v, &s->col[i]) < 0) {
            char msg[160];
            snprintf(msg, sizeof msg, "option %s must be a column index 0..4095, got \"%.40s\"",
                     key, v);
            api->problem(h, 0, TP_PROBLEM_ERROR, msg);
            free(s);
            return TP_PLUGIN_ECONFIG;
        }
    }
    if (tp_csv_init(&s->csv, 0, 0) < 0) {
        free(s);
        return TP_PLUGIN_ENOMEM;
    }
    *state = s;
    return TP_PLUGIN_OK;
}

/* Check the first record against the expected header names.  Returns 1 when
 * it is a header, 0 when it looks like data instead -- no expected name and a
 * value starting with a digit -- so a file sent without its header loses no
 * row (the legacy combiner read such files from the first line). */
static int check_header(tpp_state *s, uint64_t line, const tp_field *f, size_t n)
{
    const tpp_layout *l = s->layout;
    const tpp_column *bad = NULL;
    tp_field bad_got = {"", 0};
    int matched = 0, digits = 0;
    for (size_t i = 0; i < l->ncolumns; i++) {
        const tpp_column *c = &l->columns[i];
        if (!c->header || s->col[i] != c->col)
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
    char msg[220];
    if (!matched && digits) {
        s->api->problem(s->host, line, TP_PROBLEM_WARNING,
                        "header missing: the first line reads as data and is parsed as such");
        return 0;
    }
    if (bad) {
        snprintf(msg, sizeof msg,
                 "header: column %d is \"%.*s\", expected \"%s\" for %s; reading by "
                 "position anyway (wrong report type, or a branch needing an override?)",
                 bad->col, (int)(bad_got.len > 40 ? 40 : bad_got.len), bad_got.ptr, bad->header,
                 bad->field);
        s->api->problem(s->host, line, TP_PROBLEM_WARNING, msg);
    }
    return 1;
}

static int on_record(void *ud, uint64_t line, const tp_field *f, size_t n)
{
    tpp_state *s = ud;
    const tpp_layout *l = s->layout;
    if (l->has_header && !s->header_seen) {
        s->header_seen = 1;
        if (check_header(s, line, f, n))
            return 0;
    }
    if (n < l->min_columns) {
        char msg[120];
        snprintf(msg, sizeof msg, "row has %zu column%s, %s rows need at least %zu", n,
                 n == 1 ? "" : "s", l->type, l->min_columns);
        s->api->problem(s->host, line, TP_PROBLEM_ERROR, msg);
        return 0;
    }
    tp_field out[TPP_MAX_COLUMNS];
    for (size_t i = 0; i < l->ncolumns; i++) {
        const tpp_column *c = &l->columns[i];
        int col = s->col[i];
        if (col == c->col && c->alt_col >= 0 && n > (size_t)c->alt_col)
            col = c->alt_col;
        tp_field v = tp_csv_at(f, n, (size_t)col);
        if (c->flags & TPP_UNGUARD)
            v = tp_csv_unguard(v);
        if (c->flags & TPP_DATE_PART)
            v = tp_csv_date_part(v);
        out[i] = v;
    }
    return s->api->emit(s->host, line, out, l->ncolumns) < 0 ? -1 : 0;
}

static int csv_result(tpp_state *s, int rc)
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

int tpp_layout_feed(void *state, const tp_host_api *api, tp_host *h, const char *data,
                    size_t len)
{
    tpp_state *s = state;
    s->api = api;
    s->host = h;
    int rc = csv_result(s, tp_csv_feed(&s->csv, data, len, on_record, s));
    s->api = NULL;
    s->host = NULL;
    return rc;
}

int tpp_layout_finish(void *state, const tp_host_api *api, tp_host *h)
{
    tpp_state *s = state;
    s->api = api;
    s->host = h;
    int rc = csv_result(s, tp_csv_finish(&s->csv, on_record, s));
    if (rc == TP_PLUGIN_OK && s->layout->has_header && !s->header_seen)
        api->problem(h, 0, TP_PROBLEM_WARNING, "file is empty: no header row");
    s->api = NULL;
    s->host = NULL;
    return rc;
}

void tpp_layout_close(void *state)
{
    tpp_state *s = state;
    if (!s)
        return;
    tp_csv_free(&s->csv);
    free(s);
}
