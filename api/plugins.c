/* plugins.c -- GET /api/plugins: the plugins loaded (name, version, ABI,
 * types, branches, sha256, quarantined), the files that could not be, the
 * files on disk the set has not loaded (added or changed since it was
 * loaded), and the builds that failed in their sandbox ("health"); POST
 * /api/plugins/reload (admin): load the folder again; DELETE
 * /api/plugins/quarantine/{sha256}: an admin clears a quarantine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/plugins.h"
#include "pipeline/plugin.h"
#include "pipeline/plugset.h"
#include "routes.h"

const tp_registry *tp__plugins_get(tp_req *req)
{
    tp_plugset *ps = tp_server_opts(req->srv)->plugset;
    return ps ? tp_plugset_acquire(ps) : NULL;
}

void tp__plugins_put(tp_req *req, const tp_registry *reg)
{
    tp_plugset *ps = tp_server_opts(req->srv)->plugset;
    if (ps && reg)
        tp_plugset_release(ps, reg);
}

static json_t *strv(const char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* Whether build sha256 is quarantined, by the health list. */
static int quarantined(const json_t *health, const char *sha256)
{
    size_t i;
    json_t *h;
    json_array_foreach(health, i, h)
    {
        if (json_is_true(json_object_get(h, "quarantined")) &&
            strcmp(json_string_value(json_object_get(h, "sha256")), sha256) == 0)
            return 1;
    }
    return 0;
}

/* The health list (a new reference), or NULL with err set. */
static json_t *health_of(tp_req *req, tp_error *err)
{
    char *hs = tp_plugin_health_json(req->db, err);
    json_t *health = hs ? json_loads(hs, 0, NULL) : NULL;
    free(hs);
    return health;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static const char *const change_name[] = {"", "new", "changed", "gone"};

/* The set's generation and load time, and the files on disk it has not
 * loaded as they are now ("pending"), into o. */
static void add_set_info(tp_req *req, const tp_registry *reg, json_t *o)
{
    tp_plugset *ps = tp_server_opts(req->srv)->plugset;
    tp_plugset_info info = {0};
    tp_plugset_file *f = NULL;
    size_t n = 0;
    tp_error err = {0};
    json_t *pending = json_array();
    if (ps) {
        tp_plugset_info_of(ps, reg, &info);
        if (tp_plugset_pending(ps, reg, &f, &n, &err) < 0)
            json_object_set_new(o, "pending_error", json_string(err.msg));
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e =
            json_pack("{s:s, s:s, s:s}", "file", f[i].name, "change", change_name[f[i].change],
                      "reason", tp_plugset_change_reason(f[i].change));
        if (f[i].sha256[0])
            json_object_set_new(e, "sha256", json_string(f[i].sha256));
        if (f[i].loaded[0])
            json_object_set_new(e, "loaded_sha256", json_string(f[i].loaded));
        json_array_append_new(pending, e);
    }
    tp_plugset_files_free(f, n);
    char at[32] = "";
    struct tm tm;
    if (info.loaded_at && gmtime_r(&info.loaded_at, &tm))
        strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(o, "pending", pending);
    json_object_set_new(o, "generation", json_integer((json_int_t)info.generation));
    json_object_set_new(o, "loaded_at", at[0] ? json_string(at) : json_null());
}

/* The answer of GET /api/plugins for `reg` (may be NULL) and the health
 * list (stolen). */
static json_t *plugins_json(tp_req *req, const tp_registry *reg, json_t *health)
{
    json_t *items = json_array();
    for (size_t i = 0; reg && i < tp_registry_count(reg); i++) {
        const tp_plugin *p = tp_registry_get(reg, i);
        char abi[16];
        snprintf(abi, sizeof abi, "%u.%u", (unsigned)p->desc->abi_major,
                 (unsigned)p->desc->abi_minor);
        json_t *item =
            json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:b, s:b}", "name", p->desc->name, "version",
                      p->desc->version, "abi", abi, "types", strv(p->desc->types), "branches",
                      strv(p->desc->branches), "sha256", p->sha256, "named_only",
                      (p->desc->flags & TP_PLUGIN_NAMED_ONLY) != 0, "quarantined",
                      quarantined(health, p->sha256));
        json_object_set_new(item, "file", json_string(base_name(p->path)));
        json_array_append_new(items, item);
    }
    json_t *fails = json_array();
    for (size_t i = 0; reg && i < tp_registry_failure_count(reg); i++) {
        const tp_load_failure *f = tp_registry_failure(reg, i);
        json_array_append_new(
            fails, json_pack("{s:s, s:s}", "file", base_name(f->path), "error", f->message));
    }
    json_t *o = json_pack("{s:o, s:I, s:o, s:o}", "items", items, "total",
                          (json_int_t)json_array_size(items), "failed", fails, "health", health);
    if (reg)
        add_set_info(req, reg, o);
    return o;
}

void tp__plugins_list(tp_req *req)
{
    tp_error err = {0};
    json_t *health = health_of(req, &err);
    if (!health) {
        tp_reply_problem(req, 503, "database_unavailable", "%s", err.msg);
        return;
    }
    const tp_registry *reg = tp__plugins_get(req);
    tp_reply_json(req, 200, plugins_json(req, reg, health));
    tp__plugins_put(req, reg);
}

/* Load the plugin folder again; the answer is the new set (as GET), or a
 * problem when nothing could be loaded -- the set in use stays.  Audited
 * either way. */
void tp__plugins_reload(tp_req *req)
{
    tp_plugset *ps = tp_server_opts(req->srv)->plugset;
    if (!ps) {
        tp_reply_problem(req, 409, "no_plugins", "this server has no plugin set to reload");
        return;
    }
    tp_error err = {0};
    int rc = tp_plugset_reload(ps, &err);
    const tp_registry *reg = tp__plugins_get(req);
    tp_plugset_info info;
    tp_plugset_info_of(ps, reg, &info);
    char what[1024];
    tp_plugset_summary(reg, what, sizeof what);
    tp_audit(req, "plugins.reload", "plugins",
             rc == TP_OK ? json_pack("{s:b, s:I, s:I, s:I}", "ok", 1, "generation",
                                     (json_int_t)info.generation, "loaded",
                                     (json_int_t)tp_registry_count(reg), "not_loaded",
                                     (json_int_t)tp_registry_failure_count(reg))
                         : json_pack("{s:b, s:s, s:I}", "ok", 0, "error", err.msg, "generation",
                                     (json_int_t)info.generation));
    if (rc == TP_OK && !tp_server_opts(req->srv)->quiet)
        fprintf(stderr,
                "tillpipe serve: plugins reloaded (POST /api/plugins/reload by %s): %s; "
                "generation %lu\n",
                req->subject, what, info.generation);
    else if (rc < 0)
        fprintf(stderr,
                "tillpipe serve: plugins not reloaded (POST /api/plugins/reload by %s): %s; "
                "generation %lu stays in use (%s)\n",
                req->subject, err.msg, info.generation, what);
    json_t *health = rc == TP_OK ? health_of(req, &err) : NULL;
    if (rc == TP_OK) /* done: the health list only when it can be read */
        tp_reply_json(req, 200, plugins_json(req, reg, health ? health : json_array()));
    else if (rc == TP_ENOMEM)
        tp_reply_problem(req, 500, "internal", "out of memory");
    else
        tp_reply_problem(req, 409, "reload_failed",
                         "the plugins loaded before stay in use (generation %lu): %s",
                         info.generation, err.msg);
    tp__plugins_put(req, reg);
}

void tp__plugin_unquarantine(tp_req *req)
{
    tp_error err = {0};
    int rc = tp_plugin_health_clear(req->db, req->code, req->subject, &err);
    if (tp__lookup_failed(req, rc, &err, "quarantined plugin") < 0)
        return;
    tp_audit(req, "plugin.unquarantine", req->code, NULL);
    tp_reply_json(req, 200, json_pack("{s:s, s:b}", "sha256", req->code, "quarantined", 0));
}
