/* verify.c -- see verify.h. */
#include "verify.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "db/branches.h"
#include "db/files.h"
#include "db/queue.h"
#include "io/fsutil.h"
#include "io/sha.h"

#define USES_MAX 8 /* terminal-days looked up per damaged object */

typedef struct verify {
    const tp_verify_opts *o;
    tp_verify_stats *st;
    tp_objects *objects; /* the database's side */
    tp_object cur;       /* its next object, when have_cur */
    int have_cur;
    tp_config *cfg;   /* branches (report servers), read on first need */
    char *workdir;    /* re-fetches, made on first need */
    long long listed; /* entries the store listed */
    tp_error *err;
} verify;

long long tp_verify_problems(const tp_verify_stats *st)
{
    return st->missing + st->truncated + st->wrong_size + st->corrupt + st->stray;
}

/* ------------------------------------------------------------ reading */

typedef struct hashing {
    tp_sha256 h;
    uint64_t size;
} hashing;

static int hash_chunk(void *ud, const void *data, size_t len)
{
    hashing *x = ud;
    tp_sha256_update(&x->h, data, len);
    x->size += len;
    return 0;
}

/* The object's sha256 and size as read back now (streamed). */
static int read_back(verify *v, const char *key, char hex[TP_SHA256_HEX], uint64_t *size,
                     tp_error *err)
{
    hashing x;
    tp_sha256_init(&x.h);
    x.size = 0;
    int rc = tp_store_read(v->o->store, key, hash_chunk, &x, err);
    if (rc == TP_OK)
        rc = tp_sha256_final_hex(&x.h, hex, err);
    else
        tp_sha256_clear(&x.h);
    *size = x.size;
    if (rc == TP_OK) {
        v->st->checked++;
        v->st->bytes += x.size;
    }
    return rc;
}

/* The sha256 a content key names, or NULL when the key is not one. */
static const char *key_sha(const char *key)
{
    const char *base = strrchr(key, '/') ? strrchr(key, '/') + 1 : key;
    char want[TP_STORE_KEY_MAX];
    if (strlen(base) != 64 || strspn(base, "0123456789abcdef") != 64)
        return NULL;
    tp_store_key(base, want);
    return strcmp(want, key) == 0 ? base : NULL;
}

/* ------------------------------------------------------------ repair */

static const char *server_of(verify *v, const char *branch)
{
    if (!v->cfg) {
        tp_error e2 = {0};
        v->cfg = tp_branches_config(v->o->db2, NULL, &e2);
    }
    const tp_branch_cfg *b = v->cfg ? tp_config_branch(v->cfg, branch) : NULL;
    return b && b->report_server ? b->report_server : v->o->server;
}

/* Fetch the file `u` names again; 1 when the server still has these
 * bytes and they are stored whole now, 0 when not (said why on out). */
static int refetch_one(verify *v, const tp_object *obj, const tp_object_use *u)
{
    const char *server = server_of(v, u->branch);
    if (!server || !v->o->conn)
        return 0;
    tp_error e2 = {0};
    char prefix[48];
    snprintf(prefix, sizeof prefix, "tillpipe-verify-%d-", (int)getpid());
    if (!v->workdir && !(v->workdir = tp_make_workdir(v->o->workroot, prefix, &e2)))
        return 0;
    char **paths = NULL;
    size_t n = 0;
    tp_fetch_kind kind;
    if (tp_fetch_list(v->o->conn, server, u->branch, u->pos, u->date, &paths, &n, &kind, &e2) < 0)
        fprintf(v->o->out, "  re-fetch: %s\n", e2.msg);
    int done = 0;
    for (size_t i = 0; i < n && !done; i++) {
        const char *base = strrchr(paths[i], '/') ? strrchr(paths[i], '/') + 1 : paths[i];
        if (strcmp(base, u->name) != 0)
            continue;
        char dest[PATH_MAX], hex[TP_SHA256_HEX];
        uint64_t size = 0;
        snprintf(dest, sizeof dest, "%s/%zu-%s", v->workdir, i, base);
        if (tp_fetch_file(v->o->conn, server, paths[i], dest, hex, &size, &kind, &e2) < 0) {
            fprintf(v->o->out, "  re-fetch: %s\n", e2.msg);
            continue;
        }
        const char *keys[] = {obj->key};
        if (strcmp(hex, obj->sha256) != 0 || size != obj->size)
            fprintf(v->o->out, "  re-fetch: %s serves other bytes now (sha256 %s)\n", paths[i],
                    hex);
        else if (tp_store_put_file(v->o->store, obj->key, dest, size, NULL, &e2) < 0 ||
                 tp_store_sync(v->o->store, keys, 1, &e2) < 0)
            fprintf(v->o->out, "  re-fetch: %s\n", e2.msg);
        else {
            fprintf(v->o->out, "  repaired: fetched again from %s (%s)\n", server, paths[i]);
            done = 1;
        }
        unlink(dest);
    }
    tp_fetch_list_free(paths, n);
    return done;
}

/* A recorded object that is missing or damaged: removed, then fetched
 * again, or a forced fetch queued for every terminal-day that used it. */
static int repair_recorded(verify *v, const tp_object *obj, int present, const tp_object_use *uses,
                           int nuses)
{
    tp_error *err = v->err;
    if (present) {
        if (tp_store_delete(v->o->store, obj->key, err) < 0)
            return err->code;
        v->st->removed++;
    }
    for (int i = 0; i < nuses; i++)
        if (refetch_one(v, obj, &uses[i])) {
            v->st->refetched++;
            return TP_OK;
        }
    int queued = 0;
    for (int i = 0; i < nuses; i++) {
        long long id = 0;
        tp_enqueue_result res;
        tp_error e2 = {0};
        if (tp_queue_enqueue(v->o->db2, uses[i].branch, uses[i].pos, uses[i].date, 1,
                             v->o->created_by, &id, &res, &e2) < 0) {
            fprintf(v->o->out, "  not repaired: queuing %s/%d/%s: %s\n", uses[i].branch,
                    uses[i].pos, uses[i].date, e2.msg);
            continue;
        }
        fprintf(v->o->out, "  repaired: a forced fetch of %s/%d/%s queued (job %lld)\n",
                uses[i].branch, uses[i].pos, uses[i].date, id);
        queued++;
    }
    if (queued)
        v->st->queued++;
    else
        v->st->unrepaired++;
    return TP_OK;
}

/* ------------------------------------------------------------ findings */

/* A recorded object's finding: the line, the terminal-days, the repair. */
static int recorded_problem(verify *v, const tp_object *obj, int present, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int recorded_problem(verify *v, const tp_object *obj, int present, const char *fmt, ...)
{
    tp_object_use uses[USES_MAX];
    int n = 0;
    tp_error e2 = {0};
    if (tp_object_uses(v->o->db2, obj->key, uses, USES_MAX, &n, &e2) < 0)
        return tp_error_set(v->err, TP_EDB, "%s", e2.msg);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(v->o->out, fmt, ap);
    va_end(ap);
    for (int i = 0; i < n; i++)
        fprintf(v->o->out, "%s %s/%d/%s %s", i ? "," : " (of", uses[i].branch, uses[i].pos,
                uses[i].date, uses[i].name);
    fputs(n ? ")\n" : "\n", v->o->out);
    return v->o->repair ? repair_recorded(v, obj, present, uses, n) : TP_OK;
}

static int check_recorded(verify *v, const tp_object *obj, uint64_t listed_size)
{
    char hex[TP_SHA256_HEX];
    uint64_t size = listed_size;
    tp_error e2 = {0};
    if (listed_size < obj->size) {
        v->st->truncated++;
        return recorded_problem(v, obj, 1, "truncated %s: %llu of its %llu bytes", obj->key,
                                (unsigned long long)listed_size, (unsigned long long)obj->size);
    }
    if (listed_size > obj->size) {
        v->st->wrong_size++;
        return recorded_problem(v, obj, 1, "wrong size %s: %llu bytes, recorded %llu", obj->key,
                                (unsigned long long)listed_size, (unsigned long long)obj->size);
    }
    int rc = read_back(v, obj->key, hex, &size, &e2);
    if (rc == TP_ENOTFOUND) {
        v->st->missing++;
        return recorded_problem(v, obj, 0, "missing %s (%llu bytes)", obj->key,
                                (unsigned long long)obj->size);
    }
    if (rc < 0 && rc != TP_EINVAL)
        return tp_error_set(v->err, rc, "%s", e2.msg);
    if (rc == TP_OK && size == obj->size && strcmp(hex, obj->sha256) == 0 &&
        strcmp(hex, key_sha(obj->key) ? key_sha(obj->key) : "") == 0) {
        v->st->ok++;
        return TP_OK;
    }
    v->st->corrupt++;
    if (rc < 0)
        return recorded_problem(v, obj, 1, "corrupt %s: %s", obj->key, e2.msg);
    return recorded_problem(v, obj, 1, "corrupt %s: %llu bytes with sha256 %s", obj->key,
                            (unsigned long long)size, hex);
}

/* A repair removes `key`; a check leaves it.  TP_OK or the store's error. */
static int remove_when_repairing(verify *v, const char *key)
{
    if (!v->o->repair)
        return TP_OK;
    if (tp_store_delete(v->o->store, key, v->err) < 0)
        return v->err->code;
    v->st->removed++;
    fprintf(v->o->out, "  repaired: removed\n");
    return TP_OK;
}

static int check_temporary(verify *v, const char *key, long pid)
{
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) {
        v->st->in_progress++; /* a put under way: its writer is alive */
        return TP_OK;
    }
    v->st->stray++;
    fprintf(v->o->out, "stray temporary %s: its writer (pid %ld) is gone\n", key, pid);
    return remove_when_repairing(v, key);
}

/* An object no files row names: left alone when it is what its key names
 * (a put whose job then failed), corrupt (and removed by a repair) when
 * it is not. */
static int check_unreferenced(verify *v, const char *key)
{
    const char *sha = key_sha(key);
    char hex[TP_SHA256_HEX];
    uint64_t size = 0;
    tp_error e2 = {0};
    v->st->unreferenced++;
    if (!sha)
        return TP_OK; /* not a content key: nothing of ours to compare */
    int rc = read_back(v, key, hex, &size, &e2);
    if (rc == TP_ENOTFOUND)
        return TP_OK; /* removed meanwhile */
    if (rc < 0)
        return tp_error_set(v->err, rc, "%s", e2.msg);
    if (strcmp(hex, sha) == 0)
        return TP_OK;
    v->st->corrupt++;
    fprintf(v->o->out, "corrupt %s: %llu bytes with sha256 %s (no job recorded it)\n", key,
            (unsigned long long)size, hex);
    return remove_when_repairing(v, key);
}

/* ------------------------------------------------------------ the merge */

static int advance(verify *v)
{
    int rc = tp_objects_next(v->objects, &v->cur, v->err);
    v->have_cur = rc == 1;
    return rc < 0 ? rc : TP_OK;
}

/* The database's objects before `key` (all of them: NULL) are missing. */
static int missing_before(verify *v, const char *key)
{
    int rc = TP_OK;
    while (rc == TP_OK && v->have_cur && (!key || strcmp(v->cur.key, key) < 0)) {
        v->st->missing++;
        tp_object obj = v->cur;
        rc = recorded_problem(v, &obj, 0, "missing %s (%llu bytes)", obj.key,
                              (unsigned long long)obj.size);
        if (rc == TP_OK)
            rc = advance(v);
    }
    return rc;
}

static int on_entry(void *ud, const char *key, uint64_t size)
{
    verify *v = ud;
    v->listed++;
    int rc = missing_before(v, key);
    if (rc < 0)
        return rc;
    if (v->have_cur && strcmp(v->cur.key, key) == 0) {
        tp_object obj = v->cur;
        rc = check_recorded(v, &obj, size);
        return rc < 0 ? rc : advance(v);
    }
    if (v->o->branch || v->o->since)
        return TP_OK; /* outside the filter */
    long pid = tp_store_temp_pid(key);
    return pid ? check_temporary(v, key, pid) : check_unreferenced(v, key);
}

/* Only the database's objects, each looked up by its key (a filter, or a
 * store that cannot be listed). */
static int check_each_recorded(verify *v)
{
    int rc = TP_OK;
    while (rc == TP_OK && v->have_cur) {
        tp_object obj = v->cur;
        int exists = 0;
        uint64_t size = 0;
        if ((rc = tp_store_stat(v->o->store, obj.key, &exists, &size, v->err)) < 0)
            break;
        if (exists)
            rc = check_recorded(v, &obj, size);
        else {
            v->st->missing++;
            rc = recorded_problem(v, &obj, 0, "missing %s (%llu bytes)", obj.key,
                                  (unsigned long long)obj.size);
        }
        if (rc == TP_OK)
            rc = advance(v);
    }
    return rc;
}

int tp_verify_store(const tp_verify_opts *o, tp_verify_stats *st, tp_error *err)
{
    memset(st, 0, sizeof *st);
    verify v = {.o = o, .st = st, .err = err};
    if (!(v.objects = tp_objects_open(o->db, o->branch, o->since, err)))
        return TP_EDB;
    int rc = advance(&v);
    if (rc == TP_OK && !o->branch && !o->since) {
        rc = tp_store_list(o->store, "raw/", on_entry, &v, err);
        /* A server that refuses to list (s3rver refuses libs3's signature of
         * bucket requests): the recorded objects are still checked, one by
         * one; what no row names is not. */
        if (rc == TP_EIO && v.listed == 0 && strcmp(tp_store_kind(o->store), "s3") == 0) {
            fprintf(o->out,
                    "note: the store cannot be listed (%s): only the objects the "
                    "database records are checked\n",
                    err->msg);
            st->listing_refused = 1;
            rc = check_each_recorded(&v);
        } else if (rc == TP_OK)
            rc = missing_before(&v, NULL);
    } else if (rc == TP_OK)
        rc = check_each_recorded(&v);
    tp_objects_close(v.objects);
    tp_config_destroy(v.cfg);
    if (v.workdir)
        tp_remove_tree(v.workdir);
    free(v.workdir);
    fflush(o->out);
    return rc;
}
