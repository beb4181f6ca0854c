/* test_parity.c -- legacy parity on the chain's own anonymised reports, kept
 * outside the repository (CMake cache variable TP_SHARED_SAMPLES_DIR, by
 * default ../shared/samples/pos-reports beside the source tree): `tillpipe run`
 * over them must write exactly the rows of the legacy combiner's
 * expected/record2025.csv, compared as the spec's "Legacy parity" says (a
 * multiset of parsed CSV rows, every '"' dropped).
 *
 * When that folder is not there the test prints one line saying so and passes
 * (CTest lists it as skipped): the project's own samples (test_samples) need
 * nothing outside the repository. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tillpipe/csv.h>

#include "testutil.h"

#define BIN TP_TEST_BIN
#define PLUGINS " --plugins " TP_TEST_PLUGIN_DIR
#define SHARED TP_TEST_SHARED_SAMPLES_DIR

typedef struct rows {
    char **v;
    size_t n, cap;
    char line[65536];
} rows;

/* One parsed CSV row as a string: fields joined by \x1f, every '"' dropped
 * (the spec's parity rule). */
static int collect(void *ud, uint64_t line, const tp_field *f, size_t n)
{
    rows *r = ud;
    if (line == 1)
        return 0; /* header */
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < f[i].len && used < sizeof r->line - 2; j++)
            if (f[i].ptr[j] != '"')
                r->line[used++] = f[i].ptr[j];
        if (i + 1 < n)
            r->line[used++] = '\x1f';
    }
    r->line[used] = '\0';
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
    }
    r->v[r->n++] = strdup(r->line);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_rows(const char *path, rows *r)
{
    memset(r, 0, sizeof *r);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    tp_csv csv;
    ck_assert_int_eq(tp_csv_init(&csv, 0, 0), 0);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        ck_assert_int_eq(tp_csv_feed(&csv, buf, n, collect, r), 0);
    ck_assert_int_eq(tp_csv_finish(&csv, collect, r), 0);
    tp_csv_free(&csv);
    fclose(f);
    qsort(r->v, r->n, sizeof *r->v, cmp);
}

static void free_rows(rows *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i]);
    free(r->v);
}

/* Compare as multisets; prints up to 5 rows found on one side only. */
static size_t multiset_diff(const rows *a, const rows *b)
{
    size_t i = 0, j = 0, diff = 0;
    while (i < a->n || j < b->n) {
        int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i], b->v[j]);
        if (c == 0) {
            i++;
            j++;
            continue;
        }
        if (diff++ < 5)
            fprintf(stderr, "only in %s: %s\n", c < 0 ? "tillpipe" : "expected",
                    c < 0 ? a->v[i] : b->v[j]);
        if (c < 0)
            i++;
        else
            j++;
    }
    return diff;
}

START_TEST(legacy_parity_on_the_chains_reports)
{
    char *dir = tu_tmpdir();
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, BIN " run" PLUGINS " --reports %s --out %s/r.csv --quiet", SHARED,
             dir);
    ck_assert_msg(tu_run(cmd, &out) == 0, "run failed: %s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s/r.csv", dir);
    rows ours, theirs;
    load_rows(cmd, &ours);
    load_rows(SHARED "/expected/record2025.csv", &theirs);
    ck_assert_uint_gt(theirs.n, 1000);
    size_t diff = multiset_diff(&ours, &theirs);
    ck_assert_msg(diff == 0, "%zu rows differ from the legacy combiner (%zu ours, %zu expected)",
                  diff, ours.n, theirs.n);
    ck_assert_uint_eq(ours.n, theirs.n);
    free_rows(&ours);
    free_rows(&theirs);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

int main(void)
{
    struct stat st;
    if (stat(SHARED, &st) != 0) {
        printf("parity: skipped: %s not found\n", SHARED);
        return EXIT_SUCCESS;
    }
    Suite *s = suite_create("parity");
    TCase *t = tcase_create("parity");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, legacy_parity_on_the_chains_reports);
    suite_add_tcase(s, t);
    return tu_run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
