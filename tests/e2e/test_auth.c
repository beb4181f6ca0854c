/* test_auth.c -- authentication and users over real HTTP against a real
 * `tillpipe serve` and a real PostgreSQL (issue 13, section 2 and /metrics):
 *
 *  - tokens taken back: a removed user's, a disabled user's, one from before
 *    a new password or role (and the role of a user changed in the database
 *    counts at once), one given back with POST /api/auth/logout -- each 401;
 *    with the in-memory state's listener cut, the database is asked (fail
 *    closed);
 *  - event streams end when their token expires or is revoked;
 *  - an unknown user's login runs a password verification like a real one's;
 *  - failed logins throttled per account: guesses from ten addresses all
 *    slowed, the real user from a clean address (or another user from an
 *    attacker's address) still logs in; failures audited, no password;
 *  - logins saturating the password hash: other requests keep working,
 *    the excess is 503 login_busy with Retry-After;
 *  - /metrics: who may read it (addresses, the metrics token, API tokens),
 *    and its snapshot (current after a write, served when the database is
 *    gone).
 *
 * Changes made by `tillpipe user` in another process reach the server by
 * NOTIFY: those cases poll until the server answers as it must (a bounded
 * wait, not a timing assertion).
 */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "httpc.h"
#include "pgcase.h"

#define SECRET "test-secret-0123456789abcdef0123456789"
#define METRICS_TOKEN "metrics-token-0123456789abcdef"

static char base[128]; /* the API of this case's server */
static int server_w = -1;

typedef tu_resp resp;

/* ------------------------------------------------------------ HTTP */

static resp call_from(const char *source, const char *method, const char *path, const char *token,
                      const char *body)
{
    char full[1024];
    snprintf(full, sizeof full, "%s%s", base, path);
    return tu_request_from(source, full, method, token, body, NULL, NULL);
}

static resp call(const char *method, const char *path, const char *token, const char *body)
{
    return call_from(NULL, method, path, token, body);
}

/* The response has `status` (and, for a problem, `code` unless NULL). */
#define expect(...) expect_at(__LINE__, __VA_ARGS__)
static void expect_at(int line, resp *r, long status, const char *code)
{
    ck_assert_msg(r->status == status, "line %d: status %ld, want %ld: %s", line, r->status, status,
                  r->body ? r->body : "");
    if (code) {
        const char *got = tu_jstr(r->json, "code");
        ck_assert_msg(got && strcmp(got, code) == 0, "line %d: code %s, want %s", line,
                      got ? got : "(none)", code);
    }
}

#define check(...) check_at(__LINE__, __VA_ARGS__)
static void check_at(int line, const char *method, const char *path, const char *token, long status,
                     const char *code)
{
    resp r = call(method, path, token, NULL);
    expect_at(line, &r, status, code);
    tu_resp_free(&r);
}

/* Poll `method path` with `token` until it answers `status` (up to 15 s:
 * the server hears of changes made elsewhere by NOTIFY). */
#define eventually(...) eventually_at(__LINE__, __VA_ARGS__)
static void eventually_at(int line, const char *method, const char *path, const char *token,
                          long status)
{
    long last = 0;
    for (int i = 0; i < 300; i++) {
        resp r = call(method, path, token, NULL);
        last = r.status;
        tu_resp_free(&r);
        if (last == status)
            return;
        sleep_s(0.05);
    }
    ck_abort_msg("line %d: %s %s still answers %ld, not %ld", line, method, path, last, status);
}

/* ------------------------------------------------------------ fixture */

/* The server with `args` (and `env`, NAME=VALUE or NULL), its URL in base. */
static void serve_env(const char *env, const char *args)
{
    server_w = tu_serve(
        base, sizeof base, env ? env : "TILLPIPE_JWT_SECRET=" SECRET,
        "env TILLPIPE_JWT_SECRET=" SECRET " " BIN " serve" PLUGINS " --no-workers %s", args);
}

static void serve(const char *args)
{
    serve_env(NULL, args);
}

static void stop_server(void)
{
    tu_serve_stop(server_w);
}

/* A login from `source` (NULL: any) with `password`: the answer. */
static resp login_as(const char *source, const char *name, const char *password)
{
    char body[256];
    snprintf(body, sizeof body, "{\"username\": \"%s\", \"password\": \"%s\"}", name, password);
    return call_from(source, "POST", "/api/auth/login", NULL, body);
}

/* A token for a user made with tu_add_user (caller frees). */
static char *login(const char *name)
{
    return tu_login(base, name);
}

/* The value of metric `line_start` ("name{labels} ") in GET /metrics. */
static long long metric(const char *line_start)
{
    resp r = call("GET", "/metrics", NULL, NULL);
    expect(&r, 200, NULL);
    char want[200];
    snprintf(want, sizeof want, "\n%s ", line_start);
    const char *at = strstr(r.body, want);
    ck_assert_msg(at, "no %s in /metrics", line_start);
    long long v = strtoll(at + strlen(want), NULL, 10);
    tu_resp_free(&r);
    return v;
}

/* ------------------------------------------------------------ revocation */

/* A removed admin's token creates no branch; an operator whose role is
 * changed in the database acts with the new role at once; `user add` of an
 * existing name with a new role and password refuses the old token. */
START_TEST(removed_user_and_changed_role)
{
    case_begin("auth_removed");
    tu_add_user("ada", "admin");
    tu_add_user("olga", "operator");
    tu_add_user("otto", "operator");
    serve("");
    char *ada = login("ada"), *olga = login("olga"), *otto = login("otto");
    check("GET", "/api/branches", ada, 200, NULL);
    ok_contains("removed", BIN " user remove ada");
    eventually("GET", "/api/branches", ada, 401);
    const char *nb = "{\"code\": \"GONE\", \"name\": \"Gone\", \"terminals\": [1]}";
    resp r = call("POST", "/api/branches", ada, nb);
    expect(&r, 401, "unauthorized");
    ck_assert_ptr_nonnull(strstr(tu_jstr(r.json, "detail"), "no longer exists"));
    tu_resp_free(&r);
    qeq("0", "SELECT count(*) FROM branches WHERE code = 'GONE'");
    /* the current role counts, not the token's: a viewer cannot cancel */
    check("POST", "/api/jobs/99/cancel", otto, 404, "not_found");
    free(qs("UPDATE users SET role = 'viewer' WHERE username = 'otto'"));
    eventually("POST", "/api/jobs/99/cancel", otto, 403);
    check("GET", "/api/jobs", otto, 200, NULL);
    /* `user add` of olga as a viewer with a new password */
    ok_contains("saved", "echo 'another-password' | " BIN " user add olga --role viewer");
    eventually("GET", "/api/jobs", olga, 401);
    r = login_as(NULL, "olga", "password-olga");
    expect(&r, 401, "bad_credentials");
    tu_resp_free(&r);
    r = login_as(NULL, "olga", "another-password");
    expect(&r, 200, NULL);
    ck_assert_str_eq(tu_jstr(r.json, "role"), "viewer");
    char *olga2 = strdup(tu_jstr(r.json, "token"));
    tu_resp_free(&r);
    check("POST", "/api/jobs/99/cancel", olga2, 403, "forbidden");
    check("GET", "/api/jobs", olga2, 200, NULL);
    fails_contains(1, "no user named nobody", BIN " user remove nobody");
    free(ada), free(olga), free(otto), free(olga2);
    stop_server();
}
END_TEST

/* Disabled: tokens refused, no login; enabled again: a login works, the
 * old token stays refused.  A new password (`user passwd`) likewise. */
START_TEST(disabled_user_and_new_password)
{
    case_begin("auth_disabled");
    tu_add_user("bob", "operator");
    serve("");
    char *t = login("bob");
    ok_contains("bob disabled", BIN " user disable bob");
    eventually("GET", "/api/jobs", t, 401);
    resp r = login_as(NULL, "bob", "password-bob");
    expect(&r, 401, "bad_credentials");
    tu_resp_free(&r);
    ok_contains("bob enabled", BIN " user enable bob");
    char *t2 = NULL;
    for (int i = 0; i < 300 && !t2; i++) { /* the login reads the database: at once */
        r = login_as(NULL, "bob", "password-bob");
        if (r.status == 200)
            t2 = strdup(tu_jstr(r.json, "token"));
        tu_resp_free(&r);
    }
    ck_assert_ptr_nonnull(t2);
    check("GET", "/api/jobs", t2, 200, NULL);
    check("GET", "/api/jobs", t, 401, "unauthorized");
    ok_contains("new password", "echo 'brand-new-password' | " BIN " user passwd bob");
    eventually("GET", "/api/jobs", t2, 401);
    r = login_as(NULL, "bob", "brand-new-password");
    expect(&r, 200, NULL);
    tu_resp_free(&r);
    qeq("user.add,user.disable,user.enable,user.passwd",
        "SELECT string_agg(action, ',' ORDER BY id) FROM audit_log WHERE target = 'bob'"
        " AND action LIKE 'user.%%'");
    fails_contains(2, "--role goes with", BIN " user disable bob --role admin");
    fails_contains(2, "NAME must be", BIN " user passwd");
    char *list = ok(BIN " user list");
    json_t *users = json_loads(list, 0, NULL);
    ck_assert_str_eq(tu_jstr(json_array_get(users, 0), "username"), "bob");
    ck_assert(json_is_false(json_object_get(json_array_get(users, 0), "disabled")));
    json_decref(users);
    ck_assert_ptr_null(strstr(list, "argon2"));
    free(list);
    free(t), free(t2);
    stop_server();
}
END_TEST

/* Logout: that token 401 at once, the user's other token still good; the
 * revocation kept until the token's expiry, audited. */
START_TEST(logout_revokes_that_token)
{
    case_begin("auth_logout");
    tu_add_user("lea", "viewer");
    serve("");
    char *t1 = login("lea"), *t2 = login("lea");
    resp r = call("POST", "/api/auth/logout", t1, NULL);
    expect(&r, 204, NULL);
    tu_resp_free(&r);
    r = call("GET", "/api/jobs", t1, NULL);
    expect(&r, 401, "unauthorized");
    ck_assert_ptr_nonnull(strstr(tu_jstr(r.json, "detail"), "logged out"));
    tu_resp_free(&r);
    check("POST", "/api/auth/logout", t1, 401, "unauthorized");
    check("GET", "/api/jobs", t2, 200, NULL);
    check("POST", "/api/auth/logout", NULL, 401, "unauthorized");
    qeq("1 lea true", "SELECT count(*) || ' ' || min(username) || ' ' ||"
                      " bool_and(expires_at > now() + interval '50 minutes') FROM revoked_tokens");
    qeq("1", "SELECT count(*) FROM audit_log WHERE action = 'auth.logout' AND actor = 'lea'");
    free(t1), free(t2);
    stop_server();
}
END_TEST

/* With the listener of users' changes cut (and unable to come back), the
 * server asks the database: a user disabled meanwhile is refused. */
START_TEST(listener_down_fails_closed)
{
    case_begin("auth_nolisten");
    tu_add_user("dora", "viewer");
    serve("");
    char *t = login("dora");
    check("GET", "/api/jobs", t, 200, NULL);
    ck_assert_int_eq(metric("tillpipe_auth_cache_listening"), 1);
    PGconn *adm = PQconnectdb(base_url), *c = conn();
    exec_ok(adm, "ALTER DATABASE auth_nolisten ALLOW_CONNECTIONS false");
    exec_ok(adm, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname ="
                 " 'auth_nolisten' AND query LIKE 'SELECT jti FROM revoked_tokens%'");
    for (int i = 0; i < 300 && metric("tillpipe_auth_cache_listening") != 0; i++)
        sleep_s(0.05);
    ck_assert_int_eq(metric("tillpipe_auth_cache_listening"), 0);
    exec_ok(c, "UPDATE users SET disabled = true WHERE username = 'dora'");
    resp r = call("GET", "/api/jobs", t, NULL);
    expect(&r, 401, "unauthorized");
    ck_assert_ptr_nonnull(strstr(tu_jstr(r.json, "detail"), "disabled"));
    tu_resp_free(&r);
    exec_ok(c, "UPDATE users SET disabled = false WHERE username = 'dora'");
    check("GET", "/api/jobs", t, 200, NULL);
    exec_ok(adm, "ALTER DATABASE auth_nolisten ALLOW_CONNECTIONS true");
    for (int i = 0; i < 600 && metric("tillpipe_auth_cache_listening") != 1; i++)
        sleep_s(0.05);
    ck_assert_int_eq(metric("tillpipe_auth_cache_listening"), 1);
    check("GET", "/api/jobs", t, 200, NULL);
    PQfinish(c);
    PQfinish(adm);
    free(t);
    stop_server();
}
END_TEST

/* ------------------------------------------------------------ streams */

/* An event stream read in another thread; `opened` once its first bytes
 * came. */
typedef struct stream {
    const char *token;
    resp r;
    CURLcode cc;
    atomic_int opened;
} stream;

static size_t on_stream(char *p, size_t one, size_t n, void *ud)
{
    stream *s = ud;
    char *m = realloc(s->r.body, s->r.len + one * n + 1);
    if (!m)
        return 0;
    memcpy(m + s->r.len, p, one * n);
    s->r.body = m;
    s->r.len += one * n;
    m[s->r.len] = '\0';
    atomic_store(&s->opened, 1);
    return one * n;
}

static void *stream_main(void *arg)
{
    stream *s = arg;
    CURL *h = curl_easy_init();
    char full[256], auth[4200];
    snprintf(full, sizeof full, "%s/api/events", base);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", s->token);
    struct curl_slist *hd = curl_slist_append(NULL, auth);
    curl_easy_setopt(h, CURLOPT_URL, full);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L); /* far past the token's end */
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    s->cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &s->r.status);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    return NULL;
}

/* The stream ended by the server (not by the client's time-out) with a
 * last `end` event saying `reason`. */
static void stream_ended(stream *s, const char *reason)
{
    ck_assert_msg(s->cc == CURLE_OK, "the stream did not end: %s", curl_easy_strerror(s->cc));
    ck_assert_int_eq(s->r.status, 200);
    char want[96];
    snprintf(want, sizeof want, "event: end\ndata: {\"reason\":\"%s\"}\n\n", reason);
    ck_assert_msg(strstr(s->r.body, want), "no %s in %s", want, s->r.body);
    free(s->r.body);
}

/* A stream opened with a short-lived token ends when it expires; one whose
 * token is logged out ends then. */
START_TEST(streams_end_with_their_token)
{
    case_begin("auth_streams");
    tu_add_user("sam", "viewer");
    serve("--token-ttl 4");
    stream s = {.token = login("sam")};
    pthread_t th;
    pthread_create(&th, NULL, stream_main, &s);
    pthread_join(th, NULL);
    stream_ended(&s, "token_expired");
    free((char *)s.token);

    stop_server();
    serve("");
    stream s2 = {.token = login("sam")};
    pthread_create(&th, NULL, stream_main, &s2);
    for (int i = 0; i < 600 && !atomic_load(&s2.opened); i++)
        sleep_s(0.05);
    ck_assert(atomic_load(&s2.opened));
    resp r = call("POST", "/api/auth/logout", s2.token, NULL);
    expect(&r, 204, NULL);
    tu_resp_free(&r);
    pthread_join(th, NULL);
    stream_ended(&s2, "token_revoked");
    free((char *)s2.token);
    stop_server();
}
END_TEST

/* ------------------------------------------------------------ logins */

/* An unknown user's login runs a password verification, as a wrong
 * password does (the same time: no user enumeration); both audited as
 * failures, with no password. */
START_TEST(unknown_user_verifies_too)
{
    case_begin("auth_enum");
    tu_add_user("vera", "viewer");
    serve("");
    long long v0 = metric("tillpipe_login_verifications_total");
    for (int i = 0; i < 3; i++) {
        resp r = login_as(NULL, "nobody", "secret-guess");
        expect(&r, 401, "bad_credentials");
        tu_resp_free(&r);
    }
    ck_assert_int_eq(metric("tillpipe_login_verifications_total"), v0 + 3);
    resp r = login_as(NULL, "vera", "secret-guess");
    expect(&r, 401, "bad_credentials");
    tu_resp_free(&r);
    ck_assert_int_eq(metric("tillpipe_login_verifications_total"), v0 + 4);
    qeq("3 1", "SELECT count(*) FILTER (WHERE target = 'nobody') || ' ' ||"
               " count(*) FILTER (WHERE target = 'vera') FROM audit_log"
               " WHERE action = 'auth.login_failed'");
    qeq("0", "SELECT count(*) FROM audit_log WHERE details::text LIKE '%%secret-guess%%'");
    qeq("127.0.0.1", "SELECT DISTINCT details->>'client' FROM audit_log"
                     " WHERE action = 'auth.login_failed'");
    char *log = wlog(server_w);
    ck_assert_ptr_null(strstr(log, "secret-guess"));
    free(log);
    stop_server();
}
END_TEST

/* Guesses at olga's password from ten addresses: every address is slowed
 * (429 with Retry-After) once the account took its budget; olga from a
 * clean address logs in, and so does ulla from an attacker's address. */
START_TEST(throttle_per_account)
{
    case_begin("auth_throttle");
    tu_add_user("olga", "operator");
    tu_add_user("ulla", "operator");
    serve("--rate-login 5");
    int denied[10] = {0}, refused = 0;
    for (int round = 0; round < 4; round++)
        for (int a = 0; a < 10; a++) {
            char src[32];
            snprintf(src, sizeof src, "127.0.0.%d", 11 + a);
            resp r = login_as(src, "olga", "a-guess-at-it");
            if (r.status == 429) {
                expect(&r, 429, "rate_limited");
                ck_assert_int_gt(r.retry_after, 0);
                denied[a]++;
            } else {
                expect(&r, 401, "bad_credentials");
                refused++;
            }
            tu_resp_free(&r);
        }
    for (int a = 0; a < 10; a++)
        ck_assert_msg(denied[a] > 0, "address 127.0.0.%d was never slowed", 11 + a);
    ck_assert_int_le(refused, 15);
    resp r = login_as("127.0.0.30", "olga", "password-olga");
    expect(&r, 200, NULL);
    tu_resp_free(&r);
    r = login_as("127.0.0.11", "ulla", "password-ulla");
    expect(&r, 200, NULL);
    tu_resp_free(&r);
    r = login_as("127.0.0.11", "olga", "password-olga"); /* an attacker's address */
    expect(&r, 429, "rate_limited");
    tu_resp_free(&r);
    qeq("10", "SELECT count(DISTINCT client) FROM login_failures WHERE username = 'olga'");
    qeq("t",
        "SELECT count(*) = %d FROM audit_log WHERE action = 'auth.login_failed'"
        " AND target = 'olga'",
        refused);
    ck_assert_int_eq(metric("tillpipe_login_refused_total{reason=\"throttled\"}"),
                     40 - refused + 1);
    stop_server();
}
END_TEST

/* Logins hammering the password hash (one at a time, four waiting): an
 * authenticated GET keeps working meanwhile; the excess logins are 503
 * login_busy with Retry-After, none 5xx otherwise. */
typedef struct loginloop {
    atomic_int *stop;
    int ok, busy, other;
} loginloop;

static void *login_loop(void *arg)
{
    loginloop *l = arg;
    while (!atomic_load(l->stop)) {
        resp r = login_as(NULL, "lou", "password-lou");
        if (r.status == 200)
            l->ok++;
        else if (r.status == 503 && r.retry_after > 0 && r.json &&
                 strcmp(tu_jstr(r.json, "code"), "login_busy") == 0)
            l->busy++;
        else
            l->other++;
        tu_resp_free(&r);
    }
    return NULL;
}

START_TEST(logins_do_not_starve_requests)
{
    case_begin("auth_lever");
    tu_add_user("lou", "viewer");
    serve("--login-hashes 1 --threads 2");
    char *t = login("lou");
    enum { N = 10 };
    atomic_int stop = 0;
    loginloop l[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        l[i] = (loginloop){.stop = &stop};
        pthread_create(&th[i], NULL, login_loop, &l[i]);
    }
    int busy = 0;
    for (int k = 0; k < 600 && !busy; k++) { /* until the hash is saturated */
        sleep_s(0.05);
        busy = (int)metric("tillpipe_login_refused_total{reason=\"busy\"}");
    }
    ck_assert_msg(busy > 0, "logins were never refused as busy");
    for (int k = 0; k < 20; k++)
        check("GET", "/api/jobs", t, 200, NULL);
    atomic_store(&stop, 1);
    int ok = 0, seen_busy = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ok += l[i].ok;
        seen_busy += l[i].busy;
        ck_assert_int_eq(l[i].other, 0);
    }
    ck_assert_int_gt(ok, 0);
    ck_assert_int_gt(seen_busy, 0);
    free(t);
    stop_server();
}
END_TEST

/* ------------------------------------------------------------ metrics */

/* Default: loopback only (any address of 127/8) or an API token.  With
 * --metrics-allow and a metrics token: other addresses need a token. */
START_TEST(metrics_access)
{
    case_begin("auth_metrics");
    tu_add_user("mo", "viewer");
    serve("");
    resp r = call_from("127.0.0.9", "GET", "/metrics", NULL, NULL);
    expect(&r, 200, NULL);
    tu_resp_free(&r);
    stop_server();
    serve_env("TILLPIPE_METRICS_TOKEN=" METRICS_TOKEN, "--metrics-allow 127.0.0.5/32,10.0.0.0/8");
    char *t = login("mo");
    r = call("GET", "/metrics", NULL, NULL);
    expect(&r, 401, "unauthorized");
    tu_resp_free(&r);
    r = call_from("127.0.0.5", "GET", "/metrics", NULL, NULL);
    expect(&r, 200, NULL);
    ck_assert_ptr_nonnull(strstr(r.body, "tillpipe_jobs{status=\"queued\"} 0"));
    tu_resp_free(&r);
    check("GET", "/metrics", METRICS_TOKEN, 200, NULL);
    check("GET", "/metrics", t, 200, NULL);
    check("GET", "/metrics", "metrics-token-0123456789abcdeX", 401, "unauthorized");
    check("GET", "/api/jobs", METRICS_TOKEN, 401, "unauthorized"); /* metrics only */
    check("POST", "/api/auth/logout", t, 204, NULL);
    check("GET", "/metrics", t, 401, "unauthorized");
    stop_server();
    fails_contains(2, "--metrics-allow",
                   "TILLPIPE_JWT_SECRET=" SECRET " " BIN
                   " serve --no-workers --metrics-allow 127.0.0.1/33");
    fails_contains(2, "--metrics-allow",
                   "TILLPIPE_JWT_SECRET=" SECRET " " BIN " serve --no-workers --metrics-allow x");
    free(t);
}
END_TEST

/* The snapshot: what was committed before a scrape shows in it; scrapes
 * with nothing written between them run no aggregates again; with the
 * database gone the last figures are served, saying so. */
START_TEST(metrics_snapshot)
{
    case_begin("auth_snapshot");
    serve("");
    ck_assert_int_eq(metric("tillpipe_jobs{status=\"queued\"}"), 0);
    ok_contains("queued", BIN " enqueue --branch BMC --pos 1 --date 2026-02-09");
    ck_assert_int_eq(metric("tillpipe_jobs{status=\"queued\"}"), 1);
    long long r0 = metric("tillpipe_metrics_refreshes_total");
    for (int i = 0; i < 20; i++)
        metric("tillpipe_jobs{status=\"queued\"}");
    ck_assert_int_le(metric("tillpipe_metrics_refreshes_total"), r0 + 3); /* 22 scrapes */
    ck_assert_int_eq(metric("tillpipe_database_up"), 1);
    PGconn *adm = PQconnectdb(base_url);
    exec_ok(adm, "ALTER DATABASE auth_snapshot ALLOW_CONNECTIONS false");
    exec_ok(adm, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                 " WHERE datname = 'auth_snapshot'");
    ck_assert_int_eq(metric("tillpipe_database_up"), 0);
    ck_assert_int_eq(metric("tillpipe_jobs{status=\"queued\"}"), 1);
    exec_ok(adm, "ALTER DATABASE auth_snapshot ALLOW_CONNECTIONS true");
    PQfinish(adm);
    stop_server();
}
END_TEST

static void start(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static Suite *suite(void)
{
    Suite *s = suite_create("auth");
    pc_add(s, "auth_removed", removed_user_and_changed_role);
    pc_add(s, "auth_disabled", disabled_user_and_new_password);
    pc_add(s, "auth_logout", logout_revokes_that_token);
    pc_add(s, "auth_nolisten", listener_down_fails_closed);
    pc_add(s, "auth_streams", streams_end_with_their_token);
    pc_add(s, "auth_enum", unknown_user_verifies_too);
    pc_add(s, "auth_throttle", throttle_per_account);
    pc_add(s, "auth_lever", logins_do_not_starve_requests);
    pc_add(s, "auth_metrics", metrics_access);
    pc_add(s, "auth_snapshot", metrics_snapshot);
    return s;
}

int main(void)
{
    return pc_main("test_auth", suite(), start, NULL);
}
