/* worker.c -- see worker.h: the worker process -- its threads, each
 * claiming and running jobs (job.c), and the heartbeat thread renewing the
 * leases of every job the process holds. */
#include "worker.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "db/workers.h"
#include "io/fsutil.h"
#include "worker_int.h"

void tp__worker_log(const tp_worker *w, const char *fmt, ...)
{
    if (w->o->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tillpipe worker: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void tp__worker_count(tp_worker *w, long long *counter, long long n)
{
    pthread_mutex_lock(&w->mu);
    *counter += n;
    pthread_mutex_unlock(&w->mu);
}

const tp_registry *tp__worker_plugins(const tp_worker *w)
{
    return w->o->plugset ? tp_plugset_acquire(w->o->plugset) : w->o->plugins;
}

void tp__worker_plugins_done(const tp_worker *w, const tp_registry *reg)
{
    if (w->o->plugset)
        tp_plugset_release(w->o->plugset, reg);
}

/* ------------------------------------------------------------ heartbeat */

static int is_done(tp_worker *w)
{
    pthread_mutex_lock(&w->mu);
    int done = w->done;
    pthread_mutex_unlock(&w->mu);
    return done;
}

/* The heartbeat's connection: a job row someone holds locked (a load
 * transaction of ours that began after the snapshot of the slots, a
 * rescuer) must not stall the beats of every other job this process
 * holds, so its statements wait for locks only a fraction of a beat. */
static tp_db *heartbeat_db(tp_worker *w, tp_db *db, double every)
{
    if (db && !tp_db_broken(db))
        return db;
    tp_db_close(db);
    tp_error err = {0};
    db = tp_db_connect(w->o->db_url, &err);
    int ms = (int)(every * 250);
    ms = ms < 50 ? 50 : ms > 1000 ? 1000 : ms;
    if (db && tp_db_set_lock_timeout(db, ms, &err) < 0) {
        tp_db_close(db);
        db = NULL;
    }
    if (db) /* as the threads' connections (thread_main) */
        tp_db_set_peer_timeout(db, w->o->lease_seconds, &err);
    return db;
}

/* Renew the lease of every job held (but those loading), noting cancels
 * and lost leases in their slots. */
static void beat(tp_worker *w, tp_db *db)
{
    tp_job jobs[TP_MAX_THREADS];
    int idx[TP_MAX_THREADS], n = 0;
    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < w->o->concurrency; i++)
        if (w->slots[i].busy && !w->slots[i].lost && !w->slots[i].loading) {
            jobs[n] = w->slots[i].job;
            idx[n++] = i;
        }
    pthread_mutex_unlock(&w->mu);
    tp_error err = {0};
    for (int k = 0; k < n; k++) {
        int cancel = 0;
        int rc = tp_queue_heartbeat(db, &jobs[k], w->id, w->o->lease_seconds, &cancel, &err);
        pthread_mutex_lock(&w->mu);
        tp_slot *s = &w->slots[idx[k]];
        if (s->busy && s->job.id == jobs[k].id && s->job.attempt == jobs[k].attempt) {
            if (rc == TP_ELOST)
                s->lost = 1;
            else if (rc == TP_OK)
                s->cancel = cancel;
        }
        pthread_mutex_unlock(&w->mu);
    }
}

static void *heartbeat_main(void *arg)
{
    tp_worker *w = arg;
    double every = w->o->lease_seconds / 6.0 > 0.2 ? w->o->lease_seconds / 6.0 : 0.2;
    tp_db *db = NULL;
    while (!is_done(w)) {
        tp_error err = {0};
        if ((db = heartbeat_db(w, db, every))) {
            /* "this worker is alive" (readiness checks look for a recent one) */
            tp_worker_seen(db, w->id, w->o->noop ? "noop" : "worker", &err);
            beat(w, db);
        }
        /* until the next beat, or until the threads are done */
        for (double end = tp_now() + every; tp_now() < end && !is_done(w);)
            tp_sleep(0.05);
    }
    if (db) /* gone: no longer counts as a live worker */
        tp_worker_gone(db, w->id);
    tp_db_close(db);
    return NULL;
}

/* ------------------------------------------------------------ threads */

typedef struct thread_arg {
    tp_worker *w;
    int me;
} thread_arg;

static void cache_free(tp_thread_cache *cache)
{
    tp_config_destroy(cache->config);
    tp_fetch_conn_destroy(cache->conn);
    tp_dir_index_destroy(cache->index);
    if (cache->spool)
        fclose(cache->spool);
    free(cache->spool_buf);
    if (cache->workdir)
        tp_remove_tree(cache->workdir);
    free(cache->workdir);
}

/* Claim one job and run it: 1 when one ran, 0 when none was runnable, -1
 * when the claim failed. */
static int claim_and_run(tp_worker *w, int me, tp_db *db, tp_thread_cache *cache)
{
    tp_job job;
    int n = 0;
    tp_error err = {0};
    if (tp_queue_claim(db, w->id, w->o->lease_seconds, &job, 1, &n, &err) < 0)
        return -1;
    if (n == 0)
        return 0;
    pthread_mutex_lock(&w->mu);
    w->slots[me] = (tp_slot){.busy = 1, .job = job};
    pthread_mutex_unlock(&w->mu);
    if (w->o->noop)
        tp__noop_job(w, db, &job);
    else
        tp__run_job(w, me, db, cache, &job);
    pthread_mutex_lock(&w->mu);
    w->slots[me].busy = 0;
    pthread_mutex_unlock(&w->mu);
    return 1;
}

/* Thread 0 also requeues expired leases, every quarter lease. */
static void maybe_rescue(tp_worker *w, tp_db *db, double *last)
{
    if (tp_now() - *last <= w->o->lease_seconds / 4.0)
        return;
    int rescued = 0;
    tp_error err = {0};
    if (tp_queue_rescue(db, &rescued, &err) == TP_OK && rescued)
        tp__worker_log(w, "rescued %d job%s with expired leases", rescued, rescued == 1 ? "" : "s");
    *last = tp_now();
}

static void *thread_main(void *arg)
{
    thread_arg *ta = arg;
    tp_worker *w = ta->w;
    const tp_worker_opts *o = w->o;
    tp_error err = {0};
    tp_db *db = NULL;
    tp_thread_cache cache = {0};
    double last_rescue = 0, idle = 0.05;
    char prefix[48]; /* the owner's pid in the name: a sweep can tell whose it is */
    snprintf(prefix, sizeof prefix, "tillpipe-work-%d-", (int)getpid());
    if ((o->fetcher && !(cache.conn = tp_fetch_conn_create(o->fetcher, &err))) ||
        (!o->noop && !(cache.workdir = tp_make_workdir(o->workroot, prefix, &err)))) {
        tp__worker_log(w, "%s", err.msg);
        cache_free(&cache);
        return NULL;
    }
    while (!*o->stop) {
        if (!db || tp_db_broken(db)) {
            tp_db_close(db);
            if (!(db = tp_db_connect_retry(o->db_url, (volatile int *)o->stop, &err)))
                break;
            /* Cut off from the database, this session does not outlive
             * the lease by much: the server ends it (a load transaction
             * it had open rolls back, and the job can be rescued) and this
             * side sees the silence as an error -- not the kernel's hours
             * later.  A failure here is a broken connection, seen above
             * on the next turn. */
            tp_db_set_peer_timeout(db, o->lease_seconds, &err);
        }
        if (ta->me == 0)
            maybe_rescue(w, db, &last_rescue);
        int ran = claim_and_run(w, ta->me, db, &cache);
        if (ran < 0) {
            tp_sleep(0.5);
        } else if (ran == 0) {
            if (o->exit_when_idle && tp_queue_idle(db, &err) == 1)
                break;
            tp_sleep(idle);
            idle = idle * 2 > 1.0 ? 1.0 : idle * 2;
        } else {
            idle = 0.05;
        }
    }
    cache_free(&cache);
    tp_db_close(db);
    return NULL;
}

/* Wait for the threads, starting the drain clock once a stop is asked. */
static void join_threads(tp_worker *w, pthread_t *th, int n)
{
    int joined[TP_MAX_THREADS] = {0};
    for (int running = n; running > 0;) {
        pthread_mutex_lock(&w->mu);
        if (*w->o->stop && !w->stop_at)
            w->stop_at = tp_now() + w->o->drain_seconds;
        pthread_mutex_unlock(&w->mu);
        for (int i = 0; i < n; i++)
            if (!joined[i] && pthread_tryjoin_np(th[i], NULL) == 0) {
                joined[i] = 1;
                running--;
            }
        if (running)
            tp_sleep(0.05);
    }
}

/* ------------------------------------------------------------ leftovers */

/* The pid in a work folder's name ("tillpipe-work-<pid>-XXXXXX", also
 * -job- and -verify-), else 0. */
static long workdir_pid(const char *name)
{
    static const char *const prefixes[] = {"tillpipe-work-", "tillpipe-job-", "tillpipe-verify-"};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(name, prefixes[i], n) != 0)
            continue;
        char *end = NULL;
        long pid = strtol(name + n, &end, 10);
        return end != name + n && *end == '-' && pid > 0 && name[n] != '-' ? pid : 0;
    }
    return 0;
}

static int pid_gone(long pid)
{
    return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* What killed workers left: work folders under the work root and store
 * temporaries whose owner process is gone (only those: a live worker's
 * are its own).  Best effort; what was removed is said. */
static void sweep_leftovers(tp_worker *w)
{
    const char *root = w->o->workroot;
    if (!root || !*root)
        root = getenv("TMPDIR");
    if (!root || !*root)
        root = "/tmp";
    int folders = 0, temps = 0;
    DIR *d = opendir(root);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        long pid = workdir_pid(e->d_name);
        char path[4200];
        if (pid && pid_gone(pid) &&
            (size_t)snprintf(path, sizeof path, "%s/%s", root, e->d_name) < sizeof path &&
            tp_remove_tree(path) == 0)
            folders++;
    }
    if (d)
        closedir(d);
    tp_error err = {0};
    if (w->o->store && tp_store_sweep(w->o->store, &temps, NULL, &err) < 0)
        tp__worker_log(w, "sweeping the store's temporaries: %s", err.msg);
    if (folders || temps)
        tp__worker_log(w, "swept %d work folder%s and %d store temporar%s of workers that are gone",
                       folders, folders == 1 ? "" : "s", temps, temps == 1 ? "y" : "ies");
}

/* Start the heartbeat and the threads and wait for them: TP_OK, or < 0
 * with err set when a thread could not be started (those started are
 * stopped and joined first). */
static int run_threads(tp_worker *w, tp_error *err)
{
    int n = w->o->concurrency, started = 0, rc = TP_OK;
    pthread_t hb, th[TP_MAX_THREADS];
    thread_arg args[TP_MAX_THREADS];
    if (pthread_create(&hb, NULL, heartbeat_main, w) != 0)
        return tp_error_set(err, TP_ENOMEM, "cannot start the heartbeat thread");
    for (; started < n; started++) {
        args[started] = (thread_arg){w, started};
        if (pthread_create(&th[started], NULL, thread_main, &args[started]) != 0) {
            rc =
                tp_error_set(err, TP_ENOMEM, "cannot start worker thread %d of %d", started + 1, n);
            *w->o->stop = 1; /* the ones started stop (and release their jobs) */
            break;
        }
    }
    join_threads(w, th, started);
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    pthread_mutex_unlock(&w->mu);
    pthread_join(hb, NULL);
    return rc;
}

int tp_worker_run(const tp_worker_opts *o, tp_worker_stats *stats, tp_error *err)
{
    if (o->concurrency < 1 || o->concurrency > TP_MAX_THREADS)
        return tp_error_set(err, TP_EINVAL, "concurrency must be 1-%d", TP_MAX_THREADS);
    tp_worker *w = calloc(1, sizeof *w);
    if (!w)
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    w->o = o;
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(w->id, sizeof w->id, "%s:%d:%lx", host, (int)getpid(), (unsigned long)time(NULL));
    pthread_mutex_init(&w->mu, NULL);
    /* Fail fast on a wrong schema before starting threads. */
    tp_db *db = tp_db_connect_retry(o->db_url, (volatile int *)o->stop, err);
    int rc = db ? tp_db_check_schema(db, err) : (err ? err->code : TP_EDB);
    tp_db_close(db);
    if (rc == TP_OK) {
        tp__worker_log(w, "%s started: %d thread%s, lease %d s", w->id, o->concurrency,
                       o->concurrency == 1 ? "" : "s", o->lease_seconds);
        if (!o->noop)
            sweep_leftovers(w);
        rc = run_threads(w, err);
    }
    if (stats)
        *stats = w->stats;
    pthread_mutex_destroy(&w->mu);
    free(w);
    return rc;
}
