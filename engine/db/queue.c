/* queue.c -- see queue.h. */
#include "queue.h"

#include "db_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define Q(db, sql, n, p, err) tp_db_query((db), (sql), (n), (p), (err))

static void rollback(tp_db *db)
{
    tp_db_abandon(db);
}

double tp_queue_backoff(int attempt, double base, unsigned *seed)
{
    if (base == 0)
        return 0; /* retry at once (tests) */
    double d = base > 0 ? base : 2.0;
    for (int i = 1; i < attempt && d < 600; i++)
        d *= 2;
    if (d > 600)
        d = 600;
    double jitter = (double)rand_r(seed) / RAND_MAX;
    return d / 2 + jitter * d / 2;
}

const char *tp_job_kind_name(tp_job_kind k)
{
    return k == TP_JOB_REPARSE ? "reparse" : "fetch";
}

int tp_queue_enqueue(tp_db *db, const char *branch, int pos, const char *date, int force,
                     const char *created_by, long long *id, tp_enqueue_result *result,
                     tp_error *err)
{
    return tp_queue_enqueue_kind(db, TP_JOB_FETCH, branch, pos, date, force, created_by, id, result,
                                 err);
}

/* A force of the live job `id`: *updated = 0 when it was no longer live
 * as seen (look again).  A force of a fetch asks for a fetch: a queued
 * reparse becomes one, a running job's rerun is one. */
static int force_live(tp_db *db, long long id, int running, tp_job_kind kind, int *updated,
                      tp_error *err)
{
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", id);
    const char *p[] = {sid, tp_job_kind_name(kind)};
    PGresult *r = Q(db,
                    running ? "UPDATE jobs SET rerun_requested = true, rerun_kind = CASE WHEN"
                              " $2 = 'fetch' OR kind = 'fetch' OR rerun_kind = 'fetch' THEN 'fetch'"
                              " ELSE 'reparse' END, updated_at = now()"
                              " WHERE " TP_JOB_IN("'running'") " RETURNING false"
                            : "UPDATE jobs SET force = true, kind = CASE WHEN $2 = 'fetch'"
                              " THEN 'fetch' ELSE kind END, updated_at = now()"
                              " WHERE " TP_JOB_IN("'queued'") " RETURNING false",
                    2, p, err);
    if (!r)
        return TP_EDB;
    *updated = PQntuples(r) == 1;
    PQclear(r);
    return TP_OK;
}

int tp_queue_enqueue_kind(tp_db *db, tp_job_kind kind, const char *branch, int pos,
                          const char *date, int force, const char *created_by, long long *id,
                          tp_enqueue_result *result, tp_error *err)
{
    char spos[16];
    snprintf(spos, sizeof spos, "%d", pos);
    const char *key[] = {branch, spos, date};
    int rc = tp_db_begin(db, err);
    if (rc < 0)
        return rc;
    const char *bp[] = {spos, branch};
    PGresult *r =
        Q(db, "SELECT $1::int = ANY (terminals) FROM branches WHERE code = $2", 2, bp, err);
    if (!r)
        goto fail;
    if (PQntuples(r) == 0 || PQgetvalue(r, 0, 0)[0] != 't') {
        rc = PQntuples(r) == 0
                 ? tp_error_set(err, TP_ENOTFOUND,
                                "unknown branch \"%s\" (tillpipe branch import loads the "
                                "branch configuration)",
                                branch)
                 : tp_error_set(err, TP_ENOTFOUND, "branch %s has no terminal %d", branch, pos);
        PQclear(r);
        rollback(db);
        return rc;
    }
    PQclear(r);
    /* Serialise enqueues of one key; the partial unique index backs it up. */
    if (tp_db_exec(
            db, "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2 || '/' || $3, 0))",
            3, key, err) < 0)
        goto fail;
    /* Look again when the live job changed under us: it may finish while we
     * wait for its row (then a force must queue a new run, not mark a
     * finished job), and a range enqueue, which takes no advisory lock, may
     * insert the key first (then that is the live job). */
    for (int tries = 0;; tries++) {
        if (tries == 100) {
            rc = tp_error_set(err, TP_EDB, "job %s/%d/%s keeps changing; try again", branch, pos,
                              date);
            rollback(db);
            return rc;
        }
        r = Q(db,
              "SELECT id, status, kind FROM jobs WHERE branch = $1 AND pos = $2"
              " AND business_date = $3 AND status IN ('queued', 'running')",
              3, key, err);
        if (!r)
            goto fail;
        if (PQntuples(r) > 0) {
            *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
            int running = strcmp(PQgetvalue(r, 0, 1), "running") == 0;
            int upgrade = kind == TP_JOB_FETCH && strcmp(PQgetvalue(r, 0, 2), "reparse") == 0;
            PQclear(r);
            *result = TP_ENQUEUE_EXISTING;
            if (!force)
                break;
            int updated = 0;
            if (force_live(db, *id, running, kind, &updated, err) < 0)
                goto fail;
            if (!updated)
                continue;
            if (running)
                *result = TP_ENQUEUE_RERUN;
            else if (upgrade)
                *result = TP_ENQUEUE_UPGRADED;
            break;
        }
        PQclear(r);
        const char *p[] = {
            branch, spos, date, force ? "t" : "f", created_by, tp_job_kind_name(kind)};
        r = Q(db,
              "INSERT INTO jobs (branch, pos, business_date, force, created_by, kind) "
              "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (branch, pos, business_date) "
              "WHERE status IN ('queued', 'running') DO NOTHING RETURNING id",
              6, p, err);
        if (!r)
            goto fail;
        int inserted = PQntuples(r) == 1;
        if (inserted)
            *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        if (!inserted)
            continue;
        *result = TP_ENQUEUE_CREATED;
        break;
    }
    if (tp_db_end(db, TP_OK, err) < 0)
        goto fail;
    return TP_OK;
fail:
    rollback(db);
    return err ? err->code : TP_EDB;
}

int tp_queue_enqueue_range(tp_db *db, const char *from, const char *to, int force,
                           const char *created_by, long long *created, tp_error *err)
{
    const char *p[] = {from, to, created_by, force ? "t" : "f"};
    if (tp_db_begin(db, err) < 0)
        return TP_EDB;
    /* Run twice with force: a live job that finished while the UPDATE below
     * waited for its row is skipped by it, so its key needs a new job. */
    static const char insert_sql[] =
        "WITH want AS ("
        "  SELECT b.code, t, d::date AS day FROM branches b, unnest(b.terminals) t,"
        "  generate_series($1::date, $2::date, interval '1 day') d WHERE b.active),"
        " ins AS ("
        "  INSERT INTO jobs (branch, pos, business_date, created_by, force)"
        "  SELECT code, t, day, $3, $4 FROM want ORDER BY day, code, t"
        "  ON CONFLICT (branch, pos, business_date) WHERE status IN ('queued', 'running')"
        "  DO NOTHING RETURNING 1)"
        " SELECT count(*) FROM ins";
    PGresult *r = Q(db, insert_sql, 4, p, err);
    if (!r) {
        rollback(db);
        return TP_EDB;
    }
    *created = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (force &&
        tp_db_exec(db,
                   "UPDATE jobs j SET rerun_requested = (j.status = 'running'),"
                   " rerun_kind = CASE WHEN j.status = 'running' THEN 'fetch' END,"
                   " kind = CASE WHEN j.status = 'queued' THEN 'fetch' ELSE j.kind END,"
                   " force = true, updated_at = now()"
                   " FROM branches b WHERE b.code = j.branch AND b.active"
                   " AND j.business_date BETWEEN $1 AND $2 AND j.status IN ('queued', 'running')",
                   2, p, err) < 0) {
        rollback(db);
        return TP_EDB;
    }
    if (force) {
        r = Q(db, insert_sql, 4, p, err);
        if (!r) {
            rollback(db);
            return TP_EDB;
        }
        *created += strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    if (tp_db_end(db, TP_OK, err) < 0)
        return TP_EDB;
    /* A backfill just changed what the queue looks like: fresh statistics
     * now (and so fresh plans on every worker's connection), rather than
     * when autovacuum gets to it -- possibly after the backfill. */
    if (*created >= TP_QUEUE_ANALYZE_AFTER) {
        tp_error e2 = {0};
        tp_db_exec(db, "ANALYZE jobs", 0, NULL, &e2); /* a hint: its failure changes nothing */
    }
    return TP_OK;
}

int tp_queue_enqueue_reparse_range(tp_db *db, const char *from, const char *to, const char *branch,
                                   const char *created_by, long long *created, tp_error *err)
{
    const char *p[] = {from, to, branch, created_by};
    PGresult *r =
        Q(db,
          "WITH want AS ("
          "  SELECT DISTINCT branch, pos, business_date FROM jobs"
          "  WHERE status = 'succeeded' AND business_date BETWEEN $1::date AND $2::date"
          "  AND ($3::text IS NULL OR branch = $3)),"
          " ins AS ("
          "  INSERT INTO jobs (branch, pos, business_date, created_by, kind, force)"
          "  SELECT branch, pos, business_date, $4, 'reparse', true FROM want"
          "  ORDER BY business_date, branch, pos"
          "  ON CONFLICT (branch, pos, business_date) WHERE status IN ('queued', 'running')"
          "  DO NOTHING RETURNING 1)"
          " SELECT count(*) FROM ins",
          4, p, err);
    if (!r)
        return TP_EDB;
    *created = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return TP_OK;
}

int tp_queue_claim(tp_db *db, const char *worker, int lease_seconds, tp_job *jobs, int max, int *n,
                   tp_error *err)
{
    char smax[16], slease[16];
    snprintf(smax, sizeof smax, "%d", max);
    snprintf(slease, sizeof slease, "%d", lease_seconds);
    const char *p[] = {worker, smax, slease};
    PGresult *r = Q(db,
                    "WITH c AS MATERIALIZED ("
                    "  SELECT id FROM jobs WHERE status = 'queued' AND run_after <= now()"
                    "  ORDER BY run_after, id LIMIT $2 FOR UPDATE SKIP LOCKED),"
                    " u AS ("
                    "  UPDATE jobs j SET status = 'running', attempts = j.attempts + 1,"
                    "  lease_owner = $1, lease_expires_at = now() + make_interval(secs => $3),"
                    "  started_at = now(), updated_at = now()"
                    "  FROM c WHERE j.id = c.id"
                    "  RETURNING j.id, j.branch, j.pos, j.business_date::text, j.attempts,"
                    "  j.max_attempts, j.force, j.kind),"
                    " a AS (INSERT INTO job_attempts (job_id, attempt, worker, stage)"
                    "  SELECT id, attempts, $1, 'claimed' FROM u)"
                    " SELECT * FROM u ORDER BY id",
                    3, p, err);
    if (!r)
        return TP_EDB;
    *n = PQntuples(r);
    for (int i = 0; i < *n; i++) {
        tp_job *j = &jobs[i];
        memset(j, 0, sizeof *j);
        j->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        snprintf(j->branch, sizeof j->branch, "%s", PQgetvalue(r, i, 1));
        j->pos = (int)strtol(PQgetvalue(r, i, 2), NULL, 10);
        snprintf(j->date, sizeof j->date, "%s", PQgetvalue(r, i, 3));
        j->attempt = (int)strtol(PQgetvalue(r, i, 4), NULL, 10);
        j->max_attempts = (int)strtol(PQgetvalue(r, i, 5), NULL, 10);
        j->force = PQgetvalue(r, i, 6)[0] == 't';
        j->kind = strcmp(PQgetvalue(r, i, 7), "reparse") == 0 ? TP_JOB_REPARSE : TP_JOB_FETCH;
    }
    PQclear(r);
    return TP_OK;
}

void tp_fence_init(tp_fence *f, const tp_job *job, const char *owner)
{
    snprintf(f->id, sizeof f->id, "%lld", job->id);
    snprintf(f->attempt, sizeof f->attempt, "%d", job->attempt);
    f->p[0] = f->id;
    f->p[1] = f->attempt;
    f->p[2] = owner;
    f->n = 3;
}

int tp_fence_run(tp_db *db, const char *sql, const tp_fence *f, int *cancel, tp_error *err)
{
    PGresult *r = Q(db, sql, f->n, f->p, err);
    if (!r)
        return TP_EDB;
    int found = PQntuples(r) == 1;
    if (found && cancel)
        *cancel = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!found)
        return tp_error_set(err, TP_ELOST,
                            "job %s attempt %s: lease lost (rescued or finished elsewhere); "
                            "nothing written",
                            f->id, f->attempt);
    return TP_OK;
}

int tp_fence_add(tp_fence *f, const char *value)
{
    if (f->n == TP_FENCE_MAX_PARAMS)
        abort(); /* a statement of ours with too many parameters: a bug, not input */
    f->p[f->n++] = value;
    return f->n;
}

int tp_queue_stage(tp_db *db, const tp_job *job, const char *stage, tp_error *err)
{
    char id[32], att[16];
    snprintf(id, sizeof id, "%lld", job->id);
    snprintf(att, sizeof att, "%d", job->attempt);
    const char *p[] = {id, att, stage};
    return tp_db_exec(db,
                      "UPDATE job_attempts SET stage = $3 WHERE job_id = $1 AND attempt = $2"
                      " AND finished_at IS NULL",
                      3, p, err);
}

int tp_queue_heartbeat(tp_db *db, const tp_job *job, const char *worker, int lease_seconds,
                       int *cancel, tp_error *err)
{
    tp_fence f;
    tp_fence_init(&f, job, worker);
    char slease[16];
    snprintf(slease, sizeof slease, "%d", lease_seconds);
    tp_fence_add(&f, slease);
    return tp_fence_run(db,
                        "UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $4) "
                        "WHERE " TP_FENCE " RETURNING cancel_requested",
                        &f, cancel, err);
}

int tp_queue_lock_owned(tp_db *db, const tp_job *job, const char *worker, int *cancel,
                        tp_error *err)
{
    tp_fence f;
    tp_fence_init(&f, job, worker);
    return tp_fence_run(db, "SELECT cancel_requested FROM jobs WHERE " TP_FENCE " FOR UPDATE", &f,
                        cancel, err);
}

int tp_queue_mark_succeeded(tp_db *db, const tp_job *job, long long records,
                            const tp_attempt_info *info, tp_error *err)
{
    char id[32], att[16], rec[32];
    snprintf(id, sizeof id, "%lld", job->id);
    snprintf(att, sizeof att, "%d", job->attempt);
    snprintf(rec, sizeof rec, "%lld", records);
    const char *p[] = {id,
                       att,
                       rec,
                       info && info->plugins_json ? info->plugins_json : "{}",
                       info ? info->stages_json : NULL,
                       info ? info->fetch_json : NULL};
    PGresult *r = Q(db,
                    "WITH a AS (UPDATE job_attempts SET stage = 'done', finished_at = now(),"
                    " plugins = $4::jsonb, stage_seconds = $5::jsonb,"
                    " fetch_info = coalesce($6::jsonb, fetch_info)"
                    " WHERE job_id = $1 AND attempt = $2)"
                    " UPDATE jobs SET status = 'succeeded', records = $3, finished_at = now(),"
                    " lease_owner = NULL, lease_expires_at = NULL, last_error = NULL,"
                    " updated_at = now() WHERE id = $1"
                    " RETURNING rerun_requested, branch, pos, business_date, created_by,"
                    " coalesce(rerun_kind, kind)",
                    6, p, err);
    if (!r)
        return TP_EDB;
    int rc = TP_OK;
    if (PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't') {
        const char *q[] = {PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3),
                           PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 5)};
        rc = tp_db_exec(db,
                        "INSERT INTO jobs (branch, pos, business_date, force, created_by, kind)"
                        " VALUES ($1, $2, $3, true, $4, $5)",
                        5, q, err);
    }
    PQclear(r);
    return rc;
}

int tp_queue_complete_empty(tp_db *db, const tp_job *job, const char *worker, int *done,
                            tp_error *err)
{
    tp_fence f;
    tp_fence_init(&f, job, worker);
    PGresult *r = Q(db,
                    "WITH j AS (UPDATE jobs SET status = 'succeeded', records = 0,"
                    " finished_at = now(), lease_owner = NULL, lease_expires_at = NULL,"
                    " last_error = NULL, updated_at = now()"
                    " WHERE " TP_FENCE " AND NOT rerun_requested AND NOT cancel_requested"
                    " RETURNING id, attempts)"
                    " UPDATE job_attempts a SET stage = 'done', finished_at = now()"
                    " FROM j WHERE a.job_id = j.id AND a.attempt = j.attempts RETURNING 1",
                    f.n, f.p, err);
    if (!r)
        return TP_EDB;
    *done = PQntuples(r) == 1;
    PQclear(r);
    if (*done)
        return TP_OK;
    int cancel; /* still ours?  then the caller finishes it in a transaction */
    if (tp_db_begin(db, err) < 0)
        return TP_EDB;
    int rc = tp_queue_lock_owned(db, job, worker, &cancel, err);
    rollback(db);
    return rc;
}

int tp_queue_mark_cancelled(tp_db *db, const tp_job *job, tp_error *err)
{
    return tp_queue_mark_cancelled_at(db, job, NULL, err);
}

int tp_queue_mark_cancelled_at(tp_db *db, const tp_job *job, const tp_attempt_end *at,
                               tp_error *err)
{
    char id[32], att[16];
    snprintf(id, sizeof id, "%lld", job->id);
    snprintf(att, sizeof att, "%d", job->attempt);
    const char *p[] = {id, att, at ? at->stage : NULL, at ? at->message : NULL,
                       at ? at->stage_seconds : NULL};
    if (tp_db_exec(db,
                   "UPDATE jobs SET status = 'cancelled', finished_at = now(), lease_owner = NULL,"
                   " lease_expires_at = NULL, last_error = 'cancelled', updated_at = now()"
                   " WHERE id = $1",
                   1, p, err) < 0)
        return TP_EDB;
    return tp_db_exec(db,
                      "UPDATE job_attempts SET error_code = 'cancelled', retryable = false,"
                      " message = coalesce($4, 'cancelled at a stage boundary'),"
                      " stage = coalesce($3, stage), stage_seconds = coalesce($5::jsonb,"
                      " stage_seconds), finished_at = now() WHERE job_id = $1 AND attempt = $2",
                      5, p, err);
}

/* A force asked for while a job ran (rerun_requested) still runs when that
 * job ends failed: the new run is queued here (a live job of the key, if
 * one appeared meanwhile, already answers the force). */
static int queue_reruns_of_failed(tp_db *db, tp_error *err)
{
    return tp_db_exec(
        db,
        "WITH d AS (UPDATE jobs SET rerun_requested = false"
        "  WHERE status = 'failed' AND rerun_requested"
        "  RETURNING branch, pos, business_date, created_by, coalesce(rerun_kind, kind) AS kind)"
        " INSERT INTO jobs (branch, pos, business_date, force, created_by, kind)"
        " SELECT branch, pos, business_date, true, created_by, kind FROM d"
        " ON CONFLICT (branch, pos, business_date) WHERE status IN ('queued', 'running')"
        " DO NOTHING",
        0, NULL, err);
}

int tp_queue_fail(tp_db *db, const tp_job *job, const char *worker, const char *stage,
                  const char *code, int retryable, const char *message, double backoff_base,
                  const tp_attempt_info *info, tp_error *err)
{
    unsigned seed = ((unsigned)job->id * 2654435761u) ^ (unsigned)job->attempt;
    char delay[32];
    snprintf(delay, sizeof delay, "%.3f", tp_queue_backoff(job->attempt, backoff_base, &seed));
    tp_fence f;
    tp_fence_init(&f, job, worker);
    tp_fence_add(&f, retryable ? "t" : "f");
    tp_fence_add(&f, delay);
    tp_fence_add(&f, message);
    if (tp_db_begin(db, err) < 0)
        return TP_EDB;
    PGresult *r = Q(db,
                    "UPDATE jobs SET status = CASE WHEN $4::boolean AND attempts < max_attempts"
                    " AND NOT cancel_requested THEN 'queued' WHEN cancel_requested THEN"
                    " 'cancelled' ELSE 'failed' END::job_status,"
                    " run_after = now() + make_interval(secs => $5::float8),"
                    " lease_owner = NULL, lease_expires_at = NULL, last_error = $6,"
                    " finished_at = CASE WHEN $4::boolean AND attempts < max_attempts"
                    " AND NOT cancel_requested THEN NULL ELSE now() END, updated_at = now()"
                    " WHERE " TP_FENCE " RETURNING status",
                    f.n, f.p, err);
    if (!r) {
        rollback(db);
        return TP_EDB;
    }
    int found = PQntuples(r) == 1;
    int failed = found && strcmp(PQgetvalue(r, 0, 0), "failed") == 0;
    PQclear(r);
    if (!found) {
        rollback(db);
        return tp_error_set(err, TP_ELOST, "job %lld attempt %d: lease lost; failure not recorded",
                            job->id, job->attempt);
    }
    const char *a[] = {f.id,
                       f.attempt,
                       stage,
                       code,
                       retryable ? "t" : "f",
                       message,
                       info ? info->stages_json : NULL,
                       info ? info->fetch_json : NULL};
    int rc = tp_db_exec(db,
                        "UPDATE job_attempts SET stage = $3, error_code = $4, retryable = $5,"
                        " message = $6, stage_seconds = $7::jsonb,"
                        " fetch_info = coalesce($8::jsonb, fetch_info), finished_at = now()"
                        " WHERE job_id = $1 AND attempt = $2",
                        8, a, err);
    if (rc == TP_OK && failed)
        rc = queue_reruns_of_failed(db, err);
    return tp_db_end(db, rc, err);
}

int tp_queue_release(tp_db *db, const tp_job *job, const char *worker, tp_error *err)
{
    tp_fence f;
    tp_fence_init(&f, job, worker);
    PGresult *r = Q(db,
                    /* a release is not the job's fault: the attempt is given back */
                    "WITH u AS (UPDATE jobs SET status = 'queued', run_after = now(),"
                    " max_attempts = max_attempts + 1,"
                    " lease_owner = NULL, lease_expires_at = NULL,"
                    " last_error = 'released by a stopping worker', updated_at = now()"
                    " WHERE " TP_FENCE " RETURNING id, attempts)"
                    " UPDATE job_attempts a SET error_code = 'released', retryable = true,"
                    " message = 'worker stopped (SIGTERM) before finishing', finished_at = now()"
                    " FROM u WHERE a.job_id = u.id AND a.attempt = u.attempts RETURNING 1",
                    f.n, f.p, err);
    if (!r)
        return TP_EDB;
    int found = PQntuples(r) > 0;
    PQclear(r);
    return found ? TP_OK
                 : tp_error_set(err, TP_ELOST, "job %lld: lease lost before release", job->id);
}

int tp_queue_cancel(tp_db *db, long long id, const char *by, int *now, tp_error *err)
{
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", id);
    const char *p[] = {sid};
    PGresult *r =
        Q(db,
          "UPDATE jobs SET status = CASE WHEN status = 'queued' THEN 'cancelled'"
          " ELSE status END, cancel_requested = true,"
          " finished_at = CASE WHEN status = 'queued' THEN now() END,"
          " last_error = CASE WHEN status = 'queued' THEN 'cancelled' ELSE last_error END,"
          " updated_at = now()"
          " WHERE " TP_JOB_IN("'queued', 'running'") " RETURNING status",
          1, p, err);
    if (!r)
        return TP_EDB;
    int found = PQntuples(r) == 1;
    if (found)
        *now = strcmp(PQgetvalue(r, 0, 0), "cancelled") == 0;
    PQclear(r);
    if (found)
        return TP_OK;
    r = Q(db, "SELECT status FROM jobs WHERE id = $1", 1, p, err);
    if (!r)
        return TP_EDB;
    int exists = PQntuples(r) == 1;
    char status[32] = "";
    if (exists)
        snprintf(status, sizeof status, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!exists)
        return tp_error_set(err, TP_ENOTFOUND, "no job %lld", id);
    return tp_error_set(err, TP_EINVAL, "job %lld has already %s", id, status);
}

int tp_queue_rescue(tp_db *db, int *rescued, tp_error *err)
{
    PGresult *r = Q(db,
                    /* Skip rows a load transaction holds (their owner is alive and
                     * finishing) and re-check expiry at lock time, not at statement
                     * start, so a long wait never rescues a live lease. */
                    "WITH x AS MATERIALIZED (SELECT id FROM jobs WHERE status = 'running'"
                    " AND lease_expires_at < clock_timestamp() FOR UPDATE SKIP LOCKED),"
                    " u AS (UPDATE jobs SET status = CASE WHEN cancel_requested THEN"
                    " 'cancelled' WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued'"
                    " END::job_status,"
                    " last_error = 'lease expired: worker ' || coalesce(lease_owner, '?') ||"
                    " ' stopped heartbeating', run_after = now(),"
                    " finished_at = CASE WHEN cancel_requested OR attempts >= max_attempts"
                    " THEN now() END,"
                    " lease_owner = NULL, lease_expires_at = NULL, updated_at = now()"
                    " FROM x WHERE jobs.id = x.id AND jobs.status = 'running'"
                    " AND jobs.lease_expires_at < clock_timestamp()"
                    " RETURNING jobs.id, jobs.attempts)"
                    " UPDATE job_attempts a SET error_code = 'lease_expired', retryable = true,"
                    " message = 'the worker stopped heartbeating (crashed, killed or cut off)',"
                    " finished_at = now() FROM u WHERE a.job_id = u.id AND a.attempt = u.attempts"
                    " RETURNING 1",
                    0, NULL, err);
    if (!r)
        return TP_EDB;
    *rescued = PQntuples(r);
    PQclear(r);
    return *rescued > 0 ? queue_reruns_of_failed(db, err) : TP_OK;
}

int tp_queue_enqueue_cells(tp_db *db, const char *cells_json, int dry_run, const char *created_by,
                           tp_cells_result *out, tp_error *err)
{
    memset(out, 0, sizeof *out);
    const char *p[] = {cells_json, dry_run ? "t" : "f", created_by};
    /* Unknown branches or terminals refuse the whole request; known cells
     * that succeeded or are live are left alone. */
    PGresult *r =
        Q(db,
          "WITH want AS (SELECT DISTINCT c.branch, c.pos, c.date::date AS day FROM"
          "  jsonb_to_recordset($1::jsonb) AS c(branch text, pos int, date text)),"
          " bad AS (SELECT w.* FROM want w WHERE NOT EXISTS (SELECT 1 FROM branches b"
          "  WHERE b.code = w.branch AND w.pos = ANY (b.terminals))),"
          " todo AS (SELECT w.* FROM want w WHERE NOT EXISTS (SELECT 1 FROM bad)"
          "  AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.branch = w.branch AND j.pos = w.pos"
          "  AND j.business_date = w.day AND j.status IN ('succeeded', 'queued', 'running'))),"
          " ins AS (INSERT INTO jobs (branch, pos, business_date, created_by)"
          "  SELECT branch, pos, day, $3 FROM todo WHERE NOT $2::boolean"
          "  ORDER BY day, branch, pos"
          "  ON CONFLICT (branch, pos, business_date) WHERE status IN ('queued', 'running')"
          "  DO NOTHING RETURNING id)"
          " SELECT (SELECT count(*) FROM bad), (SELECT min(branch || '/' || pos) FROM bad),"
          "  (SELECT count(*) FROM todo), (SELECT count(*) FROM ins),"
          "  (SELECT coalesce(json_agg(json_build_object('branch', branch, 'pos', pos, 'date', day)"
          "   ORDER BY day, branch, pos), '[]') FROM todo)::text",
          3, p, err);
    if (!r)
        return TP_EDB;
    out->unknown = tp_db_ll(r, 0, 0);
    snprintf(out->first_unknown, sizeof out->first_unknown, "%s", PQgetvalue(r, 0, 1));
    out->todo = tp_db_ll(r, 0, 2);
    out->queued = tp_db_ll(r, 0, 3);
    out->todo_json = strdup(PQgetvalue(r, 0, 4));
    PQclear(r);
    return out->todo_json ? TP_OK : tp_error_set(err, TP_ENOMEM, "out of memory");
}

int tp_queue_idle(tp_db *db, tp_error *err)
{
    PGresult *r = Q(db,
                    "SELECT NOT EXISTS (SELECT 1 FROM jobs WHERE status IN"
                    " ('queued', 'running'))",
                    0, NULL, err);
    if (!r)
        return TP_EDB;
    int idle = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return idle;
}

void tp_queue_note_fetch(tp_db *db, const tp_job *job, const char *fetch_json)
{
    if (!fetch_json)
        return;
    char sid[32], satt[16];
    snprintf(sid, sizeof sid, "%lld", job->id);
    snprintf(satt, sizeof satt, "%d", job->attempt);
    const char *p[] = {sid, satt, fetch_json};
    tp_error e2 = {0};
    tp_db_exec(db,
               "UPDATE job_attempts SET fetch_info = $3::jsonb WHERE job_id = $1 AND attempt = $2",
               3, p, &e2);
}

int tp_queue_cancel_owned(tp_db *db, const tp_job *job, const char *worker,
                          const tp_attempt_end *at, tp_error *err)
{
    int cancel = 0;
    int rc = tp_db_begin(db, err);
    if (rc == TP_OK)
        rc = tp_queue_lock_owned(db, job, worker, &cancel, err);
    if (rc == TP_OK)
        rc = tp_queue_mark_cancelled_at(db, job, at, err);
    return tp_db_end(db, rc, err);
}

int tp_queue_complete_nothing(tp_db *db, const tp_job *job, const char *worker, tp_error *err)
{
    int done = 0, cancel = 0;
    int rc = tp_queue_complete_empty(db, job, worker, &done, err);
    if (rc != TP_OK || done)
        return rc;
    /* a cancel or a rerun is pending: the transactional path */
    rc = tp_db_begin(db, err);
    if (rc == TP_OK)
        rc = tp_queue_lock_owned(db, job, worker, &cancel, err);
    if (rc == TP_OK)
        rc = cancel ? tp_queue_mark_cancelled(db, job, err)
                    : tp_queue_mark_succeeded(db, job, 0, NULL, err);
    return tp_db_end(db, rc, err);
}
