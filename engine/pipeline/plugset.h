/* plugset.h -- the plugin set of a long-running process, replaced while it
 * runs.
 *
 * `tillpipe worker` and `tillpipe serve` load their plugin folder once at
 * start; a tp_plugset lets them load it again (SIGHUP, POST
 * /api/plugins/reload) without a restart.  A reload builds a new registry
 * from the folder next to the current one and makes it current; work takes
 * the current registry with tp_plugset_acquire and gives it back with
 * tp_plugset_release, so a job in flight finishes on the set it started
 * with while new jobs get the new one.  A replaced set is destroyed when
 * its last reference is given back; then, when plugins run in a sandbox,
 * its helpers are recycled (tp_sandbox_recycle): idle ones end at once,
 * busy ones when their parse ends, so none keeps old plugins loaded.  A
 * plugin file is never loaded in place: an upgrade writes the new file
 * beside the old and renames it over (the registry loads from the
 * descriptor it opened and hashed).
 *
 * A reload that loads nothing -- the folder is gone or unreadable, or not
 * one plugin in it loads -- keeps the current set and returns the error.
 * Individual failures do not stop a reload: they are the new set's
 * failures (tp_registry_failures), as at start.
 *
 * Each set has a generation (1, then one more per reload that took) and
 * the time it was loaded, and remembers the plugin files of the folder as
 * its load began, so tp_plugset_pending can say which files on disk now it
 * has not loaded: files added or changed since (a reload would load them),
 * and loaded plugins whose file is gone.
 *
 * Every function is thread-safe.  Loads run in a thread the plugset owns:
 * sandbox helpers die with the thread that started them
 * (PR_SET_PDEATHSIG), and the helpers a load starts are then used by every
 * thread, so they must not be started by a short-lived one (an HTTP
 * connection's).
 */
#ifndef TP_PLUGSET_H
#define TP_PLUGSET_H

#include <stddef.h>
#include <time.h>

#include "core/error.h"
#include "plugin.h"

typedef struct tp_plugset tp_plugset;

/* Load the first set from `dir` (copied), in `sandbox`'s helpers (borrowed,
 * it must outlive the plugset; NULL: in this process); with `trusted` (a
 * folder of keys, copied; NULL: any plugin) only plugins installed from
 * packages signed by one of them load (tp_registry_trust), at every load.
 * Unless `quiet`, each file that fails to load, at this load and every
 * reload, is a warning on stderr.  Returns the plugset, or NULL with err
 * set when the folder cannot be read or holds no plugin that loads. */
tp_plugset *tp_plugset_create(const char *dir, tp_sandbox *sandbox, const char *trusted, int quiet,
                              tp_error *err);

/* Destroy the plugset and every set; no reference may be held.  NULL is a
 * no-op. */
void tp_plugset_destroy(tp_plugset *s);

/* The current registry, referenced until tp_plugset_release.  Never NULL. */
const tp_registry *tp_plugset_acquire(tp_plugset *s);

/* Give back a reference from tp_plugset_acquire; the last one of a
 * replaced set destroys it (and recycles the sandbox's helpers). */
void tp_plugset_release(tp_plugset *s, const tp_registry *reg);

/* Load the folder again into a new set and make it current.  0, or < 0
 * with err set (the current set kept): TP_ENOTFOUND when the folder is
 * gone or no plugin in it loads, TP_EIO when it cannot be read, TP_ENOMEM.
 * One reload runs at a time; a second caller waits for the first. */
int tp_plugset_reload(tp_plugset *s, tp_error *err);

/* The folder (as given to tp_plugset_create). */
const char *tp_plugset_dir(const tp_plugset *s);

/* A set's generation and the wall-clock time it was loaded, for `reg`
 * acquired from `s`. */
typedef struct tp_plugset_info {
    unsigned long generation; /* 1 for the first set, one more per reload */
    time_t loaded_at;
} tp_plugset_info;
void tp_plugset_info_of(tp_plugset *s, const tp_registry *reg, tp_plugset_info *out);

/* "8 loaded, 1 not loaded (bad.so)" into buf: what a load gave. */
void tp_plugset_summary(const tp_registry *reg, char *buf, size_t n);

/* A plugin file on disk that the set does not run as it is now. */
typedef enum tp_plugset_change {
    TP_PLUGSET_NEW = 1, /* on disk, neither loaded nor failed: it appeared since */
    TP_PLUGSET_CHANGED, /* its content differs from what the set loaded (or failed) */
    TP_PLUGSET_GONE     /* loaded, but the file is no longer there */
} tp_plugset_change;

typedef struct tp_plugset_file {
    char *name;      /* the file's name in the folder */
    char sha256[65]; /* its content now ("" when gone or unreadable) */
    char loaded[65]; /* CHANGED, GONE of a loaded plugin: the sha256 it runs; else "" */
    tp_plugset_change change;
} tp_plugset_file;

/* The plugin files (*.so) of the folder now, against what `reg` (acquired
 * from `s`) loaded: a new array of those it does not run as they are, by
 * name (free with tp_plugset_files_free), in *out and its length in *n.
 * Files whose content did not change since the last look are not hashed
 * again.  0, or < 0 with err set (TP_EIO: the folder cannot be read now;
 * TP_ENOMEM). */
int tp_plugset_pending(tp_plugset *s, const tp_registry *reg, tp_plugset_file **out, size_t *n,
                       tp_error *err);
void tp_plugset_files_free(tp_plugset_file *f, size_t n);

/* What each change means to an operator, one line (static). */
const char *tp_plugset_change_reason(tp_plugset_change c);

#endif
