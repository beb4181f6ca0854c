/* test_sandbox.c -- plugins in helper processes (pipeline/sandbox.h).
 *
 * The helpers are the tillpipe binary (`__plugin-host`).  Plugins that
 * misbehave on purpose (fixtures/plugins/wild.c: a crash, a loop, a flood
 * of rows, 4 GiB, exit, abort, escapes the filter forbids, a constructor
 * that writes a file) must each fail only their own parse, with
 * TP_ECRASHED and a message naming the plugin, its version and sha256, the
 * file and what happened, while the next parse in the same sandbox
 * succeeds.  A cancel ends a hung parse at once.  The loader's refusals
 * read the same through the sandbox as in this process, and a plugin file
 * anyone could have changed is refused before it runs.
 */
#include <check.h>

#include "testutil.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/error.h"
#include "pipeline/parse.h"
#include "pipeline/plugin.h"
#include "pipeline/sandbox.h"

#define ck_assert_has(msg, needle)                                                                 \
    ck_assert_msg(strstr((msg), (needle)) != NULL, "message lacks \"%s\": %s", (needle), (msg))

static const char rd5900[] = "CODE,NAME\nCASH,Cash\nVISA,Visa card\nGCASH,GCash\n";

typedef struct seen {
    size_t rows;
    char text[4096]; /* rows and problems, in order */
} seen;

static int on_row(void *ud, uint64_t line, const tp_field *f, size_t n)
{
    seen *s = ud;
    size_t k = strlen(s->text);
    snprintf(s->text + k, sizeof s->text - k, "%llu:%.*s=%.*s;", (unsigned long long)line,
             (int)f[0].len, f[0].ptr, n > 1 ? (int)f[1].len : 0, n > 1 ? f[1].ptr : "");
    s->rows++;
    return 0;
}

static void on_problem(void *ud, uint64_t line, int severity, const char *reason)
{
    seen *s = ud;
    size_t k = strlen(s->text);
    snprintf(s->text + k, sizeof s->text - k, "!%llu:%d:%s;", (unsigned long long)line, severity,
             reason);
}

/* A sandbox with these limits (0: the default); deadline_s is the CPU
 * budget of a file. */
static tp_sandbox *sandbox_with(unsigned memory_mb, unsigned progress_s, unsigned deadline_s)
{
    tp_sandbox_opts o = {.exe = TP_TEST_BIN,
                         .memory_mb = memory_mb,
                         .progress_s = progress_s,
                         .deadline_s = deadline_s};
    tp_error err = {0};
    tp_sandbox *sb = tp_sandbox_create(&o, &err);
    ck_assert_msg(sb != NULL, "%s", err.msg);
    return sb;
}

static tp_sandbox *sandbox(unsigned memory_mb, unsigned progress_s)
{
    return sandbox_with(memory_mb, progress_s, 0);
}

static tp_plugin *wild(tp_sandbox *sb, const char *action)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/wild_%s.so", TP_TEST_WILD_DIR, action);
    tp_error err = {0};
    tp_plugin *p = tp_plugin_describe(sb, path, &err);
    ck_assert_msg(p != NULL, "%s: %s", path, err.msg);
    ck_assert_ptr_null(p->handle); /* never loaded here */
    return p;
}

/* Parse the small rd5900 file with p; the result code, err and seen out. */
static int parse(const tp_plugin *p, const tp_parse_options *o, seen *s, tp_error *err)
{
    char *dir = tu_tmpdir();
    char *path = tu_write(dir, "pay.csv", rd5900);
    tp_parse_sink sink = {on_row, on_problem, s};
    memset(s, 0, sizeof *s);
    int rc = tp_parse_file(p, TP_TYPE_RD5900, path, o, &sink, NULL, err);
    tu_rmrf(dir);
    free(path);
    free(dir);
    return rc;
}

/* The same rows and problems as in this process, byte for byte. */
START_TEST(same_as_in_process)
{
    tp_sandbox *sb = sandbox(0, 0);
    tp_plugin *boxed = wild(sb, "none");
    tp_error err = {0};
    char path[4096];
    snprintf(path, sizeof path, "%s/wild_none.so", TP_TEST_WILD_DIR);
    tp_plugin *local = tp_plugin_load(path, &err);
    ck_assert_msg(local != NULL, "%s", err.msg);
    ck_assert_str_eq(boxed->sha256, local->sha256);
    ck_assert_str_eq(boxed->desc->name, "wild_none");
    ck_assert_str_eq(boxed->desc->version, "6.6.6");
    ck_assert_str_eq(boxed->desc->branches[0], "MAGS");
    ck_assert_ptr_null(boxed->desc->feed); /* a copy: no code */
    for (size_t chunk = 1; chunk <= 64; chunk *= 4) {
        tp_parse_options o = {.chunk_size = chunk};
        seen a, b;
        ck_assert_int_eq(parse(boxed, &o, &a, &err), TP_OK);
        ck_assert_int_eq(parse(local, &o, &b, &err), TP_OK);
        ck_assert_uint_eq(a.rows, 3);
        ck_assert_str_eq(a.text, b.text);
    }
    tp_plugin_unload(local);
    tp_plugin_unload(boxed);
    tp_sandbox_destroy(sb);
}
END_TEST

/* One misbehaviour: the parse fails with TP_ECRASHED and a message that
 * names everything, then a good plugin parses in the same sandbox. */
static void misbehaves_in(tp_sandbox *sb, const char *action, const char *what)
{
    tp_plugin *bad = wild(sb, action), *good = wild(sb, "none");
    tp_error err = {0};
    seen s;
    ck_assert_int_eq(parse(bad, NULL, &s, &err), TP_ECRASHED);
    char name[64];
    snprintf(name, sizeof name, "plugin wild_%s 6.6.6 (sha256 ", action);
    ck_assert_has(err.msg, name);
    ck_assert_has(err.msg, bad->sha256);
    ck_assert_has(err.msg, "pay.csv");
    ck_assert_has(err.msg, what);
    ck_assert_uint_eq(tp_sandbox_failures(sb), 1);
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(parse(good, NULL, &s, &err), TP_OK);
    ck_assert_uint_eq(s.rows, 3);
    tp_plugin_unload(bad);
    tp_plugin_unload(good);
    tp_sandbox_destroy(sb);
}

static void misbehaves(const char *action, unsigned memory_mb, unsigned progress_s,
                       const char *what)
{
    misbehaves_in(sandbox(memory_mb, progress_s), action, what);
}

START_TEST(segv)
{
    misbehaves("segv", 0, 0, "killed by SIGSEGV");
}
END_TEST

START_TEST(abort_)
{
    misbehaves("abort", 0, 0, "killed by SIGABRT");
}
END_TEST

START_TEST(exit_)
{
    misbehaves("exit", 0, 0, "exited with 1");
}
END_TEST

START_TEST(loop)
{
    misbehaves("loop", 0, 1, "made no progress for 1 s");
}
END_TEST

/* A plugin that writes a forged frame where the helper's rows go. */
START_TEST(forged_frame)
{
    misbehaves("forge", 0, 0, "sent a malformed message");
}
END_TEST

START_TEST(alloc)
{
    misbehaves("alloc", 256, 0, "256 MB");
}
END_TEST

/* Rows forever: progress, but never done -- the file's CPU budget (here
 * 1 s, so 2 s with the second the limit rounds up) ends it.  The progress
 * timeout, part of the wall-clock deadline, is long: on a busy machine the
 * plugin may take long to use its 2 s of CPU, and it is the CPU limit that
 * must end it. */
START_TEST(cpu_limit)
{
    misbehaves_in(sandbox_with(0, 600, 1), "spew", "exceeded its CPU time limit of 2 s");
}
END_TEST

/* A cancel poll that answers `code` from time `at` on. */
typedef struct stopper {
    double at;
    int code;
} stopper;

static int stop_after(void *ud)
{
    stopper *s = ud;
    return tp_now() >= s->at ? s->code : 0;
}

/* A cancel kills a hung parse at once (the helper is polled every 0.1 s). */
START_TEST(cancel_hung)
{
    tp_sandbox *sb = sandbox(0, 60);
    tp_plugin *bad = wild(sb, "loop"), *good = wild(sb, "none");
    stopper st = {tp_now() + 0.3, TP_ECANCELLED};
    tp_parse_options o = {.cancelled = stop_after, .cancel_ud = &st};
    tp_error err = {0};
    seen s;
    double t0 = tp_now();
    ck_assert_int_eq(parse(bad, &o, &s, &err), TP_ECANCELLED);
    /* not after the hang's 60 s progress timeout (that would be TP_ECRASHED);
     * the bound is far from both, for a busy machine */
    ck_assert_msg(tp_now() - t0 < 30, "cancel took %.2f s", tp_now() - t0);
    ck_assert_uint_eq(tp_sandbox_failures(sb), 0); /* a cancel is not the plugin's failure */
    ck_assert_int_eq(parse(good, NULL, &s, &err), TP_OK);
    tp_plugin_unload(bad);
    tp_plugin_unload(good);
    tp_sandbox_destroy(sb);
}
END_TEST

/* The sink stopping a flood of rows ends the parse with the sink's code. */
static int stop_at_100(void *ud, uint64_t line, const tp_field *f, size_t n)
{
    seen *s = ud;
    return ++s->rows >= 100 ? -1 : 0;
}

START_TEST(sink_stops_flood)
{
    tp_sandbox *sb = sandbox(0, 0);
    tp_plugin *bad = wild(sb, "spew");
    char *dir = tu_tmpdir();
    char *path = tu_write(dir, "pay.csv", rd5900);
    seen s = {0};
    tp_parse_sink sink = {stop_at_100, NULL, &s};
    tp_error err = {0};
    ck_assert_int_eq(tp_parse_file(bad, TP_TYPE_RD5900, path, NULL, &sink, NULL, &err), TP_ESTOP);
    ck_assert_uint_eq(s.rows, 100);
    tu_rmrf(dir);
    free(path);
    free(dir);
    tp_plugin_unload(bad);
    tp_sandbox_destroy(sb);
}
END_TEST

/* No socket, no file created, no exec: each refused, the parse goes on. */
START_TEST(escape_refused)
{
    tp_sandbox *sb = sandbox(0, 0);
    tp_plugin *p = wild(sb, "escape");
    tp_error err = {0};
    seen s;
    ck_assert_int_eq(parse(p, NULL, &s, &err), TP_OK);
    ck_assert_has(s.text, "socket: Operation not permitted");
    ck_assert_has(s.text, "create: Operation not permitted");
    ck_assert_has(s.text, "exec: Operation not permitted");
    ck_assert_uint_eq(s.rows, 3);
    tp_plugin_unload(p);
    tp_sandbox_destroy(sb);
}
END_TEST

/* Describing a plugin runs its constructor only in a helper, where it
 * cannot write: the file is never created. */
START_TEST(constructor_contained)
{
    unlink(TP_TEST_WILD_CTOR_FILE);
    tp_sandbox *sb = sandbox(0, 0);
    tp_plugin *p = wild(sb, "ctor");
    ck_assert_str_eq(p->desc->name, "wild_ctor");
    ck_assert_int_ne(access(TP_TEST_WILD_CTOR_FILE, F_OK), 0);
    tp_plugin_unload(p);
    tp_sandbox_destroy(sb);
}
END_TEST

/* `tillpipe plugin info` reads the file (ELF) and the descriptor (in a
 * helper): the constructor never writes its file. */
START_TEST(info_runs_no_constructor)
{
    unlink(TP_TEST_WILD_CTOR_FILE);
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s plugin info %s/wild_ctor.so 2>&1", TP_TEST_BIN, TP_TEST_WILD_DIR);
    ck_assert_int_eq(tu_run(cmd, &out), 0);
    ck_assert_has(out, "name:     wild_ctor");
    ck_assert_has(out, "exports:  1 symbol, tp_plugin_entry among them");
    ck_assert_has(out, "constructors (in a sandboxed helper");
    ck_assert_int_ne(access(TP_TEST_WILD_CTOR_FILE, F_OK), 0);
    free(out);
}
END_TEST

/* Every plugin the loader refuses reads the same refused in a helper. */
START_TEST(refusals_alike)
{
    static const char *const bad[] = {
        "bad_magic",    "bad_major_old",  "bad_major_new", "bad_minor_new", "bad_size_short",
        "bad_no_entry", "bad_entry_null", "bad_no_feed",   "bad_type",      "bad_undefined"};
    tp_sandbox *sb = sandbox(0, 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.so", TP_TEST_BAD_DIR, bad[i]);
        tp_error a = {0}, b = {0};
        ck_assert_ptr_null(tp_plugin_load(path, &a));
        ck_assert_ptr_null(tp_plugin_describe(sb, path, &b));
        ck_assert_int_eq(a.code, b.code);
        ck_assert_str_eq(a.msg, b.msg);
    }
    tp_sandbox_destroy(sb);
}
END_TEST

/* A copy of wild_none.so as dir/p.so with `mode` (its path). */
static char *copy_plugin(const char *dir, mode_t mode)
{
    char src[4096], *dst = malloc(4096);
    snprintf(src, sizeof src, "%s/wild_none.so", TP_TEST_WILD_DIR);
    snprintf(dst, 4096, "%s/p.so", dir);
    ck_assert_int_eq(tu_install(src, dir, "p.so", mode), 0);
    return dst;
}

START_TEST(writable_refused)
{
    char *dir = tu_tmpdir();
    tp_error err = {0};
    char *so = copy_plugin(dir, 0646);
    ck_assert_ptr_null(tp_plugin_load(so, &err));
    ck_assert_has(err.msg, "world-writable (mode 0646); chmod go-w");
    ck_assert_int_eq(chmod(so, 0664), 0);
    ck_assert_ptr_null(tp_plugin_load(so, &err));
    ck_assert_has(err.msg, "its file is group-writable");
    ck_assert_int_eq(chmod(so, 0644), 0);
    ck_assert_int_eq(chmod(dir, 0777), 0);
    ck_assert_ptr_null(tp_plugin_load(so, &err));
    ck_assert_has(err.msg, "its folder is world-writable");
    ck_assert_int_eq(chmod(dir, 0755), 0);
    tp_plugin *p = tp_plugin_load(so, &err);
    ck_assert_msg(p != NULL, "%s", err.msg);
    tp_plugin_unload(p);
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/d.so", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    ck_assert_ptr_null(tp_plugin_load(sub, &err));
    ck_assert_has(err.msg, "not a regular file");
    tu_rmrf(dir);
    free(so);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sandbox");
    TCase *tc = tcase_create("sandbox");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, same_as_in_process);
    tcase_add_test(tc, segv);
    tcase_add_test(tc, abort_);
    tcase_add_test(tc, exit_);
    tcase_add_test(tc, loop);
    tcase_add_test(tc, alloc);
    tcase_add_test(tc, forged_frame);
    tcase_add_test(tc, cpu_limit);
    tcase_add_test(tc, cancel_hung);
    tcase_add_test(tc, sink_stops_flood);
    tcase_add_test(tc, escape_refused);
    tcase_add_test(tc, constructor_contained);
    tcase_add_test(tc, refusals_alike);
    tcase_add_test(tc, info_runs_no_constructor);
    tcase_add_test(tc, writable_refused);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
