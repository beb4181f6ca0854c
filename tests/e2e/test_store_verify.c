/* test_store_verify.c -- `tillpipe store verify [--repair]` against a real
 * store filled by real workers: the fs store, and S3 through a real s3rver.
 *
 * Workers fetch a few terminal-days from the report-server simulator; then
 * the store is damaged as crashes and disks damage it -- an object cut
 * short, a flipped byte, an object gone, a temporary of a writer that is
 * gone (and one of a live writer, which must be left alone) -- and verify
 * must name each, count them exactly and exit 1; --repair must fetch the
 * recorded objects again (or queue a forced fetch when there is no report
 * server) and remove what is corrupt, after which verify exits 0 and the
 * records are still exactly what `tillpipe run` gives.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pgcase.h"
#include "store/store.h"

#define NET_WORKER WORKER " --retries 1 --exit-when-idle --concurrency 2"

static const char *sim;
static char served[700];

static void serve_generated(void)
{
    sim = tu_sim_generated("test_store_verify", "--branches 2 --days 3", served, sizeof served);
}

/* A pid that no process has: a child that has exited and been reaped. */
static long dead_pid(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    waitpid(p, NULL, 0);
    return (long)p;
}

/* BMC's three days fetched by a worker into `store` (NULL: the case's fs
 * store); returns the records `tillpipe run` gives for them. */
static long long fetch_days(const char *store)
{
    only_branches("'BMC'");
    ok_contains("6 jobs queued", BIN " enqueue --from 2025-03-01 --to 2025-03-03");
    char work[800];
    snprintf(work, sizeof work, "%s/work", tmp);
    mkdir(work, 0755);
    int w = store
                ? spawn(NULL, NET_WORKER " --server %s --workdir %s --store '%s'", sim, work, store)
                : spawn(NULL, NET_WORKER " --server %s --workdir %s", sim, work);
    expect_exit(w, 120, 0);
    all_succeeded_once(6);
    long long n = load_expected(served, "--branch BMC");
    records_are_expected(n);
    return n;
}

/* The i-th distinct stored object (by key), one of a plain CSV report. */
static char *nth_key(int i)
{
    return qs(
        "SELECT storage_key FROM (SELECT DISTINCT storage_key FROM files"
        " WHERE report_type IN ('rd5000', 'rd5800', 'rd1800')) k ORDER BY 1 OFFSET %d LIMIT 1",
        i);
}

/* Run a command that must exit with `code`; its output in *out. */
#define exits(code, out, ...)                                                                      \
    do {                                                                                           \
        int rc_ = sh(out, __VA_ARGS__);                                                            \
        ck_assert_msg(rc_ == (code), "exit %d, not %d:\n%s", rc_, (code), *(out));                 \
    } while (0)

static void has(const char *out, const char *want)
{
    ck_assert_msg(strstr(out, want), "wanted \"%s\" in:\n%s", want, out);
}

/* 1. fs: each kind of damage found, counted, exit 1; --repair fetches the
 * recorded objects again from the report server and removes the stray
 * temporary; the live writer's temporary stays; verify then exits 0. */
START_TEST(fs_damage_found_and_repaired)
{
    case_begin("sv_fs");
    long long n = fetch_days(NULL);
    char *out = NULL;
    exits(0, &out, BIN " store verify");
    has(out, "0 missing, 0 truncated, 0 wrong size, 0 corrupt, 0 stray temporaries");
    free(out);

    char *cut = nth_key(0), *flip = nth_key(1), *gone = nth_key(2);
    char *cut_size = qs("SELECT max(size) FROM files WHERE storage_key = '%s'", cut);
    free(ok("cd %s/store && truncate -s -100 %s && rm %s", tmp, cut, gone));
    /* one byte changed in place, the size kept */
    free(ok("cd %s/store && printf 'Z' | dd of=%s bs=1 seek=20 conv=notrunc status=none", tmp,
            flip));
    long dead = dead_pid();
    char stray[1200], live[1200];
    snprintf(stray, sizeof stray, "%s/store/%s.tmp-%ld-3", tmp, cut, dead);
    snprintf(live, sizeof live, "%s/store/raw/00/.tmp-%ld-1-%064d", tmp, (long)getpid(), 0);
    free(ok("mkdir -p %s/store/raw/00 && echo half > %s && echo half > %s", tmp, stray, live));

    exits(1, &out, BIN " store verify");
    char line[1400];
    snprintf(line, sizeof line, "truncated %s: %lld of its %s bytes", cut,
             strtoll(cut_size, NULL, 10) - 100, cut_size);
    has(out, line);
    snprintf(line, sizeof line, "corrupt %s: ", flip);
    has(out, line);
    snprintf(line, sizeof line, "missing %s (", gone);
    has(out, line);
    snprintf(line, sizeof line, "stray temporary %s: its writer (pid %ld) is gone",
             strstr(stray, "raw/"), dead);
    has(out, line);
    has(out, "(of BMC/");
    has(out, "1 missing, 1 truncated, 0 wrong size, 1 corrupt, 1 stray temporary;");
    has(out, "1 temporary in progress");
    free(out);
    /* a filter checks only its terminal-days' objects */
    exits(0, &out, BIN " store verify --branch MAGS");
    has(out, "0 objects read back");
    free(out);

    exits(0, &out, BIN " store verify --repair --server %s", sim);
    has(out, "repaired: 3 fetched again, 3 removed, 0 queued for a forced fetch, 0 not repaired");
    free(out);
    exits(0, &out, BIN " store verify");
    has(out, "0 missing, 0 truncated, 0 wrong size, 0 corrupt, 0 stray temporaries");
    has(out, "1 temporary in progress");
    free(out);
    struct stat st;
    ck_assert_int_eq(stat(live, &st), 0);
    ck_assert_int_ne(stat(stray, &st), 0);
    /* the repaired objects are what a reparse reads: the same records */
    ok_contains("6 jobs queued", BIN " reparse --from 2025-03-01 --to 2025-03-03");
    int w = spawn(NULL, NET_WORKER " --server http://127.0.0.1:1");
    expect_exit(w, 120, 0);
    qeq("6", "SELECT count(*) FROM jobs WHERE kind = 'reparse' AND status = 'succeeded'");
    records_are_expected(n);
    free(cut), free(flip), free(gone), free(cut_size);
}
END_TEST

/* 2. No report server to fetch from: --repair removes the damaged object
 * and queues a forced fetch of its terminal-day; a worker puts it whole
 * again; verify then exits 0.  Bad usage exits 2. */
START_TEST(fs_repair_queues_a_fetch)
{
    case_begin("sv_queue");
    long long n = fetch_days(NULL);
    char *key = qs("SELECT storage_key FROM files WHERE business_date = '2025-03-02' AND pos = 1"
                   " AND report_type = 'rd5000'");
    free(ok("cd %s/store && truncate -s 10 %s", tmp, key));
    char *out = NULL;
    unsetenv("TILLPIPE_REPORT_SERVER");
    exits(0, &out, BIN " store verify --repair --since 2025-03-02");
    has(out, "a forced fetch of BMC/1/2025-03-02 queued");
    has(out, "repaired: 0 fetched again, 1 removed, 1 queued for a forced fetch, 0 not repaired");
    free(out);
    qeq("1", "SELECT count(*) FROM jobs WHERE status = 'queued' AND force AND kind = 'fetch'");
    exits(1, &out, BIN " store verify"); /* until the fetch runs: missing */
    has(out, "1 missing, 0 truncated");
    free(out);
    int w = spawn(NULL, NET_WORKER " --server %s", sim);
    expect_exit(w, 120, 0);
    exits(0, &out, BIN " store verify");
    has(out, "0 missing, 0 truncated, 0 wrong size, 0 corrupt, 0 stray temporaries");
    free(out);
    records_are_expected(n);
    free(key);
    fails_contains(2, "not a valid YYYY-MM-DD", BIN " store verify --since 2025-13-01");
    fails_contains(2, "unknown subcommand", BIN " store check");
    fails_contains(2, "unexpected argument", BIN " store verify extra");
}
END_TEST

/* 3. S3 (s3rver): a truncated object under its key with the checksum it
 * would have had (what a server killed mid-upload keeps), a same-size
 * object with one byte changed, an object gone: each found; --repair
 * fetches them again; verify then exits 0. */
START_TEST(s3_damage_found_and_repaired)
{
    case_begin("sv_s3");
    char *out = NULL;
    char store[1200];
    char *endpoint = tu_s3_start(store, sizeof store);
    long long n = fetch_days(store);
    exits(0, &out, BIN " store verify --store '%s'", store);
    has(out, "0 missing, 0 truncated, 0 wrong size, 0 corrupt");
    free(out);

    tp_store_config cfg;
    char buf[1200];
    tp_store *s = NULL;
    tp_error err = {0};
    ck_assert_int_eq(tp_store_config_parse(store, buf, sizeof buf, &cfg, &err), 0);
    ck_assert_msg(tp_store_open(&cfg, &s, &err) == 0, "%s", err.msg);
    char *cut = nth_key(0), *flip = nth_key(1), *gone = nth_key(2);
    char local[900];
    snprintf(local, sizeof local, "%s/obj", tmp);
    /* cut short: its first half, under its key */
    ck_assert_msg(tp_store_get_file(s, cut, local, &err) == 0, "%s", err.msg);
    free(ok("truncate -s $(( $(stat -c %%s %s) / 2 )) %s", local, local));
    struct stat st;
    ck_assert_int_eq(stat(local, &st), 0);
    ck_assert_msg(tp_store_delete(s, cut, &err) == 0, "%s", err.msg);
    ck_assert_msg(tp_store_put_file(s, cut, local, (uint64_t)st.st_size, NULL, &err) == 0, "%s",
                  err.msg);
    /* one byte changed, the size kept */
    ck_assert_msg(tp_store_get_file(s, flip, local, &err) == 0, "%s", err.msg);
    free(ok("printf 'Z' | dd of=%s bs=1 seek=20 conv=notrunc status=none", local));
    ck_assert_int_eq(stat(local, &st), 0);
    ck_assert_msg(tp_store_delete(s, flip, &err) == 0, "%s", err.msg);
    ck_assert_msg(tp_store_put_file(s, flip, local, (uint64_t)st.st_size, NULL, &err) == 0, "%s",
                  err.msg);
    ck_assert_msg(tp_store_delete(s, gone, &err) == 0, "%s", err.msg);

    exits(1, &out, BIN " store verify --store '%s'", store);
    char line[400];
    snprintf(line, sizeof line, "truncated %s: ", cut);
    has(out, line);
    snprintf(line, sizeof line, "corrupt %s: ", flip);
    has(out, line);
    snprintf(line, sizeof line, "missing %s (", gone);
    has(out, line);
    has(out, "1 missing, 1 truncated, 0 wrong size, 1 corrupt, 0 stray temporaries");
    free(out);
    exits(0, &out, BIN " store verify --store '%s' --repair --server %s", store, sim);
    has(out, "repaired: 3 fetched again, 2 removed, 0 queued for a forced fetch, 0 not repaired");
    free(out);
    exits(0, &out, BIN " store verify --store '%s'", store);
    has(out, "0 missing, 0 truncated, 0 wrong size, 0 corrupt");
    free(out);
    /* and a reparse reads them back whole */
    ok_contains("6 jobs queued", BIN " reparse --from 2025-03-01 --to 2025-03-03");
    int w = spawn(NULL, NET_WORKER " --server http://127.0.0.1:1 --store '%s'", store);
    expect_exit(w, 120, 0);
    qeq("6", "SELECT count(*) FROM jobs WHERE kind = 'reparse' AND status = 'succeeded'");
    records_are_expected(n);
    tp_store_close(s);
    free(cut), free(flip), free(gone), free(endpoint);
    tu_s3_stop();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("store_verify");
    pc_add(s, "sv_fs", fs_damage_found_and_repaired);
    pc_add(s, "sv_queue", fs_repair_queues_a_fetch);
    pc_add(s, "sv_s3", s3_damage_found_and_repaired);
    return s;
}

int main(void)
{
    return pc_main("test_store_verify", suite(), serve_generated, tu_sim_stop);
}
