/* jobs.c -- see jobs.h. */
#include "jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

/* A job row as JSON, over the row as `j`. */
#define JOB_JSON                                                                                   \
    "json_build_object('id', j.id, 'kind', j.kind, 'branch', j.branch, 'pos', j.pos,"              \
    " 'date', j.business_date, 'status', j.status, 'attempts', j.attempts,"                        \
    " 'max_attempts', j.max_attempts, 'records', j.records, 'last_error', j.last_error,"           \
    " 'created_by', j.created_by, 'created_at', j.created_at, 'started_at', j.started_at,"         \
    " 'finished_at', j.finished_at)"

char *tp_job_json(tp_db *db, long long id, tp_error *err)
{
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", id);
    const char *p[] = {sid};
    char *s = tp_db_json(
        db,
        "SELECT (" JOB_JSON "::jsonb || jsonb_build_object("
        " 'attempts_detail', (SELECT coalesce(jsonb_agg(jsonb_build_object('attempt', a.attempt,"
        "  'worker', a.worker, 'stage', a.stage, 'code', a.error_code, 'retryable', a.retryable,"
        "  'message', a.message, 'plugins', a.plugins, 'fetch', a.fetch_info,"
        "  'started_at', a.started_at, 'finished_at', a.finished_at,"
        "  'stage_seconds', a.stage_seconds,"
        "  'seconds', extract(epoch FROM a.finished_at - a.started_at)) ORDER BY a.attempt),"
        "  '[]') FROM job_attempts a WHERE a.job_id = j.id),"
        " 'files', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', f.id,"
        "  'type', f.report_type, 'name', f.name, 'size', f.size, 'rows', f.data_rows,"
        "  'sha256', f.sha256, 'chosen', f.chosen, 'reason', f.reason)"
        "  ORDER BY f.report_type, f.name), '[]') FROM files f WHERE f.job_id = j.id),"
        " 'quality', (SELECT to_jsonb(q) - 'id' - 'job_id' FROM quality_flags q"
        "  WHERE q.job_id = j.id ORDER BY q.id DESC LIMIT 1)))::text"
        " FROM jobs j WHERE j.id = $1",
        1, p, err);
    if (!s && err && err->code == TP_ENOTFOUND)
        tp_error_set(err, TP_ENOTFOUND, "no job %lld", id);
    return s;
}

int tp_job_key(tp_db *db, long long id, tp_job *out, char status[16], tp_error *err)
{
    PGresult *r = tp_db_query_id(db,
                                 "SELECT branch, pos, business_date::text, status, kind FROM jobs"
                                 " WHERE id = $1",
                                 id, err);
    if (!r)
        return TP_EDB;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return tp_error_set(err, TP_ENOTFOUND, "no job %lld", id);
    }
    memset(out, 0, sizeof *out);
    out->id = id;
    snprintf(out->branch, sizeof out->branch, "%s", PQgetvalue(r, 0, 0));
    out->pos = (int)tp_db_ll(r, 0, 1);
    snprintf(out->date, sizeof out->date, "%s", PQgetvalue(r, 0, 2));
    snprintf(status, 16, "%s", PQgetvalue(r, 0, 3));
    out->kind = strcmp(PQgetvalue(r, 0, 4), "reparse") == 0 ? TP_JOB_REPARSE : TP_JOB_FETCH;
    PQclear(r);
    return TP_OK;
}

char *tp_jobs_recent_json(tp_db *db, const char *status, long limit, tp_error *err)
{
    char slimit[24];
    snprintf(slimit, sizeof slimit, "%ld", limit);
    const char *p[] = {status, slimit};
    return tp_db_json(db,
                      "SELECT coalesce(json_agg(" JOB_JSON " ORDER BY j.id DESC), '[]')::text"
                      " FROM (SELECT * FROM jobs WHERE $1::job_status IS NULL"
                      " OR status = $1::job_status ORDER BY id DESC LIMIT $2) j",
                      2, p, err);
}

int tp_jobs_page(tp_db *db, tp_list_totals *totals, const tp_jobs_query *q, tp_list_page *out,
                 tp_error *err)
{
    tp_list_filter f = {0};
    if (q->branch)
        tp_list_filter_add(&f, "branch = $?", q->branch);
    if (q->pos)
        tp_list_filter_add(&f, "pos = $?::int", q->pos);
    if (q->status)
        tp_list_filter_add(&f, "status = $?::job_status", q->status);
    if (q->from)
        tp_list_filter_add(&f, "business_date >= $?::date", q->from);
    if (q->to)
        tp_list_filter_add(&f, "business_date <= $?::date", q->to);
    static const tp_list_def jobs = {"jobs", "id DESC", JOB_JSON, "id", "id < $?::bigint"};
    char after[32];
    snprintf(after, sizeof after, "%lld", q->after);
    const char *cur[] = {after};
    return tp_list_run(db, totals, &jobs, &f, q->limit, q->after ? cur : NULL, 1, out, err);
}

int tp_job_events_after(tp_db *db, long long after, int limit, tp_job_event_fn fn, void *ud,
                        tp_error *err)
{
    char safter[32], slimit[16];
    snprintf(safter, sizeof safter, "%lld", after);
    snprintf(slimit, sizeof slimit, "%d", limit);
    const char *p[] = {safter, slimit};
    PGresult *r = tp_db_query(db,
                              "SELECT e.id, json_build_object('id', e.id, 'job_id', e.job_id,"
                              " 'status', e.status, 'attempt', e.attempt, 'message', e.message,"
                              " 'at', e.created_at, 'branch', j.branch, 'pos', j.pos,"
                              " 'date', j.business_date)::text FROM job_events e"
                              " LEFT JOIN jobs j ON j.id = e.job_id WHERE e.id > $1"
                              " ORDER BY e.id LIMIT $2::int",
                              2, p, err);
    if (!r)
        return TP_EDB;
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++)
        rc = fn(ud, tp_db_ll(r, i, 0), PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1));
    PQclear(r);
    return rc;
}

int tp_job_events_last(tp_db *db, long long *id, tp_error *err)
{
    PGresult *r = tp_db_query(db, "SELECT coalesce(max(id), 0) FROM job_events", 0, NULL, err);
    if (!r)
        return TP_EDB;
    *id = tp_db_ll(r, 0, 0);
    PQclear(r);
    return TP_OK;
}
