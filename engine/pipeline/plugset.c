/* plugset.c -- see plugset.h: the current plugin set and the replaced ones
 * still referenced, and the folder compared with what a set loaded.  (Loads
 * may run on any thread: sandbox helpers are started by the sandbox's own
 * thread, so they outlive the thread that asked.) */
#include "plugset.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/sha.h"
#include "sandbox.h"

/* A plugin file of the folder and its sha256 ("" when unreadable). */
typedef struct snap {
    char *name;
    char sha256[65];
} snap;

/* One loaded set. */
typedef struct pset {
    tp_registry *reg;
    tp_plugset_info info;
    int refs;    /* the holder's while current, plus one per acquire */
    snap *files; /* the folder as the load began, by name */
    size_t nfiles;
    struct pset *next; /* the replaced sets still referenced */
} pset;

/* A file hashed before, known by what stat says of it. */
typedef struct hashed {
    char *name;
    struct stat st;
    char sha256[65];
} hashed;

struct tp_plugset {
    char *dir;
    tp_sandbox *sandbox; /* borrowed, or NULL */
    char *trusted;       /* signed packages only: the keys' folder, or NULL */
    int quiet;
    pthread_mutex_t mu; /* cur, retired */
    pset *cur;
    pset *retired;
    unsigned long generation;
    pthread_mutex_t reload_mu; /* one reload at a time */
    pthread_mutex_t cache_mu;  /* the hashes */
    hashed *cache;
    size_t ncache, cache_cap;
};

/* ------------------------------------------------------------ the folder */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The *.so names of `dir` (what tp_registry_load_dir loads), sorted.  A
 * folder that is gone has none.  0, or < 0 with err set. */
static int list_dir(const char *dir, char ***out, size_t *n, tp_error *err)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT
                   ? TP_OK
                   : tp_error_set(err, TP_EIO, "plugin directory %s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t cnt = 0, cap = 0;
    int nomem = 0;
    struct dirent *e;
    while (!nomem && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0)
            continue;
        if (cnt == cap) {
            char **v = realloc(names, (cap ? cap * 2 : 16) * sizeof *v);
            if (!(nomem = !v)) {
                names = v;
                cap = cap ? cap * 2 : 16;
            }
        }
        if (nomem || !(names[cnt] = strdup(e->d_name)))
            nomem = 1;
        else
            cnt++;
    }
    closedir(d);
    if (nomem) {
        free_names(names, cnt);
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    }
    if (cnt > 1)
        qsort(names, cnt, sizeof *names, cmp_str);
    *out = names;
    *n = cnt;
    return TP_OK;
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

#define CACHE_MAX 4096 /* files remembered; past it, the cache starts over */

/* Remember a file's hash (s->cache_mu held); when memory is short it is
 * simply hashed again next time. */
static void remember(tp_plugset *s, const char *name, const struct stat *st, const char *sha)
{
    if (s->ncache == CACHE_MAX) {
        for (size_t i = 0; i < s->ncache; i++)
            free(s->cache[i].name);
        s->ncache = 0;
    }
    if (s->ncache == s->cache_cap) {
        size_t cap = s->cache_cap ? s->cache_cap * 2 : 16;
        hashed *v = realloc(s->cache, cap * sizeof *v);
        if (!v)
            return;
        s->cache = v;
        s->cache_cap = cap;
    }
    hashed *h = &s->cache[s->ncache];
    if (!(h->name = strdup(name)))
        return;
    h->st = *st;
    memcpy(h->sha256, sha, 65);
    s->ncache++;
}

/* The sha256 of dir/name into sha ("" when it is not a regular file or
 * cannot be read), hashed again only when stat says it changed. */
static void file_sha(tp_plugset *s, const char *name, char sha[65])
{
    char path[4096];
    struct stat st;
    sha[0] = '\0';
    snprintf(path, sizeof path, "%s/%s", s->dir, name);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    pthread_mutex_lock(&s->cache_mu);
    hashed *h = NULL;
    for (size_t i = 0; i < s->ncache && !h; i++)
        if (strcmp(s->cache[i].name, name) == 0)
            h = &s->cache[i];
    if (h && same_file(&h->st, &st)) {
        memcpy(sha, h->sha256, 65);
    } else if (tp_sha256_file(path, sha, NULL, NULL) < 0) {
        sha[0] = '\0';
    } else if (h) {
        h->st = st;
        memcpy(h->sha256, sha, 65);
    } else {
        remember(s, name, &st, sha);
    }
    pthread_mutex_unlock(&s->cache_mu);
}

static void free_snap(snap *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(f[i].name);
    free(f);
}

/* The folder's plugin files and their hashes now. */
static int take_snapshot(tp_plugset *s, pset *p, tp_error *err)
{
    char **names;
    size_t n;
    int rc = list_dir(s->dir, &names, &n, err);
    if (rc < 0)
        return rc;
    if (n && !(p->files = calloc(n, sizeof *p->files))) {
        free_names(names, n);
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        p->files[i].name = names[i]; /* taken */
        file_sha(s, names[i], p->files[i].sha256);
    }
    free(names);
    p->nfiles = n;
    return TP_OK;
}

/* ------------------------------------------------------------ sets */

static void pset_free(pset *p)
{
    if (!p)
        return;
    tp_registry_destroy(p->reg);
    free_snap(p->files, p->nfiles);
    free(p);
}

/* Why nothing loaded from the folder, into err. */
static int nothing_loaded(const tp_plugset *s, const tp_registry *r, tp_error *err)
{
    size_t nf = tp_registry_failure_count(r);
    if (nf == 0)
        return tp_error_set(err, TP_ENOTFOUND,
                            "no plugin could be loaded from %s: it holds no *.so file (set "
                            "--plugins or TILLPIPE_PLUGIN_DIR)",
                            s->dir);
    return tp_error_set(err, TP_ENOTFOUND,
                        "no plugin could be loaded from %s: %zu file%s refused, the first: %s",
                        s->dir, nf, nf == 1 ? "" : "s", tp_registry_failure(r, 0)->message);
}

/* The loaded plugin of a live set that is the very file `st` (s->mu
 * held), with content other than `sha`; or NULL. */
static const tp_plugin *same_file_other_content(tp_plugset *s, const struct stat *st,
                                                const char *sha)
{
    for (pset *p = s->cur; p; p = p == s->cur ? s->retired : p->next)
        for (size_t i = 0; i < tp_registry_count(p->reg); i++) {
            const tp_plugin *q = tp_registry_get(p->reg, i);
            struct stat qs;
            if (q->fd >= 0 && fstat(q->fd, &qs) == 0 && qs.st_dev == st->st_dev &&
                qs.st_ino == st->st_ino && strcmp(q->sha256, sha) != 0)
                return q;
        }
    return NULL;
}

/* A loaded plugin's file written over in place: its code may be running
 * (or cached by the dynamic loader under the file's identity), so nothing is
 * reloaded until it is installed as a new file.  0, or TP_EPLUGIN. */
static int check_in_place(tp_plugset *s, const pset *fresh, tp_error *err)
{
    int rc = TP_OK;
    for (size_t i = 0; rc == TP_OK && i < fresh->nfiles; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", s->dir, fresh->files[i].name);
        if (!fresh->files[i].sha256[0] || stat(path, &st) != 0)
            continue;
        pthread_mutex_lock(&s->mu);
        const tp_plugin *q = same_file_other_content(s, &st, fresh->files[i].sha256);
        if (q)
            rc = tp_error_set(err, TP_EPLUGIN,
                              "plugin file %s was written over in place while %s %s was "
                              "loaded from it; nothing reloaded: write the new version to a "
                              "new file in %s and rename it over %s, then reload",
                              path, q->desc->name, q->desc->version, s->dir, fresh->files[i].name);
        pthread_mutex_unlock(&s->mu);
    }
    return rc;
}

/* A new set from the folder; NULL with err set when nothing loads. */
static pset *load_set(tp_plugset *s, tp_error *err)
{
    pset *p = calloc(1, sizeof *p);
    if (!p || !(p->reg = tp_registry_create())) {
        free(p);
        tp_error_set(err, TP_ENOMEM, "out of memory");
        return NULL;
    }
    tp_registry_use_sandbox(p->reg, s->sandbox);
    tp_registry_trust(p->reg, s->trusted);
    /* before the load: a file replaced meanwhile then shows as changed */
    if (take_snapshot(s, p, err) < 0 || check_in_place(s, p, err) < 0 ||
        tp_registry_load_dir(p->reg, s->dir, err) < 0) {
        pset_free(p);
        return NULL;
    }
    if (!s->quiet)
        for (size_t i = 0; i < tp_registry_failure_count(p->reg); i++)
            fprintf(stderr, "tillpipe: warning: %s\n", tp_registry_failure(p->reg, i)->message);
    if (tp_registry_count(p->reg) == 0) {
        nothing_loaded(s, p->reg, err);
        pset_free(p);
        return NULL;
    }
    p->info.loaded_at = time(NULL);
    return p;
}

/* ------------------------------------------------------------ the holder */

tp_plugset *tp_plugset_create(const char *dir, tp_sandbox *sandbox, const char *trusted, int quiet,
                              tp_error *err)
{
    tp_plugset *s = calloc(1, sizeof *s);
    if (!s || !(s->dir = strdup(dir)) || (trusted && !(s->trusted = strdup(trusted)))) {
        if (s)
            free(s->dir);
        free(s);
        tp_error_set(err, TP_ENOMEM, "out of memory");
        return NULL;
    }
    s->sandbox = sandbox;
    s->quiet = quiet;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->reload_mu, NULL);
    pthread_mutex_init(&s->cache_mu, NULL);
    if (!(s->cur = load_set(s, err))) {
        tp_plugset_destroy(s);
        return NULL;
    }
    s->cur->info.generation = s->generation = 1;
    s->cur->refs = 1;
    return s;
}

void tp_plugset_destroy(tp_plugset *s)
{
    if (!s)
        return;
    pset_free(s->cur);
    while (s->retired) { /* (only when references were leaked) */
        pset *next = s->retired->next;
        pset_free(s->retired);
        s->retired = next;
    }
    for (size_t i = 0; i < s->ncache; i++)
        free(s->cache[i].name);
    free(s->cache);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->reload_mu);
    pthread_mutex_destroy(&s->cache_mu);
    free(s->dir);
    free(s->trusted);
    free(s);
}

const tp_registry *tp_plugset_acquire(tp_plugset *s)
{
    pthread_mutex_lock(&s->mu);
    s->cur->refs++;
    const tp_registry *r = s->cur->reg;
    pthread_mutex_unlock(&s->mu);
    return r;
}

/* Drop a reference to p (s->mu held): the replaced set, once unreferenced,
 * is unlinked and returned for the caller to free outside the lock. */
static pset *unref(tp_plugset *s, pset *p)
{
    if (--p->refs > 0 || p == s->cur)
        return NULL;
    for (pset **pp = &s->retired; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    return p;
}

/* A replaced set, unreferenced: destroyed, and the helpers that may hold
 * its plugins replaced. */
static void retire(tp_plugset *s, pset *gone)
{
    if (!gone)
        return;
    pset_free(gone);
    if (s->sandbox)
        tp_sandbox_recycle(s->sandbox);
}

void tp_plugset_release(tp_plugset *s, const tp_registry *reg)
{
    if (!reg)
        return;
    pset *gone = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->cur->reg == reg) {
        gone = unref(s, s->cur);
    } else {
        for (pset *p = s->retired; p; p = p->next)
            if (p->reg == reg) {
                gone = unref(s, p);
                break;
            }
    }
    pthread_mutex_unlock(&s->mu);
    retire(s, gone);
}

int tp_plugset_reload(tp_plugset *s, tp_error *err)
{
    pthread_mutex_lock(&s->reload_mu);
    pset *fresh = load_set(s, err);
    if (!fresh) {
        pthread_mutex_unlock(&s->reload_mu);
        return err ? err->code : TP_EPLUGIN;
    }
    pthread_mutex_lock(&s->mu);
    pset *old = s->cur;
    fresh->info.generation = ++s->generation;
    fresh->refs = 1;
    s->cur = fresh;
    old->next = s->retired;
    s->retired = old;
    pset *gone = unref(s, old); /* the holder's reference */
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_unlock(&s->reload_mu);
    retire(s, gone);
    return TP_OK;
}

const char *tp_plugset_dir(const tp_plugset *s)
{
    return s->dir;
}

/* The set of `reg` (s->mu held), or NULL. */
static pset *set_of(tp_plugset *s, const tp_registry *reg)
{
    if (s->cur->reg == reg)
        return s->cur;
    for (pset *p = s->retired; p; p = p->next)
        if (p->reg == reg)
            return p;
    return NULL;
}

void tp_plugset_info_of(tp_plugset *s, const tp_registry *reg, tp_plugset_info *out)
{
    pthread_mutex_lock(&s->mu);
    pset *p = set_of(s, reg);
    *out = p ? p->info : (tp_plugset_info){0};
    pthread_mutex_unlock(&s->mu);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

void tp_plugset_summary(const tp_registry *reg, char *buf, size_t n)
{
    size_t nf = tp_registry_failure_count(reg);
    int k = snprintf(buf, n, "%zu loaded, %zu not loaded", tp_registry_count(reg), nf);
    for (size_t i = 0; i < nf && k > 0 && (size_t)k < n; i++) {
        int w = snprintf(buf + k, n - (size_t)k, "%s%s", i ? ", " : " (",
                         base_name(tp_registry_failure(reg, i)->path));
        k = w < 0 ? -1 : k + w;
    }
    if (nf && k > 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, ")");
}

/* ------------------------------------------------------------ pending */

const char *tp_plugset_change_reason(tp_plugset_change c)
{
    switch (c) {
    case TP_PLUGSET_NEW:
        return "not loaded: on disk since the last reload (POST /api/plugins/reload or SIGHUP)";
    case TP_PLUGSET_CHANGED:
        return "not loaded: changed on disk since the last reload (POST /api/plugins/reload or "
               "SIGHUP); the set runs the file as it was";
    default:
        return "loaded, but its file is gone from disk: the next reload (POST "
               "/api/plugins/reload or SIGHUP) drops it";
    }
}

void tp_plugset_files_free(tp_plugset_file *f, size_t n)
{
    for (size_t i = 0; f && i < n; i++)
        free(f[i].name);
    free(f);
}

static const tp_plugin *loaded_as(const tp_registry *r, const char *name)
{
    for (size_t i = 0; i < tp_registry_count(r); i++)
        if (strcmp(base_name(tp_registry_get(r, i)->path), name) == 0)
            return tp_registry_get(r, i);
    return NULL;
}

static int failed_as(const tp_registry *r, const char *name)
{
    for (size_t i = 0; i < tp_registry_failure_count(r); i++)
        if (strcmp(base_name(tp_registry_failure(r, i)->path), name) == 0)
            return 1;
    return 0;
}

static const char *snap_sha(const pset *p, const char *name)
{
    for (size_t i = 0; p && i < p->nfiles; i++)
        if (strcmp(p->files[i].name, name) == 0)
            return p->files[i].sha256;
    return "";
}

static int in_names(char *const *names, size_t n, const char *name)
{
    return n > 0 && bsearch(&name, names, n, sizeof *names, cmp_str) != NULL;
}

/* Append one file to the answer; 0 or TP_ENOMEM. */
static int add_file(tp_plugset_file **v, size_t *n, const char *name, const char *sha,
                    const char *loaded, tp_plugset_change c)
{
    tp_plugset_file *m = realloc(*v, (*n + 1) * sizeof *m);
    if (!m)
        return TP_ENOMEM;
    *v = m;
    if (!(m[*n].name = strdup(name)))
        return TP_ENOMEM;
    snprintf(m[*n].sha256, sizeof m[*n].sha256, "%s", sha);
    snprintf(m[*n].loaded, sizeof m[*n].loaded, "%s", loaded);
    m[(*n)++].change = c;
    return TP_OK;
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const tp_plugset_file *)a)->name, ((const tp_plugset_file *)b)->name);
}

int tp_plugset_pending(tp_plugset *s, const tp_registry *reg, tp_plugset_file **out, size_t *n,
                       tp_error *err)
{
    *out = NULL;
    *n = 0;
    char **names;
    size_t nn;
    int rc = list_dir(s->dir, &names, &nn, err);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&s->mu);
    const pset *set = set_of(s, reg); /* referenced by the caller: it stays */
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; rc == TP_OK && i < nn; i++) {
        char sha[65];
        file_sha(s, names[i], sha);
        const tp_plugin *p = loaded_as(reg, names[i]);
        if (p && strcmp(p->sha256, sha) != 0)
            rc = add_file(out, n, names[i], sha, p->sha256, TP_PLUGSET_CHANGED);
        else if (!p && failed_as(reg, names[i]) && strcmp(snap_sha(set, names[i]), sha) != 0)
            rc = add_file(out, n, names[i], sha, "", TP_PLUGSET_CHANGED);
        else if (!p && !failed_as(reg, names[i]))
            rc = add_file(out, n, names[i], sha, "", TP_PLUGSET_NEW);
    }
    for (size_t i = 0; rc == TP_OK && i < tp_registry_count(reg); i++) {
        const tp_plugin *p = tp_registry_get(reg, i);
        if (!in_names(names, nn, base_name(p->path)))
            rc = add_file(out, n, base_name(p->path), "", p->sha256, TP_PLUGSET_GONE);
    }
    free_names(names, nn);
    if (rc < 0) {
        tp_plugset_files_free(*out, *n);
        *out = NULL;
        *n = 0;
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    }
    if (*n > 1)
        qsort(*out, *n, sizeof **out, cmp_file);
    return TP_OK;
}
