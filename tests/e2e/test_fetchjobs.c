/* test_fetchjobs.c -- whole jobs over the network: `tillpipe worker`
 * processes fetching from the report-server simulator (tests/reportsim) into
 * a raw-file store (fs, S3 via s3rver) and a real PostgreSQL.
 *
 * Each injected fault must give the expected retries and final status and
 * leave nothing half-written: no records, no files row without its stored
 * object, no stray temporary or work files.  A reparse runs from the stored
 * raw files with the simulator gone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgcase.h"
#include "store/store.h"

/* Workers that fetch: fast retries, a work folder of the case's own. */
#define NET_WORKER WORKER " --retries 1 --exit-when-idle --concurrency 2"

static const char *sim; /* the simulator's URL, serving <root>/served */
static char served[700];

/* What the served folder holds: 2 branches x 2 terminals x 3 days. */
static void serve_generated(void)
{
    sim = tu_sim_generated("test_fetchjobs", "--branches 2 --days 3", served, sizeof served);
}

/* No file of the case's work folder or store is a temporary. */
static void no_stray_files(const char *store_dir)
{
    char *out = NULL;
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "find %s/work -mindepth 1 | head -5; find %s -name '.tmp-*' | head -5", tmp,
             store_dir);
    ck_assert_int_eq(tu_run(cmd, &out), 0);
    ck_assert_msg(out[0] == '\0', "stray files:\n%s", out);
    free(out);
}

/* Every files row's object is in the fs store at <tmp>/store. */
static void files_rows_have_objects(void)
{
    char sdir[800];
    snprintf(sdir, sizeof sdir, "%s/store", tmp);
    tp_store_config cfg = {.kind = "fs", .root = sdir};
    tp_store *s = NULL;
    ck_assert_int_eq(tp_store_open(&cfg, &s, NULL), 0);
    PGconn *c = conn();
    PGresult *r = PQexec(c, "SELECT storage_key, size FROM files");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    ck_assert_int_gt(PQntuples(r), 0);
    for (int i = 0; i < PQntuples(r); i++) {
        int exists = 0;
        uint64_t size = 0;
        ck_assert_int_eq(tp_store_stat(s, PQgetvalue(r, i, 0), &exists, &size, NULL), 0);
        ck_assert_msg(exists, "files row %d: no object %s", i, PQgetvalue(r, i, 0));
        ck_assert_uint_eq(size, strtoull(PQgetvalue(r, i, 1), NULL, 10));
    }
    PQclear(r);
    PQfinish(c);
    tp_store_close(s);
}

/* A case over BMC and MAGS: the served range queued and worked off by a
 * worker fetching from the simulator (with whatever faults are set). */
static void run_range(const char *name, int max_attempts, const char *faults[])
{
    case_begin(name);
    only_branches("'BMC', 'MAGS'");
    tu_sim_clear();
    for (int i = 0; faults && faults[i]; i++)
        ck_assert_int_eq(tu_sim_fault(faults[i]), 0);
    ok_contains("12 jobs queued", BIN " enqueue --from 2025-03-01 --to 2025-03-03");
    if (max_attempts)
        free(qs("UPDATE jobs SET max_attempts = %d", max_attempts));
    char work[800];
    snprintf(work, sizeof work, "%s/work", tmp);
    mkdir(work, 0755);
    int w = spawn(NULL, NET_WORKER " --server %s --workdir %s", sim, work);
    expect_exit(w, 120, 0);
}

/* 1. The whole range through workers that fetch: records exactly what
 * `tillpipe run` gives for the served files; every candidate in the files
 * table with its stored object; identical files stored once. */
START_TEST(fetch_end_to_end)
{
    run_range("fj_e2e", 0, NULL);
    all_succeeded_once(12);
    /* the command line's actions are in the audit log, with who did them */
    qeq("branch.import,jobs.enqueue_range",
        "SELECT string_agg(action, ',' ORDER BY id) FROM audit_log"
        " WHERE actor LIKE 'cli:_%%'");
    qeq("{\"force\": false, \"created\": 12}", "SELECT details::text FROM audit_log"
                                               " WHERE action = 'jobs.enqueue_range'");
    records_are_expected(load_expected(served, ""));
    qeq("84", "SELECT count(*) FROM files");
    qeq("0", "SELECT count(*) FROM files WHERE storage_key IS NULL OR sha256 IS NULL"
             " OR storage_key <> 'raw/' || left(sha256, 2) || '/' || sha256");
    files_rows_have_objects();
    /* the loyalty file is re-sent identical every day: one object */
    char sdir[800];
    snprintf(sdir, sizeof sdir, "%s/store", tmp);
    long long objects = 0;
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "find %s -type f | wc -l", sdir);
    ck_assert_int_eq(tu_run(cmd, &out), 0);
    objects = strtoll(out, NULL, 10);
    free(out);
    ck_assert_int_eq(objects, qi("SELECT count(DISTINCT sha256) FROM files"));
    ck_assert_int_lt(objects, 84);
    qeq("12", "SELECT count(*) FROM job_attempts WHERE fetch_info->>'source' = 'server'"
              " AND (fetch_info->>'listed')::int = 7");
    ck_assert_int_eq(tu_sim_stat("lists"), 12);
    ck_assert_int_eq(tu_sim_stat("files"), 84);
    no_stray_files(sdir);
}
END_TEST

/* 2. Faults: transient ones cost retries and end succeeded; the server's
 * error pages end failed (server_error) after the job's attempts; a binary
 * file fails at once (bad_file, not retryable).  Failed jobs leave no
 * records and no files rows. */
START_TEST(fetch_faults)
{
    /* BMC/1 day 1: two resets then fine (retries inside the fetch and a
     * second attempt); BMC/2 day 1: always the HTML error page; MAGS/1
     * day 2: one file binary; MAGS/2 day 3: truncated once */
    const char *faults[] = {
        "{\"kind\":\"reset\",\"target\":\"list\",\"count\":2,\"match\":\"BMC/1/2025-03-01\"}",
        "{\"kind\":\"html\",\"target\":\"list\",\"rate\":1,\"match\":\"BMC/2/2025-03-01\"}",
        "{\"kind\":\"notcsv\",\"target\":\"file\",\"rate\":1,"
        "\"match\":\"a_MAGS_1_rd5800_2025-03-02\"}",
        "{\"kind\":\"truncate\",\"target\":\"file\",\"count\":1,"
        "\"match\":\"a_MAGS_2_rd5000_2025-03-03\"}",
        NULL};
    run_range("fj_faults", 3, faults);
    qeq("10", "SELECT count(*) FROM jobs WHERE status = 'succeeded'");
    /* the reset list: retried inside one attempt (1 retry), then a second attempt */
    qeq("succeeded 2", "SELECT status || ' ' || attempts FROM jobs WHERE branch = 'BMC' AND pos = 1"
                       " AND business_date = '2025-03-01'");
    qeq("network_error", "SELECT error_code FROM job_attempts a JOIN jobs j ON j.id = a.job_id"
                         " WHERE j.branch = 'BMC' AND j.pos = 1 AND j.business_date = '2025-03-01'"
                         " AND a.attempt = 1");
    /* the HTML page: every attempt a server error, then failed */
    qeq("failed 3 server_error",
        "SELECT j.status || ' ' || j.attempts || ' ' || string_agg(DISTINCT"
        " a.error_code, ',') FROM jobs j JOIN job_attempts a ON a.job_id = j.id"
        " WHERE j.branch = 'BMC' AND j.pos = 2 AND j.business_date = '2025-03-01'"
        " GROUP BY j.status, j.attempts");
    char *bad = qs("SELECT id FROM jobs WHERE branch = 'BMC' AND pos = 2"
                   " AND business_date = '2025-03-01'");
    ok_contains("HTML error page", BIN " job %s", bad);
    free(bad);
    /* the binary file: one attempt, failed, bad_file */
    qeq("failed 1 bad_file",
        "SELECT j.status || ' ' || j.attempts || ' ' || a.error_code FROM jobs j"
        " JOIN job_attempts a ON a.job_id = j.id WHERE j.branch = 'MAGS'"
        " AND j.pos = 1 AND j.business_date = '2025-03-02'");
    /* a failed attempt still tells what its fetch saw: 7 files listed */
    qeq("server 7", "SELECT a.fetch_info->>'source' || ' ' || (a.fetch_info->>'listed') FROM jobs j"
                    " JOIN job_attempts a ON a.job_id = j.id WHERE j.branch = 'MAGS'"
                    " AND j.pos = 1 AND j.business_date = '2025-03-02'");
    qeq("succeeded 1",
        "SELECT status || ' ' || attempts FROM jobs WHERE branch = 'MAGS' AND pos = 2"
        " AND business_date = '2025-03-03'");
    /* failed jobs wrote nothing */
    qeq("0",
        "SELECT count(*) FROM records r JOIN jobs j ON j.id = r.job_id WHERE j.status = 'failed'");
    qeq("0",
        "SELECT count(*) FROM files f JOIN jobs j ON j.id = f.job_id WHERE j.status = 'failed'");
    qeq("0", "SELECT count(*) FROM records WHERE (branch = 'BMC' AND pos = 2 AND business_date ="
             " '2025-03-01') OR (branch = 'MAGS' AND pos = 1 AND business_date = '2025-03-02')");
    files_rows_have_objects();
    char sdir[800];
    snprintf(sdir, sizeof sdir, "%s/store", tmp);
    no_stray_files(sdir);
    /* the simulator saw: 3 attempts x 2 tries of the HTML list */
    ck_assert_int_eq(tu_sim_stat("faults.html"), 6);
}
END_TEST

/* 3. Reparse from the stored raw files, the simulator gone: the same
 * records; a terminal-day never fetched has nothing to reparse. */
START_TEST(reparse_without_fetching)
{
    run_range("fj_reparse", 0, NULL);
    char work[800];
    snprintf(work, sizeof work, "%s/work", tmp);
    long long expected = load_expected(served, "");
    records_are_expected(expected);
    long long lists = tu_sim_stat("lists");
    /* a report server that answers nothing: a reparse must not need it */
    ok_contains("12 jobs queued", BIN " reparse --from 2025-03-01 --to 2025-03-03");
    ok_contains("0 jobs queued", BIN " reparse --from 2025-03-01 --to 2025-03-03 --branch NOPE");
    int w = spawn(NULL, NET_WORKER " --server http://127.0.0.1:1 --workdir %s", work);
    expect_exit(w, 120, 0);
    qeq("12", "SELECT count(*) FROM jobs WHERE kind = 'reparse' AND status = 'succeeded'");
    qeq("12", "SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id"
              " WHERE j.kind = 'reparse' AND a.fetch_info->>'source' = 'store'");
    records_are_expected(expected);
    ck_assert_int_eq(tu_sim_stat("lists"), lists);
    /* a day never fetched */
    ok_contains("queued", BIN " reparse --branch BMC --pos 1 --date 2025-03-09");
    w = spawn(NULL, NET_WORKER " --server http://127.0.0.1:1 --workdir %s", work);
    expect_exit(w, 60, 0);
    qeq("failed no_stored_files",
        "SELECT j.status || ' ' || a.error_code FROM jobs j JOIN"
        " job_attempts a ON a.job_id = j.id WHERE j.business_date = '2025-03-09'");
    /* a stored object gone from the store: the reparse fails saying which,
     * and the day keeps its records (no reparse with a file missing) */
    char *key = qs("SELECT f.storage_key FROM files f JOIN jobs j ON j.id = f.job_id"
                   " WHERE j.kind = 'reparse' AND f.branch = 'BMC' AND f.pos = 1"
                   " AND f.business_date = '2025-03-01' AND f.report_type = 'rd1800' LIMIT 1");
    free(ok("rm %s/store/%s", tmp, key));
    free(key);
    ok_contains("queued", BIN " reparse --branch BMC --pos 1 --date 2025-03-01");
    free(qs("UPDATE jobs SET max_attempts = 1 WHERE status = 'queued'"));
    w = spawn(NULL, NET_WORKER " --server http://127.0.0.1:1 --workdir %s", work);
    expect_exit(w, 60, 0);
    qeq("failed store_unavailable", "SELECT j.status || ' ' || a.error_code FROM jobs j JOIN"
                                    " job_attempts a ON a.job_id = j.id WHERE j.status = 'failed'"
                                    " AND j.business_date = '2025-03-01'");
    char *why =
        qs("SELECT last_error FROM jobs WHERE status = 'failed' AND business_date = '2025-03-01'");
    ck_assert_msg(strstr(why, "store: object raw/") && strstr(why, "rd1800"), "%s", why);
    free(why);
    records_are_expected(expected);
    /* bad usage */
    fails_contains(2, "after --to", BIN " reparse --from 2025-03-03 --to 2025-03-01");
    fails_contains(2, NULL, BIN " reparse --branch BMC --date 2025-03-01");
    char sdir[800];
    snprintf(sdir, sizeof sdir, "%s/store", tmp);
    no_stray_files(sdir);
}
END_TEST

/* 3b. A stored object whose bytes are not what its key names (what an S3
 * server that crashed mid-upload keeps, a disk error): the reparse hashes
 * what it reads back, fails store_corrupt once -- not retried -- naming the
 * object, and the day keeps its records. */
START_TEST(reparse_refuses_a_corrupt_object)
{
    run_range("fj_corrupt", 0, NULL);
    long long expected = load_expected(served, "");
    records_are_expected(expected);
    char *key = qs("SELECT f.storage_key FROM files f WHERE f.branch = 'BMC' AND f.pos = 1"
                   " AND f.business_date = '2025-03-01' AND f.report_type = 'rd5000' LIMIT 1");
    free(ok("chmod u+w %s/store/%s && truncate -s -1 %s/store/%s", tmp, key, tmp, key));
    ok_contains("queued", BIN " reparse --branch BMC --pos 1 --date 2025-03-01");
    char work[800];
    snprintf(work, sizeof work, "%s/work", tmp);
    int w = spawn(NULL, NET_WORKER " --server http://127.0.0.1:1 --workdir %s", work);
    expect_exit(w, 60, 0);
    qeq("failed store_corrupt 1 false",
        "SELECT j.status || ' ' || a.error_code || ' ' || j.attempts || ' ' || a.retryable"
        " FROM jobs j JOIN job_attempts a ON a.job_id = j.id WHERE j.kind = 'reparse'");
    char *why = qs("SELECT last_error FROM jobs WHERE kind = 'reparse'");
    ck_assert_msg(strstr(why, key) && strstr(why, "is corrupt"), "%s", why);
    free(why);
    free(key);
    records_are_expected(expected);
}
END_TEST

/* 3c. A terminal-day the report server lists nothing for: no_files, its
 * error saying so (it once began empty: " for BMC/1/2025-03-09"). */
START_TEST(empty_list_says_so)
{
    run_range("fj_empty", 0, NULL);
    ok_contains("queued", BIN " enqueue --branch BMC --pos 1 --date 2025-03-09");
    free(qs("UPDATE jobs SET max_attempts = 1 WHERE status = 'queued'"));
    char work[800];
    snprintf(work, sizeof work, "%s/work", tmp);
    int w = spawn(NULL, NET_WORKER " --server %s --workdir %s", sim, work);
    expect_exit(w, 60, 0);
    qeq("failed no_files|no report files yet for BMC/1/2025-03-09",
        "SELECT j.status || ' ' || a.error_code || '|' || j.last_error FROM jobs j"
        " JOIN job_attempts a ON a.job_id = j.id WHERE j.business_date = '2025-03-09'");
}
END_TEST

/* 4. A full disk under the fs store: a clear error, retries, then failed;
 * nothing partial: no records, no files rows, no temporaries.  Needs root
 * for the tmpfs mount. */
START_TEST(store_disk_full)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_fetchjobs: store_disk_full skipped: needs root to mount a tmpfs\n");
        return;
    }
    case_begin("fj_full");
    only_branches("'BMC'");
    char full[800], work[800];
    snprintf(full, sizeof full, "%s/full", tmp);
    snprintf(work, sizeof work, "%s/work", tmp);
    mkdir(full, 0755);
    mkdir(work, 0755);
    /* 64 KiB: the first files fit, the big ones do not */
    if (mount("tmpfs", full, "tmpfs", 0, "size=64k") != 0) {
        /* root without CAP_SYS_ADMIN (a container): say so, do not pretend */
        fprintf(stderr, "test_fetchjobs: store_disk_full skipped: cannot mount a tmpfs: %m\n");
        return;
    }
    ok_contains("job", BIN " enqueue --branch BMC --pos 1 --date 2025-03-01");
    free(qs("UPDATE jobs SET max_attempts = 2"));
    int w = spawn(NULL, NET_WORKER " --server %s --workdir %s --store fs:%s", sim, work, full);
    expect_exit(w, 60, 0);
    qeq("failed 2 store_unavailable", "SELECT j.status || ' ' || j.attempts || ' ' || a.error_code"
                                      " FROM jobs j JOIN job_attempts a ON a.job_id = j.id AND"
                                      " a.attempt = j.attempts");
    char *why = qs("SELECT last_error FROM jobs");
    ck_assert_msg(strstr(why, "No space left on device"), "%s", why);
    free(why);
    qeq("0", "SELECT count(*) FROM records");
    qeq("0", "SELECT count(*) FROM files");
    no_stray_files(full);
    umount2(full, MNT_DETACH);
}
END_TEST

/* 5. S3 (s3rver): jobs keep their raw files in the bucket; with the S3
 * server down they retry, then fail clearly, and the earlier run's records
 * and files stay as they were. */
START_TEST(s3_store_and_outage)
{
    case_begin("fj_s3");
    only_branches("'BMC'");
    char work[800];
    snprintf(work, sizeof work, "%s/work", tmp);
    mkdir(work, 0755);
    char store[1200];
    char *endpoint = tu_s3_start(store, sizeof store);

    ok_contains("6 jobs queued", BIN " enqueue --from 2025-03-01 --to 2025-03-03");
    int w = spawn(NULL, NET_WORKER " --server %s --workdir %s --store '%s'", sim, work, store);
    expect_exit(w, 120, 0);
    all_succeeded_once(6);
    long long n = load_expected(served, "--branch BMC");
    records_are_expected(n);
    /* every files row's object is in the bucket, with its size */
    tp_store_config cfg;
    char buf[1200];
    tp_store *s = NULL;
    tp_error err = {0};
    ck_assert_int_eq(tp_store_config_parse(store, buf, sizeof buf, &cfg, &err), 0);
    ck_assert_msg(tp_store_open(&cfg, &s, &err) == 0, "%s", err.msg);
    PGconn *c = conn();
    PGresult *r = PQexec(c, "SELECT storage_key, size FROM files");
    ck_assert_int_eq(PQntuples(r), 42);
    for (int i = 0; i < PQntuples(r); i++) {
        int exists = 0;
        uint64_t size = 0;
        ck_assert_msg(tp_store_stat(s, PQgetvalue(r, i, 0), &exists, &size, &err) == 0, "%s",
                      err.msg);
        ck_assert_msg(exists, "no object %s in the bucket", PQgetvalue(r, i, 0));
        ck_assert_uint_eq(size, strtoull(PQgetvalue(r, i, 1), NULL, 10));
    }
    PQclear(r);
    PQfinish(c);
    tp_store_close(s);

    /* S3 down: a forced re-run of one day retries, then fails clearly */
    tu_s3_stop();
    ok_contains("queued", BIN " enqueue --branch BMC --pos 1 --date 2025-03-01 --force");
    free(qs("UPDATE jobs SET max_attempts = 2 WHERE status = 'queued'"));
    w = spawn(NULL, NET_WORKER " --server %s --workdir %s --store '%s'", sim, work, store);
    expect_exit(w, 120, 0);
    qeq("failed 2 store_unavailable", "SELECT j.status || ' ' || j.attempts || ' ' || a.error_code"
                                      " FROM jobs j JOIN job_attempts a ON a.job_id = j.id AND"
                                      " a.attempt = j.attempts WHERE j.status <> 'succeeded'");
    char *why = qs("SELECT last_error FROM jobs WHERE status = 'failed'");
    ck_assert_msg(strstr(why, "s3") && strstr(why, endpoint), "%s", why);
    free(why);
    records_are_expected(n);
    qeq("42", "SELECT count(*) FROM files");
    qeq("0",
        "SELECT count(*) FROM files f JOIN jobs j ON j.id = f.job_id WHERE j.status = 'failed'");
    free(endpoint);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("fetchjobs");
    pc_add(s, "fj_e2e", fetch_end_to_end);
    pc_add(s, "fj_faults", fetch_faults);
    pc_add(s, "fj_reparse", reparse_without_fetching);
    pc_add(s, "fj_corrupt", reparse_refuses_a_corrupt_object);
    pc_add(s, "fj_empty", empty_list_says_so);
    pc_add(s, "fj_full", store_disk_full);
    pc_add(s, "fj_s3", s3_store_and_outage);
    return s;
}

int main(void)
{
    return pc_main("test_fetchjobs", suite(), serve_generated, tu_sim_stop);
}
