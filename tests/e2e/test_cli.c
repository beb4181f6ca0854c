/* test_cli.c -- the command line where a newcomer trips: result files
 * (--out and --report on devices, FIFOs, symlinks, folders; runs killed
 * mid-write; stale temporaries of dead processes), the plugin directory of a
 * tree installed under another prefix, the note on branches the
 * configuration does not list, and `tillpipe config show|check`. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "io/fsutil.h"
#include "testutil.h"

#define BIN TP_TEST_BIN
#define PLUGINS " --plugins " TP_TEST_PLUGIN_DIR

/* ------------------------------------------------------------ helpers */

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* A small generated report folder, dir/in. */
static void gen_reports(const char *dir)
{
    char cmd[4200], *out = NULL;
    snprintf(cmd, sizeof cmd, BIN " gen --branches 1 --days 1 --seed 7 --no-faults --out %s/in",
             dir);
    ck_assert_msg(tu_run(cmd, &out) == 0, "gen: %s", out);
    free(out);
}

/* Run `tillpipe run` on dir/in with `args`; the exit status, output in *out. */
static int run_in(const char *dir, const char *args, char **out)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && " BIN " run" PLUGINS " --reports in --quiet %s", dir,
             args);
    return tu_run(cmd, out);
}

/* Entries of `dir` whose name starts with `prefix`. */
static int count_prefixed(const char *dir, const char *prefix)
{
    char cmd[4200], *out = NULL;
    snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -c '^%s' || true", dir, prefix);
    ck_assert_int_eq(tu_run(cmd, &out), 0);
    int n = (int)strtol(out, NULL, 10);
    free(out);
    return n;
}

/* A pid that existed and no longer does (a reaped child). */
static pid_t dead_pid(void)
{
    pid_t p = fork();
    ck_assert_int_ge(p, 0);
    if (p == 0)
        _exit(0);
    waitpid(p, NULL, 0);
    return p;
}

/* ------------------------------------------------------- result files */

START_TEST(out_dev_null_stays_a_device)
{
    struct stat before, after;
    ck_assert_int_eq(stat("/dev/null", &before), 0);
    char *dir = tu_tmpdir(), *out = NULL;
    gen_reports(dir);
    ck_assert_msg(run_in(dir, "--out /dev/null --report /dev/null", &out) == 0, "%s", out);
    free(out);
    ck_assert_int_eq(stat("/dev/null", &after), 0);
    ck_assert_msg(S_ISCHR(after.st_mode), "/dev/null is no longer a character device (uid %d)",
                  (int)geteuid());
    ck_assert(after.st_rdev == before.st_rdev && after.st_ino == before.st_ino);
    ck_assert_int_eq(count_prefixed("/dev", ".null.tmp-"), 0);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(out_symlink_writes_its_target)
{
    char *dir = tu_tmpdir(), *out = NULL;
    gen_reports(dir);
    char *sub = path_in(dir, "sub");
    mkdir(sub, 0755);
    char *real = tu_write(sub, "real.csv", "old\n");
    chmod(real, 0640);
    char *link = path_in(dir, "link.csv");
    ck_assert_int_eq(symlink("sub/real.csv", link), 0);
    ck_assert_msg(run_in(dir, "--out link.csv", &out) == 0, "%s", out);
    free(out);
    struct stat st;
    ck_assert_int_eq(lstat(link, &st), 0);
    ck_assert_msg(S_ISLNK(st.st_mode), "the symlink was replaced");
    ck_assert_int_eq(stat(real, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0640); /* the replaced file's bits kept */
    ck_assert_uint_gt(tu_count_lines(real), 10);
    ck_assert_int_eq(tu_count_entries(sub), 1); /* no temporary left */
    tu_rmrf(dir);
    free(dir);
    free(sub);
    free(real);
    free(link);
}
END_TEST

START_TEST(out_dangling_symlink)
{
    char *dir = tu_tmpdir(), *out = NULL;
    gen_reports(dir);
    char *link = path_in(dir, "new.csv"), *target = path_in(dir, "made.csv");
    ck_assert_int_eq(symlink("made.csv", link), 0);
    ck_assert_msg(run_in(dir, "--out new.csv", &out) == 0, "%s", out);
    free(out);
    struct stat st;
    ck_assert_int_eq(lstat(link, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_uint_gt(tu_count_lines(target), 10);
    /* a link into a folder that does not exist: refused, nothing made */
    char *bad = path_in(dir, "bad.csv");
    ck_assert_int_eq(symlink("nowhere/x.csv", bad), 0);
    ck_assert_int_eq(run_in(dir, "--out bad.csv", &out), 1);
    ck_assert_msg(strstr(out, "tillpipe run: bad.csv: a symlink to nowhere/x.csv, whose folder "
                              "does not exist") != NULL,
                  "%s", out);
    free(out);
    ck_assert_int_eq(tu_count_entries(dir), 4); /* in, new.csv, made.csv, bad.csv */
    tu_rmrf(dir);
    free(dir);
    free(link);
    free(target);
    free(bad);
}
END_TEST

START_TEST(out_folder_refused)
{
    char *dir = tu_tmpdir(), *out = NULL;
    gen_reports(dir);
    char *d = path_in(dir, "d");
    mkdir(d, 0755);
    ck_assert_int_eq(run_in(dir, "--out d", &out), 1);
    ck_assert_msg(strstr(out, "tillpipe run: d is a folder: give a file name") != NULL, "%s", out);
    ck_assert_msg(strchr(out, '\n') == out + strlen(out) - 1, "not one line: %s", out);
    free(out);
    /* a refused --report costs nothing and leaves no records file */
    ck_assert_int_eq(run_in(dir, "--out r.csv --report d", &out), 1);
    ck_assert_msg(strstr(out, "--report d is a folder") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(tu_count_entries(dir), 2); /* in, d */
    ck_assert_int_eq(tu_count_entries(d), 0);
    tu_rmrf(dir);
    free(dir);
    free(d);
}
END_TEST

START_TEST(out_stdout_and_fifo)
{
    char *dir = tu_tmpdir(), *out = NULL;
    gen_reports(dir);
    ck_assert_int_eq(run_in(dir, "--out - --format jsonl", &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "{\"branch\":\""));
    free(out);
    ck_assert_int_eq(run_in(dir, "--out - --report -", &out), 2);
    ck_assert_ptr_nonnull(strstr(out, "cannot both be standard output"));
    free(out);
    char *fifo = path_in(dir, "fifo"), cmd[8192];
    ck_assert_int_eq(mkfifo(fifo, 0644), 0);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && { cat fifo > got.csv & " BIN " run" PLUGINS
             " --reports in --out fifo --quiet; rc=$?; wait; exit $rc; }",
             dir);
    ck_assert_msg(tu_run(cmd, &out) == 0, "%s", out);
    free(out);
    struct stat st;
    ck_assert_int_eq(lstat(fifo, &st), 0);
    ck_assert(S_ISFIFO(st.st_mode));
    char *got = path_in(dir, "got.csv");
    ck_assert_uint_gt(tu_count_lines(got), 10);
    /* /dev/stdout is the caller's descriptor, whatever it is: a file here */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && " BIN " run" PLUGINS " --reports in --out /dev/stdout --quiet > so.csv",
             dir);
    ck_assert_int_eq(tu_run(cmd, NULL), 0);
    free(got);
    got = path_in(dir, "so.csv");
    ck_assert_uint_gt(tu_count_lines(got), 10);
    tu_rmrf(dir);
    free(dir);
    free(fifo);
    free(got);
}
END_TEST

/* A folder of MISB reports whose rd5900 goes through the misbehave plugin
 * with `action`, a plugin folder holding it and the bundled ones, and a
 * configuration naming it: the arguments of a run into dir/out/r.csv. */
static void misbehave_setup(const char *dir, const char *action, char *args, size_t n)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/in' '%s/out' '%s/plugins' && ln -s " TP_TEST_PLUGIN_DIR
             "/*.so " TP_TEST_MISBEHAVE_SO " '%s/plugins/'",
             dir, dir, dir, dir);
    ck_assert_int_eq(tu_run(cmd, NULL), 0);
    char in[4200];
    snprintf(in, sizeof in, "%s/in", dir);
    free(tu_write(in, "a_MISB_1_rd5000_2026-02-09_20-00_.csv",
                  "STORE_NUM,TRANSDATE,INVOICE\n1,2026-02-09,0001\n"));
    free(tu_write(in, "a_MISB_1_rd5900_2026-02-09_20-00_.csv", "PAY_CODE,PAY_DESC\n1,CASH\n"));
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"branches\": [{\"code\": \"MISB\", \"parsers\": {\"rd5900\": {\"plugin\": "
             "\"misbehave\", \"options\": {\"action\": \"%s\"}}}}]}",
             action);
    free(tu_write(dir, "branches.json", cfg));
    snprintf(args, n,
             BIN " run --plugins %s/plugins --branches %s/branches.json --reports %s/in "
                 "--out %s/out/r.csv --report %s/out/report.json",
             dir, dir, dir, dir, dir);
}

START_TEST(run_killed_mid_write_leaves_nothing)
{
    char *dir = tu_tmpdir(), args[8192], cmd[9000];
    misbehave_setup(dir, "hang", args, sizeof args);
    snprintf(cmd, sizeof cmd, "exec %s 2>'%s/log'", args, dir);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    /* the plugin says "hanging" once the run is parsing, outputs open */
    char *log = path_in(dir, "log"), *text = NULL;
    for (int i = 0; i < 600 && !(text && strstr(text, "hanging")); i++) {
        free(text);
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        text = tu_read(log, NULL);
    }
    ck_assert_msg(text && strstr(text, "hanging"), "the run never reached the plugin: %s",
                  text ? text : "(no log)");
    free(text);
    char fds[4200];
    snprintf(fds, sizeof fds, "ls -l /proc/%d/fd | grep -c '%s/out/'", (int)pid, dir);
    char *o = NULL;
    tu_run(fds, &o);
    ck_assert_msg(strtol(o, NULL, 10) == 2, "records and report not both open: %s", o);
    free(o);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    ck_assert(WIFSIGNALED(st));
    char *outd = path_in(dir, "out");
    ck_assert_int_eq(tu_count_entries(outd), 0);

    /* a plugin that crashes the run: the same */
    tu_rmrf(dir);
    free(dir);
    dir = tu_tmpdir();
    misbehave_setup(dir, "crash", args, sizeof args);
    ck_assert_int_ne(tu_run(args, NULL), 0);
    free(outd);
    outd = path_in(dir, "out");
    ck_assert_int_eq(tu_count_entries(outd), 0);
    tu_rmrf(dir);
    free(dir);
    free(outd);
    free(log);
}
END_TEST

START_TEST(stale_temporaries_of_dead_writers_removed)
{
    char *dir = tu_tmpdir(), *out = NULL, name[256];
    gen_reports(dir);
    pid_t dead = dead_pid();
    snprintf(name, sizeof name, ".r.csv.tmp-%d-0123abcd", (int)dead);
    free(tu_write(dir, name, "dead\n"));
    snprintf(name, sizeof name, ".r.csv.tmp-%d-0123abcd", (int)getpid());
    free(tu_write(dir, name, "alive\n"));
    snprintf(name, sizeof name, ".other.csv.tmp-%d-0123abcd", (int)dead);
    free(tu_write(dir, name, "another target\n"));
    snprintf(name, sizeof name, ".r.csv.tmp-%d-notmine", (int)dead);
    free(tu_write(dir, name, "not a name tillpipe makes\n"));
    ck_assert_msg(run_in(dir, "--out r.csv", &out) == 0, "%s", out);
    free(out);
    /* in, r.csv, the live one, the other target's, the odd name */
    ck_assert_int_eq(tu_count_entries(dir), 5);
    snprintf(name, sizeof name, "\\.r\\.csv\\.tmp-%d-", (int)getpid());
    ck_assert_int_eq(count_prefixed(dir, name), 1);
    snprintf(name, sizeof name, "\\.r\\.csv\\.tmp-%d-0123abcd", (int)dead);
    ck_assert_int_eq(count_prefixed(dir, name), 0);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

/* A file system without O_TMPFILE, as this binary sees it: every open(2)
 * asking for one fails as such a file system answers (EOPNOTSUPP) while
 * no_tmpfile is set.  The binary is linked with -Wl,--wrap=open
 * (tests/e2e/CMakeLists.txt), so the engine's own calls come here. */
static int no_tmpfile;
int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
    va_end(ap);
    if (no_tmpfile && (flags & O_TMPFILE) == O_TMPFILE) {
        errno = EOPNOTSUPP;
        return -1;
    }
    return __real_open(path, flags, mode);
}

/* The named-temporary fallback (file systems without O_TMPFILE): its name,
 * commit, abort, and the leftover of a writer killed mid-write removed by
 * the next writer of the same target. */
START_TEST(named_temporary_fallback)
{
    char *dir = tu_tmpdir(), *target = path_in(dir, "r.csv");
    tp_error err = {0};
    no_tmpfile = 1;
    tp_outfile *o = tp_outfile_open(target, &err);
    ck_assert_msg(o != NULL, "%s", err.msg);
    char want[4200];
    snprintf(want, sizeof want, "%s/.r.csv.tmp-%d-", dir, (int)getpid());
    ck_assert_ptr_nonnull(tp_outfile_temp_name(o));
    ck_assert_int_eq(strncmp(tp_outfile_temp_name(o), want, strlen(want)), 0);
    fputs("one\n", tp_outfile_stream(o));
    ck_assert_int_eq(access(target, F_OK), -1);
    ck_assert_int_eq(tp_outfile_commit(o, &err), 0);
    ck_assert_int_eq(tu_count_entries(dir), 1);
    ck_assert_uint_eq(tu_count_lines(target), 1);
    o = tp_outfile_open(target, &err);
    fputs("two\nthree\n", tp_outfile_stream(o));
    tp_outfile_abort(o);
    ck_assert_int_eq(tu_count_entries(dir), 1);
    ck_assert_uint_eq(tu_count_lines(target), 1);

    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        tp_outfile *c = tp_outfile_open(target, NULL);
        fputs("partial\n", tp_outfile_stream(c));
        fflush(tp_outfile_stream(c));
        raise(SIGKILL);
    }
    waitpid(child, NULL, 0);
    ck_assert_int_eq(tu_count_entries(dir), 2); /* the dead writer's temporary */
    no_tmpfile = 0;
    o = tp_outfile_open(target, &err); /* the next run */
    ck_assert_int_eq(tu_count_entries(dir), 1);
    ck_assert_ptr_null(tp_outfile_temp_name(o)); /* unnamed: O_TMPFILE */
    ck_assert_int_eq(tp_outfile_commit(o, &err), 0);
    ck_assert_uint_eq(tu_count_lines(target), 0);

    /* a socket is neither a file nor a stream tillpipe writes to */
    char *sock = path_in(dir, "sock");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_ptr_null(tp_outfile_open(sock, &err));
    ck_assert_int_eq(err.code, TP_EINVAL);
    ck_assert_msg(strstr(err.msg, "is a socket") != NULL, "%s", err.msg);
    close(fd);
    free(sock);
    /* a folder that does not exist */
    ck_assert_ptr_null(tp_outfile_open("/nonexistent-folder/r.csv", &err));
    ck_assert_int_eq(err.code, TP_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot create output"));
    tu_rmrf(dir);
    free(dir);
    free(target);
}
END_TEST

/* ---------------------------------------------------- plugin directory */

/* Installed under a prefix other than the compiled-in one, the binary finds
 * the plugins installed beside it, with no option or environment. */
START_TEST(installed_tree_finds_its_plugins)
{
    char *dir = tu_tmpdir(), cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' --install '%s' --prefix '%s/p'", TP_TEST_CMAKE,
             TP_TEST_BUILD_DIR, dir);
    ck_assert_msg(tu_run(cmd, &out) == 0, "install: %s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "cd / && env -u TILLPIPE_PLUGIN_DIR '%s/p/bin/tillpipe' plugin list",
             dir);
    ck_assert_msg(tu_run(cmd, &out) == 0, "%s", out);
    char want[4200];
    snprintf(want, sizeof want, "plugin directory: %s/p/", dir);
    ck_assert_msg(strstr(out, want) != NULL, "not the installed plugins: %s", out);
    ck_assert_ptr_nonnull(strstr(out, "/tillpipe/plugins (host plugin ABI"));
    ck_assert_ptr_nonnull(strstr(out, "rd5000 "));
    ck_assert_ptr_nonnull(strstr(out, "newpos "));
    ck_assert_ptr_null(strstr(out, "NOT LOADED"));
    free(out);
    /* and uses them */
    char *f = tu_write(dir, "a_BMC_1_rd1800_2026-02-09_20-00_.csv",
                       "DEP_CODE,DEP_DESC,POS,BRANCH\n01,CHICKEN MEALS,1,BMC\n");
    snprintf(cmd, sizeof cmd, "env -u TILLPIPE_PLUGIN_DIR '%s/p/bin/tillpipe' parse %s", dir, f);
    ck_assert_msg(tu_run(cmd, &out) == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "\"NAME\":\"CHICKEN MEALS\""));
    free(out);
    free(f);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

/* ------------------------------------- branches the configuration lacks */

static int count_of(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, sub)); p += strlen(sub))
        n++;
    return n;
}

START_TEST(note_on_unlisted_branch_says_what_is_used)
{
    char *dir = tu_tmpdir(), cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, BIN " gen --branches 8 --days 1 --seed 3 --no-faults --out %s/in",
             dir);
    ck_assert_int_eq(tu_run(cmd, NULL), 0);
    free(tu_write(dir, "bmc.json", "{\"branches\": [{\"code\": \"BMC\"}]}"));
    free(tu_write(dir, "none.json", "{\"branches\": []}"));
    /* BETA has an override plugin (newpos lists it) but no configuration */
    snprintf(cmd, sizeof cmd,
             BIN " run" PLUGINS " --reports %s/in --branch BETA --out %s/r.csv --branches "
                 "%s/bmc.json",
             dir, dir, dir);
    ck_assert_msg(tu_run(cmd, &out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "tillpipe run: note: branch BETA is not in the branch "
                              "configuration (") != NULL,
                  "%s", out);
    ck_assert_msg(strstr(out, "bmc.json): rd5500 by newpos 1.0.0 (override for BETA), other "
                              "types by the generic plugins; classic POS rules\n") != NULL,
                  "%s", out);
    ck_assert_int_eq(count_of(out, "note:"), 1); /* once per branch, not per terminal-day */
    ck_assert_ptr_nonnull(strstr(out, "2 terminal-days"));
    free(out);
    snprintf(cmd, sizeof cmd,
             BIN " run" PLUGINS " --reports %s/in --branch BMC --out %s/r.csv --branches "
                 "%s/none.json",
             dir, dir, dir);
    ck_assert_int_eq(tu_run(cmd, &out), 0);
    ck_assert_msg(strstr(out, "none.json): the generic plugins for every report type; classic "
                              "POS rules\n") != NULL,
                  "%s", out);
    free(out);
    /* listed branches get no note */
    snprintf(cmd, sizeof cmd, BIN " run" PLUGINS " --reports %s/in --out %s/r.csv", dir, dir);
    ck_assert_int_eq(tu_run(cmd, &out), 0);
    ck_assert_ptr_null(strstr(out, "note:"));
    free(out);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

/* ---------------------------------------------------- tillpipe config */

START_TEST(config_show_is_valid_input)
{
    char *dir = tu_tmpdir(), cmd[8192], *out = NULL;
    ck_assert_int_eq(tu_run(BIN " config show", &out), 0);
    tp_error err = {0};
    tp_config *c = tp_config_parse(out, "shown", &err);
    ck_assert_msg(c != NULL, "%s: %s", err.msg, out);
    ck_assert_uint_eq(tp_config_count(c), 8);
    ck_assert_str_eq(tp_branch_plugin(tp_config_branch(c, "BETA"), "rd5500"), "newpos");
    ck_assert_int_eq(tp_config_branch(c, "BPAG")->newer_pos, 1);
    tp_config_destroy(c);
    free(out);
    snprintf(cmd, sizeof cmd, BIN " config show > %s/builtin.json", dir);
    ck_assert_int_eq(tu_run(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd, BIN " config check" PLUGINS " %s/builtin.json", dir);
    ck_assert_int_eq(tu_run(cmd, &out), 0);
    ck_assert_msg(strstr(out, "builtin.json: ok: 8 branches, 56 (branch, report type) pairs "
                              "resolved to loaded plugins (4 named or overridden)") != NULL,
                  "%s", out);
    ck_assert_int_eq(count_of(out, "\n"), 1);
    free(out);
    /* and --branches takes it: the same records as the built-in one */
    gen_reports(dir);
    ck_assert_int_eq(run_in(dir, "--out a.csv", NULL), 0);
    ck_assert_int_eq(run_in(dir, "--out b.csv --branches builtin.json", NULL), 0);
    snprintf(cmd, sizeof cmd, "cmp %s/a.csv %s/b.csv", dir, dir);
    ck_assert_int_eq(tu_run(cmd, NULL), 0);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

/* `config check` of `json` (with the plugins of `plugins`, NULL: the bundled
 * ones): exit status 1 and every line of `want` in its output. */
static void check_fails(const char *dir, const char *plugins, const char *json,
                        const char *const *want, size_t nwant)
{
    char *cfg = tu_write(dir, "c.json", json), cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, BIN " config check --plugins %s %s",
             plugins ? plugins : TP_TEST_PLUGIN_DIR, cfg);
    ck_assert_msg(tu_run(cmd, &out) == 1, "not refused: %s\n%s", json, out);
    for (size_t i = 0; i < nwant; i++)
        ck_assert_msg(strstr(out, want[i]) != NULL, "lacks \"%s\": %s", want[i], out);
    free(out);
    free(cfg);
}

START_TEST(config_check_reports_each_problem)
{
    char *dir = tu_tmpdir(), args[8192];
    const char *p = "tillpipe config check: ";
    char want[5][512];
    snprintf(want[0], sizeof want[0],
             "%s%s/c.json: branch BMC: the configuration names plugin "
             "\"nosuch\" for rd5000, but no loaded plugin has that name",
             p, dir);
    snprintf(want[1], sizeof want[1],
             "%s%s/c.json: branch BMC: the configuration names plugin "
             "\"rd5000\" for rd1800, but it does not parse rd1800",
             p, dir);
    snprintf(want[2], sizeof want[2],
             "%s%s/c.json: branch B2: parsers.rd5900: plugin rd5900 "
             "refused its options: option column.NAME must be a column index 0..4095, got "
             "\"x\"",
             p, dir);
    snprintf(want[3], sizeof want[3],
             "%s%s/c.json: branch B2: parsers.rd1800.options.column."
             "NOPE: plugin rd1800 does not read this option (it reads: column.CODE, "
             "column.NAME, delimiter)",
             p, dir);
    snprintf(want[4], sizeof want[4], "%s%s/c.json: 4 problems\n", p, dir);
    const char *const w[] = {want[0], want[1], want[2], want[3], want[4]};
    check_fails(dir, NULL,
                "{\"branches\": [{\"code\": \"BMC\", \"parsers\": {\"rd5000\": \"nosuch\", "
                "\"rd1800\": \"rd5000\"}}, {\"code\": \"B2\", \"parsers\": {\"rd5900\": "
                "{\"plugin\": \"rd5900\", \"options\": {\"column.NAME\": \"x\"}}, \"rd1800\": "
                "{\"plugin\": \"rd1800\", \"options\": {\"column.CODE\": 1, \"column.NOPE\": "
                "2}}}}]}",
                w, 5);
    /* a plugin's own option, refused in its open */
    misbehave_setup(dir, "explode", args, sizeof args);
    char plugins[4200];
    snprintf(plugins, sizeof plugins, "%s/plugins", dir);
    const char *const w2[] = {"branch MISB: parsers.rd5900: plugin misbehave refused its "
                              "options: option action must be none, hang or crash, got "
                              "\"explode\"",
                              "1 problem\n"};
    check_fails(dir, plugins,
                "{\"branches\": [{\"code\": \"MISB\", \"parsers\": {\"rd5900\": {\"plugin\": "
                "\"misbehave\", \"options\": {\"action\": \"explode\"}}}}]}",
                w2, 2);
    /* and accepted with a good one */
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, BIN " config check --plugins %s %s/branches.json", plugins, dir);
    free(tu_write(dir, "branches.json",
                  "{\"branches\": [{\"code\": \"MISB\", \"parsers\": {\"rd5900\": {\"plugin\": "
                  "\"misbehave\", \"options\": {\"action\": \"crash\"}}}}]}"));
    ck_assert_msg(tu_run(cmd, &out) == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "ok: 1 branch, 7 (branch, report type) pairs resolved to "
                                      "loaded plugins (1 named or overridden), 1 parser option "
                                      "accepted\n"));
    free(out);
    /* not JSON, an unknown key: the loader's message */
    const char *const w3[] = {"c.json:1:", "invalid JSON"};
    check_fails(dir, NULL, "{\"branches\": [", w3, 2);
    const char *const w4[] = {"c.json: branchez: unknown key"};
    check_fails(dir, NULL, "{\"branchez\": []}", w4, 1);
    ck_assert_int_eq(tu_run(BIN " config frob", NULL), 2);
    ck_assert_int_eq(tu_run(BIN " config check a b", NULL), 2);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(config_extends_builtin)
{
    tp_error err = {0};
    tp_config *c = tp_config_parse(
        "{\"extends\": \"builtin\", \"branches\": ["
        " {\"code\": \"BNEW\", \"pos\": \"newer\", \"parsers\": {\"rd5500\": \"newpos\"}},"
        " {\"code\": \"BMC\", \"terminals\": [1, 2, 3]}]}",
        "ext.json", &err);
    ck_assert_msg(c != NULL, "%s", err.msg);
    ck_assert_uint_eq(tp_config_count(c), 9);
    /* replaced in its place, whole: no name of its own now */
    const tp_branch_cfg *b = tp_config_at(c, 0);
    ck_assert_str_eq(b->code, "BMC");
    ck_assert_int_eq(b->nterminals, 3);
    ck_assert_str_eq(b->name, "BMC");
    ck_assert_str_eq(tp_config_at(c, 2)->name, "Ayala FRN"); /* the rest kept */
    ck_assert_str_eq(tp_branch_plugin(tp_config_branch(c, "BTAB"), "rd5500"), "newpos");
    b = tp_config_at(c, 8); /* added after them */
    ck_assert_str_eq(b->code, "BNEW");
    ck_assert_int_eq(b->newer_pos, 1);
    ck_assert_str_eq(tp_config_source(c), "ext.json");
    char *text = tp_config_dump(c);
    tp_config_destroy(c);
    c = tp_config_parse(text, "dumped", &err); /* a plain configuration again */
    ck_assert_msg(c != NULL, "%s: %s", err.msg, text);
    ck_assert_uint_eq(tp_config_count(c), 9);
    ck_assert_int_eq(tp_config_branch(c, "BMC")->nterminals, 3);
    tp_config_destroy(c);
    free(text);

    c = tp_config_parse("{\"extends\": \"builtin\"}", "e.json", &err);
    ck_assert_msg(c != NULL, "%s", err.msg);
    ck_assert_uint_eq(tp_config_count(c), 8);
    tp_config_destroy(c);
    /* checked as the rest: key paths are the file's */
    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{\"extends\": \"default\", \"branches\": []}", "e.json: extends: must be \"builtin\""},
        {"{\"extends\": true}", "e.json: extends: must be \"builtin\""},
        {"{\"extends\": \"builtin\", \"branches\": [{\"code\": \"BMC\", \"pos\": \"new\"}]}",
         "e.json: branches[0].pos"},
        {"{\"extends\": \"builtin\", \"branches\": [{\"code\": \"BX\"}, {\"code\": \"BX\"}]}",
         "e.json: branches[1].code: duplicate"},
        {"{\"extends\": \"builtin\", \"branches\": {}}", "e.json: branches: is required and must "
                                                         "be a list"},
        {"{\"extend\": \"builtin\"}", "e.json: extend: unknown key (expected branches, extends"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_ptr_null(tp_config_parse(bad[i].json, "e.json", &err));
        ck_assert_int_eq(err.code, TP_ECONFIG);
        ck_assert_msg(strstr(err.msg, bad[i].want), "\"%s\" lacks \"%s\"", err.msg, bad[i].want);
    }

    /* from the command line: show resolves it, a run uses it */
    char *dir = tu_tmpdir(), cmd[8192], *out = NULL;
    free(tu_write(dir, "ext.json",
                  "{\"extends\": \"builtin\", \"branches\": [{\"code\": \"BMC\", \"name\": "
                  "\"Head office\"}, {\"code\": \"BNEW\"}]}"));
    snprintf(cmd, sizeof cmd, BIN " config show %s/ext.json", dir);
    ck_assert_int_eq(tu_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "{\"branches\": [\n  {\"code\": \"BMC\", \"name\": \"Head "
                                      "office\"},\n  {\"code\": \"MAGS\""));
    ck_assert_ptr_nonnull(strstr(out, "\"BTAB\""));
    ck_assert_ptr_nonnull(strstr(out, "},\n  {\"code\": \"BNEW\"}\n]}\n"));
    ck_assert_ptr_null(strstr(out, "extends"));
    free(out);
    snprintf(cmd, sizeof cmd, BIN " config check" PLUGINS " %s/ext.json", dir);
    ck_assert_int_eq(tu_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "ok: 9 branches"));
    free(out);
    gen_reports(dir);
    ck_assert_int_eq(run_in(dir, "--out r.csv --branches ext.json", &out), 0);
    ck_assert_ptr_null(strstr(out, "note:")); /* BMC is configured */
    free(out);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cli");
    TCase *t = tcase_create("outputs");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, out_dev_null_stays_a_device);
    tcase_add_test(t, out_symlink_writes_its_target);
    tcase_add_test(t, out_dangling_symlink);
    tcase_add_test(t, out_folder_refused);
    tcase_add_test(t, out_stdout_and_fifo);
    tcase_add_test(t, run_killed_mid_write_leaves_nothing);
    tcase_add_test(t, stale_temporaries_of_dead_writers_removed);
    tcase_add_test(t, named_temporary_fallback);
    suite_add_tcase(s, t);
    t = tcase_create("plugins");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, installed_tree_finds_its_plugins);
    tcase_add_test(t, note_on_unlisted_branch_says_what_is_used);
    suite_add_tcase(s, t);
    t = tcase_create("config");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, config_show_is_valid_input);
    tcase_add_test(t, config_check_reports_each_problem);
    tcase_add_test(t, config_extends_builtin);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run_suite(suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
