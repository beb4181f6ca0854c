/* test_package_cli.c -- `tillpipe plugin keygen|pack|verify|install|remove`
 * as a release engineer runs them: the binary as a process (fork and exec,
 * no shell), its exit status and what it says.  The refusals themselves are
 * tested one by one in tests/pipeline/test_package.c; here each command's
 * success, its clear refusals and its usage errors. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define PATH_LEN 4096
#define OUT_LEN 16384

#define ck_assert_has(msg, needle)                                                                 \
    ck_assert_msg(strstr((msg), (needle)) != NULL, "output lacks \"%s\": %s", (needle), (msg))

static char *dir;
static char out[OUT_LEN];

/* Run the tillpipe binary with the NULL-terminated arguments after it;
 * standard output and error into `out`.  Returns the exit status. */
static int run(const char *arg, ...)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)TP_TEST_BIN;
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    size_t len = 0;
    char sink[4096];
    ssize_t r;
    while ((r = read(p[0], len < OUT_LEN - 1 ? out + len : sink,
                     len < OUT_LEN - 1 ? OUT_LEN - 1 - len : sizeof sink)) > 0)
        len += len < OUT_LEN - 1 ? (size_t)r : 0;
    out[len] = '\0';
    close(p[0]);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *in_dir(const char *name)
{
    static char bufs[8][PATH_LEN];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, PATH_LEN, "%s/%s", dir, name);
    return b;
}

static void setup(void)
{
    dir = tu_tmpdir();
    ck_assert_ptr_nonnull(dir);
    ck_assert_int_eq(mkdir(in_dir("keys"), 0755), 0);
    ck_assert_int_eq(mkdir(in_dir("plug"), 0755), 0);
}

static void teardown(void)
{
    tu_rmrf(dir);
    free(dir);
}

/* keygen KEY into dir and its .pub into `trusted`; the key id into id. */
static void keygen(const char *key, const char *trusted, char id[17])
{
    ck_assert_msg(run("plugin", "keygen", in_dir(key), "--comment", "CI", NULL) == 0, "%s", out);
    const char *at = strstr(out, "key id ");
    ck_assert_msg(at != NULL, "%s", out);
    snprintf(id, 17, "%s", at + 7);
    char pub[PATH_LEN], cmd[3 * PATH_LEN];
    snprintf(pub, sizeof pub, "%s.pub", in_dir(key));
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/'", pub, in_dir(trusted));
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(release_flow_keygen_pack_verify_install_remove)
{
    char id[17], want[PATH_LEN];
    keygen("k", "keys", id);
    ck_assert_int_eq(run("plugin", "pack", TP_TEST_PKG_V1, "--key", in_dir("k"), "--out",
                         in_dir("v1.tpkg"), NULL),
                     0);
    ck_assert_has(out, "packed pkgtest 1.0.0");
    ck_assert_has(out, id);
    ck_assert_int_eq(run("plugin", "pack", TP_TEST_PKG_V2, "--out", in_dir("v2.tpkg"), "--key",
                         in_dir("k"), NULL),
                     0);
    ck_assert_int_eq(
        run("plugin", "verify", in_dir("v1.tpkg"), "--trusted-keys", in_dir("keys"), NULL), 0);
    ck_assert_has(out, "OK: ");
    ck_assert_has(out, "pkgtest 1.0.0, signed by key ");
    ck_assert_has(out, id);
    ck_assert_int_eq(run("plugin", "install", in_dir("v1.tpkg"), "--plugins", in_dir("plug"),
                         "--trusted-keys", in_dir("keys"), NULL),
                     0);
    snprintf(want, sizeof want, "installed pkgtest 1.0.0 as %s", in_dir("plug/pkgtest-1.0.0.so"));
    ck_assert_has(out, want);
    ck_assert_has(out, "verified with");
    ck_assert_int_eq(run("plugin", "install", in_dir("v2.tpkg"), "--plugins", in_dir("plug"), NULL),
                     0);
    ck_assert_has(out, "not verified here");
    ck_assert_int_eq(tu_count_entries(in_dir("plug")), 6);
    ck_assert_int_eq(run("plugin", "remove", "pkgtest@1.0.0", "--plugins", in_dir("plug"), NULL),
                     0);
    ck_assert_has(out, "removed pkgtest 1.0.0");
    ck_assert_int_eq(tu_count_entries(in_dir("plug")), 3);
    ck_assert_int_eq(access(in_dir("plug/pkgtest-2.0.0.so"), F_OK), 0);
    ck_assert_int_eq(run("plugin", "remove", "pkgtest", "--plugins", in_dir("plug"), NULL), 0);
    ck_assert_has(out, "removed pkgtest 2.0.0");
    ck_assert_int_eq(tu_count_entries(in_dir("plug")), 0);
    ck_assert_int_eq(run("plugin", "remove", "pkgtest", "--plugins", in_dir("plug"), NULL), 1);
    ck_assert_has(out, "tillpipe plugin remove: no installed pkgtest in");
}
END_TEST

START_TEST(refusals_exit_one_with_a_message)
{
    char id[17], id2[17], want[PATH_LEN];
    keygen("k", "keys", id);
    ck_assert_int_eq(mkdir(in_dir("others"), 0755), 0);
    keygen("k2", "others", id2);
    ck_assert_int_eq(run("plugin", "keygen", in_dir("k"), NULL), 1);
    ck_assert_has(out, "exists already");
    ck_assert_int_eq(run("plugin", "pack", TP_TEST_PKG_V1, "--key", in_dir("k"), "--out",
                         in_dir("p.tpkg"), NULL),
                     0);
    ck_assert_int_eq(
        run("plugin", "verify", in_dir("p.tpkg"), "--trusted-keys", in_dir("others"), NULL), 1);
    snprintf(want, sizeof want, "signed by key %s which is not in %s", id, in_dir("others"));
    ck_assert_has(out, want);
    ck_assert_int_eq(run("plugin", "install", in_dir("p.tpkg"), "--plugins", in_dir("plug"),
                         "--trusted-keys", in_dir("others"), NULL),
                     1);
    ck_assert_int_eq(tu_count_entries(in_dir("plug")), 0);
    free(tu_write(dir, "text.tpkg", "not an archive\n"));
    ck_assert_int_eq(
        run("plugin", "verify", in_dir("text.tpkg"), "--trusted-keys", in_dir("keys"), NULL), 1);
    ck_assert_has(out, "tillpipe plugin verify: package ");
    ck_assert_has(out, "not a plugin package");
    ck_assert_int_eq(
        run("plugin", "verify", in_dir("p.tpkg"), "--trusted-keys", in_dir("none"), NULL), 1);
    ck_assert_has(out, "trusted keys folder");
    ck_assert_int_eq(
        run("plugin", "install", in_dir("p.tpkg"), "--plugins", in_dir("nowhere"), NULL), 1);
    ck_assert_has(out, "does not exist");
}
END_TEST

START_TEST(usage_errors_exit_two)
{
    ck_assert_int_eq(run("plugin", "verify", "p.tpkg", NULL), 2);
    ck_assert_has(out, "--trusted-keys DIR is required");
    ck_assert_int_eq(run("plugin", "pack", "x.so", "--out", "p.tpkg", NULL), 2);
    ck_assert_has(out, "--key KEYFILE is required");
    ck_assert_int_eq(run("plugin", "pack", "x.so", "--key", "k", "--out", "p", "--force", NULL), 2);
    ck_assert_has(out, "option --force does not apply here");
    ck_assert_int_eq(run("plugin", "verify", "p", "--plugins", "d", "--trusted-keys", "k", NULL),
                     2);
    ck_assert_has(out, "option --plugins does not apply here");
    ck_assert_int_eq(run("plugin", "keygen", NULL), 2);
    ck_assert_has(out, "takes exactly one argument");
    ck_assert_int_eq(run("plugin", "verify", "a", "b", "--trusted-keys", "k", NULL), 2);
    ck_assert_int_eq(run("plugin", "install", "p.tpkg", "--bogus", NULL), 2);
    ck_assert_has(out, "unknown or incomplete option");
    ck_assert_int_eq(run("plugin", "remove", "../evil", NULL), 2);
    ck_assert_has(out, "is not NAME or NAME@VERSION");
    ck_assert_int_eq(run("plugin", "install", "--help", NULL), 0);
    ck_assert_has(out, "tillpipe plugin install PKG");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("package_cli");
    TCase *t = tcase_create("cli");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, release_flow_keygen_pack_verify_install_remove);
    tcase_add_test(t, refusals_exit_one_with_a_message);
    tcase_add_test(t, usage_errors_exit_two);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run_suite(suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
