/* jobs.c -- the jobs resource: GET /api/jobs (a keyset page), GET
 * /api/jobs/{id}, POST /api/jobs/fetch (with Idempotency-Key), POST
 * /api/jobs/{id}/retry and /cancel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/reports.h"
#include "db/jobs.h"
#include "db/users.h"
#include "io/sha.h"
#include "routes.h"

#define JOB_CURSOR "j:" /* a job list cursor: base64url of "j:<last id>" */

void tp__jobs_list(tp_req *req)
{
    tp_jobs_query q = {0};
    const char *limit, *cursor = tp_query(req, "cursor");
    if (tp__param(req, "branch", tp_branch_code_valid, "a branch code", &q.branch) < 0 ||
        tp__param(req, "pos", tp__ok_pos, "a terminal number 1-99", &q.pos) < 0 ||
        tp__param(req, "status", tp__ok_status, "queued, running, succeeded, failed or cancelled",
                  &q.status) < 0 ||
        tp__param(req, "from", tp__ok_date, "a YYYY-MM-DD date", &q.from) < 0 ||
        tp__param(req, "to", tp__ok_date, "a YYYY-MM-DD date", &q.to) < 0 ||
        tp__param(req, "limit", tp__ok_limit, "1-500", &limit) < 0)
        return;
    char after[32];
    if (cursor &&
        (tp__cursor_decode(cursor, JOB_CURSOR, after, sizeof after) < 0 || !tp__ok_id(after))) {
        tp_reply_problem(req, 400, "invalid_parameter", "cursor: not one this server gave");
        return;
    }
    q.after = cursor ? strtoll(after, NULL, 10) : 0;
    q.limit = tp__limit(limit, 50);
    tp_list_page page;
    tp_error err = {0};
    if (tp_jobs_page(req->db, tp_server_totals(req->srv), &q, &page, &err) < 0) {
        tp_reply_db_error(req, &err);
        return;
    }
    tp__reply_page(req, &page, JOB_CURSOR);
}

void tp__job_get(tp_req *req)
{
    tp_error err = {0};
    char *s = tp_job_json(req->db, req->ids[0], &err);
    if (tp__lookup_failed(req, s ? TP_OK : err.code, &err, "job") == 0)
        tp_reply_owned(req, 200, "application/json", s, strlen(s));
}

/* Queue one terminal-day: the answer (202) to give, or NULL after a reply
 * was made (an error). */
static json_t *enqueue(tp_req *req, tp_job_kind kind, const char *branch, int pos, const char *date,
                       int force, const char *action)
{
    long long id = 0;
    tp_enqueue_result res = TP_ENQUEUE_EXISTING;
    tp_error err = {0};
    char by[80];
    snprintf(by, sizeof by, "api:%s", req->subject);
    int rc = tp_queue_enqueue_kind(req->db, kind, branch, pos, date, force, by, &id, &res, &err);
    if (rc == TP_ENOTFOUND) {
        tp_reply_problem(req, 422, "unknown_branch", "%s", err.msg);
        return NULL;
    }
    if (rc < 0) {
        tp_reply_db_error(req, &err);
        return NULL;
    }
    char target[96];
    snprintf(target, sizeof target, "%s/%d/%s", branch, pos, date);
    tp_audit(req, action, target,
             json_pack("{s:I, s:b}", "job_id", (json_int_t)id, "force", force));
    return json_pack("{s:I, s:s}", "job_id", (json_int_t)id, "result",
                     res == TP_ENQUEUE_CREATED    ? "created"
                     : res == TP_ENQUEUE_RERUN    ? "rerun_queued"
                     : res == TP_ENQUEUE_UPGRADED ? "upgraded"
                                                  : "existing");
}

/* Idempotency-Key: the first answer to (user, key) is kept a day and given
 * again to a repeat of the same request; the same key with another request
 * is refused.  Returns 1 when it answered, 0 to go on (*locked: the key's
 * lock is held until idem_done). */
static int idem_check(tp_req *req, const char *key, char hash[65], int *locked)
{
    *locked = 0;
    if (!key)
        return 0;
    if (!*key || strlen(key) > 200) {
        tp_reply_problem(req, 400, "invalid_parameter", "Idempotency-Key: 1-200 characters");
        return 1;
    }
    tp_error err = {0};
    if (tp_sha256_hex(req->body ? req->body : "", req->body_len, hash, &err) < 0) {
        tp_reply_problem(req, 500, "internal", "%s", err.msg);
        return 1;
    }
    if (tp_idem_lock(req->db, req->subject, key, &err) < 0) {
        tp_reply_db_error(req, &err);
        return 1;
    }
    *locked = 1;
    char kept[65];
    int found = 0;
    unsigned status = 0;
    char *body = NULL;
    if (tp_idem_get(req->db, req->subject, key, kept, &found, &status, &body, &err) < 0) {
        tp_reply_db_error(req, &err);
        return 1;
    }
    if (!found)
        return 0;
    if (strcmp(kept, hash) != 0) {
        tp_reply_problem(req, 422, "idempotency_key_reused",
                         "this Idempotency-Key was used for another request");
    } else {
        tp_reply_text(req, status, "application/json", body);
        if (req->resp)
            MHD_add_response_header(req->resp, "Idempotent-Replayed", "true");
    }
    free(body);
    return 1;
}

static void idem_keep(tp_req *req, const char *key, const char *hash, unsigned status, json_t *o)
{
    char *body = json_dumps(o, JSON_COMPACT);
    tp_error err = {0};
    if (body)
        tp_idem_put(req->db, req->subject, key, hash, status, body, &err);
    free(body);
}

/* {"branch", "pos", "date", "force"?} with nothing else. */
int tp__jobs_fetch_body_ok(json_t *b, const char **branch, json_int_t *pos, const char **date,
                           int *force)
{
    json_t *jp = json_object_get(b, "pos"), *jf = json_object_get(b, "force");
    *branch = json_string_value(json_object_get(b, "branch"));
    *date = json_string_value(json_object_get(b, "date"));
    *pos = json_is_integer(jp) ? json_integer_value(jp) : 0;
    *force = jf && json_is_true(jf);
    return tp_branch_code_valid(*branch) && *pos >= 1 && *pos <= 99 && *date &&
           tp_date_valid(*date) && (!jf || json_is_boolean(jf)) && json_object_size(b) <= 4 &&
           (json_object_size(b) <= 3 || jf);
}

void tp__jobs_fetch(tp_req *req)
{
    json_t *b = tp_body_object(req);
    if (!b)
        return;
    const char *branch, *date;
    json_int_t pos;
    int force;
    if (!tp__jobs_fetch_body_ok(b, &branch, &pos, &date, &force)) {
        json_decref(b);
        tp_reply_problem(req, 400, "invalid_body",
                         "want {\"branch\": code, \"pos\": 1-99, \"date\": \"YYYY-MM-DD\","
                         " \"force\": boolean (optional)}");
        return;
    }
    const char *key = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Idempotency-Key");
    char hash[65];
    int locked = 0;
    if (!idem_check(req, key, hash, &locked)) {
        json_t *o = enqueue(req, TP_JOB_FETCH, branch, (int)pos, date, force, "job.enqueue");
        if (o && key)
            idem_keep(req, key, hash, 202, o);
        if (o)
            tp_reply_json(req, 202, o);
    }
    if (locked)
        tp_idem_unlock(req->db, req->subject, key);
    json_decref(b);
}

void tp__job_retry(tp_req *req)
{
    tp_job job;
    char status[16];
    tp_error err = {0};
    int rc = tp_job_key(req->db, req->ids[0], &job, status, &err);
    if (tp__lookup_failed(req, rc, &err, "job") < 0)
        return;
    if (strcmp(status, "queued") == 0 || strcmp(status, "running") == 0) {
        tp_reply_problem(req, 409, "job_live", "job %lld is %s; retry it once it has ended", job.id,
                         status);
        return;
    }
    json_t *o = enqueue(req, job.kind, job.branch, job.pos, job.date, 1, "job.retry");
    if (o)
        tp_reply_json(req, 202, o);
}

void tp__job_cancel(tp_req *req)
{
    int now = 0;
    tp_error err = {0};
    int rc = tp_queue_cancel(req->db, req->ids[0], req->subject, &now, &err);
    if (rc == TP_EINVAL) {
        tp_reply_problem(req, 409, "job_finished", "%s", err.msg);
        return;
    }
    if (tp__lookup_failed(req, rc, &err, "job") < 0)
        return;
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", req->ids[0]);
    tp_audit(req, "job.cancel", sid, NULL);
    tp_reply_json(req, now ? 200 : 202,
                  json_pack("{s:I, s:s}", "job_id", (json_int_t)req->ids[0], "status",
                            now ? "cancelled" : "cancel_requested"));
}
