/* branches.c -- the branches resource: GET /api/branches and GET
 * /api/branches/{code}; the admin's writes, each checked as the
 * configuration is, against the report-server allow-list and the plugins,
 * and audited -- POST /api/branches and PUT /api/branches/{code} (the
 * whole branch: create or replace), PATCH /api/branches/{code} (an RFC 7396
 * merge patch of some fields); and POST /api/branches/{code}/test-parse (a
 * sample file through the plugin the branch would use; nothing stored). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/reports.h"
#include "core/schema.h"
#include "db/branches.h"
#include "io/allow.h"
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

void tp__branch_get(tp_req *req)
{
    tp_error err = {0};
    char *s = tp_branch_get_json(req->db, req->code, &err);
    if (s)
        tp_reply_owned(req, 200, "application/json", s, strlen(s));
    else if (err.code == TP_ENOTFOUND)
        tp_reply_problem(req, 404, "not_found", "no branch %s", req->code);
    else
        tp_reply_db_error(req, &err);
}

/* ------------------------------------------------------------ checks */

/* Every field of a branch, as GET answers it: what POST and PUT must send. */
static const char *const whole_branch[] = {"code", "name",    "active",       "terminals",
                                           "pos",  "parsers", "report_server"};

/* `b` has every field: 0, or -1 after replying 400 naming the first
 * missing. */
static int complete(tp_req *req, json_t *b, const char *via)
{
    for (size_t i = 0; i < sizeof whole_branch / sizeof *whole_branch; i++) {
        const char *f = whole_branch[i];
        if (json_object_get(b, f))
            continue;
        if (strcmp(via, "PATCH") == 0)
            tp_reply_problem(req, 400, "invalid_body",
                             "%s: cannot be removed: a branch has every field GET "
                             "/api/branches/{code} answers (null removes only report_server: "
                             "the default server; and parsers: none)",
                             f);
        else
            tp_reply_problem(req, 400, "invalid_body",
                             "%s: required: %s sends the whole branch, every field GET "
                             "/api/branches/{code} answers (report_server may be null: the "
                             "default server); PATCH changes some fields",
                             f, via);
        return -1;
    }
    return 0;
}

/* `b` (borrowed) as a one-branch configuration; NULL after replying 400. */
static tp_config *body_config(tp_req *req, json_t *b)
{
    json_t *wrap = json_pack("{s:[O]}", "branches", b);
    char *text = wrap ? json_dumps(wrap, JSON_COMPACT) : NULL;
    json_decref(wrap);
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

/* The branch's report server, if it names one, is on the allow-list: 0,
 * or -1 after replying 400. */
static int server_allowed(tp_req *req, const tp_branch_cfg *bc)
{
    tp_error err = {0};
    if (!bc->report_server || tp_allow_url(tp_server_opts(req->srv)->report_server_allow,
                                           bc->report_server, NULL, &err) == 0)
        return 0;
    tp_reply_problem(req, 400, "report_server_not_allowed", "report_server: %s", err.msg);
    return -1;
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

/* `b` (borrowed), a whole branch, passes every check: its configuration,
 * or NULL after replying 400 or 422. */
static tp_config *checked(tp_req *req, json_t *b, const char *via)
{
    if (complete(req, b, via) < 0)
        return NULL;
    tp_config *cfg = body_config(req, b);
    if (cfg && (server_allowed(req, tp_config_at(cfg, 0)) < 0 ||
                parsers_loaded(req, tp_config_at(cfg, 0)) < 0)) {
        tp_config_destroy(cfg);
        cfg = NULL;
    }
    return cfg;
}

/* ------------------------------------------------------------ writes */

/* What an update changed, for the audit: {field: {"from", "to"}}. */
static json_t *changes(const char *before, const char *after)
{
    json_t *a = json_loads(before, 0, NULL), *b = json_loads(after, 0, NULL), *d = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(b, k, v)
    {
        json_t *old = json_object_get(a, k);
        if (!old || !json_equal(old, v))
            json_object_set_new(d, k, json_pack("{s:O?, s:O}", "from", old, "to", v));
    }
    json_decref(a);
    json_decref(b);
    return d;
}

/* Open the write: a transaction with the branch's row locked and its
 * object as it stands into *before (NULL: no such branch yet).  0, or -1
 * after replying (nothing left open). */
static int write_begin(tp_req *req, char **before)
{
    tp_error err = {0};
    *before = NULL;
    if (tp_db_begin(req->db, &err) == 0) {
        if ((*before = tp_branch_lock_json(req->db, req->code, &err)) || err.code == TP_ENOTFOUND)
            return 0;
        tp_db_end(req->db, TP_EDB, NULL);
    }
    tp_reply_db_error(req, &err);
    return -1;
}

/* Write a checked branch in the transaction write_begin opened, audit it,
 * commit, and answer it (201 when new, else 200). */
static void write_commit(tp_req *req, const tp_config *cfg, const char *before, const char *via)
{
    const tp_branch_cfg *bc = tp_config_at(cfg, 0);
    tp_error err = {0};
    int created = 0;
    char *after = NULL;
    int rc = tp_branch_upsert(req->db, bc, NULL, &created, &err);
    if (rc == TP_OK && !(after = tp_branch_get_json(req->db, bc->code, &err)))
        rc = TP_EDB;
    if (rc == TP_OK) {
        json_t *d = json_pack("{s:s}", "via", via);
        if (before)
            json_object_set_new(d, "changed", changes(before, after));
        tp_audit(req, created ? "branch.create" : "branch.update", bc->code, d);
    }
    if (tp_db_end(req->db, rc, &err) < 0) {
        free(after);
        tp_reply_db_error(req, &err);
        return;
    }
    tp_reply_owned(req, created ? 201 : 200, "application/json", after, strlen(after));
}

/* The whole branch `b` (taken) creates or replaces req->code. */
static void replace(tp_req *req, json_t *b, const char *via)
{
    tp_config *cfg = checked(req, b, via);
    char *before = NULL;
    if (cfg && write_begin(req, &before) == 0)
        write_commit(req, cfg, before, via);
    free(before);
    tp_config_destroy(cfg);
    json_decref(b);
}

/* POST /api/branches: create or replace, the code in the body. */
void tp__branches_upsert(tp_req *req)
{
    json_t *b = tp_body_object(req);
    if (!b)
        return;
    const char *code = json_string_value(json_object_get(b, "code"));
    if (!tp_branch_code_valid(code)) {
        tp_reply_problem(req, 400, "invalid_body", "code: %s",
                         code || json_object_get(b, "code")
                             ? "must be 1-32 letters, digits or '-' (the code in file names)"
                             : "required");
        json_decref(b);
        return;
    }
    snprintf(req->code, sizeof req->code, "%s", code);
    replace(req, b, "POST");
}

/* A body's "code", when it has one, is the path's: 0, or -1 after replying
 * 400. */
static int same_code(tp_req *req, json_t *b)
{
    json_t *code = json_object_get(b, "code");
    if (!code || (json_is_string(code) && strcmp(json_string_value(code), req->code) == 0))
        return 0;
    tp_reply_problem(req, 400, "invalid_body",
                     "code: must be the path's, %s (a branch's code names its files and jobs:"
                     " it is not changed)",
                     req->code);
    return -1;
}

/* PUT /api/branches/{code}: create or replace, the whole branch. */
void tp__branch_put(tp_req *req)
{
    json_t *b = tp_body_object(req);
    if (!b)
        return;
    if (same_code(req, b) < 0) {
        json_decref(b);
        return;
    }
    json_object_set_new(b, "code", json_string(req->code));
    replace(req, b, "PUT");
}

/* RFC 7396: `patch` merged into a copy of `target` (a new reference). */
static json_t *merge_patch(json_t *target, json_t *patch)
{
    if (!json_is_object(patch))
        return json_deep_copy(patch);
    json_t *t = json_is_object(target) ? json_deep_copy(target) : json_object();
    const char *k;
    json_t *v;
    json_object_foreach(patch, k, v)
    {
        if (json_is_null(v))
            json_object_del(t, k);
        else
            json_object_set_new(t, k, merge_patch(json_object_get(t, k), v));
    }
    return t;
}

/* A PATCH body: application/merge-patch+json (RFC 7396) or
 * application/json, an object; NULL after replying. */
static json_t *patch_body(tp_req *req)
{
    const char *ct =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (req->body_too_large || !ct || strncasecmp(ct, "application/merge-patch+json", 28) != 0)
        return tp_body_object(req);
    json_error_t je;
    json_t *o =
        req->body ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!json_is_object(o)) {
        tp_reply_problem(req, 400, "malformed_json", "the body must be a JSON object%s%s",
                         o || !req->body ? "" : ": ", o || !req->body ? "" : je.text);
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The stored branch `before` with `patch` merged in: a whole branch (a
 * removed report_server or parsers: the default server, none). */
static json_t *patched(const char *before, json_t *patch)
{
    json_t *b = json_loads(before, 0, NULL);
    json_t *m = b ? merge_patch(b, patch) : NULL;
    json_decref(b);
    if (m && !json_object_get(m, "report_server"))
        json_object_set_new(m, "report_server", json_null());
    if (m && !json_object_get(m, "parsers"))
        json_object_set_new(m, "parsers", json_object());
    return m;
}

/* PATCH /api/branches/{code}: some fields changed, the others kept; the
 * row stays locked from its read to its write. */
void tp__branch_patch(tp_req *req)
{
    json_t *patch = patch_body(req);
    char *before = NULL;
    if (!patch || same_code(req, patch) < 0 || write_begin(req, &before) < 0) {
        json_decref(patch);
        return;
    }
    json_t *b = before ? patched(before, patch) : NULL;
    tp_config *cfg = b ? checked(req, b, "PATCH") : NULL;
    if (cfg)
        write_commit(req, cfg, before, "PATCH");
    else {
        tp_db_end(req->db, TP_EINVAL, NULL); /* nothing written */
        if (!before)
            tp_reply_problem(req, 404, "not_found", "no branch %s", req->code);
        else if (!b)
            tp_reply_problem(req, 500, "internal", "out of memory");
    }
    tp_config_destroy(cfg);
    json_decref(b);
    json_decref(patch);
    free(before);
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
