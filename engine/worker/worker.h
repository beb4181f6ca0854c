/* worker.h -- `tillpipe worker`: claim jobs from the queue and run each
 * terminal-day through the pipeline into the database.
 *
 * A worker process runs `concurrency` threads, each with its own database
 * connection, plus one heartbeat thread renewing the leases of every job the
 * process holds (and noticing cancels).  A job's stages -- fetch (here: the
 * report server or a local folder, or the store for a reparse), store (every
 * candidate kept in the raw-file store), parse and combine into a spool
 * file, load -- run outside any transaction
 * except the last: the terminal-day's records are replaced and the job
 * completes in one transaction, fenced by (job, attempt, owner).
 *
 * With a plugin set holder (`plugset`), each job takes the current plugin
 * set when it starts and gives it back when it ends: a reload
 * (tp_plugset_reload) reaches the next jobs while those in flight finish on
 * the set they started with.
 */
#ifndef TP_WORKER_H
#define TP_WORKER_H

#include <signal.h>

#include "core/error.h"
#include "io/fetch.h"
#include "pipeline/plugin.h"
#include "pipeline/plugset.h"
#include "store/store.h"

typedef struct tp_worker_opts {
    const char *db_url;
    const char *reports_dir;     /* a local folder of report files, or NULL: */
    const char *server;          /* the report server's base URL (a branch may name its own) */
    tp_fetcher *fetcher;         /* borrowed: limits and counters, shared by the threads */
    tp_store *store;             /* borrowed: where raw files are kept */
    const char *workroot;        /* jobs' work folders; NULL = $TMPDIR or /tmp */
    const tp_registry *plugins;  /* borrowed: the plugins, when there is no plugset */
    tp_plugset *plugset;         /* borrowed: each job takes its current set (plugins unused) */
    int concurrency;             /* threads, 1..64 */
    int lease_seconds;           /* default TP_LEASE_SECONDS; heartbeat at 1/6 */
    double backoff_base;         /* seconds, default 2 */
    double drain_seconds;        /* after SIGTERM: finish or release within this (a stage
                                    running then is stopped: downloads and parses too) */
    int exit_when_idle;          /* return once nothing is queued or running */
    volatile sig_atomic_t *stop; /* set asynchronously to stop (SIGTERM) */
    int quiet;
    int noop; /* benchmark: complete each job at once, no pipeline */
    /* failures in a row (plugin_failed) that quarantine a plugin build:
     * 0 = TP_QUARANTINE_AFTER (3), < 0 = never */
    int quarantine_after;
} tp_worker_opts;

typedef struct tp_worker_stats {
    long long succeeded, failed, retried, cancelled, released, lost, records;
} tp_worker_stats;

/* Run until *stop (or idle, with exit_when_idle).  Returns 0, or < 0 with
 * err set when the worker could not start. */
int tp_worker_run(const tp_worker_opts *o, tp_worker_stats *stats, tp_error *err);

#endif
