/* test_samples.c -- the project's own samples (samples/, see samples/README.md):
 * `tillpipe run` over every case's reports writes exactly its expected records,
 * byte for byte, in the record2025 and jsonl formats, and its expected --report
 * (plugin hashes aside: they depend on the build); samples/branches.json gives
 * the same records as the built-in configuration; the generated case is what
 * `tillpipe gen` makes with the options in generated/gen.args; and the archives
 * give exactly the records of the generated terminal-days they hold. */
#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

#define BIN TP_TEST_BIN
#define PLUGINS " --plugins " TP_TEST_PLUGIN_DIR
#define SAMPLES TP_TEST_SAMPLES_DIR

/* Cases that must be there; any other folder of samples/ with a reports/
 * folder is run too. */
static const char *const known[] = {"classic", "newer-pos", "resent",   "missing",
                                    "damaged", "archives",  "generated"};
#define NKNOWN (sizeof known / sizeof *known)
#define MAXCASES 32

static char *tmp; /* made in main(), removed at the end */

/* The case folders (names under samples/ that hold reports/), sorted. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t list_cases(char *names[MAXCASES])
{
    DIR *d = opendir(SAMPLES);
    ck_assert_msg(d != NULL, "cannot open %s", SAMPLES);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s/reports", SAMPLES, e->d_name);
        if (e->d_name[0] != '.' && stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            ck_assert_uint_lt(n, MAXCASES);
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t k = 0; k < NKNOWN; k++) {
        int found = 0;
        for (size_t i = 0; i < n; i++)
            found |= strcmp(names[i], known[k]) == 0;
        ck_assert_msg(found, "samples/%s/reports is missing", known[k]);
    }
    return n;
}

static void free_cases(char *names[], size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
}

/* The file at `got` has exactly the bytes of `want`; otherwise where the first
 * difference is, with the text around it. */
static void same_bytes(const char *what, const char *got, const char *want)
{
    size_t gl, wl;
    char *g = tu_read(got, &gl), *w = tu_read(want, &wl);
    ck_assert_msg(g != NULL, "%s: no output at %s", what, got);
    ck_assert_msg(w != NULL, "%s: no expected file %s", what, want);
    if (gl != wl || memcmp(g, w, gl) != 0) {
        size_t i = 0, line = 1, start = 0;
        for (; i < gl && i < wl && g[i] == w[i]; i++)
            if (g[i] == '\n') {
                line++;
                start = i + 1;
            }
        size_t from = i - start > 60 ? i - 60 : start;
        ck_abort_msg("%s: line %zu, column %zu differs from %s\n  got:  ...%.120s\n"
                     "  want: ...%.120s",
                     what, line, i - start + 1, want, g + from, w + from);
    }
    free(g);
    free(w);
}

/* `tillpipe run` over a case's reports into <tmp>/<case>.<suffix>, with
 * `extra` options; returns the output's path (static). */
static const char *run_case(const char *c, const char *suffix, const char *extra)
{
    static char out[4200];
    char cmd[12000], *log = NULL;
    snprintf(out, sizeof out, "%s/%s.%s", tmp, c, suffix);
    snprintf(cmd, sizeof cmd, BIN " run" PLUGINS " --reports %s/%s/reports --out %s --quiet %s",
             SAMPLES, c, out, extra);
    ck_assert_msg(tu_run(cmd, &log) == 0, "%s: %s", cmd, log);
    free(log);
    return out;
}

/* Remove every "sha256" key, at any depth. */
static void drop_hashes(json_t *j)
{
    if (json_is_object(j)) {
        json_object_del(j, "sha256");
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) drop_hashes(v);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) drop_hashes(v);
    }
}

static void same_report(const char *c, const char *got, const char *want)
{
    json_error_t e;
    json_t *g = json_load_file(got, 0, &e);
    ck_assert_msg(g != NULL, "%s: report %s: %s", c, got, e.text);
    json_t *w = json_load_file(want, 0, &e);
    ck_assert_msg(w != NULL, "%s: %s: %s", c, want, e.text);
    drop_hashes(g);
    if (!json_equal(g, w)) {
        char *gs = json_dumps(g, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        ck_abort_msg("%s: the report differs from %s; got:\n%s", c, want, gs);
    }
    json_decref(g);
    json_decref(w);
}

START_TEST(every_case_gives_its_expected_records)
{
    char *cases[MAXCASES], want[4200], what[300];
    size_t n = list_cases(cases);
    for (size_t i = 0; i < n; i++) {
        const char *c = cases[i];
        snprintf(what, sizeof what, "%s (record2025)", c);
        snprintf(want, sizeof want, "%s/%s/expected/records.record2025.csv", SAMPLES, c);
        same_bytes(what, run_case(c, "record2025.csv", ""), want);
        snprintf(what, sizeof what, "%s (jsonl)", c);
        snprintf(want, sizeof want, "%s/%s/expected/records.jsonl", SAMPLES, c);
        same_bytes(what, run_case(c, "jsonl", "--format jsonl"), want);
        char rep[4300], opt[4400];
        snprintf(rep, sizeof rep, "%s/%s.report.json", tmp, c);
        snprintf(opt, sizeof opt, "--report %s", rep);
        run_case(c, "with-report.csv", opt);
        snprintf(want, sizeof want, "%s/%s/expected/report.json", SAMPLES, c);
        same_report(c, rep, want);
    }
    free_cases(cases, n);
}
END_TEST

/* samples/branches.json is the chain's configuration written out: the same
 * records as the built-in one, for every case. */
START_TEST(branches_json_gives_the_same_records)
{
    char *cases[MAXCASES], want[4200], what[300];
    size_t n = list_cases(cases);
    for (size_t i = 0; i < n; i++) {
        snprintf(what, sizeof what, "%s (--branches samples/branches.json)", cases[i]);
        snprintf(want, sizeof want, "%s/%s/expected/records.jsonl", SAMPLES, cases[i]);
        same_bytes(
            what,
            run_case(cases[i], "cfg.jsonl", "--format jsonl --branches " SAMPLES "/branches.json"),
            want);
    }
    free_cases(cases, n);
}
END_TEST

START_TEST(generated_case_is_what_gen_makes)
{
    char *args = tu_read(SAMPLES "/generated/gen.args", NULL);
    ck_assert_ptr_nonnull(args);
    args[strcspn(args, "\n")] = '\0';
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, BIN " gen %s --out %s/gen", args, tmp);
    ck_assert_msg(tu_run(cmd, &out) == 0, "%s: %s", cmd, out);
    free(out);
    snprintf(cmd, sizeof cmd, "diff -r %s/gen " SAMPLES "/generated/reports", tmp);
    ck_assert_msg(tu_run(cmd, &out) == 0,
                  "samples/generated/reports is not what `tillpipe gen %s` makes "
                  "(samples/make.sh remakes it):\n%.2000s",
                  args, out);
    free(out);
    free(args);
}
END_TEST

/* The archives hold MAGS/1 and BETA/1 of the generated case: their records
 * are exactly those terminal-days' records there, lineage included. */
START_TEST(archives_hold_generated_terminal_days)
{
    DIR *d = opendir(SAMPLES "/archives/reports");
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int archives = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.')
            continue;
        ck_assert_msg((l > 4 && !strcmp(e->d_name + l - 4, ".zip")) ||
                          (l > 7 && !strcmp(e->d_name + l - 7, ".tar.gz")),
                      "archives/reports/%s is not an archive", e->d_name);
        archives++;
    }
    closedir(d);
    ck_assert_int_eq(archives, 2);
    char *gen = tu_read(SAMPLES "/generated/expected/records.jsonl", NULL);
    char *arc = tu_read(SAMPLES "/archives/expected/records.jsonl", NULL);
    ck_assert_ptr_nonnull(gen);
    ck_assert_ptr_nonnull(arc);
    size_t cap = strlen(gen) + 1, used = 0;
    char *want = malloc(cap);
    /* in the order run writes them: branch, terminal, date */
    static const char *const days[] = {"{\"branch\":\"BETA\",\"pos\":1,",
                                       "{\"branch\":\"MAGS\",\"pos\":1,"};
    for (size_t k = 0; k < 2; k++)
        for (char *line = gen; *line;) {
            char *end = strchr(line, '\n');
            size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
            if (!strncmp(line, days[k], strlen(days[k]))) {
                memcpy(want + used, line, len);
                used += len;
            }
            line += len;
        }
    want[used] = '\0';
    ck_assert_uint_gt(used, 0);
    ck_assert_msg(strcmp(arc, want) == 0,
                  "archives/expected/records.jsonl is not generated/'s BETA/1 and MAGS/1");
    free(want);
    free(gen);
    free(arc);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("samples");
    TCase *t = tcase_create("samples");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, every_case_gives_its_expected_records);
    tcase_add_test(t, branches_json_gives_the_same_records);
    tcase_add_test(t, generated_case_is_what_gen_makes);
    tcase_add_test(t, archives_hold_generated_terminal_days);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    tmp = tu_tmpdir();
    if (!tmp)
        return EXIT_FAILURE;
    int failed = tu_run_suite(suite());
    tu_rmrf(tmp);
    free(tmp);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
