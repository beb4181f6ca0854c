/* reports.c -- see reports.h. */
#include "reports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

int tp_date_valid(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !is_digits(s, 4) || !is_digits(s + 5, 2) ||
        !is_digits(s + 8, 2))
        return 0;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || m < 1 || m > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

int tp_report_name_parse(const char *name, tp_report_name *out, tp_error *err)
{
    /* Split on '_': prefix, branch, pos, type, date, time, ".csv" */
    const char *part[8];
    size_t len[8], n = 0;
    const char *p = name;
    for (;;) {
        const char *u = strchr(p, '_');
        if (n == 8)
            return tp_error_set(err, TP_EINVAL, "%s: too many '_'-separated parts", name);
        part[n] = p;
        len[n] = u ? (size_t)(u - p) : strlen(p);
        n++;
        if (!u)
            break;
        p = u + 1;
    }
    if (n != 7 || strcmp(part[6], ".csv") != 0)
        return tp_error_set(err, TP_EINVAL,
                            "%s: not a report file name "
                            "(<prefix>_<BRANCH>_<POS>_<type>_<YYYY-MM-DD>_<HH-MM>_.csv)",
                            name);
    if (len[1] == 0 || len[1] > TP_BRANCH_MAX)
        return tp_error_set(err, TP_EINVAL, "%s: branch code must be 1-%d characters", name,
                            TP_BRANCH_MAX);
    if (len[2] == 0 || len[2] > 2 || !is_digits(part[2], len[2]))
        return tp_error_set(err, TP_EINVAL, "%s: terminal \"%.*s\" is not a number 1-99", name,
                            (int)len[2], part[2]);
    char tmp[16];
    if (len[4] != 10)
        return tp_error_set(err, TP_EINVAL, "%s: \"%.*s\" is not a YYYY-MM-DD date", name,
                            (int)(len[4] > 20 ? 20 : len[4]), part[4]);
    memcpy(tmp, part[4], 10);
    tmp[10] = '\0';
    if (!tp_date_valid(tmp))
        return tp_error_set(err, TP_EINVAL, "%s: \"%s\" is not a valid date", name, tmp);
    if (len[5] != 5 || part[5][2] != '-' || !is_digits(part[5], 2) || !is_digits(part[5] + 3, 2))
        return tp_error_set(err, TP_EINVAL, "%s: export time \"%.*s\" is not HH-MM", name,
                            (int)(len[5] > 20 ? 20 : len[5]), part[5]);
    char type[16];
    if (len[3] >= sizeof type)
        return tp_error_set(err, TP_ENOTFOUND, "%s: unknown report type", name);
    memcpy(type, part[3], len[3]);
    type[len[3]] = '\0';
    int t = tp_schema_find(type);
    if (t < 0)
        return tp_error_set(err, TP_ENOTFOUND, "%s: unknown report type \"%s\" (known: %s)", name,
                            type, tp_schema_names());
    memcpy(out->branch, part[1], len[1]);
    out->branch[len[1]] = '\0';
    out->pos = (int)strtol(part[2], NULL, 10);
    if (out->pos < 1)
        return tp_error_set(err, TP_EINVAL, "%s: terminal must be 1-99", name);
    out->type = (tp_report_type)t;
    memcpy(out->date, tmp, 11);
    memcpy(out->time, part[5], 5);
    out->time[5] = '\0';
    return TP_OK;
}

void tp_termday_init(tp_termday *d, const char *branch, int pos, const char *date)
{
    memset(d, 0, sizeof *d);
    snprintf(d->branch, sizeof d->branch, "%s", branch);
    d->pos = pos;
    snprintf(d->date, sizeof d->date, "%s", date);
    for (int t = 0; t < TP_TYPE_COUNT; t++)
        d->chosen[t] = -1;
}

tp_candidate *tp_termday_add(tp_termday *d, const char *path, const tp_report_name *rn,
                             uint64_t size, tp_error *err)
{
    if (d->ncands == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        tp_candidate *v = realloc(d->cands, cap * sizeof *v);
        if (!v)
            return tp_error_set(err, TP_ENOMEM, "out of memory"), NULL;
        d->cands = v;
        d->cap = cap;
    }
    tp_candidate *c = &d->cands[d->ncands];
    memset(c, 0, sizeof *c);
    if (!(c->path = strdup(path)))
        return tp_error_set(err, TP_ENOMEM, "out of memory"), NULL;
    const char *slash = strrchr(c->path, '/');
    c->name = slash ? slash + 1 : c->path;
    c->rn = *rn;
    c->size = size;
    d->ncands++;
    return c;
}

static int cmp_cand(const void *a, const void *b)
{
    const tp_candidate *x = a, *y = b;
    if (x->rn.type != y->rn.type)
        return x->rn.type < y->rn.type ? -1 : 1;
    return strcmp(x->name, y->name);
}

void tp_termday_sort(tp_termday *d)
{
    if (d->ncands > 1)
        qsort(d->cands, d->ncands, sizeof *d->cands, cmp_cand);
}

void tp_termday_clear(tp_termday *d)
{
    for (size_t j = 0; j < d->ncands; j++)
        free(d->cands[j].path);
    free(d->cands);
    d->cands = NULL;
    d->ncands = d->cap = 0;
}

/* 1 when a beats b: more rows, then later export time, then later name. */
static int beats(const tp_candidate *a, const tp_candidate *b)
{
    if (a->rows != b->rows)
        return a->rows > b->rows;
    int c = strcmp(a->rn.time, b->rn.time);
    if (c)
        return c > 0;
    return strcmp(a->name, b->name) > 0;
}

static void set_lone_reason(tp_candidate *c)
{
    snprintf(c->reason, sizeof c->reason, "chosen: the only %s file (%llu data rows)",
             tp_schema_of(c->rn.type)->name, (unsigned long long)c->rows);
}

void tp_candidate_set_rows(tp_candidate *c, uint64_t rows)
{
    if (c->counted)
        return;
    c->rows = rows;
    c->counted = 1;
    set_lone_reason(c);
}

int tp_select_needs_rows(const tp_termday *td, size_t i)
{
    const tp_candidate *c = &td->cands[i];
    if (c->counted)
        return 0;
    for (size_t k = 0; k < td->ncands; k++)
        if (k != i && td->cands[k].rn.type == c->rn.type)
            return 1;
    return 0;
}

void tp_select(tp_termday *td)
{
    for (int t = 0; t < TP_TYPE_COUNT; t++) {
        int best = -1, others = 0;
        for (size_t i = 0; i < td->ncands; i++) {
            if ((int)td->cands[i].rn.type != t)
                continue;
            if (best < 0 || beats(&td->cands[i], &td->cands[best]))
                best = (int)i;
            others++;
        }
        td->chosen[t] = best;
        if (best < 0)
            continue;
        tp_candidate *w = &td->cands[best];
        w->chosen = 1;
        if (others == 1) {
            snprintf(w->reason, sizeof w->reason, "chosen: the only %s file",
                     tp_schema_of(t)->name);
            continue;
        }
        int tie = 0;
        for (size_t i = 0; i < td->ncands; i++) {
            tp_candidate *c = &td->cands[i];
            if ((int)c->rn.type != t || (int)i == best)
                continue;
            c->chosen = 0;
            if (c->rows < w->rows)
                snprintf(c->reason, sizeof c->reason,
                         "not chosen: %llu data rows, fewer than %llu in %s",
                         (unsigned long long)c->rows, (unsigned long long)w->rows, w->name);
            else {
                tie = 1;
                snprintf(c->reason, sizeof c->reason,
                         "not chosen: %llu data rows, a tie with %s, whose export (%s) is later",
                         (unsigned long long)c->rows, w->name, w->rn.time);
            }
        }
        snprintf(w->reason, sizeof w->reason, "chosen: %llu data rows, the most of %d candidates%s",
                 (unsigned long long)w->rows, others,
                 tie ? "; tie broken by the later export time" : "");
    }
}
