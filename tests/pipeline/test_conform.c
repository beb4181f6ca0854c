/* test_conform.c -- the plugin conformance kit (pipeline/conform.h) and
 * `tillpipe plugin test`.
 *
 * The bundled plugins pass with their cases (tests/plugins/cases) and with
 * the built-in smoke inputs.  The plugins tests/pipeline/CMakeLists.txt
 * builds from fixtures/plugins/conform_bad.c break the SDK's contract one
 * way each, and each fails with its own reason: rows of the wrong field
 * count, a row emitted from close, output that depends on the chunking, a
 * leak per row (the memory check), SIGSEGV, exit(), emit's refusal ignored;
 * fixtures/plugins/misbehave.c, given {"action": "hang"} by a case's
 * options.json, is killed as making no progress.  Cases whose files
 * disagree with the output fail, naming the file and the first difference.
 * And the command's usage errors and exit status.
 */
#include <check.h>

#include "testutil.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pipeline/conform.h"

#define BIN TP_TEST_BIN
#define CASES TP_TEST_SOURCE_DIR "/tests/plugins/cases"

#define ck_assert_has(text, needle)                                                                \
    ck_assert_msg(strstr((text), (needle)) != NULL, "report lacks \"%s\":\n%s", (needle), (text))

static const char *const bundled[] = {"rd5000",   "rd5800", "rd5500", "rd1800",
                                      "discount", "rd5900", "blpr",   "newpos"};

/* --------------------------------------------------------------- helpers */

/* Run the kit on `so` (a path); the report (caller frees), the result in
 * *res.  The run itself must succeed. */
static char *kit(const char *so, tp_conform_opts o, tp_conform_result *res)
{
    char *text = NULL;
    size_t len = 0;
    o.out = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(o.out);
    tp_error err = {0};
    int rc = tp_conform_run(so, &o, res, &err);
    fclose(o.out);
    ck_assert_msg(rc == 0, "%s: the kit could not run: %s", so, err.msg);
    ck_assert_msg(res->checks > 0, "%s: no check ran:\n%s", so, text);
    return text;
}

static void fixture(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s.so", TP_TEST_CONFORM_DIR, name);
}

/* The kit on fixture `name` without cases, the memory check fed `mb`
 * megabytes (0: none); the report, which must have `nfail` failures. */
static char *kit_fixture(const char *name, long long mb, unsigned nfail)
{
    char so[4200];
    fixture(so, sizeof so, name);
    tp_conform_opts o = {.memory_input = mb ? mb * 1000 * 1000 : -1};
    tp_conform_result res;
    char *text = kit(so, o, &res);
    ck_assert_msg(res.failed == nfail, "%s: %u of %u checks failed, %u expected:\n%s", name,
                  res.failed, res.checks, nfail, text);
    return text;
}

/* dir/name/file with `text` (NULL: no file); the case folder is made. */
static void case_file(const char *dir, const char *name, const char *file, const char *text)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    mkdir(path, 0755);
    if (text)
        free(tu_write(path, file, text));
}

/* Run a command line; its exit status must be `code` and its output hold
 * every string of the NULL-terminated list.  The output (caller frees). */
static char *expect_run(int code, const char *cmd, ...)
{
    char *out = NULL;
    int rc = tu_run(cmd, &out);
    ck_assert_msg(rc == code, "exit %d (want %d) for %s:\n%s", rc, code, cmd, out);
    va_list ap;
    va_start(ap, cmd);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
        ck_assert_has(out, s);
    va_end(ap);
    return out;
}

/* --------------------------------------------------------------- bundled */

/* Every bundled plugin passes with its cases, memory check included (the
 * default 200 MB). */
START_TEST(bundled_pass_their_cases)
{
    char so[4200];
    snprintf(so, sizeof so, "%s/%s.so", TP_TEST_PLUGIN_DIR, bundled[_i]);
    tp_conform_result res;
    char *text = kit(so, (tp_conform_opts){.cases_dir = CASES}, &res);
    ck_assert_msg(res.failed == 0, "%s failed the kit:\n%s", bundled[_i], text);
    ck_assert_uint_ge(res.checks, 5); /* 3+ cases, stop, memory */
    ck_assert_has(text, " case empty: ");
    ck_assert_has(text, " stop: emit refused row 1 of case ");
    ck_assert_has(text, " memory: peak RSS grew ");
    ck_assert_has(text, "over 200.0 MB of generated input");
    ck_assert_has(text, " ok\n");
    free(text);
}
END_TEST

/* ... and with the built-in smoke inputs of their type. */
START_TEST(bundled_pass_smoke)
{
    char so[4200], want[200];
    snprintf(so, sizeof so, "%s/%s.so", TP_TEST_PLUGIN_DIR, bundled[_i]);
    tp_conform_result res;
    char *text = kit(so, (tp_conform_opts){.memory_input = -1}, &res);
    ck_assert_msg(res.failed == 0, "%s failed the smoke checks:\n%s", bundled[_i], text);
    ck_assert_uint_eq(res.checks, 6); /* five smoke inputs and stop */
    static const char *const smoke[] = {"rows", "empty", "no_final_newline", "crlf",
                                        "quoted_delimiter_newline"};
    for (size_t i = 0; i < sizeof smoke / sizeof smoke[0]; i++) {
        snprintf(want, sizeof want, " smoke %s: ", smoke[i]);
        ck_assert_has(text, want);
    }
    ck_assert_has(text, ": 3 rows, 0 problems, result ok; the same output at every chunk size");
    free(text);
}
END_TEST

/* A correct plugin of the fixture's own passes everything. */
START_TEST(correct_fixture_passes)
{
    char *text = kit_fixture("good", 20, 0);
    ck_assert_has(text, "ok   rd5900 smoke rows: 3 rows, 0 problems, result ok");
    ck_assert_has(text, "ok   rd5900 memory: peak RSS grew ");
    ck_assert_has(text, "7 checks: 7 ok\n");
    free(text);
}
END_TEST

/* --------------------------------------------------------------- misbehaving */

START_TEST(wrong_field_count)
{
    char *text = kit_fixture("fields", 0, 5);
    ck_assert_has(text, "FAIL rd5900 smoke rows on the whole input (");
    ck_assert_has(text, "emitted a row of 3 fields at line 2; rd5900 rows have 2");
    ck_assert_has(text, "ok   rd5900 smoke empty:"); /* no row, nothing wrong */
    free(text);
}
END_TEST

START_TEST(emit_outside_a_call)
{
    char *text = kit_fixture("emit_in_close", 0, 5);
    ck_assert_has(text, "FAIL rd5900 smoke rows on the whole input (");
    ck_assert_has(text, "emitted a row (line 4) during close: rows are emitted only in feed and "
                        "finish");
    free(text);
}
END_TEST

START_TEST(output_depends_on_chunking)
{
    char *text = kit_fixture("chunk_lines", 0, 4);
    ck_assert_has(text, "FAIL rd5900 smoke rows at chunk size 1: output differs from the "
                        "whole-input parse at line 1: got {\"line\":2,\"row\":{\"CODE\":\"A\","
                        "\"NAME\":\"\"}}");
    ck_assert_has(text,
                  "; whole input: {\"line\":2,\"row\":{\"CODE\":\"00001\",\"NAME\":\"CASH\"}}");
    ck_assert_has(text, "ok   rd5900 smoke empty:");
    free(text);
}
END_TEST

/* A leak per row fails the memory check, which stops as soon as the growth
 * passes the limit -- long before its 200 MB. */
START_TEST(leak_fails_memory)
{
    char *text = kit_fixture("leak", 200, 1);
    ck_assert_has(text, "ok   rd5900 smoke rows:");
    ck_assert_has(text, "FAIL rd5900 memory: peak RSS grew by ");
    ck_assert_has(text, "past the limit of 64 MiB: memory must not grow with the file");
    const char *after = strstr(text, "MiB after ");
    ck_assert_ptr_nonnull(after);
    ck_assert_double_lt(strtod(after + 10, NULL), 50.0); /* MB fed when it stopped */
    free(text);
}
END_TEST

START_TEST(segfault_is_reported)
{
    char *text = kit_fixture("segv", 20, 6); /* the empty input does not feed */
    ck_assert_has(text, "FAIL rd5900 smoke rows on the whole input (");
    ck_assert_has(text, " bytes): killed by SIGSEGV (in feed)\n");
    ck_assert_has(text, "ok   rd5900 smoke empty:");
    ck_assert_has(text, "FAIL rd5900 memory after 0.0 MB of generated input: killed by SIGSEGV");
    ck_assert_has(text, "7 checks: 1 ok, 6 FAILED\n");
    free(text);
}
END_TEST

/* A crash while loading (a constructor) is the kit's error, not its end:
 * the plugin is loaded only in children. */
START_TEST(crash_while_loading)
{
    char so[4200], msg[4400];
    fixture(so, sizeof so, "ctor_segv");
    tp_conform_result res;
    tp_error err = {0};
    ck_assert_int_eq(tp_conform_run(so, NULL, &res, &err), TP_EPLUGIN);
    snprintf(msg, sizeof msg,
             "plugin %s: loading it killed by SIGSEGV: its constructors or tp_plugin_entry() "
             "crashed, exited or hung",
             so);
    ck_assert_str_eq(err.msg, msg);
    ck_assert_uint_eq(res.checks, 0);
}
END_TEST

START_TEST(exit_is_reported)
{
    char *text = kit_fixture("exit", 0, 5);
    ck_assert_has(text, "FAIL rd5900 smoke empty on the whole input (0 bytes): exited with 1 (in "
                        "finish)\n");
    /* the stop check never reaches finish */
    ck_assert_has(text, "ok   rd5900 stop: emit refused row 1");
    free(text);
}
END_TEST

START_TEST(refusal_ignored)
{
    char *text = kit_fixture("no_stop", 0, 1);
    ck_assert_has(text, "FAIL rd5900 stop (the built-in rd5900 rows) on the whole input (");
    ck_assert_has(text, "emit refused row 1 (returned -1), yet feed offered 2 more row(s); after "
                        "a refusal the plugin must return TP_PLUGIN_ESTOP");
    free(text);
}
END_TEST

/* misbehave.c told to hang by a case's options.json: killed for making no
 * progress, the other case passing. */
START_TEST(hang_is_killed)
{
    char *dir = tu_tmpdir(), so[4200];
    case_file(dir, "hang", "input.csv", "PAY_CODE,PAY_DESC\n1,CASH\n");
    case_file(dir, "hang", "options.json", "{\"action\": \"hang\"}");
    case_file(dir, "quiet", "input.csv", "PAY_CODE,PAY_DESC\n1,CASH\n2,CARD\n");
    case_file(dir, "quiet", "expected.jsonl", "");
    fixture(so, sizeof so, "misbehave");
    tp_conform_result res;
    char *text =
        kit(so, (tp_conform_opts){.cases_dir = dir, .timeout_s = 1, .memory_input = -1}, &res);
    ck_assert_has(text, "FAIL rd5900 case hang on the whole input (25 bytes): no progress for 1 s "
                        "(killed) (in feed)\n");
    ck_assert_has(text, "ok   rd5900 case quiet: 0 rows, 0 problems, result ok; the same output "
                        "at every chunk size 1..32; as expected.jsonl says\n");
    ck_assert_has(text, "ok   rd5900 stop: not exercised: case quiet gave no row to refuse\n");
    ck_assert_msg(res.failed == 1, "%u checks failed:\n%s", res.failed, text);
    free(text);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

/* Cases whose files disagree with the parse fail, naming the file and the
 * first difference; a folder that is no case says what a case holds. */
START_TEST(case_files_checked)
{
    char *dir = tu_tmpdir(), so[4200];
    const char *in = "PAY_CODE,PAY_DESC\n00001,CASH\n00002,CARD\n";
    const char *rows = "{\"line\":2,\"row\":{\"CODE\":\"00001\",\"NAME\":\"CASH\"}}\n"
                       "{\"line\":3,\"row\":{\"CODE\":\"00002\",\"NAME\":\"CARD\"}}\n";
    case_file(dir, "right", "input.csv", in);
    case_file(dir, "right", "expected.jsonl", rows);
    case_file(dir, "wrong", "input.csv", in);
    case_file(dir, "wrong", "expected.jsonl",
              "{\"line\":2,\"row\":{\"CODE\":\"1\",\"NAME\":\"CASH\"}}\n");
    case_file(dir, "short", "input.csv", in);
    case_file(dir, "short", "expected.jsonl",
              "{\"line\":2,\"row\":{\"CODE\":\"00001\",\"NAME\":\"CASH\"}}\n");
    case_file(dir, "unmet_error", "input.csv", in);
    case_file(dir, "unmet_error", "error", "input.csv:2: no such thing\n");
    case_file(dir, "no_input", "expected.jsonl", "");
    case_file(dir, "bad_options", "input.csv", in);
    case_file(dir, "bad_options", "options.json", "[1, 2]");
    fixture(so, sizeof so, "good");
    tp_conform_result res;
    char *text = kit(so, (tp_conform_opts){.cases_dir = dir, .memory_input = -1}, &res);
    ck_assert_has(text, "ok   rd5900 case right: 2 rows, 0 problems, result ok; the same output at "
                        "every chunk size 1..40; as expected.jsonl says\n");
    ck_assert_has(text,
                  "FAIL rd5900 case wrong: output differs from expected.jsonl at line 1: got "
                  "{\"line\":2,\"row\":{\"CODE\":\"00001\",\"NAME\":\"CASH\"}}; "
                  "expected.jsonl: {\"line\":2,\"row\":{\"CODE\":\"1\",\"NAME\":\"CASH\"}}\n");
    ck_assert_has(text, "FAIL rd5900 case short: output differs from expected.jsonl at line 2: got "
                        "{\"line\":3,");
    ck_assert_has(text, "; expected.jsonl: (nothing: it ends)\n");
    ck_assert_has(text, "FAIL rd5900 case unmet_error: the parse succeeded; error says it fails "
                        "with: input.csv:2: no such thing\n");
    ck_assert_has(text, "FAIL rd5900 case no_input: input.csv is missing (a case folder holds "
                        "input.csv");
    ck_assert_has(text, "FAIL rd5900 case bad_options: options.json:1: not a JSON object");
    ck_assert_has(text, "ok   rd5900 stop: emit refused row 1 of case right");
    ck_assert_msg(res.failed == 5, "%u checks failed:\n%s", res.failed, text);
    free(text);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

/* ---------------------------------------------------------------- the command */

START_TEST(command_exit_status)
{
    char cmd[8400], so[4200];
    snprintf(cmd, sizeof cmd, BIN " plugin test %s/rd1800.so --cases " CASES " --memory-mb 10",
             TP_TEST_PLUGIN_DIR);
    free(expect_run(0, cmd, "ok   rd1800 case ", "ok   rd1800 memory: ", " checks: ", NULL));
    fixture(so, sizeof so, "chunk_lines");
    snprintf(cmd, sizeof cmd, BIN " plugin test %s --memory-mb 0", so);
    char *out = expect_run(1, cmd, "FAIL rd5900 smoke rows at chunk size 1", "4 FAILED\n", NULL);
    ck_assert_msg(strstr(out, " memory") == NULL, "--memory-mb 0 ran the memory check:\n%s", out);
    free(out);
}
END_TEST

START_TEST(command_usage_errors)
{
    char cmd[8400], so[4200];
    fixture(so, sizeof so, "good");
    static const struct {
        int code, nso; /* the exit status; how many times the plugin is named */
        const char *args, *says;
    } bad[] = {
        {2, 0, "", "a PLUGIN.so to test is required"},
        {2, 2, "", "exactly one PLUGIN.so"},
        {2, 1, "--type rd9999", "unknown report type \"rd9999\""},
        {2, 1, "--timeout 0", "--timeout must be a whole number from 1 to 3600, got \"0\""},
        {2, 1, "--memory-mb x", "--memory-mb must be a whole number"},
        {2, 1, "--memory-limit-mb -5", "--memory-limit-mb must be a whole number"},
        {2, 1, "--bogus", "unknown or incomplete option \"--bogus\""},
        {1, 1, "--type rd5000", "does not parse rd5000 (it parses rd5900)"},
        {1, 1, "--cases /nonexistent/cases", "cases folder /nonexistent/cases: No such file"},
        {1, 0, "/nonexistent/x.so", "/nonexistent/x.so"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(cmd, sizeof cmd, BIN " plugin test %s %s %s", bad[i].nso > 0 ? so : "",
                 bad[i].nso > 1 ? so : "", bad[i].args);
        free(expect_run(bad[i].code, cmd, "tillpipe plugin test: ", bad[i].says, NULL));
    }
    char *dir = tu_tmpdir();
    snprintf(cmd, sizeof cmd, BIN " plugin test %s --cases %s", so, dir);
    free(expect_run(1, cmd, "holds no case: a case is a folder with input.csv", NULL));
    tu_rmrf(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conform");
    TCase *tc = tcase_create("bundled");
    tcase_set_timeout(tc, 300);
    int nb = (int)(sizeof bundled / sizeof bundled[0]);
    tcase_add_loop_test(tc, bundled_pass_their_cases, 0, nb);
    tcase_add_loop_test(tc, bundled_pass_smoke, 0, nb);
    tcase_add_test(tc, correct_fixture_passes);
    suite_add_tcase(s, tc);
    tc = tcase_create("misbehaving");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, wrong_field_count);
    tcase_add_test(tc, emit_outside_a_call);
    tcase_add_test(tc, output_depends_on_chunking);
    tcase_add_test(tc, leak_fails_memory);
    tcase_add_test(tc, segfault_is_reported);
    tcase_add_test(tc, crash_while_loading);
    tcase_add_test(tc, exit_is_reported);
    tcase_add_test(tc, refusal_ignored);
    tcase_add_test(tc, hang_is_killed);
    tcase_add_test(tc, case_files_checked);
    suite_add_tcase(s, tc);
    tc = tcase_create("command");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, command_exit_status);
    tcase_add_test(tc, command_usage_errors);
    suite_add_tcase(s, tc);
    return tu_run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
