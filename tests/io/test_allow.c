/* test_allow.c -- the report-server allow-list (engine/io/allow.c): entries
 * parsed and refused, URLs matched as libcurl reads them, the addresses a
 * name may lead to; and the fetch held to it against the real simulator over
 * loopback: a listed address works, a name that resolves to loopback
 * ("localhost") or a server not listed is refused with a clear error before
 * any request reaches it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/allow.h"
#include "io/fetch.h"
#include "testutil.h"

static const char *base; /* the simulator: http://127.0.0.1:PORT */
static char *data;       /* the folder it serves (empty) */
static int port;         /* its port */

/* A list of `entries` (must parse). */
static tp_allow *list_of(const char *entries)
{
    tp_allow *a = tp_allow_create();
    tp_error err = {0};
    ck_assert_ptr_nonnull(a);
    ck_assert_msg(tp_allow_add(a, entries, "test", &err) == 0, "%s: %s", entries, err.msg);
    return a;
}

START_TEST(entries_are_checked)
{
    tp_allow *a = list_of(" reports.example , 10.1.2.3:8080,[::1]:99, https://R.example/chain");
    ck_assert_uint_eq(tp_allow_count(a), 4);
    static const char *const bad[] = {
        "",          "a b",           "host:0", "host:70000", "host:x",          "[::1",
        "[::1]x",    "-lead.example", "a,,b",   "h/path",     "ftp://x.example", "user@host",
        "host:80:1", "http://[zz]/"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tp_error err = {0};
        ck_assert_msg(tp_allow_add(a, bad[i], "--report-server-allow", &err) < 0, "%s", bad[i]);
        ck_assert_msg(strstr(err.msg, "--report-server-allow"), "%s", err.msg);
    }
    ck_assert_uint_eq(tp_allow_count(a), 4); /* a refused list adds nothing */
    tp_allow_destroy(a);
}
END_TEST

/* `url` is allowed by `a` (want 1) or refused (0). */
static void url_is(const tp_allow *a, const char *url, int want)
{
    tp_error err = {0};
    char host[TP_ALLOW_HOST_MAX];
    int rc = tp_allow_url(a, url, host, &err);
    ck_assert_msg((rc == 0) == want, "%s: %s", url, rc ? err.msg : "allowed");
    if (!want)
        ck_assert_msg(err.code == TP_ECONFIG && strlen(err.msg) > 20, "%s: %s", url, err.msg);
}

START_TEST(urls_match_host_and_port)
{
    tp_allow *a = list_of("reports.example,10.1.2.3:8080,[::1]:99,https://r2.example/x");
    url_is(a, "http://reports.example/chain", 1);
    url_is(a, "https://REPORTS.example/", 1);     /* case, https's port */
    url_is(a, "http://reports.example:8080/", 0); /* no port listed: 80/443 only */
    url_is(a, "http://10.1.2.3:8080/", 1);
    url_is(a, "http://10.1.2.3/", 0);
    url_is(a, "http://[0:0::1]:99/", 1); /* addresses by value */
    url_is(a, "https://r2.example/", 1);
    url_is(a, "http://r2.example/", 0); /* the URL entry's port is 443 */
    url_is(a, "http://reports.example@evil.example/", 0);
    url_is(a, "http://evil.example#@reports.example/", 0);
    url_is(a, "http://evil.example\\@reports.example/", 1); /* libcurl goes to reports */
    url_is(a, "ftp://reports.example/", 0);
    url_is(a, "http://169.254.169.254/latest/meta-data/", 0);
    url_is(NULL, "http://reports.example/", 0); /* no list: nothing */
    tp_error err = {0};
    tp_allow_url(a, "http://127.0.0.1:8099/", NULL, &err);
    ck_assert_msg(strstr(err.msg, "127.0.0.1:8099 is not on the allow-list") &&
                      strstr(err.msg, "reports.example, 10.1.2.3:8080"),
                  "%s", err.msg);
    tp_allow_destroy(a);
}
END_TEST

/* May a connection for `host` go to `addr`?  want 1 or 0 (then the reason
 * names the kind). */
static void address_is(const char *host, const char *addr, int want, const char *kind)
{
    struct sockaddr_storage ss = {0};
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        ck_assert_int_eq(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        ck_assert_int_eq(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
    }
    char why[256] = "";
    int got = tp_allow_address(host, (struct sockaddr *)&ss, why, sizeof why);
    ck_assert_msg(got == want, "%s -> %s: %d (%s)", host, addr, got, why);
    if (!want)
        ck_assert_msg(strstr(why, host) && strstr(why, addr) && strstr(why, kind), "%s", why);
}

START_TEST(names_never_lead_to_loopback_or_metadata)
{
    address_is("reports.example", "203.0.113.7", 1, NULL);
    address_is("reports.example", "10.9.8.7", 1, NULL); /* private: the operator's network */
    address_is("reports.example", "127.0.0.1", 0, "loopback");
    address_is("localhost", "::1", 0, "loopback");
    address_is("reports.example", "169.254.169.254", 0, "link-local");
    address_is("reports.example", "0.0.0.0", 0, "unspecified");
    address_is("reports.example", "224.0.0.1", 0, "multicast");
    address_is("reports.example", "255.255.255.255", 0, "reserved");
    address_is("reports.example", "fe80::1", 0, "link-local");
    address_is("reports.example", "::ffff:169.254.169.254", 0, "link-local");
    address_is("reports.example", "64:ff9b::a9fe:a9fe", 0, "link-local"); /* NAT64 */
    address_is("reports.example", "2002:7f00:1::", 0, "loopback");        /* 6to4 */
    /* listed as an address: that address, and only it */
    address_is("127.0.0.1", "127.0.0.1", 1, NULL);
    address_is("::1", "::1", 1, NULL);
    address_is("127.0.0.1", "127.0.0.2", 0, "loopback");
}
END_TEST

/* One list call with a fetcher allowed `a`: its rc, kind and error. */
static int list_with(const tp_allow *a, const char *server, tp_fetch_kind *kind, tp_error *err)
{
    tp_fetch_opts o = {.retries = 2, .backoff_base = 0.01, .allow = a};
    tp_fetcher *f = NULL;
    ck_assert_int_eq(tp_fetcher_create(&o, &f, NULL), 0);
    tp_fetch_conn *c = tp_fetch_conn_create(f, NULL);
    char **paths = NULL;
    size_t n = 0;
    int rc = tp_fetch_list(c, server, "BMC", 1, "2026-02-09", &paths, &n, kind, err);
    tp_fetch_list_free(paths, n);
    tp_fetch_stats st;
    tp_fetcher_stats(f, &st);
    if (rc < 0)
        ck_assert_uint_eq(st.retries, 0); /* a refusal is final */
    tp_fetch_conn_destroy(c);
    tp_fetcher_destroy(f);
    return rc;
}

START_TEST(fetch_goes_only_where_allowed)
{
    char entry[64], by_name[64];
    snprintf(entry, sizeof entry, "127.0.0.1:%d", port);
    snprintf(by_name, sizeof by_name, "http://localhost:%d", port);
    tp_allow *a = list_of(entry);
    tp_fetch_kind kind;
    tp_error err = {0};
    tu_sim_clear();
    /* listed as an address: it works */
    ck_assert_msg(list_with(a, base, &kind, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(kind, TP_FETCH_NO_FILES);
    ck_assert_int_eq(tu_sim_stat("lists"), 1);
    /* not listed: refused before anything is sent */
    ck_assert_int_lt(list_with(a, by_name, &kind, &err), 0);
    ck_assert_int_eq(kind, TP_FETCH_SERVER_ERROR);
    ck_assert_msg(strstr(err.msg, "list BMC/1/2026-02-09: refused: report server localhost:") &&
                      strstr(err.msg, "is not on the allow-list"),
                  "%s", err.msg);
    ck_assert_int_lt(list_with(NULL, base, &kind, &err), 0);
    /* a listed name that resolves to loopback: refused as it connects */
    snprintf(entry, sizeof entry, "localhost:%d", port);
    tp_allow_destroy(a);
    a = list_of(entry);
    ck_assert_int_lt(list_with(a, by_name, &kind, &err), 0);
    ck_assert_int_eq(kind, TP_FETCH_SERVER_ERROR);
    ck_assert_int_eq(err.code, TP_ECONFIG);
    ck_assert_msg(strstr(err.msg, "list BMC/1/2026-02-09: refused: localhost resolves to ") &&
                      strstr(err.msg, "a loopback address"),
                  "%s", err.msg);
    ck_assert_int_eq(tu_sim_stat("lists"), 1); /* only the allowed one reached it */
    tp_allow_destroy(a);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("allow");
    TCase *tc = tcase_create("allow");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, entries_are_checked);
    tcase_add_test(tc, urls_match_host_and_port);
    tcase_add_test(tc, names_never_lead_to_loopback_or_metadata);
    tcase_add_test(tc, fetch_goes_only_where_allowed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    data = tu_tmpdir();
    base = data ? tu_sim_start(data, NULL) : NULL;
    const char *colon = base ? strrchr(base, ':') : NULL;
    if (!colon || (port = (int)strtol(colon + 1, NULL, 10)) <= 0) {
        fprintf(stderr, "test_allow: cannot start the report-server simulator\n");
        return EXIT_FAILURE;
    }
    int failed = tu_run_suite(suite());
    tu_sim_stop();
    tu_rmrf(data);
    free(data);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
