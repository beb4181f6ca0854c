/* test_branch_limits.c -- the branch configuration's limits (engine/core/
 * config.c): a name of 1-100 characters without control characters, each
 * terminal once, a code of at most 32 characters, a report_server URL of at
 * most 512 bytes; each refusal names the key, and what is within the limits
 * still loads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "testutil.h"

/* {"branches": [{"code": "A", FIELD}]} */
static tp_config *one(const char *field, tp_error *err)
{
    char text[2048];
    snprintf(text, sizeof text, "{\"branches\": [{\"code\": \"A\", %s}]}", field);
    return tp_config_parse(text, "test", err);
}

#define fails(field, want) fails_at(__LINE__, field, want)
static void fails_at(int line, const char *field, const char *want)
{
    tp_error err = {0};
    tp_config *c = one(field, &err);
    ck_assert_msg(!c, "line %d: %s loaded", line, field);
    ck_assert_msg(err.code == TP_ECONFIG && strstr(err.msg, want), "line %d: %s: %s", line, field,
                  err.msg);
}

static void loads(const char *field)
{
    tp_error err = {0};
    tp_config *c = one(field, &err);
    ck_assert_msg(c, "%s: %s", field, err.msg);
    tp_config_destroy(c);
}

/* A JSON string member "key": "<n copies of unit>". */
static char *repeated(const char *key, const char *prefix, const char *unit, int n)
{
    size_t len = strlen(key) + strlen(prefix) + strlen(unit) * (size_t)n + 16;
    char *s = malloc(len);
    int at = snprintf(s, len, "\"%s\": \"%s", key, prefix);
    for (int i = 0; i < n; i++)
        at += snprintf(s + at, len - (size_t)at, "%s", unit);
    snprintf(s + at, len - (size_t)at, "\"");
    return s;
}

START_TEST(names_have_a_sane_length)
{
    char *max = repeated("name", "", "\\u00e9", 100); /* 100 characters, 200 bytes */
    char *over = repeated("name", "", "x", 101);
    loads(max);
    fails(over, "branches[0].name: must be 1-100 characters");
    fails("\"name\": \"\"", "branches[0].name: must be 1-100 characters");
    fails("\"name\": \"tab\\there\"", "branches[0].name");
    fails("\"name\": 7", "branches[0].name");
    free(max);
    free(over);
    tp_error err = {0};
    ck_assert_ptr_null(tp_config_parse(
        "{\"branches\": [{\"code\": \"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456\"}]}", "test", &err));
    ck_assert_msg(strstr(err.msg, "branches[0].code: must be 1-32"), "%s", err.msg);
}
END_TEST

START_TEST(terminals_are_listed_once)
{
    loads("\"terminals\": [1, 2, 3]");
    fails("\"terminals\": [1, 2, 1]", "branches[0].terminals: terminal 1 is listed twice");
    fails("\"terminals\": [7, 7]", "terminal 7 is listed twice");
}
END_TEST

START_TEST(report_servers_have_a_sane_length)
{
    char *max = repeated("report_server", "https://r.example/", "a", 512 - 18);
    char *over = repeated("report_server", "https://r.example/", "a", 512 - 17);
    loads(max);
    fails(over, "branches[0].report_server: must be an http:// or https:// base URL of at most");
    fails("\"report_server\": \"ftp://r.example\"", "branches[0].report_server");
    loads("\"report_server\": null");
    free(max);
    free(over);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("branch_limits");
    TCase *t = tcase_create("branch_limits");
    tcase_add_test(t, names_have_a_sane_length);
    tcase_add_test(t, terminals_are_listed_once);
    tcase_add_test(t, report_servers_have_a_sane_length);
    suite_add_tcase(s, t);
    return tu_run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
