/* plugins.c -- GET /api/plugins: the plugins loaded (name, version, ABI,
 * types, branches, sha256) and the files that could not be. */
#include <stdio.h>
#include <string.h>

#include "pipeline/plugin.h"
#include "routes.h"

static json_t *strv(const char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

void tp__plugins_list(tp_req *req)
{
    const tp_registry *reg = tp_server_opts(req->srv)->plugins;
    json_t *items = json_array();
    for (size_t i = 0; reg && i < tp_registry_count(reg); i++) {
        const tp_plugin *p = tp_registry_get(reg, i);
        char abi[16];
        snprintf(abi, sizeof abi, "%u.%u", (unsigned)p->desc->abi_major,
                 (unsigned)p->desc->abi_minor);
        json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:o, s:o, s:s}", "name",
                                               p->desc->name, "version", p->desc->version, "abi",
                                               abi, "types", strv(p->desc->types), "branches",
                                               strv(p->desc->branches), "sha256", p->sha256));
    }
    json_t *fails = json_array();
    for (size_t i = 0; reg && i < tp_registry_failure_count(reg); i++) {
        const tp_load_failure *f = tp_registry_failure(reg, i);
        const char *slash = strrchr(f->path, '/');
        json_array_append_new(fails, json_pack("{s:s, s:s}", "file", slash ? slash + 1 : f->path,
                                               "error", f->message));
    }
    tp_reply_json(req, 200,
                  json_pack("{s:o, s:I, s:o}", "items", items, "total",
                            (json_int_t)json_array_size(items), "failed", fails));
}
