/* plugins.c -- GET /api/plugins: the plugins loaded (name, version, ABI,
 * types, branches, sha256, quarantined), the files that could not be, and
 * the builds that failed in their sandbox ("health"); DELETE
 * /api/plugins/quarantine/{sha256}: an admin clears a quarantine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/plugins.h"
#include "pipeline/plugin.h"
#include "routes.h"

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

void tp__plugins_list(tp_req *req)
{
    const tp_registry *reg = tp_server_opts(req->srv)->plugins;
    tp_error err = {0};
    char *hs = tp_plugin_health_json(req->db, &err);
    json_t *health = hs ? json_loads(hs, 0, NULL) : NULL;
    free(hs);
    if (!health) {
        tp_reply_problem(req, 503, "database_unavailable", "%s", err.msg);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; reg && i < tp_registry_count(reg); i++) {
        const tp_plugin *p = tp_registry_get(reg, i);
        char abi[16];
        snprintf(abi, sizeof abi, "%u.%u", (unsigned)p->desc->abi_major,
                 (unsigned)p->desc->abi_minor);
        json_array_append_new(
            items, json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:b, s:b}", "name", p->desc->name,
                             "version", p->desc->version, "abi", abi, "types", strv(p->desc->types),
                             "branches", strv(p->desc->branches), "sha256", p->sha256, "named_only",
                             (p->desc->flags & TP_PLUGIN_NAMED_ONLY) != 0, "quarantined",
                             quarantined(health, p->sha256)));
    }
    json_t *fails = json_array();
    for (size_t i = 0; reg && i < tp_registry_failure_count(reg); i++) {
        const tp_load_failure *f = tp_registry_failure(reg, i);
        const char *slash = strrchr(f->path, '/');
        json_array_append_new(fails, json_pack("{s:s, s:s}", "file", slash ? slash + 1 : f->path,
                                               "error", f->message));
    }
    tp_reply_json(req, 200,
                  json_pack("{s:o, s:I, s:o, s:o}", "items", items, "total",
                            (json_int_t)json_array_size(items), "failed", fails, "health", health));
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
