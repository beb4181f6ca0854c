/* reports.c -- see reports.h. */
#include "reports.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <tillpipe/csv.h>

#include "unpack.h"
#include "fsutil.h"

static int is_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

int tp_date_valid(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !is_digits(s, 4) ||
        !is_digits(s + 5, 2) || !is_digits(s + 8, 2))
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
    if (len[5] != 5 || part[5][2] != '-' || !is_digits(part[5], 2) ||
        !is_digits(part[5] + 3, 2))
        return tp_error_set(err, TP_EINVAL, "%s: export time \"%.*s\" is not HH-MM", name,
                            (int)(len[5] > 20 ? 20 : len[5]), part[5]);
    char type[16];
    if (len[3] >= sizeof type)
        return tp_error_set(err, TP_ENOTFOUND, "%s: unknown report type", name);
    memcpy(type, part[3], len[3]);
    type[len[3]] = '\0';
    int t = tp_schema_find(type);
    if (t < 0)
        return tp_error_set(err, TP_ENOTFOUND, "%s: unknown report type \"%s\" (known: %s)",
                            name, type, tp_schema_names());
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

tp_scan *tp_scan_new(void)
{
    return calloc(1, sizeof(tp_scan));
}

tp_termday *tp_scan_day(tp_scan *s, const char *branch, int pos, const char *date,
                        tp_error *err)
{
    for (size_t i = s->ndays; i-- > 0;) {
        tp_termday *d = &s->days[i];
        if (d->pos == pos && strcmp(d->date, date) == 0 && strcmp(d->branch, branch) == 0)
            return d;
    }
    if (s->ndays == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        tp_termday *v = realloc(s->days, cap * sizeof *v);
        if (!v)
            return tp_error_set(err, TP_ENOMEM, "out of memory"), NULL;
        s->days = v;
        s->cap = cap;
    }
    tp_termday *d = &s->days[s->ndays++];
    memset(d, 0, sizeof *d);
    snprintf(d->branch, sizeof d->branch, "%s", branch);
    d->pos = pos;
    snprintf(d->date, sizeof d->date, "%s", date);
    for (int t = 0; t < TP_TYPE_COUNT; t++)
        d->chosen[t] = -1;
    return d;
}

int tp_scan_add(tp_scan *s, const char *path, const tp_report_name *rn, uint64_t size,
                tp_error *err)
{
    tp_termday *d = tp_scan_day(s, rn->branch, rn->pos, rn->date, err);
    if (!d)
        return TP_ENOMEM;
    if (d->ncands == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        tp_candidate *v = realloc(d->cands, cap * sizeof *v);
        if (!v)
            return tp_error_set(err, TP_ENOMEM, "out of memory");
        d->cands = v;
        d->cap = cap;
    }
    tp_candidate *c = &d->cands[d->ncands];
    memset(c, 0, sizeof *c);
    if (!(c->path = strdup(path)))
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    const char *slash = strrchr(c->path, '/');
    c->name = slash ? slash + 1 : c->path;
    c->rn = *rn;
    c->size = size;
    d->ncands++;
    return TP_OK;
}

int tp_scan_ignore(tp_scan *s, const char *name, tp_error *err)
{
    if (s->nignored == s->icap) {
        size_t cap = s->icap ? s->icap * 2 : 16;
        char **v = realloc(s->ignored, cap * sizeof *v);
        if (!v)
            return tp_error_set(err, TP_ENOMEM, "out of memory");
        s->ignored = v;
        s->icap = cap;
    }
    if (!(s->ignored[s->nignored] = strdup(name)))
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    s->nignored++;
    return TP_OK;
}

static int cmp_day(const void *a, const void *b)
{
    const tp_termday *x = a, *y = b;
    int c = strcmp(x->branch, y->branch);
    if (c)
        return c;
    if (x->pos != y->pos)
        return x->pos < y->pos ? -1 : 1;
    return strcmp(x->date, y->date);
}

static int cmp_cand(const void *a, const void *b)
{
    const tp_candidate *x = a, *y = b;
    if (x->rn.type != y->rn.type)
        return x->rn.type < y->rn.type ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int passes(const tp_scan_filter *f, const tp_report_name *rn)
{
    return !f || ((!f->branch || strcmp(f->branch, rn->branch) == 0) &&
                  (!f->pos || f->pos == rn->pos) && (!f->date || strcmp(f->date, rn->date) == 0));
}

typedef struct member_ctx {
    tp_scan *s;
    const tp_scan_filter *f;
} member_ctx;

static int on_member(void *ud, const char *name, const char *path, uint64_t size,
                     const char sha256[TP_SHA256_HEX], tp_error *err)
{
    member_ctx *m = ud;
    tp_report_name rn;
    if (tp_report_name_parse(name, &rn, NULL) != 0)
        return tp_scan_ignore(m->s, name, err);
    if (!passes(m->f, &rn))
        return TP_OK;
    int rc = tp_scan_add(m->s, path, &rn, size, err);
    if (rc == TP_OK) {
        tp_termday *d = tp_scan_day(m->s, rn.branch, rn.pos, rn.date, err);
        snprintf(d->cands[d->ncands - 1].sha256, TP_SHA256_HEX, "%s", sha256);
    }
    return rc;
}

int tp_scan_add_archive(tp_scan *s, const char *path, const tp_scan_filter *filter,
                        uint64_t max_member, tp_error *err)
{
    if (!s->tmpdir && !(s->tmpdir = tp_make_workdir(NULL, "tillpipe-archive-", err)))
        return TP_EIO;
    static unsigned seq;
    char out[4096];
    snprintf(out, sizeof out, "%s/a%u", s->tmpdir, __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
    if (mkdir(out, 0700) < 0)
        return tp_error_set(err, TP_EIO, "%s: %s", out, strerror(errno));
    member_ctx m = {s, filter};
    tp_archive_limits lim = {.max_member = max_member};
    return tp_archive_extract(path, out, &lim, on_member, &m, err);
}

void tp_scan_sort(tp_scan *s)
{
    if (s->ndays > 1)
        qsort(s->days, s->ndays, sizeof *s->days, cmp_day);
    for (size_t i = 0; i < s->ndays; i++)
        if (s->days[i].ncands > 1)
            qsort(s->days[i].cands, s->days[i].ncands, sizeof(tp_candidate), cmp_cand);
}

/* ------------------------------------------------------------ folder index */

typedef struct ix_entry {
    char *name;
    int named; /* rn holds the parsed report name */
    tp_report_name rn;
} ix_entry;

struct tp_dir_index {
    char *dir;
    dev_t dev;
    ino_t ino;
    struct timespec mtime;
    int trusted; /* the listing may be reused while the folder is unchanged */
    ix_entry *e;
    size_t n, cap;
    unsigned long reads;
};

tp_dir_index *tp_dir_index_new(void)
{
    return calloc(1, sizeof(tp_dir_index));
}

static void ix_clear(tp_dir_index *ix)
{
    for (size_t i = 0; i < ix->n; i++)
        free(ix->e[i].name);
    ix->n = 0;
    free(ix->dir);
    ix->dir = NULL;
    ix->trusted = 0;
}

void tp_dir_index_free(tp_dir_index *ix)
{
    if (!ix)
        return;
    ix_clear(ix);
    free(ix->e);
    free(ix);
}

unsigned long tp_dir_index_reads(const tp_dir_index *ix)
{
    return ix->reads;
}

#define IX_RACY_S 2

/* Read `dir` into ix unless ix already holds it as it is now. */
static int ix_load(tp_dir_index *ix, const char *dir, const struct stat *st, tp_error *err)
{
    if (ix->trusted && ix->dir && strcmp(ix->dir, dir) == 0 && ix->dev == st->st_dev &&
        ix->ino == st->st_ino && ix->mtime.tv_sec == st->st_mtim.tv_sec &&
        ix->mtime.tv_nsec == st->st_mtim.tv_nsec)
        return TP_OK;
    ix_clear(ix);
    DIR *d = opendir(dir);
    if (!d)
        return tp_error_set(err, TP_EIO, "%s: %s", dir, strerror(errno));
    int rc = (ix->dir = strdup(dir)) ? TP_OK : tp_error_set(err, TP_ENOMEM, "out of memory");
    struct dirent *de;
    while (rc == TP_OK && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (ix->n == ix->cap) {
            size_t cap = ix->cap ? ix->cap * 2 : 256;
            ix_entry *v = realloc(ix->e, cap * sizeof *v);
            if (!v) {
                rc = tp_error_set(err, TP_ENOMEM, "out of memory");
                break;
            }
            ix->e = v;
            ix->cap = cap;
        }
        ix_entry *e = &ix->e[ix->n];
        if (!(e->name = strdup(de->d_name))) {
            rc = tp_error_set(err, TP_ENOMEM, "out of memory");
            break;
        }
        e->named = tp_report_name_parse(de->d_name, &e->rn, NULL) == 0;
        ix->n++;
    }
    closedir(d);
    if (rc < 0) {
        ix_clear(ix);
        return rc;
    }
    ix->reads++;
    ix->dev = st->st_dev;
    ix->ino = st->st_ino;
    ix->mtime = st->st_mtim;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    ix->trusted = now.tv_sec - st->st_mtim.tv_sec > IX_RACY_S;
    return TP_OK;
}

int tp_scan_dir(const char *dir, const tp_scan_filter *f, tp_scan **out, tp_error *err)
{
    return tp_scan_dir_indexed(dir, f, NULL, out, err);
}

int tp_scan_dir_indexed(const char *dir, const tp_scan_filter *f, tp_dir_index *index,
                        tp_scan **out, tp_error *err)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return tp_error_set(err, errno == ENOENT ? TP_ENOTFOUND : TP_EIO, "%s: %s", dir,
                            strerror(errno));
    if (S_ISREG(st.st_mode) && tp_archive_sniff(dir)) { /* one archive */
        tp_scan *s = tp_scan_new();
        if (!s)
            return tp_error_set(err, TP_ENOMEM, "out of memory");
        int rc = tp_scan_add_archive(s, dir, f, 0, err);
        if (rc < 0) {
            tp_scan_destroy(s);
            return rc;
        }
        tp_scan_sort(s);
        *out = s;
        return TP_OK;
    }
    if (!S_ISDIR(st.st_mode))
        return tp_error_set(err, TP_EINVAL, "%s: not a directory (nor a zip or tar archive)", dir);
    tp_dir_index *ix = index ? index : tp_dir_index_new();
    if (!ix)
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    int rc = ix_load(ix, dir, &st, err);
    tp_scan *s = rc == TP_OK ? calloc(1, sizeof *s) : NULL;
    if (rc == TP_OK && !s)
        rc = tp_error_set(err, TP_ENOMEM, "out of memory");
    char path[4096];
    for (size_t i = 0; rc == TP_OK && i < ix->n; i++) {
        const ix_entry *e = &ix->e[i];
        /* Names first: only the files of the wanted terminal-days need a stat. */
        if (e->named && !passes(f, &e->rn))
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->name) >= sizeof path) {
            rc = tp_error_set(err, TP_ELIMIT, "%s/%s: path too long", dir, e->name);
            break;
        }
        struct stat fst;
        if (stat(path, &fst) != 0 || !S_ISREG(fst.st_mode))
            continue; /* gone since the listing, or not a file */
        if (e->named)
            rc = tp_scan_add(s, path, &e->rn, (uint64_t)fst.st_size, err);
        else if (tp_archive_sniff(path))
            rc = tp_scan_add_archive(s, path, f, 0, err);
        else
            rc = tp_scan_ignore(s, e->name, err);
    }
    if (!index)
        tp_dir_index_free(ix);
    if (rc < 0) {
        tp_scan_destroy(s);
        return rc;
    }
    tp_scan_sort(s);
    *out = s;
    return TP_OK;
}

void tp_scan_destroy(tp_scan *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ndays; i++) {
        for (size_t j = 0; j < s->days[i].ncands; j++)
            free(s->days[i].cands[j].path);
        free(s->days[i].cands);
    }
    for (size_t i = 0; i < s->nignored; i++)
        free(s->ignored[i]);
    free(s->ignored);
    free(s->days);
    if (s->tmpdir)
        tp_remove_tree(s->tmpdir);
    free(s->tmpdir);
    free(s);
}

int tp_count_rows(const char *path, uint64_t *rows, tp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tp_error_set(err, errno == ENOENT ? TP_ENOTFOUND : TP_EIO, "%s: %s", path,
                            strerror(errno));
    char buf[65536];
    tp_csv_counter c = {0};
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        tp_csv_count(&c, buf, n);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return tp_error_set(err, TP_EIO, "%s: read error", path);
    uint64_t total = tp_csv_count_total(&c);
    *rows = total > 0 ? total - 1 : 0;
    return TP_OK;
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

int tp_select_count_rest(tp_termday *td, tp_error *err)
{
    for (size_t i = 0; i < td->ncands; i++) {
        tp_candidate *c = &td->cands[i];
        if (c->counted)
            continue;
        uint64_t rows;
        int rc = tp_count_rows(c->path, &rows, err);
        if (rc < 0)
            return rc;
        tp_candidate_set_rows(c, rows);
    }
    return TP_OK;
}

int tp_select(tp_termday *td, tp_error *err)
{
    int per_type[TP_TYPE_COUNT] = {0};
    for (size_t i = 0; i < td->ncands; i++)
        per_type[td->cands[i].rn.type]++;
    for (size_t i = 0; i < td->ncands; i++) {
        tp_candidate *c = &td->cands[i];
        if (per_type[c->rn.type] < 2 || c->counted)
            continue;
        int rc = tp_count_rows(c->path, &c->rows, err);
        if (rc < 0)
            return rc;
        c->counted = 1;
    }
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
    return TP_OK;
}
