/* job.c -- one claimed job, stage by stage: fetch (the report server, a
 * local folder, or the store for a reparse), store (every candidate kept in
 * the raw-file store), parse (select, parse and combine into a spool file)
 * and load (one transaction).  Between stages a requested cancel, a lost
 * lease or the end of a drain stops the attempt.  See worker.h. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "db/branches.h"
#include "db/files.h"
#include "db/load.h"
#include "pipeline/pipeline.h"
#include "source.h"
#include "store/store.h"
#include "worker_int.h"

#define JOB_FAILED (-1000) /* a stage failed: the job error is in the context */

typedef struct job_ctx {
    tp_worker *w;
    int me; /* slot index */
    tp_db *db;
    const tp_job *job;
    tp_thread_cache *cache;
    /* the plugin set this job runs with, to its end */
    const tp_registry *plugins;
    const tp_config *cfg;  /* the branch configuration (the cache's) */
    tp_fetched fetched;    /* the terminal-day's candidates */
    tp_termday_result res; /* what the pipeline made of them */
    long long records;     /* spooled */
    char *fetch_json;      /* what the fetch stage saw, written when the attempt ends */
    const char *stage;     /* the stage running (fetch, store, parse, load) */
    double stage_at;       /* when it began */
    char stages[256];      /* {"fetch": seconds, ...}: the stages ended so far */
    char code[48];         /* the job error: a stable code, */
    int retryable;         /* whether another attempt may do better, */
    int cut;               /* stopped inside a stage, not at a boundary */
    char msg[1024];        /* and what happened */
} job_ctx;

static int job_error(job_ctx *c, const char *code, int retryable, const char *msg)
{
    snprintf(c->code, sizeof c->code, "%s", code);
    c->retryable = retryable;
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    return JOB_FAILED;
}

/* The stage that runs from now on; the one before it is timed. */
static void stage_enter(job_ctx *c, const char *stage)
{
    double now = tp_now();
    size_t n = strlen(c->stages);
    if (c->stage && n + 40 < sizeof c->stages)
        snprintf(c->stages + n, sizeof c->stages - n, "%s\"%s\": %.6f", n ? ", " : "{", c->stage,
                 now - c->stage_at);
    c->stage = stage;
    c->stage_at = now;
}

/* The attempt's seconds per stage, the running one up to now, as JSON. */
static const char *stages_json(const job_ctx *c, char *buf, size_t cap)
{
    size_t n = strlen(c->stages);
    snprintf(buf, cap, "%s%s\"%s\": %.6f}", n ? c->stages : "{", n ? ", " : "", c->stage,
             tp_now() - c->stage_at);
    return buf;
}

/* Stage boundary: a requested cancel, a lost lease or the end of a drain
 * ends the attempt. */
static int boundary(job_ctx *c)
{
    pthread_mutex_lock(&c->w->mu);
    int cancel = c->w->slots[c->me].cancel, lost = c->w->slots[c->me].lost;
    int stop = *c->w->o->stop && c->w->stop_at > 0 && tp_now() >= c->w->stop_at;
    pthread_mutex_unlock(&c->w->mu);
    return lost ? TP_ELOST : cancel ? TP_ECANCELLED : stop ? TP_ESTOP : TP_OK;
}

static tp_source source_of(const tp_worker *w, tp_thread_cache *cache)
{
    if (w->o->reports_dir && !cache->index)
        cache->index = tp_dir_index_create(); /* (NULL: each job reads the folder) */
    const tp_fetcher *f = w->o->fetcher;
    return (tp_source){.reports_dir = w->o->reports_dir,
                       .index = cache->index,
                       .server = w->o->server,
                       .conn = cache->conn,
                       .store = w->o->store,
                       .max_file_bytes = f ? tp_fetcher_max_file_bytes(f) : 0,
                       .workroot = w->o->workroot,
                       .workdir = cache->workdir};
}

/* What the fetch stage did, for the attempt ("why did it fail?"); written
 * with the attempt's end, so it costs no statement of its own. */
static void note_fetch(job_ctx *c, const char *source, const char *server)
{
    const tp_fetched *f = &c->fetched;
    json_t *o = json_pack("{s:s, s:I}", "source", source, "listed", (json_int_t)f->listed);
    if (server)
        json_object_set_new(o, "server", json_string(server));
    if (f->scan && f->scan->ndays > 0)
        json_object_set_new(o, "candidates", json_integer((json_int_t)f->scan->days[0].ncands));
    if (f->scan && f->scan->nignored > 0) {
        json_t *ig = json_array();
        for (size_t i = 0; i < f->scan->nignored && i < 20; i++)
            json_array_append_new(ig, json_string(f->scan->ignored[i]));
        json_object_set_new(o, "ignored", ig);
    }
    free(c->fetch_json);
    c->fetch_json = json_dumps(o, JSON_COMPACT);
    json_decref(o);
}

/* The branch configuration (its parsers, its report server), read again
 * once it is TP_CONFIG_TTL seconds old. */
static int refresh_config(job_ctx *c, tp_error *err)
{
    tp_thread_cache *cache = c->cache;
    if (!cache->config || tp_now() - cache->config_at > TP_CONFIG_TTL) {
        tp_config *fresh = tp_branches_config(c->db, NULL, err);
        if (fresh) {
            tp_config_destroy(cache->config);
            cache->config = fresh;
            cache->config_at = tp_now();
        }
    }
    if (!(c->cfg = cache->config))
        return job_error(c, tp_db_broken(c->db) ? "database_unavailable" : "config_invalid", 1,
                         err->msg);
    return TP_OK;
}

/* A reparse: the candidates of the terminal-day's last succeeded run, from
 * the store. */
static int fetch_stored(job_ctx *c, const tp_source *src, tp_error *err)
{
    const tp_job *job = c->job;
    tp_stored *stored = NULL;
    size_t n = 0;
    int rc = tp_files_last_run(c->db, job->branch, job->pos, job->date, &stored, &n, err);
    if (rc == TP_OK && n == 0) {
        tp_error_set(err, TP_ENOTFOUND,
                     "nothing to reparse: %s/%d/%s has no succeeded run with stored files",
                     job->branch, job->pos, job->date);
        free(stored);
        return job_error(c, "no_stored_files", 0, err->msg);
    }
    tp_stored_file *files = rc == TP_OK ? calloc(n, sizeof *files) : NULL;
    for (size_t i = 0; files && i < n; i++)
        files[i] = (tp_stored_file){stored[i].name, stored[i].sha256};
    if (rc == TP_OK && !files)
        rc = tp_error_set(err, TP_ENOMEM, "out of memory");
    if (rc == TP_OK)
        rc = tp_source_stored(src, job->branch, job->pos, job->date, files, n, &c->fetched, err);
    free(files);
    free(stored);
    note_fetch(c, "store", NULL);
    if (rc == TP_ECORRUPT) /* another attempt reads the same bytes */
        return job_error(c, "store_corrupt", 0, err->msg);
    if (rc < 0)
        return job_error(c, rc == TP_EDB ? "database_unavailable" : "store_unavailable", 1,
                         err->msg);
    return TP_OK;
}

/* A write refused by the local file system -- full, over quota, read-only,
 * over the file size limit -- is the storage's failure, not the file's:
 * every message about it carries the system's words for it. */
static int disk_failure(const char *msg)
{
    static const int codes[] = {ENOSPC, EDQUOT, EROFS, EFBIG};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
        if (strstr(msg, strerror(codes[i])))
            return 1;
    return 0;
}

/* The terminal-day's candidates into a work folder: from the report server
 * (the branch's own, or the worker's), the folder, or (reparse) the store. */
static int stage_fetch(job_ctx *c, tp_error *err)
{
    if (refresh_config(c, err) < 0)
        return JOB_FAILED;
    const tp_job *job = c->job;
    tp_source src = source_of(c->w, c->cache);
    if (job->kind == TP_JOB_REPARSE)
        return fetch_stored(c, &src, err);
    const tp_branch_cfg *b = tp_config_branch(c->cfg, job->branch);
    const char *server = b && b->report_server ? b->report_server : c->w->o->server;
    int rc = tp_source_fetch(&src, server, job->branch, job->pos, job->date, &c->fetched, err);
    note_fetch(c, src.reports_dir ? "folder" : "server", src.reports_dir ? NULL : server);
    tp_fetch_kind kind = c->fetched.kind;
    if (rc == TP_ESTOP || rc == TP_ECANCELLED || rc == TP_ELOST) {
        c->cut = 1; /* a download stopped at once, as at a stage boundary otherwise */
        return rc;
    }
    if (rc < 0) {
        if (disk_failure(err->msg)) /* the work folder's disk, not the report */
            return job_error(c, "store_unavailable", 1, err->msg);
        /* a report server not on the allow-list, or none at all: the
         * configuration must change first */
        if (err->code == TP_ECONFIG)
            return job_error(c, "config_error", 0, err->msg);
        /* over the cap, not CSV, an unsafe archive: retrying changes nothing */
        int final = kind == TP_FETCH_BAD_FILE && (err->code == TP_ELIMIT || err->code == TP_EPARSE);
        return job_error(c, tp_fetch_kind_code(kind), !final, err->msg);
    }
    if (kind == TP_FETCH_NO_FILES) {
        char m[1024];
        snprintf(m, sizeof m, "%s for %s/%d/%s", err->msg, job->branch, job->pos, job->date);
        return job_error(c, "no_files", 1, m);
    }
    return TP_OK;
}

/* Every candidate kept in the raw-file store. */
static int stage_store(job_ctx *c, tp_error *err)
{
    tp_source src = source_of(c->w, c->cache);
    if (tp_source_keep(&src, &c->fetched, err) < 0)
        return job_error(
            c, err->code == TP_EIO || err->code == TP_ENOMEM ? "store_unavailable" : "store_error",
            1, err->msg);
    return TP_OK;
}

/* The thread's spool file, emptied for this job. */
static FILE *spool_ready(job_ctx *c)
{
    tp_thread_cache *cache = c->cache;
    if (!cache->spool) {
        if (!(cache->spool_buf = malloc(TP_SPOOL_BUFFER)) || !(cache->spool = tmpfile())) {
            job_error(c, "spool_unavailable", 1,
                      cache->spool_buf ? strerror(errno) : "out of memory");
            free(cache->spool_buf);
            cache->spool_buf = NULL;
            return NULL;
        }
        setvbuf(cache->spool, cache->spool_buf, _IOFBF, TP_SPOOL_BUFFER);
    }
    rewind(cache->spool);
    if (ftruncate(fileno(cache->spool), 0) < 0) {
        job_error(c, "spool_unavailable", 1, strerror(errno));
        return NULL;
    }
    return cache->spool;
}

static int spool_record(void *ud, const tp_record *r, tp_error *err)
{
    job_ctx *c = ud;
    if (tp_load_spool_record(c->cache->spool, c->job->id, r, err) < 0)
        return TP_EIO;
    c->records++;
    return TP_OK;
}

/* Polled while the files download and parse: a cancel, a lost lease or
 * the end of a drain stops a download at once and kills a sandboxed parse
 * at once (hung or not). */
static int parse_cancelled(void *ud)
{
    return boundary(ud);
}

/* Select, parse and combine into the spool file (no transaction open). */
static int stage_parse(job_ctx *c, tp_error *err)
{
    FILE *spool = spool_ready(c);
    if (!spool)
        return JOB_FAILED;
    tp__health_refresh(c->w, c->db);
    tp_pipeline pl = {.plugins = c->plugins,
                      .config = c->cfg,
                      .cancelled = parse_cancelled,
                      .cancel_ud = c,
                      .refuse = tp__health_refuse,
                      .refuse_ud = c->w};
    if (tp_pipeline_termday(&pl, &c->fetched.scan->days[0], spool_record, c, &c->res, err) < 0) {
        int code = err->code;
        if (code == TP_ECANCELLED || code == TP_ELOST || code == TP_ESTOP) {
            c->cut = 1; /* its parse killed at once, as at a stage boundary otherwise */
            return code;
        }
        if (code == TP_ECRASHED)
            tp__health_after(c->w, c->db, &c->res, err->msg);
        int retry = code == TP_EIO || code == TP_ENOMEM;
        if (code == TP_EIO && disk_failure(err->msg)) /* the spool's disk */
            return job_error(c, "store_unavailable", 1, err->msg);
        return job_error(c,
                         code == TP_ECRASHED                          ? "plugin_failed"
                         : c->res.refused                             ? "plugin_quarantined"
                         : code == TP_EPLUGIN || code == TP_ENOTFOUND ? "plugin_error"
                         : code == TP_ECONFIG                         ? "config_invalid"
                         : retry                                      ? "io_error"
                                                                      : "parse_error",
                         retry, err->msg);
    }
    if (fflush(spool) != 0)
        return job_error(c, "spool_unavailable", 1, strerror(errno));
    return TP_OK;
}

/* The plugin used per report type: name, version, sha256. */
static char *plugins_json(const tp_termday_result *res)
{
    json_t *o = json_object();
    for (int t = 0; t < TP_TYPE_COUNT; t++)
        if (res->plugin[t])
            json_object_set_new(o, tp_schema_of(t)->name,
                                json_pack("{s:s, s:s, s:s}", "name", res->plugin[t]->desc->name,
                                          "version", res->plugin[t]->desc->version, "sha256",
                                          res->plugin[t]->sha256));
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

/* The load transaction, the heartbeat told to leave the job alone
 * meanwhile: the transaction holds the job row locked (so no one can rescue
 * it), and a heartbeat waiting for that lock -- as long as the load takes,
 * perhaps longer than the lease -- would renew none of the process's other
 * jobs. */
static int load_locked(job_ctx *c, const tp_load *l, tp_error *err)
{
    pthread_mutex_lock(&c->w->mu);
    c->w->slots[c->me].loading = 1;
    pthread_mutex_unlock(&c->w->mu);
    int rc = tp_load_termday(c->db, l, err);
    pthread_mutex_lock(&c->w->mu);
    c->w->slots[c->me].loading = 0;
    pthread_mutex_unlock(&c->w->mu);
    return rc;
}

/* Records, file choices and findings into the database, and the job
 * completed: TP_OK, TP_ECANCELLED or TP_ELOST (nothing written), or
 * JOB_FAILED. */
static int stage_load(job_ctx *c, tp_error *err)
{
    const tp_termday *td = &c->fetched.scan->days[0];
    char *pj = plugins_json(&c->res);
    char(*keys)[TP_STORE_KEY_MAX] = calloc(td->ncands + 1, sizeof *keys);
    const char **kv = calloc(td->ncands + 1, sizeof *kv);
    if (!pj || !keys || !kv) {
        free(pj), free(keys), free(kv);
        return job_error(c, "io_error", 1, "out of memory");
    }
    for (size_t i = 0; i < td->ncands; i++) {
        tp_store_key(td->cands[i].sha256, keys[i]);
        kv[i] = keys[i];
    }
    char stages[320];
    tp_attempt_info info = {pj, stages_json(c, stages, sizeof stages), c->fetch_json};
    tp_load l = {.job = c->job,
                 .worker = c->w->id,
                 .td = td,
                 .keys = kv,
                 .quality = &c->res.quality,
                 .spool = c->cache->spool,
                 .records = c->records,
                 .info = &info,
                 .partition_year = &c->cache->partition_year};
    int rc = load_locked(c, &l, err);
    free(pj), free(keys), free(kv);
    if (rc == TP_OK || rc == TP_ECANCELLED || rc == TP_ELOST)
        return rc;
    return job_error(c, tp_db_broken(c->db) ? "database_unavailable" : "load_error", 1, err->msg);
}

/* The stages in order, a boundary after each but the last. */
static int run_stages(job_ctx *c, tp_error *err)
{
    static int (*const stage[])(job_ctx *, tp_error *) = {stage_fetch, stage_store, stage_parse,
                                                          stage_load};
    static const char *const name[] = {"fetch", "store", "parse", "load"};
    int rc = TP_OK;
    for (size_t i = 0; rc == TP_OK && i < sizeof stage / sizeof *stage; i++) {
        stage_enter(c, name[i]);
        tp_error e2 = {0}; /* where a killed attempt was (best effort: its failure is seen next) */
        tp_queue_stage(c->db, c->job, name[i], &e2);
        rc = stage[i](c, err);
        if (rc == TP_OK && i + 1 < sizeof stage / sizeof *stage)
            rc = boundary(c);
    }
    return rc;
}

static void succeeded(job_ctx *c)
{
    tp_worker *w = c->w;
    const tp_job *job = c->job;
    pthread_mutex_lock(&w->mu);
    w->stats.succeeded++;
    w->stats.records += c->records;
    pthread_mutex_unlock(&w->mu);
    tp__worker_log(w, "job %lld %s/%d/%s: succeeded, %lld records", job->id, job->branch, job->pos,
                   job->date, c->records);
}

/* Stopped at a stage boundary: lost (nothing to write), cancelled (ended
 * so, unless the load already did), or stopping (given back). */
static void stopped(job_ctx *c, int rc)
{
    tp_worker *w = c->w;
    const tp_job *job = c->job;
    tp_error e2 = {0};
    if (rc == TP_ELOST) {
        tp__worker_count(w, &w->stats.lost, 1);
        tp__worker_log(w, "job %lld: lease lost, nothing written", job->id);
        return;
    }
    tp_queue_note_fetch(c->db, job, c->fetch_json);
    if (rc == TP_ECANCELLED) {
        char stages[320];
        int in_fetch = strcmp(c->stage, "fetch") == 0;
        tp_attempt_end at = {c->stage,
                             !c->cut ? "cancelled at a stage boundary"
                             : in_fetch
                                 ? "cancelled during its download: the download was stopped"
                                 : "cancelled during its parse: the plugin helper was stopped",
                             stages_json(c, stages, sizeof stages)};
        if (strcmp(c->stage, "load") != 0) /* the load ends it cancelled itself */
            tp_queue_cancel_owned(c->db, job, w->id, &at, &e2);
        tp__worker_count(w, &w->stats.cancelled, 1);
        tp__worker_log(w, "job %lld: cancelled", job->id);
    } else {
        tp_queue_release(c->db, job, w->id, &e2);
        tp__worker_count(w, &w->stats.released, 1);
        tp__worker_log(w, "job %lld: released (shutting down)", job->id);
    }
}

/* The seconds a worker keeps trying to record a failure while the database
 * is away (reconnecting with backoff) before it leaves the job to the
 * lease's expiry: a restart takes seconds, a failover a minute or two. */
#define RECORD_RETRY_SECONDS 600.0
#define RECORD_BACKOFF_MAX 10.0

/* Whether to try recording the failure again: not when the lease is lost
 * (the heartbeat found another attempt owns the job: *lost is set), the
 * drain is over, or the bound is reached. */
static int keep_recording(job_ctx *c, double started, int *lost)
{
    tp_worker *w = c->w;
    pthread_mutex_lock(&w->mu);
    *lost = w->slots[c->me].lost;
    int over = *w->o->stop && w->stop_at > 0 && tp_now() >= w->stop_at;
    pthread_mutex_unlock(&w->mu);
    return !*lost && !over && tp_now() - started < RECORD_RETRY_SECONDS;
}

/* Record the failure; a database that went away (a restart) is
 * reconnected with backoff until it answers, so that the attempt carries
 * its real error -- not the lease_expired of a rescue a minute later. */
static int record_failure(job_ctx *c)
{
    tp_worker *w = c->w;
    const tp_job *job = c->job;
    char stages[320];
    tp_attempt_info info = {NULL, stages_json(c, stages, sizeof stages), c->fetch_json};
    double started = tp_now(), delay = 0.1;
    for (int tries = 1;; tries++) {
        tp_error e2 = {0};
        int lost = 0;
        if (tp_db_broken(c->db))
            tp_db_reset(c->db, &e2);
        int frc = e2.code ? TP_EDB
                          : tp_queue_fail(c->db, job, w->id, c->stage, c->code, c->retryable,
                                          c->msg, w->o->backoff_base, &info, &e2);
        if (frc != TP_EDB || !keep_recording(c, started, &lost))
            return frc == TP_EDB && lost ? TP_ELOST : frc; /* nothing of ours to record */
        tp__worker_log(w,
                       "job %lld: cannot record its failure (try %d: %s); reconnecting in %.1f s",
                       job->id, tries, e2.msg, delay);
        for (double end = tp_now() + delay; tp_now() < end && keep_recording(c, started, &lost);)
            tp_sleep(0.05);
        delay = delay * 2 > RECORD_BACKOFF_MAX ? RECORD_BACKOFF_MAX : delay * 2;
    }
}

/* The attempt failed: retried after a backoff, or the job ends failed. */
static void failed(job_ctx *c)
{
    tp_worker *w = c->w;
    const tp_job *job = c->job;
    int frc = record_failure(c);
    long long *counter = frc == TP_ELOST                                    ? &w->stats.lost
                         : c->retryable && job->attempt < job->max_attempts ? &w->stats.retried
                                                                            : &w->stats.failed;
    tp__worker_count(w, counter, 1);
    tp__worker_log(w, "job %lld %s/%d/%s attempt %d: %s at %s: %s%s", job->id, job->branch,
                   job->pos, job->date, job->attempt, c->code, c->stage, c->msg,
                   frc == TP_OK      ? ""
                   : frc == TP_ELOST ? " (the lease was already lost: another attempt owns the job)"
                                     : " (could not record the failure; the lease will expire)");
}

void tp__run_job(tp_worker *w, int me, tp_db *db, tp_thread_cache *cache, const tp_job *job)
{
    job_ctx c = {.w = w, .me = me, .db = db, .job = job, .cache = cache};
    c.plugins = tp__worker_plugins(w);
    if (cache->conn) /* downloads stop at a cancel, a lost lease, the drain's end */
        tp_fetch_conn_set_stop(cache->conn, parse_cancelled, &c);
    tp_error err = {0};
    int rc = run_stages(&c, &err);
    if (cache->conn)
        tp_fetch_conn_set_stop(cache->conn, NULL, NULL);
    if (rc == TP_OK) {
        tp__health_after(w, db, &c.res, NULL);
        succeeded(&c);
    } else if (rc == JOB_FAILED)
        failed(&c);
    else
        stopped(&c, rc);
    free(c.fetch_json);
    tp_termday_result_clear(&c.res);
    tp_fetched_clear(&c.fetched);
    tp__worker_plugins_done(w, c.plugins); /* after the result, which points into it */
}

void tp__noop_job(tp_worker *w, tp_db *db, const tp_job *job)
{
    tp_error err = {0};
    int rc = tp_queue_complete_nothing(db, job, w->id, &err);
    tp__worker_count(w, rc == TP_OK ? &w->stats.succeeded : &w->stats.lost, 1);
}
