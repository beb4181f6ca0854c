/* worker_int.h -- what the worker's process (worker.c) and its jobs
 * (job.c) share: the slots the heartbeat thread watches and what a thread
 * keeps between jobs.  Private to engine/worker/. */
#ifndef TP_WORKER_INT_H
#define TP_WORKER_INT_H

#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "core/config.h"
#include "db/db.h"
#include "db/plugins.h"
#include "db/queue.h"
#include "io/fetch.h"
#include "io/scan.h"
#include "pipeline/pipeline.h"
#include "worker.h"

#define TP_MAX_THREADS 64
#define TP_SPOOL_BUFFER (256 * 1024) /* the spool file's stdio buffer */
#define TP_CONFIG_TTL 5.0            /* seconds a branch configuration is reused */
#define TP_HEALTH_TTL 5.0            /* seconds the plugins' health is reused */

/* A job the process holds, as the heartbeat thread sees it. */
typedef struct tp_slot {
    int busy;
    tp_job job;
    int cancel;  /* a cancel was requested */
    int lost;    /* the lease was lost */
    int loading; /* in its load transaction, which holds the job row locked */
} tp_slot;

typedef struct tp_worker {
    const tp_worker_opts *o;
    char id[96]; /* lease owner: host:pid:start */
    pthread_mutex_t mu;
    tp_slot slots[TP_MAX_THREADS];
    tp_worker_stats stats;
    int done;       /* threads finished: the heartbeat thread may go */
    double stop_at; /* after a stop: the end of the drain (tp_now), 0 before */
    /* plugin builds with failures in a row (quarantined or not), as last read */
    char health_sha[TP_HEALTH_LIST_MAX][65];
    int health_quarantined[TP_HEALTH_LIST_MAX];
    int nhealth;
    double health_at; /* when (tp_now); 0 = never */
} tp_worker;

/* What a worker thread keeps between jobs. */
typedef struct tp_thread_cache {
    tp_fetch_conn *conn; /* this thread's report server connection */
    char *spool_buf;     /* the spool file's stdio buffer */
    FILE *spool;         /* the spool file, emptied for each job (no new inode per job) */
    char *workdir;       /* this thread's work folder, emptied after each job */
    tp_dir_index *index; /* the listing of --reports, reused while the folder is unchanged */
    int partition_year;  /* the records partition last made sure of */
    tp_config *config;   /* the branches table, as last read */
    double config_at;    /* when (tp_now) */
} tp_thread_cache;

/* Run one claimed job to its end: succeeded, failed (or queued to retry),
 * cancelled, released or lost -- counted in w->stats. */
void tp__run_job(tp_worker *w, int me, tp_db *db, tp_thread_cache *cache, const tp_job *job);

/* The plugins' health, read again once TP_HEALTH_TTL old (best effort). */
void tp__health_refresh(tp_worker *w, tp_db *db);

/* tp_pipeline.refuse: a quarantined build is refused (ud: the tp_worker). */
int tp__health_refuse(void *ud, const tp_plugin *p, char *why, size_t why_len);

/* After a terminal-day: a plugin that failed in its sandbox counts one more
 * failure (quarantined at the threshold); builds that parsed it cleanly
 * start their count again.  Best effort: a database error is logged. */
void tp__health_after(tp_worker *w, tp_db *db, const tp_termday_result *res, const char *error);

/* A no-op job (the queue benchmark): completed at once, fenced. */
void tp__noop_job(tp_worker *w, tp_db *db, const tp_job *job);

/* The plugins a job runs with: the plugset's current set, referenced until
 * tp__worker_plugins_done (or the fixed registry of the options). */
const tp_registry *tp__worker_plugins(const tp_worker *w);
void tp__worker_plugins_done(const tp_worker *w, const tp_registry *reg);

/* "tillpipe worker: ..." on stderr unless quiet. */
void tp__worker_log(const tp_worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Add to one of w->stats' counters, under the lock. */
void tp__worker_count(tp_worker *w, long long *counter, long long n);

#endif
