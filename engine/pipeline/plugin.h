/* plugin.h -- loading parser plugins and choosing one per (branch, type).
 *
 * tp_plugin_load() dlopens one shared object (RTLD_NOW|RTLD_LOCAL) and checks
 * its descriptor in a fixed order -- magic, ABI major, descriptor size, ABI
 * minor, required fields and callbacks -- stopping at the first mismatch with
 * a message naming the file, the expected and the found value, and what to
 * do about it.
 *
 * A tp_registry owns a set of loaded plugins and resolves which one parses a
 * report type for a branch: a plugin the branch configuration names, else a
 * plugin whose descriptor lists the branch (an override), else the generic
 * plugin for the type.  The choice comes with a reason for the run's report.
 */
#ifndef TP_PLUGIN_H
#define TP_PLUGIN_H

#include <stddef.h>
#include <tillpipe/sdk.h>

#include "core/error.h"

typedef struct tp_plugin {
    /* read-only */
    char *path;                 /* as given to tp_plugin_load */
    char sha256[65];            /* hex digest of the file */
    const tp_plugin_desc *desc; /* checked descriptor, owned by the object */
    void *handle;               /* dlopen handle */
} tp_plugin;

/* Load and check one plugin.  Returns a new plugin (free with
 * tp_plugin_unload) or NULL with err set (TP_EPLUGIN / TP_ENOTFOUND). */
tp_plugin *tp_plugin_load(const char *path, tp_error *err);

/* dlclose and free; NULL is a no-op. */
void tp_plugin_unload(tp_plugin *p);

/* 1 when the plugin parses `type` / lists `branch` as an override. */
int tp_plugin_parses(const tp_plugin *p, const char *type);
int tp_plugin_overrides(const tp_plugin *p, const char *branch);
int tp_plugin_is_generic(const tp_plugin *p);

/* "rd5000, rd5800" / "BETA, BPAG" (or "generic") into buf. */
void tp_plugin_list_str(const char *const *list, const char *empty, char *buf, size_t n);

typedef struct tp_registry tp_registry;

typedef struct tp_load_failure {
    char *path;
    char *message;
} tp_load_failure;

/* An empty registry, or NULL when out of memory. */
tp_registry *tp_registry_create(void);
void tp_registry_destroy(tp_registry *r);

/* Load every *.so in `dir` (sorted by name).  A plugin that fails to load is
 * kept as a failure (tp_registry_failures) and does not stop the others; a
 * second generic plugin for a type already covered is refused the same way.
 * Returns 0, or < 0 with err set when the directory cannot be read. */
int tp_registry_load_dir(tp_registry *r, const char *dir, tp_error *err);

/* Load one file into the registry; < 0 with err set on failure. */
int tp_registry_load_file(tp_registry *r, const char *path, tp_error *err);

size_t tp_registry_count(const tp_registry *r);
const tp_plugin *tp_registry_get(const tp_registry *r, size_t i);
size_t tp_registry_failure_count(const tp_registry *r);
const tp_load_failure *tp_registry_failure(const tp_registry *r, size_t i);

/* The plugin named `name`, or NULL. */
const tp_plugin *tp_registry_find(const tp_registry *r, const char *name);

/* Choose the plugin for (branch, type).  `configured` is the plugin name the
 * branch configuration gives for the type, or NULL.  On success returns the
 * plugin and writes why it was chosen into `why`; NULL with err set when the
 * configured plugin is missing or does not parse the type, or no plugin
 * parses it at all. */
const tp_plugin *tp_registry_resolve(const tp_registry *r, const char *type, const char *branch,
                                     const char *configured, char *why, size_t why_len,
                                     tp_error *err);

#endif
