/* test_run.c -- end-to-end tests of the tillpipe command: runs on generated
 * data, and every kind of bad input giving a one-line error, a non-zero exit
 * and no output file.  (The records of the project's samples are checked by
 * test_samples, legacy parity on the chain's own reports by test_parity.) */
#include <check.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define BIN TP_TEST_BIN
#define PLUGINS " --plugins " TP_TEST_PLUGIN_DIR

/* ----------------------------------------------------- generated data */

START_TEST(run_generated_all_formats)
{
    char *dir = tu_tmpdir();
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, BIN " gen --branches 6 --days 3 --seed 42 --out %s/in", dir);
    ck_assert_msg(tu_run(cmd, &out) == 0, "gen failed: %s", out);
    free(out);
    snprintf(cmd, sizeof cmd,
             BIN " run" PLUGINS " --reports %s/in --out %s/r.csv --report %s/report.json", dir, dir,
             dir);
    ck_assert_msg(tu_run(cmd, &out) == 0, "run failed: %s", out);
    ck_assert_msg(strstr(out, "36 terminal-days") != NULL, "summary: %s", out);
    free(out);
    snprintf(cmd, sizeof cmd,
             BIN " run" PLUGINS " --reports %s/in --out %s/r.jsonl --format jsonl --quiet", dir,
             dir);
    ck_assert_int_eq(tu_run(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd,
             BIN " run" PLUGINS " --reports %s/in --out %s/r.typed.csv --format csv --quiet", dir,
             dir);
    ck_assert_int_eq(tu_run(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd, BIN " run" PLUGINS " --reports %s/in --out %s/r2.csv --quiet", dir,
             dir);
    ck_assert_int_eq(tu_run(cmd, NULL), 0);

    char p1[4200], p2[4200];
    snprintf(p1, sizeof p1, "%s/r.csv", dir);
    size_t n2025 = tu_count_lines(p1) - 1;
    ck_assert_uint_gt(n2025, 36 * 10);
    snprintf(p2, sizeof p2, "%s/r.jsonl", dir);
    ck_assert_uint_eq(tu_count_lines(p2), n2025);
    /* every JSON line is a JSON object with the record's fields */
    FILE *jf = fopen(p2, "r");
    char jline[16384];
    size_t nj = 0;
    while (fgets(jline, sizeof jline, jf)) {
        json_error_t je;
        json_t *o = json_loads(jline, 0, &je);
        ck_assert_msg(json_is_object(o), "line %zu is not a JSON object: %s (%s)", nj + 1, je.text,
                      jline);
        ck_assert(json_is_string(json_object_get(o, "branch")));
        ck_assert(json_is_integer(json_object_get(o, "source_line")));
        json_t *amount = json_object_get(o, "amount");
        ck_assert(json_is_number(amount) || json_is_null(amount));
        json_decref(o);
        nj++;
    }
    fclose(jf);
    ck_assert_uint_eq(nj, n2025);
    snprintf(p2, sizeof p2, "%s/r.typed.csv", dir);
    ck_assert_uint_eq(tu_count_lines(p2) - 1, n2025);
    /* deterministic: the same input gives the same bytes */
    snprintf(p2, sizeof p2, "%s/r2.csv", dir);
    char *a = tu_read(p1, NULL), *b = tu_read(p2, NULL);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    /* the report explains choices and flags */
    snprintf(p2, sizeof p2, "%s/report.json", dir);
    char *rep = tu_read(p2, NULL);
    ck_assert_ptr_nonnull(strstr(rep, "\"reason\": \"chosen:"));
    ck_assert_ptr_nonnull(strstr(rep, "\"sha256\""));
    ck_assert_ptr_nonnull(strstr(rep, "\"why\": \"newpos 1.0.0"));
    free(rep);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(run_filters_and_stdout)
{
    char *dir = tu_tmpdir();
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, BIN " gen --branches 2 --days 2 --seed 5 --out %s/in --no-faults",
             dir);
    ck_assert_int_eq(tu_run(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd,
             BIN " run" PLUGINS " --reports %s/in --out - --format jsonl --branch BMC --pos 2 "
                 "--date 2025-01-02 --quiet",
             dir);
    ck_assert_int_eq(tu_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(
        strstr(out, "\"branch\":\"BMC\",\"pos\":2,\"business_date\":\"2025-01-02\""));
    ck_assert_ptr_null(strstr(out, "\"pos\":1"));
    ck_assert_ptr_null(strstr(out, "MAGS"));
    free(out);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

/* ----------------------------------------------------------- bad input */

/* Run the command (printf-style), expect exit `code`, a message containing
 * `want`, and nothing left in `outdir` (when not NULL). */
static void __attribute__((format(printf, 4, 5)))
expect_fail(int code, const char *want, const char *outdir, const char *fmt, ...)
{
    char cmd[12000], *out = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = tu_run(cmd, &out);
    ck_assert_msg(rc == code, "exit %d (want %d) for %s: %s", rc, code, cmd, out);
    ck_assert_msg(strstr(out, want) != NULL, "message lacks \"%s\": %s", want, out);
    if (outdir)
        ck_assert_msg(tu_count_entries(outdir) == 0, "output left behind in %s", outdir);
    free(out);
}

START_TEST(run_bad_inputs)
{
    char *dir = tu_tmpdir();
    char in[4200], outd[4200], cmd[12000];
    snprintf(in, sizeof in, "%s/in", dir);
    snprintf(outd, sizeof outd, "%s/out", dir);
    mkdir(in, 0755);
    mkdir(outd, 0755);
#define RUN BIN " run" PLUGINS

    expect_fail(1, "tillpipe run: ", outd, RUN " --reports %s/nope --out %s/r.csv", dir, outd);
    /* an empty folder, then one with nothing but another file */
    expect_fail(1, "no report files", outd, RUN " --reports %s --out %s/r.csv", in, outd);
    free(tu_write(in, "readme.txt", "hello"));
    expect_fail(1, "1 other file ignored", outd, RUN " --reports %s --out %s/r.csv", in, outd);
    expect_fail(1, "not a directory", outd, RUN " --reports %s/readme.txt --out %s/r.csv", in,
                outd);
    expect_fail(2, "unknown --format", outd, RUN " --reports %s --out %s/r.csv --format xml", in,
                outd);
    expect_fail(2, "--date", outd, RUN " --reports %s --out %s/r.csv --date 2026-02-30", in, outd);
    expect_fail(2, "--pos", outd, RUN " --reports %s --out %s/r.csv --pos x", in, outd);
    expect_fail(2, "required", NULL, RUN " --reports %s", in);
    expect_fail(2, "--bogus", outd, RUN " --reports %s --out %s/r.csv --bogus", in, outd);

    /* a good terminal-day next to one whose order lines have an unclosed quote */
    const char *h5000 =
        "STORE_NUM,TRANSDATE,INVOICE,CAS_CODE,ITE_CODE,QUANTITY,UNT_PRIC,AMOUNT,DISCOUNT,"
        "SCHARGE,DT,DEP_CODE,DATE,TIME,CUS_CODE,TRN_CODE,ORNUM,TAG,DISC_CODE,SRNO,SRNAME,TYPE,"
        "BACKJOB,DELIVERY,PHONE,RIDER,FREE,INV_FLAG,REC_NO,LPAY_DISC,GC_EXCESS,VAT_FLAG,VATDIV,"
        "BDL_CODE,VAT_AMNT,VAT_DISC,VAT_PRIC,TRANSNO,POS,BRANCH\n";
    const char *row =
        "1,2026-02-09 00:00:00,00250455,19122,BRK2,3.000,255.360,766.070,-153.210,0.000,SP,03,"
        "2026-02-09 00:00:00,07:25,,S,,S,1,,,D,1,0,,,0,1,2,0,0.000,0,9.333,BRK2,766.070,0.000,"
        "255.360,00247627,1,BMC\n";
    char body[4096];
    snprintf(body, sizeof body, "%s%s", h5000, row);
    free(tu_write(in, "a_BMC_1_rd5000_2026-02-09_20-00_.csv", body));
    snprintf(cmd, sizeof cmd, RUN " --reports %s --out %s/r.csv --quiet", in, outd);
    char *out = NULL;
    ck_assert_int_eq(tu_run(cmd, &out), 0);
    free(out);
    snprintf(cmd, sizeof cmd, "%s/r.csv", outd);
    ck_assert_uint_eq(tu_count_lines(cmd), 2);
    unlink(cmd);
    snprintf(body, sizeof body, "%s%s1,\"unclosed,2\n", h5000, row);
    free(tu_write(in, "a_BMC_2_rd5000_2026-02-09_20-00_.csv", body));
    expect_fail(1, "a_BMC_2_rd5000_2026-02-09_20-00_.csv:3: quoted field is never closed", outd,
                RUN " --reports %s --out %s/r.csv", in, outd);

    /* bad branch configuration: names the key, nothing written */
    char *bad_file = tu_write(in, "a_BMC_2_rd5000_2026-02-09_20-00_.csv", "");
    unlink(bad_file);
    free(bad_file);
    char *cfg = tu_write(dir, "branches.json", "{\"branches\": [{\"code\": \"BMC\", \"pos\": 2}]}");
    expect_fail(1, "branches[0].pos", outd, RUN " --reports %s --out %s/r.csv --branches %s", in,
                outd, cfg);
    expect_fail(1, "none.json", outd, RUN " --reports %s --out %s/r.csv --branches %s/none.json",
                in, outd, dir);
    /* a configuration naming a plugin that does not exist */
    unlink(cfg);
    free(cfg);
    cfg = tu_write(dir, "branches.json",
                   "{\"branches\": [{\"code\": \"BMC\", \"parsers\": {\"rd5000\": \"nosuch\"}}]}");
    expect_fail(1, "no loaded plugin has that name", outd,
                RUN " --reports %s --out %s/r.csv --branches %s", in, outd, cfg);
    free(cfg);
    /* output into a folder that does not exist */
    expect_fail(1, "cannot create output", NULL, RUN " --reports %s --out %s/missing/r.csv", in,
                dir);
    /* no plugins where asked */
    expect_fail(1, "no plugin could be loaded", outd,
                BIN " run --plugins %s --reports %s --out %s/r.csv", outd, in, outd);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(parse_and_plugin_commands)
{
    char *dir = tu_tmpdir();
    char cmd[8192], *out = NULL;
    const char *csv = "DEP_CODE,DEP_DESC,POS,BRANCH\n01,CHICKEN MEALS,1,BMC\n"
                      "\"02\",\"CLASSIC, \"\"BIG\"\" MEALS\",1,BMC\n";
    char *f = tu_write(dir, "a_BMC_1_rd1800_2026-02-09_20-00_.csv", csv);
    snprintf(cmd, sizeof cmd, BIN " parse" PLUGINS " %s", f);
    ck_assert_int_eq(tu_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(
        strstr(out, "{\"line\":2,\"row\":{\"CODE\":\"01\",\"NAME\":\"CHICKEN MEALS\"}}\n"));
    ck_assert_ptr_nonnull(strstr(
        out, "{\"line\":3,\"row\":{\"CODE\":\"02\",\"NAME\":\"CLASSIC, \\\"BIG\\\" MEALS\"}}\n"));
    ck_assert_ptr_nonnull(strstr(out, "2 rows, 0 rejected"));
    free(out);
    expect_fail(2, "unknown report type", NULL, BIN " parse" PLUGINS " --type rd9999 %s", f);
    expect_fail(1, "nope.csv", NULL, BIN " parse" PLUGINS " --type rd1800 %s/nope.csv", dir);
    expect_fail(1, "nosuch", NULL, BIN " parse" PLUGINS " --plugin nosuch %s", f);
    expect_fail(1, "does not parse rd1800", NULL, BIN " parse" PLUGINS " --plugin rd5000 %s", f);
    expect_fail(2, "FILE", NULL, BIN " parse" PLUGINS " --type rd1800");
    free(f);

    snprintf(cmd, sizeof cmd, BIN " plugin list" PLUGINS);
    ck_assert_int_eq(tu_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "newpos"));
    ck_assert_ptr_nonnull(strstr(out, "BPAG, BGRAN, BETA, BTAB"));
    free(out);
    snprintf(cmd, sizeof cmd, BIN " plugin info %s/rd5000.so", TP_TEST_PLUGIN_DIR);
    ck_assert_int_eq(tu_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "name:     rd5000"));
    ck_assert_ptr_nonnull(strstr(out, "sha256:   "));
    free(out);
    f = tu_write(dir, "fake.so", "not an ELF file");
    expect_fail(1, "not an ELF file", NULL, BIN " plugin info %s", f);
    free(f);
    expect_fail(2, "unknown subcommand", NULL, BIN " plugin frob");
    expect_fail(2, "unknown command", NULL, BIN " nosuchcommand");
    tu_rmrf(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("run");
    TCase *t = tcase_create("commands");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, run_generated_all_formats);
    tcase_add_test(t, run_filters_and_stdout);
    tcase_add_test(t, run_bad_inputs);
    tcase_add_test(t, parse_and_plugin_commands);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run_suite(suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
