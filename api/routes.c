/* routes.c -- the route table (docs/openapi.yaml describes each route;
 * test_api checks that the two agree) and what the handlers share. */
#include "routes.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/reports.h"
#include "io/sha.h"
#include "store/store.h"

int tp__lookup_failed(tp_req *req, int rc, const tp_error *err, const char *what)
{
    if (rc == TP_OK)
        return 0;
    if (rc == TP_ENOTFOUND)
        tp_reply_problem(req, 404, "not_found", "no such %s", what);
    else
        tp_reply_db_error(req, err);
    return -1;
}

int tp__open_stored(tp_req *req, const char *key, const char *sha256, const char *name)
{
    tp_store *st = tp_server_opts(req->srv)->store;
    tp_error err = {0};
    int fd = st ? tp_store_open_fd(st, key, &err) : -1;
    char hex[TP_SHA256_HEX];
    if (fd < 0 || tp_sha256_fd(fd, key, hex, NULL, &err) < 0) {
        if (fd >= 0)
            close(fd);
        tp_reply_problem(req, 503, "store_unavailable",
                         "the raw file could not be read from the store");
        return -1;
    }
    if (strcmp(hex, sha256) != 0) {
        close(fd);
        tp_reply_problem(req, 500, "store_corrupt",
                         "the stored copy of %s (%s) is corrupt: its bytes are not the ones "
                         "its sha256 names",
                         name, key);
        return -1;
    }
    return fd;
}

/* ------------------------------------------------------------ parameters */

int tp__param(tp_req *req, const char *name, int (*ok)(const char *), const char *want,
              const char **out)
{
    *out = tp_query(req, name);
    if (*out && !ok(*out)) {
        tp_reply_problem(req, 400, "invalid_parameter", "%s: want %s", name, want);
        return -1;
    }
    return 0;
}

/* `s` is a whole number in [min, max], digits only (strtoll alone also
 * takes leading space and a sign: "j:\f3" passed as a jobs cursor). */
static int whole(const char *s, long long min, long long max)
{
    char *end;
    if (*s < '0' || *s > '9')
        return 0;
    long long v = strtoll(s, &end, 10);
    return !*end && v >= min && v <= max && strlen(s) <= 18;
}

int tp__ok_date(const char *s)
{
    return tp_date_valid(s);
}

int tp__ok_pos(const char *s)
{
    return whole(s, 1, 99);
}

int tp__ok_limit(const char *s)
{
    return whole(s, 1, 500);
}

int tp__ok_sha256(const char *s)
{
    return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

int tp__ok_id(const char *s)
{
    return whole(s, 1, 999999999999999999LL);
}

int tp__ok_status(const char *s)
{
    static const char *const st[] = {"queued", "running", "succeeded", "failed", "cancelled"};
    for (size_t i = 0; i < sizeof st / sizeof *st; i++)
        if (strcmp(s, st[i]) == 0)
            return 1;
    return 0;
}

int tp__limit(const char *s, int dflt)
{
    return s ? (int)strtol(s, NULL, 10) : dflt;
}

int tp__read_range(tp_req *req, const char *start, const char *end, const char *branch)
{
    if (!start || !end || !tp_date_valid(start) || !tp_date_valid(end)) {
        tp_reply_problem(req, 400, "invalid_parameter", "start and end: want YYYY-MM-DD dates");
        return -1;
    }
    if (strcmp(start, end) > 0) {
        tp_reply_problem(req, 400, "invalid_parameter", "start is after end");
        return -1;
    }
    struct tm a = {0}, b = {0};
    strptime(start, "%Y-%m-%d", &a);
    strptime(end, "%Y-%m-%d", &b);
    if (difftime(timegm(&b), timegm(&a)) > 86400.0 * (TP_RANGE_MAX_DAYS - 1)) {
        tp_reply_problem(req, 400, "invalid_parameter", "at most %d days at a time",
                         TP_RANGE_MAX_DAYS);
        return -1;
    }
    if (branch && !tp_branch_code_valid(branch)) {
        tp_reply_problem(req, 400, "invalid_parameter", "branch: want a branch code");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ list pages */

void tp__reply_page(tp_req *req, tp_list_page *page, const char *prefix)
{
    char next[1500] = "null";
    if (page->next) {
        char raw[1024];
        int n = snprintf(raw, sizeof raw, "%s%s", prefix, page->next);
        if (n > 0 && (size_t)n < sizeof raw) {
            next[0] = '"';
            sodium_bin2base64(next + 1, sizeof next - 2, (const unsigned char *)raw, (size_t)n,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING);
            size_t l = strlen(next);
            snprintf(next + l, sizeof next - l, "\"");
        }
    }
    char tail[1700];
    int tl = snprintf(tail, sizeof tail, ",\"next\":%s,\"total\":%lld,\"total_exact\":%s}\n", next,
                      page->total, page->total_exact ? "true" : "false");
    static const char head[] = "{\"items\":";
    size_t hl = sizeof head - 1, il = page->items_len;
    char *out = malloc(hl + il + (size_t)tl + 1);
    if (out) { /* the items as the database wrote them, not parsed again */
        memcpy(out, head, hl);
        memcpy(out + hl, page->items, il);
        memcpy(out + hl + il, tail, (size_t)tl + 1);
        tp_reply_owned(req, 200, "application/json", out, hl + il + (size_t)tl);
    } else {
        tp_reply_problem(req, 500, "internal", "out of memory");
    }
    tp_list_page_clear(page);
}

int tp__cursor_decode(const char *cursor, const char *prefix, char *buf, size_t cap)
{
    size_t n = 0, pl = strlen(prefix), cl = strlen(cursor);
    if (cap < 2 || cl > (cap - 1) / 3 * 4 + 3 ||
        sodium_base642bin((unsigned char *)buf, cap - 1, cursor, cl, NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return -1;
    buf[n] = '\0';
    if (n < pl || memcmp(buf, prefix, pl) != 0 || strlen(buf) != n)
        return -1;
    memmove(buf, buf + pl, n - pl + 1);
    return 0;
}

/* ------------------------------------------------------------ the table */

const tp_route tp_routes[] = {
    {"GET", "/livez", TP_ROLE_NONE, tp__livez, "livez", 1, 0, 0, 0},
    {"GET", "/readyz", TP_ROLE_NONE, tp__readyz, "readyz", 1, 0, 0, 0},
    {"GET", "/metrics", TP_ROLE_NONE, tp__metrics, "metrics", 1, 0, 0, 0},
    {"POST", "/api/auth/login", TP_ROLE_NONE, tp__login, "auth_login", 1, 0, 0, 0},
    {"POST", "/api/auth/logout", TP_ROLE_VIEWER, tp__logout, "auth_logout", 0, 0, 0, 0},
    {"POST", "/api/jobs/fetch", TP_ROLE_OPERATOR, tp__jobs_fetch, "jobs_fetch", 0, TP_LIMIT_QUEUE,
     0, 0},
    {"GET", "/api/jobs", TP_ROLE_VIEWER, tp__jobs_list, "jobs_list", 0, 0, 0, 1},
    {"GET", "/api/jobs/{id}", TP_ROLE_VIEWER, tp__job_get, "job_get", 0, 0, 0, 0},
    {"POST", "/api/jobs/{id}/retry", TP_ROLE_OPERATOR, tp__job_retry, "job_retry", 0,
     TP_LIMIT_QUEUE, 0, 0},
    {"POST", "/api/jobs/{id}/cancel", TP_ROLE_OPERATOR, tp__job_cancel, "job_cancel", 0, 0, 0, 0},
    {"GET", "/api/jobs/{id}/bundle", TP_ROLE_VIEWER, tp__job_bundle, "job_bundle", 0, 0, 0, 0},
    {"GET", "/api/branches", TP_ROLE_VIEWER, tp__branches_list, "branches_list", 0, 0, 0, 0},
    {"POST", "/api/branches", TP_ROLE_ADMIN, tp__branches_upsert, "branches_upsert", 0, 0, 0, 0},
    {"GET", "/api/branches/{code}", TP_ROLE_VIEWER, tp__branch_get, "branch_get", 0, 0, 0, 0},
    {"PUT", "/api/branches/{code}", TP_ROLE_ADMIN, tp__branch_put, "branch_put", 0, 0, 0, 0},
    {"PATCH", "/api/branches/{code}", TP_ROLE_ADMIN, tp__branch_patch, "branch_patch", 0, 0, 0, 0},
    {"POST", "/api/branches/{code}/test-parse", TP_ROLE_OPERATOR, tp__branch_test_parse,
     "test_parse", 0, 0, 1, 0},
    {"GET", "/api/missing", TP_ROLE_VIEWER, tp__missing_get, "missing_get", 0, 0, 0, 0},
    {"POST", "/api/missing/run", TP_ROLE_OPERATOR, tp__missing_run, "missing_run", 0,
     TP_LIMIT_QUEUE, 0, 0},
    {"GET", "/api/plugins", TP_ROLE_VIEWER, tp__plugins_list, "plugins_list", 0, 0, 0, 0},
    {"DELETE", "/api/plugins/quarantine/{sha256}", TP_ROLE_ADMIN, tp__plugin_unquarantine,
     "plugin_unquarantine", 0, 0, 0, 0},
    {"POST", "/api/plugins/reload", TP_ROLE_ADMIN, tp__plugins_reload, "plugins_reload", 0, 0, 0,
     0},
    {"GET", "/api/audit", TP_ROLE_ADMIN, tp__audit_list, "audit_list", 0, 0, 0, 0},
    {"GET", "/api/files", TP_ROLE_VIEWER, tp__files_list, "files_list", 0, 0, 0, 0},
    {"GET", "/api/files/{id}/download", TP_ROLE_VIEWER, tp__file_download, "file_download", 0, 0, 0,
     0},
    {"GET", "/api/records", TP_ROLE_VIEWER, tp__records_list, "records_list", 0, 0, 0, 1},
    {"GET", "/api/records/export", TP_ROLE_VIEWER, tp__records_export, "records_export", 0, 0, 0,
     0},
    {"GET", "/api/events", TP_ROLE_VIEWER, tp__events, "events", 1, 0, 0, 0},
};
const int tp_nroutes = (int)(sizeof tp_routes / sizeof *tp_routes);
