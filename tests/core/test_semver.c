/* test_semver.c -- unit tests of engine/core/semver: parsing versions,
 * precedence (semver.org's own example list), the total order of version
 * strings, every range form, the prerelease rule, bad ranges and picking
 * the highest installed version.  Data-driven: each table row is one case. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/semver.h"
#include "testutil.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define U64MAX "18446744073709551615"
#define U64OVER "18446744073709551616"

/* -------------------------------------------------------------- parsing */

static const struct {
    const char *s;
    unsigned long long major, minor, patch;
    const char *pre, *build;
} good_versions[] = {
    {"0.0.0", 0, 0, 0, "", ""},
    {"1.0.1", 1, 0, 1, "", ""},
    {"10.20.30", 10, 20, 30, "", ""},
    {"1.2.3-alpha", 1, 2, 3, "alpha", ""},
    {"1.2.3-0", 1, 2, 3, "0", ""},
    {"1.2.3-alpha.1.x-y-z.--", 1, 2, 3, "alpha.1.x-y-z.--", ""},
    {"1.2.3+001", 1, 2, 3, "", "001"},
    {"1.2.3-rc.1+build.5.sha-0a1", 1, 2, 3, "rc.1", "build.5.sha-0a1"},
    {"1.2.3-0a", 1, 2, 3, "0a", ""}, /* alphanumeric: a leading zero is fine */
    {"1.2.3--", 1, 2, 3, "-", ""},   /* '-' is an identifier character */
    {"1.2.3-a+b-", 1, 2, 3, "a", "b-"},
    {U64MAX "." U64MAX "." U64MAX, ~0ull, ~0ull, ~0ull, "", ""},
    {"1.0.0-123456789012345678901234567890", 1, 0, 0, "123456789012345678901234567890", ""},
};

START_TEST(parse_accepts_semver)
{
    for (size_t i = 0; i < N(good_versions); i++) {
        tp_semver v;
        ck_assert_msg(tp_semver_parse(good_versions[i].s, &v) == 0, "refused %s",
                      good_versions[i].s);
        ck_assert_uint_eq(v.major, good_versions[i].major);
        ck_assert_uint_eq(v.minor, good_versions[i].minor);
        ck_assert_uint_eq(v.patch, good_versions[i].patch);
        ck_assert_str_eq(v.pre, good_versions[i].pre);
        ck_assert_str_eq(v.build, good_versions[i].build);
        char buf[TP_SEMVER_STR_MAX];
        ck_assert_str_eq(tp_semver_format(&v, buf, sizeof buf), good_versions[i].s);
    }
}
END_TEST

static const char *const bad_versions[] = {
    "",
    "1",
    "1.2",
    "1.2.",
    "1..2",
    "1..2.3",
    "01.2.3",
    "1.02.3",
    "1.2.03",
    "00.0.0",
    "-1.2.3",
    "+1.2.3",
    "v1.2.3",
    "V1.2.3",
    " 1.2.3",
    "1.2.3 ",
    "1.2.3\n",
    "1. 2.3",
    "1.2.3.4",
    "1.2.3junk",
    "1.2.3-",
    "1.2.3+",
    "1.2.3-+b",
    "1.2.3-a..b",
    "1.2.3-a.",
    "1.2.3-.a",
    "1.2.3-01",
    "1.2.3-a.007",
    "1.2.3+a..b",
    "1.2.3+a_b",
    "1.2.3-é",
    "1.2.3+b+c",
    "a.b.c",
    "1.x.3",
    "*",
    "1.2.-3",
    "1.2.3++",
    U64OVER ".0.0",
    "0." U64OVER ".0",
    "0.0." U64OVER,
    "99999999999999999999999.0.0",
};

START_TEST(parse_refuses_the_rest)
{
    for (size_t i = 0; i < N(bad_versions); i++) {
        tp_semver v;
        memset(&v, 0x55, sizeof v);
        ck_assert_msg(tp_semver_parse(bad_versions[i], &v) == TP_EINVAL, "accepted \"%s\"",
                      bad_versions[i]);
        ck_assert_uint_eq(v.major, 0); /* *out is zeroed on failure */
        ck_assert_str_eq(v.pre, "");
    }
    tp_semver v;
    ck_assert_int_eq(tp_semver_parse(NULL, &v), TP_EINVAL);
}
END_TEST

/* A prerelease and a build of at most 63 bytes each: the struct is fixed. */
START_TEST(parse_bounds_prerelease_and_build)
{
    char s[200], ident[80];
    memset(ident, 'a', sizeof ident);
    tp_semver v;
    snprintf(s, sizeof s, "1.2.3-%.63s+%.63s", ident, ident);
    ck_assert_int_eq(tp_semver_parse(s, &v), 0);
    ck_assert_uint_eq(strlen(v.pre), 63);
    ck_assert_uint_eq(strlen(v.build), 63);
    char buf[TP_SEMVER_STR_MAX];
    ck_assert_str_eq(tp_semver_format(&v, buf, sizeof buf), s);
    snprintf(s, sizeof s, "1.2.3-%.64s", ident);
    ck_assert_int_eq(tp_semver_parse(s, &v), TP_EINVAL);
    snprintf(s, sizeof s, "1.2.3+%.64s", ident);
    ck_assert_int_eq(tp_semver_parse(s, &v), TP_EINVAL);
    /* the largest version formats whole in TP_SEMVER_STR_MAX bytes */
    snprintf(s, sizeof s, U64MAX "." U64MAX "." U64MAX "-%.63s+%.63s", ident, ident);
    ck_assert_int_eq(tp_semver_parse(s, &v), 0);
    ck_assert_str_eq(tp_semver_format(&v, buf, sizeof buf), s);
    ck_assert_str_eq(tp_semver_format(&v, buf, 6), "18446");
}
END_TEST

/* ----------------------------------------------------------- precedence */

/* Ascending; semver.org 2.0.0 item 11's example list is the middle part. */
static const char *const ascending[] = {
    "0.0.0",
    "0.0.1",
    "0.1.0",
    "0.9.9",
    "1.0.0-0",
    "1.0.0-1",
    "1.0.0-9",
    "1.0.0-10",
    "1.0.0-99999999999999999999999",
    "1.0.0-A", /* ASCII: upper case sorts before lower */
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.2.0",
    "1.10.0",
    "2.0.0",
    "2.1.0",
    "2.1.1",
    "10.0.0",
    "18446744073709551614.0.0",
    U64MAX ".0.0",
};

START_TEST(precedence_table)
{
    tp_semver v[N(ascending)];
    for (size_t i = 0; i < N(ascending); i++)
        ck_assert_msg(tp_semver_parse(ascending[i], &v[i]) == 0, "refused %s", ascending[i]);
    for (size_t i = 0; i < N(ascending); i++)
        for (size_t j = 0; j < N(ascending); j++) {
            int want = i < j ? -1 : i > j, got = tp_semver_cmp(&v[i], &v[j]);
            got = got < 0 ? -1 : got > 0;
            ck_assert_msg(got == want, "cmp(%s, %s) = %d, expected %d", ascending[i], ascending[j],
                          got, want);
            ck_assert_int_eq(tp_semver_cmp_str(ascending[i], ascending[j]), want);
        }
}
END_TEST

START_TEST(precedence_ignores_build)
{
    tp_semver a, b, c;
    ck_assert_int_eq(tp_semver_parse("1.0.0+a", &a), 0);
    ck_assert_int_eq(tp_semver_parse("1.0.0+b.2", &b), 0);
    ck_assert_int_eq(tp_semver_parse("1.0.0", &c), 0);
    ck_assert_int_eq(tp_semver_cmp(&a, &b), 0);
    ck_assert_int_eq(tp_semver_cmp(&a, &c), 0);
    ck_assert_int_eq(tp_semver_parse("1.0.0-rc.1+x", &a), 0);
    ck_assert_int_eq(tp_semver_parse("1.0.0-rc.1+y", &b), 0);
    ck_assert_int_eq(tp_semver_cmp(&a, &b), 0);
}
END_TEST

static int by_cmp_str(const void *a, const void *b)
{
    return tp_semver_cmp_str(*(const char *const *)a, *(const char *const *)b);
}

/* Unparsable strings below every version, by strcmp; equal precedence by
 * strcmp; 0 only for the same string -- so any input order sorts alike. */
START_TEST(string_order_is_total)
{
    static const char *const sorted[] = {
        "",      "01.2.3",     "1",     "1.2",     "v2.0.0",  "zzz",
        "0.1.0", "1.0.0-rc.1", "1.0.0", "1.0.0+a", "1.0.0+b", "1.0.1",
    };
    const char *v[N(sorted)];
    for (unsigned seed = 1; seed <= 20; seed++) {
        memcpy(v, sorted, sizeof v);
        for (size_t i = N(v) - 1; i > 0; i--) { /* a fixed shuffle per seed */
            size_t j = (seed * 2654435761u + i * 40503u) % (i + 1);
            const char *t = v[i];
            v[i] = v[j];
            v[j] = t;
        }
        qsort(v, N(v), sizeof v[0], by_cmp_str);
        for (size_t i = 0; i < N(v); i++)
            ck_assert_str_eq(v[i], sorted[i]);
    }
    ck_assert_int_eq(tp_semver_cmp_str("1.0.0+a", "1.0.0+a"), 0);
    ck_assert_int_eq(tp_semver_cmp_str("junk", "junk"), 0);
    ck_assert_int_eq(tp_semver_cmp_str(NULL, ""), 0);
    ck_assert_int_eq(tp_semver_cmp_str(NULL, "0.0.0"), -1);
    ck_assert_int_eq(tp_semver_cmp_str("0.0.0", "zzz"), 1);
}
END_TEST

/* --------------------------------------------------------------- ranges */

typedef struct match_row {
    const char *range;
    const char *yes; /* space-separated versions that satisfy it */
    const char *no;  /* ...and some that do not */
} match_row;

static const match_row plain_rows[] = {
    {"1.0.1", "1.0.1 1.0.1+build.7", "1.0.0 1.0.2 1.0.1-rc.1 1.1.0"},
    {"=1.0.1", "1.0.1", "1.0.2 1.0.1-rc.1"},
    {"1.0.1+abc", "1.0.1 1.0.1+other", "1.0.2"},
    {">=1.2.0", "1.2.0 1.2.1 5.0.0", "1.1.9 0.0.0 1.2.0-rc.1 1.3.0-rc.1"},
    {">=1.2", "1.2.0", "1.1.99"},
    {">1.2", "1.3.0 2.0.0", "1.2.0 1.2.99"},
    {">1", "2.0.0", "1.99.99"},
    {">1.2.3", "1.2.4", "1.2.3 1.2.3+b"},
    {"<2", "1.9.9 0.0.0", "2.0.0 2.0.0-alpha 2.0.1"},
    {"<1.4.0", "1.3.99", "1.4.0 1.4.0-rc.1"},
    {"<=1.4.0", "1.4.0 1.0.0", "1.4.1"},
    {"<=1.4", "1.4.99 1.0.0", "1.5.0"},
    {"<=1", "1.99.0", "2.0.0"},
    {">=1.0.0 <2.0.0", "1.0.0 1.5.0 1.99.99", "0.9.0 2.0.0 1.5.0-beta"},
    {"  >=1.0.0 \t  <2.0.0  ", "1.5.0", "2.0.0"},
    {">= 1.2.3 < 1.3", "1.2.3 1.2.9", "1.3.0 1.2.2"},
    {">=1.0.0 <=1.0.0", "1.0.0", "1.0.1 0.9.9"},
    {U64MAX "." U64MAX "." U64MAX, U64MAX "." U64MAX "." U64MAX, "1.0.0"},
    {"<=" U64MAX "." U64MAX "." U64MAX, "0.0.0 " U64MAX ".0.0", ""},
};

static const match_row caret_tilde_rows[] = {
    {"^1.2.3", "1.2.3 1.2.10 1.9.9", "1.2.2 2.0.0 2.0.0-alpha 1.3.0-beta"},
    {"^0.2.3", "0.2.3 0.2.9", "0.2.2 0.3.0 1.0.0"},
    {"^0.0.3", "0.0.3", "0.0.4 0.0.2 0.1.0"},
    {"^1.2", "1.2.0 1.9.0", "1.1.9 2.0.0"},
    {"^0.2", "0.2.0 0.2.9", "0.3.0"},
    {"^0.0", "0.0.0 0.0.9", "0.1.0"},
    {"^1", "1.0.0 1.99.0", "2.0.0 0.9.0"},
    {"^0", "0.0.0 0.9.9", "1.0.0"},
    {"^1.x", "1.0.0 1.5.0", "2.0.0"},
    {"~1.2.3", "1.2.3 1.2.9", "1.2.2 1.3.0"},
    {"~1.2", "1.2.0 1.2.9", "1.3.0 1.1.0"},
    {"~1", "1.0.0 1.9.0", "2.0.0"},
    {"~0.2.3", "0.2.3 0.2.5", "0.3.0"},
    {"~0", "0.0.0 0.99.0", "1.0.0"},
    {"^1.2.3 <1.5", "1.4.9", "1.5.0 1.2.2"},
};

static const match_row wildcard_rows[] = {
    {"1.x", "1.0.0 1.9.9", "0.9.0 2.0.0 1.0.0-rc.1"},
    {"1.X", "1.2.0", "2.0.0"},
    {"1.*", "1.2.0", "2.0.0"},
    {"1.x.x", "1.2.0", "2.0.0"},
    {"1.2.*", "1.2.0 1.2.99", "1.3.0 1.1.0"},
    {"1.2.x", "1.2.5", "1.3.0"},
    {"1", "1.0.0 1.9.9", "2.0.0"},
    {"1.2", "1.2.0 1.2.9", "1.3.0"},
    {"=1.2", "1.2.0", "1.3.0"},
    {"*", "0.0.0 1.0.0 99.0.0", "1.0.0-beta 0.0.0-0"},
    {"x", "1.0.0", "1.0.0-beta"},
    {"*.*.*", "1.0.0", ""},
    {">=*", "3.0.0", ""},
    {"<=*", "3.0.0", ""},
    {"^*", "3.0.0", ""},
    {"* >=1.0.0", "1.0.0", "0.9.0"},
};

/* npm's rule: a prerelease matches only a range naming a prerelease of the
 * same MAJOR.MINOR.PATCH. */
static const match_row prerelease_rows[] = {
    {">=1.3.0-alpha", "1.3.0-alpha 1.3.0-beta 1.3.0 1.4.0", "1.4.0-beta 1.3.0-0 1.2.9"},
    {"1.0.0-rc.1", "1.0.0-rc.1 1.0.0-rc.1+b", "1.0.0-rc.2 1.0.0 1.0.0-rc.0"},
    {"^1.2.3-beta.2", "1.2.3-beta.2 1.2.3-beta.11 1.2.3 1.2.4 1.9.0",
     "1.2.3-beta.1 1.2.4-beta 2.0.0-alpha 2.0.0"},
    {"~1.2.3-rc", "1.2.3-rc.1 1.2.5", "1.3.0 1.2.4-rc"},
    {"<1.0.0-rc.1", "1.0.0-beta 0.9.0", "1.0.0-rc.1 1.0.0 0.9.0-beta"},
    {">1.0.0-alpha <1.0.0-rc", "1.0.0-beta", "1.0.0-alpha 1.0.0-rc 1.0.0"},
};

/* Each space-separated version of `list` satisfies row->range (want 1) or
 * not (want 0), through both the two-step and the one-call API. */
static void check_list(const match_row *row, const char *list, int want)
{
    tp_semver_range r;
    tp_error err = {0};
    ck_assert_msg(tp_semver_range_parse(row->range, &r, &err) == 0, "range \"%s\": %s", row->range,
                  err.msg);
    char buf[400];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *v = strtok_r(buf, " ", &save); v; v = strtok_r(NULL, " ", &save)) {
        tp_semver sv;
        ck_assert_msg(tp_semver_parse(v, &sv) == 0, "bad test version %s", v);
        ck_assert_msg(tp_semver_range_match(&r, &sv) == want, "\"%s\" %s %s", row->range,
                      want ? "should match" : "should not match", v);
        ck_assert_int_eq(tp_semver_satisfies(row->range, v, &err), want);
    }
}

static void check_rows(const match_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        check_list(&rows[i], rows[i].yes, 1);
        check_list(&rows[i], rows[i].no, 0);
    }
}

START_TEST(range_exact_and_comparators)
{
    check_rows(plain_rows, N(plain_rows));
}
END_TEST

START_TEST(range_caret_and_tilde)
{
    check_rows(caret_tilde_rows, N(caret_tilde_rows));
}
END_TEST

START_TEST(range_wildcards)
{
    check_rows(wildcard_rows, N(wildcard_rows));
}
END_TEST

START_TEST(range_prereleases)
{
    check_rows(prerelease_rows, N(prerelease_rows));
}
END_TEST

/* What a form expands to: ^, ~ and wildcards make two comparators, an
 * exact version one, "*" none; eight fit, a ninth is refused. */
START_TEST(range_expansion_and_bound)
{
    tp_semver_range r;
    tp_error err = {0};
    ck_assert_int_eq(tp_semver_range_parse("^0.2.3", &r, &err), 0);
    ck_assert_uint_eq(r.n, 2);
    ck_assert_int_eq(r.c[0].op, TP_SEMVER_GE);
    ck_assert_int_eq(r.c[1].op, TP_SEMVER_LT);
    char buf[TP_SEMVER_STR_MAX];
    ck_assert_str_eq(tp_semver_format(&r.c[0].v, buf, sizeof buf), "0.2.3");
    ck_assert_str_eq(tp_semver_format(&r.c[1].v, buf, sizeof buf), "0.3.0");
    ck_assert_int_eq(tp_semver_range_parse(">1.2", &r, &err), 0);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_int_eq(r.c[0].op, TP_SEMVER_GE);
    ck_assert_str_eq(tp_semver_format(&r.c[0].v, buf, sizeof buf), "1.3.0");
    ck_assert_int_eq(tp_semver_range_parse("1.0.1", &r, &err), 0);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_int_eq(r.c[0].op, TP_SEMVER_EQ);
    ck_assert_int_eq(tp_semver_range_parse("*", &r, &err), 0);
    ck_assert_uint_eq(r.n, 0);
    ck_assert_int_eq(tp_semver_range_parse("^1 ~1.2 1.x >=1.0.0 <2", &r, &err), 0);
    ck_assert_uint_eq(r.n, 8);
    ck_assert_int_eq(tp_semver_range_parse("^1 ~1.2 1.x >=1.0.0 <2 <3", &r, &err), TP_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "more than 8"));
    ck_assert_uint_eq(r.n, 0); /* nothing half-parsed is left behind */
}
END_TEST

static const char *const bad_ranges[] = {
    "",
    "   ",
    ">",
    ">=",
    "=",
    "^",
    "~",
    "1.2.3 || 2.0.0",
    "1.0.0 - 2.0.0",
    "1.2.3-",
    "01.2",
    "1.02",
    ">*",
    "<x",
    "~>1.2",
    "=>1.2",
    "==1.2.3",
    ">=>1.2",
    "1.2.3.4",
    "1.x.3",
    "*.1",
    "1.2-beta",
    "1.x-beta",
    "^1.2.3,<2",
    ">=1.2.3<2",
    "v1.2.3",
    "latest",
    "1.2.3 junk",
    ">" U64MAX,
    "^" U64MAX,
    "~0." U64MAX,
    "<=0." U64MAX,
    "1.2." U64OVER,
    "1.2.3\n",
};

START_TEST(range_refuses_bad_ones)
{
    for (size_t i = 0; i < N(bad_ranges); i++) {
        tp_semver_range r;
        tp_error err = {0};
        int rc = tp_semver_range_parse(bad_ranges[i], &r, &err);
        ck_assert_msg(rc == TP_ECONFIG, "accepted range \"%s\"", bad_ranges[i]);
        ck_assert_int_eq(err.code, TP_ECONFIG);
        char quoted[120];
        snprintf(quoted, sizeof quoted, "version range \"%s\"", bad_ranges[i]);
        ck_assert_msg(strstr(err.msg, quoted) != NULL, "message does not name the range: %s",
                      err.msg);
        ck_assert_msg(strstr(err.msg, "^1.2.3, ~1.2.3") != NULL, "no accepted forms: %s", err.msg);
        ck_assert_uint_eq(r.n, 0);
    }
    tp_semver_range r;
    ck_assert_int_eq(tp_semver_range_parse(NULL, &r, NULL), TP_ECONFIG);
}
END_TEST

START_TEST(range_message_is_bounded)
{
    char longer[3000];
    memset(longer, '1', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    tp_semver_range r;
    tp_error err = {0};
    ck_assert_int_eq(tp_semver_range_parse(longer, &r, &err), TP_ECONFIG);
    ck_assert_uint_lt(strlen(err.msg), sizeof err.msg - 1);
    ck_assert_ptr_nonnull(strstr(err.msg, "use an exact version"));
}
END_TEST

START_TEST(satisfies_reports_each_failure)
{
    tp_error err = {0};
    ck_assert_int_eq(tp_semver_satisfies("^1.0.0", "1.4.2", &err), 1);
    ck_assert_int_eq(tp_semver_satisfies("^1.0.0", "2.0.0", &err), 0);
    ck_assert_int_eq(tp_semver_satisfies("^1.0.0", "1.4", &err), TP_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "version \"1.4\""));
    ck_assert_ptr_nonnull(strstr(err.msg, "MAJOR.MINOR.PATCH"));
    ck_assert_int_eq(tp_semver_satisfies("^1.0.0", NULL, &err), TP_EINVAL);
    ck_assert_int_eq(tp_semver_satisfies("1.0.0 ||", "1.0.0", &err), TP_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "\"1.0.0 ||\""));
    ck_assert_int_eq(tp_semver_satisfies("^1", "1.0.0", NULL), 1);
    ck_assert_int_eq(tp_semver_satisfies("^1", "x", NULL), TP_EINVAL);
}
END_TEST

/* --------------------------------------------------------------- picking */

START_TEST(pick_highest_installed)
{
    const char *installed[] = {"1.0.0", "junk", NULL, "1.0.1", "2.0.0-beta", "0.9.0", "1.0.1"};
    size_t n = N(installed);
    tp_semver_range r;
    ck_assert_int_eq(tp_semver_pick(NULL, installed, n), 3); /* the first of two 1.0.1 */
    ck_assert_int_eq(tp_semver_range_parse("1.0.0", &r, NULL), 0);
    ck_assert_int_eq(tp_semver_pick(&r, installed, n), 0);
    ck_assert_int_eq(tp_semver_range_parse("<1", &r, NULL), 0);
    ck_assert_int_eq(tp_semver_pick(&r, installed, n), 5);
    ck_assert_int_eq(tp_semver_range_parse("^2.0.0-alpha", &r, NULL), 0);
    ck_assert_int_eq(tp_semver_pick(&r, installed, n), 4);
    ck_assert_int_eq(tp_semver_range_parse(">=3", &r, NULL), 0);
    ck_assert_int_eq(tp_semver_pick(&r, installed, n), -1);
    const char *pre_only[] = {"1.0.0-alpha", "1.0.0-beta", "bad"};
    ck_assert_int_eq(tp_semver_pick(NULL, pre_only, 3), 1);
    ck_assert_int_eq(tp_semver_range_parse("*", &r, NULL), 0);
    ck_assert_int_eq(tp_semver_pick(&r, pre_only, 3), -1);
    const char *builds[] = {"1.0.0+b", "1.0.0+a"}; /* a tie: the higher string wins */
    ck_assert_int_eq(tp_semver_pick(NULL, builds, 2), 0);
    ck_assert_int_eq(tp_semver_pick(NULL, builds, 0), -1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("semver");
    TCase *t = tcase_create("semver");
    tcase_add_test(t, parse_accepts_semver);
    tcase_add_test(t, parse_refuses_the_rest);
    tcase_add_test(t, parse_bounds_prerelease_and_build);
    tcase_add_test(t, precedence_table);
    tcase_add_test(t, precedence_ignores_build);
    tcase_add_test(t, string_order_is_total);
    tcase_add_test(t, range_exact_and_comparators);
    tcase_add_test(t, range_caret_and_tilde);
    tcase_add_test(t, range_wildcards);
    tcase_add_test(t, range_prereleases);
    tcase_add_test(t, range_expansion_and_bound);
    tcase_add_test(t, range_refuses_bad_ones);
    tcase_add_test(t, range_message_is_bounded);
    tcase_add_test(t, satisfies_reports_each_failure);
    tcase_add_test(t, pick_highest_installed);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run_suite(suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
