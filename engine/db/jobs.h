/* jobs.h -- reading jobs for people: one job with its attempts, files and
 * findings, lists, and the job events that workers' status changes leave
 * (the queue's own statements are in queue.h). */
#ifndef TP_DB_JOBS_H
#define TP_DB_JOBS_H

#include "core/error.h"
#include "db.h"
#include "lists.h"
#include "queue.h"

/* One job as JSON: its row, "attempts_detail" (stage, code, retryable,
 * message, plugins, fetch, timings, stage_seconds), "files" (every candidate
 * and why it was or was not chosen) and "quality" (caller frees).  NULL with
 * err set -- TP_ENOTFOUND for an unknown id. */
char *tp_job_json(tp_db *db, long long id, tp_error *err);

/* A job's key and state: out->id, kind, branch, pos, date filled, `status`
 * its status name.  TP_ENOTFOUND for an unknown id. */
int tp_job_key(tp_db *db, long long id, tp_job *out, char status[16], tp_error *err);

/* The newest jobs (of `status`, NULL = any), at most `limit`, as a JSON
 * array of job objects (caller frees).  NULL with err set. */
char *tp_jobs_recent_json(tp_db *db, const char *status, long limit, tp_error *err);

/* One page of jobs, newest first: filters (each NULL for none; checked by the
 * caller), `after` the last id of the previous page (0: the first page). */
typedef struct tp_jobs_query {
    const char *branch, *pos, *status, *from, *to; /* text as given */
    long long after;
    int limit; /* 1-500 */
} tp_jobs_query;
int tp_jobs_page(tp_db *db, tp_list_totals *totals, const tp_jobs_query *q, tp_list_page *out,
                 tp_error *err);

/* Job events after id `after`, oldest first, at most `limit`: fn gets each
 * event's id and its JSON text; a non-zero return from fn stops.  0, or
 * TP_EDB with err set, or fn's value. */
typedef int (*tp_job_event_fn)(void *ud, long long id, const char *json, size_t len);
int tp_job_events_after(tp_db *db, long long after, int limit, tp_job_event_fn fn, void *ud,
                        tp_error *err);

/* The id of the newest job event (0 when none). */
int tp_job_events_last(tp_db *db, long long *id, tp_error *err);

#endif
