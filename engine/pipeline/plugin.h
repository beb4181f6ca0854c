/* plugin.h -- loading parser plugins and choosing one per (branch, type).
 *
 * A plugin file is opened once and checked before anything runs: a regular
 * file owned by root or by the user tillpipe runs as, not group- or
 * world-writable, in a folder that is not either.  The descriptor that was
 * opened is hashed (the sha256 that names the build everywhere) and the very
 * same descriptor is loaded (/proc/self/fd/N), so the bytes hashed are the
 * bytes run.
 *
 * Loaded in this process (tp_plugin_load: `--isolation none`), the object is
 * dlopened (RTLD_NOW|RTLD_LOCAL) and its descriptor checked in a fixed order
 * -- magic, ABI major, descriptor size, ABI minor, flags, required fields and
 * callbacks -- stopping at the first mismatch with a message naming the
 * file, the expected and the found value, and what to do about it.
 * Sandboxed (a registry given a tp_sandbox), the same load and checks run in
 * a helper process and this process keeps a copy of the descriptor without
 * its callbacks: the plugin's code, constructors included, never runs here.
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

typedef struct tp_sandbox tp_sandbox;

typedef struct tp_plugin {
    /* read-only */
    char *path;                 /* as given to tp_plugin_load */
    char sha256[65];            /* hex digest of the file as opened */
    const tp_plugin_desc *desc; /* checked descriptor: the object's own, or a
                                   copy without callbacks when sandboxed */
    void *handle;               /* dlopen handle; NULL when sandboxed */
    int fd;                     /* the file opened, hashed and loaded */
    tp_sandbox *sandbox;        /* set: parses run in its helper processes */
    void *copy;                 /* the descriptor copy's storage (sandboxed) */
} tp_plugin;

/* Open `path`, refuse it unless it is safe to load (see above), and hash
 * it.  Returns the open descriptor (O_CLOEXEC) with `sha256` filled, or < 0
 * with err set (TP_ENOTFOUND, TP_EPLUGIN with the reason and the fix). */
int tp_plugin_open_checked(const char *path, char sha256[65], tp_error *err);

/* Load and check one plugin in this process.  Returns a new plugin (free
 * with tp_plugin_unload) or NULL with err set (TP_EPLUGIN / TP_ENOTFOUND). */
tp_plugin *tp_plugin_load(const char *path, tp_error *err);

/* What a refused plugin claims to be, when its descriptor could still be
 * read (magic and ABI major right): comma-joined, "" when unknown.  A
 * refused override still fails its branch instead of leaving it to the
 * generic parser. */
typedef struct tp_plugin_claims {
    char name[64];
    char types[128];
    char branches[512];
} tp_plugin_claims;

/* The same for a descriptor already opened and checked (tp_plugin_open_
 * checked); the plugin owns `fd` from then on, also on failure.  When it is
 * refused, `claims` (may be NULL) gets what it claims. */
tp_plugin *tp_plugin_load_fd(int fd, const char *path, const char *sha256, tp_plugin_claims *claims,
                             tp_error *err);

/* Open, check and describe one plugin in a helper process of `sb`: the
 * plugin's code runs only there. */
tp_plugin *tp_plugin_describe(tp_sandbox *sb, const char *path, tp_error *err);

/* The same for a descriptor opened and checked (owned from then on). */
tp_plugin *tp_plugin_describe_fd(tp_sandbox *sb, int fd, const char *path, const char *sha256,
                                 tp_plugin_claims *claims, tp_error *err);

/* The SDK's checks of a descriptor, in the order it promises; 0 or
 * TP_EPLUGIN with err set.  `path` names the plugin in messages. */
int tp_plugin_check_desc(const char *path, const tp_plugin_desc *d, tp_error *err);

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
    tp_plugin_claims claims; /* what the refused plugin claimed, if readable */
} tp_load_failure;

/* An empty registry, or NULL when out of memory. */
tp_registry *tp_registry_create(void);

/* Load the plugins of this registry in `sb`'s helper processes from now on
 * (borrowed; it must outlive the registry).  NULL: in this process. */
void tp_registry_use_sandbox(tp_registry *r, tp_sandbox *sb);

/* Load only plugins installed from a package signed by a key in `dir`
 * (tillpipe plugin install; pipeline/package.h).  NULL: any plugin. */
void tp_registry_trust(tp_registry *r, const char *dir);
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
 * branch configuration gives for the type, or NULL; `version` the version
 * or range it pins ("1.0.1", "^1.2", ">=1.0 <2"; core/semver.h), or NULL.
 * Of several versions the highest allowed wins.  Without a name: an
 * override listing the branch, else the generic plugin; "named only"
 * plugins never.  An override present but refused (load failure) fails
 * the branch rather than leaving it to the generic parser.  On success
 * returns the plugin and writes why it was chosen into `why`; NULL with err
 * set otherwise. */
const tp_plugin *tp_registry_resolve(const tp_registry *r, const char *type, const char *branch,
                                     const char *configured, const char *version, char *why,
                                     size_t why_len, tp_error *err);

#endif
