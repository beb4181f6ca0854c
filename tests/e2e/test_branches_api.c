/* test_branches_api.c -- one branch over real HTTP against a real `tillpipe
 * serve`, a real PostgreSQL and the report-server simulator: GET one, PUT
 * (the whole branch), PATCH (an RFC 7396 merge patch), POST (create or
 * replace, the whole branch), each audited; bodies that would reset fields
 * they do not name, duplicate terminals and overlong names or codes refused
 * with 400 naming the field and nothing changed; report servers only from
 * the allow-list, when a branch is saved (the API, `branch import`) and when
 * a worker connects (a name that resolves to loopback is refused); and job
 * errors that say what failed from their first word.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "httpc.h"
#include "pgcase.h"

#define SECRET "test-secret-0123456789abcdef0123456789"
/* A branch's fields as one line; its whole row (with updated_at: any write
 * changes it) */
#define FIELDS_OF(code)                                                                            \
    "SELECT code || '|' || name || '|' || active || '|' || terminals::text || '|' || pos"          \
    " || '|' || parsers::text || '|' || coalesce(report_server, '') FROM branches"                 \
    " WHERE code = '" code "'"
#define ROW_OF(code) "SELECT b::text FROM branches b WHERE code = '" code "'"

static char base[128];  /* the API of this case's server */
static const char *sim; /* the simulator: http://127.0.0.1:PORT, serving <root>/served */
static int sim_port;
static char served[700];

/* ------------------------------------------------------------ fixture */

static int server_w = -1;

static tu_resp call_ct(const char *method, const char *path, const char *token, const char *body,
                       const char *ctype)
{
    char full[1024];
    snprintf(full, sizeof full, "%s%s", base, path);
    return tu_request(full, method, token, body, ctype, NULL);
}

/* A request with a JSON body answers `status` (and, for a problem, `code`
 * and a detail containing `detail`); the answer (caller frees). */
#define expect(...) expect_at(__LINE__, __VA_ARGS__)
static tu_resp expect_at(int line, const char *method, const char *path, const char *token,
                         const char *body, long status, const char *code, const char *detail)
{
    tu_resp r = call_ct(method, path, token, body, NULL);
    ck_assert_msg(r.status == status, "line %d: %s %s: %ld, want %ld: %s", line, method, path,
                  r.status, status, r.body ? r.body : "");
    const char *got = tu_jstr(r.json, "code"), *d = tu_jstr(r.json, "detail");
    if (code)
        ck_assert_msg(got && strcmp(got, code) == 0, "line %d: code %s: %s", line, got, r.body);
    if (detail)
        ck_assert_msg(d && strstr(d, detail), "line %d: detail: %s", line, r.body);
    return r;
}
#define check(...) tu_resp_free((tu_resp[]){expect_at(__LINE__, __VA_ARGS__)})

/* The server (`args`: more options) with an admin and a viewer; the admin's
 * token (caller frees), the viewer's into *viewer. */
static char *serve_case(const char *name, const char *args, char **viewer)
{
    case_begin(name);
    server_w = tu_serve(base, sizeof base, "TILLPIPE_JWT_SECRET=" SECRET,
                        BIN " serve" PLUGINS " %s", args);
    tu_add_user("ada", "admin");
    tu_add_user("vic", "viewer");
    *viewer = tu_login(base, "vic");
    return tu_login(base, "ada");
}

/* ------------------------------------------------------------ cases */

/* GET one branch; PUT creates (201) and replaces (200) the whole branch;
 * a partial PUT, another code or a viewer changes nothing. */
START_TEST(get_and_put_one_branch)
{
    char *viewer, *t = serve_case("br_put", "--no-workers", &viewer);
    tu_resp r = expect("GET", "/api/branches/BETA", viewer, NULL, 200, NULL, NULL);
    ck_assert_str_eq(tu_jstr(r.json, "pos"), "newer");
    ck_assert_ptr_nonnull(json_object_get(r.json, "report_server")); /* null, but there */
    tu_resp_free(&r);
    check("GET", "/api/branches/NOPE", viewer, NULL, 404, "not_found", "no branch NOPE");
    const char *whole = "{\"name\": \"New\", \"active\": true, \"terminals\": [3, 1], \"pos\":"
                        " \"classic\", \"parsers\": {}, \"report_server\": null}";
    check("PUT", "/api/branches/NEW-1", viewer, whole, 403, "forbidden", NULL);
    check("PUT", "/api/branches/NEW-1", t, whole, 201, NULL, NULL);
    qeq("NEW-1|New|true|{3,1}|classic|{}|", FIELDS_OF("NEW-1"));
    check("PUT", "/api/branches/NEW-1", t,
          "{\"code\": \"NEW-1\", \"name\": \"Renamed\", \"active\": false, \"terminals\": [1],"
          " \"pos\": \"newer\", \"parsers\": {\"rd5500\": \"newpos\"}, \"report_server\": null}",
          200, NULL, NULL);
    qeq("Renamed false {1} newpos",
        "SELECT name || ' ' || active || ' ' || terminals::text || ' ' ||"
        " (parsers->>'rd5500') FROM branches WHERE code = 'NEW-1'");
    /* the body: it would have dropped terminal 2 and the newer POS's parser */
    char *before = qs(ROW_OF("BETA"));
    check("PUT", "/api/branches/BETA", t, "{\"code\": \"BETA\", \"name\": \"BETA\"}", 400,
          "invalid_body", "active: required");
    check("PUT", "/api/branches/BETA", t, whole, 200, NULL, NULL);
    char *after = qs(ROW_OF("BETA"));
    ck_assert_str_ne(before, after); /* (a whole body does replace) */
    check("PUT", "/api/branches/NEW-1", t,
          "{\"code\": \"OTHER\", \"name\": \"x\", \"active\": true, \"terminals\": [1],"
          " \"pos\": \"classic\", \"parsers\": {}, \"report_server\": null}",
          400, "invalid_body", "code: must be the path's, NEW-1");
    check("PUT", "/api/branches/NEW-1", t, "[1]", 400, "malformed_json", NULL);
    qeq("Renamed", "SELECT name FROM branches WHERE code = 'NEW-1'");
    qeq("0", "SELECT count(*) FROM branches WHERE code = 'OTHER'");
    qeq("branch.create PUT,branch.update PUT,branch.update PUT",
        "SELECT string_agg(action || ' ' || (details::jsonb->>'via'), ',' ORDER BY id)"
        " FROM audit_log WHERE target IN ('NEW-1', 'BETA')");
    qeq("New|Renamed", "SELECT (details::jsonb#>>'{changed,name,from}') || '|' ||"
                       " (details::jsonb#>>'{changed,name,to}') FROM audit_log"
                       " WHERE target = 'NEW-1' AND action = 'branch.update'");
    free(before);
    free(after);
    free(viewer);
    free(t);
    tu_serve_stop(server_w);
}
END_TEST

/* PATCH merges (RFC 7396): the fields it names change, the others stay;
 * null removes; a refused patch changes nothing. */
START_TEST(patch_merges)
{
    char *viewer, *t = serve_case("br_patch", "--no-workers", &viewer);
    tu_resp r = expect("PATCH", "/api/branches/BETA", t, "{\"name\": \"Beta\"}", 200, NULL, NULL);
    ck_assert_str_eq(tu_jstr(r.json, "name"), "Beta");
    tu_resp_free(&r);
    qeq("BETA|Beta|true|{1,2}|newer|{\"rd5500\": \"newpos\"}|", FIELDS_OF("BETA"));
    r = call_ct("PATCH", "/api/branches/BETA", t,
                "{\"parsers\": {\"rd5000\": {\"plugin\": \"rd5000\", \"options\": {\"k\": 1}}},"
                " \"terminals\": [1, 2, 3]}",
                "application/merge-patch+json");
    ck_assert_msg(r.status == 200, "%s", r.body);
    tu_resp_free(&r);
    check("PATCH", "/api/branches/BETA", t,
          "{\"parsers\": {\"rd5500\": null, \"rd5000\": {\"options\": {\"j\": \"2\"}}}}", 200, NULL,
          NULL);
    qeq("{1,2,3}|{\"rd5000\": {\"plugin\": \"rd5000\", \"options\": {\"j\": \"2\", \"k\": \"1\"}}}",
        "SELECT terminals::text || '|' || parsers::text FROM branches WHERE code = 'BETA'");
    char *before = qs(ROW_OF("BETA"));
    check("PATCH", "/api/branches/BETA", t, "{\"name\": null}", 400, "invalid_body",
          "name: cannot be removed");
    check("PATCH", "/api/branches/BETA", t, "{\"terminals\": [2, 2]}", 400, "invalid_body",
          "terminals: terminal 2 is listed twice");
    check("PATCH", "/api/branches/BETA", t, "{\"code\": \"BETB\"}", 400, "invalid_body",
          "code: must be the path's");
    check("PATCH", "/api/branches/BETA", t, "{\"parsers\": {\"rd5500\": \"nosuch\"}}", 422,
          "unknown_plugin", NULL);
    check("PATCH", "/api/branches/BETA", t, "{\"colour\": \"red\"}", 400, "invalid_body",
          "colour: unknown key");
    check("PATCH", "/api/branches/BETA", viewer, "{\"name\": \"x\"}", 403, "forbidden", NULL);
    check("PATCH", "/api/branches/NOPE", t, "{\"name\": \"x\"}", 404, "not_found", NULL);
    r = call_ct("PATCH", "/api/branches/BETA", t, "{\"name\": ", "application/merge-patch+json");
    ck_assert_int_eq(r.status, 400);
    tu_resp_free(&r);
    char *after = qs(ROW_OF("BETA"));
    ck_assert_str_eq(before, after);
    check("PATCH", "/api/branches/BETA", t, "{\"parsers\": null, \"active\": false}", 200, NULL,
          NULL);
    qeq("false {}", "SELECT active || ' ' || parsers::text FROM branches WHERE code = 'BETA'");
    qeq("4 PATCH", "SELECT count(*) || ' ' || min(details::jsonb->>'via') FROM audit_log"
                   " WHERE target = 'BETA' AND action = 'branch.update'");
    qeq("[\"name\"]", "SELECT (SELECT json_agg(k)::text FROM jsonb_object_keys(details::jsonb->"
                      "'changed') k) FROM audit_log WHERE target = 'BETA' ORDER BY id LIMIT 1");
    free(before);
    free(after);
    free(viewer);
    free(t);
    tu_serve_stop(server_w);
}
END_TEST

/* POST creates or replaces with the whole branch; a partial body, a
 * duplicate terminal, an overlong name or code is 400 naming the field;
 * nothing changes. */
START_TEST(post_and_limits)
{
    char *viewer, *t = serve_case("br_post", "--no-workers", &viewer);
    const char *nb = "{\"code\": \"NEW-1\", \"name\": \"New one\", \"active\": true,"
                     " \"terminals\": [1, 2], \"pos\": \"newer\", \"parsers\": {\"rd5500\":"
                     " \"newpos\"}, \"report_server\": null}";
    check("POST", "/api/branches", t, nb, 201, NULL, NULL);
    check("POST", "/api/branches", t, nb, 200, NULL, NULL);
    char *beta = qs(ROW_OF("BETA")), *new1 = qs(ROW_OF("NEW-1"));
    check("POST", "/api/branches", t, "{\"code\": \"BETA\", \"name\": \"BETA\"}", 400,
          "invalid_body", "active: required");
    check("POST", "/api/branches", t, "{\"name\": \"x\"}", 400, "invalid_body", "code: required");
    char zeros[700];
    memset(zeros, '0', sizeof zeros - 1);
    zeros[sizeof zeros - 1] = '\0';
    static const struct {
        const char *field, *head;
        int n; /* zeros after head */
        const char *detail;
    } bad[] = {{"name", "", 101, "name: must be 1-100 characters"},
               {"name", "", 0, "name: must be 1-100 characters"},
               {"code", "", 33, "code: must be 1-32"},
               {"report_server", "http://x/", 600, "report_server: must be an http"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char value[800];
        snprintf(value, sizeof value, "%s%.*s", bad[i].head, bad[i].n, zeros);
        json_t *o = json_loads(nb, 0, NULL);
        json_object_set_new(o, bad[i].field, json_string(value));
        char *body = json_dumps(o, 0);
        check("POST", "/api/branches", t, body, 400, "invalid_body", bad[i].detail);
        free(body);
        json_decref(o);
    }
    check("POST", "/api/branches", t,
          "{\"code\": \"NEW-1\", \"name\": \"n\", \"active\": true, \"terminals\": [1, 2, 1],"
          " \"pos\": \"classic\", \"parsers\": {}, \"report_server\": null}",
          400, "invalid_body", "terminals: terminal 1 is listed twice");
    check("PUT", "/api/branches/ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", t, nb, 404, "not_found", NULL);
    check("POST", "/api/branches", t,
          "{\"code\": \"NEW-2\", \"name\": \"n\", \"active\": true, \"terminals\": [1], \"pos\":"
          " \"classic\", \"parsers\": {\"rd5500\": \"nosuch\"}, \"report_server\": null}",
          422, "unknown_plugin", NULL);
    char *beta2 = qs(ROW_OF("BETA")), *new2 = qs(ROW_OF("NEW-1"));
    ck_assert_str_eq(beta, beta2);
    ck_assert_str_eq(new1, new2);
    qeq("9", "SELECT count(*) FROM branches");
    qeq("branch.create POST,branch.update POST",
        "SELECT string_agg(action || ' ' || (details::jsonb->>'via'), ',' ORDER BY id)"
        " FROM audit_log WHERE target LIKE 'NEW%%' OR target = 'BETA'");
    free(beta);
    free(beta2);
    free(new1);
    free(new2);
    free(viewer);
    free(t);
    tu_serve_stop(server_w);
}
END_TEST

/* A branch's report server is saved only when the allow-list has it: the
 * default server (--server) and --report-server-allow; 400 otherwise, and
 * nothing changes. */
START_TEST(report_server_allow_list_on_save)
{
    char args[600], body[600];
    snprintf(args, sizeof args, "--no-workers --server %s --report-server-allow reports.example",
             sim);
    char *viewer, *t = serve_case("br_ssrf", args, &viewer);
    char *before = qs(ROW_OF("BMC"));
    char local[64];
    snprintf(local, sizeof local, "http://localhost:%d/", sim_port);
    const char *refused[] = {"http://169.254.169.254/latest/meta-data",
                             "http://127.0.0.1:1/",
                             local,
                             "http://reports.example:8080/",
                             "http://10.0.0.5/",
                             "http://reports.example@169.254.169.254/"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        snprintf(body, sizeof body, "{\"report_server\": \"%s\"}", refused[i]);
        check("PATCH", "/api/branches/BMC", t, body, 400, "report_server_not_allowed",
              "is not on the allow-list");
    }
    check("PUT", "/api/branches/NEW-1", t,
          "{\"name\": \"n\", \"active\": true, \"terminals\": [1], \"pos\": \"classic\","
          " \"parsers\": {}, \"report_server\": \"http://169.254.169.254/\"}",
          400, "report_server_not_allowed", "report_server: report server 169.254.169.254:80");
    char *after = qs(ROW_OF("BMC"));
    ck_assert_str_eq(before, after);
    qeq("0", "SELECT count(*) FROM branches WHERE code = 'NEW-1'");
    snprintf(body, sizeof body, "{\"report_server\": \"%s/chain\"}", sim);
    check("PATCH", "/api/branches/BMC", t, body, 200, NULL, NULL);
    check("PATCH", "/api/branches/MAGS", t, "{\"report_server\": \"https://Reports.example/x\"}",
          200, NULL, NULL);
    qeq("2", "SELECT count(*) FROM branches WHERE report_server IS NOT NULL");
    check("PATCH", "/api/branches/BMC", t, "{\"report_server\": null}", 200, NULL, NULL);
    qeq("1", "SELECT count(*) FROM branches WHERE report_server IS NOT NULL");
    free(before);
    free(after);
    free(viewer);
    free(t);
    tu_serve_stop(server_w);
}
END_TEST

/* A worker connects only where the allow-list says, whatever the database
 * holds: a listed name that resolves to loopback is refused with an error
 * that says so from its first word (no request reaches the server); the
 * default server works; an empty listing says so too. */
START_TEST(report_server_allow_list_on_fetch)
{
    case_begin("br_fetch");
    tu_sim_clear();
    free(qs("UPDATE branches SET report_server = 'http://localhost:%d' WHERE code = 'BMC'",
            sim_port));
    ok_contains("queued", BIN " enqueue --branch BMC --pos 1 --date 2025-03-01");
    int w = spawn(NULL, WORKER " --exit-when-idle --server %s --report-server-allow localhost:%d",
                  sim, sim_port);
    expect_exit(w, 60, 0);
    char *err = qs("SELECT a.error_code || '|' || j.last_error FROM jobs j JOIN job_attempts a"
                   " ON a.job_id = j.id WHERE j.business_date = '2025-03-01'");
    /* not retried: the configuration must change first */
    qeq("failed|1|false",
        "SELECT j.status || '|' || j.attempts || '|' || a.retryable FROM jobs j"
        " JOIN job_attempts a ON a.job_id = j.id WHERE j.business_date = '2025-03-01'");
    const char *want = "config_error|list BMC/1/2025-03-01: refused: localhost resolves to ";
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0 && strstr(err, "a loopback address"), "%s",
                  err);
    free(err);
    ck_assert_int_eq(tu_sim_stat("lists"), 0);
    /* the default server, as it was given: allowed, the job runs */
    free(qs("UPDATE branches SET report_server = NULL WHERE code = 'BMC'"));
    ok_contains("queued", BIN " enqueue --force --branch BMC --pos 1 --date 2025-03-01");
    ok_contains("queued", BIN " enqueue --branch BMC --pos 1 --date 2025-03-09");
    free(qs("UPDATE jobs SET max_attempts = 1 WHERE status = 'queued'"));
    w = spawn(NULL, WORKER " --exit-when-idle --server %s", sim);
    expect_exit(w, 60, 0);
    qeq("succeeded", "SELECT status FROM jobs WHERE business_date = '2025-03-01' ORDER BY id DESC"
                     " LIMIT 1");
    qeq("no_files|no report files yet for BMC/1/2025-03-09",
        "SELECT a.error_code || '|' || j.last_error FROM jobs j JOIN job_attempts a"
        " ON a.job_id = j.id WHERE j.business_date = '2025-03-09'");
    qeq("0", "SELECT count(*) FROM jobs WHERE last_error ~ '^[^A-Za-z]'");
}
END_TEST

/* `branch import` holds a configuration's report servers to the same
 * allow-list (a refused one imports nothing); bad allow-list options are
 * usage errors of every command that takes them. */
START_TEST(import_and_options)
{
    case_begin("br_import");
    char cfg[800];
    snprintf(cfg, sizeof cfg, "%s/branches.json", tmp);
    free(tu_write(tmp, "branches.json",
                  "{\"extends\": \"builtin\", \"branches\": [{\"code\": \"NEW-1\"},"
                  " {\"code\": \"NEW-2\", \"report_server\": \"http://169.254.169.254/\"}]}"));
    fails_contains(1, "branch NEW-2: report_server: report server 169.254.169.254:80 is not on",
                   "env -u TILLPIPE_REPORT_SERVER -u TILLPIPE_REPORT_SERVER_ALLOW " BIN
                   " branch import %s",
                   cfg);
    qeq("0", "SELECT count(*) FROM branches WHERE code LIKE 'NEW-%%'");
    ok_contains("imported 10 branches",
                BIN " branch import --report-server-allow 169.254.169.254"
                    " %s",
                cfg);
    qeq("http://169.254.169.254/", "SELECT report_server FROM branches WHERE code = 'NEW-2'");
    ok_contains("imported 10 branches",
                "env TILLPIPE_REPORT_SERVER_ALLOW=169.254.169.254:80 " BIN " branch import %s",
                cfg);
    ok_contains("imported 10 branches",
                "env TILLPIPE_REPORT_SERVER=http://169.254.169.254 " BIN " branch import %s", cfg);
    fails_contains(2, "--report-server-allow: \"a b\" is not HOST[:PORT]",
                   BIN " branch import --report-server-allow 'x,a b' %s", cfg);
    fails_contains(2, "--report-server-allow: \"h:0\" is not HOST[:PORT]",
                   BIN " worker --server http://127.0.0.1:1 --report-server-allow h:0");
    fails_contains(2, "$TILLPIPE_REPORT_SERVER_ALLOW: \"ftp://h\"",
                   "env TILLPIPE_JWT_SECRET=" SECRET " TILLPIPE_REPORT_SERVER_ALLOW=ftp://h " BIN
                   " serve --no-workers");
}
END_TEST

static void start_sim(void)
{
    sim = tu_sim_generated("test_branches_api", "--branches 1 --days 1", served, sizeof served);
    sim_port = (int)strtol(strrchr(sim, ':') + 1, NULL, 10);
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static Suite *suite(void)
{
    Suite *s = suite_create("branches_api");
    pc_add(s, "br_put", get_and_put_one_branch);
    pc_add(s, "br_patch", patch_merges);
    pc_add(s, "br_post", post_and_limits);
    pc_add(s, "br_ssrf", report_server_allow_list_on_save);
    pc_add(s, "br_fetch", report_server_allow_list_on_fetch);
    pc_add(s, "br_import", import_and_options);
    return s;
}

int main(void)
{
    return pc_main("test_branches_api", suite(), start_sim, tu_sim_stop);
}
