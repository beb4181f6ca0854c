/* test_worker.c -- process-level tests of `tillpipe worker` against a real
 * PostgreSQL (tests/fixtures/pg/pgctl.sh, started once per test binary).
 *
 * Every case works in a database of its own, on data `tillpipe gen` writes
 * into a temporary folder, and runs the real tillpipe binary: workers are
 * child processes (fork + exec, pids kept) with short leases, killed with
 * SIGKILL, frozen with SIGSTOP, stopped with SIGTERM, cut off with
 * pg_terminate_backend, and the server itself is restarted and killed.
 * Outcomes are checked exactly: job status and attempts, one `succeeded`
 * event per job, the attempts' error codes, and the records table compared
 * row by row with what `tillpipe run --format csv` gives for the same files.
 *
 * Two ways of catching a worker mid-job:
 *   - PAUSE(S) makes the worker's loads sleep inside their transaction, as
 *     they mark the job succeeded (a test-only trigger, pgcase.c); the test
 *     sees it as a backend running the attempt's completion, asleep
 *     (wait_paused()).
 *   - a test connection holding LOCK TABLE branches: the worker reads the
 *     branch configuration between fetch and parse, so it blocks there, a
 *     job claimed and running but nothing loaded (lock_branches()).
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pgcase.h"

/* ---------------------------------------------------------------- cases */

/* 1. migrate, import, enqueue a range, workers run it: every job once, the
 * records exactly what `tillpipe run` gives, files, quality and attempts
 * recorded; a forced re-run replaces the records. */
START_TEST(end_to_end_and_forced_rerun)
{
    case_begin("w_e2e");
    char in[4200];
    snprintf(in, sizeof in, "%s/in", tmp);
    /* with the generator's faults: this seed re-sends one rd5000 */
    gen("in", "--branches 3 --days 3 --seed 11 --start 2025-03-01");
    int nfiles = tu_count_entries(in);
    ck_assert_int_eq(nfiles, 18 * 7 + 1);
    only_branches("'BMC', 'MAGS', 'AYALA-FRN'");
    ok_contains("18 jobs queued", BIN " enqueue --from 2025-03-01 --to 2025-03-03");
    int w = spawn(NULL, WORKER " --reports %s --exit-when-idle --concurrency 2", in);
    expect_exit(w, 60, 0);
    long long n = load_expected(in, "");
    char want[256];
    snprintf(want, sizeof want,
             "stopped: 18 succeeded, 0 retried, 0 failed, 0 cancelled, 0 released, 0 lost, %lld "
             "records",
             n);
    log_contains(w, want);
    all_succeeded_once(18);
    records_are_expected(n);
    ck_assert_int_eq(qi("SELECT sum(records) FROM jobs"), n);

    /* files: every report file, under its terminal-day's job, one loser */
    ck_assert_int_eq(qi("SELECT count(*) FROM files"), nfiles);
    ck_assert_int_eq(qi("SELECT count(*) FROM files WHERE chosen"), 18 * 7);
    ck_assert_int_eq(qi("SELECT count(*) FROM files f JOIN jobs j ON j.id = f.job_id WHERE"
                        " f.branch = j.branch AND f.pos = j.pos AND f.business_date ="
                        " j.business_date AND f.attempt = 1 AND f.sha256 ~ '^[0-9a-f]{64}$'"
                        " AND f.size > 0 AND f.reason <> ''"),
                     nfiles);
    ck_assert_int_eq(qi("SELECT count(DISTINCT job_id) FROM files"), 18);
    ck_assert_int_eq(qi("SELECT count(*) FROM files WHERE NOT chosen AND report_type = 'rd5000'"),
                     1);
    /* quality: one row per job */
    ck_assert_int_eq(qi("SELECT count(*) FROM quality_flags"), 18);
    ck_assert_int_eq(qi("SELECT count(DISTINCT job_id) FROM quality_flags"), 18);
    /* attempts: one each, done, with every plugin's name, version and sha256 */
    ck_assert_int_eq(qi("SELECT count(*) FROM job_attempts WHERE attempt = 1 AND stage = 'done'"
                        " AND error_code IS NULL AND finished_at IS NOT NULL"),
                     18);
    ck_assert_int_eq(qi("SELECT count(*) FROM job_attempts"), 18);
    ck_assert_int_eq(qi("SELECT count(*) FROM job_attempts a, jsonb_each(a.plugins) e"
                        " WHERE e.value->>'name' <> '' AND e.value->>'version' ~ '^[0-9]+\\.'"
                        " AND e.value->>'sha256' ~ '^[0-9a-f]{64}$'"),
                     18 * 7);
    char *info = ok(BIN " plugin info %s/rd5000.so", TP_TEST_PLUGIN_DIR);
    char *sha = strstr(info, "sha256:");
    ck_assert_ptr_nonnull(sha);
    sha += strspn(sha + 7, " ") + 7;
    sha[64] = '\0';
    char *v = qs("SELECT string_agg(DISTINCT plugins->'rd5000'->>'name' || ' ' ||"
                 " (plugins->'rd5000'->>'version') || ' ' || (plugins->'rd5000'->>'sha256'), ',')"
                 " FROM job_attempts");
    char wantp[200];
    snprintf(wantp, sizeof wantp, "rd5000 1.0.0 %s", sha);
    ck_assert_str_eq(v, wantp);
    free(v);
    free(info);
    /* `tillpipe job` tells it */
    ok_contains("file rd5000", BIN " job 1");
    ok_contains("succeeded (attempt 1 of 5)", BIN " job 1");
    ok_contains(": fetch ", BIN " job 1"); /* seconds per stage, in order */
    ok_contains(" s, store ", BIN " job 1");
    ok_contains(" s, parse ", BIN " job 1");
    ok_contains(" s, load ", BIN " job 1");

    /* forced re-run: new jobs replace the records, nothing duplicated */
    ok_contains("18 jobs queued", BIN " enqueue --from 2025-03-01 --to 2025-03-03 --force");
    w = spawn(NULL, WORKER " --reports %s --exit-when-idle --concurrency 2", in);
    expect_exit(w, 60, 0);
    log_contains(w, "stopped: 18 succeeded, 0 retried, 0 failed");
    all_succeeded_once(36);
    records_are_expected(n);
    ck_assert_int_eq(qi("SELECT count(*) FROM records r JOIN jobs j ON j.id = r.job_id"
                        " WHERE j.force"),
                     n);
    ck_assert_int_eq(qi("SELECT count(*) FROM files"), 2 * nfiles);
    ck_assert_int_eq(qi("SELECT count(*) FROM quality_flags"), 36);
}
END_TEST

/* 2. kill -9 of workers mid-job -- one blocked before parse, one asleep in
 * its load transaction: their jobs are rescued once the leases expire and
 * end succeeded exactly once, records not duplicated. */
START_TEST(kill9_mid_job_is_rescued)
{
    case_begin("w_kill");
    char in[4200];
    snprintf(in, sizeof in, "%s/in", tmp);
    gen("in", "--branches 2 --days 2 --seed 21 --start 2025-04-01 --no-faults --orders 40");
    only_branches("'BMC', 'MAGS'");
    ok_contains("8 jobs queued", BIN " enqueue --from 2025-04-01 --to 2025-04-02");

    PGconn *hold = lock_branches();
    int a = spawn(NULL, WORKER " --reports %s --concurrency 2", in);
    ck_assert(wait_for(20, "2", WAITING_ON_LOCK));
    ck_assert_int_eq(qi("SELECT count(*) FROM jobs WHERE status = 'running'"), 2);
    kill9(a);
    unlock_branches(hold);

    int a2 = spawn(PAUSE(30), WORKER " --reports %s --concurrency 1", in);
    wait_paused(1);
    kill9(a2);
    ck_assert_int_eq(qi("SELECT count(*) FROM jobs WHERE status = 'running'"), 3);
    ck_assert_int_eq(qi("SELECT count(*) FROM records"), 0);

    int b = spawn(NULL, WORKER " --reports %s --concurrency 2 --exit-when-idle", in);
    expect_exit(b, 60, 0);
    log_contains(b, "rescued");
    log_contains(b, "stopped: 8 succeeded, 0 retried, 0 failed");
    all_succeeded_once(8);
    records_are_expected(load_expected(in, ""));
    ck_assert_int_eq(qi("SELECT count(*) FROM jobs WHERE attempts = 2"), 3);
    ck_assert_int_eq(qi("SELECT count(*) FROM jobs WHERE attempts = 1"), 5);
    ck_assert_int_eq(qi("SELECT count(*) FROM job_attempts WHERE attempt = 1 AND"
                        " error_code = 'lease_expired' AND retryable AND finished_at IS NOT NULL"
                        " AND message LIKE '%%stopped heartbeating%%'"),
                     3);
    ck_assert_int_eq(qi("SELECT count(*) FROM job_attempts WHERE stage = 'done'"), 8);
    ck_assert_int_eq(qi("SELECT count(*) FROM job_attempts"), 11);
    /* files only from the attempts that finished */
    ck_assert_int_eq(qi("SELECT count(*) FROM files f JOIN jobs j ON j.id = f.job_id"
                        " WHERE f.attempt <> j.attempts"),
                     0);
}
END_TEST

/* 3. kill -9 inside the load transaction: while it is open, readers see the
 * old set only; after the kill nothing partial; after the rescue the new
 * set, complete. */
START_TEST(kill_in_load_transaction_nothing_partial)
{
    case_begin("w_txn");
    char in1[4200], in2[4200];
    snprintf(in1, sizeof in1, "%s/in1", tmp);
    snprintf(in2, sizeof in2, "%s/in2", tmp);
    /* the same terminal-day twice: the old set and a re-sent, longer one */
    gen("in1", "--branches 1 --terminals 1 --days 1 --seed 31 --start 2025-05-06 --no-faults "
               "--orders 50");
    gen("in2", "--branches 1 --terminals 1 --days 1 --seed 32 --start 2025-05-06 --no-faults "
               "--orders 80");
    ok_contains("job 1 queued", BIN " enqueue --branch BMC --pos 1 --date 2025-05-06");
    int w = spawn(NULL, WORKER " --reports %s --exit-when-idle --concurrency 1", in1);
    expect_exit(w, 30, 0);
    long long n1 = load_expected(in1, "");
    records_are_expected(n1);

    ok_contains("job 2 queued", BIN " enqueue --branch BMC --pos 1 --date 2025-05-06 --force");
    int a = spawn(PAUSE(30), WORKER " --reports %s --concurrency 1", in2);
    wait_paused(1);
    /* another connection, while the new set is written but not committed */
    qeq("running", "SELECT status FROM jobs WHERE id = 2");
    records_are_expected(n1);
    ck_assert_int_eq(qi("SELECT count(*) FROM records WHERE job_id = 2"), 0);
    ck_assert_int_eq(qi("SELECT count(*) FROM files WHERE job_id = 2"), 0);
    ck_assert_int_eq(qi("SELECT count(*) FROM quality_flags WHERE job_id = 2"), 0);
    kill9(a);
    ck_assert(wait_for(10, "0",
                       "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                       " AND state <> 'idle' AND pid <> pg_backend_pid()"));
    /* the transaction died with its client: still the old set, whole */
    records_are_expected(n1);
    ck_assert_int_eq(qi("SELECT count(*) FROM files WHERE job_id = 2"), 0);
    ck_assert_int_eq(qi("SELECT count(*) FROM quality_flags WHERE job_id = 2"), 0);
    qeq("running", "SELECT status FROM jobs WHERE id = 2");

    int b = spawn(NULL, WORKER " --reports %s --exit-when-idle --concurrency 1", in2);
    expect_exit(b, 30, 0);
    long long n2 = load_expected(in2, "");
    ck_assert_int_ne(n1, n2);
    records_are_expected(n2);
    ck_assert_int_eq(qi("SELECT count(*) FROM records WHERE job_id = 2"), n2);
    all_succeeded_once(2);
    ck_assert_int_eq(qi("SELECT attempts FROM jobs WHERE id = 2"), 2);
    ck_assert_int_eq(qi("SELECT records FROM jobs WHERE id = 2"), n2);
    qeq("lease_expired", "SELECT error_code FROM job_attempts WHERE job_id = 2 AND attempt = 1");
    ck_assert_int_eq(qi("SELECT count(*) FROM files WHERE job_id = 2 AND attempt = 2"), 7);
    ck_assert_int_eq(qi("SELECT count(*) FROM files WHERE job_id = 2"), 7);
    ck_assert_int_eq(qi("SELECT count(*) FROM quality_flags WHERE job_id = 2"), 1);
}
END_TEST

/* 4. PostgreSQL restarts in the middle of a backfill: every job still ends
 * succeeded, none failed, the records consistent. */
START_TEST(pg_restart_during_backfill)
{
    case_begin("w_restart");
    char in[4200];
    snprintf(in, sizeof in, "%s/in", tmp);
    gen("in", "--branches 3 --days 5 --seed 41 --start 2025-06-01 --no-faults --orders 30");
    only_branches("'BMC', 'MAGS', 'AYALA-FRN'");
    ok_contains("30 jobs queued", BIN " enqueue --from 2025-06-01 --to 2025-06-05");
    int w1 = spawn(PAUSE(0.3), WORKER " --reports %s --exit-when-idle --concurrency 2", in);
    int w2 = spawn(PAUSE(0.3), WORKER " --reports %s --exit-when-idle --concurrency 2", in);
    ck_assert(wait_for(30, "t", "SELECT count(*) >= 4 FROM jobs WHERE status = 'succeeded'"));
    long long before = qi("SELECT count(*) FROM jobs WHERE status = 'succeeded'");
    ck_assert_int_lt(before, 26); /* the backfill is under way */
    ck_assert_int_eq(tu_pg_restart(), 0);
    expect_exit(w1, 90, 0);
    expect_exit(w2, 90, 0);
    ck_assert_int_eq(qi("SELECT count(*) FROM jobs WHERE status = 'failed'"), 0);
    all_succeeded_once(30);
    records_are_expected(load_expected(in, ""));
    /* no job was done twice: the attempts that did not finish wrote nothing */
    ck_assert_int_eq(qi("SELECT count(*) FROM job_attempts WHERE stage = 'done'"), 30);
    ck_assert_int_eq(qi("SELECT count(*) FROM files f JOIN jobs j ON j.id = f.job_id"
                        " WHERE f.attempt <> j.attempts"),
                     0);
    ck_assert_int_eq(qi("SELECT count(*) FROM quality_flags"), 30);
}
END_TEST

/* 5. pg_terminate_backend on a worker's connections while it is inside its
 * load transaction, the worker frozen until its lease is rescued: the job is
 * done once by the rescuer, and the cut-off attempt's completion (and its
 * failure report) cannot land. */
START_TEST(terminated_backend_cannot_complete)
{
    case_begin("w_term");
    char in[4200];
    snprintf(in, sizeof in, "%s/in", tmp);
    gen("in", "--branches 1 --terminals 1 --days 1 --seed 51 --start 2025-07-07 --no-faults "
              "--orders 60");
    ok_contains("job 1 queued", BIN " enqueue --branch BMC --pos 1 --date 2025-07-07");
    int a = spawn(PAUSE(4), WORKER " --reports %s --exit-when-idle --concurrency 1", in);
    wait_paused(1);
    ck_assert_int_eq(kill(workers[a].pid, SIGSTOP), 0);
    /* all its connections: its worker thread's and, if it has one yet, its
     * heartbeat's */
    ck_assert_int_ge(qi("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        " AND backend_type = 'client backend'"),
                     1);
    ck_assert(wait_for(10, "t", "SELECT lease_expires_at < now() FROM jobs WHERE id = 1"));
    int b = spawn(NULL, WORKER " --reports %s --exit-when-idle --concurrency 1", in);
    expect_exit(b, 30, 0);
    log_contains(b, "stopped: 1 succeeded");
    qeq("succeeded 2", "SELECT status || ' ' || attempts FROM jobs WHERE id = 1");
    ck_assert_int_eq(kill(workers[a].pid, SIGCONT), 0);
    expect_exit(a, 30, 0);
    log_contains(a, "stopped: 0 succeeded, 0 retried, 0 failed, 0 cancelled, 0 released, 1 lost");
    /* nothing of attempt 1 landed, not even its failure */
    all_succeeded_once(1);
    qeq("none", "SELECT coalesce(last_error, 'none') FROM jobs WHERE id = 1");
    qeq("lease_expired", "SELECT error_code FROM job_attempts WHERE job_id = 1 AND attempt = 1");
    qeq("done", "SELECT stage FROM job_attempts WHERE job_id = 1 AND attempt = 2");
    ck_assert_int_eq(qi("SELECT count(*) FROM files WHERE attempt = 1"), 0);
    ck_assert_int_eq(qi("SELECT count(*) FROM files WHERE attempt = 2"), 7);
    ck_assert_int_eq(qi("SELECT count(*) FROM quality_flags"), 1);
    records_are_expected(load_expected(in, ""));
}
END_TEST

/* 5b. A worker frozen (SIGSTOP) before its load, past its lease: the job is
 * rescued and done by another; when the frozen one wakes, its completion is
 * refused by the fence (job, attempt, owner) and it writes nothing. */
START_TEST(frozen_worker_completion_is_fenced)
{
    case_begin("w_fence");
    char in[4200];
    snprintf(in, sizeof in, "%s/in", tmp);
    gen("in", "--branches 1 --terminals 1 --days 1 --seed 52 --start 2025-07-08 --no-faults "
              "--orders 60");
    ok_contains("job 1 queued", BIN " enqueue --branch BMC --pos 1 --date 2025-07-08");
    PGconn *hold = lock_branches();
    int a = spawn(NULL, WORKER " --reports %s --exit-when-idle --concurrency 1", in);
    ck_assert(wait_for(20, "1", WAITING_ON_LOCK));
    ck_assert_int_eq(kill(workers[a].pid, SIGSTOP), 0);
    unlock_branches(hold); /* its configuration read completes; it sleeps on */
    ck_assert(wait_for(10, "t", "SELECT lease_expires_at < now() FROM jobs WHERE id = 1"));
    int b = spawn(NULL, WORKER " --reports %s --exit-when-idle --concurrency 1", in);
    expect_exit(b, 30, 0);
    log_contains(b, "stopped: 1 succeeded");
    ck_assert_int_eq(kill(workers[a].pid, SIGCONT), 0);
    expect_exit(a, 30, 0);
    log_contains(a, "lease lost, nothing written");
    log_contains(a, "stopped: 0 succeeded, 0 retried, 0 failed, 0 cancelled, 0 released, 1 lost");
    all_succeeded_once(1);
    qeq("2", "SELECT attempts FROM jobs WHERE id = 1");
    qeq("lease_expired", "SELECT error_code FROM job_attempts WHERE attempt = 1");
    ck_assert_int_eq(qi("SELECT count(*) FROM files WHERE attempt = 1"), 0);
    ck_assert_int_eq(qi("SELECT count(*) FROM quality_flags"), 1);
    records_are_expected(load_expected(in, ""));
}
END_TEST

/* 6. Poison jobs: a parse error fails at once, not retried; a terminal-day
 * without files is retried, then fails after max attempts; a healthy job
 * next to them succeeds. */
START_TEST(poison_jobs_fail_with_their_error)
{
    case_begin("w_poison");
    char in[4200];
    snprintf(in, sizeof in, "%s/in", tmp);
    gen("in", "--branches 1 --terminals 2 --days 1 --seed 61 --start 2025-07-01 --no-faults "
              "--orders 20");
    char path[4300];
    snprintf(path, sizeof path, "%s/a_BMC_1_rd5000_2025-07-01_20-00_.csv", in);
    FILE *f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    fputs("1,\"unclosed,2\n", f);
    fclose(f);
    ok_contains("job 1 queued", BIN " enqueue --branch BMC --pos 1 --date 2025-07-01");
    ok_contains("job 2 queued", BIN " enqueue --branch BMC --pos 2 --date 2025-07-01");
    ok_contains("job 3 queued", BIN " enqueue --branch MAGS --pos 1 --date 2025-07-01");
    int w = spawn(NULL, WORKER " --reports %s --exit-when-idle --concurrency 2", in);
    expect_exit(w, 60, 0);
    log_contains(w, "stopped: 1 succeeded, 4 retried, 2 failed, 0 cancelled, 0 released, 0 lost");

    /* the parse error: failed at once, the error kept */
    qeq("failed 1", "SELECT status || ' ' || attempts FROM jobs WHERE id = 1");
    char *e = qs("SELECT last_error FROM jobs WHERE id = 1");
    ck_assert_msg(strstr(e, "a_BMC_1_rd5000_2025-07-01_20-00_.csv") &&
                      strstr(e, "quoted field is never closed"),
                  "last_error: %s", e);
    free(e);
    qeq("parse parse_error false",
        "SELECT stage || ' ' || error_code || ' ' || retryable FROM job_attempts"
        " WHERE job_id = 1");
    ck_assert_int_eq(qi("SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id"
                        " WHERE j.id = 1 AND a.message = j.last_error"),
                     1);
    ok_contains("error parse_error (retryable false)", BIN " job 1");
    ok_contains(" s, parse ", BIN " job 1"); /* timed up to the failure */
    ok_contains("quoted field is never closed", BIN " job 1");

    /* no files: every attempt retried, then failed */
    qeq("failed 5/5", "SELECT status || ' ' || attempts || '/' || max_attempts FROM jobs"
                      " WHERE id = 3");
    qeq("no report files yet for MAGS/1/2025-07-01", "SELECT last_error FROM jobs WHERE id = 3");
    ck_assert_int_eq(qi("SELECT count(*) FROM job_attempts WHERE job_id = 3 AND stage = 'fetch'"
                        " AND error_code = 'no_files' AND retryable"),
                     5);
    ck_assert_int_eq(qi("SELECT count(*) FROM job_events WHERE job_id = 3 AND status = 'failed'"),
                     1);
    /* --backoff 0: retried at once (a 2 s base would wait 15 s at least) */
    ck_assert_int_eq(qi("SELECT count(*) FROM jobs WHERE id = 3"
                        " AND finished_at - created_at < interval '8 seconds'"),
                     1);

    /* the healthy one */
    qeq("succeeded", "SELECT status FROM jobs WHERE id = 2");
    ck_assert_int_eq(qi("SELECT count(*) FROM records WHERE job_id <> 2"), 0);
    ck_assert_int_eq(qi("SELECT count(*) FROM files WHERE job_id <> 2"), 0);
    records_are_expected(load_expected(in, "--pos 2"));
}
END_TEST

/* 7. SIGTERM with jobs in flight: the worker stops claiming, releases what
 * it cannot finish within --drain, finishes what is loading, exits 0 with
 * its summary; nothing is left running; a later worker does the rest. */
START_TEST(sigterm_drains_or_releases)
{
    case_begin("w_sigterm");
    char in[4200];
    snprintf(in, sizeof in, "%s/in", tmp);
    gen("in", "--branches 1 --terminals 2 --days 3 --seed 71 --start 2025-08-01 --no-faults "
              "--orders 30");
    only_branches("'BMC'");
    ok_contains("6 jobs queued", BIN " enqueue --from 2025-08-01 --to 2025-08-03");

    /* two jobs held before parse past the drain: released */
    PGconn *hold = lock_branches();
    int w1 = spawn(NULL, WORKER " --reports %s --concurrency 2 --drain 1", in);
    ck_assert(wait_for(20, "2", WAITING_ON_LOCK));
    ck_assert_int_eq(kill(workers[w1].pid, SIGTERM), 0);
    sleep_s(2.2);
    unlock_branches(hold);
    expect_exit(w1, 30, 0);
    log_contains(w1, "stopped: 0 succeeded, 0 retried, 0 failed, 0 cancelled, 2 released, 0 lost");
    ck_assert_int_eq(qi("SELECT count(*) FROM jobs WHERE status = 'queued'"), 6);
    ck_assert_int_eq(qi("SELECT count(*) FROM jobs WHERE lease_owner IS NOT NULL"
                        " OR lease_expires_at IS NOT NULL"),
                     0);
    /* the attempt is history, but not counted against the job */
    ck_assert_int_eq(qi("SELECT count(*) FROM jobs WHERE attempts = 1 AND max_attempts = 6 AND"
                        " last_error = 'released by a stopping worker'"),
                     2);
    ck_assert_int_eq(qi("SELECT count(*) FROM job_attempts WHERE error_code = 'released'"
                        " AND retryable AND finished_at IS NOT NULL"),
                     2);
    ck_assert_int_eq(qi("SELECT count(*) FROM records"), 0);

    /* two jobs inside their load transaction: finished, no more claimed */
    int w2 = spawn(PAUSE(3), WORKER " --reports %s --concurrency 2 --drain 10", in);
    wait_paused(2);
    ck_assert_int_eq(kill(workers[w2].pid, SIGTERM), 0);
    expect_exit(w2, 30, 0);
    log_contains(w2, "stopped: 2 succeeded, 0 retried, 0 failed, 0 cancelled, 0 released, 0 lost");
    ck_assert_int_eq(qi("SELECT count(*) FROM jobs WHERE status = 'succeeded'"), 2);
    ck_assert_int_eq(qi("SELECT count(*) FROM jobs WHERE status = 'queued'"), 4);
    ck_assert_int_eq(qi("SELECT count(*) FROM jobs WHERE status = 'running'"), 0);
    ck_assert_int_eq(qi("SELECT sum(attempts) FROM jobs"), 4);

    /* a later worker finishes the rest, the released ones included */
    int w3 = spawn(NULL, WORKER " --reports %s --exit-when-idle --concurrency 2", in);
    expect_exit(w3, 30, 0);
    log_contains(w3, "stopped: 4 succeeded, 0 retried, 0 failed");
    all_succeeded_once(6);
    records_are_expected(load_expected(in, ""));
}
END_TEST

/* 8. Cancel: a queued job is cancelled and never runs; a running one ends
 * cancelled and writes nothing; a cancel that comes while the load
 * transaction commits waits for it and finds the job done. */
START_TEST(cancel_queued_and_running)
{
    case_begin("w_cancel");
    char in[4200];
    snprintf(in, sizeof in, "%s/in", tmp);
    gen("in", "--branches 1 --terminals 2 --days 1 --seed 81 --start 2025-09-01 --no-faults "
              "--orders 25");
    ok_contains("job 1 queued", BIN " enqueue --branch BMC --pos 1 --date 2025-09-01");
    ok_contains("job 1 cancelled", BIN " job 1 --cancel");
    qeq("cancelled", "SELECT status FROM jobs WHERE id = 1");

    ok_contains("job 2 queued", BIN " enqueue --branch BMC --pos 2 --date 2025-09-01");
    PGconn *hold = lock_branches();
    int w = spawn(NULL, WORKER " --reports %s --exit-when-idle --concurrency 1", in);
    ck_assert(wait_for(20, "1", WAITING_ON_LOCK));
    qeq("running", "SELECT status FROM jobs WHERE id = 2");
    ok_contains("job 2 running: its worker stops it at the next stage boundary",
                BIN " job 2 --cancel");
    qeq("running true", "SELECT status || ' ' || cancel_requested FROM jobs WHERE id = 2");
    sleep_s(1.0); /* two heartbeats: the worker knows */
    unlock_branches(hold);
    expect_exit(w, 30, 0);
    log_contains(w, "stopped: 0 succeeded, 0 retried, 0 failed, 1 cancelled, 0 released, 0 lost");
    qeq("cancelled", "SELECT status FROM jobs WHERE id = 2");
    qeq("cancelled", "SELECT error_code FROM job_attempts WHERE job_id = 2");
    ck_assert_int_eq(qi("SELECT count(*) FROM records"), 0);
    ck_assert_int_eq(qi("SELECT count(*) FROM files"), 0);
    ck_assert_int_eq(qi("SELECT count(*) FROM quality_flags"), 0);
    /* the queued one never ran */
    qeq("cancelled 0", "SELECT status || ' ' || attempts FROM jobs WHERE id = 1");
    ck_assert_int_eq(qi("SELECT count(*) FROM job_attempts WHERE job_id = 1"), 0);
    ck_assert_int_eq(qi("SELECT count(*) FROM job_events WHERE status = 'cancelled'"), 2);
    /* cancelling a finished job: refused */
    fails_contains(1, "job 1 has already cancelled", BIN " job 1 --cancel");

    /* a cancel during the load transaction waits for its COMMIT: done */
    ok_contains("job 3 queued", BIN " enqueue --branch BMC --pos 2 --date 2025-09-01");
    w = spawn(PAUSE(2), WORKER " --reports %s --exit-when-idle --concurrency 1", in);
    wait_paused(1);
    fails_contains(1, "job 3 has already succeeded", BIN " job 3 --cancel");
    expect_exit(w, 30, 0);
    qeq("succeeded", "SELECT status FROM jobs WHERE id = 3");
    records_are_expected(load_expected(in, "--pos 2"));

    /* a cancel that lands after the last stage boundary, while the load
     * waits for the job row: the load's first statement sees it, deletes
     * and inserts nothing, and the job ends cancelled */
    ok_contains("job 4 queued", BIN " enqueue --branch BMC --pos 1 --date 2025-09-01");
    hold = lock_branches();
    w = spawn(NULL, WORKER " --reports %s --exit-when-idle --concurrency 1", in);
    ck_assert(wait_for(20, "1", WAITING_ON_LOCK));
    PGconn *row = conn();
    exec_ok(row, "BEGIN");
    exec_ok(row, "UPDATE jobs SET cancel_requested = true WHERE id = 4");
    unlock_branches(hold);
    ck_assert_msg(wait_for(20, "1",
                           "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                           " AND query LIKE 'WITH l AS MATERIALIZED (SELECT cancel_requested%%'"),
                  "the load never waited for the job row");
    exec_ok(row, "COMMIT");
    PQfinish(row);
    expect_exit(w, 30, 0);
    log_contains(w, "stopped: 0 succeeded, 0 retried, 0 failed, 1 cancelled, 0 released, 0 lost");
    qeq("cancelled cancelled",
        "SELECT j.status || ' ' || a.error_code FROM jobs j JOIN job_attempts a"
        " ON a.job_id = j.id WHERE j.id = 4");
    ck_assert_int_eq(qi("SELECT count(*) FROM records WHERE pos = 1"), 0);
    ck_assert_int_eq(qi("SELECT count(*) FROM files WHERE job_id = 4"), 0);
    ck_assert_int_eq(qi("SELECT count(*) FROM quality_flags WHERE job_id = 4"), 0);
    /* the terminal-day of job 3 kept its records */
    records_are_expected(load_expected(in, "--pos 2"));
}
END_TEST

/* 10. A load longer than the lease (here: paused in its transaction) must
 * not cost its worker the leases of its other jobs: the heartbeat keeps
 * renewing them. */
START_TEST(long_load_keeps_other_leases)
{
    case_begin("w_longload");
    char in[4200];
    snprintf(in, sizeof in, "%s/in", tmp);
    gen("in", "--branches 1 --terminals 2 --days 1 --seed 101 --start 2025-10-01 --no-faults "
              "--orders 20");
    ok_contains("job 1 queued", BIN " enqueue --branch BMC --pos 1 --date 2025-10-01");
    int a = spawn(PAUSE(7), WORKER " --reports %s --exit-when-idle --concurrency 2", in);
    wait_paused(1);
    /* a second job for the same worker, held before its parse */
    PGconn *hold = lock_branches();
    free(qs("INSERT INTO jobs (branch, pos, business_date) VALUES ('BMC', 2, '2025-10-01')"));
    ck_assert(wait_for(20, "1", WAITING_ON_LOCK));
    qeq("running", "SELECT status FROM jobs WHERE id = 2");
    /* a rescuer, while the first job's load outlasts the lease */
    int b = spawn(NULL, WORKER " --reports %s --exit-when-idle --concurrency 1", in);
    ck_assert(wait_for(20, "succeeded", "SELECT status FROM jobs WHERE id = 1"));
    sleep_s(1.5); /* the rescuer has looked again since */
    /* the second job is still its worker's first attempt: its lease held */
    qeq("running 1", "SELECT status || ' ' || attempts FROM jobs WHERE id = 2");
    ck_assert_int_eq(qi("SELECT count(*) FROM job_attempts WHERE error_code IS NOT NULL"), 0);
    /* end it without a second long load */
    ok_contains("job 2 running", BIN " job 2 --cancel");
    unlock_branches(hold);
    expect_exit(a, 30, 0);
    expect_exit(b, 30, 0);
    log_contains(a, "stopped: 1 succeeded, 0 retried, 0 failed, 1 cancelled, 0 released, 0 lost");
    log_contains(b, "stopped: 0 succeeded, 0 retried, 0 failed, 0 cancelled, 0 released, 0 lost");
    qeq("succeeded 1", "SELECT status || ' ' || attempts FROM jobs WHERE id = 1");
    qeq("cancelled 1", "SELECT status || ' ' || attempts FROM jobs WHERE id = 2");
    ck_assert_int_eq(qi("SELECT count(*) FROM job_attempts WHERE error_code = 'lease_expired'"), 0);
    records_are_expected(load_expected(in, "--pos 1"));
}
END_TEST

/* 10. The sample branch configuration (samples/): the chain's legacy lists
 * (branches.txt, newBranches.txt) and branches.json import to the built-in
 * configuration's branches; with it in the database a worker stores exactly
 * the records `tillpipe run` writes for the newer-POS sample (departments from
 * the product master). */
START_TEST(sample_branch_files)
{
    case_begin("w_samples");
    const char *cfg = "SELECT string_agg(code || ' ' || active || ' ' || pos || ' ' ||"
                      " terminals::text || ' ' || parsers::text, '; ' ORDER BY code) FROM branches";
    char *builtin = qs("%s", cfg);
    free(qs("DELETE FROM branches"));
    const char *samples = TP_TEST_SAMPLES_DIR;
    ok_contains("imported 8 branches", BIN " branch import %s/branches.txt %s/newBranches.txt",
                samples, samples);
    qeq(builtin, "%s", cfg);
    qeq("AYALA-FRN B-SMS BMC MAGS: branches.txt; BETA BGRAN BPAG BTAB: newBranches.txt",
        "SELECT string_agg(codes || ': ' || legacy_list, '; ' ORDER BY legacy_list) FROM (SELECT"
        " legacy_list, string_agg(code, ' ' ORDER BY code COLLATE \"C\") codes FROM branches"
        " GROUP BY 1) l");
    ok_contains("imported 8 branches", BIN " branch import %s/branches.json", samples);
    qeq(builtin, "%s", cfg);
    qeq("8 Ayala FRN", "SELECT count(*) || ' ' || max(name) FILTER (WHERE code = 'AYALA-FRN')"
                       " FROM branches");
    free(builtin);

    ok_contains("job 1 queued", BIN " enqueue --branch BETA --pos 2 --date 2026-02-09");
    char in[4200];
    snprintf(in, sizeof in, "%s/newer-pos/reports", samples);
    int w = spawn(NULL, WORKER " --reports %s --exit-when-idle", in);
    expect_exit(w, 60, 0);
    all_succeeded_once(1);
    long long n = load_expected(in, "");
    ck_assert_int_eq(n, 8);
    records_are_expected(n);
    qeq("01 1 2 3 DRK101 FRA101 HOT101",
        "SELECT string_agg(d, ' ' ORDER BY d COLLATE \"C\") FROM (SELECT DISTINCT"
        " department_code d FROM records WHERE dep_from_product) x");
}
END_TEST

/* 10b. Bad branch files import nothing (one transaction): a legacy list
 * with a code that is not one, one that is missing, a JSON configuration
 * with an unknown key -- each after good files on the same command line. */
START_TEST(bad_branch_files_import_nothing)
{
    case_begin("w_badlists");
    free(qs("DELETE FROM branches"));
    char *good = tu_write(tmp, "branches.txt", "BMC\n# a comment\n\n  MAGS  \n");
    char *bad = tu_write(tmp, "more.txt", "AYALA-FRN\nB_SMS\n");
    char *quote = tu_write(tmp, "quote.txt", "BX\"Y\n");
    char *json = tu_write(tmp, "b.json", "{\"branches\": [{\"code\": \"BZ\", \"termnals\": [1]}]}");
    fails_contains(1, "more.txt:2: bad branch code", BIN " branch import %s %s", good, bad);
    fails_contains(1, "quote.txt:1: bad branch code", BIN " branch import %s %s", good, quote);
    fails_contains(1, "nope.txt", BIN " branch import %s %s/nope.txt", good, tmp);
    fails_contains(1, "branches[0].termnals: unknown key", BIN " branch import %s %s", good, json);
    fails_contains(2, "import needs FILE... or --builtin", BIN " branch import");
    ck_assert_int_eq(qi("SELECT count(*) FROM branches"), 0);
    /* (the one import is case_begin's built-in one) */
    ck_assert_int_eq(qi("SELECT count(*) FROM audit_log WHERE action = 'branch.import'"), 1);
    /* the good list alone: two classic branches, blank lines and comments skipped */
    ok_contains("imported 2 branches", BIN " branch import %s", good);
    qeq("BMC classic {1,2} branches.txt; MAGS classic {1,2} branches.txt",
        "SELECT string_agg(code || ' ' || pos || ' ' || terminals::text || ' ' || legacy_list,"
        " '; ' ORDER BY code) FROM branches");
    free(good);
    free(bad);
    free(quote);
    free(json);
}
END_TEST

/* What a one-shot command (printf-style) says when it cannot reach the
 * database: exit 1, one line that names the problem and not the password. */
static void __attribute__((format(printf, 2, 3)))
cannot_connect(const char *what, const char *fmt, ...)
{
    char cmd[8192], *out = NULL;
    va_list ap;
    va_start(ap, fmt);
    int rc = vsh(cmd, sizeof cmd, &out, fmt, ap);
    va_end(ap);
    ck_assert_msg(rc == 1, "%s: exit %d: %s", what, rc, out);
    ck_assert_msg(count_substr(out, "\n") == 1 && out[strlen(out) - 1] == '\n',
                  "%s: not one line: %s", what, out);
    ck_assert_msg(strstr(out, "cannot connect to the database") != NULL, "%s: %s", what, out);
    ck_assert_msg(strncmp(out, "tillpipe ", 9) == 0, "%s: %s", what, out);
    ck_assert_msg(strstr(out, "s3cretpw") == NULL, "%s: password echoed: %s", what, out);
    free(out);
}

/* 9a. An unreachable database: one-shot commands exit non-zero with one line
 * and no password, whether the URL names a socket, a TCP port or is
 * malformed, and whether it comes from --database or the environment. */
START_TEST(unreachable_database_commands)
{
    case_begin("w_unreach_cmd");
    char bad[1000], *out = NULL;
    /* the right socket folder, a port nothing listens on, a password */
    const char *host = strstr(url, "host=");
    ck_assert_ptr_nonnull(host);
    snprintf(bad, sizeof bad, "postgresql://tillpipe:s3cretpw@/tillpipe?%.*s&port=1",
             (int)strcspn(host, "&"), host);
    const char *tcp = "postgresql://tillpipe:s3cretpw@127.0.0.1:1/tillpipe";
    /* libpq quotes a malformed URL whole in its message */
    const char *malformed = "postgresql://tillpipe:s3cretpw@[::1/tillpipe";
    static const char *const cmds[] = {
        "migrate",
        "branch list",
        "branch import --builtin",
        "enqueue --branch BMC --pos 1 --date 2025-11-01",
        "enqueue --from 2025-11-01 --to 2025-11-02",
        "jobs",
        "jobs --status failed",
        "job 1",
        "job 1 --cancel",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        cannot_connect(cmds[i], BIN " %s --database '%s'", cmds[i], bad);
        cannot_connect(cmds[i], BIN " %s --database '%s'", cmds[i], tcp);
        cannot_connect(cmds[i], BIN " %s --database '%s'", cmds[i], malformed);
        cannot_connect(cmds[i], "TILLPIPE_DATABASE_URL='%s' " BIN " %s", bad, cmds[i]);
    }
    /* no database at all */
    ck_assert_int_eq(sh(&out, "env -u TILLPIPE_DATABASE_URL " BIN " jobs"), 1);
    ck_assert_msg(strstr(out, "no database: set TILLPIPE_DATABASE_URL or pass --database URL") &&
                      count_substr(out, "\n") == 1,
                  "%s", out);
    free(out);
}
END_TEST

/* 9b. A worker started while the database is down keeps retrying with
 * backoff and starts working once the server is back.  (Last: it kills the
 * suite's server.) */
START_TEST(worker_waits_for_database)
{
    case_begin("w_unreach");
    char in[4200];
    snprintf(in, sizeof in, "%s/in", tmp);
    gen("in", "--branches 1 --terminals 1 --days 1 --seed 91 --start 2025-11-01 --no-faults "
              "--orders 15");
    /* the worker waits for the server */
    ok_contains("job 1 queued", BIN " enqueue --branch BMC --pos 1 --date 2025-11-01");
    /* the test server commits asynchronously: flush before the crash */
    free(qs("CHECKPOINT"));
    ck_assert_int_eq(tu_pg_kill(), 0);
    char *v = NULL;
    for (double end = now_s() + 10; (v = try_q("SELECT 1")) && now_s() < end; sleep_s(0.1))
        free(v);
    ck_assert_msg(v == NULL, "the server is still up after kill");
    int w = spawn(NULL, WORKER " --reports %s --exit-when-idle --concurrency 2", in);
    char *t = NULL;
    for (double end = now_s() + 20; now_s() < end; sleep_s(0.1)) {
        free(t);
        t = tu_read(workers[w].log, NULL);
        if (t && strstr(t, "retrying in 2.0 s"))
            break;
    }
    /* the retry lines, the delay doubling */
    ck_assert_ptr_nonnull(t);
    ck_assert_msg(count_substr(t, "cannot connect to the database") >= 3 &&
                      strstr(t, "retrying in 0.5 s") && strstr(t, "retrying in 1.0 s") &&
                      strstr(t, "retrying in 2.0 s"),
                  "no retry lines:\n%s", t);
    ck_assert_ptr_null(strstr(t, "started"));
    free(t);
    /* bring the server back (its old postmaster may take a moment to go) */
    int up = 0;
    for (double end = now_s() + 30; !up && now_s() < end;)
        if (!(up = tu_pg_restart() == 0))
            sleep_s(0.5);
    ck_assert_msg(up, "cannot restart PostgreSQL");
    expect_exit(w, 60, 0);
    log_contains(w, "started");
    log_contains(w, "stopped: 1 succeeded, 0 retried, 0 failed");
    all_succeeded_once(1);
    records_are_expected(load_expected(in, ""));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("worker");
    pc_add(s, "w_e2e", end_to_end_and_forced_rerun);
    pc_add(s, "w_kill", kill9_mid_job_is_rescued);
    pc_add(s, "w_txn", kill_in_load_transaction_nothing_partial);
    pc_add(s, "w_restart", pg_restart_during_backfill);
    pc_add(s, "w_term", terminated_backend_cannot_complete);
    pc_add(s, "w_fence", frozen_worker_completion_is_fenced);
    pc_add(s, "w_poison", poison_jobs_fail_with_their_error);
    pc_add(s, "w_sigterm", sigterm_drains_or_releases);
    pc_add(s, "w_cancel", cancel_queued_and_running);
    pc_add(s, "w_longload", long_load_keeps_other_leases);
    pc_add(s, "w_samples", sample_branch_files);
    pc_add(s, "w_badlists", bad_branch_files_import_nothing);
    pc_add(s, "w_unreach_cmd", unreachable_database_commands);
    pc_add(s, "w_unreach", worker_waits_for_database); /* last: it kills the server */
    return s;
}

int main(void)
{
    return pc_main("test_worker", suite(), NULL, NULL);
}
