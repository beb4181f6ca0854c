/* test_fetch.c -- the report server client (engine/fetch.c) and the fetch
 * stage (engine/source.c) against the real simulator (tests/reportsim) over
 * loopback HTTP: lists, downloads, every injected fault with the retries it
 * should cost and the outcome it should end in, the size cap, archives in
 * downloads, the politeness limits, and that a failed download leaves no
 * file behind. */
#include <archive.h>
#include <archive_entry.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io/fetch.h"
#include "io/sha.h"
#include "store/store.h"
#include "testutil.h"
#include "worker/source.h"

static const char *base; /* the simulator */
static char *data;       /* the folder it serves */
static tp_allow *allow;  /* it, and 127.0.0.1:1 (nothing listens there) */

#define KEY_BRANCH "BMC"
#define KEY_DATE "2026-02-09"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A fetcher with fast retries (the simulator answers at once). */
static tp_fetcher *fetcher(int retries, uint64_t cap)
{
    tp_fetch_opts o = {.retries = retries,
                       .backoff_base = 0.01,
                       .max_file_bytes = cap,
                       .list_timeout_ms = 5000,
                       .file_timeout_ms = 5000,
                       .connect_timeout_ms = 2000,
                       .allow = allow};
    tp_fetcher *f = NULL;
    tp_error err = {0};
    ck_assert_msg(tp_fetcher_create(&o, &f, &err) == 0, "%s", err.msg);
    return f;
}

static void setup(void)
{
    tu_sim_clear();
}

/* One list call through the fetcher `f` (kept for its counters) on a
 * fresh connection; the paths are freed, their count kept. */
typedef struct listing {
    int rc;
    size_t n;
    tp_fetch_kind kind;
    char first[512]; /* the first path, or "" */
    int all_match;   /* every path is the terminal-day's */
    tp_error err;
} listing;

static listing list_once(tp_fetcher *f, const char *server, int pos)
{
    listing l = {0};
    tp_fetch_conn *c = tp_fetch_conn_create(f, NULL);
    char **paths = NULL;
    char want[16];
    snprintf(want, sizeof want, "_%s_%d_", KEY_BRANCH, pos);
    l.rc = tp_fetch_list(c, server, KEY_BRANCH, pos, KEY_DATE, &paths, &l.n, &l.kind, &l.err);
    if (l.rc == 0) {
        l.all_match = 1;
        for (size_t i = 0; i < l.n; i++)
            l.all_match &= strstr(paths[i], want) && strstr(paths[i], KEY_DATE);
        snprintf(l.first, sizeof l.first, "%s", l.n ? paths[0] : "");
        tp_fetch_list_free(paths, l.n);
    }
    tp_fetch_conn_destroy(c);
    return l;
}

/* ------------------------------------------------------------ list */

START_TEST(list_names_every_file)
{
    tp_fetcher *f = fetcher(0, 0);
    listing l = list_once(f, base, 1);
    ck_assert_msg(l.rc == 0, "%s", l.err.msg);
    ck_assert_int_eq(l.kind, TP_FETCH_OK);
    ck_assert_uint_eq(l.n, 7);
    ck_assert_msg(l.all_match, "a path of another terminal-day, e.g. %s", l.first);
    /* an empty list: nothing exported yet, not an error */
    l = list_once(f, base, 2);
    ck_assert_int_eq(l.rc, 0);
    ck_assert_int_eq(l.kind, TP_FETCH_NO_FILES);
    ck_assert_uint_eq(l.n, 0);
    tp_fetcher_destroy(f);
}
END_TEST

/* The server's error pages are errors after retries, never "no files". */
static void list_fault(const char *kind_name, const char *want_msg)
{
    char rule[256];
    snprintf(rule, sizeof rule, "{\"kind\":\"%s\",\"target\":\"list\",\"rate\":1}", kind_name);
    ck_assert_int_eq(tu_sim_fault(rule), 0);
    tp_fetcher *f = fetcher(2, 0);
    listing l = list_once(f, base, 1);
    ck_assert_int_lt(l.rc, 0);
    ck_assert_int_eq(l.kind, TP_FETCH_SERVER_ERROR);
    ck_assert_msg(strstr(l.err.msg, want_msg) && strstr(l.err.msg, "after 3 tries"), "%s",
                  l.err.msg);
    ck_assert_int_eq(tu_sim_stat("lists"), 3); /* the first try and 2 retries */
    tp_fetch_stats st;
    tp_fetcher_stats(f, &st);
    ck_assert_uint_eq(st.retries, 2);
    ck_assert_uint_eq(st.errors[TP_FETCH_SERVER_ERROR], 1);
    tp_fetcher_destroy(f);
}

START_TEST(list_html_page_is_server_error)
{
    list_fault("html", "HTML error page");
}
END_TEST
START_TEST(list_error_text_is_server_error)
{
    list_fault("errtext", "An error occurred");
}
END_TEST
START_TEST(list_500_is_server_error)
{
    list_fault("http500", "HTTP 500");
}
END_TEST

START_TEST(list_recovers_after_transient_faults)
{
    ck_assert_int_eq(tu_sim_fault("{\"kind\":\"http500\",\"target\":\"list\",\"count\":1}"), 0);
    ck_assert_int_eq(tu_sim_fault("{\"kind\":\"reset\",\"target\":\"list\",\"count\":1}"), 0);
    tp_fetcher *f = fetcher(3, 0);
    listing l = list_once(f, base, 1);
    ck_assert_msg(l.rc == 0, "%s", l.err.msg);
    ck_assert_uint_eq(l.n, 7);
    ck_assert_int_eq(tu_sim_stat("lists"), 3);
    tp_fetcher_destroy(f);
}
END_TEST

START_TEST(unreachable_server_is_network_error)
{
    tp_fetcher *f = fetcher(1, 0);
    /* port 1 on loopback: connection refused */
    listing l = list_once(f, "http://127.0.0.1:1", 1);
    ck_assert_int_lt(l.rc, 0);
    ck_assert_int_eq(l.kind, TP_FETCH_NETWORK);
    ck_assert_msg(strstr(l.err.msg, "list BMC/1/2026-02-09") && strstr(l.err.msg, "after 2 tries"),
                  "%s", l.err.msg);
    tp_fetcher_destroy(f);
}
END_TEST

START_TEST(slow_server_times_out)
{
    ck_assert_int_eq(
        tu_sim_fault("{\"kind\":\"latency\",\"target\":\"list\",\"rate\":1,\"ms\":1500}"), 0);
    tp_fetch_opts o = {.retries = 0, .list_timeout_ms = 300, .allow = allow};
    tp_fetcher *f = NULL;
    ck_assert_int_eq(tp_fetcher_create(&o, &f, NULL), 0);
    double t0 = now_s();
    listing l = list_once(f, base, 1);
    ck_assert_int_lt(l.rc, 0);
    ck_assert_int_eq(l.kind, TP_FETCH_NETWORK);
    ck_assert_msg(strstr(l.err.msg, "imeout") || strstr(l.err.msg, "timed out"), "%s", l.err.msg);
    ck_assert_msg(now_s() - t0 < 1.4, "the timeout did not cut the request short");
    tp_fetcher_destroy(f);
}
END_TEST

/* ------------------------------------------------------------ download */

/* The first listed rd5000 path of BMC/1. */
static char *rd5000_path(tp_fetch_conn *c)
{
    char **paths;
    size_t n;
    tp_fetch_kind kind;
    ck_assert_int_eq(tp_fetch_list(c, base, KEY_BRANCH, 1, KEY_DATE, &paths, &n, &kind, NULL), 0);
    char *p = NULL;
    for (size_t i = 0; i < n && !p; i++)
        if (strstr(paths[i], "_rd5000_"))
            p = strdup(paths[i]);
    tp_fetch_list_free(paths, n);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* Download with `rule` in force: the outcome, and no file left on failure. */
static int download(const char *rule, int retries, uint64_t cap, tp_fetch_kind *kind, tp_error *err,
                    char sha[65])
{
    tp_fetcher *f = fetcher(retries, cap);
    tp_fetch_conn *c = tp_fetch_conn_create(f, NULL);
    char *rel = rd5000_path(c);
    tu_sim_clear();
    if (rule)
        ck_assert_int_eq(tu_sim_fault(rule), 0);
    char *dir = tu_tmpdir(), dest[512];
    snprintf(dest, sizeof dest, "%s/file.csv", dir);
    uint64_t size = 0;
    int rc = tp_fetch_file(c, base, rel, dest, sha, &size, kind, err);
    struct stat st;
    if (rc == 0) {
        char want[65], path[1024];
        snprintf(path, sizeof path, "%s/%s", data, rel);
        uint64_t wsize;
        ck_assert_int_eq(tp_sha256_file(path, want, &wsize, NULL), 0);
        ck_assert_str_eq(sha, want);
        ck_assert_uint_eq(size, wsize);
        ck_assert_int_eq(stat(dest, &st), 0);
        ck_assert_uint_eq((uint64_t)st.st_size, wsize);
    } else {
        ck_assert_msg(stat(dest, &st) != 0, "a failed download left %s", dest);
        ck_assert_int_eq(tu_count_entries(dir), 0);
    }
    tu_rmrf(dir);
    free(dir);
    free(rel);
    tp_fetch_conn_destroy(c);
    tp_fetcher_destroy(f);
    return rc;
}

/* A download under `rule` succeeds (after retries). */
static void download_ok(const char *rule, int retries)
{
    tp_fetch_kind kind;
    tp_error err = {0};
    char sha[65];
    ck_assert_msg(download(rule, retries, 0, &kind, &err, sha) == 0, "%s", err.msg);
    ck_assert_int_eq(kind, TP_FETCH_OK);
}

/* A download under `rule` fails with `want` kind and message. */
static void download_fails(const char *rule, int retries, uint64_t cap, tp_fetch_kind want,
                           const char *want_msg)
{
    tp_fetch_kind kind;
    tp_error err = {0};
    char sha[65];
    ck_assert_int_lt(download(rule, retries, cap, &kind, &err, sha), 0);
    ck_assert_int_eq(kind, want);
    ck_assert_msg(strstr(err.msg, want_msg), "%s", err.msg);
}

START_TEST(download_streams_with_sha256)
{
    download_ok(NULL, 0);
    ck_assert_int_eq(tu_sim_stat("files"), 1);
}
END_TEST

START_TEST(truncated_body_is_retried)
{
    download_ok("{\"kind\":\"truncate\",\"target\":\"file\",\"count\":2}", 3);
    ck_assert_int_eq(tu_sim_stat("files"), 3);
    /* always truncated: a bad file after the retries, saying so */
    download_fails("{\"kind\":\"truncate\",\"target\":\"file\",\"rate\":1}", 2, 0,
                   TP_FETCH_BAD_FILE, "truncated: the body ended");
    ck_assert_int_eq(tu_sim_stat("files"), 3);
}
END_TEST

START_TEST(reset_connection_is_retried)
{
    download_ok("{\"kind\":\"reset\",\"target\":\"file\",\"count\":1}", 2);
    download_fails("{\"kind\":\"reset\",\"target\":\"file\",\"rate\":1}", 1, 0, TP_FETCH_NETWORK,
                   "after 2 tries");
}
END_TEST

START_TEST(file_500_and_html_are_server_errors)
{
    download_fails("{\"kind\":\"http500\",\"target\":\"file\",\"rate\":1}", 1, 0,
                   TP_FETCH_SERVER_ERROR, "HTTP 500");
    ck_assert_int_eq(tu_sim_stat("files"), 2);
    download_fails("{\"kind\":\"html\",\"target\":\"file\",\"rate\":1}", 1, 0,
                   TP_FETCH_SERVER_ERROR, "HTML error page");
}
END_TEST

START_TEST(binary_body_is_bad_file_without_retry)
{
    download_fails("{\"kind\":\"notcsv\",\"target\":\"file\",\"rate\":1}", 3, 0, TP_FETCH_BAD_FILE,
                   "not a CSV file");
    ck_assert_int_eq(tu_sim_stat("files"), 1); /* no retry: it would not change */
}
END_TEST

START_TEST(size_cap_stops_download)
{
    download_fails(NULL, 3, 1000, TP_FETCH_BAD_FILE, "1000-byte cap");
    ck_assert_int_eq(tu_sim_stat("files"), 1);
}
END_TEST

/* ------------------------------------------------------------ limits */

typedef struct limit_arg {
    tp_fetcher *f;
    int n;
} limit_arg;

static void *list_many(void *p)
{
    limit_arg *a = p;
    tp_fetch_conn *c = tp_fetch_conn_create(a->f, NULL);
    for (int i = 0; i < a->n; i++) {
        char **paths;
        size_t n;
        tp_fetch_kind kind;
        ck_assert_int_eq(tp_fetch_list(c, base, KEY_BRANCH, 1, KEY_DATE, &paths, &n, &kind, NULL),
                         0);
        tp_fetch_list_free(paths, n);
    }
    tp_fetch_conn_destroy(c);
    return NULL;
}

/* 4 threads share one fetcher: its per-server limits hold for all of them.
 * (Lower bounds only: the limits can make requests slower, never faster.) */
START_TEST(limits_are_shared_by_threads)
{
    /* in flight: 1 at a time, each request 100 ms -> 8 requests >= 0.8 s */
    ck_assert_int_eq(
        tu_sim_fault("{\"kind\":\"latency\",\"target\":\"list\",\"rate\":1,\"ms\":100}"), 0);
    tp_fetch_opts o = {.retries = 0, .max_in_flight = 1, .allow = allow};
    tp_fetcher *f = NULL;
    ck_assert_int_eq(tp_fetcher_create(&o, &f, NULL), 0);
    pthread_t t[4];
    limit_arg a = {f, 2};
    double t0 = now_s();
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, list_many, &a);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    double in_flight_s = now_s() - t0;
    ck_assert_msg(in_flight_s >= 0.78, "8 serialised 100 ms requests took %.2f s", in_flight_s);
    tp_fetcher_destroy(f);
    tu_sim_clear();

    /* rate: 20 per second -> 16 requests span >= 0.75 s */
    tp_fetch_opts r = {.retries = 0, .max_in_flight = 8, .max_per_second = 20, .allow = allow};
    ck_assert_int_eq(tp_fetcher_create(&r, &f, NULL), 0);
    a = (limit_arg){f, 4};
    t0 = now_s();
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, list_many, &a);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    double rate_s = now_s() - t0;
    ck_assert_msg(rate_s >= 0.74, "16 requests at 20/s took %.2f s", rate_s);
    ck_assert_int_eq(tu_sim_stat("lists"), 16);
    tp_fetch_stats st;
    tp_fetcher_stats(f, &st);
    ck_assert_uint_eq(st.requests, 16);
    tp_fetcher_destroy(f);
}
END_TEST

/* ------------------------------------------------------------ fetch stage */

static tp_store *fs_store(const char *dir)
{
    tp_store_config cfg = {.kind = "fs", .root = dir};
    tp_store *s = NULL;
    tp_error err = {0};
    ck_assert_msg(tp_store_open(&cfg, &s, &err) == 0, "%s", err.msg);
    return s;
}

START_TEST(stage_fetches_and_keeps_candidates)
{
    char *dir = tu_tmpdir(), store_dir[512];
    snprintf(store_dir, sizeof store_dir, "%s/store", dir);
    tp_store *store = fs_store(store_dir);
    tp_fetcher *f = fetcher(0, 0);
    tp_source src = {
        .server = base, .conn = tp_fetch_conn_create(f, NULL), .store = store, .workroot = dir};
    /* re-sent exports: a partial one earlier and a duplicate later */
    ck_assert_int_eq(tu_sim_fault("{\"kind\":\"partial\",\"target\":\"list\",\"rate\":1}"), 0);
    ck_assert_int_eq(tu_sim_fault("{\"kind\":\"duplicate\",\"target\":\"list\",\"rate\":1}"), 0);
    tp_fetched got;
    tp_error err = {0};
    ck_assert_msg(tp_source_fetch(&src, NULL, KEY_BRANCH, 1, KEY_DATE, &got, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(got.kind, TP_FETCH_OK);
    tp_termday *td = &got.scan->days[0];
    ck_assert_uint_eq(got.listed, 21);
    ck_assert_uint_eq(td->ncands, 21);
    ck_assert_msg(tp_source_keep(&src, &got, &err) == 0, "%s", err.msg);
    /* a duplicate is the same bytes: stored once */
    ck_assert_uint_eq(got.stored_new, 14);
    char key[TP_STORE_KEY_MAX];
    tp_store_key(td->cands[0].sha256, key);
    int exists = 0;
    ck_assert_int_eq(tp_store_stat(store, key, &exists, NULL, NULL), 0);
    ck_assert_int_eq(exists, 1);
    /* select takes the full export, not the partial re-send */
    ck_assert_int_eq(tp_select_files(td, NULL, &err), 0);
    const tp_candidate *c = &td->cands[td->chosen[TP_TYPE_RD5000]];
    ck_assert_msg(strstr(c->name, "_20-0"), "chose %s", c->name);
    char work[512];
    snprintf(work, sizeof work, "%s", got.workdir);
    tp_fetched_clear(&got);
    struct stat st;
    ck_assert_msg(stat(work, &st) != 0, "work folder %s left behind", work);

    /* a second fetch of the same day stores nothing new */
    tu_sim_clear();
    ck_assert_int_eq(tp_source_fetch(&src, NULL, KEY_BRANCH, 1, KEY_DATE, &got, &err), 0);
    ck_assert_int_eq(tp_source_keep(&src, &got, &err), 0);
    ck_assert_uint_eq(got.stored_new, 0);
    tp_fetched_clear(&got);

    /* nothing for terminal 2 yet */
    ck_assert_int_eq(tp_source_fetch(&src, NULL, KEY_BRANCH, 2, KEY_DATE, &got, &err), 0);
    ck_assert_int_eq(got.kind, TP_FETCH_NO_FILES);
    tp_fetched_clear(&got);
    ck_assert_int_eq(tu_count_entries(dir), 1); /* only the store: no work folders left */

    tp_fetch_conn_destroy(src.conn);
    tp_fetcher_destroy(f);
    tp_store_close(store);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

/* A download that is an archive contributes its members; an unsafe one is
 * a bad file and nothing of it is kept. */
START_TEST(stage_takes_archives)
{
    char *dir = tu_tmpdir(), store_dir[512];
    snprintf(store_dir, sizeof store_dir, "%s/store", dir);
    tp_store *store = fs_store(store_dir);
    tp_fetcher *f = fetcher(0, 0);
    tp_source src = {
        .server = base, .conn = tp_fetch_conn_create(f, NULL), .store = store, .workroot = dir};
    tp_fetched got;
    tp_error err = {0};
    /* the simulator serves a_MAGS_1_bundle_2026-02-09.zip and
     * a_MAGS_2_bundle_2026-02-09.tar.gz (see write_data) */
    ck_assert_msg(tp_source_fetch(&src, NULL, "MAGS", 1, KEY_DATE, &got, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(got.listed, 1);
    ck_assert_uint_eq(got.scan->days[0].ncands, 7);
    tp_fetched_clear(&got);
    ck_assert_int_lt(tp_source_fetch(&src, NULL, "MAGS", 2, KEY_DATE, &got, &err), 0);
    ck_assert_int_eq(got.kind, TP_FETCH_BAD_FILE);
    ck_assert_msg(strstr(err.msg, "unsafe member path"), "%s", err.msg);
    tp_fetched_clear(&got);
    ck_assert_int_eq(tu_count_entries(dir), 1);
    ck_assert_int_eq(tu_count_entries(store_dir), 0);
    tp_fetch_conn_destroy(src.conn);
    tp_fetcher_destroy(f);
    tp_store_close(store);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

/* ------------------------------------------------------------ main */

/* The served folder, from the project's samples: BMC/1 of samples/classic as
 * files; MAGS/1 in the zip of samples/archives (its members in a folder);
 * MAGS/2 an unsafe tar.gz (a member path with ".."). */
static int write_data(void)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cp %s/classic/reports/a_BMC_1_*_2026-02-09_*.csv "
             "%s/archives/reports/a_MAGS_1_bundle_2026-02-09.zip %s/",
             TP_TEST_SAMPLES_DIR, TP_TEST_SAMPLES_DIR, data);
    if (tu_run(cmd, NULL) != 0)
        return -1;
    snprintf(cmd, sizeof cmd, "%s/classic/reports/a_BMC_1_rd1800_2026-02-09_20-00_.csv",
             TP_TEST_SAMPLES_DIR);
    char *text = tu_read(cmd, NULL);
    if (!text) {
        fprintf(stderr, "test_fetch: cannot read %s\n", cmd);
        return -1;
    }
    tu_member bad[] = {{"../a_MAGS_2_rd1800_2026-02-09_20-00_.csv", text, NULL, 0}};
    char *tgz = tu_make_archive(data, "a_MAGS_2_bundle_2026-02-09.tar.gz", "tgz", bad, 1);
    int rc = tgz ? 0 : -1;
    free(tgz);
    free(text);
    return rc;
}

static Suite *suite(void)
{
    Suite *s = suite_create("fetch");
    TCase *tc = tcase_create("fetch");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, list_names_every_file);
    tcase_add_test(tc, list_html_page_is_server_error);
    tcase_add_test(tc, list_error_text_is_server_error);
    tcase_add_test(tc, list_500_is_server_error);
    tcase_add_test(tc, list_recovers_after_transient_faults);
    tcase_add_test(tc, unreachable_server_is_network_error);
    tcase_add_test(tc, slow_server_times_out);
    tcase_add_test(tc, download_streams_with_sha256);
    tcase_add_test(tc, truncated_body_is_retried);
    tcase_add_test(tc, reset_connection_is_retried);
    tcase_add_test(tc, file_500_and_html_are_server_errors);
    tcase_add_test(tc, binary_body_is_bad_file_without_retry);
    tcase_add_test(tc, size_cap_stops_download);
    tcase_add_test(tc, limits_are_shared_by_threads);
    tcase_add_test(tc, stage_fetches_and_keeps_candidates);
    tcase_add_test(tc, stage_takes_archives);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    data = tu_tmpdir();
    if (!data || write_data() < 0) {
        fprintf(stderr, "test_fetch: cannot write the served folder (samples in %s)\n",
                TP_TEST_SAMPLES_DIR);
        return EXIT_FAILURE;
    }
    base = tu_sim_start(data, NULL);
    if (!base || !(allow = tp_allow_create()) || tp_allow_add(allow, base, "test", NULL) < 0 ||
        tp_allow_add(allow, "127.0.0.1:1", "test", NULL) < 0) {
        fprintf(stderr, "test_fetch: cannot start the report-server simulator\n");
        return EXIT_FAILURE;
    }
    /* Check forks per test: every case talks to this one simulator */
    int failed = tu_run_suite(suite());
    tu_sim_stop();
    tu_rmrf(data);
    free(data);
    tp_allow_destroy(allow);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
