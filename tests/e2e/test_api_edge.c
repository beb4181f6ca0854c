/* test_api_edge.c -- the API's HTTP edge against one client that tries to
 * take the service down or slip past its checks, over real sockets on
 * loopback against a real `tillpipe serve` and PostgreSQL:
 *
 *  - slowloris: one address (127.0.0.2 -- all of 127/8 is loopback) holding
 *    many trickling connections gets only its share, /livez still answers
 *    the others, and every trickling connection is cut at its deadline;
 *  - bodies before authentication: refusals (401, 403, 404, 405, 413, the
 *    per-user budget's 429) come as soon as the headers are in, with no body
 *    byte read and nothing spooled;
 *  - streams: a viewer's streams past their cap are 429, event streams leave
 *    the exports' reserve alone;
 *  - strict input: NUL and encoded slashes in the target, methods that are
 *    not tokens, a Latin-1 upload name, ambiguous framing (a smuggled request
 *    is never answered), nosniff on every answer, and list-cache keys that no
 *    separator bytes can make collide.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "httpc.h"
#include "pgcase.h"

#define SECRET "test-secret-0123456789abcdef0123456789"

static char base[128]; /* the API of this case's server */
static int port;
static int server_w = -1;

/* ------------------------------------------------------------ the server */

/* The server (`args`: more options), its URL in `base`; its TMPDIR, where it
 * spools uploads, is <case folder>/tmpdir. */
static void serve(const char *args)
{
    char td[800];
    snprintf(td, sizeof td, "%s/tmpdir", tmp);
    mkdir(td, 0700);
    server_w =
        tu_serve(base, sizeof base, "TILLPIPE_JWT_SECRET=" SECRET,
                 "env TMPDIR=%s " BIN " serve" PLUGINS " --store fs:%s/store --no-workers %s", td,
                 tmp, args);
    port = (int)strtol(strrchr(base, ':') + 1, NULL, 10);
}

/* SIGTERM: the server stops cleanly, exit 0 (under ASan also: no leaks). */
static void stop_server(void)
{
    tu_serve_stop(server_w);
}

static tu_resp call(const char *method, const char *path, const char *token, const char *body)
{
    char full[4096];
    snprintf(full, sizeof full, "%s%s", base, path);
    return tu_request(full, method, token, body, NULL, NULL);
}

/* The answer has `status` and, when `code` is given, is that problem. */
#define expect(...) expect_at(__LINE__, __VA_ARGS__)
static void expect_at(int line, tu_resp *r, long status, const char *code)
{
    ck_assert_msg(r->status == status, "line %d: status %ld, want %ld: %s", line, r->status, status,
                  r->body ? r->body : "");
    if (code) {
        const char *got = tu_jstr(r->json, "code");
        ck_assert_msg(strcmp(r->ctype, "application/problem+json") == 0 && got &&
                          strcmp(got, code) == 0,
                      "line %d: %s code %s, want %s", line, r->ctype, got ? got : "(none)", code);
    }
}

#define check(m, p, t, b, st, code)                                                                \
    do {                                                                                           \
        tu_resp r_ = call(m, p, t, b);                                                             \
        expect_at(__LINE__, &r_, st, code);                                                        \
        tu_resp_free(&r_);                                                                         \
    } while (0)

static char *login(const char *name)
{
    return tu_login(base, name);
}

/* A value of GET /metrics (a whole line's name and labels), -1 when absent. */
static long long metric(const char *name)
{
    tu_resp r = call("GET", "/metrics", NULL, NULL);
    expect(&r, 200, NULL);
    char want[200];
    snprintf(want, sizeof want, "\n%s ", name);
    const char *m = strstr(r.body, want);
    long long v = m ? strtoll(m + strlen(want), NULL, 10) : -1;
    tu_resp_free(&r);
    return v;
}

/* ------------------------------------------------------------ raw HTTP */

/* A connection to the server from `src` (NULL: any); reads wait at most
 * 10 s, so a server that waits for a body it should not read fails the
 * case instead of hanging it. */
static int raw_open(const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    if (src) {
        ck_assert_int_eq(inet_pton(AF_INET, src, &a.sin_addr), 1);
        ck_assert_msg(bind(fd, (struct sockaddr *)&a, sizeof a) == 0, "bind %s: %s", src,
                      strerror(errno));
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    ck_assert_msg(connect(fd, (struct sockaddr *)&to, sizeof to) == 0, "connect: %s",
                  strerror(errno));
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void raw_send(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

typedef struct raw {
    char text[65536]; /* what the server sent, NUL-terminated */
    size_t len;
    int status;      /* of the first answer, 0 when none */
    json_t *problem; /* the first answer's body as JSON, or NULL */
} raw;

/* Read what the server sends until it closes (or reads time out). */
static void raw_read_all(int fd, raw *r)
{
    ssize_t n;
    while (r->len < sizeof r->text - 1 &&
           (n = recv(fd, r->text + r->len, sizeof r->text - 1 - r->len, 0)) > 0)
        r->len += (size_t)n;
    r->text[r->len] = '\0';
}

static void raw_parse(raw *r)
{
    sscanf(r->text, "HTTP/1.%*d %d", &r->status);
    const char *b = strstr(r->text, "\r\n\r\n");
    if (b && !r->problem)
        r->problem = json_loads(b + 4, JSON_DISABLE_EOF_CHECK, NULL);
}

/* Send `len` bytes of `req` on a new connection from `src`; the whole
 * answer (the server closing after it) into r. */
static void raw_exchange(const char *src, const char *req, size_t len, raw *r)
{
    memset(r, 0, sizeof *r);
    int fd = raw_open(src);
    raw_send(fd, req, len);
    raw_read_all(fd, r);
    close(fd);
    raw_parse(r);
}

/* How many answers the text holds (status lines). */
static int raw_answers(const raw *r)
{
    int n = 0;
    for (const char *p = r->text; (p = strstr(p, "HTTP/1.1 ")); p++)
        n += p == r->text || p[-1] == '\n';
    return n;
}

/* The first answer is the problem `code` with `status`, and the only one. */
#define raw_expect(...) raw_expect_at(__LINE__, __VA_ARGS__)
static void raw_expect_at(int line, raw *r, int status, const char *code)
{
    ck_assert_msg(r->status == status, "line %d: status %d, want %d: %s", line, r->status, status,
                  r->text);
    ck_assert_msg(strstr(r->text, "application/problem+json") &&
                      strstr(r->text, "X-Content-Type-Options: nosniff"),
                  "line %d: %s", line, r->text);
    const char *got = json_string_value(json_object_get(r->problem, "code"));
    ck_assert_msg(got && strcmp(got, code) == 0, "line %d: code %s, want %s", line,
                  got ? got : "(none)", code);
    ck_assert_msg(raw_answers(r) == 1, "line %d: %d answers: %s", line, raw_answers(r), r->text);
    json_decref(r->problem);
    r->problem = NULL;
}

/* Headers only (no body follows): the answer, which must come without one. */
static void headers_only(const char *head, raw *r)
{
    raw_exchange(NULL, head, strlen(head), r);
}

/* ------------------------------------------------------------ cases */

/* Slowloris: 40 connections from 127.0.0.2 trickle a header byte at a time.
 * Only --max-conns-per-client of them are kept; /livez answers 127.0.0.1
 * meanwhile; each kept one is cut at the request deadline, though every
 * byte it sends would reset an idle timer. */
#define ATTACK 40
START_TEST(slowloris_one_address)
{
    case_begin("edge_slowloris");
    serve("--max-connections 64 --max-conns-per-client 8 --request-timeout 2");
    static const char slow[] = "GET /livez HTTP/1.1\r\nHost: x\r\n";
    int fd[ATTACK], open = ATTACK;
    for (int i = 0; i < ATTACK; i++) {
        fd[i] = raw_open("127.0.0.2");
        raw_send(fd[i], slow, sizeof slow - 1);
    }
    check("GET", "/livez", NULL, NULL, 200, NULL); /* while they are held */
    /* trickle (a byte each round) until the server has closed all of them;
     * bounded: an idle timeout (30 s) never fires on a trickle */
    for (int round = 0; round < 100 && open > 0; round++) {
        for (int i = 0; i < ATTACK; i++) {
            if (fd[i] < 0)
                continue;
            char c;
            ssize_t n = send(fd[i], "X", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            struct pollfd p = {fd[i], POLLIN, 0};
            if (n < 0 || (poll(&p, 1, 0) == 1 && recv(fd[i], &c, 1, MSG_DONTWAIT) <= 0)) {
                close(fd[i]);
                fd[i] = -1;
                open--;
            }
        }
        check("GET", "/livez", NULL, NULL, 200, NULL);
        sleep_s(0.2);
    }
    ck_assert_msg(open == 0, "%d trickling connections still open after 20 s", open);
    /* the 8 kept were cut by their deadline; the 32 others refused at once */
    ck_assert_int_eq(metric("tillpipe_http_connections_cut_total"), 8);
    /* a request that is whole in time is unaffected */
    check("GET", "/livez", NULL, NULL, 200, NULL);
    stop_server();
}
END_TEST

/* Refused before the body: an anonymous POST announcing 8 MB, a 15 MB
 * upload, a viewer's upload, a path that is not there, a method the path
 * does not have, a body over the cap -- each answered with only the headers
 * sent, and no upload spooled. */
START_TEST(refused_before_the_body)
{
    case_begin("edge_early");
    tu_add_user("otto", "operator");
    tu_add_user("vic", "viewer");
    serve("--max-upload-mb 16");
    char *op = login("otto"), *v = login("vic");
    char head[8192];
    raw r;
    headers_only("POST /api/jobs/fetch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: 8000000\r\n\r\n",
                 &r);
    raw_expect(&r, 401, "unauthorized");
#define UP                                                                                         \
    "POST /api/branches/BMC/test-parse HTTP/1.1\r\nHost: x\r\n"                                    \
    "Content-Type: multipart/form-data; boundary=b0undary\r\nContent-Length: 15000000\r\n%s\r\n"
    snprintf(head, sizeof head, UP, "");
    headers_only(head, &r);
    raw_expect(&r, 401, "unauthorized");
    char auth[4200];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", v);
    snprintf(head, sizeof head, UP, auth);
    headers_only(head, &r);
    raw_expect(&r, 403, "forbidden");
    snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", op);
    snprintf(head, sizeof head,
             "POST /api/nothing HTTP/1.1\r\nHost: x\r\n%sContent-Length: 9\r\n\r\n", auth);
    headers_only(head, &r);
    raw_expect(&r, 404, "not_found");
    snprintf(head, sizeof head,
             "DELETE /api/jobs HTTP/1.1\r\nHost: x\r\n%sContent-Length: 9\r\n\r\n", auth);
    headers_only(head, &r);
    raw_expect(&r, 405, "method_not_allowed");
    snprintf(head, sizeof head,
             "POST /api/jobs/fetch HTTP/1.1\r\nHost: x\r\n%s"
             "Content-Type: application/json\r\nContent-Length: 8000000\r\n\r\n",
             auth);
    headers_only(head, &r);
    raw_expect(&r, 413, "body_too_large");
    snprintf(head, sizeof head, UP, auth);
    memcpy(strstr(head, "15000000"), "99000000", 8); /* over 16 MB */
    headers_only(head, &r);
    raw_expect(&r, 413, "body_too_large");
    char td[800];
    snprintf(td, sizeof td, "%s/tmpdir", tmp);
    ck_assert_int_eq(tu_count_entries(td), 0);
    check("GET", "/livez", NULL, NULL, 200, NULL);
    free(op);
    free(v);
    stop_server();
}
END_TEST

/* A user's bodies in flight have a budget (--body-budget-mb): a second
 * body that would pass it is 429 at once; when the first ends, room again. */
START_TEST(body_budget_per_user)
{
    case_begin("edge_budget");
    tu_add_user("otto", "operator");
    serve("--body-budget-mb 1");
    char *op = login("otto"), head[8192];
    snprintf(head, sizeof head,
             "POST /api/jobs/fetch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/json\r\nContent-Length: 900000\r\n\r\n",
             op);
    /* the first announces 900 kB and sends none of it; its 100 Continue
     * says the server has taken it in (and reserved its body) */
    int held = raw_open(NULL);
    char *cont = strstr(head, "\r\n\r\n");
    raw_send(held, head, (size_t)(cont - head) + 2);
    static const char expect100[] = "Expect: 100-continue\r\n\r\n";
    raw_send(held, expect100, sizeof expect100 - 1);
    raw r = {0};
    ck_assert_int_gt(recv(held, r.text, sizeof r.text - 1, 0), 0);
    ck_assert_msg(strstr(r.text, "HTTP/1.1 100"), "%s", r.text);
    headers_only(head, &r);
    raw_expect(&r, 429, "body_budget");
    close(held);
    tu_resp q = {0};
    for (int i = 0; i < 100; i++, sleep_s(0.05)) { /* the budget comes back with its end */
        tu_resp_free(&q);
        q = call("POST", "/api/jobs/fetch", op,
                 "{\"branch\": \"BMC\", \"pos\": 1, \"date\": \"2026-02-09\"}");
        if (q.status != 429)
            break;
    }
    expect(&q, 202, NULL);
    tu_resp_free(&q);
    free(op);
    stop_server();
}
END_TEST

/* An event stream opened on a raw connection: its status (the connection
 * is kept open in *fd while the stream lasts, else closed). */
static int open_events(const char *token, int *fd)
{
    char head[4400];
    snprintf(head, sizeof head,
             "GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", token);
    *fd = raw_open(NULL);
    raw_send(*fd, head, strlen(head));
    raw r = {0};
    ssize_t n;
    while (!strstr(r.text, "\r\n\r\n") && r.len < sizeof r.text - 1 &&
           (n = recv(*fd, r.text + r.len, sizeof r.text - 1 - r.len, 0)) > 0)
        r.text[r.len += (size_t)n] = '\0';
    raw_parse(&r);
    while (r.status != 200 && !strstr(r.text, "too_many_streams") && r.len < sizeof r.text - 1 &&
           (n = recv(*fd, r.text + r.len, sizeof r.text - 1 - r.len, 0)) > 0)
        r.text[r.len += (size_t)n] = '\0';
    if (r.status != 200) {
        ck_assert_msg(strstr(r.text, "too_many_streams"), "%s", r.text);
        close(*fd);
        *fd = -1;
    }
    json_decref(r.problem);
    return r.status;
}

/* Streams: 8 in all (--max-streams), 2 of them kept for exports; 3 per
 * user.  A viewer's fourth stream is 429; two viewers fill what event
 * streams may take, a third's is 503; an admin's export still runs. */
START_TEST(streams_per_user)
{
    case_begin("edge_streams");
    tu_add_user("vic", "viewer");
    tu_add_user("val", "viewer");
    tu_add_user("vera", "viewer");
    tu_add_user("ada", "admin");
    serve("--max-streams 8 --max-streams-per-user 3");
    char *vic = login("vic"), *val = login("val"), *vera = login("vera"), *ada = login("ada");
    int fd[8], k = 0;
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(open_events(vic, &fd[k++]), 200);
    int extra;
    ck_assert_int_eq(open_events(vic, &extra), 429);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(open_events(val, &fd[k++]), 200);
    ck_assert_int_eq(open_events(vera, &extra), 503); /* 6 of 8: the rest is for exports */
    tu_resp r = call("GET", "/api/records/export?start=2026-02-09&end=2026-02-09", ada, NULL);
    expect(&r, 200, NULL);
    ck_assert_ptr_nonnull(strstr(r.body, "branch"));
    tu_resp_free(&r);
    for (int i = 0; i < k; i++)
        close(fd[i]);
    /* their ends free their places (once the server notices) */
    int st = 0;
    for (int i = 0; i < 100 && st != 200; i++, sleep_s(0.1))
        if ((st = open_events(vera, &extra)) == 200)
            close(extra);
    ck_assert_int_eq(st, 200);
    free(vic);
    free(val);
    free(vera);
    free(ada);
    stop_server();
}
END_TEST

/* An upload with `name` as its file name. */
static tu_resp upload_named(const char *token, const char *file, const char *name)
{
    tu_resp r = {0};
    CURL *h = curl_easy_init();
    char full[2048], auth[4200];
    snprintf(full, sizeof full, "%s/api/branches/BMC/test-parse", base);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    struct curl_slist *hd = curl_slist_append(NULL, auth);
    curl_mime *m = curl_mime_init(h);
    curl_mimepart *part = curl_mime_addpart(m);
    curl_mime_name(part, "file");
    curl_mime_filedata(part, file);
    curl_mime_filename(part, name);
    curl_easy_setopt(h, CURLOPT_URL, full);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_MIMEPOST, m);
    CURLcode cc = tu_perform(h, hd, &r);
    curl_mime_free(m);
    ck_assert_msg(cc == CURLE_OK, "upload: %s", curl_easy_strerror(cc));
    return r;
}

/* NUL and encoded slashes in the target, a method that is not a token, a
 * Latin-1 upload name: 400, never decoded into another request. */
START_TEST(strict_target)
{
    case_begin("edge_target");
    tu_add_user("otto", "operator");
    serve("");
    char *t = login("otto");
    tu_resp q = call("POST", "/api/jobs/fetch", t,
                     "{\"branch\": \"BMC\", \"pos\": 1, \"date\": \"2026-02-09\"}");
    expect(&q, 202, NULL);
    char jp[64];
    snprintf(jp, sizeof jp, "/api/jobs/%lld", (long long)tu_jint(q.json, "job_id"));
    tu_resp_free(&q);
    check("GET", jp, t, NULL, 200, NULL);
    static const char *const bad_path[] = {"%00garbage", "%2fbundle", "%2Fbundle", "/%00",
                                           "/..%2f..%2fbranches"};
    for (size_t i = 0; i < sizeof bad_path / sizeof *bad_path; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s%s", jp, bad_path[i]);
        check("GET", p, t, NULL, 400, "invalid_path");
    }
    check("GET", "/api%2fjobs", t, NULL, 400, "invalid_path");
    check("GET", "/api/jobs?branch=BMC%00x", t, NULL, 400, "invalid_parameter");
    check("GET", "/api/jobs?bra%00nch=BMC", t, NULL, 400, "invalid_parameter");
    check("GET", "/api/jobs?branch=BMC&x=%00", t, NULL, 400, "invalid_parameter");
    check("GET", "/api/jobs?branch=a%2fb", t, NULL, 400, "invalid_parameter"); /* (a filter's) */
    raw r;
    static const char nul_line[] = "GET /livez\0?x=1 HTTP/1.1\r\nHost: x\r\n\r\n";
    raw_exchange(NULL, nul_line, sizeof nul_line - 1, &r);
    raw_expect(&r, 400, "invalid_path");
    headers_only("G\xc9T /livez HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    raw_expect(&r, 400, "invalid_request");
    headers_only("GET\x01 /livez HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    raw_expect(&r, 400, "invalid_request");
    char *f = tu_write(tmp, "d.csv", "DEP_CODE,DEP_DESC\n01,FOOD\n");
    tu_resp u = upload_named(t, f, "caf\xe9_BMC_1_rd1800_2026-02-09_20-00_.csv");
    expect(&u, 400, "invalid_body");
    ck_assert_ptr_nonnull(strstr(u.body, "UTF-8"));
    tu_resp_free(&u);
    char td[800];
    snprintf(td, sizeof td, "%s/tmpdir", tmp);
    ck_assert_int_eq(tu_count_entries(td), 0);
    free(f);
    free(t);
    stop_server();
}
END_TEST

/* Framing that a proxy could read otherwise: each 400 (problem+json), the
 * connection closed, a request smuggled behind it never answered. */
START_TEST(strict_framing)
{
    case_begin("edge_framing");
    serve("");
    static const char *const smuggle[] = {
        /* two different Content-Lengths */
        "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\nContent-Length: 39\r\n\r\n{}GET /livez HTTP/1.1\r\nHost: x\r\n\r\n",
        /* Content-Length with Transfer-Encoding */
        "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n",
        /* a coding other than chunked */
        "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        "0\r\n\r\nGET /livez HTTP/1.1\r\nHost: x\r\n\r\n",
        /* HTTP/1.1 without Host, and with two */
        "GET /livez HTTP/1.1\r\n\r\nGET /livez HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /livez HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\nGET /livez HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    raw r;
    for (size_t i = 0; i < sizeof smuggle / sizeof *smuggle; i++) {
        raw_exchange(NULL, smuggle[i], strlen(smuggle[i]), &r);
        raw_expect(&r, 400, "invalid_request");
    }
    /* what is well framed still works: two pipelined requests, two answers;
     * HTTP/1.0 needs no Host */
    static const char two[] = "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    raw_exchange(NULL, two, sizeof two - 1, &r);
    ck_assert_msg(r.status == 200 && raw_answers(&r) == 2, "%s", r.text);
    json_decref(r.problem);
    headers_only("GET /livez HTTP/1.0\r\n\r\n", &r);
    ck_assert_msg(r.status == 200 && strstr(r.text, "nosniff"), "%s", r.text);
    json_decref(r.problem);
    stop_server();
}
END_TEST

/* Every answer says nosniff: JSON, problems (early ones too), a stream. */
START_TEST(nosniff_everywhere)
{
    case_begin("edge_nosniff");
    tu_add_user("vic", "viewer");
    serve("");
    char *v = login("vic");
    static const char *const paths[] = {"/livez", "/api/jobs", "/api/nothing",
                                        "/api/records/export?start=2026-02-09&end=2026-02-09"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        for (int auth = 0; auth < 2; auth++) {
            char *out = NULL, hdr[4200] = "";
            if (auth)
                snprintf(hdr, sizeof hdr, "-H 'Authorization: Bearer %s'", v);
            sh(&out, "curl -s -m 5 -D - -o /dev/null %s '%s%s'", hdr, base, paths[i]);
            ck_assert_msg(out && strstr(out, "X-Content-Type-Options: nosniff"), "%s: %s", paths[i],
                          out ? out : "");
            free(out);
        }
    char *out = NULL; /* an event stream (cut by curl's time-out) */
    sh(&out, "curl -s -m 1 -D - -o /dev/null -H 'Authorization: Bearer %s' '%s/api/events'", v,
       base);
    ck_assert_msg(out && strstr(out, "text/event-stream") && strstr(out, "nosniff"), "%s",
                  out ? out : "");
    free(out);
    free(v);
    stop_server();
}
END_TEST

/* ------------------------------------------------------------ the list cache */

/* Jobs of two branches (one cancelled) and records with item X of both. */
static void cache_data(const char *t)
{
    const char *jobs[] = {"{\"branch\": \"BMC\", \"pos\": 1, \"date\": \"2026-02-09\"}",
                          "{\"branch\": \"MAGS\", \"pos\": 2, \"date\": \"2026-02-09\"}",
                          "{\"branch\": \"BMC\", \"pos\": 2, \"date\": \"2026-02-10\"}"};
    for (int i = 0; i < 3; i++)
        check("POST", "/api/jobs/fetch", t, jobs[i], 202, NULL);
    free(qs("UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE branch = 'MAGS'"));
    free(qs("CREATE TABLE IF NOT EXISTS records_2026 PARTITION OF records"
            " FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')"));
    free(qs("INSERT INTO records (branch, pos, business_date, job_id, source_file, source_line,"
            " or_number, transno, item_code, product_name, department_code, department_name,"
            " pos_department_code, time_text, type_code, discount_code, discount_name, vat_flag,"
            " payment_code, payment_name, phone) SELECT CASE WHEN i %% 2 = 0 THEN 'BMC' ELSE"
            " 'MAGS' END, 1 + i %% 3, '2026-02-09', (SELECT min(id) FROM jobs), 'f.csv', i, '', '',"
            " 'X', '', '', '', '', '', '', '', '', '', '', '', '' FROM generate_series(1, 9) i"));
}

/* GET path, 200 or 400: the body of a 200, or a 400's code and detail
 * (caller frees). */
static char *answer_of(const char *path, const char *t)
{
    tu_resp r = call("GET", path, t, NULL);
    ck_assert_msg(r.status == 200 || r.status == 400, "%s: %ld %s", path, r.status, r.body);
    char *b = NULL;
    if (r.status == 400 &&
        asprintf(&b, "400 %s: %s", tu_jstr(r.json, "code"), tu_jstr(r.json, "detail")) < 0)
        b = NULL;
    if (r.status == 200)
        b = strdup(r.body);
    ck_assert_ptr_nonnull(b);
    tu_resp_free(&r);
    return b;
}

/* `attack` asked first (its answer kept) does not answer `honest`, nor the
 * other way round: each is what a never-kept question (an extra argument
 * makes the key new) gets. */
static void never_cross(const char *t, const char *attack, const char *honest, int n)
{
    char fresh[2048];
    const char *pair[2] = {attack, honest};
    char *want[2];
    for (int k = 0; k < 2; k++) {
        snprintf(fresh, sizeof fresh, "%s&fresh%d=%d", pair[k], k, n);
        want[k] = answer_of(fresh, t);
    }
    for (int k = 0; k < 2; k++) {
        for (int again = 0; again < 2; again++) {
            char *got = answer_of(pair[k], t);
            ck_assert_msg(strcmp(got, want[k]) == 0,
                          "%s answered as another question:\n%s\nnot\n%s", pair[k], got, want[k]);
            free(got);
        }
        free(want[k]);
    }
}

/* The first page's next cursor of `path` (caller frees). */
static char *next_cursor(const char *path, const char *t)
{
    tu_resp r = call("GET", path, t, NULL);
    expect(&r, 200, NULL);
    const char *n = tu_jstr(r.json, "next");
    ck_assert_ptr_nonnull(n);
    char *c = strdup(n);
    tu_resp_free(&r);
    return c;
}

/* Separator bytes (percent-encoded) in every filter of both cached routes:
 * `item=X%1fbranch%1eBMC` (one argument) never gets the answer of
 * `item=X&branch=BMC` (two), whichever is asked first. */
START_TEST(list_cache_keys_never_cross)
{
    case_begin("edge_cache");
    tu_add_user("otto", "operator");
    serve("");
    char *t = login("otto");
    cache_data(t);
    while (metric("tillpipe_http_list_cache_total{result=\"hit\"}") < 1) /* the cache listens */
        check("GET", "/api/jobs?limit=2", t, NULL, 200, NULL);
    char *jc = next_cursor("/api/jobs?limit=1", t);
    char *rc = next_cursor("/api/records?start=2026-02-09&end=2026-02-09&limit=1", t);
    const char *routes[2] = {"/api/jobs?zz=X",
                             "/api/records?start=2026-02-09&end=2026-02-09&item=X"};
    const char *filters[2][8][2] = {
        {{"branch", "MAGS"},
         {"pos", "2"},
         {"status", "cancelled"},
         {"from", "2026-02-10"},
         {"to", "2026-02-09"},
         {"limit", "1"},
         {"cursor", jc},
         {NULL, NULL}},
        {{"branch", "BMC"},
         {"pos", "2"},
         {"limit", "1"},
         {"cursor", rc},
         {"plugin_sha256", "0000000000000000000000000000000000000000000000000000000000000000"},
         {NULL, NULL},
         {NULL, NULL},
         {NULL, NULL}}};
    static const char *const seps[][2] = {{"%1f", "%1e"}, {"%1e", "%1f"}, {"%3a", "%3a"},
                                          {"%26", "%3d"}, {"%7e", "%7e"}, {"1%3a", "1%3a"}};
    int n = 0;
    for (int r = 0; r < 2; r++)
        for (int f = 0; filters[r][f][0]; f++)
            for (size_t s = 0; s < sizeof seps / sizeof *seps; s++) {
                char attack[2048], honest[2048];
                snprintf(attack, sizeof attack, "%s%s%s%s%s", routes[r], seps[s][0],
                         filters[r][f][0], seps[s][1], filters[r][f][1]);
                snprintf(honest, sizeof honest, "%s&%s=%s", routes[r], filters[r][f][0],
                         filters[r][f][1]);
                never_cross(t, attack, honest, n++);
            }
    ck_assert_int_gt(metric("tillpipe_http_list_cache_total{result=\"hit\"}"), n);
    free(jc);
    free(rc);
    free(t);
    stop_server();
}
END_TEST

/* The edge's options: limits that would let one address take the server, or
 * nonsense, are usage errors (2). */
START_TEST(edge_options)
{
    case_begin("edge_options");
#define SERVE "TILLPIPE_JWT_SECRET=" SECRET " " BIN " serve --no-workers"
    fails_contains(2, "--max-conns-per-client", SERVE " --max-conns-per-client 1000");
    fails_contains(2, "--max-conns-per-client",
                   SERVE " --max-connections 40 --max-conns-per-client 36");
    fails_contains(2, NULL, SERVE " --request-timeout 0");
    fails_contains(2, NULL, SERVE " --max-streams-per-user 0");
    fails_contains(2, NULL, SERVE " --body-budget-mb x");
    ok_contains("--request-timeout", BIN " serve --help");
#undef SERVE
}
END_TEST

static void before(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static Suite *suite(void)
{
    Suite *s = suite_create("api_edge");
    pc_add(s, "edge_slowloris", slowloris_one_address);
    pc_add(s, "edge_early", refused_before_the_body);
    pc_add(s, "edge_budget", body_budget_per_user);
    pc_add(s, "edge_streams", streams_per_user);
    pc_add(s, "edge_target", strict_target);
    pc_add(s, "edge_framing", strict_framing);
    pc_add(s, "edge_nosniff", nosniff_everywhere);
    pc_add(s, "edge_cache", list_cache_keys_never_cross);
    pc_add(s, "edge_options", edge_options);
    return s;
}

int main(void)
{
    return pc_main("test_api_edge", suite(), before, NULL);
}
