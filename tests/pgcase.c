/* pgcase.c -- see pgcase.h. */
#include "pgcase.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char base_url[512];
char url[700];
char *root;
char tmp[600];
pc_worker workers[MAXW];
int nworkers;

/* ------------------------------------------------------------ helpers */

void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* TP_TEST_VERBOSE=1: where the time goes. */
void trace(const char *what, int line)
{
    static double t0;
    if (!getenv("TP_TEST_VERBOSE"))
        return;
    if (!t0)
        t0 = now_s();
    fprintf(stderr, "[%7.3f] line %d: %s\n", now_s() - t0, line, what);
}

void quiet_notice(void *arg, const char *msg)
{
    (void)arg, (void)msg;
}

PGconn *conn(void)
{
    PGconn *c = PQconnectdb(url);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    return c;
}

void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                  "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/* The first value of a query on the case's database (malloc'd; "" for a
 * command), or NULL on any error (the server may be restarting). */
char *try_q(const char *sql)
{
    PGconn *c = PQconnectdb(url);
    char *v = NULL;
    if (PQstatus(c) == CONNECTION_OK) {
        PQsetNoticeProcessor(c, quiet_notice, NULL);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
            v = strdup(PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
        else if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
            v = strdup("");
        PQclear(r);
    }
    PQfinish(c);
    return v;
}

/* Format a query and run it: its first value (the query must work). */
static char *vq(char *sql, size_t size, const char *fmt, va_list ap)
{
    vsnprintf(sql, size, fmt, ap);
    char *v = try_q(sql);
    ck_assert_msg(v != NULL, "query failed: %s", sql);
    return v;
}

char *qs(const char *fmt, ...)
{
    char sql[8192];
    va_list ap;
    va_start(ap, fmt);
    char *v = vq(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return v;
}

long long qi(const char *fmt, ...)
{
    char sql[8192];
    va_list ap;
    va_start(ap, fmt);
    char *v = vq(sql, sizeof sql, fmt, ap);
    va_end(ap);
    long long n = strtoll(v, NULL, 10);
    free(v);
    return n;
}

void qeq_at(int line, const char *want, const char *fmt, ...)
{
    char sql[8192];
    va_list ap;
    va_start(ap, fmt);
    char *v = vq(sql, sizeof sql, fmt, ap);
    va_end(ap);
    int same = strcmp(v, want) == 0;
    if (!same)
        fprintf(stderr, "%s\n  gives \"%s\", want \"%s\"\n", sql, v, want);
    free(v);
    ck_assert_msg(same, "line %d: %s: not \"%s\"", line, sql, want);
}

/* Poll until the query gives `want`; 1 when it did within `timeout` s. */
int wait_for(double timeout, const char *want, const char *fmt, ...)
{
    char sql[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    TRACE(sql);
    for (double end = now_s() + timeout;;) {
        char *v = try_q(sql);
        int ok = v && strcmp(v, want) == 0;
        free(v);
        if (ok)
            return 1;
        if (now_s() > end)
            return 0;
        sleep_s(0.05);
    }
}

/* Run a command (stdout and stderr in *out); returns its exit status. */
int sh(char **out, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return tu_run(cmd, out);
}

/* Run a command that must succeed; returns its output (caller frees). */
char *ok(const char *fmt, ...)
{
    char cmd[8192], *out = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    TRACE(cmd);
    int rc = tu_run(cmd, &out);
    ck_assert_msg(rc == 0, "exit %d: %s\n%s", rc, cmd, out);
    return out;
}

void ok_contains_at(int line, const char *want, const char *fmt, ...)
{
    char cmd[8192], *out = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = tu_run(cmd, &out);
    ck_assert_msg(rc == 0, "line %d: exit %d: %s\n%s", line, rc, cmd, out);
    ck_assert_msg(strstr(out, want) != NULL, "line %d: %s: output lacks \"%s\":\n%s", line, cmd,
                  want, out);
    free(out);
}

/* Start a worker: `env` (NAME=VALUE or NULL) added to its environment, its
 * stdout and stderr into a log in the case's folder.  It dies with us. */
int spawn(const char *env, const char *fmt, ...)
{
    ck_assert_int_lt(nworkers, MAXW);
    char cmd[8192] = "exec ";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + 5, sizeof cmd - 5, fmt, ap);
    va_end(ap);
    TRACE(cmd);
    int w = nworkers++;
    snprintf(workers[w].log, sizeof workers[w].log, "%s/worker%d.log", tmp, w);
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int fd = open(workers[w].log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            _exit(127);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        if (env)
            putenv(strdup(env));
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    workers[w].pid = pid;
    return w;
}

/* Wait for worker w to exit: its exit status, 128 + signal when killed by
 * one, or -1 when still running after `timeout` s (then it is killed). */
int wait_exit(int w, double timeout)
{
    int st = 0;
    TRACE("wait for a worker to exit");
    for (double end = now_s() + timeout;;) {
        pid_t r = waitpid(workers[w].pid, &st, WNOHANG);
        if (r == workers[w].pid)
            break;
        if (now_s() > end) {
            kill(workers[w].pid, SIGKILL);
            waitpid(workers[w].pid, NULL, 0);
            workers[w].pid = 0;
            return -1;
        }
        sleep_s(0.05);
    }
    workers[w].pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void expect_exit_at(int line, int w, double timeout, int code)
{
    int rc = wait_exit(w, timeout);
    char *log = tu_read(workers[w].log, NULL);
    ck_assert_msg(rc == code, "line %d: worker %d: exit %d, want %d; log:\n%s", line, w, rc, code,
                  log);
    free(log);
}

void kill9(int w)
{
    ck_assert_int_eq(kill(workers[w].pid, SIGKILL), 0);
    waitpid(workers[w].pid, NULL, 0);
    workers[w].pid = 0;
}

char *wlog(int w)
{
    char *t = tu_read(workers[w].log, NULL);
    ck_assert_ptr_nonnull(t);
    return t;
}

void log_contains_at(int line, int w, const char *want)
{
    char *t = wlog(w);
    ck_assert_msg(strstr(t, want) != NULL, "line %d: worker %d log lacks \"%s\":\n%s", line, w,
                  want, t);
    free(t);
}

int count_substr(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, sub)); p += strlen(sub))
        n++;
    return n;
}

/* A fresh database for the case, migrated, with the chain's branches. */
/* The test-only pause of PAUSE(s): a trigger that sleeps while a worker
 * named so marks a job succeeded, inside its load transaction; and a
 * backend notices within 0.1 s when its client dies (a killed worker's
 * transaction ends at once, not when the sleep does). */
static void install_pause(const char *db)
{
    free(qs("CREATE FUNCTION tp_test_pause() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN IF current_setting('application_name') LIKE 'tillpipe-test-pause:%%' THEN"
            " PERFORM pg_sleep(split_part(current_setting('application_name'), ':', 2)::float8);"
            " END IF; RETURN NEW; END $$"));
    free(qs("CREATE TRIGGER tp_test_pause BEFORE UPDATE OF status ON jobs FOR EACH ROW"
            " WHEN (NEW.status = 'succeeded' AND OLD.status = 'running')"
            " EXECUTE FUNCTION tp_test_pause()"));
    free(qs("ALTER DATABASE %s SET client_connection_check_interval = '100ms'", db));
}

void case_begin(const char *name)
{
    TRACE(name);
    PGconn *c = PQconnectdb(base_url);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    exec_ok(c, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    exec_ok(c, sql);
    PQfinish(c);
    const char *rest = strchr(base_url, '?');
    ck_assert_ptr_nonnull(rest);
    snprintf(url, sizeof url, "postgresql:///%s%s", name, rest);
    setenv("TILLPIPE_DATABASE_URL", url, 1);
    unsetenv("PGAPPNAME");
    snprintf(tmp, sizeof tmp, "%s/%s", root, name);
    ck_assert_int_eq(mkdir(tmp, 0755), 0);
    char store[700];
    snprintf(store, sizeof store, "fs:%s/store", tmp);
    setenv("TILLPIPE_STORE", store, 1);
    ok_contains("schema at version", BIN " migrate");
    ok_contains("imported 8 branches", BIN " branch import --builtin");
    install_pause(name);
}

/* Only these branches take part in range enqueues. */
void only_branches(const char *codes_sql)
{
    free(qs("UPDATE branches SET active = code IN (%s)", codes_sql));
}

/* `tillpipe gen ARGS --out <tmp>/sub`. */
void gen(const char *sub, const char *args)
{
    free(ok(BIN " gen %s --out %s/%s", args, tmp, sub));
}

/* Wait until n workers sleep inside their load transaction, right after
 * marking the job succeeded (TILLPIPE_TEST_PAUSE_IN_LOAD). */
void wait_paused(int n)
{
    char want[16];
    snprintf(want, sizeof want, "%d", n);
    ck_assert_msg(wait_for(30, want, PAUSED_IN_LOAD), "no %d worker(s) paused in load", n);
}

/* Hold LOCK TABLE branches: a worker that claims a job blocks reading the
 * branch configuration, between its fetch and parse stages. */
PGconn *lock_branches(void)
{
    PGconn *c = conn();
    exec_ok(c, "BEGIN");
    exec_ok(c, "LOCK TABLE branches IN ACCESS EXCLUSIVE MODE");
    return c;
}

void unlock_branches(PGconn *c)
{
    exec_ok(c, "COMMIT");
    PQfinish(c);
}

/* ----------------------------------------------- records vs `tillpipe run` */


/* Run `tillpipe run --format csv` over `dir` (with `filter` options) and
 * load its records into the table `expected` (replacing what it had), typed
 * as the records table is.  Returns the number of records. */
long long load_expected(const char *dir, const char *filter)
{
    char csv[4200];
    snprintf(csv, sizeof csv, "%s/expected.csv", tmp);
    free(ok(BIN " run" PLUGINS " --reports %s --format csv --out %s --quiet %s", dir, csv, filter));
    size_t len = 0;
    char *text = tu_read(csv, &len);
    ck_assert_ptr_nonnull(text);
    long long lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    PGconn *c = conn();
    exec_ok(c, "CREATE TABLE IF NOT EXISTS expected (LIKE records INCLUDING DEFAULTS)");
    exec_ok(c, "ALTER TABLE expected ALTER job_id DROP NOT NULL");
    exec_ok(c, "TRUNCATE expected");
    PGresult *r = PQexec(c, "COPY expected (" REC_COLUMNS ") FROM STDIN (FORMAT csv, HEADER true,"
                            " FORCE_NOT_NULL (" TEXT_COLUMNS "))");
    ck_assert_int_eq(PQresultStatus(r), PGRES_COPY_IN);
    PQclear(r);
    ck_assert_int_eq(PQputCopyData(c, text, (int)len), 1);
    ck_assert_int_eq(PQputCopyEnd(c, NULL), 1);
    while ((r = PQgetResult(c))) {
        ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "COPY expected: %s",
                      PQresultErrorMessage(r));
        PQclear(r);
    }
    PQfinish(c);
    free(text);
    long long n = qi("SELECT count(*) FROM expected");
    ck_assert_int_eq(n, lines - 1); /* one record per line after the header */
    return n;
}

/* The records table holds exactly the expected records, each once. */
void records_are_expected(long long n)
{
    ck_assert_int_eq(qi("SELECT count(*) FROM records"), n);
    ck_assert_int_eq(qi("SELECT count(*) FROM (SELECT " REC_COLUMNS " FROM records EXCEPT ALL"
                        " SELECT " REC_COLUMNS " FROM expected) x"),
                     0);
    ck_assert_int_eq(qi("SELECT count(*) FROM (SELECT " REC_COLUMNS " FROM expected EXCEPT ALL"
                        " SELECT " REC_COLUMNS " FROM records) x"),
                     0);
    ck_assert_int_eq(qi("SELECT count(*) - count(DISTINCT (branch, pos, business_date,"
                        " source_file, source_line)) FROM records"),
                     0);
    /* the records of a terminal-day are its latest successful job's, as many
     * as that job counted */
    ck_assert_int_eq(qi("WITH latest AS (SELECT DISTINCT ON (branch, pos, business_date) id,"
                        " records FROM jobs WHERE status = 'succeeded'"
                        " ORDER BY branch, pos, business_date, id DESC)"
                        " SELECT (SELECT count(*) FROM latest l WHERE l.records <>"
                        " (SELECT count(*) FROM records r WHERE r.job_id = l.id))"
                        " + (SELECT count(*) FROM records WHERE job_id NOT IN"
                        " (SELECT id FROM latest))"),
                     0);
}

/* Every job succeeded, and each exactly once. */
void all_succeeded_once(long long jobs)
{
    ck_assert_int_eq(qi("SELECT count(*) FROM jobs"), jobs);
    ck_assert_int_eq(qi("SELECT count(*) FROM jobs WHERE status = 'succeeded'"), jobs);
    ck_assert_int_eq(qi("SELECT count(*) FROM job_events WHERE status = 'succeeded'"), jobs);
    ck_assert_int_eq(qi("SELECT count(DISTINCT job_id) FROM job_events WHERE status = 'succeeded'"),
                     jobs);
    ck_assert_int_eq(qi("SELECT count(*) FROM jobs WHERE lease_owner IS NOT NULL"
                        " OR lease_expires_at IS NOT NULL"),
                     0);
}


/* ------------------------------------------------------------ running */

void pc_add(Suite *s, const char *name, const TTest *test)
{
    TCase *t = tcase_create(name);
    tcase_set_timeout(t, 180);
    tcase_add_test(t, test);
    suite_add_tcase(s, t);
}

/* What the workers of a failed case said. */
static void show_logs(const char *tcname)
{
    for (int i = 0; i < MAXW; i++) {
        char path[800];
        snprintf(path, sizeof path, "%s/%s/worker%d.log", root, tcname, i);
        char *t = tu_read(path, NULL);
        if (!t)
            break;
        fprintf(stderr, "---- %s, worker %d:\n%s", tcname, i, t);
        free(t);
    }
}

int pc_main(const char *prog, Suite *suite, void (*before)(void), void (*after)(void))
{
    TRACE("start the server");
    const char *u = tu_pg_start();
    if (!u) {
        fprintf(stderr, "%s: no PostgreSQL to test against\n", prog);
        return EXIT_FAILURE;
    }
    snprintf(base_url, sizeof base_url, "%s", u);
    root = tu_tmpdir();
    if (!root) {
        tu_pg_stop();
        return EXIT_FAILURE;
    }
    if (before)
        before();
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    TestResult **res = srunner_failures(sr);
    for (int i = 0; i < failed; i++)
        show_logs(tr_tcname(res[i]));
    free(res);
    srunner_free(sr);
    if (after)
        after();
    TRACE("stop the server");
    tu_pg_stop();
    tu_rmrf(root);
    free(root);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
