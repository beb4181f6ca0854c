/* test_gen.c -- the report generator: determinism, file names, layouts and
 * headers of both POS generations, joins between the seven files, volumes,
 * fault injection, argument checking, the big rd5000 file, and byte stability
 * (digests of small generated folders pinned to the generator's output).
 *
 * Every test writes under one temporary folder made in main() and removed
 * after the run (also when tests fail).  When the real samples are found
 * (TP_SAMPLES_DIR, or ../shared/samples/pos-reports from the working folder
 * or its parents) the generated header lines are also compared with theirs.
 */
#include <check.h>

#include "testutil.h"
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gen.h"
#include "io/sha.h"

/* Set once in main() before any test runs. */
static char test_base[PATH_MAX];

#define HDR_RD5000                                                                                 \
    "STORE_NUM,TRANSDATE,INVOICE,CAS_CODE,ITE_CODE,QUANTITY,UNT_PRIC,AMOUNT,DISCOUNT,SCHARGE,DT,"  \
    "DEP_CODE,DATE,TIME,CUS_CODE,TRN_CODE,ORNUM,TAG,DISC_CODE,SRNO,SRNAME,TYPE,BACKJOB,DELIVERY,"  \
    "PHONE,RIDER,FREE,INV_FLAG,REC_NO,LPAY_DISC,GC_EXCESS,VAT_FLAG,VATDIV,BDL_CODE,VAT_AMNT,"      \
    "VAT_DISC,VAT_PRIC,TRANSNO,POS,BRANCH"
#define HDR_RD5800                                                                                 \
    "STORE_NUM,TRANSDATE,INVOICE,CAS_CODE,AMT_TENDER,CHANGE,NAME,REF_NO,DATE,TIME,TAG,PAYCODE,"    \
    "TRN_CODE,REF_CODE,ORDERSLIP,REC_NO,CUSINFO1,CUSINFO2,CUSINFO3,TIN_TAG,TRANSNO,POS,BRANCH"
#define HDR_RD5500                                                                                 \
    "INCODE,ITE_DESC,ECR_DESC,DEP_CODE,UNT_PRIC,UNIT,TAXPRCNT1,TAXAMOUNT1,TAX1DIV,POS,BRANCH"
#define HDR_RD1800 "DEP_CODE,DEP_DESC,POS,BRANCH"
#define HDR_DISCOUNT "CODE,DESC,TYPE,VALUE,POS,BRANCH"
#define HDR_RD5900 "PAY_CODE,PAY_DESC,METHOD,MAX_AMOUNT,POS,BRANCH"
#define HDR_BLPR "STORE,PHONE,TRANSNO,ORNO,POS,BRANCH"
#define EXTRA ",TERM_ID,CATEG_ID,VERNO,FULL"

static const char *const types[7] = {"rd5000",   "rd5800", "rd5500", "rd1800",
                                     "discount", "rd5900", "blpr"};
static const char *const classic_hdr[7] = {HDR_RD5000,   HDR_RD5800, HDR_RD5500, HDR_RD1800,
                                           HDR_DISCOUNT, HDR_RD5900, HDR_BLPR};
static const char *const newer_hdr[7] = {HDR_RD5000,       HDR_RD5800,         HDR_RD5500 EXTRA,
                                         HDR_RD1800 EXTRA, HDR_DISCOUNT EXTRA, HDR_RD5900 EXTRA,
                                         HDR_BLPR};
static const char *const first_branches[8] = {"BMC",   "MAGS", "AYALA-FRN", "BETA",
                                              "B-SMS", "BPAG", "BGRAN",     "BTAB"};

/* ---- helpers ----------------------------------------------------------- */

static void sub(char *out, size_t n, const char *name)
{
    int r = snprintf(out, n, "%s/%s", test_base, name);
    ck_assert(r > 0 && (size_t)r < n);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct names {
    char **v;
    size_t n;
} names;

static names list_dir(const char *dir)
{
    names r = {NULL, 0};
    size_t cap = 0;
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "opendir %s", dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (r.n == cap) {
            cap = cap ? cap * 2 : 64;
            r.v = realloc(r.v, cap * sizeof *r.v);
            ck_assert(r.v != NULL);
        }
        r.v[r.n++] = strdup(e->d_name);
    }
    closedir(d);
    if (r.n)
        qsort(r.v, r.n, sizeof *r.v, cmp_str);
    return r;
}

static void names_free(names *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i]);
    free(r->v);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "open %s", path);
    struct stat st;
    ck_assert(fstat(fileno(f), &st) == 0);
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    ck_assert(buf != NULL);
    ck_assert(fread(buf, 1, n, f) == n);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

typedef struct pbuf {
    char p[PATH_MAX];
} pbuf;

/* dir/name, by value: use as path_in(dir, name).p within one expression. */
static pbuf path_in(const char *dir, const char *name)
{
    pbuf b;
    int r = snprintf(b.p, sizeof b.p, "%s/%s", dir, name);
    ck_assert(r > 0 && (size_t)r < sizeof b.p);
    return b;
}

/* A parsed CSV file: rows of fields (quotes removed, "" -> "), all in three
 * allocations. */
typedef struct row {
    int n;
    char **f;
} row;

typedef struct table {
    int n;
    row *r;
    char **fields;
    char *data;
} table;

/* 0 ok, -1 a quote is not closed or is followed by text. */
static int table_load(const char *path, table *t)
{
    size_t len;
    char *s = slurp(path, &len);
    size_t maxf = 1, maxr = 1;
    for (size_t i = 0; i < len; i++) {
        maxf += s[i] == ',' || s[i] == '\n';
        maxr += s[i] == '\n';
    }
    memset(t, 0, sizeof *t);
    t->data = malloc(len + maxf + 1);
    t->fields = malloc(maxf * sizeof *t->fields);
    t->r = malloc(maxr * sizeof *t->r);
    ck_assert(t->data && t->fields && t->r);
    size_t i = 0, dp = 0, nf = 0;
    int rc = 0;
    while (i < len && !rc) {
        row *rw = &t->r[t->n++];
        rw->f = &t->fields[nf];
        rw->n = 0;
        for (;;) {
            t->fields[nf++] = t->data + dp;
            rw->n++;
            if (i < len && s[i] == '"') {
                i++;
                for (;;) {
                    if (i >= len) {
                        rc = -1;
                        break;
                    }
                    if (s[i] == '"') {
                        if (i + 1 < len && s[i + 1] == '"') {
                            t->data[dp++] = '"';
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    t->data[dp++] = s[i++];
                }
                if (!rc && i < len && s[i] != ',' && s[i] != '\n')
                    rc = -1;
            } else {
                while (i < len && s[i] != ',' && s[i] != '\n') {
                    if (s[i] == '"')
                        rc = -1;
                    t->data[dp++] = s[i++];
                }
            }
            t->data[dp++] = '\0';
            if (rc || i >= len)
                break;
            if (s[i++] == '\n')
                break;
        }
    }
    free(s);
    return rc;
}

static void table_free(table *t)
{
    free(t->r);
    free(t->fields);
    free(t->data);
    memset(t, 0, sizeof *t);
}

static void load(const char *dir, const char *name, table *t)
{
    ck_assert_msg(table_load(path_in(dir, name).p, t) == 0, "%s is not valid CSV", name);
}

static int has_str(const table *t, int col, const char *v, int skip_header)
{
    for (int i = skip_header; i < t->n; i++)
        if (col < t->r[i].n && !strcmp(t->r[i].f[col], v))
            return 1;
    return 0;
}

static void gen_into(const char *dir, const tp_gen_opts *o, tp_gen_stats *st)
{
    tp_gen_opts x = *o;
    x.out_dir = dir;
    tp_error e = {0};
    int rc = tp_gen_run(&x, st, &e);
    ck_assert_msg(rc == 0, "tp_gen_run: %s", e.msg);
}

static void base_opts(tp_gen_opts *o, int branches, int days)
{
    tp_gen_opts_init(o);
    o->branches = branches;
    o->days = days;
    o->terminals = 2;
    o->seed = 20250101;
}

/* Split a report name into its parts: 1 when it is one. */
typedef struct rname {
    char branch[40], type[16], date[11], time[6];
    int pos;
} rname;

static int valid_date(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return 0;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
    static const int md[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1 || d > md[m - 1])
        return 0;
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 0;
    return 1;
}

static int parse_name(const char *name, rname *rn)
{
    char buf[256];
    if (strlen(name) >= sizeof buf)
        return 0;
    memcpy(buf, name, strlen(name) + 1);
    char *part[8];
    int n = 0;
    char *save = NULL;
    for (char *p = strtok_r(buf, "_", &save); p && n < 8; p = strtok_r(NULL, "_", &save))
        part[n++] = p;
    if (n != 7 || strcmp(part[0], "a") || strcmp(part[6], ".csv"))
        return 0;
    if (strlen(part[1]) >= sizeof rn->branch || !*part[1])
        return 0;
    memcpy(rn->branch, part[1], strlen(part[1]) + 1);
    if (strcmp(part[2], "1") && strcmp(part[2], "2"))
        return 0;
    rn->pos = part[2][0] - '0';
    int t = -1;
    for (int i = 0; i < 7; i++)
        if (!strcmp(part[3], types[i]))
            t = i;
    if (t < 0)
        return 0;
    memcpy(rn->type, part[3], strlen(part[3]) + 1);
    if (!valid_date(part[4]))
        return 0;
    memcpy(rn->date, part[4], 11);
    const char *tm = part[5];
    if (strlen(tm) != 5 || tm[2] != '-' || tm[0] < '0' || tm[0] > '2' || tm[1] < '0' ||
        tm[1] > '9' || tm[3] < '0' || tm[3] > '5' || tm[4] < '0' || tm[4] > '9' ||
        (tm[0] - '0') * 10 + tm[1] - '0' > 23)
        return 0;
    memcpy(rn->time, tm, 6);
    return 1;
}

/* The one file of (branch, pos, type, date) in a folder without faults. */
static const char *find(const names *ns, const char *branch, int pos, const char *type,
                        const char *date)
{
    char pre[128];
    snprintf(pre, sizeof pre, "a_%s_%d_%s_%s_", branch, pos, type, date);
    for (size_t i = 0; i < ns->n; i++)
        if (!strncmp(ns->v[i], pre, strlen(pre)))
            return ns->v[i];
    return NULL;
}

static int is_newer(const char *b)
{
    return !strcmp(b, "BETA") || !strcmp(b, "BPAG") || !strcmp(b, "BGRAN") || !strcmp(b, "BTAB");
}

static int all_digits(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* d+.ddd (classic) */
static int fixed3(const char *s)
{
    const char *dot = strchr(s, '.');
    if (*s == '-')
        s++;
    return dot && dot > s && strlen(dot + 1) == 3 && strspn(s, "0123456789.") == strlen(s);
}

/* ---- determinism --------------------------------------------------------- */

START_TEST(test_same_seed_identical)
{
    char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX];
    sub(a, sizeof a, "det_a");
    sub(b, sizeof b, "det_b");
    sub(c, sizeof c, "det_c");
    tp_gen_opts o;
    base_opts(&o, 5, 3);
    o.blpr_rows = 300;
    tp_gen_stats sa, sb, sc;
    gen_into(a, &o, &sa);
    gen_into(b, &o, &sb);
    o.seed++;
    gen_into(c, &o, &sc);

    ck_assert_int_eq(sa.files, sb.files);
    ck_assert_int_eq(sa.bytes, sb.bytes);
    ck_assert_int_eq(sa.order_lines, sb.order_lines);
    ck_assert_int_eq(sa.terminal_days, 5 * 2 * 3);
    names na = list_dir(a), nb = list_dir(b), nc = list_dir(c);
    ck_assert_int_eq((long long)na.n, sa.files);
    ck_assert_uint_eq(na.n, nb.n);
    long long total = 0;
    int differs = nc.n != na.n;
    for (size_t i = 0; i < na.n; i++) {
        ck_assert_str_eq(na.v[i], nb.v[i]);
        size_t la, lb;
        char *fa = slurp(path_in(a, na.v[i]).p, &la);
        char *fb = slurp(path_in(b, nb.v[i]).p, &lb);
        ck_assert_msg(la == lb && memcmp(fa, fb, la) == 0, "%s differs between runs", na.v[i]);
        total += (long long)la;
        if (!differs && i < nc.n) {
            size_t lc;
            char *fc = slurp(path_in(c, nc.v[i]).p, &lc);
            differs = strcmp(na.v[i], nc.v[i]) || lc != la || memcmp(fa, fc, la);
            free(fc);
        }
        free(fa);
        free(fb);
    }
    ck_assert_int_eq(total, sa.bytes);
    ck_assert_msg(differs, "a different seed gave the same folder");
    names_free(&na);
    names_free(&nb);
    names_free(&nc);
}
END_TEST

/* ---- names --------------------------------------------------------------- */

START_TEST(test_file_names)
{
    char dir[PATH_MAX];
    sub(dir, sizeof dir, "names");
    tp_gen_opts o;
    base_opts(&o, 10, 4);
    o.start_date = "2024-02-27"; /* across a leap day */
    o.orders_per_day = 20;
    o.blpr_rows = 20;
    o.faults = 0;
    tp_gen_stats st;
    gen_into(dir, &o, &st);
    names ns = list_dir(dir);
    ck_assert_int_eq((long long)ns.n, 10 * 2 * 4 * 7); /* no faults: 7 files a terminal-day */
    static const char *const dates[4] = {"2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01"};
    for (size_t i = 0; i < ns.n; i++) {
        rname rn;
        ck_assert_msg(parse_name(ns.v[i], &rn), "not a report name: %s", ns.v[i]);
        ck_assert_msg(strchr(rn.branch, '_') == NULL, "%s", ns.v[i]);
        int known = 0;
        for (int k = 0; k < 8; k++)
            known |= !strcmp(rn.branch, first_branches[k]);
        known |= !strcmp(rn.branch, "BCUB") || !strcmp(rn.branch, "BLUC");
        ck_assert_msg(known, "unexpected branch in %s", ns.v[i]);
        int dok = 0;
        for (int k = 0; k < 4; k++)
            dok |= !strcmp(rn.date, dates[k]);
        ck_assert_msg(dok, "date out of range: %s", ns.v[i]);
    }
    for (int k = 0; k < 8; k++)
        for (int pos = 1; pos <= 2; pos++)
            for (int t = 0; t < 7; t++)
                for (int d = 0; d < 4; d++)
                    ck_assert_msg(find(&ns, first_branches[k], pos, types[t], dates[d]),
                                  "missing %s %d %s %s", first_branches[k], pos, types[t],
                                  dates[d]);
    names_free(&ns);

    /* past the fixed list, branch codes are B%03d */
    char dir2[PATH_MAX];
    sub(dir2, sizeof dir2, "names_many");
    base_opts(&o, 40, 1);
    o.terminals = 1;
    o.orders_per_day = 5;
    o.blpr_rows = 5;
    o.faults = 0;
    gen_into(dir2, &o, &st);
    ns = list_dir(dir2);
    ck_assert_int_eq((long long)ns.n, 40 * 7);
    ck_assert_ptr_nonnull(find(&ns, "B040", 1, "rd5000", "2025-01-01"));
    names_free(&ns);
}
END_TEST

/* ---- headers and layouts ------------------------------------------------- */

static const char *samples_dir(void)
{
    static const char *const cand[] = {
        "../shared/samples/pos-reports", "../../shared/samples/pos-reports",
        "../../../shared/samples/pos-reports", "../../../../shared/samples/pos-reports"};
    const char *env = getenv("TP_SAMPLES_DIR");
    struct stat st;
    if (env && stat(env, &st) == 0)
        return env;
    for (size_t i = 0; i < sizeof cand / sizeof *cand; i++)
        if (stat(cand[i], &st) == 0 && S_ISDIR(st.st_mode))
            return cand[i];
    return NULL;
}

static char *first_line(const char *path)
{
    char *s = slurp(path, NULL);
    s[strcspn(s, "\n")] = '\0';
    return s;
}

START_TEST(test_headers)
{
    char dir[PATH_MAX];
    sub(dir, sizeof dir, "headers");
    tp_gen_opts o;
    base_opts(&o, 4, 1);
    o.faults = 0;
    o.blpr_rows = 10;
    tp_gen_stats st;
    gen_into(dir, &o, &st);
    names ns = list_dir(dir);
    const char *sd = samples_dir();
    for (int t = 0; t < 7; t++) {
        const char *fc = find(&ns, "BMC", 1, types[t], "2025-01-01");
        const char *fn = find(&ns, "BETA", 2, types[t], "2025-01-01");
        ck_assert_ptr_nonnull(fc);
        ck_assert_ptr_nonnull(fn);
        char *hc = first_line(path_in(dir, fc).p);
        char *hn = first_line(path_in(dir, fn).p);
        ck_assert_str_eq(hc, classic_hdr[t]);
        ck_assert_str_eq(hn, newer_hdr[t]);
        if (sd) {
            char p[PATH_MAX];
            snprintf(p, sizeof p, "%s/a_BMC_1_%s_2026-02-09_20-00_.csv", sd, types[t]);
            char *sc = first_line(p);
            ck_assert_str_eq(hc, sc);
            free(sc);
            snprintf(p, sizeof p, "%s/a_BETA_1_%s_2026-02-09_20-00_.csv", sd, types[t]);
            char *sn = first_line(p);
            ck_assert_str_eq(hn, sn);
            free(sn);
        }
        free(hc);
        free(hn);
    }
    names_free(&ns);
}
END_TEST

/* The seven files of one terminal-day, parsed. */
typedef struct day {
    /* rd5000, rd5800, rd5500, rd1800, discount, rd5900, blpr */
    table t5, t58, t55, t18, tdi, t59, tbl;
} day;

/* Load the files of (br, pos, date) in a folder without faults. */
static void day_load(const char *dir, const names *ns, const char *br, int pos, const char *date,
                     day *d)
{
    load(dir, find(ns, br, pos, "rd5000", date), &d->t5);
    load(dir, find(ns, br, pos, "rd5800", date), &d->t58);
    load(dir, find(ns, br, pos, "rd5500", date), &d->t55);
    load(dir, find(ns, br, pos, "rd1800", date), &d->t18);
    load(dir, find(ns, br, pos, "discount", date), &d->tdi);
    load(dir, find(ns, br, pos, "rd5900", date), &d->t59);
    load(dir, find(ns, br, pos, "blpr", date), &d->tbl);
}

static void day_free(day *d)
{
    table_free(&d->t5);
    table_free(&d->t58);
    table_free(&d->t55);
    table_free(&d->t18);
    table_free(&d->tdi);
    table_free(&d->t59);
    table_free(&d->tbl);
}

/* The order lines of one rd5000 file as its POS generation writes them:
 * 40 fields, dates, invoice numbers and amounts in the generation's form. */
static void check_rd5000_layout(const table *t5, const char *br, int pos, const char *date)
{
    int newer = is_newer(br);
    ck_assert_int_ge(t5->n, 2);
    int short_amount = 0;
    for (int i = 1; i < t5->n; i++) {
        char **f = t5->r[i].f;
        ck_assert_int_eq(t5->r[i].n, 40);
        if (newer) {
            ck_assert_msg(strlen(f[1]) == 19 && !strncmp(f[1], date, 10) && f[1][10] == 'T' &&
                              f[1][13] == ':' && f[1][16] == ':',
                          "TRANSDATE %s", f[1]);
            ck_assert_str_eq(f[12], date);
            ck_assert_msg(all_digits(f[2], 14), "INVOICE %s", f[2]);
            ck_assert_str_eq(f[11], "");
            ck_assert_str_eq(f[38], "");
            ck_assert_str_eq(f[39], "");
            ck_assert_msg(strchr(f[5], '.') == NULL && strchr(f[6], '.') == NULL,
                          "newer QUANTITY/UNT_PRIC %s %s", f[5], f[6]);
            const char *dot = strchr(f[7], '.');
            ck_assert_msg(dot && strlen(dot + 1) >= 1 && strlen(dot + 1) <= 4, "AMOUNT %s", f[7]);
            short_amount |= strlen(dot + 1) != 3;
        } else {
            char want[32];
            snprintf(want, sizeof want, "%s 00:00:00", date);
            ck_assert_str_eq(f[1], want);
            ck_assert_str_eq(f[12], want);
            ck_assert_msg(all_digits(f[2], 8), "INVOICE %s", f[2]);
            ck_assert_msg(fixed3(f[5]) && fixed3(f[6]) && fixed3(f[7]) && fixed3(f[8]),
                          "classic amounts %s %s %s %s", f[5], f[6], f[7], f[8]);
            ck_assert_int_eq(f[38][0] - '0', pos);
            ck_assert_int_eq(f[38][1], '\0');
            ck_assert_str_eq(f[39], br);
        }
        ck_assert_msg(!strcmp(f[21], "D") || !strcmp(f[21], "T") || !strcmp(f[21], "C"), "TYPE %s",
                      f[21]);
    }
    if (newer)
        ck_assert_msg(short_amount, "newer amounts all have 3 decimals");
}

/* Every row of `t` has `width` fields. */
static void check_width(const table *t, int width)
{
    for (int i = 0; i < t->n; i++)
        ck_assert_int_eq(t->r[i].n, width);
}

/* The other six files: their widths, and the newer POS's own forms. */
static void check_reference_layouts(const day *d, int newer)
{
    check_width(&d->t55, newer ? 15 : 11);
    check_width(&d->t18, newer ? 8 : 4);
    check_width(&d->tdi, newer ? 10 : 6);
    check_width(&d->t59, newer ? 10 : 6);
    check_width(&d->t58, 23);
    check_width(&d->tbl, 6);
    if (!newer)
        return;
    ck_assert_int_eq(d->tbl.n, 1); /* header only, as the newer POS sends it */
    for (int i = 1; i < d->t55.n; i++) {
        ck_assert_msg(has_str(&d->t18, 0, d->t55.r[i].f[12], 1), "CATEG_ID %s not in rd1800",
                      d->t55.r[i].f[12]);
        ck_assert_int_eq(d->t55.r[i].f[14][0], ' ');
    }
    for (int i = 1; i < d->t58.n; i++)
        ck_assert_msg(all_digits(d->t58.r[i].f[20], 14), "rd5800 TRANSNO %s", d->t58.r[i].f[20]);
}

/* 4 branches (both POS generations), 2 days, no faults, into test_base/name. */
static names gen_layouts(char *dir, size_t n, const char *name)
{
    sub(dir, n, name);
    tp_gen_opts o;
    base_opts(&o, 4, 2);
    o.faults = 0;
    o.blpr_rows = 200;
    tp_gen_stats st;
    gen_into(dir, &o, &st);
    return list_dir(dir);
}

START_TEST(test_layouts)
{
    char dir[PATH_MAX];
    names ns = gen_layouts(dir, sizeof dir, "layouts");
    const char *date = "2025-01-02";
    for (int k = 0; k < 4; k++)
        for (int pos = 1; pos <= 2; pos++) {
            day d;
            day_load(dir, &ns, first_branches[k], pos, date, &d);
            check_rd5000_layout(&d.t5, first_branches[k], pos, date);
            check_reference_layouts(&d, is_newer(first_branches[k]));
            day_free(&d);
        }
    names_free(&ns);
}
END_TEST

/* Classic quirks, checked on the raw bytes. */
START_TEST(test_classic_quirks)
{
    char dir[PATH_MAX];
    names ns = gen_layouts(dir, sizeof dir, "quirks");
    const char *date = "2025-01-02";
    char *raw = slurp(path_in(dir, find(&ns, "BMC", 1, "rd5500", date)).p, NULL);
    ck_assert_msg(strstr(raw, "\"\"") != NULL, "no doubled quote in a product name");
    ck_assert_msg(strstr(raw, "\xc2\xa0") != NULL, "no U+00A0 in a product name");
    ck_assert_msg(strstr(raw, ",\"CHICKEN, RICE & DRINK\",") != NULL, "no comma in a product name");
    free(raw);
    raw = slurp(path_in(dir, find(&ns, "BMC", 1, "blpr", date)).p, NULL);
    ck_assert_msg(strstr(raw, ",\"=\"\"") != NULL, "blpr keys are not Excel-guarded");
    free(raw);
    raw = slurp(path_in(dir, find(&ns, "BMC", 1, "rd1800", date)).p, NULL);
    ck_assert_msg(strstr(raw, "\n03,") != NULL, "no zero-padded department code");
    free(raw);
    raw = slurp(path_in(dir, find(&ns, "BMC", 1, "rd5000", date)).p, NULL);
    ck_assert_msg(strchr(raw, '"') == NULL, "classic rd5000 quotes nothing");
    free(raw);
    names_free(&ns);
}
END_TEST

/* ---- joins between the files ------------------------------------------- */

static int hour_part(const char *tm)
{
    int h = (tm[0] - '0') * 10 + (tm[1] - '0');
    if (h <= 5 || h == 23)
        return 0; /* GY */
    if (h <= 10)
        return 1; /* Breakfast */
    if (h <= 14)
        return 2; /* Lunch */
    if (h <= 18)
        return 3; /* PM Snack */
    return 4;     /* Dinner */
}

START_TEST(test_joins)
{
    char dir[PATH_MAX];
    sub(dir, sizeof dir, "joins");
    tp_gen_opts o;
    base_opts(&o, 4, 7);
    o.faults = 0;
    o.blpr_rows = 400;
    tp_gen_stats st;
    gen_into(dir, &o, &st);
    names ns = list_dir(dir);
    long long lines = 0, item_hits = 0, disc_used = 0, blpr_hits = 0;
    int parts[5] = {0}, type_c = 0;
    for (size_t i = 0; i < ns.n; i++) {
        rname rn;
        ck_assert(parse_name(ns.v[i], &rn));
        if (strcmp(rn.type, "rd5000"))
            continue;
        int newer = is_newer(rn.branch);
        day d;
        day_load(dir, &ns, rn.branch, rn.pos, rn.date, &d);
        for (int r = 1; r < d.t5.n; r++) {
            char **f = d.t5.r[r].f;
            lines++;
            item_hits += has_str(&d.t55, 0, f[4], 1);
            if (f[11][0])
                ck_assert_msg(has_str(&d.t18, 0, f[11], 1), "DEP_CODE %s not in rd1800", f[11]);
            if (newer) {
                int k;
                for (k = 1; k < d.t55.n && strcmp(d.t55.r[k].f[0], f[4]); k++)
                    ;
                ck_assert_int_lt(k, d.t55.n);
                ck_assert(has_str(&d.t18, 0, d.t55.r[k].f[12], 1));
            }
            if (f[18][0]) {
                disc_used++;
                ck_assert_msg(has_str(&d.tdi, 0, f[18], 1), "DISC_CODE %s not in discount", f[18]);
            }
            parts[hour_part(f[13])]++;
            type_c += !strcmp(f[21], "C");
        }
        for (int r = 1; r < d.t58.n; r++) {
            char **f = d.t58.r[r].f;
            if (f[20][0])
                ck_assert_msg(has_str(&d.t5, 37, f[20], 1), "rd5800 TRANSNO %s not in rd5000",
                              f[20]);
            ck_assert_msg(has_str(&d.t59, 0, f[11], 1), "PAYCODE %s not in rd5900", f[11]);
        }
        for (int r = 1; r < d.tbl.n; r++) {
            const char *k = d.tbl.r[r].f[2]; /* ="00012345" */
            if (strlen(k) == 11 && k[0] == '=') {
                char v[16];
                memcpy(v, k + 2, 8);
                v[8] = '\0';
                blpr_hits += has_str(&d.t5, 37, v, 1);
            }
        }
        day_free(&d);
    }
    ck_assert_int_gt(lines, 0);
    ck_assert_msg(item_hits * 100 >= lines * 85, "only %lld of %lld items in rd5500", item_hits,
                  lines);
    ck_assert_msg(item_hits < lines, "every item is in rd5500 (the SDis lines are not)");
    ck_assert_msg(disc_used > 0 && disc_used * 2 < lines, "DISC_CODE used on %lld of %lld lines",
                  disc_used, lines);
    ck_assert_msg(blpr_hits > 0, "no loyalty row references the day's transactions");
    for (int p = 0; p < 5; p++)
        ck_assert_msg(parts[p] > 0, "daypart %d never occurs", p);
    ck_assert_msg(type_c > 0, "no delivery (C) orders");
    names_free(&ns);
}
END_TEST

/* ---- volumes ------------------------------------------------------------- */

static long long count_lines(const char *path)
{
    size_t n;
    char *s = slurp(path, &n);
    long long c = 0;
    for (size_t i = 0; i < n; i++)
        c += s[i] == '\n';
    free(s);
    return c;
}

/* The rows after the header in the file of (br, pos, type, date). */
static long long rows_of(const char *dir, const names *ns, const char *br, int pos,
                         const char *type, const char *date)
{
    return count_lines(path_in(dir, find(ns, br, pos, type, date)).p) - 1;
}

/* Default volumes: order lines, reference files and the cumulative blpr of
 * one terminal-day after another.  Returns the order lines of all days. */
static long long check_default_volumes(const char *dir, const names *ns, const char *br, int pos)
{
    static const char *const dates[3] = {"2025-01-01", "2025-01-02", "2025-01-03"};
    long long prev_blpr = 0, lines = 0;
    char *prev = NULL;
    size_t prev_len = 0;
    for (int d = 0; d < 3; d++) {
        long long n5 = rows_of(dir, ns, br, pos, "rd5000", dates[d]);
        lines += n5;
        ck_assert_msg(n5 >= 15 && n5 <= 1500, "%s %d: %lld order lines", br, pos, n5);
        long long n55 = rows_of(dir, ns, br, pos, "rd5500", dates[d]);
        ck_assert_msg(n55 >= 1500 && n55 <= 1900, "rd5500 %lld rows", n55);
        long long n18 = rows_of(dir, ns, br, pos, "rd1800", dates[d]);
        ck_assert_msg(n18 >= 50 && n18 <= 70, "rd1800 %lld rows", n18);
        long long ndi = rows_of(dir, ns, br, pos, "discount", dates[d]);
        ck_assert_msg(ndi >= 85 && ndi <= 120, "discount %lld rows", ndi);
        long long n59 = rows_of(dir, ns, br, pos, "rd5900", dates[d]);
        ck_assert_msg(n59 >= 12 && n59 <= 26, "rd5900 %lld rows", n59);
        size_t bl;
        char *blpr = slurp(path_in(dir, find(ns, br, pos, "blpr", dates[d])).p, &bl);
        long long nb = 0;
        for (size_t i = 0; i < bl; i++)
            nb += blpr[i] == '\n';
        nb--;
        if (d == 0)
            ck_assert_msg(nb >= 10000 && nb <= 14000, "blpr day 1: %lld rows", nb);
        else {
            ck_assert_msg(nb >= prev_blpr, "blpr shrank: %lld -> %lld", prev_blpr, nb);
            ck_assert_msg(bl >= prev_len && !memcmp(prev, blpr, prev_len),
                          "blpr is not cumulative");
        }
        ck_assert_msg(bl > 500000 && bl < 1500000, "blpr %zu bytes", bl);
        prev_blpr = nb;
        free(prev);
        prev = blpr;
        prev_len = bl;
    }
    ck_assert_msg(prev_blpr > 10000, "blpr did not grow");
    free(prev);
    return lines;
}

START_TEST(test_volumes)
{
    char dir[PATH_MAX];
    sub(dir, sizeof dir, "volumes");
    tp_gen_opts o;
    base_opts(&o, 2, 3); /* BMC and MAGS, default volumes */
    o.faults = 0;
    tp_gen_stats st;
    gen_into(dir, &o, &st);
    ck_assert_int_eq(st.terminal_days, 12);
    names ns = list_dir(dir);
    long long lines_total = 0;
    for (int k = 0; k < 2; k++)
        for (int pos = 1; pos <= 2; pos++)
            lines_total += check_default_volumes(dir, &ns, first_branches[k], pos);
    ck_assert_int_eq(lines_total, st.order_lines);
    names_free(&ns);
}
END_TEST

START_TEST(test_volumes_fixed)
{
    char dir[PATH_MAX];
    sub(dir, sizeof dir, "volumes_fixed");
    tp_gen_opts o;
    base_opts(&o, 4, 2);
    o.faults = 0;
    o.orders_per_day = 100;
    o.blpr_rows = 500;
    tp_gen_stats st;
    gen_into(dir, &o, &st);
    ck_assert_int_eq(st.order_lines, 4 * 2 * 2 * 100);
    names ns = list_dir(dir);
    for (int k = 0; k < 4; k++)
        for (int pos = 1; pos <= 2; pos++) {
            const char *br = first_branches[k];
            ck_assert_int_eq(
                count_lines(path_in(dir, find(&ns, br, pos, "rd5000", "2025-01-01")).p), 101);
            long long nb = rows_of(dir, &ns, br, pos, "blpr", "2025-01-01");
            ck_assert_int_eq(nb, is_newer(br) ? 0 : 500);
        }
    names_free(&ns);
}
END_TEST

/* ---- faults -------------------------------------------------------------- */

typedef struct fault_count {
    int resend, resend_partial, resend_blpr_same, missing, bad_time, bad_date, bad_qty, short5800;
} fault_count;

static void count_faults(const char *dir, fault_count *fc)
{
    memset(fc, 0, sizeof *fc);
    names ns = list_dir(dir);
    for (size_t i = 0; i < ns.n; i++) {
        rname rn;
        ck_assert_msg(parse_name(ns.v[i], &rn), "not a report name: %s", ns.v[i]);
        table t;
        ck_assert_msg(table_load(path_in(dir, ns.v[i]).p, &t) == 0, "%s is not valid CSV", ns.v[i]);
        if (!strcmp(rn.time, "19-59")) {
            char other[256];
            snprintf(other, sizeof other, "a_%s_%d_%s_%s_20-00_.csv", rn.branch, rn.pos, rn.type,
                     rn.date);
            size_t j;
            for (j = 0; j < ns.n && strcmp(ns.v[j], other); j++)
                ;
            ck_assert_msg(j < ns.n, "%s has no 20-00 twin", ns.v[i]);
            fc->resend++;
            long long a = count_lines(path_in(dir, ns.v[i]).p),
                      b = count_lines(path_in(dir, other).p);
            if (!strcmp(rn.type, "blpr")) {
                size_t la, lb;
                char *x = slurp(path_in(dir, ns.v[i]).p, &la),
                     *y = slurp(path_in(dir, other).p, &lb);
                fc->resend_blpr_same += la == lb && !memcmp(x, y, la);
                free(x);
                free(y);
            } else {
                fc->resend_partial += a != b;
            }
        }
        if (!strcmp(rn.type, "rd5000")) {
            char tys[7] = {0};
            for (int k = 0; k < 7; k++) {
                char pre[128];
                snprintf(pre, sizeof pre, "a_%s_%d_%s_%s_", rn.branch, rn.pos, types[k], rn.date);
                for (size_t j = 0; j < ns.n; j++)
                    if (!strncmp(ns.v[j], pre, strlen(pre)))
                        tys[k] = 1;
            }
            if (strcmp(rn.time, "19-59"))
                for (int k = 1; k < 7; k++)
                    fc->missing += !tys[k];
            for (int r = 1; r < t.n; r++) {
                char **f = t.r[r].f;
                ck_assert_int_eq(t.r[r].n, 40);
                fc->bad_time += !(f[13][0] >= '0' && f[13][0] <= '9');
                fc->bad_date += strncmp(f[12], rn.date, 10) != 0;
                fc->bad_qty += !strcmp(f[5], "abc");
            }
        } else if (!strcmp(rn.type, "rd5800")) {
            for (int r = 1; r < t.n; r++)
                fc->short5800 += t.r[r].n < 21;
        } else {
            for (int r = 1; r < t.n; r++)
                ck_assert_int_eq(t.r[r].n, t.r[0].n);
        }
        table_free(&t);
    }
    names_free(&ns);
}

START_TEST(test_faults)
{
    char dir[PATH_MAX], clean[PATH_MAX];
    sub(dir, sizeof dir, "faults");
    sub(clean, sizeof clean, "faults_off");
    tp_gen_opts o;
    base_opts(&o, 8, 25); /* 400 terminal-days */
    o.orders_per_day = 40;
    o.blpr_rows = 30;
    tp_gen_stats st;
    gen_into(dir, &o, &st);
    fault_count fc;
    count_faults(dir, &fc);
    ck_assert_msg(fc.resend > 0, "no re-sent export");
    ck_assert_msg(fc.resend_partial > 0, "no partial re-send");
    ck_assert_msg(fc.missing > 0, "no missing reference file");
    ck_assert_msg(fc.bad_time > 0 && fc.bad_date > 0 && fc.bad_qty > 0,
                  "bad rd5000 rows: time %d date %d qty %d", fc.bad_time, fc.bad_date, fc.bad_qty);
    ck_assert_msg(fc.short5800 > 0, "no short rd5800 row");
    /* a few percent of terminal-days, not most */
    ck_assert_msg(fc.resend < 40 && fc.missing < 60, "too many faults: %d re-sends, %d missing",
                  fc.resend, fc.missing);
    ck_assert_int_eq(st.order_lines, 400 * 40);

    o.faults = 0;
    gen_into(clean, &o, &st);
    count_faults(clean, &fc);
    ck_assert_int_eq(fc.resend + fc.missing + fc.bad_time + fc.bad_date + fc.bad_qty + fc.short5800,
                     0);
}
END_TEST

/* ---- bad arguments ------------------------------------------------------- */

static void expect_fail(const tp_gen_opts *o, int code)
{
    tp_error e = {0};
    tp_gen_stats st;
    int rc = tp_gen_run(o, &st, &e);
    ck_assert_int_lt(rc, 0);
    ck_assert_int_eq(rc, code);
    ck_assert_int_eq(e.code, rc);
    ck_assert_msg(e.msg[0] != '\0', "no message");
    ck_assert_ptr_null(strchr(e.msg, '\n'));
    ck_assert_int_eq(st.files, 0);
}

START_TEST(test_bad_args)
{
    char dir[PATH_MAX], file[PATH_MAX], under[PATH_MAX];
    sub(dir, sizeof dir, "bad");
    sub(file, sizeof file, "bad_file");
    ck_assert(snprintf(under, sizeof under, "%s/sub", file) < (int)sizeof under);
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fputs("x\n", f);
    fclose(f);

    tp_error e = {0};
    ck_assert_int_eq(tp_gen_run(NULL, NULL, &e), TP_EINVAL);
    ck_assert_int_eq(tp_gen_run(NULL, NULL, NULL), TP_EINVAL);

    tp_gen_opts o;
    static const int bad_branches[] = {0, -1, 201};
    for (size_t i = 0; i < 3; i++) {
        base_opts(&o, bad_branches[i], 1);
        o.out_dir = dir;
        expect_fail(&o, TP_EINVAL);
    }
    base_opts(&o, 1, 0);
    o.out_dir = dir;
    expect_fail(&o, TP_EINVAL);
    o.days = 3661;
    expect_fail(&o, TP_EINVAL);
    base_opts(&o, 1, 1);
    o.out_dir = dir;
    o.terminals = 0;
    expect_fail(&o, TP_EINVAL);
    o.terminals = 3;
    expect_fail(&o, TP_EINVAL);
    base_opts(&o, 1, 1);
    o.out_dir = dir;
    o.orders_per_day = -1;
    expect_fail(&o, TP_EINVAL);
    o.orders_per_day = 0;
    o.blpr_rows = -5;
    expect_fail(&o, TP_EINVAL);
    static const char *const bad_dates[] = {"2025-02-30", "2025-1-01",  "abcd-ef-gh", "2025-01-01x",
                                            "1969-12-31", "2023-02-29", "",           "2025/01/01",
                                            "2025-13-01"};
    for (size_t i = 0; i < sizeof bad_dates / sizeof *bad_dates; i++) {
        base_opts(&o, 1, 1);
        o.out_dir = dir;
        o.start_date = bad_dates[i];
        expect_fail(&o, TP_EINVAL);
    }
    base_opts(&o, 1, 1);
    expect_fail(&o, TP_EINVAL); /* no out_dir */
    o.out_dir = "";
    expect_fail(&o, TP_EINVAL);
    o.out_dir = under; /* under a regular file: cannot be created */
    expect_fail(&o, TP_EIO);
    o.out_dir = file; /* exists, not a folder */
    expect_fail(&o, TP_EIO);
    struct stat sb;
    ck_assert_int_ne(stat(dir, &sb), 0); /* nothing was created for bad options */

    /* a valid leap day is accepted */
    base_opts(&o, 1, 1);
    o.terminals = 1;
    o.out_dir = dir;
    o.start_date = "2024-02-29";
    o.orders_per_day = 3;
    o.blpr_rows = 3;
    tp_gen_stats st;
    ck_assert_int_eq(tp_gen_run(&o, &st, &e), 0);
    ck_assert_int_eq(st.files, 7);

    /* big file arguments */
    char big[PATH_MAX];
    ck_assert(snprintf(big, sizeof big, "%s/nope/big.csv", dir) < (int)sizeof big);
    ck_assert_int_eq(tp_gen_big_rd5000(NULL, 100, 1, &e), TP_EINVAL);
    ck_assert_int_eq(tp_gen_big_rd5000(big, 0, 1, &e), TP_EINVAL);
    ck_assert_int_eq(tp_gen_big_rd5000(big, -1, 1, &e), TP_EINVAL);
    ck_assert_int_eq(tp_gen_big_rd5000(big, 100, 1, &e), TP_EIO);
    ck_assert(e.msg[0] != '\0');
}
END_TEST

/* ---- big rd5000 ---------------------------------------------------------- */

START_TEST(test_big_rd5000)
{
    char dir[PATH_MAX], p1[PATH_MAX], p2[PATH_MAX];
    sub(dir, sizeof dir, "big");
    ck_assert_int_eq(mkdir(dir, 0777), 0);
    ck_assert(snprintf(p1, sizeof p1, "%s/one.csv", dir) < (int)sizeof p1);
    ck_assert(snprintf(p2, sizeof p2, "%s/two.csv", dir) < (int)sizeof p2);
    tp_error e = {0};
    const long long want = 1 << 20;
    ck_assert_msg(tp_gen_big_rd5000(p1, want, 9, &e) == 0, "%s", e.msg);
    ck_assert_msg(tp_gen_big_rd5000(p2, want, 9, &e) == 0, "%s", e.msg);
    size_t n1, n2;
    char *a = slurp(p1, &n1), *b = slurp(p2, &n2);
    ck_assert_msg((long long)n1 >= want && (long long)n1 < want + 1024, "size %zu", n1);
    ck_assert(n1 == n2 && !memcmp(a, b, n1));
    free(a);
    free(b);
    table t;
    ck_assert_int_eq(table_load(p1, &t), 0);
    ck_assert_int_gt(t.n, 4000);
    char *hdr = first_line(p1);
    ck_assert_str_eq(hdr, HDR_RD5000);
    free(hdr);
    for (int i = 1; i < t.n; i++)
        ck_assert_int_eq(t.r[i].n, 40);
    table_free(&t);
    names ns = list_dir(dir);
    ck_assert_uint_eq(ns.n, 2); /* no temporary left */
    names_free(&ns);

    /* tiny: the header only */
    ck_assert_int_eq(tp_gen_big_rd5000(p1, 10, 9, &e), 0);
    ck_assert_int_eq(count_lines(p1), 1);
}
END_TEST

/* ---- byte stability ------------------------------------------------------ */

/* The sha256 of what `sha256sum` prints for a folder's files in byte order of
 * their names ("<hex>  <name>\n" each): the same value as
 *   cd DIR && LC_ALL=C sha256sum * | sha256sum */
static void folder_digest(const char *dir, char hex[TP_SHA256_HEX])
{
    names ns = list_dir(dir);
    tp_sha256 h;
    tp_sha256_init(&h);
    tp_error e = {0};
    for (size_t i = 0; i < ns.n; i++) {
        char fh[TP_SHA256_HEX];
        ck_assert_msg(tp_sha256_file(path_in(dir, ns.v[i]).p, fh, NULL, &e) == 0, "%s", e.msg);
        tp_sha256_update(&h, fh, strlen(fh));
        tp_sha256_update(&h, "  ", 2);
        tp_sha256_update(&h, ns.v[i], strlen(ns.v[i]));
        tp_sha256_update(&h, "\n", 1);
    }
    ck_assert_int_eq(tp_sha256_final_hex(&h, hex, &e), 0);
    names_free(&ns);
}

/* Tests, benchmarks and expected files depend on the generator's exact
 * bytes, so a refactoring of the generator must not change them.  The
 * digests were computed when this test was added, from the generator as it
 * then was (engine/gen.c, before its move to tests/gen): `tillpipe gen` with
 * the options in each comment, then the command in folder_digest's comment
 * (sha256sum for the big file).  Change them only with a deliberate change
 * of the output, and say so in the commit. */
START_TEST(test_bytes_pinned)
{
    static const struct {
        const char *name;
        int branches, terminals, days, orders, faults;
        unsigned long long seed;
        long long blpr;
        const char *start;
        const char *sha;
    } sets[] = {
        /* --branches 8 --days 6 --seed 20250101 --blpr-rows 200: both POS
         * generations, with re-sends, missing files and bad rows */
        {"pin_a", 8, 2, 6, 0, 1, 20250101, 200, NULL,
         "edc67310c2fe8938cfd3e6c72e5bec722c2df026eaad1947003d44180ead0766"},
        /* --branches 33 --days 1 --terminals 1 --seed 7 --orders 30
         * --blpr-rows 30 --start 2024-02-29 --no-faults: branches beyond the
         * named ones (random profiles, B0NN codes) on a leap day */
        {"pin_b", 33, 1, 1, 30, 0, 7, 30, "2024-02-29",
         "e3d3603b59bacb6057e72de055de114577b18e1a19df90117d6443e9cde74113"},
        /* --branches 1 --days 47 --terminals 1 --seed 8 --orders 10
         * --blpr-rows 10: products that join the master after 45 days */
        {"pin_c", 1, 1, 47, 10, 1, 8, 10, NULL,
         "f50a273552820f7bce5079033f2b922b17c24752d12898bd21b93436b394be54"},
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        char dir[PATH_MAX], hex[TP_SHA256_HEX];
        sub(dir, sizeof dir, sets[i].name);
        tp_gen_opts o;
        tp_gen_opts_init(&o);
        o.branches = sets[i].branches;
        o.terminals = sets[i].terminals;
        o.days = sets[i].days;
        o.orders_per_day = sets[i].orders;
        o.faults = sets[i].faults;
        o.seed = sets[i].seed;
        o.blpr_rows = sets[i].blpr;
        o.start_date = sets[i].start;
        tp_gen_stats st;
        gen_into(dir, &o, &st);
        folder_digest(dir, hex);
        ck_assert_msg(!strcmp(hex, sets[i].sha), "%s: the generated folder changed (%s)",
                      sets[i].name, hex);
    }

    /* --big-rd5000 200000 --seed 5 */
    char big[PATH_MAX], hex[TP_SHA256_HEX];
    sub(big, sizeof big, "pin_big.csv");
    tp_error e = {0};
    ck_assert_msg(tp_gen_big_rd5000(big, 200000, 5, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(tp_sha256_file(big, hex, NULL, &e), 0);
    ck_assert_str_eq(hex, "b41dbd4f17327c570d933f37a9920e3b7d572de828d627d0e35b868358d2576c");
}
END_TEST

static Suite *gen_suite(void)
{
    Suite *s = suite_create("gen");
    TCase *tc = tcase_create("gen");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_same_seed_identical);
    tcase_add_test(tc, test_file_names);
    tcase_add_test(tc, test_headers);
    tcase_add_test(tc, test_layouts);
    tcase_add_test(tc, test_classic_quirks);
    tcase_add_test(tc, test_joins);
    tcase_add_test(tc, test_volumes);
    tcase_add_test(tc, test_volumes_fixed);
    tcase_add_test(tc, test_faults);
    tcase_add_test(tc, test_bad_args);
    tcase_add_test(tc, test_big_rd5000);
    tcase_add_test(tc, test_bytes_pinned);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(test_base, sizeof test_base, "%s/tp_test_gen.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(test_base)) {
        fprintf(stderr, "test_gen: mkdtemp %s: %s\n", test_base, strerror(errno));
        return 1;
    }
    int failed = tu_run_suite(gen_suite());
    rm_rf(test_base);
    return failed ? 1 : 0;
}
