/* test_worker_faults.c -- what a worker records and does when the world
 * around it fails: PostgreSQL stopped while a failure is to be recorded, a
 * file size limit under its work folder, a kill in the middle of a stage,
 * a drain shorter than a slow download, leftovers of killed workers, a
 * force asked for while a reparse is live.
 *
 * The real binary against the fixtures' PostgreSQL (stopped and started
 * again with pg_ctl) and the report-server simulator (slowed with its
 * latency fault); outcomes are checked exactly: attempts' error codes and
 * stages, job states, the records table against `tillpipe run`.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pgcase.h"

static const char *sim;
static char served[700];

static void serve_generated(void)
{
    sim = tu_sim_generated("test_worker_faults", "--branches 1 --days 2", served, sizeof served);
}

/* pg_ctl VERB on the fixture's server (its folder is the socket folder of
 * the server's URL), as the server's user. */
static void pg_ctl(const char *verb)
{
    const char *h = strstr(base_url, "host=");
    ck_assert_ptr_nonnull(h);
    char dir[512];
    snprintf(dir, sizeof dir, "%.*s", (int)strcspn(h + 5, "&"), h + 5);
    free(ok("bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1);"
            " as=; [ \"$(id -u)\" -eq 0 ] && as='runuser -u postgres --';"
            " $as \"$bin/pg_ctl\" -D %s/data -l %s/log -w -t 60 %s >/dev/null",
            dir, dir, verb));
}

/* Poll a worker's log for `want` for up to `timeout` s. */
static int log_shows(int w, const char *want, double timeout)
{
    for (double end = now_s() + timeout; now_s() < end; sleep_s(0.1)) {
        char *log = wlog(w);
        int found = log && strstr(log, want);
        free(log);
        if (found)
            return 1;
    }
    return 0;
}

/* 1. PostgreSQL stopped while a job fails because of it: the worker keeps
 * reconnecting (saying so) until the server is back and records the real
 * error, database_unavailable -- not the lease_expired of a rescue a lease
 * later; the retry then succeeds and the records are exact. */
START_TEST(pg_down_failure_recorded)
{
    case_begin("wf_pgdown");
    only_branches("'BMC'");
    ok_contains("queued", BIN " enqueue --branch BMC --pos 1 --date 2025-03-01");
    PGconn *lock = lock_branches(); /* the job blocks reading the branches */
    int w = spawn(NULL, WORKER " --reports %s --lease 60 --concurrency 1 --exit-when-idle", served);
    ck_assert(wait_for(30, "1", WAITING_ON_LOCK));
    pg_ctl("stop -m fast"); /* every backend ends: the lock's, the worker's */
    PQfinish(lock);
    ck_assert_msg(log_shows(w, "cannot record its failure", 30), "no retry logged");
    sleep_s(1.5); /* a few more tries against a server that is not there */
    pg_ctl("start");
    expect_exit(w, 60, 0);
    qeq("database_unavailable fetch", "SELECT error_code || ' ' || stage FROM job_attempts"
                                      " WHERE attempt = 1");
    qeq("succeeded 2", "SELECT status || ' ' || attempts FROM jobs");
    records_are_expected(load_expected(served, "--branch BMC --pos 1 --date 2025-03-01"));
}
END_TEST

/* 2. A work folder that refuses writes (a file size limit on the worker:
 * writes past it fail with EFBIG, as a full disk fails them with ENOSPC;
 * no mount needed): store_unavailable, retried, then failed -- not
 * bad_file; nothing written, nothing left in the work folder.  Plugins run
 * in-process here: the limit would refuse the sandbox's shared memory
 * (a memfd of 1 MiB) before any job ran. */
START_TEST(full_work_folder_is_store_unavailable)
{
    case_begin("wf_efbig");
    only_branches("'BMC'");
    ok_contains("queued", BIN " enqueue --branch BMC --pos 1 --date 2025-03-01");
    free(qs("UPDATE jobs SET max_attempts = 2"));
    char work[800];
    snprintf(work, sizeof work, "%s/work", tmp);
    mkdir(work, 0755);
    int w = spawn(NULL,
                  "prlimit --fsize=16384 " WORKER
                  " --server %s --workdir %s --retries 0 --concurrency 1 --exit-when-idle"
                  " --isolation none",
                  sim, work);
    expect_exit(w, 60, 0);
    qeq("failed 2 store_unavailable,store_unavailable",
        "SELECT j.status || ' ' || j.attempts || ' ' || string_agg(a.error_code, ',')"
        " FROM jobs j JOIN job_attempts a ON a.job_id = j.id GROUP BY j.status, j.attempts");
    char *why = qs("SELECT last_error FROM jobs");
    ck_assert_msg(strstr(why, "File too large"), "%s", why);
    free(why);
    qeq("0", "SELECT count(*) FROM records");
    qeq("0", "SELECT count(*) FROM files");
    char *out = ok("find %s -mindepth 2 | head -5", work);
    ck_assert_msg(out[0] == '\0', "left in the work folder:\n%s", out);
    free(out);
}
END_TEST

/* 3. A worker killed inside its load: the rescued attempt shows the stage
 * it had reached (load), not "claimed". */
START_TEST(killed_attempt_keeps_its_stage)
{
    case_begin("wf_stage");
    only_branches("'BMC'");
    ok_contains("queued", BIN " enqueue --branch BMC --pos 1 --date 2025-03-01");
    int a = spawn(PAUSE(30), WORKER " --reports %s --concurrency 1", served);
    wait_paused(1);
    kill9(a);
    ck_assert(wait_for(10, "0",
                       "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                       " AND state <> 'idle' AND pid <> pg_backend_pid()"));
    int b = spawn(NULL, WORKER " --reports %s --exit-when-idle --concurrency 1", served);
    expect_exit(b, 30, 0);
    qeq("lease_expired load", "SELECT error_code || ' ' || stage FROM job_attempts"
                              " WHERE attempt = 1");
    qeq("succeeded 2", "SELECT status || ' ' || attempts FROM jobs");
    records_are_expected(load_expected(served, "--branch BMC --pos 1 --date 2025-03-01"));
}
END_TEST

/* 4. SIGTERM with --drain 0.5 while every download takes 4 s: the worker
 * stops its downloads at the drain's end and exits long before one of
 * them could finish; the jobs go back to the queue without counting as
 * failures (released, attempts given back); a later worker runs them to
 * exactly the expected records. */
START_TEST(drain_stops_slow_downloads)
{
    case_begin("wf_drain");
    only_branches("'BMC'");
    tu_sim_clear();
    ck_assert_int_eq(tu_sim_fault("{\"kind\":\"latency\",\"target\":\"file\",\"ms\":4000}"), 0);
    ok_contains("2 jobs queued", BIN " enqueue --from 2025-03-01 --to 2025-03-01");
    int w = spawn(NULL, WORKER " --server %s --concurrency 2 --drain 0.5 --retries 0", sim);
    ck_assert(wait_for(30, "2", "SELECT count(*) FROM job_attempts WHERE stage = 'fetch'"));
    for (double end = now_s() + 30; tu_sim_stat("faults.latency") < 2 && now_s() < end;)
        sleep_s(0.05);
    ck_assert_int_ge(tu_sim_stat("faults.latency"), 2); /* both inside a slow download */
    kill(workers[w].pid, SIGTERM);
    /* 0.5 s of drain and a moment to release: well inside one download */
    ck_assert_int_eq(wait_exit(w, 3.0), 0);
    log_contains(w, "0 succeeded, 0 retried, 0 failed, 0 cancelled, 2 released");
    qeq("2", "SELECT count(*) FROM jobs WHERE status = 'queued' AND max_attempts = 6");
    qeq("released,released", "SELECT string_agg(error_code || '', ',') FROM job_attempts");
    tu_sim_clear();
    int w2 = spawn(NULL, WORKER " --server %s --concurrency 2 --exit-when-idle", sim);
    expect_exit(w2, 60, 0);
    all_succeeded_once(2);
    records_are_expected(load_expected(served, "--branch BMC --date 2025-03-01"));
    fails_contains(2, "--drain wants seconds", WORKER " --server %s --drain -1", sim);
    fails_contains(2, "--drain wants seconds", WORKER " --server %s --drain 1e3", sim);
}
END_TEST

/* A pid that no process has: a child that has exited and been reaped. */
static long dead_pid(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    waitpid(p, NULL, 0);
    return (long)p;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* 5. Leftovers of a killed worker -- its per-thread work folders, a job
 * folder, store temporaries between link and rename -- are swept when a
 * worker starts; those of a live process are kept. */
START_TEST(leftovers_of_dead_workers_swept)
{
    case_begin("wf_sweep");
    long dead = dead_pid(), live = (long)getpid();
    const char *sha = "ab00000000000000000000000000000000000000000000000000000000000000";
    char work[800], p[12][1200];
    snprintf(work, sizeof work, "%s/work", tmp);
    int n = 0;
    /* gone: */
    snprintf(p[n++], sizeof p[0], "%s/tillpipe-work-%ld-Ab12Cd", work, dead);
    snprintf(p[n++], sizeof p[0], "%s/tillpipe-job-%ld-x9y8z7", work, dead);
    snprintf(p[n++], sizeof p[0], "%s/store/raw/ab/%s.tmp-%ld-7", tmp, sha, dead);
    snprintf(p[n++], sizeof p[0], "%s/store/raw/ab/.tmp-%ld-8-%s", tmp, dead, sha);
    /* kept: */
    snprintf(p[n++], sizeof p[0], "%s/tillpipe-work-%ld-Ef34Gh", work, live);
    snprintf(p[n++], sizeof p[0], "%s/store/raw/ab/%s.tmp-%ld-9", tmp, sha, live);
    snprintf(p[n++], sizeof p[0], "%s/store/raw/ab/%s", tmp, sha);
    snprintf(p[n++], sizeof p[0], "%s/tillpipe-work-Ij56Kl", work); /* no owner to ask */
    free(ok("mkdir -p %s %s/store/raw/ab && mkdir %s %s %s %s && touch %s/a.csv %s/b %s/c %s %s %s"
            " %s",
            work, tmp, p[0], p[1], p[4], p[7], p[0], p[1], p[4], p[2], p[3], p[5], p[6]));
    int w = spawn(NULL, WORKER " --reports %s --workdir %s --exit-when-idle", served, work);
    expect_exit(w, 30, 0);
    log_contains(w, "swept 2 work folders and 2 store temporaries of workers that are gone");
    for (int i = 0; i < 4; i++)
        ck_assert_msg(!exists(p[i]), "not swept: %s", p[i]);
    for (int i = 4; i < n; i++)
        ck_assert_msg(exists(p[i]), "swept, but its owner is alive (or unknown): %s", p[i]);
    /* the worker's own folders went with it */
    char *out = ok("ls %s | grep -c -- '-%d-' || true", work, workers[w].pid);
    ck_assert_msg(strcmp(out, "0\n") == 0, "%s", out);
    free(out);
}
END_TEST

/* 6. `reparse` then `enqueue --force`: the force asks for a fetch, so the
 * queued reparse becomes one (not "already live"), and it fetches. */
START_TEST(force_upgrades_a_queued_reparse)
{
    case_begin("wf_force");
    only_branches("'BMC'");
    ok_contains("queued", BIN " reparse --branch BMC --pos 1 --date 2025-03-01");
    ok_contains("was a queued reparse; now a fetch",
                BIN " enqueue --branch BMC --pos 1 --date 2025-03-01 --force");
    qeq("1 fetch true", "SELECT count(*) || ' ' || min(kind) || ' ' || bool_and(force) FROM jobs");
    int w = spawn(NULL, WORKER " --server %s --exit-when-idle", sim);
    expect_exit(w, 60, 0);
    all_succeeded_once(1);
    qeq("server", "SELECT fetch_info->>'source' FROM job_attempts");
    records_are_expected(load_expected(served, "--branch BMC --pos 1 --date 2025-03-01"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("worker_faults");
    pc_add(s, "wf_efbig", full_work_folder_is_store_unavailable);
    pc_add(s, "wf_stage", killed_attempt_keeps_its_stage);
    pc_add(s, "wf_drain", drain_stops_slow_downloads);
    pc_add(s, "wf_sweep", leftovers_of_dead_workers_swept);
    pc_add(s, "wf_force", force_upgrades_a_queued_reparse);
    pc_add(s, "wf_pgdown", pg_down_failure_recorded); /* last: it stops the server */
    return s;
}

int main(void)
{
    return pc_main("test_worker_faults", suite(), serve_generated, tu_sim_stop);
}
