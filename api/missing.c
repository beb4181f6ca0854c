/* missing.c -- missing data: GET /api/missing (which terminal-days of a
 * range have no records yet, and why) and POST /api/missing/run (queue
 * them: from a range, or from a map of the cells wanted). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/reports.h"
#include "db/missing.h"
#include "db/queue.h"
#include "routes.h"

#define MAP_MAX_CELLS 10000 /* cells a map may ask for */

typedef struct map_ctx {
    json_t *map;
    int detail; /* every state (not ok) by date, instead of the missing dates */
} map_ctx;

/* map[branch][pos] gets the cell: the date appended, or date -> state. */
static int map_put(void *ud, const char *branch, int pos, const char *date, const char *state)
{
    map_ctx *m = ud;
    if (strcmp(state, "ok") == 0 || (!m->detail && strcmp(state, "flagged") == 0))
        return 0; /* not missing (a flagged day has its records) */
    char spos[16];
    snprintf(spos, sizeof spos, "%d", pos);
    json_t *b = json_object_get(m->map, branch);
    if (!b)
        json_object_set_new(m->map, branch, b = json_object());
    json_t *p = json_object_get(b, spos);
    if (!p)
        json_object_set_new(b, spos, p = m->detail ? json_object() : json_array());
    if (m->detail)
        json_object_set_new(p, date, json_string(state));
    else
        json_array_append_new(p, json_string(date));
    return 0;
}

void tp__missing_get(tp_req *req)
{
    const char *start = tp_query(req, "start"), *end = tp_query(req, "end"),
               *branch = tp_query(req, "branch"), *detail = tp_query(req, "detail");
    if (tp__read_range(req, start, end, branch) < 0)
        return;
    if (detail && strcmp(detail, "0") != 0 && strcmp(detail, "1") != 0) {
        tp_reply_problem(req, 400, "invalid_parameter", "detail: want 0 or 1");
        return;
    }
    map_ctx m = {json_object(), detail && detail[0] == '1'};
    tp_error err = {0};
    if (tp_missing_cells(req->db, start, end, branch, map_put, &m, &err) < 0) {
        json_decref(m.map);
        tp_reply_db_error(req, &err);
        return;
    }
    tp_reply_json(req, 200, m.map);
}

/* A cell to queue: missing or failed. */
static int cell_put(void *ud, const char *branch, int pos, const char *date, const char *state)
{
    if (strcmp(state, "missing") == 0 || strcmp(state, "failed") == 0)
        json_array_append_new(
            ud, json_pack("{s:s, s:i, s:s}", "branch", branch, "pos", pos, "date", date));
    return 0;
}

/* The cells of {start, end[, branch]} to queue: 0, or -1 after a reply. */
static int range_cells(tp_req *req, json_t *b, json_t *cells)
{
    const char *start = json_string_value(json_object_get(b, "start"));
    const char *end = json_string_value(json_object_get(b, "end"));
    json_t *jb = json_object_get(b, "branch");
    const char *branch = json_string_value(jb);
    if (jb && !branch) {
        tp_reply_problem(req, 400, "invalid_body", "branch: want a string");
        return -1;
    }
    if (tp__read_range(req, start, end, branch) < 0)
        return -1;
    tp_error err = {0};
    if (tp_missing_cells(req->db, start, end, branch, cell_put, cells, &err) < 0) {
        tp_reply_db_error(req, &err);
        return -1;
    }
    return 0;
}

/* The cells of a map {branch: {pos: [dates]}}: 0, or -1 after a reply. */
int tp__missing_map_cells(tp_req *req, json_t *b, json_t *cells)
{
    const char *code, *ps;
    json_t *terms, *dates, *d;
    size_t n = 0, i;
    json_object_foreach(b, code, terms)
    {
        if (strcmp(code, "dry_run") == 0)
            continue;
        int ok = tp_branch_code_valid(code) && json_is_object(terms);
        json_object_foreach(ok ? terms : NULL, ps, dates)
        {
            ok = ok && tp__ok_pos(ps) && json_is_array(dates);
            json_array_foreach(ok ? dates : NULL, i, d)
            {
                ok = ok && json_is_string(d) && tp_date_valid(json_string_value(d)) &&
                     ++n <= MAP_MAX_CELLS;
                if (ok)
                    json_array_append_new(cells, json_pack("{s:s, s:i, s:O}", "branch", code, "pos",
                                                           (int)strtol(ps, NULL, 10), "date", d));
            }
        }
        if (!ok) {
            tp_reply_problem(req, 400, "invalid_body",
                             "want {\"start\", \"end\"} or {branch: {pos: [\"YYYY-MM-DD\", ...]}}"
                             " (at most %d days)",
                             MAP_MAX_CELLS);
            return -1;
        }
    }
    return 0;
}

/* Queue `cells` (or, dry, say what would be) and answer. */
static void queue_cells(tp_req *req, json_t *cells, int dry_run)
{
    char *cj = json_dumps(cells, JSON_COMPACT), by[80];
    snprintf(by, sizeof by, "api:%s", req->subject);
    tp_cells_result res;
    tp_error err = {0};
    int rc = cj ? tp_queue_enqueue_cells(req->db, cj, dry_run, by, &res, &err)
                : tp_error_set(&err, TP_ENOMEM, "out of memory");
    free(cj);
    if (rc < 0) {
        tp_reply_db_error(req, &err);
        return;
    }
    if (res.unknown > 0) {
        tp_reply_problem(req, 422, "unknown_branch", "unknown branch or terminal: %s%s",
                         res.first_unknown, res.unknown > 1 ? " (and more)" : "");
        free(res.todo_json);
        return;
    }
    json_t *todo = json_loads(res.todo_json, 0, NULL);
    free(res.todo_json);
    if (!dry_run)
        tp_audit(req, "missing.run", NULL,
                 json_pack("{s:I, s:I}", "asked", (json_int_t)json_array_size(cells), "queued",
                           (json_int_t)res.queued));
    tp_reply_json(req, dry_run ? 200 : 202,
                  json_pack("{s:b, s:I, s:I, s:o}", "dry_run", dry_run, "count",
                            (json_int_t)res.todo, "queued", (json_int_t)(dry_run ? 0 : res.queued),
                            "cells", todo ? todo : json_array()));
}

/* The cells to queue: from {start, end[, branch]} (every cell not
 * succeeded and not live), or from a map {branch: {pos: [dates]}}. */
void tp__missing_run(tp_req *req)
{
    json_t *b = tp_body_object(req);
    if (!b)
        return;
    json_t *dry = json_object_get(b, "dry_run");
    if (dry && !json_is_boolean(dry)) {
        json_decref(b);
        tp_reply_problem(req, 400, "invalid_body", "dry_run: want a boolean");
        return;
    }
    json_t *cells = json_array(); /* [{branch, pos, date}] */
    int ranged = json_object_get(b, "start") || json_object_get(b, "end");
    if ((ranged ? range_cells(req, b, cells) : tp__missing_map_cells(req, b, cells)) == 0)
        queue_cells(req, cells, dry && json_is_true(dry));
    json_decref(cells);
    json_decref(b);
}
