/* source.c -- see source.h. */
#include "source.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/fsutil.h"
#include "io/sha.h"
#include "io/unpack.h"

void tp_fetched_clear(tp_fetched *f)
{
    tp_scan_destroy(f->scan);
    if (f->workdir && f->reused)
        tp_empty_tree(f->workdir);
    else if (f->workdir)
        tp_remove_tree(f->workdir);
    free(f->workdir);
    memset(f, 0, sizeof *f);
}

static int begin(const tp_source *src, const char *branch, int pos, const char *date,
                 tp_fetched *out, tp_error *err)
{
    memset(out, 0, sizeof *out);
    out->kind = TP_FETCH_OK;
    if (!(out->scan = tp_scan_create()))
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    if (!tp_scan_day(out->scan, branch, pos, date, err))
        return TP_ENOMEM;
    if (src->workdir) {
        if (!(out->workdir = strdup(src->workdir)))
            return tp_error_set(err, TP_ENOMEM, "out of memory");
        out->reused = 1;
    } else {
        char prefix[48]; /* the owner's pid in the name: a sweep can tell whose it is */
        snprintf(prefix, sizeof prefix, "tillpipe-job-%d-", (int)getpid());
        if (!(out->workdir = tp_make_workdir(src->workroot, prefix, err)))
            return TP_EIO;
    }
    return TP_OK;
}

/* Add a local file that belongs to the job: a report of this terminal-day
 * (a candidate), an archive (its members), or something else (ignored). */
static int add_local(const tp_source *src, tp_fetched *out, const char *path, const char *name,
                     uint64_t size, const char *sha256, tp_error *err)
{
    tp_termday *td = &out->scan->days[0];
    tp_scan_filter key = {td->branch, td->pos, td->date};
    tp_report_name rn;
    if (tp_report_name_parse(name, &rn, NULL) == 0) {
        if (strcmp(rn.branch, td->branch) != 0 || rn.pos != td->pos ||
            strcmp(rn.date, td->date) != 0)
            return tp_scan_ignore(out->scan, name, err);
        int rc = tp_scan_add(out->scan, path, &rn, size, err);
        if (rc == TP_OK && sha256) {
            td = &out->scan->days[0];
            snprintf(td->cands[td->ncands - 1].sha256, TP_SHA256_HEX, "%s", sha256);
        }
        return rc;
    }
    if (tp_archive_sniff(path))
        return tp_scan_add_archive(out->scan, path, &key, src->max_file_bytes, err);
    return tp_scan_ignore(out->scan, name, err);
}

static int finish(tp_fetched *out, tp_error *err)
{
    tp_scan_sort(out->scan);
    /* (a server's empty list is already NO_FILES: it gets its words here too) */
    if (out->scan->days[0].ncands == 0 &&
        (out->kind == TP_FETCH_OK || out->kind == TP_FETCH_NO_FILES)) {
        out->kind = TP_FETCH_NO_FILES;
        if (out->scan->nignored > 0)
            tp_error_set(err, TP_ENOTFOUND,
                         "%zu file%s listed, none a report of this terminal-day (e.g. %s)",
                         out->scan->nignored, out->scan->nignored == 1 ? "" : "s",
                         out->scan->ignored[0]);
        else
            tp_error_set(err, TP_ENOTFOUND, "no report files yet");
    }
    return TP_OK;
}

static int fetch_dir(const tp_source *src, tp_fetched *out, tp_error *err)
{
    tp_termday *td = &out->scan->days[0];
    tp_scan_filter key = {td->branch, td->pos, td->date};
    tp_scan *s = NULL;
    int rc = tp_scan_dir_indexed(src->reports_dir, &key, src->index, &s, err);
    if (rc < 0) {
        out->kind = TP_FETCH_SERVER_ERROR;
        return rc;
    }
    /* The folder's scan replaces the empty one; keep its archive folder. */
    tp_scan *empty = out->scan;
    out->scan = s;
    out->listed = s->ndays ? s->days[0].ncands : 0;
    if (!tp_scan_day(s, empty->days[0].branch, empty->days[0].pos, empty->days[0].date, err))
        rc = TP_ENOMEM;
    tp_scan_destroy(empty);
    return rc;
}

static int fetch_server(const tp_source *src, const char *server, tp_fetched *out, tp_error *err)
{
    tp_termday *td = &out->scan->days[0];
    char **paths = NULL;
    size_t n = 0;
    int rc = tp_fetch_list(src->conn, server, td->branch, td->pos, td->date, &paths, &n, &out->kind,
                           err);
    if (rc < 0)
        return rc;
    out->listed = n;
    for (size_t i = 0; rc == TP_OK && i < n; i++) {
        const char *name = strrchr(paths[i], '/') ? strrchr(paths[i], '/') + 1 : paths[i];
        /* Downloads keep their file names: in the work folder itself, or in a
         * folder of their own when an earlier path had the same name. */
        int clash = 0;
        for (size_t j = 0; j < i && !clash; j++) {
            const char *other = strrchr(paths[j], '/') ? strrchr(paths[j], '/') + 1 : paths[j];
            clash = strcmp(other, name) == 0;
        }
        char dir[PATH_MAX], dest[PATH_MAX];
        if (clash)
            snprintf(dir, sizeof dir, "%s/%zu", out->workdir, i);
        else
            snprintf(dir, sizeof dir, "%s", out->workdir);
        if ((size_t)snprintf(dest, sizeof dest, "%s/%s", dir, name) >= sizeof dest) {
            out->kind = TP_FETCH_SERVER_ERROR;
            rc = tp_error_set(err, TP_ELIMIT, "listed name too long: %.80s...", name);
            break;
        }
        if (clash && mkdir(dir, 0700) < 0) {
            out->kind = TP_FETCH_BAD_FILE;
            rc = tp_error_set(err, TP_EIO, "%s: %s", dir, strerror(errno));
            break;
        }
        char sha[TP_SHA256_HEX];
        uint64_t size = 0;
        rc = tp_fetch_file(src->conn, server, paths[i], dest, sha, &size, &out->kind, err);
        if (rc == TP_OK && (rc = add_local(src, out, dest, name, size, sha, err)) < 0) {
            out->kind = TP_FETCH_BAD_FILE; /* an unsafe or broken archive */
            tp_error_prefix(err, "download %s: ", paths[i]);
        }
    }
    tp_fetch_list_free(paths, n);
    return rc;
}

int tp_source_fetch(const tp_source *src, const char *server, const char *branch, int pos,
                    const char *date, tp_fetched *out, tp_error *err)
{
    int rc = begin(src, branch, pos, date, out, err);
    if (rc < 0) {
        out->kind = TP_FETCH_BAD_FILE;
        return rc;
    }
    if (src->reports_dir)
        rc = fetch_dir(src, out, err);
    else if (!(server = server ? server : src->server) || !src->conn) {
        out->kind = TP_FETCH_SERVER_ERROR;
        rc = tp_error_set(err, TP_ECONFIG,
                          "no report server configured (--server, $TILLPIPE_REPORT_SERVER or the"
                          " branch's report_server) and no --reports folder");
    } else
        rc = fetch_server(src, server, out, err);
    if (rc < 0) {
        if (out->kind == TP_FETCH_OK || out->kind == TP_FETCH_NO_FILES)
            out->kind = TP_FETCH_BAD_FILE;
        return rc;
    }
    return finish(out, err);
}

/* An object read back is what its key names: hashed again, never trusted
 * (a store may keep what a crash left). */
static int verify_object(const char *path, const char *key, const tp_stored_file *f, tp_error *err)
{
    char hex[TP_SHA256_HEX];
    uint64_t size = 0;
    int rc = tp_sha256_file(path, hex, &size, err);
    if (rc == TP_OK && strcmp(hex, f->sha256) != 0)
        rc = tp_error_set(err, TP_ECORRUPT,
                          "store: object %s of %s is corrupt: %llu bytes with sha256 %s, not the "
                          "bytes its key names; fetch the terminal-day again (tillpipe enqueue "
                          "--force) and check the store (its other objects may be damaged too)",
                          key, f->name, (unsigned long long)size, hex);
    return rc;
}

int tp_source_stored(const tp_source *src, const char *branch, int pos, const char *date,
                     const tp_stored_file *files, size_t n, tp_fetched *out, tp_error *err)
{
    int rc = begin(src, branch, pos, date, out, err);
    for (size_t i = 0; rc == TP_OK && i < n; i++) {
        /* under the report's own name: a link to the object of an fs store
         * (read in place), else a copy from the store */
        char key[TP_STORE_KEY_MAX], dir[PATH_MAX], dest[PATH_MAX], local[PATH_MAX];
        tp_store_key(files[i].sha256, key);
        snprintf(dir, sizeof dir, "%s/%zu", out->workdir, i);
        snprintf(dest, sizeof dest, "%s/%s", dir, files[i].name);
        const char *obj = tp_store_local_path(src->store, key, local, sizeof local);
        struct stat st;
        if (mkdir(dir, 0700) < 0 || (obj && symlink(obj, dest) < 0))
            rc = tp_error_set(err, TP_EIO, "%s: %s", dest, strerror(errno));
        else if (!obj)
            rc = tp_store_get_file(src->store, key, dest, err);
        if (rc == TP_OK && stat(dest, &st) < 0)
            rc = tp_error_set(err, errno == ENOENT ? TP_ENOTFOUND : TP_EIO,
                              "store: object %s of %s: %s", key, files[i].name, strerror(errno));
        if (rc == TP_OK)
            rc = verify_object(dest, key, &files[i], err);
        if (rc == TP_OK)
            rc = add_local(src, out, dest, files[i].name, (uint64_t)st.st_size, files[i].sha256,
                           err);
    }
    out->listed = n;
    if (rc < 0) {
        out->kind = TP_FETCH_BAD_FILE;
        return rc;
    }
    return finish(out, err);
}

int tp_source_keep(const tp_source *src, tp_fetched *f, tp_error *err)
{
    tp_termday *td = &f->scan->days[0];
    const char *workdir = f->workdir;
    size_t fresh = 0;
    char(*keys)[TP_STORE_KEY_MAX] = calloc(td->ncands + 1, sizeof *keys);
    const char **kv = calloc(td->ncands + 1, sizeof *kv);
    int rc = keys && kv ? TP_OK : tp_error_set(err, TP_ENOMEM, "out of memory");
    for (size_t i = 0; rc == TP_OK && i < td->ncands; i++) {
        tp_candidate *c = &td->cands[i];
        if (!c->sha256[0] && tp_sha256_file(c->path, c->sha256, NULL, err) < 0) {
            rc = TP_EIO;
            break;
        }
        tp_store_key(c->sha256, keys[fresh]);
        int existed = 0;
        /* files in the job's work folder are ours: the store may take them as they are */
        size_t wl = workdir ? strlen(workdir) : 0;
        int owned = wl && strncmp(c->path, workdir, wl) == 0 && c->path[wl] == '/';
        rc = owned ? tp_store_put_owned(src->store, keys[fresh], c->path, c->size, &existed, err)
                   : tp_store_put_file(src->store, keys[fresh], c->path, c->size, &existed, err);
        if (rc < 0)
            tp_error_prefix(err, "%s: ", c->name);
        else if (!existed)
            kv[fresh] = keys[fresh], fresh++;
    }
    if (rc == TP_OK && fresh > 0)
        rc = tp_store_sync(src->store, kv, fresh, err);
    free(keys);
    free(kv);
    if (rc == TP_OK)
        f->stored_new = fresh;
    return rc;
}
