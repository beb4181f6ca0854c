/* test_isolation.c -- parser plugins in sandboxed helper processes, end to
 * end: the real tillpipe binary as `worker`, `serve` and `run` processes, a
 * real PostgreSQL (tests/fixtures/pg/pgctl.sh), real HTTP on loopback.
 *
 * The misbehaving plugin is fixtures/plugins/wild.c, an rd5900 override for
 * branch MAGS built once per misbehaviour (wild_segv, wild_exit, wild_alloc,
 * wild_loop; tests/e2e/CMakeLists.txt, never sanitized).  Each case puts
 * it next to copies of the bundled plugins and runs generated reports of two
 * branches, BMC and MAGS, through it:
 *   - a worker survives a plugin that crashes, exits or runs out of memory:
 *     every MAGS job fails `plugin_failed` after one attempt, the message
 *     naming the plugin, its version and sha256, the file and what happened;
 *     every BMC job loads exactly the records `tillpipe run` gives;
 *   - `serve` with a plugin that hangs answers /livez throughout, and the
 *     hung parses end after --plugin-timeout;
 *   - a cancel kills a hung parse at once, and the worker goes on;
 *   - `run` fails with the plugin named and writes nothing; with
 *     --isolation none the crash takes the run down (the debugging mode).
 * A hang is seen as it is: a helper (`tillpipe __plugin-host`, a child of
 * the worker or server) burning CPU.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgcase.h"

#define SECRET "test-secret-0123456789abcdef0123456789"
/* Every failure is the plugin's own: no quarantine after K of them in a
 * row (with two parses at once, whether the last MAGS job fails or finds
 * the plugin quarantined is a race). */
#define NO_QUARANTINE " --plugin-quarantine-after 0"
/* A worker with short leases (a cancel is noticed within 0.5 s) and the
 * case's plugin folder; its first argument is the case's folder. */
#define ISO_WORKER BIN " worker --plugins %s/plugins --lease 3 --backoff 0" NO_QUARANTINE
#define STOPPED(ok, failed, cancelled)                                                             \
    "stopped: " #ok " succeeded, 0 retried, " #failed " failed, " #cancelled                       \
    " cancelled, 0 released, 0 lost"

/* ------------------------------------------------------------ fixture */

/* <tmp>/plugins: copies of the bundled plugins and of wild_<action>.so,
 * files 0644 in a 0755 folder (group- or world-writable ones are refused);
 * the wild plugin's sha256, by sha256sum, into sha. */
static void plugin_dir(const char *action, char sha[65])
{
    char wild[700];
    snprintf(wild, sizeof wild, TP_TEST_WILD_DIR "/wild_%s.so", action);
    free(ok("mkdir -m 0755 %s/plugins && install -m 0644 " TP_TEST_PLUGIN_DIR
            "/*.so %s %s/plugins/",
            tmp, wild, tmp));
    char *sum = ok("sha256sum %s", wild);
    ck_assert_msg(strspn(sum, "0123456789abcdef") == 64, "sha256sum: %s", sum);
    memcpy(sha, sum, 64);
    sha[64] = '\0';
    free(sum);
}

/* Reports of BMC and MAGS, 2 terminals, 2 days, into <tmp>/in; with
 * `queue`, their 8 jobs queued (ids 1-8). */
static void reports(int queue)
{
    gen("in", "--branches 2 --days 2 --seed 17 --start 2025-03-01 --no-faults --orders 20");
    if (!queue)
        return;
    only_branches("'BMC', 'MAGS'");
    ok_contains("8 jobs queued", BIN " enqueue --from 2025-03-01 --to 2025-03-02");
}

/* Every MAGS job failed `plugin_failed` in its parse after exactly one
 * attempt, not retried, its message naming `plugin` 6.6.6, `sha`, its own
 * rd5900 file and `what`, nothing of it loaded; every BMC job succeeded once
 * with exactly the records `tillpipe run` gives. */
static void mags_failed_bmc_loaded(const char *plugin, const char *sha, const char *what)
{
    qeq("4", "SELECT count(*) FROM jobs WHERE branch = 'MAGS' AND status = 'failed'"
             " AND attempts = 1");
    qeq("4", "SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id"
             " WHERE j.branch = 'MAGS'");
    qeq("4", "SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id"
             " WHERE j.branch = 'MAGS' AND a.stage = 'parse' AND a.error_code = 'plugin_failed'"
             " AND NOT a.retryable AND a.finished_at IS NOT NULL AND a.message = j.last_error"
             " AND strpos(a.message, 'a_MAGS_' || j.pos || '_rd5900_' || j.business_date) > 0");
    qeq("4", "SELECT count(*) FROM job_events e JOIN jobs j ON j.id = e.job_id"
             " WHERE j.branch = 'MAGS' AND e.status = 'failed'");
    char *msgs = qs("SELECT string_agg(replace(a.message, E'\\n', ' '), E'\\n')"
                    " FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE j.branch = 'MAGS'");
    if (getenv("TP_TEST_VERBOSE"))
        fprintf(stderr, "%s\n", msgs);
    const char *const needles[] = {plugin, " 6.6.6 ", sha, what};
    char *at = NULL;
    for (char *line = strtok_r(msgs, "\n", &at); line; line = strtok_r(NULL, "\n", &at))
        for (size_t i = 0; i < sizeof needles / sizeof *needles; i++)
            ck_assert_msg(strstr(line, needles[i]), "no \"%s\" in: %s", needles[i], line);
    free(msgs);
    qeq("0", "SELECT count(*) FROM records WHERE branch = 'MAGS'");
    qeq("0", "SELECT count(*) FROM files WHERE branch = 'MAGS'");
    qeq("4", "SELECT count(*) FROM jobs WHERE branch = 'BMC' AND status = 'succeeded'"
             " AND attempts = 1");
    qeq("0", "SELECT count(*) FROM job_attempts WHERE error_code IS NOT NULL"
             " AND error_code <> 'plugin_failed'");
    char in[700];
    snprintf(in, sizeof in, "%s/in", tmp);
    records_are_expected(load_expected(in, "--branch BMC"));
}

/* ------------------------------------------- helpers seen from outside */

#define MAXH 16
typedef struct helpers {
    int n;
    pid_t pid[MAXH];
    unsigned long long ticks[MAXH]; /* CPU time, user + system */
} helpers;

/* Process `pid` is a live plugin helper of `parent`: its CPU ticks out. */
static int helper_of(long pid, pid_t parent, unsigned long long *ticks)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'), state = 0;
    int ppid = 0;
    unsigned long long ut = 0, st = 0;
    if (!p ||
        sscanf(p + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &state, &ppid, &ut,
               &st) != 4 ||
        ppid != parent || state == 'Z')
        return 0;
    snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
    f = fopen(path, "r");
    n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    size_t arg0 = strlen(buf);
    if (arg0 + 1 >= n || strcmp(buf + arg0 + 1, "__plugin-host") != 0)
        return 0;
    *ticks = ut + st;
    return 1;
}

/* The plugin helpers of process `parent` (`tillpipe __plugin-host`). */
static void helpers_of(pid_t parent, helpers *h)
{
    h->n = 0;
    DIR *d = opendir("/proc");
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) && h->n < MAXH) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end == '\0' && pid > 0 && helper_of(pid, parent, &h->ticks[h->n]))
            h->pid[h->n++] = (pid_t)pid;
    }
    closedir(d);
}

/* A helper in `now` that used at least a quarter of a CPU since `before`,
 * `seconds` ago -- a plugin spinning -- or 0. */
static pid_t spinning(const helpers *before, const helpers *now, double seconds)
{
    double need = seconds * (double)sysconf(_SC_CLK_TCK) / 4;
    for (int i = 0; i < now->n; i++)
        for (int j = 0; j < before->n; j++)
            if (now->pid[i] == before->pid[j] && (double)(now->ticks[i] - before->ticks[j]) >= need)
                return now->pid[i];
    return 0;
}

/* Wait up to `timeout` s for a helper of worker w to spin for a second
 * (five windows of 0.2 s in a row, longer than any real parse here): its
 * pid. */
static pid_t wait_spinning(int w, double timeout)
{
    helpers a, b;
    pid_t last = 0;
    int windows = 0;
    helpers_of(workers[w].pid, &a);
    for (double end = now_s() + timeout; now_s() < end; a = b) {
        sleep_s(0.2);
        helpers_of(workers[w].pid, &b);
        pid_t p = spinning(&a, &b, 0.2);
        windows = p && p == last ? windows + 1 : p != 0;
        last = p;
        if (windows == 5)
            return p;
    }
    ck_abort_msg("no plugin helper of worker %d spins (its log is shown below)", w);
    return 0;
}

/* ------------------------------------------------------------ serve */

static char livez_url[160];

/* `tillpipe serve` with in-process workers and `args`, on a free port of
 * loopback (its /livez URL into livez_url). */
static int serve(const char *args)
{
    char api[128];
    int w = tu_serve(api, sizeof api, "TILLPIPE_JWT_SECRET=" SECRET,
                     BIN " serve" NO_QUARANTINE " --plugins %s/plugins %s", tmp, args);
    snprintf(livez_url, sizeof livez_url, "%s/livez", api);
    return w;
}

static size_t discard(char *p, size_t one, size_t n, void *ud)
{
    (void)p, (void)ud;
    return one * n;
}

/* GET /livez on handle h: its status, 0 when no answer within a second. */
static long livez(CURL *h)
{
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static CURL *livez_handle(void)
{
    CURL *h = curl_easy_init();
    ck_assert_ptr_nonnull(h);
    curl_easy_setopt(h, CURLOPT_URL, livez_url);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    return h;
}

/* ---------------------------------------------------------------- cases */

/* A worker over BMC and MAGS reports whose MAGS rd5900 plugin is
 * wild_<action>, with `opts`: it survives (exit 0), every MAGS job fails
 * `plugin_failed` saying `what`, every BMC job loads. */
static void worker_survives(const char *name, const char *action, const char *opts,
                            const char *what)
{
    case_begin(name);
    char sha[65], plugin[32];
    plugin_dir(action, sha);
    snprintf(plugin, sizeof plugin, "wild_%s", action);
    reports(1);
    int w = spawn(NULL, ISO_WORKER " --reports %s/in --exit-when-idle --concurrency 2 %s", tmp, tmp,
                  opts);
    expect_exit(w, 60, 0);
    log_contains(w, STOPPED(4, 4, 0));
    log_contains(w, what);
    mags_failed_bmc_loaded(plugin, sha, what);
}

/* 1. A plugin that writes through a NULL pointer. */
START_TEST(worker_survives_segv)
{
    worker_survives("i_segv", "segv", "", "killed by SIGSEGV");
}
END_TEST

/* 2. A plugin that calls exit(1). */
START_TEST(worker_survives_exit)
{
    worker_survives("i_exit", "exit", "", "exited with 1");
}
END_TEST

/* 3. A plugin that allocates without end, under a 256 MB limit. */
START_TEST(worker_survives_alloc)
{
    worker_survives("i_alloc", "alloc", "--plugin-memory-mb 256", "256 MB");
}
END_TEST

/* Quarantine: with --plugin-quarantine-after 2 and one thread, the MAGS
 * build fails twice and is quarantined; the MAGS jobs after fail
 * plugin_quarantined without running it (no generic parser in its place);
 * `plugin quarantine` lists it and clears it, audited. */
START_TEST(quarantine_after_two_failures)
{
    case_begin("i_quarantine");
    char sha[65];
    plugin_dir("segv", sha);
    reports(1);
    int w = spawn(NULL,
                  ISO_WORKER " --reports %s/in --exit-when-idle --concurrency 1"
                             " --plugin-quarantine-after 2",
                  tmp, tmp);
    expect_exit(w, 60, 0);
    log_contains(w, STOPPED(4, 4, 0));
    log_contains(w, "quarantined");
    qeq("2", "SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id"
             " WHERE j.branch = 'MAGS' AND a.error_code = 'plugin_failed'");
    qeq("2",
        "SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id"
        " WHERE j.branch = 'MAGS' AND a.error_code = 'plugin_quarantined'"
        " AND NOT a.retryable AND strpos(a.message, 'quarantined after failing 2 times in a"
        " row') > 0 AND strpos(a.message, '%s') > 0",
        sha);
    qeq("true 2 2",
        "SELECT (quarantined_at IS NOT NULL)::text || ' ' || failures_in_row || ' ' ||"
        " failures_total FROM plugin_health WHERE sha256 = '%s'",
        sha);
    char want[160];
    snprintf(want, sizeof want, "QUARANTINED wild_segv 6.6.6  %s  failures in a row 2", sha);
    ok_contains(want, BIN " plugin quarantine list");
    snprintf(want, sizeof want, "sha256 %.12s  QUARANTINED", sha);
    ok_contains(want, BIN " plugin list --plugins %s/plugins", tmp);
    ok_contains("may run again", BIN " plugin quarantine clear %s", sha);
    qeq("false 0",
        "SELECT (quarantined_at IS NOT NULL)::text || ' ' || failures_in_row"
        " FROM plugin_health WHERE sha256 = '%s'",
        sha);
    qeq("1",
        "SELECT count(*) FROM audit_log WHERE action = 'plugin.unquarantine'"
        " AND target = '%s'",
        sha);
    fails_contains(1, "is not quarantined", BIN " plugin quarantine clear %s", sha);
    fails_contains(2, "is not a sha256", BIN " plugin quarantine clear 1234");
    fails_contains(2, "usage", BIN " plugin quarantine frob");
}
END_TEST

/* 4. serve, its workers in its process, and a plugin that hangs: /livez
 * answers every ~100 ms while the parses hang, the hung ones end after
 * --plugin-timeout 2, the other branch's jobs load. */
START_TEST(serve_lives_while_plugin_hangs)
{
    case_begin("i_serve");
    char sha[65], args[800];
    plugin_dir("loop", sha);
    reports(1);
    snprintf(args, sizeof args, "--reports %s/in --concurrency 2 --plugin-timeout 2", tmp);
    int s = serve(args);
    CURL *h = livez_handle();
    int probes = 0, failures = 0, hung = 0;
    double end = now_s() + 60;
    helpers a, b;
    helpers_of(workers[s].pid, &a);
    for (;;) {
        double t = now_s();
        long status = livez(h);
        failures += status != 200;
        probes++;
        sleep_s(0.1);
        helpers_of(workers[s].pid, &b);
        hung += spinning(&a, &b, now_s() - t) != 0; /* probed while a plugin hangs */
        a = b;
        char *live = try_q("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')");
        int done = live && strcmp(live, "0") == 0;
        free(live);
        if (done || now_s() > end)
            break;
    }
    curl_easy_cleanup(h);
    ck_assert_msg(failures == 0, "/livez failed %d of %d times", failures, probes);
    /* four parses hung 2 s each, two at a time: probed all along */
    ck_assert_msg(hung >= 10, "only %d of %d probes while a plugin hung", hung, probes);
    kill(workers[s].pid, SIGTERM);
    expect_exit(s, 30, 0);
    mags_failed_bmc_loaded("wild_loop", sha, "made no progress for 2 s");
    qeq("4", "SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id"
             " WHERE j.branch = 'MAGS' AND a.finished_at - a.started_at >= interval '2 s'");
}
END_TEST

/* 5. A cancel kills a hung parse within moments (not after the 60 s of
 * --plugin-timeout), and the worker goes on with the next jobs. */
START_TEST(cancel_kills_hung_parse)
{
    case_begin("i_cancel");
    char sha[65];
    plugin_dir("loop", sha);
    reports(0);
    ok_contains("job 1 queued", BIN " enqueue --branch MAGS --pos 1 --date 2025-03-01");
    ok_contains("job 2 queued", BIN " enqueue --branch BMC --pos 1 --date 2025-03-01");
    ok_contains("job 3 queued", BIN " enqueue --branch BMC --pos 2 --date 2025-03-01");
    int w = spawn(NULL,
                  ISO_WORKER " --reports %s/in --exit-when-idle --concurrency 1"
                             " --plugin-timeout 60",
                  tmp, tmp);
    pid_t helper = wait_spinning(w, 30);
    qeq("running 1", "SELECT status || ' ' || attempts FROM jobs WHERE id = 1");
    qeq("queued queued", "SELECT string_agg(status::text, ' ' ORDER BY id) FROM jobs WHERE id > 1");
    double t = now_s();
    ok_contains("job 1 running", BIN " job 1 --cancel");
    ck_assert_msg(wait_for(10, "cancelled", "SELECT status FROM jobs WHERE id = 1"),
                  "job 1 not cancelled within 10 s");
    double took = now_s() - t;
    /* the hung helper was killed and reaped */
    for (int i = 0; i < 40 && kill(helper, 0) == 0; i++)
        sleep_s(0.05);
    ck_assert_msg(kill(helper, 0) < 0 && errno == ESRCH, "helper %d still there", (int)helper);
    expect_exit(w, 30, 0);
    log_contains(w, STOPPED(2, 0, 1));
    ck_assert_msg(took < 10, "the cancel took %.1f s", took);
    qeq("cancelled 1", "SELECT error_code || ' ' || attempt FROM job_attempts WHERE job_id = 1");
    /* where it stood: in its parse, stopped there, its stages timed */
    qeq("parse|cancelled during its parse: the plugin helper was stopped|true",
        "SELECT stage || '|' || message || '|' || (stage_seconds ? 'parse')::text"
        " FROM job_attempts WHERE job_id = 1");
    qeq("0", "SELECT count(*) FROM records WHERE branch = 'MAGS'");
    qeq("0", "SELECT count(*) FROM files WHERE job_id = 1");
    qeq("succeeded 1 succeeded 1", "SELECT string_agg(status || ' ' || attempts, ' ' ORDER BY id)"
                                   " FROM jobs WHERE id > 1");
    char in[700];
    snprintf(in, sizeof in, "%s/in", tmp);
    records_are_expected(load_expected(in, "--branch BMC --date 2025-03-01"));
}
END_TEST

/* A folder for a case without a database: <root>/<name>. */
static void folder(const char *name)
{
    snprintf(tmp, sizeof tmp, "%s/%s", root, name);
    ck_assert_int_eq(mkdir(tmp, 0755), 0);
}

/* 6. `tillpipe run`: the plugin's crash fails the run, naming the plugin,
 * and nothing is written (no result file, no temporary); in process
 * (--isolation none, the debugging mode) the crash is the run's own. */
START_TEST(run_fails_cleanly_or_crashes_in_process)
{
    folder("i_run");
    char sha[65], out[700];
    plugin_dir("segv", sha);
    reports(0);
    snprintf(out, sizeof out, "%s/out", tmp);
    ck_assert_int_eq(mkdir(out, 0755), 0);
    char *said = NULL;
    int rc = sh(&said,
                BIN " run --plugins %s/plugins --reports %s/in --out %s/r.csv --report"
                    " %s/report.json",
                tmp, tmp, out, out);
    ck_assert_msg(rc == 1, "exit %d: %.2000s", rc, said);
    const char *const needles[] = {"plugin wild_segv 6.6.6", sha, "_MAGS_1_rd5900_2025-03-0",
                                   "killed by SIGSEGV"};
    for (size_t i = 0; i < sizeof needles / sizeof *needles; i++)
        ck_assert_msg(strstr(said, needles[i]), "no \"%s\" in: %.2000s", needles[i], said);
    free(said);
    ck_assert_int_eq(tu_count_entries(out), 0);

    /* in process: killed by the plugin's SIGSEGV (a sanitizer told to let
     * it be one), nothing written either */
    int w = spawn("ASAN_OPTIONS=handle_segv=0:detect_leaks=0",
                  BIN " run --isolation none --plugins %s/plugins --reports %s/in --out %s/r.csv"
                      " --report %s/report.json",
                  tmp, tmp, out, out);
    expect_exit(w, 60, 128 + SIGSEGV);
    ck_assert_int_eq(tu_count_entries(out), 0);

    /* the same folder without MAGS: the run succeeds */
    ok_contains("4 terminal-days",
                BIN " run --plugins %s/plugins --reports %s/in --out %s/r.csv"
                    " --report %s/report.json --branch BMC",
                tmp, tmp, out, out);
    ck_assert_int_eq(tu_count_entries(out), 2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("isolation");
    pc_add(s, "i_segv", worker_survives_segv);
    pc_add(s, "i_exit", worker_survives_exit);
    pc_add(s, "i_alloc", worker_survives_alloc);
    pc_add(s, "i_quarantine", quarantine_after_two_failures);
    pc_add(s, "i_serve", serve_lives_while_plugin_hangs);
    pc_add(s, "i_cancel", cancel_kills_hung_parse);
    pc_add(s, "i_run", run_fails_cleanly_or_crashes_in_process);
    return s;
}

int main(void)
{
    return pc_main("test_isolation", suite(), NULL, NULL);
}
