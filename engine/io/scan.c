/* scan.c -- see scan.h. */
#include "scan.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tillpipe/csv.h>
#include <time.h>

#include "fsutil.h"
#include "unpack.h"

tp_scan *tp_scan_create(void)
{
    return calloc(1, sizeof(tp_scan));
}

tp_termday *tp_scan_day(tp_scan *s, const char *branch, int pos, const char *date, tp_error *err)
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
    tp_termday_init(d, branch, pos, date);
    return d;
}

int tp_scan_add(tp_scan *s, const char *path, const tp_report_name *rn, uint64_t size,
                tp_error *err)
{
    tp_termday *d = tp_scan_day(s, rn->branch, rn->pos, rn->date, err);
    if (!d)
        return TP_ENOMEM;
    return tp_termday_add(d, path, rn, size, err) ? TP_OK : TP_ENOMEM;
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
        tp_termday_sort(&s->days[i]);
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

tp_dir_index *tp_dir_index_create(void)
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

void tp_dir_index_destroy(tp_dir_index *ix)
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
        tp_scan *s = tp_scan_create();
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
    tp_dir_index *ix = index ? index : tp_dir_index_create();
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
        tp_dir_index_destroy(ix);
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
    for (size_t i = 0; i < s->ndays; i++)
        tp_termday_clear(&s->days[i]);
    for (size_t i = 0; i < s->nignored; i++)
        free(s->ignored[i]);
    free(s->ignored);
    free(s->days);
    if (s->tmpdir)
        tp_remove_tree(s->tmpdir);
    free(s->tmpdir);
    free(s);
}

int tp_count_rows(const char *path, char delim, uint64_t *rows, tp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tp_error_set(err, errno == ENOENT ? TP_ENOTFOUND : TP_EIO, "%s: %s", path,
                            strerror(errno));
    char buf[65536];
    tp_csv_counter c = {.delim = delim};
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

static char delim_of(const tp_delimiters *d, const tp_candidate *c)
{
    return d ? d->of[c->rn.type] : 0;
}

int tp_select_files(tp_termday *td, const tp_delimiters *delims, tp_error *err)
{
    for (size_t i = 0; i < td->ncands; i++) {
        if (!tp_select_needs_rows(td, i))
            continue;
        tp_candidate *c = &td->cands[i];
        int rc = tp_count_rows(c->path, delim_of(delims, c), &c->rows, err);
        if (rc < 0)
            return rc;
        c->counted = 1;
    }
    tp_select(td);
    return TP_OK;
}

int tp_select_count_rest(tp_termday *td, const tp_delimiters *delims, tp_error *err)
{
    for (size_t i = 0; i < td->ncands; i++) {
        tp_candidate *c = &td->cands[i];
        if (c->counted)
            continue;
        uint64_t rows;
        int rc = tp_count_rows(c->path, delim_of(delims, c), &rows, err);
        if (rc < 0)
            return rc;
        tp_candidate_set_rows(c, rows);
    }
    return TP_OK;
}
