/* plugin.c -- see plugin.h. */
#include "plugin.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/schema.h"
#include "core/semver.h"
#include "io/sha.h"
#include "package.h"
#include "sandbox.h"

static int list_has(const char *const *list, const char *s)
{
    for (; list && *list; list++)
        if (strcmp(*list, s) == 0)
            return 1;
    return 0;
}

/* Required fields and callbacks, then the types; 0 or TP_EPLUGIN. */
static int check_fields(const char *path, const tp_plugin_desc *d, tp_error *err)
{
    struct {
        const char *field;
        int missing;
    } req[] = {
        {"name", !d->name || !*d->name},
        {"version", !d->version || !*d->version},
        {"license", !d->license},
        {"types", !d->types || !d->types[0]},
        {"open", !d->open},
        {"feed", !d->feed},
        {"finish", !d->finish},
        {"close", !d->close},
    };
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
        if (req[i].missing)
            return tp_error_set(err, TP_EPLUGIN,
                                "plugin %s: descriptor field .%s is required but %s; set it "
                                "in the plugin's tp_plugin_desc",
                                path, req[i].field, i < 4 ? "empty" : "NULL (missing callback)");
    for (const char *const *t = d->types; *t; t++)
        if (tp_schema_find(*t) < 0)
            return tp_error_set(err, TP_EPLUGIN,
                                "plugin %s (%s): parses unknown report type \"%s\"; known "
                                "types: %s",
                                path, d->name, *t, tp_schema_names());
    return TP_OK;
}

/* The checks, in the order the SDK promises; 0 or TP_EPLUGIN with err set. */
int tp_plugin_check_desc(const char *path, const tp_plugin_desc *d, tp_error *err)
{
    if (!d)
        return tp_error_set(err, TP_EPLUGIN,
                            "plugin %s: %s() returned NULL instead of its descriptor; "
                            "return the address of a static const tp_plugin_desc",
                            path, TP_PLUGIN_ENTRY_NAME);
    if (d->magic != TP_SDK_MAGIC)
        return tp_error_set(err, TP_EPLUGIN,
                            "plugin %s: bad magic number: expected 0x%08X (\"TPLG\"), found "
                            "0x%08X; this is not a tillpipe plugin descriptor -- set .magic = "
                            "TP_SDK_MAGIC",
                            path, TP_SDK_MAGIC, d->magic);
    if (d->abi_major != TP_SDK_ABI_MAJOR)
        return tp_error_set(
            err, TP_EPLUGIN,
            "plugin %s: built for plugin ABI %u.x, this tillpipe supports ABI %d.x; %s", path,
            (unsigned)d->abi_major, TP_SDK_ABI_MAJOR,
            d->abi_major < TP_SDK_ABI_MAJOR
                ? "the plugin is too old: rebuild it against this tillpipe's SDK"
                : "the plugin is too new: upgrade tillpipe, or rebuild the plugin against "
                  "this tillpipe's SDK");
    if (d->size < TP_PLUGIN_DESC_SIZE_1_0)
        return tp_error_set(err, TP_EPLUGIN,
                            "plugin %s: descriptor is %u bytes, ABI %d.0 needs at least %zu; "
                            "set .size = sizeof(tp_plugin_desc) and rebuild against an "
                            "unmodified SDK header",
                            path, d->size, TP_SDK_ABI_MAJOR, (size_t)TP_PLUGIN_DESC_SIZE_1_0);
    if (d->abi_minor > TP_SDK_ABI_MINOR)
        return tp_error_set(err, TP_EPLUGIN,
                            "plugin %s: built with SDK %u.%u, this tillpipe supports up to "
                            "%d.%d; upgrade tillpipe, or rebuild the plugin against SDK %d.%d",
                            path, (unsigned)d->abi_major, (unsigned)d->abi_minor, TP_SDK_ABI_MAJOR,
                            TP_SDK_ABI_MINOR, TP_SDK_ABI_MAJOR, TP_SDK_ABI_MINOR);
    /* flags known to the plugin's own SDK minor; anything else is reserved */
    uint32_t known = d->abi_minor >= 1 ? TP_PLUGIN_FLAGS_1_1 : 0;
    int reserved_used = (d->flags & ~known) != 0;
    for (size_t i = 0; i < sizeof d->reserved / sizeof d->reserved[0] &&
                       offsetof(tp_plugin_desc, reserved) + (i + 1) * sizeof(void *) <= d->size;
         i++) /* only what the plugin's descriptor really has */
        reserved_used |= d->reserved[i] != NULL;
    if (reserved_used)
        return tp_error_set(err, TP_EPLUGIN,
                            "plugin %s: descriptor sets .flags bits or .reserved that ABI %u.%u "
                            "keeps zero; leave them unset (a newer SDK may give them meaning)",
                            path, (unsigned)d->abi_major, (unsigned)d->abi_minor);
    return check_fields(path, d, err);
}

/* A folder or file others than root and us may change is refused: whoever
 * can write it can run code as tillpipe. */
static int check_owner(const char *what, const char *path, const struct stat *st, tp_error *err)
{
    if (st->st_uid != 0 && st->st_uid != geteuid())
        return tp_error_set(err, TP_EPLUGIN,
                            "plugin %s: refused: its %s is owned by uid %u, neither root nor "
                            "the user tillpipe runs as (uid %u); chown it",
                            path, what, (unsigned)st->st_uid, (unsigned)geteuid());
    if (st->st_mode & (S_IWGRP | S_IWOTH))
        return tp_error_set(err, TP_EPLUGIN,
                            "plugin %s: refused: its %s is %s-writable (mode %04o); "
                            "chmod go-w it",
                            path, what, st->st_mode & S_IWOTH ? "world" : "group",
                            (unsigned)(st->st_mode & 07777));
    return TP_OK;
}

static int check_folder(const char *path, tp_error *err)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    struct stat st;
    if (stat(dir, &st) != 0)
        return tp_error_set(err, TP_EPLUGIN, "plugin %s: cannot check its folder %s: %s", path, dir,
                            strerror(errno));
    return check_owner("folder", path, &st, err);
}

int tp_plugin_open_checked(const char *path, char sha256[65], tp_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return tp_error_set(err, errno == ENOENT ? TP_ENOTFOUND : TP_EPLUGIN,
                            "plugin %s: cannot read: %s", path, strerror(errno));
    struct stat st;
    int rc = fstat(fd, &st) != 0
                 ? tp_error_set(err, TP_EPLUGIN, "plugin %s: %s", path, strerror(errno))
             : !S_ISREG(st.st_mode)
                 ? tp_error_set(err, TP_EPLUGIN, "plugin %s: refused: not a regular file", path)
                 : check_owner("file", path, &st, err);
    if (rc == TP_OK)
        rc = check_folder(path, err);
    tp_sha256 h;
    tp_sha256_init(&h);
    char buf[65536];
    for (ssize_t n; rc == TP_OK && (n = read(fd, buf, sizeof buf)) != 0;) {
        if (n < 0 && errno != EINTR)
            rc = tp_error_set(err, TP_EPLUGIN, "plugin %s: read: %s", path, strerror(errno));
        else if (n > 0)
            tp_sha256_update(&h, buf, (size_t)n);
    }
    if (rc == TP_OK)
        tp_sha256_final_hex(&h, sha256, NULL);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

static tp_plugin *plugin_new(const char *path, int fd, tp_error *err)
{
    tp_plugin *p = calloc(1, sizeof *p);
    if (!p || !(p->path = strdup(path))) {
        free(p);
        if (fd >= 0)
            close(fd);
        tp_error_set(err, TP_ENOMEM, "out of memory");
        return NULL;
    }
    p->fd = fd;
    return p;
}

/* What a refused descriptor claims, when it can be read at all. */
static void claims_of(const tp_plugin_desc *d, tp_plugin_claims *c)
{
    if (!c)
        return;
    memset(c, 0, sizeof *c);
    if (!d || d->magic != TP_SDK_MAGIC || d->abi_major != TP_SDK_ABI_MAJOR ||
        d->size < TP_PLUGIN_DESC_SIZE_1_0)
        return;
    snprintf(c->name, sizeof c->name, "%s", d->name ? d->name : "");
    tp_plugin_list_str(d->types, "", c->types, sizeof c->types);
    tp_plugin_list_str(d->branches, "", c->branches, sizeof c->branches);
}

tp_plugin *tp_plugin_load_fd(int fd, const char *path, const char *sha256, tp_plugin_claims *claims,
                             tp_error *err)
{
    if (claims)
        memset(claims, 0, sizeof *claims);
    tp_plugin *p = plugin_new(path, fd, err);
    if (!p)
        return NULL;
    snprintf(p->sha256, sizeof p->sha256, "%s", sha256);
    /* The descriptor stays open while the object is loaded, so no two
     * loaded plugins share a /proc/self/fd/N name (dlopen reuses an object
     * by name). */
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    dlerror();
    p->handle = dlopen(self, RTLD_NOW | RTLD_LOCAL);
    if (!p->handle) {
        const char *e = dlerror();
        if (e && strncmp(e, self, strlen(self)) == 0 && e[strlen(self)] == ':')
            e += strlen(self) + 1 + (e[strlen(self) + 1] == ' '); /* the path names it */
        tp_error_set(err, TP_EPLUGIN,
                     "plugin %s: cannot load: %s; is it a shared object built for this "
                     "machine, with every symbol it uses available?",
                     path, e ? e : "unknown dlopen error");
        goto fail;
    }
    dlerror();
    void *sym = dlsym(p->handle, TP_PLUGIN_ENTRY_NAME);
    if (!sym) {
        tp_error_set(err, TP_EPLUGIN,
                     "plugin %s: does not export %s(); a tillpipe plugin exports exactly that "
                     "function (see sdk/template)",
                     path, TP_PLUGIN_ENTRY_NAME);
        goto fail;
    }
    tp_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* object -> function pointer, POSIX-sanctioned */
    p->desc = entry();
    if (tp_plugin_check_desc(path, p->desc, err) < 0) {
        claims_of(p->desc, claims);
        goto fail;
    }
    return p;
fail:
    tp_plugin_unload(p);
    return NULL;
}

tp_plugin *tp_plugin_load(const char *path, tp_error *err)
{
    char sha[65];
    int fd = tp_plugin_open_checked(path, sha, err);
    return fd < 0 ? NULL : tp_plugin_load_fd(fd, path, sha, NULL, err);
}

tp_plugin *tp_plugin_describe_fd(tp_sandbox *sb, int fd, const char *path, const char *sha256,
                                 tp_plugin_claims *claims, tp_error *err)
{
    tp_plugin *p = plugin_new(path, fd, err);
    if (!p)
        return NULL;
    snprintf(p->sha256, sizeof p->sha256, "%s", sha256);
    p->sandbox = sb;
    if (tp_sandbox_describe(sb, p, claims, err) < 0) {
        tp_plugin_unload(p);
        return NULL;
    }
    return p;
}

tp_plugin *tp_plugin_describe(tp_sandbox *sb, const char *path, tp_error *err)
{
    char sha[65];
    int fd = tp_plugin_open_checked(path, sha, err);
    return fd < 0 ? NULL : tp_plugin_describe_fd(sb, fd, path, sha, NULL, err);
}

void tp_plugin_unload(tp_plugin *p)
{
    if (!p)
        return;
    if (p->handle)
        dlclose(p->handle);
    tp__desc_copy_free(p->copy);
    if (p->fd >= 0)
        close(p->fd);
    free(p->path);
    free(p);
}

int tp_plugin_parses(const tp_plugin *p, const char *type)
{
    return list_has(p->desc->types, type);
}

int tp_plugin_overrides(const tp_plugin *p, const char *branch)
{
    return list_has(p->desc->branches, branch);
}

int tp_plugin_is_generic(const tp_plugin *p)
{
    return !p->desc->branches || !p->desc->branches[0];
}

void tp_plugin_list_str(const char *const *list, const char *empty, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    if (!list || !list[0]) {
        snprintf(buf, n, "%s", empty);
        return;
    }
    for (; *list && used < n; list++) {
        int w = snprintf(buf + used, n - used, "%s%s", used ? ", " : "", *list);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* ------------------------------------------------------------- registry */

struct tp_registry {
    tp_sandbox *sandbox; /* borrowed; NULL: plugins load in this process */
    char *trusted;       /* signed packages only: the trusted keys' folder */
    tp_plugin **plugins;
    size_t count, cap;
    tp_load_failure *failures;
    size_t nfailures, fcap;
};

tp_registry *tp_registry_create(void)
{
    if (sodium_init() < 0)
        return NULL;
    return calloc(1, sizeof(tp_registry));
}

void tp_registry_use_sandbox(tp_registry *r, tp_sandbox *sb)
{
    r->sandbox = sb;
}

void tp_registry_trust(tp_registry *r, const char *dir)
{
    free(r->trusted);
    r->trusted = dir ? strdup(dir) : NULL;
}

void tp_registry_destroy(tp_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->count; i++)
        tp_plugin_unload(r->plugins[i]);
    for (size_t i = 0; i < r->nfailures; i++) {
        free(r->failures[i].path);
        free(r->failures[i].message);
    }
    free(r->plugins);
    free(r->failures);
    free(r->trusted);
    free(r);
}

static int add_failure(tp_registry *r, const char *path, const char *msg,
                       const tp_plugin_claims *claims)
{
    if (r->nfailures == r->fcap) {
        size_t cap = r->fcap ? r->fcap * 2 : 8;
        tp_load_failure *f = realloc(r->failures, cap * sizeof *f);
        if (!f)
            return TP_ENOMEM;
        r->failures = f;
        r->fcap = cap;
    }
    tp_load_failure *f = &r->failures[r->nfailures];
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    f->message = strdup(msg);
    if (claims)
        f->claims = *claims;
    if (!f->path || !f->message) {
        free(f->path);
        free(f->message);
        return TP_ENOMEM;
    }
    r->nfailures++;
    return TP_OK;
}

static int named_only(const tp_plugin *p)
{
    return (p->desc->flags & TP_PLUGIN_NAMED_ONLY) != 0;
}

/* Two overrides of one (branch, type) by different plugins: which would win? */
static int overlap(const tp_plugin *p, const tp_plugin *q, const char **type, const char **branch)
{
    for (const char *const *t = p->desc->types; *t; t++)
        for (const char *const *b = p->desc->branches; b && tp_plugin_parses(q, *t) && *b; b++)
            if (tp_plugin_overrides(q, *b)) {
                *type = *t;
                *branch = *b;
                return 1;
            }
    return 0;
}

/* A plugin that would make resolution ambiguous is refused.  Versions of
 * one plugin (same name) live side by side; the same name and version
 * twice does not. */
static int check_conflict(const tp_registry *r, const tp_plugin *p, tp_error *err)
{
    for (size_t i = 0; i < r->count; i++) {
        const tp_plugin *q = r->plugins[i];
        if (strcmp(q->desc->name, p->desc->name) == 0) {
            if (strcmp(q->desc->version, p->desc->version) == 0)
                return tp_error_set(err, TP_EPLUGIN,
                                    "plugin %s: %s %s is already loaded from %s; remove one",
                                    p->path, p->desc->name, p->desc->version, q->path);
            continue; /* another version of it */
        }
        if (named_only(p) || named_only(q))
            continue;
        const char *t, *b;
        if (!tp_plugin_is_generic(p) && !tp_plugin_is_generic(q)) {
            if (overlap(p, q, &t, &b))
                return tp_error_set(err, TP_EPLUGIN,
                                    "plugin %s (%s): %s %s already has an override, "
                                    "%s (%s); remove one, or name the one to use in "
                                    "the branch configuration and drop the branch "
                                    "from the other's descriptor",
                                    p->path, p->desc->name, b, t, q->desc->name, q->path);
            continue;
        }
        if (!tp_plugin_is_generic(p) || !tp_plugin_is_generic(q))
            continue;
        for (const char *const *tt = p->desc->types; *tt; tt++)
            if (tp_plugin_parses(q, *tt))
                return tp_error_set(err, TP_EPLUGIN,
                                    "plugin %s (%s): %s already has a generic parser, %s (%s); "
                                    "remove one, or list branches in the descriptor to make "
                                    "it an override",
                                    p->path, p->desc->name, *tt, q->desc->name, q->path);
    }
    return TP_OK;
}

/* A refused plugin's claims from its package's manifest (the sidecar
 * `plugin install` writes), when its descriptor could not be read: a
 * signature or a file mode refused, a crash while loading.  The manifest is
 * not trusted for anything else: it only makes a refusal fail closed. */
static void manifest_claims(const char *path, tp_plugin_claims *c)
{
    char side[4200];
    struct stat st;
    snprintf(side, sizeof side, "%s.manifest.json", path);
    if (!c || c->name[0] || stat(side, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 65536)
        return;
    json_t *m = json_load_file(side, 0, NULL);
    const char *name = json_string_value(json_object_get(m, "name"));
    json_t *types = json_object_get(m, "types"), *branches = json_object_get(m, "branches");
    if (name && json_is_array(types) && json_is_array(branches)) {
        snprintf(c->name, sizeof c->name, "%s", name);
        const char *const lists[2] = {"types", "branches"};
        char *out[2] = {c->types, c->branches};
        size_t cap[2] = {sizeof c->types, sizeof c->branches};
        for (int k = 0; k < 2; k++) {
            size_t i, used = 0;
            json_t *v;
            json_array_foreach(json_object_get(m, lists[k]), i, v)
            {
                if (json_is_string(v) && used < cap[k])
                    used += (size_t)snprintf(out[k] + used, cap[k] - used, "%s%s", used ? ", " : "",
                                             json_string_value(v));
            }
        }
    }
    json_decref(m);
}

/* Open, check (and, with trusted keys, verify the signature of) one file,
 * then load or describe it.  NULL with err and claims set. */
static tp_plugin *load_one(tp_registry *r, const char *path, tp_plugin_claims *claims,
                           tp_error *err)
{
    char sha[65];
    int fd = tp_plugin_open_checked(path, sha, err);
    if (fd < 0) {
        manifest_claims(path, claims);
        return NULL;
    }
    if (r->trusted && tp_package_check_installed(path, sha, NULL, NULL, r->trusted, err) < 0) {
        close(fd);
        manifest_claims(path, claims);
        return NULL;
    }
    tp_plugin *p = r->sandbox ? tp_plugin_describe_fd(r->sandbox, fd, path, sha, claims, err)
                              : tp_plugin_load_fd(fd, path, sha, claims, err);
    if (!p)
        manifest_claims(path, claims);
    if (p && r->trusted &&
        tp_package_check_installed(path, sha, p->desc->name, p->desc->version, r->trusted, err) <
            0) {
        tp_plugin_unload(p);
        return NULL;
    }
    return p;
}

static int load_file(tp_registry *r, const char *path, tp_plugin_claims *claims, tp_error *err)
{
    tp_plugin *p = load_one(r, path, claims, err);
    if (!p)
        return err ? err->code : TP_EPLUGIN;
    int rc = check_conflict(r, p, err);
    if (rc == TP_OK && r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        tp_plugin **v = realloc(r->plugins, cap * sizeof *v);
        if (!v)
            rc = tp_error_set(err, TP_ENOMEM, "out of memory");
        else {
            r->plugins = v;
            r->cap = cap;
        }
    }
    if (rc < 0) {
        if (claims) /* refused for a conflict: what it is, is known */
            claims_of(p->desc->magic == TP_SDK_MAGIC ? p->desc : NULL, claims);
        tp_plugin_unload(p);
        return rc;
    }
    r->plugins[r->count++] = p;
    return TP_OK;
}

int tp_registry_load_file(tp_registry *r, const char *path, tp_error *err)
{
    return load_file(r, path, NULL, err);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int tp_registry_load_dir(tp_registry *r, const char *dir, tp_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return tp_error_set(err, errno == ENOENT ? TP_ENOTFOUND : TP_EIO, "plugin directory %s: %s",
                            dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = TP_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **v = realloc(names, cap * sizeof *v);
            if (!v) {
                rc = tp_error_set(err, TP_ENOMEM, "out of memory");
                break;
            }
            names = v;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = tp_error_set(err, TP_ENOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == TP_OK && n > 1)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (rc == TP_OK) {
            char path[4096];
            tp_error e2 = {0};
            tp_plugin_claims claims;
            memset(&claims, 0, sizeof claims);
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            if (load_file(r, path, &claims, &e2) < 0 && add_failure(r, path, e2.msg, &claims) < 0)
                rc = tp_error_set(err, TP_ENOMEM, "out of memory");
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

size_t tp_registry_count(const tp_registry *r)
{
    return r->count;
}
const tp_plugin *tp_registry_get(const tp_registry *r, size_t i)
{
    return i < r->count ? r->plugins[i] : NULL;
}
size_t tp_registry_failure_count(const tp_registry *r)
{
    return r->nfailures;
}
const tp_load_failure *tp_registry_failure(const tp_registry *r, size_t i)
{
    return i < r->nfailures ? &r->failures[i] : NULL;
}

/* Whether version a of a plugin is chosen over version b: a release over a
 * prerelease (a beta is taken only when a branch pins it, or nothing else
 * is installed), else the higher version (core/semver.h's order). */
static int preferred(const tp_plugin *a, const tp_plugin *b)
{
    tp_semver va, vb;
    if (tp_semver_parse(a->desc->version, &va) == 0 &&
        tp_semver_parse(b->desc->version, &vb) == 0 && !va.pre[0] != !vb.pre[0])
        return !va.pre[0];
    return tp_semver_cmp_str(a->desc->version, b->desc->version) > 0;
}

const tp_plugin *tp_registry_find(const tp_registry *r, const char *name)
{
    const tp_plugin *best = NULL;
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->plugins[i]->desc->name, name) == 0 &&
            (!best || preferred(r->plugins[i], best)))
            best = r->plugins[i];
    return best;
}

/* 1 when the comma-joined list has s. */
static int claims_has(const char *list, const char *s)
{
    size_t n = strlen(s);
    for (const char *p = list; *p;) {
        if (strncmp(p, s, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return 1;
        const char *c = strchr(p, ',');
        if (!c)
            break;
        p = c + 1 + (c[1] == ' ');
    }
    return 0;
}

/* The branch configuration names the plugin (and maybe a version range). */
static const tp_plugin *resolve_named(const tp_registry *r, const char *type, const char *branch,
                                      const char *name, const char *range, char *why,
                                      size_t why_len, tp_error *err)
{
    const tp_plugin *best = NULL;
    int any = 0, parses = 0;
    char seen[256] = "";
    for (size_t i = 0; i < r->count; i++) {
        const tp_plugin *p = r->plugins[i];
        if (strcmp(p->desc->name, name) != 0)
            continue;
        any = 1;
        parses |= tp_plugin_parses(p, type);
        size_t k = strlen(seen);
        snprintf(seen + k, sizeof seen - k, "%s%s", k ? ", " : "", p->desc->version);
        if (!tp_plugin_parses(p, type))
            continue;
        int ok = range ? tp_semver_satisfies(range, p->desc->version, err) : 1;
        if (ok == TP_EINVAL) { /* a version that is no semantic version matches no range */
            ok = 0;
            if (err)
                *err = (tp_error){0};
        }
        if (ok < 0) /* a bad range */
            return tp_error_prefix(err, "branch %s: plugin \"%s\" for %s: ", branch, name, type),
                   NULL;
        if (ok && (!best || preferred(p, best)))
            best = p;
    }
    if (!any)
        return tp_error_set(err, TP_ENOTFOUND,
                            "branch %s: the configuration names plugin \"%s\" for %s, but "
                            "no loaded plugin has that name (tillpipe plugin list)",
                            branch, name, type),
               NULL;
    if (!parses)
        return tp_error_set(err, TP_ECONFIG,
                            "branch %s: the configuration names plugin \"%s\" for %s, but "
                            "it does not parse %s",
                            branch, name, type, type),
               NULL;
    if (!best)
        return tp_error_set(err, TP_ECONFIG,
                            "branch %s: the configuration pins plugin \"%s\" version \"%s\" "
                            "for %s, but no loaded version matches (loaded: %s)",
                            branch, name, range, type, seen),
               NULL;
    snprintf(why, why_len, "%s %s: named by the branch configuration%s%s", best->desc->name,
             best->desc->version, range ? ", version " : "", range ? range : "");
    return best;
}

const tp_plugin *tp_registry_resolve(const tp_registry *r, const char *type, const char *branch,
                                     const char *configured, const char *version, char *why,
                                     size_t why_len, tp_error *err)
{
    if (configured)
        return resolve_named(r, type, branch, configured, version, why, why_len, err);
    const tp_plugin *over = NULL, *generic = NULL;
    for (size_t i = 0; i < r->count; i++) {
        const tp_plugin *p = r->plugins[i];
        if (!tp_plugin_parses(p, type) || named_only(p))
            continue;
        const tp_plugin **slot = branch && tp_plugin_overrides(p, branch) ? &over
                                 : tp_plugin_is_generic(p)                ? &generic
                                                                          : NULL;
        if (slot && (!*slot || preferred(p, *slot)))
            *slot = p;
    }
    if (over) {
        snprintf(why, why_len, "%s %s: override for branch %s", over->desc->name,
                 over->desc->version, branch);
        return over;
    }
    for (size_t i = 0; branch && i < r->nfailures; i++) {
        const tp_load_failure *f = &r->failures[i];
        if (claims_has(f->claims.branches, branch) && claims_has(f->claims.types, type))
            return tp_error_set(err, TP_EPLUGIN,
                                "branch %s: its %s override %s (%s) is present but was "
                                "refused, so the branch is not parsed by the generic plugin: %s",
                                branch, type, f->claims.name, f->path, f->message),
                   NULL;
    }
    if (!generic)
        return tp_error_set(err, TP_ENOTFOUND,
                            "no plugin parses %s%s%s (loaded: %zu plugin%s); check the plugin "
                            "directory",
                            type, branch ? " for branch " : "", branch ? branch : "", r->count,
                            r->count == 1 ? "" : "s"),
               NULL;
    snprintf(why, why_len, "%s %s: generic", generic->desc->name, generic->desc->version);
    return generic;
}
