/* test_parse_chunk.c -- `tillpipe parse --chunk-size N`: the plugin fed N
 * bytes at a time prints exactly what the default 256 KiB feeds print (rows,
 * problems, the summary, a failure and its exit status), and every value
 * that is not a whole number of bytes from 1 to 64 MiB is a usage error that
 * parses nothing. */
#include <check.h>

#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIN TP_TEST_BIN
#define PLUGINS " --plugins " TP_TEST_PLUGIN_DIR

/* A generated rd5800 (payments) report of tens of kilobytes, with `tail` appended;
 * its path (caller frees).  *dir gets the temporary folder. */
static char *sample(char **dir, const char *tail)
{
    char cmd[4400], *out = NULL;
    *dir = tu_tmpdir();
    ck_assert_ptr_nonnull(*dir);
    snprintf(cmd, sizeof cmd,
             BIN " gen --branches 2 --days 1 --seed 7 --no-faults --out %s/in >/dev/null && "
                 "ls -S %s/in/*_rd5800_* | head -1",
             *dir, *dir);
    ck_assert_msg(tu_run(cmd, &out) == 0, "gen: %s", out);
    out[strcspn(out, "\n")] = '\0';
    FILE *f = fopen(out, "ab");
    ck_assert_ptr_nonnull(f);
    fputs(tail, f);
    ck_assert_int_eq(fclose(f), 0);
    size_t len = 0;
    free(tu_read(out, &len));
    ck_assert_uint_gt(len, 20000);
    return out;
}

/* `tillpipe parse [--chunk-size N]` on path: its exit status, output in
 * *out (standard output, then the summary on standard error). */
static int parse(const char *path, const char *chunk, char **out)
{
    char cmd[4400];
    snprintf(cmd, sizeof cmd, BIN " parse" PLUGINS " %s%s %s", chunk ? "--chunk-size " : "",
             chunk ? chunk : "", path);
    return tu_run(cmd, out);
}

static void same_at_every_size(const char *path, int want_rc, const char *must_have)
{
    /* and in this process (--isolation none): the same, byte for byte */
    static const char *const sizes[] = {
        "1", "7", "4096", "67108864", "1 --isolation none", "7 --isolation none"};
    char *ref = NULL;
    ck_assert_int_eq(parse(path, NULL, &ref), want_rc);
    ck_assert_msg(strstr(ref, must_have) != NULL, "output lacks \"%s\":\n%.2000s", must_have, ref);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *out = NULL;
        ck_assert_int_eq(parse(path, sizes[i], &out), want_rc);
        ck_assert_msg(strcmp(out, ref) == 0, "--chunk-size %s prints another output", sizes[i]);
        free(out);
    }
    free(ref);
}

/* Rows, a rejected short row, a quoted field over a CRLF: the same at
 * chunk sizes 1, 7, 4096, 64 MiB and the default. */
START_TEST(output_independent_of_chunk_size)
{
    char *dir;
    char *path = sample(&dir, "1,2026-02-09 00:00:00,\"00250\r\n455\",19122\r\n"
                              "1,2026-02-09 00:00:00,00250455,19122,1000.000,175.000,,,2026-02-09 "
                              "00:00:00,07:25,S,00001,S,,11,1,,,,1,\"0024,\r\n7627\",1,BMC\r\n");
    same_at_every_size(path, 0, "\"TRANSNO\":\"0024,\\u000d\\u000a7627\"");
    same_at_every_size(path, 0, "\"severity\":\"error\",\"problem\":");
    free(path);
    tu_rmrf(dir);
    free(dir);
    /* a parse that fails (an unclosed quote) fails alike */
    path = sample(&dir, "1,2026-02-09 00:00:00,\"00250456,19122\n");
    same_at_every_size(path, 1, "quoted field is never closed");
    free(path);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(bad_chunk_sizes_refused)
{
    static const char *const bad[] = {"0",  "-1", "junk", "67108865",
                                      "''", "7x", "1e3",  "99999999999999999999"};
    char *dir;
    char *path = sample(&dir, "");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char cmd[4400], *out = NULL;
        snprintf(cmd, sizeof cmd,
                 "{ " BIN " parse" PLUGINS " --chunk-size %s %s 2>&1 >/dev/null; }", bad[i], path);
        ck_assert_int_eq(tu_run(cmd, &out), 2);
        ck_assert_msg(strstr(out, "tillpipe parse: --chunk-size must be a whole number of bytes "
                                  "from 1 to 67108864 (64 MiB), got \"") != NULL,
                      "--chunk-size %s: %s", bad[i], out);
        ck_assert_msg(strstr(out, "usage: tillpipe parse") != NULL, "no usage: %s", out);
        free(out);
        /* nothing parsed: standard output stays empty */
        snprintf(cmd, sizeof cmd, "{ " BIN " parse" PLUGINS " --chunk-size %s %s 2>/dev/null; }",
                 bad[i], path);
        ck_assert_int_eq(tu_run(cmd, &out), 2);
        ck_assert_str_eq(out, "");
        free(out);
    }
    char *out = NULL;
    ck_assert_int_eq(tu_run(BIN " parse --isolation bogus x.csv 2>&1", &out), 2);
    ck_assert_msg(strstr(out, "--isolation takes \"process\" or \"none\"") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(tu_run(BIN " parse --plugin-memory-mb 1 x.csv 2>&1", &out), 2);
    ck_assert_msg(strstr(out, "--plugin-memory-mb takes megabytes, 64 or more") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(tu_run(BIN " parse --chunk-size", &out), 2);
    ck_assert_msg(strstr(out, "unknown or incomplete option \"--chunk-size\"") != NULL, "%s", out);
    free(out);
    free(path);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("parse_chunk");
    TCase *t = tcase_create("chunk_size");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, output_independent_of_chunk_size);
    tcase_add_test(t, bad_chunk_sizes_refused);
    suite_add_tcase(s, t);
    return tu_run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
