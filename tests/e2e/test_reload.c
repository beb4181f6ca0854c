/* test_reload.c -- plugins reloaded while `tillpipe worker` and `tillpipe
 * serve` run (SIGHUP, POST /api/plugins/reload), against a real PostgreSQL
 * and real processes.
 *
 * Each case has a plugin folder of its own: the bundled plugins and
 * fixtures/plugins/wild.c as "wild", an rd5900 override for MAGS, in
 * version 1.0.0 or 2.0.0.  An upgrade is done as an operator does it: the
 * new file written beside the old and renamed over it, mode 0644.  Every
 * job's attempt records the plugin it used per report type (name, version,
 * sha256), so what ran is read back from the database: jobs before the
 * reload ran 1.0.0, jobs after it 2.0.0, a job in flight across the reload
 * finished on the set it started with, a rollback reaches the next jobs,
 * and no job failed.  SIGHUP never stops a process; a reload that finds
 * nothing to load keeps the set in use.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "httpc.h"
#include "pgcase.h"

#define SECRET "test-secret-0123456789abcdef0123456789"
#define RWORKER BIN " worker --plugins %s --lease 5 --backoff 0"
/* what a MAGS attempt ran for rd5900 */
#define WILD "plugins->'rd5900'->>'name' || ' ' || (plugins->'rd5900'->>'version')"
#define OF_MAGS "job_id IN (SELECT id FROM jobs WHERE branch = 'MAGS')"

static char plugdir[800]; /* this case's plugin folder */

/* ------------------------------------------------------------ files */

/* Install `src` as <plugdir>/name: a new file renamed over the old one. */
static void install(const char *src, const char *name)
{
    ck_assert_msg(tu_install(src, plugdir, name, 0644) == 0, "cannot install %s", src);
}

/* <plugdir>/name (static). */
static const char *plugdir_file(const char *name)
{
    static char path[1000];
    snprintf(path, sizeof path, "%s/%s", plugdir, name);
    return path;
}

/* wild_v1, wild_v2 or wild_other (the test plugins' build names) as `name`. */
static void install_variant(const char *variant, const char *name)
{
    char src[1000];
    snprintf(src, sizeof src, "%s/%s.so", TP_TEST_PLUGSET_DIR, variant);
    install(src, name);
}

/* <case>/plugins (0755): the eight bundled plugins and wild 1.0.0. */
static void plugin_folder(void)
{
    static const char *const bundled[] = {"blpr",   "discount", "newpos", "rd1800",
                                          "rd5000", "rd5500",   "rd5800", "rd5900"};
    snprintf(plugdir, sizeof plugdir, "%s/plugins", tmp);
    ck_assert_int_eq(mkdir(plugdir, 0755), 0);
    ck_assert_int_eq(chmod(plugdir, 0755), 0);
    for (size_t i = 0; i < sizeof bundled / sizeof *bundled; i++) {
        char src[1000], name[64];
        snprintf(src, sizeof src, "%s/%s.so", TP_TEST_PLUGIN_DIR, bundled[i]);
        snprintf(name, sizeof name, "%s.so", bundled[i]);
        install(src, name);
    }
    install_variant("wild_v1", "wild.so");
}

/* The sha256 of a test plugin build (static). */
static const char *sha_of(const char *variant)
{
    static char sha[2][65];
    static int k;
    char *out = ok("sha256sum %s/%s.so", TP_TEST_PLUGSET_DIR, variant);
    k = !k;
    snprintf(sha[k], sizeof sha[k], "%.64s", out);
    free(out);
    return sha[k];
}

/* Poll worker w's log until it holds `want`: 1, or 0 after `timeout` s. */
static int wait_log(int w, const char *want, double timeout)
{
    for (double end = now_s() + timeout; now_s() < end; sleep_s(0.05)) {
        char *t = tu_read(workers[w].log, NULL); /* (not there yet: NULL) */
        int found = t && strstr(t, want) != NULL;
        free(t);
        if (found)
            return 1;
    }
    return 0;
}

static int alive(int w)
{
    return workers[w].pid > 0 && waitpid(workers[w].pid, NULL, WNOHANG) == 0;
}

/* SIGHUP, and the log saying the reload to generation `gen` took. */
static void hup_reloaded(int w, const char *cmd, int loaded, int gen)
{
    char want[200];
    snprintf(want, sizeof want,
             "tillpipe %s: plugins reloaded (SIGHUP): %d loaded, 0 not loaded; generation %d", cmd,
             loaded, gen);
    ck_assert_int_eq(kill(workers[w].pid, SIGHUP), 0);
    ck_assert_msg(wait_log(w, want, 30), "no \"%s\" in:\n%s", want, wlog(w));
    ck_assert(alive(w));
}

static void wait_succeeded(long long n)
{
    char want[32];
    snprintf(want, sizeof want, "%lld", n);
    ck_assert_msg(wait_for(90, want, "SELECT count(*) FROM jobs WHERE status = 'succeeded'"),
                  "not %lld jobs succeeded: %lld", n,
                  qi("SELECT count(*) FROM jobs WHERE status = 'succeeded'"));
}

/* ------------------------------------------------------------ worker */

/* Phase one of the upgrade: 16 jobs on wild 1.0.0; then two MAGS jobs held
 * between fetch and parse (their plugin set taken) while wild.so becomes
 * 2.0.0 and SIGHUP reloads: they finish on 1.0.0. */
static int upgrade_with_jobs_in_flight(void)
{
    ok_contains("16 jobs queued", BIN " enqueue --from 2025-06-01 --to 2025-06-04");
    int w = spawn(PAUSE(0.3), RWORKER " --reports %s/in --concurrency 2", plugdir, tmp);
    wait_succeeded(16);
    /* past the threads' branch configuration cache: the next jobs read it;
     * the worker stopped while they are queued (enqueue reads the branches) */
    sleep_s(5.5);
    ck_assert_int_eq(kill(workers[w].pid, SIGSTOP), 0);
    ok_contains("job 17 queued", BIN " enqueue --branch MAGS --pos 1 --date 2025-06-05");
    ok_contains("job 18 queued", BIN " enqueue --branch MAGS --pos 2 --date 2025-06-05");
    PGconn *hold = lock_branches();
    ck_assert_int_eq(kill(workers[w].pid, SIGCONT), 0);
    ck_assert(wait_for(20, "2", WAITING_ON_LOCK));
    install_variant("wild_v2", "wild.so");
    hup_reloaded(w, "worker", 9, 2);
    unlock_branches(hold);
    wait_succeeded(18);
    qeq("wild 1.0.0", "SELECT string_agg(DISTINCT " WILD ", ',') FROM job_attempts"
                      " WHERE job_id <= 18 AND " OF_MAGS);
    qeq("8", "SELECT count(*) FROM job_attempts WHERE job_id <= 16 AND " WILD " = 'wild 1.0.0'");
    return w;
}

/* 1. An upgrade and a rollback under load, by SIGHUP: jobs before the
 * reload ran 1.0.0, jobs in flight finished on the set they started with,
 * jobs after it ran 2.0.0; rolled back, the next jobs run 1.0.0 again;
 * every job succeeded once; SIGTERM still drains and exits 0. */
START_TEST(upgrade_and_rollback_under_load)
{
    case_begin("r_upgrade");
    plugin_folder();
    gen("in", "--branches 2 --days 12 --seed 41 --start 2025-06-01 --no-faults --orders 30");
    only_branches("'BMC', 'MAGS'");
    int w = upgrade_with_jobs_in_flight();
    /* a stream of 28 jobs; once 2.0.0 has run some, roll back to 1.0.0 */
    ok_contains("28 jobs queued", BIN " enqueue --from 2025-06-06 --to 2025-06-12");
    ck_assert(
        wait_for(60, "t", "SELECT count(*) >= 2 FROM job_attempts WHERE " WILD " = 'wild 2.0.0'"));
    char *before = qs("SELECT now()");
    install_variant("wild_v1", "wild.so");
    hup_reloaded(w, "worker", 9, 3);
    char *after = qs("SELECT now()");
    ck_assert_int_gt(qi("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')"), 0);
    ok_contains("8 jobs queued", BIN " enqueue --from 2025-06-01 --to 2025-06-02 --force");
    wait_succeeded(54);
    kill(workers[w].pid, SIGTERM);
    expect_exit(w, 60, 0);
    log_contains(w, "stopped: 54 succeeded, 0 retried, 0 failed, 0 cancelled, 0 released, 0 lost");
    all_succeeded_once(54);
    qeq("0", "SELECT count(*) FROM job_attempts WHERE error_code IS NOT NULL");
    /* before the rollback, 2.0.0; after it, 1.0.0 -- the forced re-runs too */
    qeq("wild 2.0.0",
        "SELECT string_agg(DISTINCT " WILD ", ',') FROM job_attempts"
        " WHERE " OF_MAGS " AND job_id > 18 AND finished_at < '%s'",
        before);
    qeq("wild 1.0.0",
        "SELECT string_agg(DISTINCT " WILD ", ',') FROM job_attempts"
        " WHERE " OF_MAGS " AND started_at > '%s'",
        after);
    qeq("4", "SELECT count(*) FROM jobs j JOIN job_attempts a ON a.job_id = j.id"
             " WHERE j.force AND " WILD " = 'wild 1.0.0'");
    /* each version recorded with the sha256 of its build */
    char want[200];
    snprintf(want, sizeof want, "1.0.0 %s,2.0.0 %s", sha_of("wild_v1"), sha_of("wild_v2"));
    qeq(want, "SELECT string_agg(DISTINCT (plugins->'rd5900'->>'version') || ' ' ||"
              " (plugins->'rd5900'->>'sha256'), ',') FROM job_attempts WHERE " OF_MAGS);
    /* only MAGS ran wild; the other types ran the bundled plugins */
    qeq("0", "SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id"
             " WHERE (j.branch = 'MAGS') <> (a.plugins->'rd5900'->>'name' = 'wild')");
    free(before);
    free(after);
}
END_TEST

/* 2. SIGHUP never stops a worker: reloads one after another, a reload that
 * finds no plugin (the folder emptied) keeps the set in use and says so,
 * jobs still run on it; SIGTERM ends it with 0. */
/* Two versions of one plugin side by side, each pinned by a branch: one
 * worker runs BMC's terminal-days on wild 1.0.0 and MAGS's on 2.0.0 at once
 * (the automatic choice would be 2.0.0 for MAGS, its override, and the
 * generic rd5900 for BMC). */
START_TEST(two_pinned_versions_at_once)
{
    case_begin("r_pins");
    plugin_folder();
    ck_assert_int_eq(unlink(plugdir_file("wild.so")), 0);
    install_variant("wild_v1", "wild-1.0.0.so");
    install_variant("wild_v2", "wild-2.0.0.so");
    gen("in", "--branches 2 --days 2 --seed 44 --start 2025-09-01 --no-faults --orders 20");
    free(qs("UPDATE branches SET parsers = jsonb_build_object('rd5900', jsonb_build_object("
            "'plugin', 'wild', 'version', CASE code WHEN 'BMC' THEN '1.0.0' ELSE '^2' END))"
            " WHERE code IN ('BMC', 'MAGS')"));
    only_branches("'BMC', 'MAGS'");
    ok_contains("8 jobs queued", BIN " enqueue --from 2025-09-01 --to 2025-09-02");
    int w = spawn(NULL, RWORKER " --reports %s/in --concurrency 2 --exit-when-idle", plugdir, tmp);
    expect_exit(w, 60, 0);
    qeq("8", "SELECT count(*) FROM jobs WHERE status = 'succeeded'");
    qeq("BMC wild 1.0.0,MAGS wild 2.0.0",
        "SELECT string_agg(DISTINCT j.branch || ' ' || (" WILD "), ',') FROM job_attempts a"
        " JOIN jobs j ON j.id = a.job_id");
    qeq("2", "SELECT count(DISTINCT plugins->'rd5900'->>'sha256') FROM job_attempts");
    /* a pin no version satisfies fails its terminal-days, saying so */
    free(qs("UPDATE branches SET parsers = '{\"rd5900\": {\"plugin\": \"wild\","
            " \"version\": \">=3\"}}' WHERE code = 'BMC'"));
    ok_contains("job 9 queued", BIN " enqueue --branch BMC --pos 1 --date 2025-09-01 --force");
    w = spawn(NULL, RWORKER " --reports %s/in --exit-when-idle", plugdir, tmp);
    expect_exit(w, 60, 0);
    qeq("config_invalid", "SELECT error_code FROM job_attempts WHERE job_id = 9");
    qeq("1", "SELECT count(*) FROM job_attempts WHERE job_id = 9 AND strpos(message,"
             " 'no loaded version matches (loaded: 1.0.0, 2.0.0)') > 0");
}
END_TEST

START_TEST(sighup_does_not_stop_a_worker)
{
    case_begin("r_hup");
    plugin_folder();
    gen("in", "--branches 2 --days 1 --seed 42 --start 2025-07-01 --no-faults --orders 20");
    int w = spawn(NULL, RWORKER " --reports %s/in --concurrency 1", plugdir, tmp);
    ck_assert(wait_log(w, " started: 1 thread", 30));
    for (int gen = 2; gen <= 4; gen++)
        hup_reloaded(w, "worker", 9, gen);
    char *out = NULL;
    ck_assert_int_eq(sh(&out, "mkdir %s/aside && mv %s/*.so %s/aside/", tmp, plugdir, tmp), 0);
    free(out);
    ck_assert_int_eq(kill(workers[w].pid, SIGHUP), 0);
    char want[1200];
    snprintf(want, sizeof want,
             "tillpipe worker: plugins not reloaded (SIGHUP): no plugin could be loaded from %s: "
             "it holds no *.so file",
             plugdir);
    ck_assert_msg(wait_log(w, want, 30), "%s", wlog(w));
    log_contains(w, "; generation 4 stays in use (9 loaded, 0 not loaded)");
    ck_assert(alive(w));
    ok_contains("job 1 queued", BIN " enqueue --branch MAGS --pos 1 --date 2025-07-01");
    wait_succeeded(1);
    qeq("wild 1.0.0", "SELECT " WILD " FROM job_attempts WHERE job_id = 1");
    ck_assert(alive(w));
    kill(workers[w].pid, SIGTERM);
    expect_exit(w, 60, 0);
    log_contains(w, "stopped: 1 succeeded, 0 retried, 0 failed");
}
END_TEST

/* ------------------------------------------------------------ HTTP */

static char base[128];

typedef tu_resp resp;
#define resp_free tu_resp_free
#define jint tu_jint
#define jstr tu_jstr

static resp call(const char *method, const char *path, const char *token, const char *body)
{
    char full[1024];
    snprintf(full, sizeof full, "%s%s", base, path);
    return tu_request(full, method, token, body, NULL, NULL);
}

#define expect_status(r, want)                                                                     \
    ck_assert_msg((r).status == (want), "status %ld, want %ld: %s", (r).status, (long)(want),      \
                  (r).body ? (r).body : "")

static char *login(const char *name, const char *role)
{
    tu_add_user(name, role);
    return tu_login(base, name);
}

/* `tillpipe serve` with workers on <case>/in and the case's plugin folder. */
static int serve(void)
{
    return tu_serve(base, sizeof base, "TILLPIPE_JWT_SECRET=" SECRET,
                    BIN " serve --plugins %s --reports %s/in --concurrency 1", plugdir, tmp);
}

/* The entry of GET /api/plugins' "pending" for `file`, or NULL. */
static json_t *pending_of(resp *r, const char *file)
{
    json_t *a = json_object_get(r->json, "pending"), *e;
    size_t i;
    json_array_foreach(a, i, e)
    {
        if (strcmp(jstr(e, "file"), file) == 0)
            return e;
    }
    return NULL;
}

/* The version of the plugin `name` in a GET /api/plugins answer. */
static const char *version_in(resp *r, const char *name)
{
    json_t *a = json_object_get(r->json, "items"), *e;
    size_t i;
    json_array_foreach(a, i, e)
    {
        if (strcmp(jstr(e, "name"), name) == 0)
            return jstr(e, "version");
    }
    return "(none)";
}

/* ------------------------------------------------------------ API */

/* GET /api/plugins before the reload: generation 1, and what is on disk
 * but not loaded -- wild.so changed, extra.so new -- and why. */
static void pending_before_reload(const char *viewer)
{
    install_variant("wild_v2", "wild.so");
    install_variant("wild_other", "extra.so");
    resp r = call("GET", "/api/plugins", viewer, NULL);
    expect_status(r, 200);
    ck_assert_int_eq(jint(r.json, "generation"), 1);
    ck_assert_int_eq(jint(r.json, "total"), 9);
    ck_assert_int_eq((int)strlen(jstr(r.json, "loaded_at")), 20); /* 2025-01-01T00:00:00Z */
    ck_assert_str_eq(version_in(&r, "wild"), "1.0.0");
    ck_assert_int_eq((int)json_array_size(json_object_get(r.json, "pending")), 2);
    json_t *e = pending_of(&r, "wild.so");
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(jstr(e, "change"), "changed");
    ck_assert_str_eq(jstr(e, "sha256"), sha_of("wild_v2"));
    ck_assert_str_eq(jstr(e, "loaded_sha256"), sha_of("wild_v1"));
    e = pending_of(&r, "extra.so");
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(jstr(e, "change"), "new");
    ck_assert_str_eq(jstr(e, "reason"), "not loaded: on disk since the last reload"
                                        " (POST /api/plugins/reload or SIGHUP)");
    resp_free(&r);
}

/* POST /api/plugins/reload as `token`: the status, the answer freed. */
static void reload_as(const char *token, long want)
{
    resp r = call("POST", "/api/plugins/reload", token, NULL);
    expect_status(r, want);
    resp_free(&r);
}

/* A reload of the folder emptied, then of the folder gone: 409 saying why,
 * the set in use kept (GET says so, and the next job runs it); then the
 * files back. */
static void failed_reloads_keep_the_set(const char *admin, const char *viewer)
{
    char *out = NULL;
    ck_assert_int_eq(sh(&out, "mkdir %s/aside && mv %s/*.so %s/aside/", tmp, plugdir, tmp), 0);
    free(out);
    resp r = call("POST", "/api/plugins/reload", admin, NULL);
    expect_status(r, 409);
    ck_assert_str_eq(jstr(r.json, "code"), "reload_failed");
    ck_assert_ptr_nonnull(strstr(jstr(r.json, "detail"), "the plugins loaded before stay in use"
                                                         " (generation 2): no plugin could be"
                                                         " loaded from"));
    resp_free(&r);
    ck_assert_int_eq(rmdir(plugdir), 0);
    r = call("POST", "/api/plugins/reload", admin, NULL);
    expect_status(r, 409);
    ck_assert_ptr_nonnull(strstr(jstr(r.json, "detail"), "No such file or directory"));
    resp_free(&r);
    qeq("true,false,false", "SELECT string_agg(details->>'ok', ',' ORDER BY id) FROM audit_log"
                            " WHERE action = 'plugins.reload' AND actor = 'ada'");
    r = call("GET", "/api/plugins", viewer, NULL);
    expect_status(r, 200);
    ck_assert_int_eq(jint(r.json, "generation"), 2);
    ck_assert_int_eq(jint(r.json, "total"), 10);
    ck_assert_str_eq(jstr(pending_of(&r, "wild.so"), "change"), "gone");
    resp_free(&r);
    ok_contains("job 2 queued", BIN " enqueue --branch MAGS --pos 2 --date 2025-08-01");
    wait_succeeded(2);
    qeq("wild 2.0.0", "SELECT " WILD " FROM job_attempts WHERE job_id = 2");
    ck_assert_int_eq(sh(&out, "mkdir %s && mv %s/aside/*.so %s/", plugdir, tmp, plugdir), 0);
    free(out);
    ck_assert_int_eq(chmod(plugdir, 0755), 0);
}

/* 3. POST /api/plugins/reload: refused to anonymous callers (401), viewers
 * and operators (403); an admin's reload answers the new set (200), is
 * audited, and the next job runs it; a reload of an emptied or vanished
 * folder answers 409 and the set stays; SIGHUP reloads serve too. */
START_TEST(api_reload)
{
    case_begin("r_api");
    plugin_folder();
    gen("in", "--branches 2 --days 1 --seed 43 --start 2025-08-01 --no-faults --orders 20");
    int w = serve();
    char *viewer = login("vera", "viewer"), *op = login("olga", "operator");
    char *admin = login("ada", "admin");
    pending_before_reload(viewer);
    reload_as(NULL, 401);
    reload_as(viewer, 403);
    reload_as(op, 403);
    qeq("0", "SELECT count(*) FROM audit_log WHERE action = 'plugins.reload'");
    resp r = call("POST", "/api/plugins/reload", admin, NULL);
    expect_status(r, 200);
    ck_assert_int_eq(jint(r.json, "generation"), 2);
    ck_assert_int_eq(jint(r.json, "total"), 10);
    ck_assert_str_eq(version_in(&r, "wild"), "2.0.0");
    ck_assert_int_eq((int)json_array_size(json_object_get(r.json, "pending")), 0);
    resp_free(&r);
    qeq("ada plugins true 2 10",
        "SELECT actor || ' ' || target || ' ' || (details->>'ok') || ' ' ||"
        " (details->>'generation') || ' ' || (details->>'loaded')"
        " FROM audit_log WHERE action = 'plugins.reload'");
    char *rid = qs("SELECT request_id FROM audit_log WHERE action = 'plugins.reload'");
    ck_assert_int_eq((int)strlen(rid), 32);
    free(rid);
    log_contains(w, "tillpipe serve: plugins reloaded (POST /api/plugins/reload by ada): 10 loaded,"
                    " 0 not loaded; generation 2");
    ok_contains("job 1 queued", BIN " enqueue --branch MAGS --pos 1 --date 2025-08-01");
    wait_succeeded(1);
    qeq("wild 2.0.0", "SELECT " WILD " FROM job_attempts WHERE job_id = 1");
    failed_reloads_keep_the_set(admin, viewer);
    hup_reloaded(w, "serve", 10, 3); /* SIGHUP reloads serve as well */
    tu_serve_stop(w);
    free(viewer), free(op), free(admin);
}
END_TEST

static void start(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static Suite *suite(void)
{
    Suite *s = suite_create("reload");
    pc_add(s, "r_upgrade", upgrade_and_rollback_under_load);
    pc_add(s, "r_hup", sighup_does_not_stop_a_worker);
    pc_add(s, "r_pins", two_pinned_versions_at_once);
    pc_add(s, "r_api", api_reload);
    return s;
}

int main(void)
{
    return pc_main("test_reload", suite(), start, NULL);
}
