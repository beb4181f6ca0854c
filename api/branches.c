/* branches.c -- the branches resource: GET /api/branches, POST
 * /api/branches (admin: create or update one, checked as the
 * configuration is) and POST /api/branches/{code}/test-parse (a sample file
 * through the plugin the branch would use; nothing stored). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/reports.h"
#include "core/schema.h"
#include "db/branches.h"
#include "pipeline/parse.h"
#include "routes.h"

void tp__branches_list(tp_req *req)
{
    tp_error err = {0};
    char *s = tp_branches_list_json(req->db, &err);
    if (s)
        tp_reply_owned(req, 200, "application/json", s, strlen(s));
    else
        tp_reply_db_error(req, &err);
}

/* The body as a one-branch configuration; NULL after replying 400. */
static tp_config *body_config(tp_req *req)
{
    json_t *b = tp_body_object(req);
    if (!b)
        return NULL;
    json_t *wrap = json_pack("{s:[O]}", "branches", b);
    char *text = wrap ? json_dumps(wrap, JSON_COMPACT) : NULL;
    json_decref(wrap);
    json_decref(b);
    tp_error err = {0};
    tp_config *cfg = text ? tp_config_parse(text, "request body", &err) : NULL;
    free(text);
    if (!cfg) {
        /* "request body: branches[0].pos: ..." -> the key path without the wrapper */
        const char *m = strstr(err.msg, "branches[0]");
        tp_reply_problem(req, 400, "invalid_body", "%s", m ? m + 11 + (m[11] == '.') : err.msg);
    }
    return cfg;
}

/* Every parser the branch names is a loaded plugin that parses its type:
 * 0, or -1 after replying 422. */
static int parsers_loaded(tp_req *req, const tp_branch_cfg *bc)
{
    const tp_registry *reg = tp__plugins_get(req);
    int rc = 0;
    for (int t = 0; reg && rc == 0 && t < TP_TYPE_COUNT; t++) {
        const char *type = tp_schema_of(t)->name, *name = tp_branch_plugin(bc, type);
        const tp_plugin *pl = name ? tp_registry_find(reg, name) : NULL;
        if (name && !(pl && tp_plugin_parses(pl, type))) {
            tp_reply_problem(req, 422, "unknown_plugin",
                             "parsers.%s: %s is not a loaded plugin that parses %s"
                             " (GET /api/plugins)",
                             type, name, type);
            rc = -1;
        }
    }
    tp__plugins_put(req, reg);
    return rc;
}

void tp__branches_upsert(tp_req *req)
{
    tp_config *cfg = body_config(req);
    if (!cfg)
        return;
    const tp_branch_cfg *bc = tp_config_at(cfg, 0);
    tp_error err = {0};
    int existed = 0;
    char *s = NULL;
    if (parsers_loaded(req, bc) == 0) {
        if (tp_branch_exists(req->db, bc->code, &existed, &err) < 0 ||
            tp_branch_upsert(req->db, bc, NULL, &err) < 0 ||
            !(s = tp_branch_get_json(req->db, bc->code, &err))) {
            tp_reply_db_error(req, &err);
        } else {
            tp_audit(req, existed ? "branch.update" : "branch.create", bc->code, NULL);
            tp_reply_owned(req, existed ? 200 : 201, "application/json", s, strlen(s));
        }
    }
    tp_config_destroy(cfg);
}

/* ------------------------------------------------------------ test-parse */

#define PREVIEW_ROWS 20
#define PREVIEW_PROBLEMS 50

typedef struct preview {
    const tp_schema *schema;
    json_t *rows, *problems;
} preview;

static int preview_row(void *ud, uint64_t line, const tp_field *f, size_t n)
{
    preview *pv = ud;
    if (json_array_size(pv->rows) >= PREVIEW_ROWS)
        return 0;
    json_t *fields = json_object();
    for (size_t i = 0; i < n && i < pv->schema->nfields; i++)
        json_object_set_new(fields, pv->schema->field_names[i], json_stringn(f[i].ptr, f[i].len));
    json_array_append_new(pv->rows,
                          json_pack("{s:I, s:o}", "line", (json_int_t)line, "fields", fields));
    return 0;
}

static void preview_problem(void *ud, uint64_t line, int severity, const char *reason)
{
    preview *pv = ud;
    if (json_array_size(pv->problems) < PREVIEW_PROBLEMS)
        json_array_append_new(pv->problems,
                              json_pack("{s:I, s:s, s:s}", "line", (json_int_t)line, "severity",
                                        severity == TP_PROBLEM_ERROR ? "error" : "warning",
                                        "reason", reason));
}

/* The upload is there and whole: 0, or -1 after replying. */
static int upload_ok(tp_req *req)
{
    if (req->upload_bad == 1) {
        tp_reply_problem(req, 413, "body_too_large", "the file is over %zu bytes",
                         tp_server_opts(req->srv)->max_upload);
        return -1;
    }
    if (req->upload_bad == 2 || (!req->upload && !req->upload_bad)) {
        tp_reply_problem(req, 400, "invalid_body",
                         "send multipart/form-data with the report in a field named \"file\""
                         " (and optionally \"type\")");
        return -1;
    }
    if (req->upload_bad || fflush(req->upload) != 0) {
        tp_reply_problem(req, 503, "upload_failed", "the upload could not be kept for parsing");
        return -1;
    }
    return 0;
}

/* The report type: the form's "type" field, else the file's report name;
 * -1 after replying 400. */
static int upload_type(tp_req *req)
{
    tp_report_name rn;
    int named = tp_report_name_parse(req->upload_name, &rn, NULL) == 0;
    const char *type = req->upload_type[0] ? req->upload_type
                       : named             ? tp_schema_of(rn.type)->name
                                           : NULL;
    int t = type ? tp_schema_find(type) : -1;
    if (t < 0)
        tp_reply_problem(req, 400, "invalid_body",
                         "the report type: a \"type\" field (%s) or a report file name",
                         tp_schema_names());
    return t;
}

/* Parse the upload as `t` with `pl`, options as the branch gives them. */
static json_t *parse_upload(tp_req *req, const tp_branch_cfg *bc, int t, const tp_plugin *pl,
                            const char *why)
{
    const char *type = tp_schema_of(t)->name;
    preview pv = {tp_schema_of(t), json_array(), json_array()};
    tp_parse_sink sink = {preview_row, preview_problem, &pv};
    tp_branch_type bt = {bc, type};
    tp_parse_options po = {.get = tp_branch_type_option, .at = tp_branch_type_option_at, .ud = &bt};
    tp_parse_stats st = {0};
    tp_error err = {0};
    rewind(req->upload);
    int rc =
        tp_parse_stream(pl, (tp_report_type)t, req->upload,
                        req->upload_name[0] ? req->upload_name : "upload", &po, &sink, &st, &err);
    json_t *o = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:I, s:I, s:I, s:I, s:o, s:o}",
                          "file", req->upload_name, "type", type, "branch", bc->code, "plugin",
                          "name", pl->desc->name, "version", pl->desc->version, "sha256",
                          pl->sha256, "why", why, "bytes", (json_int_t)st.bytes, "rows",
                          (json_int_t)st.rows, "rejected", (json_int_t)st.rejected, "warnings",
                          (json_int_t)st.warnings, "preview", pv.rows, "problems", pv.problems);
    if (o)
        json_object_set_new(o, "error", rc < 0 ? json_string(err.msg) : json_null());
    return o;
}

/* One uploaded report file through the plugin the branch would use, as it
 * would run in a job: a preview of the rows and the problems.  Nothing is
 * stored. */
void tp__branch_test_parse(tp_req *req)
{
    if (upload_ok(req) < 0)
        return;
    tp_error err = {0};
    tp_config *cfg = tp_branches_config(req->db, req->code, &err);
    if (!cfg) {
        if (err.code == TP_EDB)
            tp_reply_db_error(req, &err);
        else
            tp_reply_problem(req, 404, "not_found", "no branch %s", req->code);
        return;
    }
    int t = upload_type(req);
    const tp_branch_cfg *bc = tp_config_at(cfg, 0);
    const tp_registry *reg = tp__plugins_get(req);
    const char *type = t >= 0 ? tp_schema_of(t)->name : NULL;
    char why[160];
    const tp_plugin *pl =
        reg && type ? tp_registry_resolve(reg, type, bc->code, tp_branch_plugin(bc, type),
                                          tp_branch_plugin_version(bc, type), why, sizeof why, &err)
                    : NULL;
    if (t >= 0 && !pl)
        tp_reply_problem(req, 422, "unknown_plugin", "no plugin parses %s for %s", type, bc->code);
    else if (pl)
        tp_reply_json(req, 200, parse_upload(req, bc, t, pl, why));
    tp__plugins_put(req, reg);
    tp_config_destroy(cfg);
}
