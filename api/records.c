/* records.c -- GET /api/records: the typed sales records of a date range,
 * a keyset page at a time, in (date, branch, terminal, file, line) order;
 * the cursor is the last record's key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/reports.h"
#include "db/records.h"
#include "routes.h"

/* A records cursor: the five key values of the last record seen (a JSON
 * array, base64url: date, branch, terminal, file, line, as the page gave
 * them), as text into key[]; 0, or -1 when it is not one this server gave
 * -- every field checked, so nothing malformed reaches the database. */
int tp__records_cursor(const char *cursor, char *key[5])
{
    char raw[1024];
    if (tp__cursor_decode(cursor, "", raw, sizeof raw) < 0)
        return -1;
    json_t *cj = json_loads(raw, 0, NULL);
    json_t *f[5];
    for (size_t i = 0; i < 5; i++)
        f[i] = json_array_get(cj, i);
    const char *date = json_string_value(f[0]), *branch = json_string_value(f[1]),
               *file = json_string_value(f[3]);
    json_int_t pos = json_integer_value(f[2]), line = json_integer_value(f[4]);
    int ok = json_is_array(cj) && json_array_size(cj) == 5 && date && tp_date_valid(date) &&
             branch && tp_branch_code_valid(branch) && json_is_integer(f[2]) && pos >= 1 &&
             pos <= 99 && file && json_string_length(f[3]) == strlen(file) && *file &&
             strlen(file) < 256 && json_is_integer(f[4]) && line >= 0;
    if (ok)
        ok = (key[0] = strdup(date)) && (key[1] = strdup(branch)) &&
             asprintf(&key[2], "%lld", (long long)pos) >= 0 && (key[3] = strdup(file)) &&
             asprintf(&key[4], "%lld", (long long)line) >= 0;
    json_decref(cj);
    return ok ? 0 : -1;
}

void tp__records_list(tp_req *req)
{
    tp_records_query q = {.start = tp_query(req, "start"),
                          .end = tp_query(req, "end"),
                          .item = tp_query(req, "item")};
    const char *limit, *cursor = tp_query(req, "cursor");
    if (tp__read_range(req, q.start, q.end, NULL) < 0 ||
        tp__param(req, "branch", tp_branch_code_valid, "a branch code", &q.branch) < 0 ||
        tp__param(req, "pos", tp__ok_pos, "a terminal number 1-99", &q.pos) < 0 ||
        tp__param(req, "limit", tp__ok_limit, "1-500", &limit) < 0 ||
        tp__param(req, "plugin_sha256", tp__ok_sha256, "a plugin build's sha256 (64 hex)",
                  &q.plugin_sha256) < 0)
        return;
    if (q.item && strlen(q.item) > 64) {
        tp_reply_problem(req, 400, "invalid_parameter", "item: at most 64 characters");
        return;
    }
    char *key[5] = {0};
    if (cursor && tp__records_cursor(cursor, key) < 0) {
        tp_reply_problem(req, 400, "invalid_parameter", "cursor: not one this server gave");
    } else {
        q.after = cursor ? (const char *const *)key : NULL;
        q.limit = tp__limit(limit, 100);
        tp_list_page page;
        tp_error err = {0};
        if (tp_records_page(req->db, tp_server_totals(req->srv), &q, &page, &err) < 0)
            tp_reply_db_error(req, &err);
        else
            tp__reply_page(req, &page, "");
    }
    for (int i = 0; i < 5; i++)
        free(key[i]);
}
