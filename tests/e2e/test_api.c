/* test_api.c -- the HTTP API over real HTTP (libcurl) against a real
 * `tillpipe serve` process, a real PostgreSQL and, end to end, workers in
 * the server's process fetching from the report-server simulator.
 *
 * Every endpoint's success path and its bad inputs: malformed JSON, wrong
 * types, impossible dates, unknown branches, oversized bodies, missing,
 * expired and forged tokens (alg none, wrong secret), too-low roles,
 * traversal in ids, SQL metacharacters in filters; and the served routes
 * against docs/openapi.yaml.
 */
#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <jansson.h>
#include <jwt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tillpipe/sdk.h>
#include <time.h>
#include <unistd.h>

#include "httpc.h"
#include "pgcase.h"

#define SECRET "test-secret-0123456789abcdef0123456789"

static char base[128];  /* the API of this case's server */
static const char *sim; /* the simulator, serving <root>/served */
static char served[700];

/* ------------------------------------------------------------ HTTP */

typedef tu_resp resp;
#define resp_free tu_resp_free
#define jint tu_jint
#define jstr tu_jstr
#define perform tu_perform

/* One request: `ctype` NULL = application/json when there is a body;
 * `header` ("Name: value") one more header, or NULL. */
static resp call_ct(const char *method, const char *path, const char *token, const char *body,
                    const char *ctype, const char *header)
{
    char full[2048];
    snprintf(full, sizeof full, "%s%s", base, path);
    return tu_request(full, method, token, body, ctype, header);
}

static resp call(const char *method, const char *path, const char *token, const char *body);

/* GET an event stream for `ms` milliseconds (the time-out ends it). */
static resp stream_for(const char *path, const char *token, const char *last_id, long ms)
{
    resp r = {0};
    CURL *h = curl_easy_init();
    char full[2048], auth[4200], le[64];
    snprintf(full, sizeof full, "%s%s", base, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    struct curl_slist *hd = curl_slist_append(NULL, auth);
    if (last_id) {
        snprintf(le, sizeof le, "Last-Event-ID: %s", last_id);
        hd = curl_slist_append(hd, le);
    }
    curl_easy_setopt(h, CURLOPT_URL, full);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms);
    CURLcode cc = perform(h, hd, &r);
    ck_assert_msg(cc == CURLE_OK || cc == CURLE_OPERATION_TIMEDOUT, "%s: %s", path,
                  curl_easy_strerror(cc));
    return r;
}

/* An event stream held open in another thread. */
typedef struct stream_arg {
    const char *token;
    long ms;
    resp r;
} stream_arg;

static void *stream_bg(void *arg)
{
    stream_arg *a = arg;
    a->r = stream_for("/api/events", a->token, NULL, a->ms);
    return NULL;
}

typedef struct later {
    const char *token;
    const char *body;
} later;

static void *post_later(void *arg)
{
    later *l = arg;
    sleep_s(0.5);
    resp r = call("POST", "/api/jobs/fetch", l->token, l->body);
    resp_free(&r);
    return NULL;
}

static resp call(const char *method, const char *path, const char *token, const char *body)
{
    return call_ct(method, path, token, body, NULL, NULL);
}

/* The response has `status`; a problem has the problem content type and
 * `code`.  `line` and `what` (the request, or "") say where, when not. */
#define expect(...) expect_at(__LINE__, "", __VA_ARGS__)
static void expect_at(int line, const char *what, resp *r, long status, const char *code)
{
    ck_assert_msg(r->status == status, "line %d:%s status %ld, want %ld: %s", line, what, r->status,
                  status, r->body ? r->body : "");
    if (code) {
        ck_assert_msg(strcmp(r->ctype, "application/problem+json") == 0,
                      "line %d:%s content type %s", line, what, r->ctype);
        const char *got = jstr(r->json, "code");
        ck_assert_msg(got && strcmp(got, code) == 0, "line %d:%s code %s, want %s: %s", line, what,
                      got ? got : "(none)", code, r->body);
        ck_assert_int_eq(jint(r->json, "status"), status);
    }
}

/* Call, expect, free. */
#define check(...) check_at(__LINE__, __VA_ARGS__)
static void check_at(int line, const char *method, const char *path, const char *token,
                     const char *body, long status, const char *code)
{
    char what[2100];
    snprintf(what, sizeof what, " %s %s:", method, path);
    resp r = call(method, path, token, body);
    expect_at(line, what, &r, status, code);
    resp_free(&r);
}

/* The body into <case folder>/name; the path (static). */
static const char *save_body(resp *r, const char *name)
{
    static char path[800];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(r->body, 1, r->len, f), r->len);
    fclose(f);
    return path;
}

/* ------------------------------------------------------------ fixture */

static int server_w = -1;

/* A user, the server (`args`: more options), its URL in `base`.  The server's
 * TMPDIR, where it spools uploads, is the case's own: <case folder>/tmpdir. */
static void serve(const char *args)
{
    char td[800];
    snprintf(td, sizeof td, "%s/tmpdir", tmp);
    mkdir(td, 0700);
    server_w =
        tu_serve(base, sizeof base, "TILLPIPE_JWT_SECRET=" SECRET,
                 "env TMPDIR=%s " BIN " serve" PLUGINS " --store fs:%s/store %s", td, tmp, args);
}

/* SIGTERM: the server stops cleanly, exit 0 (under ASan also: no leaks). */
static void stop_server(void)
{
    tu_serve_stop(server_w);
}

/* GET `path` and the pages after it (following `next`, at most
 * `max_pages`): every item in order, in one array (caller decrefs).  Each
 * page must be a 200 that says `total`. */
static json_t *all_pages(const char *path, const char *t, long long total, int max_pages)
{
    json_t *all = json_array();
    char p[1024];
    snprintf(p, sizeof p, "%s", path);
    for (int page = 0; page < max_pages; page++) {
        resp r = call("GET", p, t, NULL);
        expect(&r, 200, NULL);
        ck_assert_int_eq(jint(r.json, "total"), total);
        json_array_extend(all, json_object_get(r.json, "items"));
        const char *next = jstr(r.json, "next");
        if (next)
            snprintf(p, sizeof p, "%s%scursor=%s", path, strchr(path, '?') ? "&" : "?", next);
        resp_free(&r);
        if (!next)
            return all;
    }
    ck_abort_msg("%s: more than %d pages", path, max_pages);
    return NULL;
}

/* A token for a user made with tu_add_user (caller frees). */
static char *login(const char *name)
{
    return tu_login(base, name);
}

/* A token signed by us: any secret, algorithm, claims. */
static char *forge(const char *secret, jwt_alg_t alg, const char *sub, const char *role, long exp)
{
    jwt_t *j = NULL;
    ck_assert_int_eq(jwt_new(&j), 0);
    jwt_add_grant(j, "sub", sub);
    jwt_add_grant(j, "role", role);
    jwt_add_grant_int(j, "exp", exp);
    ck_assert_int_eq(jwt_set_alg(j, alg, alg == JWT_ALG_NONE ? NULL : (const unsigned char *)secret,
                                 alg == JWT_ALG_NONE ? 0 : (int)strlen(secret)),
                     0);
    char *t = jwt_encode_str(j);
    jwt_free(j);
    return t;
}

/* The lines of a response body. */
static long long body_lines(const resp *r)
{
    long long lines = 0;
    for (size_t k = 0; k < r->len; k++)
        lines += r->body[k] == '\n';
    return lines;
}

/* The usual start of a case: its database and folder (case_begin), `user`
 * added with `role`, the server started with `args`.  Returns the user's
 * token (caller frees). */
static char *serve_case(const char *name, const char *user, const char *role, const char *args)
{
    case_begin(name);
    tu_add_user(user, role);
    serve(args);
    return login(user);
}

/* POST /api/jobs/fetch: 202, the job's id. */
static long long queue_job(const char *t, const char *branch, int pos, const char *date)
{
    char body[160];
    snprintf(body, sizeof body, "{\"branch\": \"%s\", \"pos\": %d, \"date\": \"%s\"}", branch, pos,
             date);
    resp r = call("POST", "/api/jobs/fetch", t, body);
    expect(&r, 202, NULL);
    long long id = jint(r.json, "job_id");
    resp_free(&r);
    return id;
}

/* Ten queued jobs: BMC 1 on 2026-02-09 (its id is returned), then MAGS 2 on
 * 2026-01-01 to 2026-01-09. */
static long long queue_ten(const char *t)
{
    long long id = queue_job(t, "BMC", 1, "2026-02-09");
    for (int d = 1; d <= 9; d++) {
        char date[16];
        snprintf(date, sizeof date, "2026-01-0%d", d);
        queue_job(t, "MAGS", 2, date);
    }
    return id;
}

/* GET /api/jobs/<id> until its status is `want` (up to 30 s): that answer
 * (caller frees). */
static resp await_job(const char *t, long long id, const char *want)
{
    char jp[64], last[32] = "";
    snprintf(jp, sizeof jp, "/api/jobs/%lld", id);
    for (int i = 0; i < 300; i++) {
        resp r = call("GET", jp, t, NULL);
        expect(&r, 200, NULL);
        const char *status = jstr(r.json, "status");
        ck_assert_ptr_nonnull(status);
        if (strcmp(status, want) == 0)
            return r;
        snprintf(last, sizeof last, "%s", status);
        resp_free(&r);
        sleep_s(0.1);
    }
    ck_abort_msg("job %lld is still %s, not %s", id, last, want);
    return (resp){0};
}

/* Workers in the server's process (the simulator their source) and otto, an
 * operator: one job queued over the API (BMC 1, 2025-03-01) is fetched and
 * ends succeeded, with its 7 files and its records in its detail.  Returns
 * the job's id; otto's token in *t (caller frees). */
static long long serve_fetched_job(const char *name, char **t)
{
    char args[1200];
    snprintf(args, sizeof args, "--server %s --concurrency 2", sim);
    *t = serve_case(name, "otto", "operator", args);
    long long id = queue_job(*t, "BMC", 1, "2025-03-01");
    resp r = await_job(*t, id, "succeeded");
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "files")), 7);
    ck_assert_int_gt(jint(r.json, "records"), 0);
    resp_free(&r);
    return id;
}

/* ------------------------------------------------------------ cases */

/* Bad command lines of `user add`, `serve` and `worker`: usage errors (2) or
 * a clear failure (1), each saying what is wrong. */
START_TEST(bad_command_lines)
{
    case_begin("api_cmdline");
#define SERVE "TILLPIPE_JWT_SECRET=" SECRET " " BIN " serve"
    fails_contains(2, "--role must be", "echo 'password-x' | " BIN " user add bob --role boss");
    fails_contains(2, NULL, "echo 'short' | " BIN " user add bob --role viewer");
    fails_contains(2, NULL, "echo 'password-x' | " BIN " user add 'bob;drop' --role viewer");
    fails_contains(2, "--listen wants HOST:PORT", SERVE " --no-workers --listen nowhere");
    fails_contains(2, "workers need a source", SERVE " --listen 127.0.0.1:0");
    static const char *const bad_counts[] = {"--threads 0", "--threads 65", "--max-streams 0",
                                             "--max-streams x", "--max-body-kb -1"};
    for (size_t i = 0; i < sizeof bad_counts / sizeof *bad_counts; i++)
        fails_contains(2, "wants a whole number in range", SERVE " --no-workers %s", bad_counts[i]);
#undef SERVE
    fails_contains(2, "no source", "env -u TILLPIPE_REPORT_SERVER " BIN " worker");
    fails_contains(2, "http:// or https://", BIN " worker --server ftp://example");
    fails_contains(1, "needs a bucket",
                   BIN " worker --server http://127.0.0.1:1 --store 's3://?endpoint=x'");
    fails_contains(1, "endpoint=HOST:PORT",
                   BIN " worker --server http://127.0.0.1:1 --store 's3://b'");
    /* no secret, no server */
    fails_contains(2, "TILLPIPE_JWT_SECRET",
                   "env -u TILLPIPE_JWT_SECRET " BIN " serve --no-workers");
}
END_TEST

/* Logins, bad and good; tokens missing, forged (wrong secret, alg none),
 * expired, with an unknown role; roles; an oversized body; the audit of it
 * all, and no secret in the server's log. */
START_TEST(logins_tokens_and_roles)
{
    case_begin("api_auth");
    tu_add_user("alice", "operator");
    tu_add_user("victor", "viewer");
    serve("--no-workers");
    qeq("$argon2id$", "SELECT left(password_hash, 10) FROM users WHERE username = 'alice'");

    char *op = login("alice"), *viewer = login("victor");
    /* bad logins */
    check("POST", "/api/auth/login", NULL, "{\"username\": \"alice\", \"password\": \"nope\"}", 401,
          "bad_credentials");
    check("POST", "/api/auth/login", NULL, "{\"username\": \"nobody\", \"password\": \"x\"}", 401,
          "bad_credentials");
    check("POST", "/api/auth/login", NULL, "{\"username\": \"alice\"", 400, "malformed_json");
    check("POST", "/api/auth/login", NULL, "[1, 2]", 400, "malformed_json");
    check("POST", "/api/auth/login", NULL, "{\"username\": 7, \"password\": []}", 400,
          "invalid_body");
    resp r = call_ct("POST", "/api/auth/login", NULL, "username=alice",
                     "application/x-www-form-urlencoded", NULL);
    expect(&r, 415, "unsupported_media_type");
    resp_free(&r);
    /* tokens */
    check("GET", "/api/jobs", NULL, NULL, 401, "unauthorized");
    check("GET", "/api/jobs", "not-a-token", NULL, 401, "unauthorized");
    long soon = (long)time(NULL) + 600;
    char *wrong =
        forge("another-secret-0123456789abcdef0123", JWT_ALG_HS256, "alice", "admin", soon);
    char *none = forge(NULL, JWT_ALG_NONE, "alice", "admin", soon);
    char *expired = forge(SECRET, JWT_ALG_HS256, "alice", "operator", (long)time(NULL) - 5);
    char *badrole = forge(SECRET, JWT_ALG_HS256, "alice", "root", soon);
    char *good = forge(SECRET, JWT_ALG_HS256, "alice", "operator", soon);
    check("GET", "/api/jobs", wrong, NULL, 401, "unauthorized");
    check("GET", "/api/jobs", none, NULL, 401, "unauthorized");
    check("GET", "/api/jobs", expired, NULL, 401, "unauthorized");
    check("GET", "/api/jobs", badrole, NULL, 401, "unauthorized");
    check("GET", "/api/jobs", good, NULL, 200, NULL);
    /* roles: a viewer reads, does not queue */
    const char *job = "{\"branch\": \"BMC\", \"pos\": 1, \"date\": \"2026-02-09\"}";
    check("GET", "/api/jobs", viewer, NULL, 200, NULL);
    check("POST", "/api/jobs/fetch", viewer, job, 403, "forbidden");
    check("POST", "/api/jobs/fetch", op, job, 202, NULL);
    /* oversized body: 413, the server still fine */
    size_t big = (1u << 20) + 10;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    huge[big] = '\0';
    check("POST", "/api/jobs/fetch", op, huge, 413, "body_too_large");
    free(huge);
    check("GET", "/livez", NULL, NULL, 200, NULL);
    /* audit: who logged in and queued, with request ids */
    qeq("auth.login,auth.login,job.enqueue",
        "SELECT string_agg(action, ',' ORDER BY id) FROM audit_log"
        " WHERE actor IN ('alice', 'victor')");
    qeq("0", "SELECT count(*) FROM audit_log WHERE actor IN ('alice', 'victor')"
             " AND length(request_id) <> 32");
    /* secrets never in responses or logs */
    char *log = wlog(server_w);
    ck_assert_ptr_null(strstr(log, SECRET));
    ck_assert_ptr_null(strstr(log, "password-alice"));
    free(log);
    free(op), free(viewer), free(wrong), free(none), free(expired), free(badrole), free(good);
    stop_server();
}
END_TEST

/* Queueing a job: created, then the live job again; an Idempotency-Key
 * repeat is answered from the first request, not run twice, and refused with
 * another body; bad bodies, unknown branches and terminals, malformed JSON. */
START_TEST(jobs_queue_and_idempotency)
{
    char *t = serve_case("api_jobs", "olga", "operator", "--no-workers");
    const char *job = "{\"branch\": \"BMC\", \"pos\": 1, \"date\": \"2026-02-09\"}";
    resp r = call("POST", "/api/jobs/fetch", t, job);
    expect(&r, 202, NULL);
    json_int_t id = jint(r.json, "job_id");
    ck_assert_str_eq(jstr(r.json, "result"), "created");
    resp_free(&r);
    r = call("POST", "/api/jobs/fetch", t, job);
    expect(&r, 202, NULL);
    ck_assert_int_eq(jint(r.json, "job_id"), id);
    ck_assert_str_eq(jstr(r.json, "result"), "existing");
    resp_free(&r);
    /* Idempotency-Key: a repeat with force is answered from the first, not run twice */
    const char *key = "Idempotency-Key: nightly-BMC-2";
    const char *forced =
        "{\"branch\": \"BMC\", \"pos\": 2, \"date\": \"2026-02-09\", \"force\": true}";
    long long first = -1;
    for (int k = 0; k < 2; k++) {
        r = call_ct("POST", "/api/jobs/fetch", t, forced, NULL, key);
        expect(&r, 202, NULL);
        if (first < 0)
            first = jint(r.json, "job_id");
        ck_assert_int_eq(jint(r.json, "job_id"), first);
        resp_free(&r);
    }
    r = call_ct("POST", "/api/jobs/fetch", t, job, NULL, key);
    expect(&r, 422, "idempotency_key_reused");
    resp_free(&r);
    qeq("1", "SELECT count(*) FROM jobs WHERE branch = 'BMC' AND pos = 2");
    qeq("f", "SELECT bool_or(rerun_requested) FROM jobs WHERE branch = 'BMC' AND pos = 2");
    /* bad bodies */
    const char *bad[] = {
        "{\"branch\": \"BMC\", \"pos\": \"1\", \"date\": \"2026-02-09\"}", /* wrong type */
        "{\"branch\": \"BMC\", \"pos\": 1, \"date\": \"2026-02-30\"}",     /* impossible date */
        "{\"branch\": \"BMC\", \"pos\": 100, \"date\": \"2026-02-09\"}",   /* terminal range */
        "{\"branch\": \"../etc\", \"pos\": 1, \"date\": \"2026-02-09\"}",  /* not a code */
        "{\"branch\": \"BMC\", \"pos\": 1, \"date\": \"2026-02-09\", \"force\": \"yes\"}",
        "{\"branch\": \"BMC\", \"pos\": 1, \"date\": \"2026-02-09\", \"extra\": 1}",
        "{\"pos\": 1, \"date\": \"2026-02-09\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        check("POST", "/api/jobs/fetch", t, bad[i], 400, "invalid_body");
    check("POST", "/api/jobs/fetch", t,
          "{\"branch\": \"NOPE\", \"pos\": 1, \"date\": \"2026-02-09\"}", 422, "unknown_branch");
    check("POST", "/api/jobs/fetch", t,
          "{\"branch\": \"BMC\", \"pos\": 7, \"date\": \"2026-02-09\"}", 422, "unknown_branch");
    check("POST", "/api/jobs/fetch", t, "{\"branch\": \"BMC\",", 400, "malformed_json");
    free(t);
    stop_server();
}
END_TEST

/* The job list: filters, totals, pages that walk every job once (newest
 * first); bad filters, SQL metacharacters included, are 400 and change
 * nothing; past 1,000 rows the total is the planner's estimate, and says so. */
START_TEST(jobs_list_filters_and_pages)
{
    char *t = serve_case("api_jobs_list", "olga", "operator", "--no-workers");
    queue_ten(t);
    resp r = call("GET", "/api/jobs?branch=MAGS&pos=2&from=2026-01-03&to=2026-01-07", t, NULL);
    expect(&r, 200, NULL);
    ck_assert_int_eq(jint(r.json, "total"), 5);
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 5);
    resp_free(&r);
    json_t *all = all_pages("/api/jobs?limit=3&status=queued", t, 10, 10);
    ck_assert_uint_eq(json_array_size(all), 10);
    for (size_t i = 1; i < 10; i++) /* newest first, never twice */
        ck_assert_int_lt(jint(json_array_get(all, i), "id"),
                         jint(json_array_get(all, i - 1), "id"));
    json_decref(all);
    const char *badq[] = {"/api/jobs?pos=0",
                          "/api/jobs?pos=1x",
                          "/api/jobs?status=bogus",
                          "/api/jobs?limit=1000",
                          "/api/jobs?limit=-1",
                          "/api/jobs?from=2026-13-01",
                          "/api/jobs?to=yesterday",
                          "/api/jobs?cursor=garbage",
                          "/api/jobs?branch=B%27%3B%20DROP%20TABLE%20jobs%3B--",
                          "/api/jobs?status=queued%27%20OR%20%271%27%3D%271"};
    for (size_t i = 0; i < sizeof badq / sizeof *badq; i++)
        check("GET", badq[i], t, NULL, 400, "invalid_parameter");
    qeq("10", "SELECT count(*) FROM jobs");
    r = call("GET", "/api/jobs?limit=1", t, NULL);
    ck_assert(json_is_true(json_object_get(r.json, "total_exact")));
    resp_free(&r);
    free(qs("INSERT INTO jobs (branch, pos, business_date, status) SELECT 'BETA', 1,"
            " date '2010-01-01' + i, 'succeeded' FROM generate_series(0, 2999) i; ANALYZE jobs"));
    r = call("GET", "/api/jobs?limit=1&status=succeeded", t, NULL);
    expect(&r, 200, NULL);
    ck_assert(json_is_false(json_object_get(r.json, "total_exact")));
    json_int_t est = jint(r.json, "total");
    ck_assert_msg(est > 1000 && est < 6000, "estimate %lld for 3000", (long long)est);
    resp_free(&r);
    free(t);
    stop_server();
}
END_TEST

/* One job: its detail, ids that are not ids, a method not allowed; retry of
 * a live job is a conflict, cancel ends it at once (and not twice), retry
 * then queues a new run; both audited. */
START_TEST(job_detail_cancel_retry)
{
    char *t = serve_case("api_jobs_one", "olga", "operator", "--no-workers");
    long long id = queue_job(t, "BMC", 1, "2026-02-09");
    char jp[64];
    snprintf(jp, sizeof jp, "/api/jobs/%lld", id);
    resp r = call("GET", jp, t, NULL);
    expect(&r, 200, NULL);
    ck_assert_str_eq(jstr(r.json, "status"), "queued");
    ck_assert(json_is_array(json_object_get(r.json, "attempts_detail")));
    ck_assert(json_is_array(json_object_get(r.json, "files")));
    resp_free(&r);
    static const char *const not_ids[] = {"/api/jobs/999999", "/api/jobs/0",
                                          "/api/jobs/1abc",   "/api/jobs/../branches",
                                          "/api/jobs/1;DROP", "/api/jobs/99999999999999999999999"};
    for (size_t i = 0; i < sizeof not_ids / sizeof *not_ids; i++)
        check("GET", not_ids[i], t, NULL, 404, "not_found");
    /* an encoded '/' in a path segment is refused before routing */
    check("GET", "/api/jobs/%2e%2e%2fbranches", t, NULL, 400, "invalid_path");
    check("DELETE", jp, t, NULL, 405, "method_not_allowed");
    /* the 405 names what the path allows; HEAD is GET without the body */
    char *hdrs =
        ok("curl -s -D - -o /dev/null -X DELETE -H 'Authorization: Bearer %s' '%s%s'", t, base, jp);
    ck_assert_msg(strstr(hdrs, "Allow: GET, HEAD"), "%s", hdrs);
    free(hdrs);
    hdrs = ok("curl -s -I -H 'Authorization: Bearer %s' '%s%s'", t, base, jp);
    ck_assert_msg(strstr(hdrs, "HTTP/1.1 200") && strstr(hdrs, "application/json"), "%s", hdrs);
    free(hdrs);
    check("GET", "/api/nothing", t, NULL, 404, "not_found");
    char rp[80], cp[80];
    snprintf(rp, sizeof rp, "%s/retry", jp);
    snprintf(cp, sizeof cp, "%s/cancel", jp);
    check("POST", rp, t, NULL, 409, "job_live");
    r = call("POST", cp, t, NULL);
    expect(&r, 200, NULL);
    ck_assert_str_eq(jstr(r.json, "status"), "cancelled");
    resp_free(&r);
    check("POST", cp, t, NULL, 409, "job_finished");
    r = call("POST", rp, t, NULL);
    expect(&r, 202, NULL);
    ck_assert_int_gt(jint(r.json, "job_id"), id);
    resp_free(&r);
    check("POST", "/api/jobs/424242/cancel", t, NULL, 404, "not_found");
    check("POST", "/api/jobs/424242/retry", t, NULL, 404, "not_found");
    qeq("job.cancel,job.retry", "SELECT string_agg(action, ',' ORDER BY id) FROM audit_log"
                                " WHERE actor = 'olga' AND action IN ('job.cancel', 'job.retry')");
    free(t);
    stop_server();
}
END_TEST

/* A quarantined build (as workers record it) shows in GET /api/plugins and
 * /metrics; only an admin clears it (audited); one not quarantined is a
 * 404, a bad sha256 no route at all. */
static void plugin_quarantine(const char *operator_token, const char *sha)
{
    free(
        qs("INSERT INTO plugin_health (sha256, name, version, failures_in_row, failures_total,"
           " last_error, quarantined_at) VALUES ('%s', 'x', '1', 3, 3, 'killed by SIGSEGV', now())",
           sha));
    resp r = call("GET", "/api/plugins", operator_token, NULL);
    expect(&r, 200, NULL);
    ck_assert(json_is_true(
        json_object_get(json_array_get(json_object_get(r.json, "items"), 0), "quarantined")));
    ck_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "health"), 0), "last_error"),
                     "killed by SIGSEGV");
    resp_free(&r);
    r = call("GET", "/metrics", NULL, NULL);
    ck_assert_ptr_nonnull(strstr(r.body, "tillpipe_plugins_quarantined 1"));
    ck_assert_ptr_nonnull(strstr(r.body, "tillpipe_plugin_failures_total 3"));
    resp_free(&r);
    char path[160];
    snprintf(path, sizeof path, "/api/plugins/quarantine/%s", sha);
    check("DELETE", path, operator_token, NULL, 403, "forbidden");
    tu_add_user("ada", "admin");
    char *admin = login("ada");
    r = call("DELETE", path, admin, NULL);
    expect(&r, 200, NULL);
    resp_free(&r);
    qeq("false 0 ada",
        "SELECT (quarantined_at IS NOT NULL)::text || ' ' || failures_in_row || ' '"
        " || cleared_by FROM plugin_health WHERE sha256 = '%s'",
        sha);
    qeq("1",
        "SELECT count(*) FROM audit_log WHERE action = 'plugin.unquarantine' AND target = '%s'",
        sha);
    check("DELETE", path, admin, NULL, 404, "not_found");
    check("DELETE", "/api/plugins/quarantine/abc", admin, NULL, 404, "not_found");
    free(admin);
}

/* Operations without workers: the branches, /readyz 503 saying why, the
 * metrics of the jobs and requests so far, the bundled plugins; the event
 * stream, its backlog from an id on (nothing lost), then what happens live,
 * and a Last-Event-ID that is not one refused. */
START_TEST(operations_and_events_without_workers)
{
    char *t = serve_case("api_ops", "olga", "operator", "--no-workers");
    queue_ten(t);
    check("GET", "/api/jobs?pos=0", t, NULL, 400, "invalid_parameter"); /* a bad list, counted */
    resp r = call("GET", "/api/branches", t, NULL);
    expect(&r, 200, NULL);
    ck_assert_int_eq(jint(r.json, "total"), 8);
    resp_free(&r);
    /* no worker runs anywhere, so not ready, and it says why */
    r = call("GET", "/readyz", NULL, NULL);
    expect(&r, 503, "not_ready");
    ck_assert_ptr_nonnull(strstr(r.body, "no live worker"));
    resp_free(&r);
    r = call("GET", "/metrics", NULL, NULL);
    expect(&r, 200, NULL);
    ck_assert_ptr_nonnull(strstr(r.body, "tillpipe_jobs{status=\"queued\"} 10"));
    ck_assert_ptr_nonnull(
        strstr(r.body, "tillpipe_http_requests_total{route=\"jobs_fetch\",status=\"202\"}"));
    ck_assert_ptr_nonnull(
        strstr(r.body, "tillpipe_http_requests_total{route=\"jobs_list\",status=\"400\"}"));
    resp_free(&r);
    /* plugins: the eight bundled ones with their hashes */
    r = call("GET", "/api/plugins", t, NULL);
    expect(&r, 200, NULL);
    ck_assert_int_eq(jint(r.json, "total"), 8);
    json_t *first = json_array_get(json_object_get(r.json, "items"), 0);
    ck_assert_int_eq((int)strlen(jstr(first, "sha256")), 64);
    char abi[16];
    snprintf(abi, sizeof abi, "%d.%d", TP_SDK_ABI_MAJOR, TP_SDK_ABI_MINOR);
    ck_assert_str_eq(jstr(first, "abi"), abi);
    ck_assert(json_is_false(json_object_get(first, "quarantined")));
    ck_assert(json_is_array(json_object_get(r.json, "health")));
    char *sha = strdup(jstr(first, "sha256"));
    resp_free(&r);
    plugin_quarantine(t, sha);
    free(sha);
    /* events: the backlog from an id on, nothing lost; then what happens live */
    long long ev1 = qi("SELECT min(id) FROM job_events");
    long long evn = qi("SELECT count(*) FROM job_events");
    char from[32];
    snprintf(from, sizeof from, "%lld", ev1);
    r = stream_for("/api/events", t, from, 1500);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.ctype, "text/event-stream");
    ck_assert_int_eq(count_substr(r.body, "\nevent: job\n"), evn - 1); /* all after ev1 */
    char want[64];
    snprintf(want, sizeof want, "id: %lld\n", ev1 + 1);
    ck_assert_ptr_nonnull(strstr(r.body, want));
    resp_free(&r);
    pthread_t th;
    later l = {t, "{\"branch\": \"BETA\", \"pos\": 1, \"date\": \"2026-04-01\"}"};
    pthread_create(&th, NULL, post_later, &l);
    r = stream_for("/api/events", t, NULL, 2500); /* from now on */
    pthread_join(th, NULL);
    ck_assert_int_eq(count_substr(r.body, "\nevent: job\n"), 1);
    ck_assert_ptr_nonnull(strstr(r.body, "\"BETA\""));
    resp_free(&r);
    r = stream_for("/api/events", t, "x1", 500);
    ck_assert_int_eq(r.status, 400);
    resp_free(&r);
    free(t);
    stop_server();
}
END_TEST

/* What only admins do: read the audit log (filtered, with request ids), and
 * create and update branches, checked against the schema and the plugins. */
START_TEST(admin_audit_and_branches)
{
    char *t = serve_case("api_admin", "olga", "operator", "--no-workers");
    char cp[80];
    snprintf(cp, sizeof cp, "/api/jobs/%lld/cancel", queue_job(t, "BMC", 1, "2026-02-09"));
    check("POST", cp, t, NULL, 200, NULL);
    check("GET", "/api/audit", t, NULL, 403, "forbidden");
    tu_add_user("ada", "admin");
    char *admin = login("ada");
    resp r = call("GET", "/api/audit?actor=olga&action=job.cancel", admin, NULL);
    expect(&r, 200, NULL);
    ck_assert_int_eq(jint(r.json, "total"), 1);
    json_t *e = json_array_get(json_object_get(r.json, "items"), 0);
    ck_assert_int_eq((int)strlen(jstr(e, "request_id")), 32);
    resp_free(&r);
    check("GET", "/api/audit?from=2026-99-01", admin, NULL, 400, "invalid_parameter");
    check("GET", "/api/audit?limit=0", admin, NULL, 400, "invalid_parameter");
    /* branches: admins create and update */
    const char *nb = "{\"code\": \"NEW-1\", \"name\": \"New one\", \"terminals\": [1, 2],"
                     " \"pos\": \"newer\", \"parsers\": {\"rd5500\": \"newpos\"},"
                     " \"active\": true, \"report_server\": null}";
    check("POST", "/api/branches", t, nb, 403, "forbidden");
    check("POST", "/api/branches", admin, nb, 201, NULL);
    check("POST", "/api/branches", admin, nb, 200, NULL);
    qeq("newer {1,2} newpos", "SELECT pos || ' ' || terminals::text || ' ' || (parsers->>'rd5500')"
                              " FROM branches WHERE code = 'NEW-1'");
    static const char *const invalid[] = {
        "{\"code\": \"NEW-2\", \"pos\": \"ancient\"}", "{\"code\": \"NEW 2\"}",
        "{\"code\": \"NEW-2\", \"colour\": \"red\"}", "{\"code\": \"NEW-2\", \"terminals\": [0]}",
        "{\"code\": \"NEW-2\", \"report_server\": \"ftp://x\"}"};
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++)
        check("POST", "/api/branches", admin, invalid[i], 400, "invalid_body");
#define WHOLE_NEW2                                                                                 \
    "{\"code\": \"NEW-2\", \"name\": \"n\", \"active\": true, \"terminals\": [1],"                 \
    " \"pos\": \"classic\", \"report_server\": null, \"parsers\": "
    check("POST", "/api/branches", admin, WHOLE_NEW2 "{\"rd5500\": \"nosuch\"}}", 422,
          "unknown_plugin");
    check("POST", "/api/branches", admin, WHOLE_NEW2 "{\"rd5000\": \"newpos\"}}", 422,
          "unknown_plugin");
    qeq("0", "SELECT count(*) FROM branches WHERE code = 'NEW-2'");
    qeq("branch.create,branch.update", "SELECT string_agg(action, ',' ORDER BY id) FROM audit_log"
                                       " WHERE target = 'NEW-1'");
    free(admin);
    free(t);
    stop_server();
}
END_TEST

/* Rate limits: a burst of logins past the budget is 429 (rate_limited). */
START_TEST(login_rate_limited)
{
    char *t = serve_case("api_rate", "olga", "operator", "--no-workers --rate-login 12");
    int limited = 0;
    for (int i = 0; i < 30 && !limited; i++) {
        resp r = call("POST", "/api/auth/login", NULL,
                      "{\"username\": \"olga\", \"password\": \"guess\"}");
        if (r.status == 429) {
            expect(&r, 429, "rate_limited");
            limited = 1;
        } else
            expect(&r, 401, "bad_credentials");
        resp_free(&r);
    }
    ck_assert_msg(limited, "30 logins in a burst were never limited");
    free(t);
    stop_server();
}
END_TEST

/* Workers in the server's process: the job's attempt in the metrics, every
 * stage timed once; /readyz ready with them, and 503 naming the database
 * when it is gone (the server itself still live). */
START_TEST(workers_metrics_and_readiness)
{
    char *t = NULL;
    serve_fetched_job("api_workers", &t);
    resp r = call("GET", "/metrics", NULL, NULL);
    expect(&r, 200, NULL);
    ck_assert_ptr_nonnull(strstr(r.body, "tillpipe_jobs{status=\"succeeded\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "tillpipe_job_attempts_total{code=\"done\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "tillpipe_fetch_errors_total{kind=\"server_error\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "tillpipe_rows_parsed_total{type=\"rd5000\"} "));
    ck_assert_ptr_nonnull(
        strstr(r.body, "tillpipe_attempt_duration_seconds_bucket{le=\"+Inf\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "tillpipe_attempt_duration_seconds_count 1\n"));
    /* every stage of that attempt timed, once */
    static const char *const stg[] = {"fetch", "store", "parse", "load"};
    for (int i = 0; i < 4; i++) {
        char line[160];
        snprintf(line, sizeof line,
                 "tillpipe_stage_duration_seconds_bucket{stage=\"%s\",le=\"+Inf\"} 1\n", stg[i]);
        ck_assert_msg(strstr(r.body, line), "no %s", line);
        snprintf(line, sizeof line, "tillpipe_stage_duration_seconds_count{stage=\"%s\"} 1\n",
                 stg[i]);
        ck_assert_msg(strstr(r.body, line), "no %s", line);
    }
    qeq("t", "SELECT bool_and((stage_seconds->>'parse')::float8 >= 0 AND "
             "(stage_seconds->>'load')::float8"
             " < extract(epoch FROM finished_at - started_at) + 0.5) FROM job_attempts");
    resp_free(&r);
    /* with workers in the process: ready */
    r = call("GET", "/readyz", NULL, NULL);
    expect(&r, 200, NULL);
    ck_assert_int_eq(jint(r.json, "workers"), 1);
    resp_free(&r);
    /* the database goes away: not ready, and says which dependency */
    PGconn *adm = PQconnectdb(base_url); /* the server's own database */
    exec_ok(adm, "ALTER DATABASE api_workers ALLOW_CONNECTIONS false");
    exec_ok(adm,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'api_workers'");
    r = call("GET", "/readyz", NULL, NULL);
    ck_assert_int_eq(r.status, 503);
    ck_assert_ptr_nonnull(strstr(r.body, "database"));
    resp_free(&r);
    check("GET", "/livez", NULL, NULL, 200, NULL);
    exec_ok(adm, "ALTER DATABASE api_workers ALLOW_CONNECTIONS true");
    PQfinish(adm);
    free(t);
    stop_server();
}
END_TEST

/* A stored file of the job, downloaded: byte for byte the served file of
 * its name. */
static void downloads_as_served(const char *t, const json_t *file)
{
    char dp[96], orig[1200];
    snprintf(dp, sizeof dp, "/api/files/%lld/download", (long long)jint(file, "id"));
    resp d = call("GET", dp, t, NULL);
    expect(&d, 200, NULL);
    ck_assert_str_eq(d.ctype, "text/csv; charset=utf-8");
    snprintf(orig, sizeof orig, "%s/%s", served, jstr(file, "name"));
    size_t olen = 0;
    char *want = tu_read(orig, &olen);
    ck_assert_ptr_nonnull(want);
    ck_assert_uint_eq(d.len, olen);
    ck_assert_int_eq(memcmp(d.body, want, olen), 0);
    free(want);
    resp_free(&d);
}

/* The members of the zip at `path`, each byte for byte the served file of
 * its name; returns how many there are. */
static int zip_as_served(const char *path)
{
    struct archive *za = archive_read_new();
    archive_read_support_format_zip(za);
    ck_assert_int_eq(archive_read_open_filename(za, path, 65536), ARCHIVE_OK);
    struct archive_entry *ze;
    int members = 0;
    while (archive_read_next_header(za, &ze) == ARCHIVE_OK) {
        char orig[1200];
        snprintf(orig, sizeof orig, "%s/%s", served, archive_entry_pathname(ze));
        size_t olen = 0;
        char *want = tu_read(orig, &olen);
        ck_assert_msg(want, "bundle member %s is not a served file", archive_entry_pathname(ze));
        char *gotm = malloc(olen + 1);
        ck_assert_int_eq(archive_read_data(za, gotm, olen + 1), (la_ssize_t)olen);
        ck_assert_int_eq(memcmp(gotm, want, olen), 0);
        free(gotm);
        free(want);
        members++;
    }
    archive_read_free(za);
    return members;
}

/* A stored object cut short (what a store that crashed mid-upload keeps):
 * neither its download nor the job's bundle sends it; both say so. */
static void corrupt_refused(const char *t, long long job)
{
    char *fid = qs("SELECT id FROM files WHERE job_id = %lld AND report_type = 'rd5000'", job);
    char *key = qs("SELECT storage_key FROM files WHERE id = %s", fid);
    free(ok("chmod u+w %s/store/%s && truncate -s -1 %s/store/%s", tmp, key, tmp, key));
    char path[96];
    snprintf(path, sizeof path, "/api/files/%s/download", fid);
    check("GET", path, t, NULL, 500, "store_corrupt");
    snprintf(path, sizeof path, "/api/jobs/%lld/bundle", job);
    check("GET", path, t, NULL, 500, "store_corrupt");
    free(fid);
    free(key);
}

/* The job's files: listed, each downloading byte for byte as served; its
 * bundle, a zip of the same bytes; ids and filters that are not. */
START_TEST(job_files_and_bundle)
{
    char *t = NULL;
    long long id = serve_fetched_job("api_files", &t);
    char fp[96];
    snprintf(fp, sizeof fp, "/api/files?job_id=%lld", id);
    resp r = call("GET", fp, t, NULL);
    expect(&r, 200, NULL);
    ck_assert_int_eq(jint(r.json, "total"), 7);
    json_t *it;
    size_t i;
    json_array_foreach(json_object_get(r.json, "items"), i, it)
    {
        downloads_as_served(t, it);
    }
    resp_free(&r);
    /* the job's bundle: a zip whose members are the stored files, byte for byte */
    snprintf(fp, sizeof fp, "/api/jobs/%lld/bundle", id);
    r = call("GET", fp, t, NULL);
    expect(&r, 200, NULL);
    ck_assert_str_eq(r.ctype, "application/zip");
    char zp[800];
    snprintf(zp, sizeof zp, "%s", save_body(&r, "bundle.zip"));
    resp_free(&r);
    ck_assert_int_eq(zip_as_served(zp), 7);
    check("GET", "/api/jobs/987654/bundle", t, NULL, 404, "not_found");
    check("GET", "/api/files/987654/download", t, NULL, 404, "not_found");
    check("GET", "/api/files/..%2f..%2fetc%2fpasswd/download", t, NULL, 400, "invalid_path");
    check("GET", "/api/files?job_id=abc", t, NULL, 400, "invalid_parameter");
    check("GET", "/api/files?date=2025-02-29", t, NULL, 400, "invalid_parameter");
    corrupt_refused(t, id);
    free(t);
    stop_server();
}
END_TEST

/* Record x comes before record y in the API's order (business date, branch,
 * terminal, source file, source line): < 0. */
static int record_order(const json_t *x, const json_t *y)
{
    int c = strcmp(jstr(x, "business_date"), jstr(y, "business_date"));
    if (!c)
        c = strcmp(jstr(x, "branch"), jstr(y, "branch"));
    if (!c)
        c = (int)(jint(x, "pos") - jint(y, "pos"));
    if (!c)
        c = strcmp(jstr(x, "source_file"), jstr(y, "source_file"));
    if (!c)
        c = jint(x, "source_line") < jint(y, "source_line") ? -1 : 1;
    return c;
}

/* The export of BMC 1 on 2025-03-01 in the legacy layout (record2025) is,
 * line for line, what `tillpipe run --format record2025` writes for the same
 * files: the number of its lines. */
static long long legacy_export_lines(const char *t)
{
    resp r = call(
        "GET",
        "/api/records/export?start=2025-03-01&end=2025-03-01&branch=BMC&pos=1&format=record2025", t,
        NULL);
    expect(&r, 200, NULL);
    char api_copy[800];
    snprintf(api_copy, sizeof api_copy, "%s", save_body(&r, "api.record2025.csv"));
    resp_free(&r);
    free(ok(BIN " run" PLUGINS
                " --reports %s --branch BMC --pos 1 --date 2025-03-01 --format record2025"
                " --out %s/run.record2025.csv --quiet",
            served, tmp));
    char *diff = ok("cd %s && sort run.record2025.csv > a && sort %s > b && cmp a b && wc -l < a",
                    tmp, api_copy);
    long long lines = strtoll(diff, NULL, 10);
    free(diff);
    return lines;
}

/* The records one plugin build made: every one for the build that parsed
 * the order lines, none for a build that made none; the export alike. */
static void records_by_plugin(const char *t, long long nrec)
{
    char *sha = qs("SELECT e.value->>'sha256' FROM job_attempts a, jsonb_each(a.plugins) e"
                   " WHERE e.key = 'rd5000' AND a.error_code IS NULL LIMIT 1");
    char path[256];
    snprintf(path, sizeof path, "/api/records?start=2025-03-01&end=2025-03-01&plugin_sha256=%s",
             sha);
    resp r = call("GET", path, t, NULL);
    expect(&r, 200, NULL);
    ck_assert_int_eq(jint(r.json, "total"), nrec);
    resp_free(&r);
    snprintf(path, sizeof path, "/api/records?start=2025-03-01&end=2025-03-01&plugin_sha256=%064d",
             0);
    r = call("GET", path, t, NULL);
    expect(&r, 200, NULL);
    ck_assert_int_eq(jint(r.json, "total"), 0);
    resp_free(&r);
    snprintf(path, sizeof path,
             "/api/records/export?start=2025-03-01&end=2025-03-01&plugin_sha256=%s", sha);
    r = call("GET", path, t, NULL);
    expect(&r, 200, NULL);
    char *wc = ok("wc -l < %s", save_body(&r, "by-plugin.csv"));
    resp_free(&r);
    ck_assert_int_eq(strtoll(wc, NULL, 10), nrec + 1);
    free(wc);
    free(sha);
}

#define RC "/api/records?start=2025-03-01&end=2025-03-01&cursor="

/* The job's records, exported (csv: a header and one line a record; jsonl;
 * gzip; the legacy record2025 layout, as `tillpipe run` writes it for the
 * same files) and a page at a time (every record once, in order); bad
 * export parameters, cursors and filters. */
START_TEST(records_export_and_pages)
{
    char *t = NULL;
    serve_fetched_job("api_records", &t);
    long long nrec = qi("SELECT count(*) FROM records");
    ck_assert_int_gt(nrec, 0);
    resp r = call("GET", "/api/records/export?start=2025-03-01&end=2025-03-01&branch=BMC", t, NULL);
    expect(&r, 200, NULL);
    ck_assert_str_eq(r.ctype, "text/csv; charset=utf-8");
    ck_assert_int_eq(body_lines(&r), nrec + 1);
    ck_assert(strncmp(r.body, "branch,pos,business_date,", 25) == 0);
    resp_free(&r);
    r = call("GET", "/api/records/export?start=2025-03-01&end=2025-03-01&format=jsonl&pos=1", t,
             NULL);
    expect(&r, 200, NULL);
    json_t *row1 = json_loadb(r.body, strcspn(r.body, "\n"), 0, NULL);
    ck_assert_ptr_nonnull(row1);
    ck_assert_str_eq(jstr(row1, "branch"), "BMC");
    json_decref(row1);
    resp_free(&r);
    r = call("GET", "/api/records/export?start=2025-03-01&end=2025-03-01&compress=gzip", t, NULL);
    expect(&r, 200, NULL);
    ck_assert_str_eq(r.ctype, "application/gzip");
    char *wc = ok("gzip -dc %s | wc -l", save_body(&r, "export.csv.gz"));
    resp_free(&r);
    ck_assert_int_eq(strtoll(wc, NULL, 10), nrec + 1);
    free(wc);
    ck_assert_int_eq(legacy_export_lines(t), nrec + 1);
    static const char *const bad[] = {
        "/api/records/export?start=2025-03-02&end=2025-03-01",
        "/api/records/export?start=2025-03-01&end=2025-03-01&format=xml",
        "/api/records/export?start=2025-03-01&end=2025-03-01&compress=zip",
        "/api/records/export?start=2025-03-01&end=2025-03-01&branch=a%20b",
        "/api/records?start=2025-03-01&end=2025-03-01&cursor=WzEsMiwzXQ",
        /* tampered cursors: each field checked (a pos "x", a line "x", a bad
         * branch, date, pos 100, an empty file name, a line -1) */
        RC "WyIyMDI1LTAxLTAxIiwiQk1DIiwieCIsImYiLDFd",
        RC "WyIyMDI1LTAxLTAxIiwiQk1DIiwxLCJmIiwieCJd", RC "WyIyMDI1LTAxLTAxIiwiYiBtIiwxLCJmIiwxXQ",
        RC "WyIyMDI1LTEzLTAxIiwiQk1DIiwxLCJmIiwxXQ", RC "WyIyMDI1LTAxLTAxIiwiQk1DIiwxMDAsImYiLDFd",
        RC "WyIyMDI1LTAxLTAxIiwiQk1DIiwxLCIiLDFd", RC "WyIyMDI1LTAxLTAxIiwiQk1DIiwxLCJmIiwtMV0",
        "/api/records?start=2025-03-01", "/api/records?start=2025-03-01&end=2025-03-01&pos=abc",
        "/api/records?start=2025-03-01&end=2025-03-01&plugin_sha256=ABC",
        "/api/records/export?start=2025-03-01&end=2025-03-01&plugin_sha256=1234"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        check("GET", bad[i], t, NULL, 400, "invalid_parameter");
    /* records, a page at a time: every record once, in order */
    json_t *all = all_pages("/api/records?start=2025-03-01&end=2025-03-01&limit=200", t, nrec, 50);
    ck_assert_int_eq((long long)json_array_size(all), nrec);
    for (size_t k = 1; k < json_array_size(all); k++) /* strictly after the one before */
        ck_assert_msg(record_order(json_array_get(all, k - 1), json_array_get(all, k)) < 0,
                      "record %zu is not after record %zu", k, k - 1);
    json_decref(all);
    records_by_plugin(t, nrec);
    free(t);
    stop_server();
}
END_TEST

/* Missing data: cells without a succeeded job, their states in detail,
 * queueing them from the map or a range, dry runs; bad inputs. */
START_TEST(missing_data)
{
    case_begin("api_missing");
    only_branches("'BMC'"); /* 2 terminals */
    tu_add_user("mia", "operator");
    serve("--no-workers");
    char *t = login("mia");
    /* day 1: pos 1 succeeded, pos 2 queued; day 2: pos 1 failed; day 3 nothing */
    free(qs("INSERT INTO jobs (branch, pos, business_date, status) VALUES"
            " ('BMC', 1, '2026-03-01', 'succeeded'), ('BMC', 2, '2026-03-01', 'queued'),"
            " ('BMC', 1, '2026-03-02', 'failed')"));
    resp r = call("GET", "/api/missing?start=2026-03-01&end=2026-03-03", t, NULL);
    expect(&r, 200, NULL);
    char *got = json_dumps(r.json, JSON_SORT_KEYS | JSON_COMPACT);
    ck_assert_str_eq(got, "{\"BMC\":{\"1\":[\"2026-03-02\",\"2026-03-03\"],"
                          "\"2\":[\"2026-03-01\",\"2026-03-02\",\"2026-03-03\"]}}");
    free(got);
    resp_free(&r);
    r = call("GET", "/api/missing?start=2026-03-01&end=2026-03-02&detail=1", t, NULL);
    expect(&r, 200, NULL);
    got = json_dumps(r.json, JSON_SORT_KEYS | JSON_COMPACT);
    ck_assert_str_eq(got, "{\"BMC\":{\"1\":{\"2026-03-02\":\"failed\"},"
                          "\"2\":{\"2026-03-01\":\"queued\",\"2026-03-02\":\"missing\"}}}");
    free(got);
    resp_free(&r);
    /* bad ranges */
    check("GET", "/api/missing?start=2026-03-03&end=2026-03-01", t, NULL, 400, "invalid_parameter");
    check("GET", "/api/missing?start=2024-01-01&end=2026-01-01", t, NULL, 400, "invalid_parameter");
    check("GET", "/api/missing?start=2026-02-30&end=2026-03-01", t, NULL, 400, "invalid_parameter");
    check("GET", "/api/missing?start=2026-03-01", t, NULL, 400, "invalid_parameter");
    check("GET", "/api/missing?start=2026-03-01&end=2026-03-02&branch=x%27--", t, NULL, 400,
          "invalid_parameter");
    /* dry run of the range: failed and missing cells, not the queued one */
    r = call("POST", "/api/missing/run", t,
             "{\"start\": \"2026-03-01\", \"end\": \"2026-03-03\", \"dry_run\": true}");
    expect(&r, 200, NULL);
    ck_assert_int_eq(jint(r.json, "count"), 4);
    resp_free(&r);
    qeq("3", "SELECT count(*) FROM jobs");
    /* the map form, then the range */
    r = call("POST", "/api/missing/run", t, "{\"BMC\": {\"2\": [\"2026-03-02\"]}}");
    expect(&r, 202, NULL);
    ck_assert_int_eq(jint(r.json, "queued"), 1);
    resp_free(&r);
    r = call("POST", "/api/missing/run", t, "{\"start\": \"2026-03-01\", \"end\": \"2026-03-03\"}");
    expect(&r, 202, NULL);
    ck_assert_int_eq(jint(r.json, "queued"), 3);
    resp_free(&r);
    qeq("0", "SELECT count(*) FROM (SELECT branch, pos, business_date FROM jobs"
             " WHERE status IN ('queued', 'running') GROUP BY 1, 2, 3 HAVING count(*) > 1) x");
    r = call("GET", "/api/missing?start=2026-03-01&end=2026-03-03&detail=1", t, NULL);
    got = json_dumps(r.json, JSON_SORT_KEYS | JSON_COMPACT);
    ck_assert_ptr_null(strstr(got, "missing"));
    ck_assert_ptr_null(strstr(got, "failed"));
    free(got);
    resp_free(&r);
    /* bad maps: unknown branch or terminal refused as a whole */
    check("POST", "/api/missing/run", t, "{\"NOPE\": {\"1\": [\"2026-03-04\"]}}", 422,
          "unknown_branch");
    check("POST", "/api/missing/run", t, "{\"BMC\": {\"9\": [\"2026-03-04\"]}, \"BETA\": {}}", 422,
          "unknown_branch");
    check("POST", "/api/missing/run", t, "{\"BMC\": {\"1\": [\"2026-13-04\"]}}", 400,
          "invalid_body");
    check("POST", "/api/missing/run", t, "{\"BMC\": {\"x\": [\"2026-03-04\"]}}", 400,
          "invalid_body");
    check("POST", "/api/missing/run", t, "{\"BMC\": [\"2026-03-04\"]}", 400, "invalid_body");
    check("POST", "/api/missing/run", t, "{\"start\": \"2026-03-01\", \"end\": 5}", 400,
          "invalid_parameter");
    check("POST", "/api/missing/run", t, "{\"dry_run\": \"yes\"}", 400, "invalid_body");
    qeq("0", "SELECT count(*) FROM jobs WHERE business_date = '2026-03-04'");
    free(t);
    stop_server();
}
END_TEST

/* The list cache (api/cache.h): answers are kept, and a change anywhere --
 * this server, another process, a statement typed into psql, even while
 * the server's listening connection is being killed -- shows in the next
 * lists without a stale page. */
static unsigned long long cache_hits(void)
{
    resp r = call("GET", "/metrics", NULL, NULL);
    expect(&r, 200, NULL);
    const char *m = strstr(r.body, "tillpipe_http_list_cache_total{result=\"hit\"} ");
    ck_assert_ptr_nonnull(m);
    unsigned long long n =
        strtoull(m + strlen("tillpipe_http_list_cache_total{result=\"hit\"} "), NULL, 10);
    resp_free(&r);
    return n;
}

/* The first job of /api/jobs?limit=1 (its id; its status into st). */
static long long first_job(const char *t, char st[16])
{
    resp r = call("GET", "/api/jobs?limit=1", t, NULL);
    expect(&r, 200, NULL);
    json_t *it = json_array_get(json_object_get(r.json, "items"), 0);
    long long id = it ? jint(it, "id") : 0;
    snprintf(st, 16, "%s", it ? jstr(it, "status") : "");
    resp_free(&r);
    return id;
}

/* Wait (up to 5 s) for the first job to be `id` in status `want`. */
static void await_first(const char *t, long long id, const char *want)
{
    char st[16];
    long long got = 0;
    for (int i = 0; i < 100; i++) {
        if ((got = first_job(t, st)) == id && strcmp(st, want) == 0)
            return;
        sleep_s(0.05);
    }
    ck_abort_msg("first job %lld %s, want %lld %s", got, st, id, want);
}

/* Five records of `job` (BMC 1, 2026-02-09), written straight into the
 * table as another process would. */
static void insert_records(long long job)
{
    free(qs("CREATE TABLE IF NOT EXISTS records_2026 PARTITION OF records"
            " FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')"));
    free(qs(
        "INSERT INTO records (branch, pos, business_date, job_id, source_file, source_line,"
        " or_number, transno, item_code, product_name, department_code, department_name,"
        " pos_department_code, time_text, type_code, discount_code, discount_name, vat_flag,"
        " payment_code, payment_name, phone) SELECT 'BMC', 1, '2026-02-09', %lld, 'f.csv', i,"
        " '', '', 'X', '', '', '', '', '', '', '', '', '', '', '', '' FROM generate_series(1, 5) i",
        job));
}

/* Poll the list `path` (up to 5 s) until its total is `want`. */
static void await_total(const char *path, const char *t, long long want)
{
    long long total = -1;
    for (int i = 0; i < 100 && total != want; i++, sleep_s(0.05)) {
        resp r = call("GET", path, t, NULL);
        expect(&r, 200, NULL);
        total = jint(r.json, "total");
        resp_free(&r);
    }
    ck_assert_int_eq(total, want);
}

START_TEST(list_cache)
{
    char *t = serve_case("api_cache", "olga", "operator", "--no-workers");
    long long id1 = queue_job(t, "BMC", 1, "2026-02-09");
    /* kept: the same question again is answered from the cache -- once the
     * notification of the POST above has come back from PostgreSQL (it may
     * arrive after the first answer, which it then rightly retires) */
    char st[16];
    int hit = 0;
    for (int i = 0; i < 50 && !hit; i++) {
        ck_assert_int_eq(first_job(t, st), id1);
        unsigned long long hits = cache_hits();
        ck_assert_int_eq(first_job(t, st), id1);
        ck_assert_str_eq(st, "queued");
        if (!(hit = cache_hits() == hits + 1))
            sleep_s(0.1);
    }
    ck_assert_msg(hit, "a repeated list is never answered from the cache");
    /* this server's own change: the very next list has it */
    long long id2 = queue_job(t, "BMC", 1, "2026-02-10");
    ck_assert_int_eq(first_job(t, st), id2);
    /* another process's changes: an update, a delete */
    free(qs("UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE id = %lld", id2));
    await_first(t, id2, "cancelled");
    free(qs("DELETE FROM jobs WHERE id = %lld", id2));
    await_first(t, id1, "queued");
    /* the listening connection killed: a change made meanwhile still shows */
    ck_assert_int_ge(qi("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE query = 'LISTEN tillpipe_lists'"),
                     1);
    free(qs("UPDATE jobs SET status = 'failed', last_error = 'x' WHERE id = %lld", id1));
    await_first(t, id1, "failed");
    /* records: a change to them empties the record pages it touched */
    insert_records(id1);
    const char *rp = "/api/records?start=2026-02-09&end=2026-02-09";
    await_total(rp, t, 5);
    free(qs("DELETE FROM records WHERE source_line > 2"));
    await_total(rp, t, 2);
    free(t);
    stop_server();
}
END_TEST

/* --no-list-cache: nothing kept, every answer computed; --max-streams: a
 * stream beyond it is refused while the others last, and each has a
 * connection of its own, so the (one) pooled connection stays free; a
 * stream's end frees its place. */
START_TEST(no_list_cache_and_stream_limit)
{
    char *t = serve_case("api_streams", "olga", "operator",
                         "--no-workers --no-list-cache --max-streams 1 --threads 1");
    long long id1 = queue_job(t, "BMC", 1, "2026-02-09");
    insert_records(id1);
    char st[16];
    ck_assert_int_eq(first_job(t, st), id1);
    ck_assert_int_eq(first_job(t, st), id1);
    resp r = call("GET", "/metrics", NULL, NULL);
    ck_assert_ptr_null(strstr(r.body, "tillpipe_http_list_cache_total"));
    resp_free(&r);
    stream_arg sa = {t, 1500, {0}};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, stream_bg, &sa), 0);
    sleep_s(0.5);
    check("GET", "/api/records/export?start=2026-02-09&end=2026-02-09", t, NULL, 503,
          "too_many_streams");
    ck_assert_int_eq(first_job(t, st), id1); /* lists go on meanwhile */
    pthread_join(th, NULL);
    ck_assert_int_eq(sa.r.status, 200);
    resp_free(&sa.r);
    /* the stream's end frees its place (once the server notices the client left) */
    r = call("GET", "/api/records/export?start=2026-02-09&end=2026-02-09", t, NULL);
    for (int i = 0; i < 200 && r.status == 503; i++) {
        resp_free(&r);
        sleep_s(0.1);
        r = call("GET", "/api/records/export?start=2026-02-09&end=2026-02-09", t, NULL);
    }
    expect(&r, 200, NULL);
    ck_assert_int_eq(body_lines(&r), qi("SELECT count(*) FROM records") + 1); /* header, rows */
    resp_free(&r);
    free(t);
    stop_server();
}
END_TEST

/* A multipart upload of `file` (and `type` when given). */
static resp upload(const char *path, const char *token, const char *file, const char *type)
{
    resp r = {0};
    CURL *h = curl_easy_init();
    char full[2048], auth[4200];
    snprintf(full, sizeof full, "%s%s", base, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    struct curl_slist *hd = curl_slist_append(NULL, auth);
    curl_mime *m = curl_mime_init(h);
    if (file) {
        curl_mimepart *part = curl_mime_addpart(m);
        curl_mime_name(part, "file");
        curl_mime_filedata(part, file);
    }
    if (type) {
        curl_mimepart *part = curl_mime_addpart(m);
        curl_mime_name(part, "type");
        curl_mime_data(part, type, CURL_ZERO_TERMINATED);
    }
    curl_easy_setopt(h, CURLOPT_URL, full);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_MIMEPOST, m);
    CURLcode cc = perform(h, hd, &r);
    curl_mime_free(m);
    ck_assert_msg(cc == CURLE_OK || cc == CURLE_SEND_ERROR, "upload: %s", curl_easy_strerror(cc));
    return r;
}

/* Upload, expect, free. */
#define check_upload(...) check_upload_at(__LINE__, __VA_ARGS__)
static void check_upload_at(int line, const char *path, const char *token, const char *file,
                            const char *type, long status, const char *code)
{
    char what[2100];
    snprintf(what, sizeof what, " upload to %s:", path);
    resp r = upload(path, token, file, type);
    expect_at(line, what, &r, status, code);
    resp_free(&r);
}

/* test-parse: the real plugin path on an uploaded file, nothing stored. */
START_TEST(test_parse_uploads)
{
    case_begin("api_tparse");
    tu_add_user("tess", "operator");
    tu_add_user("vic", "viewer");
    serve("--no-workers --max-upload-mb 1");
    char *t = login("tess"), *v = login("vic");
    char f[700];
    snprintf(f, sizeof f, "%s/generated/reports/a_BMC_1_rd5000_2026-02-09_20-00_.csv",
             TP_TEST_SAMPLES_DIR);
    long long files_before = qi("SELECT count(*) FROM files");
    resp r = upload("/api/branches/BMC/test-parse", t, f, NULL);
    expect(&r, 200, NULL);
    ck_assert_str_eq(jstr(json_object_get(r.json, "plugin"), "name"), "rd5000");
    ck_assert_str_eq(jstr(r.json, "type"), "rd5000");
    ck_assert_int_gt(jint(r.json, "rows"), 20);
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "preview")), 20);
    json_t *first =
        json_object_get(json_array_get(json_object_get(r.json, "preview"), 0), "fields");
    ck_assert_ptr_nonnull(json_object_get(first, "ITEM_CODE") ? first : NULL);
    resp_free(&r);
    /* the newer POS's product master goes through its override plugin */
    snprintf(f, sizeof f, "%s/generated/reports/a_BETA_1_rd5500_2026-02-09_20-00_.csv",
             TP_TEST_SAMPLES_DIR);
    r = upload("/api/branches/BETA/test-parse", t, f, NULL);
    expect(&r, 200, NULL);
    ck_assert_str_eq(jstr(json_object_get(r.json, "plugin"), "name"), "newpos");
    resp_free(&r);
    /* a file with another name: the type from the form */
    char *odd = tu_write(tmp, "upload.csv", "DEP_CODE,DEP_DESC\n01,FOOD\n02,\"BAR\n");
    r = upload("/api/branches/BMC/test-parse", t, odd, "rd1800");
    expect(&r, 200, NULL);
    ck_assert_int_eq(jint(r.json, "rows"), 1);
    ck_assert(json_array_size(json_object_get(r.json, "problems")) > 0 ||
              json_is_string(json_object_get(r.json, "error")));
    resp_free(&r);
    /* bad uploads */
    /* no type, no report name; an unknown type; no file */
    check_upload("/api/branches/BMC/test-parse", t, odd, NULL, 400, "invalid_body");
    check_upload("/api/branches/BMC/test-parse", t, odd, "rd9999", 400, "invalid_body");
    check_upload("/api/branches/BMC/test-parse", t, NULL, "rd1800", 400, "invalid_body");
    check_upload("/api/branches/NOPE/test-parse", t, odd, "rd1800", 404, "not_found");
    check_upload("/api/branches/..%2f..%2fetc/test-parse", t, odd, "rd1800", 400, "invalid_path");
    check_upload("/api/branches/BMC/test-parse", v, odd, "rd1800", 403, "forbidden");
    check("POST", "/api/branches/BMC/test-parse", t, "{\"file\": \"x\"}", 400, "invalid_body");
    char big[800];
    snprintf(big, sizeof big, "%s/big.csv", tmp);
    free(ok("head -c 2000000 /dev/zero | tr '\\0' 'x' > %s", big));
    check_upload("/api/branches/BMC/test-parse", t, big, "rd1800", 413, "body_too_large");
    /* nothing stored, no upload left behind: the server removes a spooled upload
     * when the request is over, which can come just after the answer (wait for
     * it, bounded); and nothing is left once the server has stopped */
    ck_assert_int_eq(qi("SELECT count(*) FROM files"), files_before);
    char td[800];
    snprintf(td, sizeof td, "%s/tmpdir", tmp);
    int left = tu_count_entries(td);
    for (int i = 0; i < 200 && left != 0; i++) {
        sleep_s(0.05);
        left = tu_count_entries(td);
    }
    ck_assert_msg(left == 0, "%d files left in the server's TMPDIR %s", left, td);
    free(odd);
    free(t);
    free(v);
    stop_server();
    ck_assert_int_eq(tu_count_entries(td), 0);
}
END_TEST

/* A multipart part without a name: libmicrohttpd hands the form callback a
 * NULL key, which crashed the server (found by tests/fuzz/fuzz_multipart);
 * now it is an upload without a file, and the server goes on. */
START_TEST(test_parse_unnamed_part)
{
    char *t = serve_case("api_tparse_unnamed", "tess", "operator", "--no-workers");
    CURL *h = curl_easy_init();
    char full[2048], auth[4200];
    snprintf(full, sizeof full, "%s/api/branches/BMC/test-parse", base);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", t);
    struct curl_slist *hd = curl_slist_append(NULL, auth);
    curl_mime *m = curl_mime_init(h);
    curl_mime_data(curl_mime_addpart(m), "DEP_CODE,DEP_DESC\n01,FOOD\n", CURL_ZERO_TERMINATED);
    curl_easy_setopt(h, CURLOPT_URL, full);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_MIMEPOST, m);
    resp r = {0};
    CURLcode cc = perform(h, hd, &r);
    curl_mime_free(m);
    ck_assert_msg(cc == CURLE_OK, "upload: %s", curl_easy_strerror(cc));
    expect(&r, 400, "invalid_body");
    resp_free(&r);
    r = call("GET", "/livez", NULL, NULL);
    expect(&r, 200, NULL);
    resp_free(&r);
    free(t);
    stop_server();
}
END_TEST

/* Every served route is in docs/openapi.yaml, and every path there is served. */
START_TEST(routes_match_openapi)
{
    char *out = NULL;
    ck_assert_int_eq(sh(&out, BIN " serve --list-routes"), 0);
    char spec_path[512];
    snprintf(spec_path, sizeof spec_path, "%s/docs/openapi.yaml", TP_TEST_SOURCE_DIR);
    char *spec = tu_read(spec_path, NULL);
    ck_assert_ptr_nonnull(spec);
    /* served -> spec: "METHOD PATH" lines */
    int nserved = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char method[16], path[256], want_path[300], want_method[32];
        ck_assert_int_eq(sscanf(line, "%15s %255s", method, path), 2);
        snprintf(want_path, sizeof want_path, "\n  %s:\n", path);
        char *at = strstr(spec, want_path);
        ck_assert_msg(at, "served %s %s is not in docs/openapi.yaml", method, path);
        for (char *m = method; *m; m++)
            *m = (char)(*m - 'A' + 'a');
        snprintf(want_method, sizeof want_method, "\n    %s:", method);
        char *next = strstr(at + strlen(want_path), "\n  /");
        char *mm = strstr(at, want_method);
        ck_assert_msg(mm && (!next || mm < next), "%s %s: method not in the spec", method, path);
        nserved++;
    }
    /* spec -> served: count the operations in the spec */
    int nspec = 0;
    const char *ops[] = {
        "\n    get:", "\n    post:", "\n    put:", "\n    patch:", "\n    delete:"};
    for (size_t k = 0; k < 5; k++)
        for (char *p = strstr(spec, ops[k]); p; p = strstr(p + 1, ops[k]))
            nspec++;
    ck_assert_int_eq(nspec, nserved);
    free(out);
    free(spec);
}
END_TEST

static void start_sim(void)
{
    sim = tu_sim_generated("test_api", "--branches 1 --days 1", served, sizeof served);
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static Suite *suite(void)
{
    Suite *s = suite_create("api");
    pc_add(s, "api_cmdline", bad_command_lines);
    pc_add(s, "api_auth", logins_tokens_and_roles);
    pc_add(s, "api_jobs", jobs_queue_and_idempotency);
    pc_add(s, "api_jobs_list", jobs_list_filters_and_pages);
    pc_add(s, "api_jobs_one", job_detail_cancel_retry);
    pc_add(s, "api_ops", operations_and_events_without_workers);
    pc_add(s, "api_admin", admin_audit_and_branches);
    pc_add(s, "api_rate", login_rate_limited);
    pc_add(s, "api_workers", workers_metrics_and_readiness);
    pc_add(s, "api_files", job_files_and_bundle);
    pc_add(s, "api_records", records_export_and_pages);
    pc_add(s, "api_missing", missing_data);
    pc_add(s, "api_cache", list_cache);
    pc_add(s, "api_streams", no_list_cache_and_stream_limit);
    pc_add(s, "api_tparse", test_parse_uploads);
    pc_add(s, "api_tparse_unnamed", test_parse_unnamed_part);
    pc_add(s, "api_spec", routes_match_openapi);
    return s;
}

int main(void)
{
    return pc_main("test_api", suite(), start_sim, tu_sim_stop);
}
