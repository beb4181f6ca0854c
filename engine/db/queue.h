/* queue.h -- the durable job queue in PostgreSQL.
 *
 * One job per terminal-day run.  Enqueue is idempotent per (branch, pos,
 * business date): at most one live (queued or running) job per key, by a
 * partial unique index and a transaction-scoped advisory lock.  Workers
 * claim with a MATERIALIZED CTE and FOR UPDATE SKIP LOCKED, hold a lease they
 * renew by heartbeat, and every later write about the job -- heartbeat,
 * completion, failure -- is fenced by (job id, attempt, lease owner), so a
 * worker that lost its lease cannot overwrite a newer attempt.  Expired
 * leases are rescued by any worker.  Status changes land in job_events with
 * a NOTIFY (sql/001_init.sql).
 */
#ifndef TP_QUEUE_H
#define TP_QUEUE_H

#include "core/error.h"
#include "db.h"

#define TP_LEASE_SECONDS 60 /* a lease; workers renew it every sixth */

typedef enum tp_job_kind {
    TP_JOB_FETCH,  /* fetch the files, then the whole pipeline */
    TP_JOB_REPARSE /* select/parse/combine/load again from the stored raw files */
} tp_job_kind;

const char *tp_job_kind_name(tp_job_kind k); /* "fetch", "reparse" */

typedef struct tp_job {
    long long id;
    tp_job_kind kind;
    char branch[33];
    int pos;
    char date[11];
    int attempt; /* this attempt's number: the fencing token with id and owner */
    int max_attempts;
    int force;
} tp_job;

typedef enum tp_enqueue_result {
    TP_ENQUEUE_CREATED,  /* a new job */
    TP_ENQUEUE_EXISTING, /* the live job for the key */
    TP_ENQUEUE_RERUN,    /* force while running: a new run queued after it */
    TP_ENQUEUE_UPGRADED  /* a forced fetch: the queued live job was a reparse, now a fetch */
} tp_enqueue_result;

/* Queue a run of one terminal-day.  The branch must be in the branches table
 * and list the terminal.  Returns 0 with *id and *result, or < 0 with err. */
int tp_queue_enqueue(tp_db *db, const char *branch, int pos, const char *date, int force,
                     const char *created_by, long long *id, tp_enqueue_result *result,
                     tp_error *err);

/* The same for a job of `kind`.  One live job per key whatever its kind: a
 * repeat returns the live job, and force runs it again after it.  A force
 * of a fetch asks for a fetch: a queued reparse becomes a fetch
 * (TP_ENQUEUE_UPGRADED), a running job's rerun is a fetch. */
int tp_queue_enqueue_kind(tp_db *db, tp_job_kind kind, const char *branch, int pos,
                          const char *date, int force, const char *created_by, long long *id,
                          tp_enqueue_result *result, tp_error *err);

/* Queue a reparse of every terminal-day in [from, to] (of `branch`, NULL =
 * all) that has a succeeded run, in one transaction; live jobs are kept.
 * *created gets the number of new jobs. */
int tp_queue_enqueue_reparse_range(tp_db *db, const char *from, const char *to, const char *branch,
                                   const char *created_by, long long *created, tp_error *err);

/* Queue every active branch x terminal x date in [from, to], in one
 * transaction; existing live jobs are kept (with force: marked to run again
 * as fetches -- a queued reparse becomes a fetch, a running job's rerun is
 * one).
 * *created gets the number of new jobs. */
int tp_queue_enqueue_range(tp_db *db, const char *from, const char *to, int force,
                           const char *created_by, long long *created, tp_error *err);

/* Claim up to `max` runnable jobs for `worker`; *n gets how many. */
int tp_queue_claim(tp_db *db, const char *worker, int lease_seconds, tp_job *jobs, int max, int *n,
                   tp_error *err);

/* The stage an attempt has reached (fetch, store, parse, load), on its
 * attempt row: an attempt that is killed (and rescued as lease_expired)
 * shows where it was.  Best effort: 0, or TP_EDB with err set. */
int tp_queue_stage(tp_db *db, const tp_job *job, const char *stage, tp_error *err);

/* Renew the lease.  *cancel is set when a cancel was requested.  TP_ELOST
 * when the job is no longer this attempt's (rescued, finished). */
int tp_queue_heartbeat(tp_db *db, const tp_job *job, const char *worker, int lease_seconds,
                       int *cancel, tp_error *err);

/* A range enqueue creating this many jobs refreshes the queue's statistics. */
#define TP_QUEUE_ANALYZE_AFTER 500

/* Inside the caller's transaction: lock the job row if this attempt still
 * owns it (TP_ELOST otherwise); *cancel tells whether a cancel is pending. */
int tp_queue_lock_owned(tp_db *db, const tp_job *job, const char *worker, int *cancel,
                        tp_error *err);

/* What an attempt reports when it ends, as JSON text (each may be NULL):
 * the plugins it used, its seconds per stage, what its fetch stage saw. */
typedef struct tp_attempt_info {
    const char *plugins_json;
    const char *stages_json;
    const char *fetch_json;
} tp_attempt_info;

/* Inside the caller's transaction, the job row locked by this attempt
 * (tp_queue_lock_owned, or a statement of its own with TP_QUEUE_FENCE): mark
 * the job succeeded with its record count (and queue the rerun a force asked for);
 * `info` (may be NULL) goes on the attempt. */
int tp_queue_mark_succeeded(tp_db *db, const tp_job *job, long long records,
                            const tp_attempt_info *info, tp_error *err);

/* Complete a job that wrote nothing (one fenced statement, no transaction
 * of the caller's): succeeded, unless a cancel or a rerun was asked for, in
 * which case *done = 0 and the caller takes the transactional path.
 * TP_ELOST when the attempt no longer owns the job. */
int tp_queue_complete_empty(tp_db *db, const tp_job *job, const char *worker, int *done,
                            tp_error *err);

/* Inside the caller's transaction, after tp_queue_lock_owned: cancelled. */
int tp_queue_mark_cancelled(tp_db *db, const tp_job *job, tp_error *err);

/* Where an attempt stood when it ended (any member may be NULL: kept as
 * recorded). */
typedef struct tp_attempt_end {
    const char *stage;         /* fetch, store, parse, load */
    const char *message;       /* what happened */
    const char *stage_seconds; /* JSON {"fetch": s, ...} */
} tp_attempt_end;

/* The same, saying where the attempt stood. */
int tp_queue_mark_cancelled_at(tp_db *db, const tp_job *job, const tp_attempt_end *at,
                               tp_error *err);

/* Record a failed attempt (fenced, own transaction).  A retryable failure
 * with attempts left goes back to queued after an exponential backoff with
 * jitter; otherwise the job ends failed with this error.  TP_ELOST when the
 * attempt no longer owns the job. */
int tp_queue_fail(tp_db *db, const tp_job *job, const char *worker, const char *stage,
                  const char *code, int retryable, const char *message, double backoff_base,
                  const tp_attempt_info *info, tp_error *err);

/* Give a claimed job back (graceful shutdown): queued again at once, the
 * attempt not counted against it (max_attempts grows by one). */
int tp_queue_release(tp_db *db, const tp_job *job, const char *worker, tp_error *err);

/* Cancel: a queued job is cancelled at once (*now = 1); a running one is
 * flagged for its worker (*now = 0).  TP_ENOTFOUND for an unknown id,
 * TP_EINVAL for a job already finished. */
int tp_queue_cancel(tp_db *db, long long id, const char *by, int *now, tp_error *err);

/* Queue the cells of a map ({"branch", "pos", "date"} objects, a JSON
 * array) in one statement: every cell not succeeded and not live, unless
 * `dry_run`.  A cell whose branch or terminal is not configured refuses the
 * whole request (out->unknown > 0, nothing queued).  out->todo_json lists
 * the cells to queue (caller frees). */
typedef struct tp_cells_result {
    long long unknown;      /* cells of unknown branches or terminals */
    char first_unknown[48]; /* "BRANCH/POS" of the first of them */
    long long todo;         /* cells to queue */
    long long queued;       /* cells queued (0 on a dry run) */
    char *todo_json;        /* [{"branch", "pos", "date"}] */
} tp_cells_result;
int tp_queue_enqueue_cells(tp_db *db, const char *cells_json, int dry_run, const char *created_by,
                           tp_cells_result *out, tp_error *err);

/* 1 when nothing is queued or running, 0 when something is, TP_EDB. */
int tp_queue_idle(tp_db *db, tp_error *err);

/* What an attempt's fetch stage saw, for an attempt that ends without a
 * completion or failure of its own to carry it (cancelled, released).  Best
 * effort: a failure changes nothing. */
void tp_queue_note_fetch(tp_db *db, const tp_job *job, const char *fetch_json);

/* End a job this attempt owns as cancelled, in a transaction of its own
 * (TP_ELOST when the attempt no longer owns it). */
int tp_queue_cancel_owned(tp_db *db, const tp_job *job, const char *worker,
                          const tp_attempt_end *at, tp_error *err);

/* Complete a job that wrote nothing: succeeded (one fenced statement), or
 * cancelled, or succeeded with its rerun queued, when one was asked for. */
int tp_queue_complete_nothing(tp_db *db, const tp_job *job, const char *worker, tp_error *err);

/* Requeue expired leases (or fail jobs out of attempts).  *rescued gets how
 * many.  Any worker may call it; the condition is re-checked in the UPDATE. */
int tp_queue_rescue(tp_db *db, int *rescued, tp_error *err);

/* The delay before retry number `attempt` (1-based): `base` seconds (< 0:
 * the default 2 s; 0: none) doubling, at most 10 minutes, with jitter in
 * [delay/2, delay]. */
double tp_queue_backoff(int attempt, double base, unsigned *seed);

#endif
