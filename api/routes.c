/* routes.c -- the API's routes and their handlers (docs/openapi.yaml
 * describes each; test_api checks that the two agree). */
#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db/branches.h"
#include "core/config.h"
#include "core/hash.h"
#include "http.h"
#include "pipeline/parse.h"
#include "db/queue.h"
#include "core/reports.h"
#include "core/schema.h"
#include "io/sha.h"

/* ------------------------------------------------------------ helpers */

/* Run a query whose one value is JSON text and send it (200), or reply the
 * error.  NULL result value = 404 with `what`. */
static void reply_sql_json(tp_req *req, const char *sql, int n, const char *const *p,
                           const char *what)
{
    tp_error err = {0};
    PGresult *r = tp_db_query(req->db, sql, n, p, &err);
    if (!r) {
        tp_reply_db_error(req, &err);
        return;
    }
    if (PQntuples(r) == 0 || PQgetisnull(r, 0, 0))
        tp_reply_problem(req, 404, "not_found", "%s", what);
    else
        tp_reply_text(req, 200, "application/json", PQgetvalue(r, 0, 0));
    PQclear(r);
}

/* ------------------------------------------------------------ lists
 *
 * A list page is one prepared statement answering three things: the capped
 * count of the matching rows, the page's items as JSON text, and the key of
 * its last row when more follow.  The answer is put together from that text
 * as it is (no parse and re-serialisation of the items). */

/* The filters a request gives, as SQL conditions with their values as
 * parameters $1..$n: each combination is its own statement text, so its
 * prepared plan fits it. */
typedef struct {
    char where[768];
    size_t len;
    const char *p[16];
    int n;
} list_filter;

/* `cond` holds one "?" where the parameter's number goes ("pos = $?::int"). */
static void filter_add(list_filter *f, const char *cond, const char *value)
{
    const char *q = strchr(cond, '?');
    f->len += (size_t)snprintf(f->where + f->len, sizeof f->where - f->len, "%s%.*s%d%s",
                               f->len ? " AND " : "", (int)(q - cond), cond, f->n + 1, q + 1);
    f->p[f->n++] = value;
}

static const char *filter_sql(const list_filter *f) { return f->len ? f->where : "true"; }

#define EXACT_TOTAL_MAX 1000
#define ESTIMATE_SLOTS 64
#define ESTIMATE_TTL 10 /* seconds */

/* The planner's estimates of large totals, kept a few seconds: a list paged
 * through or polled asks the same question again and again. */
static struct {
    uint64_t key;
    long long rows;
    time_t at;
} estimates[ESTIMATE_SLOTS];
static pthread_mutex_t estimates_mu = PTHREAD_MUTEX_INITIALIZER;

static uint64_t estimate_key(const char *from, const list_filter *f)
{
    uint64_t h = tp_fnv1a(tp_fnv1a(TP_FNV1A_INIT, from), "\x1f");
    h = tp_fnv1a(tp_fnv1a(h, filter_sql(f)), "\x1f");
    for (int i = 0; i < f->n; i++) { /* each value after its length: no two lists alike */
        char len[24];
        snprintf(len, sizeof len, "%zu:", strlen(f->p[i]));
        h = tp_fnv1a(tp_fnv1a(h, len), f->p[i]);
    }
    return h;
}

/* A list's total: exact up to EXACT_TOTAL_MAX rows (`counted` is the capped
 * count), beyond that the planner's estimate for the same filters (EXPLAIN),
 * so a page of a huge table does not pay for counting it. */
static long long list_total(tp_req *req, const char *from, const list_filter *f,
                            long long counted, int *exact)
{
    *exact = counted <= EXACT_TOTAL_MAX;
    if (*exact)
        return counted;
    uint64_t key = estimate_key(from, f);
    size_t slot = key % ESTIMATE_SLOTS;
    time_t now = time(NULL);
    long long est = -1;
    pthread_mutex_lock(&estimates_mu);
    if (estimates[slot].key == key && now - estimates[slot].at < ESTIMATE_TTL)
        est = estimates[slot].rows;
    pthread_mutex_unlock(&estimates_mu);
    if (est < 0) {
        char sql[1024];
        snprintf(sql, sizeof sql, "EXPLAIN (FORMAT JSON) SELECT 1 FROM %s WHERE %s", from,
                 filter_sql(f));
        tp_error err = {0};
        PGresult *r = tp_db_query(req->db, sql, f->n, f->p, &err);
        json_t *plan = r ? json_loads(PQgetvalue(r, 0, 0), 0, NULL) : NULL;
        PQclear(r);
        json_t *rows = json_object_get(json_object_get(json_array_get(plan, 0), "Plan"), "Plan Rows");
        est = json_is_number(rows) ? (long long)json_number_value(rows) : 0;
        json_decref(plan);
        pthread_mutex_lock(&estimates_mu);
        estimates[slot].key = key;
        estimates[slot].rows = est;
        estimates[slot].at = now;
        pthread_mutex_unlock(&estimates_mu);
    }
    return est > counted ? est : counted;
}

/* What a list is: its table, order, items and cursor. */
typedef struct list_def {
    const char *table;
    const char *order;  /* SQL ORDER BY of the rows, e.g. "id DESC" */
    const char *item;   /* SQL of one row's JSON, over the row as `j` */
    const char *key;    /* SQL of a row's cursor text */
    const char *after;  /* SQL of "after the cursor", its values as $? */
    const char *prefix; /* before the key in a cursor */
} list_def;

/* One page of a list: `f` the request's filters, `limit` its page size,
 * `cursor` the values for d->after (NULL on the first page).  One prepared
 * statement answers the capped count, the items as JSON text and the last
 * row's key when more follow; the reply is items, next (base64url of the
 * prefix and that key), total, total_exact. */
static void list_page(tp_req *req, const list_def *d, list_filter *f, const char *limit,
                      const char *const *cursor, int ncursor)
{
    const char *p[24];
    memcpy(p, f->p, sizeof *p * (size_t)f->n);
    int n = f->n, lim = ++n;
    p[lim - 1] = limit;
    char after[256] = "";
    if (cursor) { /* d->after, its "$?" numbered from here */
        size_t o = (size_t)snprintf(after, sizeof after, " AND ");
        for (const char *q = d->after; *q && o + 4 < sizeof after; q++)
            if (*q == '?' && q > d->after && q[-1] == '$')
                o += (size_t)snprintf(after + o, sizeof after - o, "%d", n + 1), n++;
            else
                after[o++] = *q;
        after[o] = '\0';
        memcpy(p + lim, cursor, sizeof *p * (size_t)ncursor);
    }
    /* (the filters twice, not one CTE of every matching row: that would be
     * materialised whole before the page is cut) */
    char sql[4096];
    snprintf(sql, sizeof sql,
             "WITH page AS (SELECT * FROM %s WHERE %s%s ORDER BY %s LIMIT $%d::int + 1)"
             " SELECT (SELECT count(*) FROM (SELECT 1 FROM %s WHERE %s LIMIT %d) x),"
             " coalesce((SELECT json_agg(%s ORDER BY %s) FROM"
             " (SELECT * FROM page ORDER BY %s LIMIT $%d::int) j), '[]'),"
             " CASE WHEN (SELECT count(*) FROM page) > $%d::int THEN (SELECT %s FROM page"
             " ORDER BY %s OFFSET $%d::int - 1 LIMIT 1) END",
             d->table, filter_sql(f), after, d->order, lim, d->table, filter_sql(f),
             EXACT_TOTAL_MAX + 1, d->item, d->order, d->order, lim, lim, d->key, d->order, lim);
    tp_error err = {0};
    PGresult *r = tp_db_query(req->db, sql, n, p, &err);
    if (!r) {
        tp_reply_db_error(req, &err);
        return;
    }
    int exact;
    long long total = list_total(req, d->table, f, atoll(PQgetvalue(r, 0, 0)), &exact);
    char next[1500] = "null";
    if (!PQgetisnull(r, 0, 2)) {
        char raw[1024];
        snprintf(raw, sizeof raw, "%s%s", d->prefix, PQgetvalue(r, 0, 2));
        next[0] = '"';
        sodium_bin2base64(next + 1, sizeof next - 2, (const unsigned char *)raw, strlen(raw),
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        strcat(next, "\"");
    }
    char tail[1700];
    int tl = snprintf(tail, sizeof tail, ",\"next\":%s,\"total\":%lld,\"total_exact\":%s}\n", next,
                      total, exact ? "true" : "false");
    size_t il = (size_t)PQgetlength(r, 0, 1);
    char *out = malloc(sizeof "{\"items\":" - 1 + il + (size_t)tl + 1);
    if (out) { /* the items as the database wrote them, not parsed again */
        memcpy(out, "{\"items\":", sizeof "{\"items\":" - 1);
        memcpy(out + sizeof "{\"items\":" - 1, PQgetvalue(r, 0, 1), il);
        memcpy(out + sizeof "{\"items\":" - 1 + il, tail, (size_t)tl + 1);
        tp_reply_owned(req, 200, "application/json", out, sizeof "{\"items\":" - 1 + il + (size_t)tl);
    } else {
        tp_reply_problem(req, 500, "internal", "out of memory");
    }
    PQclear(r);
}

/* A query parameter that must be absent or valid; replies 400 otherwise. */
static int param(tp_req *req, const char *name, int (*ok)(const char *), const char *want,
                 const char **out)
{
    *out = tp_query(req, name);
    if (*out && !ok(*out)) {
        tp_reply_problem(req, 400, "invalid_parameter", "%s: want %s", name, want);
        return -1;
    }
    return 0;
}

static int ok_date(const char *s) { return tp_date_valid(s); }
static int ok_pos(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v >= 1 && v <= 99;
}
static int ok_status(const char *s)
{
    static const char *const st[] = {"queued", "running", "succeeded", "failed", "cancelled"};
    for (size_t i = 0; i < sizeof st / sizeof *st; i++)
        if (strcmp(s, st[i]) == 0)
            return 1;
    return 0;
}
static int ok_limit(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v >= 1 && v <= 500;
}

/* Job list cursors: base64url of "j:<id>". */
static int cursor_decode(const char *s, long long *id)
{
    unsigned char raw[32];
    size_t n = 0;
    if (strlen(s) > 60 || sodium_base642bin(raw, sizeof raw - 1, s, strlen(s), NULL, &n, NULL,
                                            sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return -1;
    raw[n] = '\0';
    char *end;
    if (n < 3 || raw[0] != 'j' || raw[1] != ':')
        return -1;
    *id = strtoll((const char *)raw + 2, &end, 10);
    return *end == '\0' && *id > 0 ? 0 : -1;
}

/* ------------------------------------------------------------ operations */

static void livez(tp_req *req)
{
    tp_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

/* Its own short-lived connection: a pool starved by a dead database must
 * not make the probe wait. */
static void readyz(tp_req *req)
{
    tp_error err = {0};
    tp_db *db = tp_db_connect(tp_server_opts(req->srv)->db_url, &err);
    PGresult *r = db ? tp_db_query(db,
                                   "SELECT count(*) FROM workers WHERE kind = 'worker'"
                                   " AND seen_at > now() - interval '2 minutes'",
                                   0, NULL, &err)
                     : NULL;
    long long live = r ? atoll(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    tp_db_close(db);
    if (!r) {
        tp_reply_problem(req, 503, "not_ready", "database: not answering");
        return;
    }
    tp_store *st = tp_server_opts(req->srv)->store;
    if (st && tp_store_check(st, &err) < 0) {
        tp_reply_problem(req, 503, "not_ready", "store: not answering");
        return;
    }
    if (live == 0) {
        tp_reply_problem(req, 503, "not_ready",
                         "no live worker: none has sent a heartbeat in the last 2 minutes");
        return;
    }
    tp_reply_json(req, 200, json_pack("{s:s, s:s, s:s, s:I}", "status", "ready", "database", "ok",
                                      "store", st ? "ok" : "not configured", "workers",
                                      (json_int_t)live));
}

/* Prometheus text: what the database knows (jobs, attempts, fetch errors,
 * rows, attempt durations), then this server's HTTP counters. */
static const char *const metric_sql[] = {
    "SELECT '# HELP tillpipe_jobs Jobs by status.' || chr(10) || '# TYPE tillpipe_jobs gauge'"
    " || chr(10) || string_agg(format('tillpipe_jobs{status=\"%s\"} %s', s, (SELECT count(*)"
    " FROM jobs WHERE status = s)), chr(10)) FROM unnest(enum_range(NULL::job_status)) s",
    "SELECT '# HELP tillpipe_job_attempts_total Attempts by outcome (error code, or done).'"
    " || chr(10) || '# TYPE tillpipe_job_attempts_total counter' || chr(10) ||"
    " coalesce(string_agg(format('tillpipe_job_attempts_total{code=\"%s\"} %s', c, n),"
    " chr(10)), 'tillpipe_job_attempts_total{code=\"done\"} 0') FROM (SELECT coalesce(error_code,"
    " CASE WHEN stage = 'done' THEN 'done' ELSE 'in_progress' END) c, count(*) n FROM job_attempts"
    " GROUP BY 1 ORDER BY 1) x",
    "SELECT '# HELP tillpipe_fetch_errors_total Fetch failures by kind.' || chr(10) ||"
    " '# TYPE tillpipe_fetch_errors_total counter' || chr(10) || string_agg(format("
    "'tillpipe_fetch_errors_total{kind=\"%s\"} %s', k, (SELECT count(*) FROM job_attempts"
    " WHERE stage = 'fetch' AND error_code = k)), chr(10)) FROM unnest(ARRAY['no_files',"
    " 'server_error', 'network_error', 'bad_file']) k",
    "SELECT '# HELP tillpipe_rows_parsed_total Data rows of the chosen files by report type.'"
    " || chr(10) || '# TYPE tillpipe_rows_parsed_total counter' || chr(10) ||"
    " coalesce(string_agg(format('tillpipe_rows_parsed_total{type=\"%s\"} %s', t, n), chr(10)),"
    " 'tillpipe_rows_parsed_total{type=\"rd5000\"} 0') FROM (SELECT report_type t,"
    " coalesce(sum(data_rows), 0) n FROM files WHERE chosen GROUP BY 1 ORDER BY 1) x",
    "SELECT '# HELP tillpipe_rows_rejected_total Order lines rejected by the combine.' ||"
    " chr(10) || '# TYPE tillpipe_rows_rejected_total counter' || chr(10) ||"
    " 'tillpipe_rows_rejected_total ' || coalesce(sum(rows_rejected), 0) FROM quality_flags",
    "SELECT '# HELP tillpipe_attempt_duration_seconds Attempts from claim to end.' || chr(10)"
    " || '# TYPE tillpipe_attempt_duration_seconds histogram' || chr(10) || string_agg(format("
    "'tillpipe_attempt_duration_seconds_bucket{le=\"%s\"} %s', le, n), chr(10) ORDER BY o) ||"
    " chr(10) || format('tillpipe_attempt_duration_seconds_sum %s', (SELECT coalesce(sum("
    " extract(epoch FROM finished_at - started_at)), 0) FROM job_attempts WHERE finished_at"
    " IS NOT NULL)) || chr(10) || format('tillpipe_attempt_duration_seconds_count %s', (SELECT"
    " count(*) FROM job_attempts WHERE finished_at IS NOT NULL)) FROM (SELECT o, le, (SELECT"
    " count(*) FROM job_attempts WHERE finished_at IS NOT NULL AND (le = '+Inf' OR extract(epoch"
    " FROM finished_at - started_at) <= le::float8)) n FROM unnest(ARRAY['0.1', '0.5', '1', '5',"
    " '30', '120', '+Inf']) WITH ORDINALITY b(le, o)) x",
    "WITH v AS (SELECT e.key st, e.value::float8 s FROM job_attempts a,"
    " jsonb_each_text(a.stage_seconds) e WHERE a.stage_seconds IS NOT NULL),"
    " st AS (SELECT * FROM unnest(ARRAY['fetch', 'store', 'parse', 'load']) WITH ORDINALITY"
    " t(st, so)), b AS (SELECT * FROM unnest(ARRAY['0.01', '0.05', '0.1', '0.5', '1', '5', '30',"
    " '+Inf']) WITH ORDINALITY b(le, o))"
    " SELECT '# HELP tillpipe_stage_duration_seconds Seconds an attempt spent in each stage.'"
    " || chr(10) || '# TYPE tillpipe_stage_duration_seconds histogram' || chr(10) ||"
    " string_agg(l, chr(10) ORDER BY so, o) FROM ("
    " SELECT so, o, format('tillpipe_stage_duration_seconds_bucket{stage=\"%s\",le=\"%s\"} %s',"
    " st.st, le, (SELECT count(*) FROM v WHERE v.st = st.st AND (le = '+Inf' OR"
    " v.s <= le::float8))) l FROM st, b"
    " UNION ALL SELECT so, 100, format('tillpipe_stage_duration_seconds_sum{stage=\"%s\"} %s',"
    " st.st, (SELECT coalesce(sum(s), 0) FROM v WHERE v.st = st.st)) FROM st"
    " UNION ALL SELECT so, 101, format('tillpipe_stage_duration_seconds_count{stage=\"%s\"} %s',"
    " st.st, (SELECT count(*) FROM v WHERE v.st = st.st)) FROM st) x",
};

static void metrics(tp_req *req)
{
    char *out = NULL;
    size_t len = 0, cap = 0;
    tp_error err = {0};
    for (size_t i = 0; i < sizeof metric_sql / sizeof *metric_sql; i++) {
        PGresult *r = tp_db_query(req->db, metric_sql[i], 0, NULL, &err);
        if (!r) {
            free(out);
            tp_reply_db_error(req, &err);
            return;
        }
        tp_strcatf(&out, &len, &cap, "%s\n", PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    tp_server_metrics(req->srv, &out, &len, &cap);
    tp_reply_text(req, 200, "text/plain; version=0.0.4", out ? out : "");
    free(out);
}

/* ------------------------------------------------------------ auth */

static void login(tp_req *req)
{
    json_t *b = tp_body_object(req);
    if (!b)
        return;
    const char *user = json_string_value(json_object_get(b, "username"));
    const char *pass = json_string_value(json_object_get(b, "password"));
    if (!user || !pass || strlen(user) > 64 || strlen(pass) > 1024) {
        json_decref(b);
        tp_reply_problem(req, 400, "invalid_body", "want {\"username\": string, \"password\": string}");
        return;
    }
    const char *p[] = {user};
    tp_error err = {0};
    PGresult *r = tp_db_query(req->db, "SELECT password_hash, role FROM users WHERE username = $1",
                              1, p, &err);
    if (!r) {
        json_decref(b);
        tp_reply_db_error(req, &err);
        return;
    }
    int ok = PQntuples(r) == 1 && tp_password_verify(PQgetvalue(r, 0, 0), pass);
    tp_role role = ok ? tp_role_parse(PQgetvalue(r, 0, 1)) : TP_ROLE_NONE;
    PQclear(r);
    if (!ok || role == TP_ROLE_NONE) {
        json_decref(b);
        tp_reply_problem(req, 401, "bad_credentials", "unknown user or wrong password");
        return;
    }
    const tp_api_opts *o = tp_server_opts(req->srv);
    long long exp = 0;
    char *tok = tp_token_issue(o->jwt_secret, user, role, o->token_ttl, &exp);
    snprintf(req->subject, sizeof req->subject, "%s", user);
    json_decref(b);
    if (!tok) {
        tp_reply_problem(req, 500, "internal", "could not issue a token");
        return;
    }
    tp_audit(req, "auth.login", req->subject, NULL);
    tp_reply_json(req, 200, json_pack("{s:s, s:I, s:s}", "token", tok, "expires_at",
                                      (json_int_t)exp, "role", tp_role_name(role)));
    free(tok);
}

/* ------------------------------------------------------------ jobs */

#define JOB_JSON                                                                                   \
    "json_build_object('id', j.id, 'kind', j.kind, 'branch', j.branch, 'pos', j.pos,"             \
    " 'date', j.business_date, 'status', j.status, 'attempts', j.attempts,"                       \
    " 'max_attempts', j.max_attempts, 'records', j.records, 'last_error', j.last_error,"          \
    " 'created_by', j.created_by, 'created_at', j.created_at, 'started_at', j.started_at,"        \
    " 'finished_at', j.finished_at)"

static void jobs_list(tp_req *req)
{
    const char *branch, *pos, *status, *from, *to, *limit, *cursor = tp_query(req, "cursor");
    if (param(req, "branch", tp_branch_code_valid, "a branch code", &branch) < 0 ||
        param(req, "pos", ok_pos, "a terminal number 1-99", &pos) < 0 ||
        param(req, "status", ok_status, "queued, running, succeeded, failed or cancelled",
              &status) < 0 ||
        param(req, "from", ok_date, "a YYYY-MM-DD date", &from) < 0 ||
        param(req, "to", ok_date, "a YYYY-MM-DD date", &to) < 0 ||
        param(req, "limit", ok_limit, "1-500", &limit) < 0)
        return;
    long long after = 0;
    if (cursor && cursor_decode(cursor, &after) < 0) {
        tp_reply_problem(req, 400, "invalid_parameter", "cursor: not one this server gave");
        return;
    }
    char safter[32];
    snprintf(safter, sizeof safter, "%lld", after);
    list_filter f = {0};
    if (branch)
        filter_add(&f, "branch = $?", branch);
    if (pos)
        filter_add(&f, "pos = $?::int", pos);
    if (status)
        filter_add(&f, "status = $?::job_status", status);
    if (from)
        filter_add(&f, "business_date >= $?::date", from);
    if (to)
        filter_add(&f, "business_date <= $?::date", to);
    static const list_def jobs = {"jobs", "id DESC", JOB_JSON, "id", "id < $?::bigint", "j:"};
    const char *cur[] = {safter};
    list_page(req, &jobs, &f, limit ? limit : "50", after ? cur : NULL, 1);
}

static void job_get(tp_req *req)
{
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", req->ids[0]);
    const char *p[] = {sid};
    reply_sql_json(
        req,
        "SELECT (" JOB_JSON "::jsonb || jsonb_build_object("
        " 'attempts_detail', (SELECT coalesce(jsonb_agg(jsonb_build_object('attempt', a.attempt,"
        "  'worker', a.worker, 'stage', a.stage, 'code', a.error_code, 'retryable', a.retryable,"
        "  'message', a.message, 'plugins', a.plugins, 'fetch', a.fetch_info,"
        "  'started_at', a.started_at, 'finished_at', a.finished_at, 'stage_seconds', a.stage_seconds,"
        "  'seconds', extract(epoch FROM a.finished_at - a.started_at)) ORDER BY a.attempt), '[]')"
        "  FROM job_attempts a WHERE a.job_id = j.id),"
        " 'files', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', f.id, 'type', f.report_type,"
        "  'name', f.name, 'size', f.size, 'rows', f.data_rows, 'sha256', f.sha256,"
        "  'chosen', f.chosen, 'reason', f.reason) ORDER BY f.report_type, f.name), '[]')"
        "  FROM files f WHERE f.job_id = j.id),"
        " 'quality', (SELECT to_jsonb(q) - 'id' - 'job_id' FROM quality_flags q"
        "  WHERE q.job_id = j.id ORDER BY q.id DESC LIMIT 1)))::text"
        " FROM jobs j WHERE j.id = $1",
        1, p, "no such job");
}

/* Queue one terminal-day; *status and the JSON answer (NULL after a reply
 * was made, e.g. an error). */
static json_t *enqueue_json(tp_req *req, tp_job_kind kind, const char *branch, int pos,
                            const char *date, int force, const char *action, unsigned *status)
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
    *status = 202;
    return json_pack("{s:I, s:s}", "job_id", (json_int_t)id, "result",
                     res == TP_ENQUEUE_CREATED ? "created"
                     : res == TP_ENQUEUE_RERUN ? "rerun_queued"
                                               : "existing");
}

static void enqueue_reply(tp_req *req, tp_job_kind kind, const char *branch, int pos,
                          const char *date, int force, const char *action)
{
    unsigned status = 0;
    json_t *o = enqueue_json(req, kind, branch, pos, date, force, action, &status);
    if (o)
        tp_reply_json(req, status, o);
}

/* Idempotency-Key: the first answer to (user, key) is kept a day and given
 * again to a repeat of the same request; the same key with another request
 * is refused.  Returns 1 when it answered, 0 to go on (*locked: the key's
 * advisory lock is held until idem_store/idem_unlock). */
static int idem_check(tp_req *req, const char *key, char hash[65], int *locked)
{
    *locked = 0;
    if (!key)
        return 0;
    if (!*key || strlen(key) > 200) {
        tp_reply_problem(req, 400, "invalid_parameter", "Idempotency-Key: 1-200 characters");
        return 1;
    }
    tp_error herr = {0};
    if (tp_sha256_hex(req->body ? req->body : "", req->body_len, hash, &herr) < 0) {
        tp_reply_problem(req, 500, "internal", "%s", herr.msg);
        return 1;
    }
    const char *p[] = {req->subject, key};
    tp_error err = {0};
    if (tp_db_exec(req->db, "SELECT pg_advisory_lock(hashtextextended($1 || '/' || $2, 7))", 2, p,
                   &err) < 0) {
        tp_reply_db_error(req, &err);
        return 1;
    }
    *locked = 1;
    PGresult *r = tp_db_query(req->db,
                              "SELECT request_hash, status, response::text FROM idempotency_keys"
                              " WHERE actor = $1 AND key = $2 AND created_at > now() - interval '1 day'",
                              2, p, &err);
    if (!r) {
        tp_reply_db_error(req, &err);
        return 1;
    }
    int answered = 0;
    if (PQntuples(r) == 1) {
        answered = 1;
        if (strcmp(PQgetvalue(r, 0, 0), hash) != 0)
            tp_reply_problem(req, 422, "idempotency_key_reused",
                             "this Idempotency-Key was used for another request");
        else {
            tp_reply_text(req, (unsigned)atoi(PQgetvalue(r, 0, 1)), "application/json",
                          PQgetvalue(r, 0, 2));
            if (req->resp)
                MHD_add_response_header(req->resp, "Idempotent-Replayed", "true");
        }
    }
    PQclear(r);
    return answered;
}

static void idem_unlock(tp_req *req, const char *key)
{
    const char *p[] = {req->subject, key};
    tp_error err = {0};
    tp_db_exec(req->db, "SELECT pg_advisory_unlock(hashtextextended($1 || '/' || $2, 7))", 2, p, &err);
}

static void idem_store(tp_req *req, const char *key, const char *hash, unsigned status, json_t *o)
{
    char *body = json_dumps(o, JSON_COMPACT), st[8];
    snprintf(st, sizeof st, "%u", status);
    const char *p[] = {req->subject, key, hash, st, body};
    tp_error err = {0};
    if (body)
        tp_db_exec(req->db,
                   "INSERT INTO idempotency_keys (actor, key, request_hash, status, response)"
                   " VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (actor, key) DO UPDATE SET"
                   " request_hash = EXCLUDED.request_hash, status = EXCLUDED.status,"
                   " response = EXCLUDED.response, created_at = now()",
                   5, p, &err);
    free(body);
}

static void jobs_fetch(tp_req *req)
{
    json_t *b = tp_body_object(req);
    if (!b)
        return;
    json_t *jb = json_object_get(b, "branch"), *jp = json_object_get(b, "pos"),
           *jd = json_object_get(b, "date"), *jf = json_object_get(b, "force");
    const char *branch = json_string_value(jb), *date = json_string_value(jd);
    json_int_t pos = json_is_integer(jp) ? json_integer_value(jp) : 0;
    if (!tp_branch_code_valid(branch) || pos < 1 || pos > 99 || !date || !tp_date_valid(date) ||
        (jf && !json_is_boolean(jf)) || json_object_size(b) > 4 ||
        (json_object_size(b) > 3 && !jf)) {
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
        unsigned status = 0;
        json_t *o = enqueue_json(req, TP_JOB_FETCH, branch, (int)pos, date, jf && json_is_true(jf),
                                 "job.enqueue", &status);
        if (o && key)
            idem_store(req, key, hash, status, o);
        if (o)
            tp_reply_json(req, status, o);
    }
    if (locked)
        idem_unlock(req, key);
    json_decref(b);
}

static void job_retry(tp_req *req)
{
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", req->ids[0]);
    const char *p[] = {sid};
    tp_error err = {0};
    PGresult *r = tp_db_query(req->db,
                              "SELECT branch, pos, business_date::text, status, kind FROM jobs"
                              " WHERE id = $1",
                              1, p, &err);
    if (!r) {
        tp_reply_db_error(req, &err);
        return;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        tp_reply_problem(req, 404, "not_found", "no such job");
        return;
    }
    const char *st = PQgetvalue(r, 0, 3);
    if (strcmp(st, "queued") == 0 || strcmp(st, "running") == 0) {
        tp_reply_problem(req, 409, "job_live", "job %s is %s; retry it once it has ended", sid, st);
        PQclear(r);
        return;
    }
    char branch[40], date[16];
    snprintf(branch, sizeof branch, "%s", PQgetvalue(r, 0, 0));
    snprintf(date, sizeof date, "%s", PQgetvalue(r, 0, 2));
    int pos = atoi(PQgetvalue(r, 0, 1));
    tp_job_kind kind = strcmp(PQgetvalue(r, 0, 4), "reparse") == 0 ? TP_JOB_REPARSE : TP_JOB_FETCH;
    PQclear(r);
    enqueue_reply(req, kind, branch, pos, date, 1, "job.retry");
}

static void job_cancel(tp_req *req)
{
    int now = 0;
    tp_error err = {0};
    int rc = tp_queue_cancel(req->db, req->ids[0], req->subject, &now, &err);
    if (rc == TP_ENOTFOUND) {
        tp_reply_problem(req, 404, "not_found", "no such job");
        return;
    }
    if (rc == TP_EINVAL) {
        tp_reply_problem(req, 409, "job_finished", "%s", err.msg);
        return;
    }
    if (rc < 0) {
        tp_reply_db_error(req, &err);
        return;
    }
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", req->ids[0]);
    tp_audit(req, "job.cancel", sid, NULL);
    tp_reply_json(req, now ? 200 : 202,
                  json_pack("{s:I, s:s}", "job_id", (json_int_t)req->ids[0], "status",
                            now ? "cancelled" : "cancel_requested"));
}

/* ------------------------------------------------------------ missing data */

#define MISSING_MAX_DAYS 366

/* Every active branch x terminal x day of [$1, $2] (of branch $3, or all)
 * with its state: ok, flagged (succeeded with data-quality findings),
 * queued, running, failed (failed or cancelled, nothing succeeded) or
 * missing (never queued). */
#define CELLS_SQL                                                                                  \
    "WITH cells AS (SELECT b.code AS branch, t AS pos, d::date AS day"                             \
    "  FROM branches b, unnest(b.terminals) t,"                                                    \
    "  generate_series($1::date, $2::date, interval '1 day') d"                                    \
    "  WHERE b.active AND ($3::text IS NULL OR b.code = $3)),"                                     \
    " best AS (SELECT DISTINCT ON (branch, pos, business_date) branch, pos, business_date,"        \
    "  status, id FROM jobs WHERE business_date BETWEEN $1::date AND $2::date"                     \
    "  AND ($3::text IS NULL OR branch = $3)"                                                      \
    "  ORDER BY branch, pos, business_date, CASE status WHEN 'succeeded' THEN 0"                   \
    "  WHEN 'running' THEN 1 WHEN 'queued' THEN 2 ELSE 3 END, id DESC)"                            \
    " SELECT c.branch, c.pos, c.day::text, CASE WHEN j.status IS NULL THEN 'missing'"              \
    "  WHEN j.status = 'succeeded' THEN CASE WHEN EXISTS (SELECT 1 FROM quality_flags q"           \
    "   WHERE q.job_id = j.id AND (q.rows_rejected > 0 OR cardinality(q.missing_reports) > 0))"    \
    "   THEN 'flagged' ELSE 'ok' END"                                                              \
    "  WHEN j.status IN ('queued', 'running') THEN j.status::text ELSE 'failed' END"               \
    " FROM cells c LEFT JOIN best j ON j.branch = c.branch AND j.pos = c.pos"                      \
    "  AND j.business_date = c.day ORDER BY 1, 2, 3"

/* start/end (and branch) from the query or a body: 0, or -1 after a reply. */
static int read_range(tp_req *req, const char *start, const char *end, const char *branch)
{
    if (!start || !end || !tp_date_valid(start) || !tp_date_valid(end)) {
        tp_reply_problem(req, 400, "invalid_parameter", "start and end: want YYYY-MM-DD dates");
        return -1;
    }
    if (strcmp(start, end) > 0) {
        tp_reply_problem(req, 400, "invalid_parameter", "start is after end");
        return -1;
    }
    struct tm a = {0}, b = {0};
    strptime(start, "%Y-%m-%d", &a);
    strptime(end, "%Y-%m-%d", &b);
    if (difftime(timegm(&b), timegm(&a)) > 86400.0 * (MISSING_MAX_DAYS - 1)) {
        tp_reply_problem(req, 400, "invalid_parameter", "at most %d days at a time",
                         MISSING_MAX_DAYS);
        return -1;
    }
    if (branch && !tp_branch_code_valid(branch)) {
        tp_reply_problem(req, 400, "invalid_parameter", "branch: want a branch code");
        return -1;
    }
    return 0;
}

/* map[branch][pos] gets `leaf` (array: append the date; object: date -> state) */
static void map_put(json_t *map, const char *branch, const char *pos, const char *date,
                    const char *state, int detail)
{
    json_t *b = json_object_get(map, branch);
    if (!b)
        json_object_set_new(map, branch, b = json_object());
    json_t *p = json_object_get(b, pos);
    if (!p)
        json_object_set_new(b, pos, p = detail ? json_object() : json_array());
    if (detail)
        json_object_set_new(p, date, json_string(state));
    else
        json_array_append_new(p, json_string(date));
}

static void missing_get(tp_req *req)
{
    const char *start = tp_query(req, "start"), *end = tp_query(req, "end"),
               *branch = tp_query(req, "branch"), *detail_s = tp_query(req, "detail");
    if (read_range(req, start, end, branch) < 0)
        return;
    if (detail_s && strcmp(detail_s, "0") != 0 && strcmp(detail_s, "1") != 0) {
        tp_reply_problem(req, 400, "invalid_parameter", "detail: want 0 or 1");
        return;
    }
    int detail = detail_s && detail_s[0] == '1';
    const char *p[] = {start, end, branch};
    tp_error err = {0};
    PGresult *r = tp_db_query(req->db, CELLS_SQL, 3, p, &err);
    if (!r) {
        tp_reply_db_error(req, &err);
        return;
    }
    json_t *map = json_object();
    for (int i = 0; i < PQntuples(r); i++) {
        const char *state = PQgetvalue(r, i, 3);
        if (strcmp(state, "ok") == 0 || (!detail && strcmp(state, "flagged") == 0))
            continue; /* not missing (a flagged day has its records) */
        map_put(map, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), state, detail);
    }
    PQclear(r);
    tp_reply_json(req, 200, map);
}

/* The cells to queue: from {start, end[, branch]} (every cell not
 * succeeded and not live), or from a map {branch: {pos: [dates]}}. */
static void missing_run(tp_req *req)
{
    json_t *b = tp_body_object(req);
    if (!b)
        return;
    json_t *dry = json_object_get(b, "dry_run");
    if (dry && !json_is_boolean(dry)) {
        json_decref(b);
        tp_reply_problem(req, 400, "invalid_body", "dry_run: want a boolean");
        return;
    }
    json_t *cells = json_array(); /* [{branch, pos, date}] */
    const char *start = json_string_value(json_object_get(b, "start"));
    if (json_object_get(b, "start") || json_object_get(b, "end")) {
        const char *end = json_string_value(json_object_get(b, "end"));
        json_t *jb = json_object_get(b, "branch");
        const char *branch = json_string_value(jb);
        if ((jb && !branch) || read_range(req, start, end, branch) < 0) {
            if (jb && !branch)
                tp_reply_problem(req, 400, "invalid_body", "branch: want a string");
            json_decref(b);
            json_decref(cells);
            return;
        }
        const char *p[] = {start, end, branch};
        tp_error err = {0};
        PGresult *r = tp_db_query(req->db, CELLS_SQL, 3, p, &err);
        if (!r) {
            json_decref(b);
            json_decref(cells);
            tp_reply_db_error(req, &err);
            return;
        }
        for (int i = 0; i < PQntuples(r); i++)
            if (strcmp(PQgetvalue(r, i, 3), "missing") == 0 || strcmp(PQgetvalue(r, i, 3), "failed") == 0)
                json_array_append_new(cells, json_pack("{s:s, s:i, s:s}", "branch", PQgetvalue(r, i, 0),
                                                       "pos", atoi(PQgetvalue(r, i, 1)), "date",
                                                       PQgetvalue(r, i, 2)));
        PQclear(r);
    } else {
        const char *code;
        json_t *terms;
        size_t n = 0;
        json_object_foreach(b, code, terms)
        {
            if (strcmp(code, "dry_run") == 0)
                continue;
            const char *ps;
            json_t *dates;
            int ok = tp_branch_code_valid(code) && json_is_object(terms);
            json_object_foreach(ok ? terms : NULL, ps, dates)
            {
                size_t i;
                json_t *d;
                ok = ok && ok_pos(ps) && json_is_array(dates);
                json_array_foreach(ok ? dates : NULL, i, d)
                {
                    ok = ok && json_is_string(d) && tp_date_valid(json_string_value(d)) && ++n <= 10000;
                    if (ok)
                        json_array_append_new(cells, json_pack("{s:s, s:i, s:O}", "branch", code,
                                                               "pos", atoi(ps), "date", d));
                }
            }
            if (!ok) {
                json_decref(b);
                json_decref(cells);
                tp_reply_problem(req, 400, "invalid_body",
                                 "want {\"start\", \"end\"} or {branch: {pos: [\"YYYY-MM-DD\", ...]}}"
                                 " (at most 10000 days)");
                return;
            }
        }
    }
    int dry_run = dry && json_is_true(dry);
    json_decref(b);
    char *cj = json_dumps(cells, JSON_COMPACT);
    size_t ncells = json_array_size(cells);
    json_decref(cells);
    const char *p[] = {cj, dry_run ? "t" : "f", req->subject};
    tp_error err = {0};
    /* Unknown branches or terminals are refused as a whole; known cells that
     * succeeded or are live are left alone. */
    PGresult *r = tp_db_query(
        req->db,
        "WITH want AS (SELECT DISTINCT c.branch, c.pos, c.date::date AS day FROM"
        "  jsonb_to_recordset($1::jsonb) AS c(branch text, pos int, date text)),"
        " bad AS (SELECT w.* FROM want w WHERE NOT EXISTS (SELECT 1 FROM branches b"
        "  WHERE b.code = w.branch AND w.pos = ANY (b.terminals))),"
        " todo AS (SELECT w.* FROM want w WHERE NOT EXISTS (SELECT 1 FROM bad)"
        "  AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.branch = w.branch AND j.pos = w.pos"
        "  AND j.business_date = w.day AND j.status IN ('succeeded', 'queued', 'running'))),"
        " ins AS (INSERT INTO jobs (branch, pos, business_date, created_by)"
        "  SELECT branch, pos, day, 'api:' || $3 FROM todo WHERE NOT $2::boolean"
        "  ORDER BY day, branch, pos"
        "  ON CONFLICT (branch, pos, business_date) WHERE status IN ('queued', 'running')"
        "  DO NOTHING RETURNING id)"
        " SELECT (SELECT count(*) FROM bad), (SELECT min(branch || '/' || pos) FROM bad),"
        "  (SELECT count(*) FROM todo), (SELECT count(*) FROM ins),"
        "  (SELECT coalesce(json_agg(json_build_object('branch', branch, 'pos', pos, 'date', day)"
        "   ORDER BY day, branch, pos), '[]') FROM todo)::text",
        3, p, &err);
    free(cj);
    if (!r) {
        tp_reply_db_error(req, &err);
        return;
    }
    if (atoi(PQgetvalue(r, 0, 0)) > 0) {
        tp_reply_problem(req, 422, "unknown_branch", "unknown branch or terminal: %s%s",
                         PQgetvalue(r, 0, 1), atoi(PQgetvalue(r, 0, 0)) > 1 ? " (and more)" : "");
        PQclear(r);
        return;
    }
    json_t *todo = json_loads(PQgetvalue(r, 0, 4), 0, NULL);
    long long would = atoll(PQgetvalue(r, 0, 2)), queued = atoll(PQgetvalue(r, 0, 3));
    PQclear(r);
    if (!dry_run)
        tp_audit(req, "missing.run", NULL,
                 json_pack("{s:I, s:I}", "asked", (json_int_t)ncells, "queued", (json_int_t)queued));
    tp_reply_json(req, dry_run ? 200 : 202,
                  json_pack("{s:b, s:I, s:I, s:o}", "dry_run", dry_run, "count", (json_int_t)would,
                            "queued", (json_int_t)(dry_run ? 0 : queued), "cells",
                            todo ? todo : json_array()));
}

/* ------------------------------------------------------------ branches */

static void branches_list(tp_req *req)
{
    reply_sql_json(req,
                   "SELECT json_build_object('items', coalesce(json_agg(json_build_object("
                   "'code', code, 'name', name, 'active', active, 'terminals', terminals,"
                   " 'pos', pos, 'parsers', parsers, 'report_server', report_server)"
                   " ORDER BY code), '[]'), 'total', count(*))::text FROM branches",
                   0, NULL, "no branches");
}

/* Upsert one branch (admin): the configuration's format, every key checked;
 * a parser it names must be a loaded plugin that parses that type. */
static void branches_upsert(tp_req *req)
{
    json_t *b = tp_body_object(req);
    if (!b)
        return;
    json_t *wrap = json_pack("{s:[O]}", "branches", b);
    char *text = wrap ? json_dumps(wrap, JSON_COMPACT) : NULL;
    json_decref(wrap);
    json_decref(b);
    tp_error err = {0};
    tp_config *cfg = text ? tp_config_parse(text, "request body", &err) : NULL;
    free(text);
    if (!cfg) {
        /* "request body: branches[0].pos: ..." -> the key path without the wrapper */
        const char *m = strstr(err.msg, "branches[0]");
        tp_reply_problem(req, 400, "invalid_body", "%s", m ? m + 11 + (m[11] == '.') : err.msg);
        return;
    }
    const tp_branch_cfg *bc = tp_config_at(cfg, 0);
    const tp_registry *reg = tp_server_opts(req->srv)->plugins;
    for (int t = 0; reg && t < TP_TYPE_COUNT; t++) {
        const char *type = tp_schema_of(t)->name, *name = tp_branch_plugin(bc, type);
        const tp_plugin *pl = name ? tp_registry_find(reg, name) : NULL;
        int parses = 0;
        for (size_t i = 0; pl && pl->desc->types[i]; i++)
            parses |= strcmp(pl->desc->types[i], type) == 0;
        if (name && !parses) {
            tp_reply_problem(req, 422, "unknown_plugin",
                             "parsers.%s: %s is not a loaded plugin that parses %s (GET /api/plugins)",
                             type, name, type);
            tp_config_destroy(cfg);
            return;
        }
    }
    const char *p[] = {bc->code};
    PGresult *r = tp_db_query(req->db, "SELECT 1 FROM branches WHERE code = $1", 1, p, &err);
    int existed = r && PQntuples(r) == 1;
    PQclear(r);
    if (!r || tp_branch_upsert(req->db, bc, NULL, &err) < 0) {
        tp_config_destroy(cfg);
        tp_reply_db_error(req, &err);
        return;
    }
    tp_audit(req, existed ? "branch.update" : "branch.create", bc->code, NULL);
    reply_sql_json(req,
                   "SELECT json_build_object('code', code, 'name', name, 'active', active,"
                   " 'terminals', terminals, 'pos', pos, 'parsers', parsers,"
                   " 'report_server', report_server)::text FROM branches WHERE code = $1",
                   1, p, "no such branch");
    if (!existed && req->status == 200)
        req->status = 201;
    tp_config_destroy(cfg);
}

/* ------------------------------------------------------------ test-parse */

#define PREVIEW_ROWS 20
#define PREVIEW_PROBLEMS 50

typedef struct preview {
    const tp_schema *schema;
    json_t *rows, *problems;
} preview;

static int preview_row(void *ud, uint64_t line, const tp_field *f, size_t n)
{
    preview *pv = ud;
    if (json_array_size(pv->rows) >= PREVIEW_ROWS)
        return 0;
    json_t *fields = json_object();
    for (size_t i = 0; i < n && i < pv->schema->nfields; i++)
        json_object_set_new(fields, pv->schema->field_names[i], json_stringn(f[i].ptr, f[i].len));
    json_array_append_new(pv->rows, json_pack("{s:I, s:o}", "line", (json_int_t)line, "fields", fields));
    return 0;
}

static void preview_problem(void *ud, uint64_t line, int severity, const char *reason)
{
    preview *pv = ud;
    if (json_array_size(pv->problems) < PREVIEW_PROBLEMS)
        json_array_append_new(pv->problems,
                              json_pack("{s:I, s:s, s:s}", "line", (json_int_t)line, "severity",
                                        severity == TP_PROBLEM_ERROR ? "error" : "warning",
                                        "reason", reason));
}

/* One uploaded report file through the plugin the branch would use, as it
 * would run in a job: a preview of the rows and the problems.  Nothing is
 * stored. */
static void test_parse(tp_req *req)
{
    if (req->upload_bad == 1) {
        tp_reply_problem(req, 413, "body_too_large", "the file is over %zu bytes",
                         tp_server_opts(req->srv)->max_upload);
        return;
    }
    if (req->upload_bad == 2 || (!req->upload && !req->upload_bad)) {
        tp_reply_problem(req, 400, "invalid_body",
                         "send multipart/form-data with the report in a field named \"file\""
                         " (and optionally \"type\")");
        return;
    }
    if (req->upload_bad || fflush(req->upload) != 0) {
        tp_reply_problem(req, 503, "upload_failed", "the upload could not be kept for parsing");
        return;
    }
    const char *p[] = {req->code};
    tp_error err = {0};
    PGresult *r = tp_db_query(req->db,
                              "SELECT json_build_object('branches', json_build_array(json_build_object("
                              "'code', code, 'name', name, 'active', active, 'terminals', terminals,"
                              " 'pos', pos, 'parsers', parsers, 'report_server', report_server)))::text"
                              " FROM branches WHERE code = $1",
                              1, p, &err);
    if (!r) {
        tp_reply_db_error(req, &err);
        return;
    }
    tp_config *cfg = PQntuples(r) == 1 ? tp_config_parse(PQgetvalue(r, 0, 0), "branches", &err) : NULL;
    PQclear(r);
    if (!cfg) {
        tp_reply_problem(req, 404, "not_found", "no branch %s", req->code);
        return;
    }
    tp_report_name rn;
    int named = tp_report_name_parse(req->upload_name, &rn, NULL) == 0;
    const char *type = req->upload_type[0] ? req->upload_type : named ? tp_schema_of(rn.type)->name : NULL;
    int t = type ? tp_schema_find(type) : -1;
    if (t < 0) {
        tp_config_destroy(cfg);
        tp_reply_problem(req, 400, "invalid_body",
                         "the report type: a \"type\" field (%s) or a report file name",
                         tp_schema_names());
        return;
    }
    const tp_branch_cfg *bc = tp_config_at(cfg, 0);
    const tp_registry *reg = tp_server_opts(req->srv)->plugins;
    char why[160];
    const tp_plugin *pl = reg ? tp_registry_resolve(reg, type, bc->code, tp_branch_plugin(bc, type),
                                                    why, sizeof why, &err)
                              : NULL;
    if (!pl) {
        tp_config_destroy(cfg);
        tp_reply_problem(req, 422, "unknown_plugin", "no plugin parses %s for %s", type, bc->code);
        return;
    }
    preview pv = {tp_schema_of(t), json_array(), json_array()};
    tp_parse_sink sink = {preview_row, preview_problem, &pv};
    tp_branch_type bt = {bc, type};
    tp_parse_options po = {tp_branch_type_option, &bt};
    tp_parse_stats st = {0};
    rewind(req->upload);
    int rc = tp_parse_stream(pl, (tp_report_type)t, req->upload,
                             req->upload_name[0] ? req->upload_name : "upload", &po, &sink, &st, &err);
    json_t *o = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:I, s:I, s:I, s:I, s:o, s:o}",
                          "file", req->upload_name, "type", type, "branch", bc->code, "plugin",
                          "name", pl->desc->name, "version", pl->desc->version, "sha256",
                          pl->sha256, "why", why, "bytes", (json_int_t)st.bytes, "rows",
                          (json_int_t)st.rows, "rejected", (json_int_t)st.rejected, "warnings",
                          (json_int_t)st.warnings, "preview", pv.rows, "problems", pv.problems);
    if (o)
        json_object_set_new(o, "error", rc < 0 ? json_string(err.msg) : json_null());
    tp_config_destroy(cfg);
    tp_reply_json(req, 200, o);
}

/* ------------------------------------------------------------ plugins */

static json_t *strv(const char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static void plugins_list(tp_req *req)
{
    const tp_registry *reg = tp_server_opts(req->srv)->plugins;
    json_t *items = json_array();
    for (size_t i = 0; reg && i < tp_registry_count(reg); i++) {
        const tp_plugin *p = tp_registry_get(reg, i);
        char abi[16];
        snprintf(abi, sizeof abi, "%u.%u", (unsigned)p->desc->abi_major, (unsigned)p->desc->abi_minor);
        json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:o, s:o, s:s}", "name",
                                               p->desc->name, "version", p->desc->version, "abi",
                                               abi, "types", strv(p->desc->types), "branches",
                                               strv(p->desc->branches), "sha256", p->sha256));
    }
    json_t *fails = json_array();
    for (size_t i = 0; reg && i < tp_registry_failure_count(reg); i++) {
        const tp_load_failure *f = tp_registry_failure(reg, i);
        const char *slash = strrchr(f->path, '/');
        json_array_append_new(fails, json_pack("{s:s, s:s}", "file", slash ? slash + 1 : f->path,
                                               "error", f->message));
    }
    tp_reply_json(req, 200, json_pack("{s:o, s:I, s:o}", "items", items, "total",
                                      (json_int_t)json_array_size(items), "failed", fails));
}

/* ------------------------------------------------------------ audit */

static void audit_list(tp_req *req)
{
    const char *actor = tp_query(req, "actor"), *action = tp_query(req, "action"),
               *from = tp_query(req, "from"), *to = tp_query(req, "to"),
               *limit = tp_query(req, "limit");
    if ((actor && strlen(actor) > 80) || (action && strlen(action) > 64) ||
        (from && !tp_date_valid(from)) || (to && !tp_date_valid(to)) || (limit && !ok_limit(limit))) {
        tp_reply_problem(req, 400, "invalid_parameter",
                         "actor, action: text; from, to: YYYY-MM-DD; limit: 1-500");
        return;
    }
    const char *p[] = {actor, action, from, to, limit ? limit : "100"};
    reply_sql_json(req,
                   "WITH f AS (SELECT * FROM audit_log WHERE ($1::text IS NULL OR actor = $1)"
                   " AND ($2::text IS NULL OR action = $2) AND ($3::date IS NULL OR created_at >= $3)"
                   " AND ($4::date IS NULL OR created_at < $4::date + 1))"
                   " SELECT json_build_object('total', (SELECT count(*) FROM f), 'items',"
                   " coalesce((SELECT json_agg(row_to_json(x) ORDER BY x.id DESC) FROM"
                   " (SELECT * FROM f ORDER BY id DESC LIMIT $5::int) x), '[]'))::text",
                   5, p, "no audit log");
}

/* ------------------------------------------------------------ files */

static int ok_id(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    return *s && !*end && v > 0 && strlen(s) <= 18;
}

static void files_list(tp_req *req)
{
    const char *job, *branch, *date, *limit;
    if (param(req, "job_id", ok_id, "a job id", &job) < 0 ||
        param(req, "branch", tp_branch_code_valid, "a branch code", &branch) < 0 ||
        param(req, "date", ok_date, "a YYYY-MM-DD date", &date) < 0 ||
        param(req, "limit", ok_limit, "1-500", &limit) < 0)
        return;
    const char *p[] = {job, branch, date, limit ? limit : "100"};
    reply_sql_json(req,
                   "WITH f AS (SELECT * FROM files WHERE ($1::bigint IS NULL OR job_id = $1)"
                   " AND ($2::text IS NULL OR branch = $2)"
                   " AND ($3::date IS NULL OR business_date = $3))"
                   " SELECT json_build_object('total', (SELECT count(*) FROM f), 'items',"
                   " coalesce((SELECT json_agg(json_build_object('id', id, 'job_id', job_id,"
                   " 'branch', branch, 'pos', pos, 'date', business_date, 'type', report_type,"
                   " 'name', name, 'size', size, 'rows', data_rows, 'sha256', sha256,"
                   " 'stored', storage_key IS NOT NULL, 'chosen', chosen, 'reason', reason)"
                   " ORDER BY id DESC) FROM (SELECT * FROM f ORDER BY id DESC LIMIT $4::int) x),"
                   " '[]'))::text",
                   4, p, "no files");
}

/* A raw file, streamed from the store: from its own file with sendfile for
 * an fs store; through a temporary file (never memory) for S3. */
static void file_download(tp_req *req)
{
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", req->ids[0]);
    const char *p[] = {sid};
    tp_error err = {0};
    PGresult *r = tp_db_query(req->db, "SELECT name, storage_key, size FROM files WHERE id = $1",
                              1, p, &err);
    if (!r) {
        tp_reply_db_error(req, &err);
        return;
    }
    if (PQntuples(r) == 0 || PQgetisnull(r, 0, 1)) {
        PQclear(r);
        tp_reply_problem(req, 404, "not_found", "no such stored file");
        return;
    }
    char name[256], key[TP_STORE_KEY_MAX];
    snprintf(name, sizeof name, "%s", PQgetvalue(r, 0, 0));
    snprintf(key, sizeof key, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    for (char *c = name; *c; c++) /* a safe file name for the header */
        if (!isalnum((unsigned char)*c) && !strchr("._-", *c))
            *c = '_';
    int fd = tp_store_open_fd(tp_server_opts(req->srv)->store, key, req->request_id);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0) {
        if (fd >= 0)
            close(fd);
        tp_reply_problem(req, 503, "store_unavailable", "the raw file could not be read from the store");
        return;
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
    if (!resp) {
        close(fd);
        tp_reply_problem(req, 500, "internal", "could not build the response");
        return;
    }
    tp_reply_response(req, resp, "text/csv; charset=utf-8", name);
}

/* ------------------------------------------------------------ records */

/* Records in (date, branch, terminal, file, line) order; the cursor is the
 * last row's key, base64url of its JSON array. */
static void records_list(tp_req *req)
{
    const char *start = tp_query(req, "start"), *end = tp_query(req, "end"), *branch, *pos, *limit,
               *item = tp_query(req, "item"), *cursor = tp_query(req, "cursor");
    if (read_range(req, start, end, NULL) < 0 ||
        param(req, "branch", tp_branch_code_valid, "a branch code", &branch) < 0 ||
        param(req, "pos", ok_pos, "a terminal number 1-99", &pos) < 0 ||
        param(req, "limit", ok_limit, "1-500", &limit) < 0)
        return;
    if (item && strlen(item) > 64) {
        tp_reply_problem(req, 400, "invalid_parameter", "item: at most 64 characters");
        return;
    }
    char *ck[5] = {0};
    json_t *cj = NULL;
    if (cursor) {
        unsigned char raw[1024];
        size_t n = 0;
        int ok = strlen(cursor) < 1300 &&
                 sodium_base642bin(raw, sizeof raw - 1, cursor, strlen(cursor), NULL, &n, NULL,
                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0;
        cj = ok ? json_loadb((const char *)raw, n, 0, NULL) : NULL;
        ok = json_is_array(cj) && json_array_size(cj) == 5;
        for (size_t i = 0; ok && i < 5; i++) {
            json_t *v = json_array_get(cj, i);
            ok = json_is_string(v) || json_is_integer(v);
            if (ok && json_is_string(v))
                ck[i] = strdup(json_string_value(v));
            else if (ok && asprintf(&ck[i], "%lld", (long long)json_integer_value(v)) < 0)
                ok = 0;
        }
        if (!ok || !tp_date_valid(ck[0])) {
            for (int i = 0; i < 5; i++)
                free(ck[i]);
            json_decref(cj);
            tp_reply_problem(req, 400, "invalid_parameter", "cursor: not one this server gave");
            return;
        }
    }
    json_decref(cj);
    list_filter f = {0};
    filter_add(&f, "business_date >= $?::date", start);
    filter_add(&f, "business_date <= $?::date", end);
    if (branch)
        filter_add(&f, "branch = $?", branch);
    if (pos)
        filter_add(&f, "pos = $?::int", pos);
    if (item)
        filter_add(&f, "item_code = $?", item);
#define REC_KEY "business_date, branch, pos, source_file, source_line"
    static const list_def records = {"records", REC_KEY, "row_to_json(j)",
                                     "json_build_array(" REC_KEY ")::text",
                                     "(" REC_KEY ") > ($?::date, $?, $?::int, $?, $?::bigint)", ""};
#undef REC_KEY
    list_page(req, &records, &f, limit ? limit : "100", ck[0] ? (const char *const *)ck : NULL, 5);
    for (int i = 0; i < 5; i++)
        free(ck[i]);
}

void tp_records_export(tp_req *req); /* export.c */

/* export.c */
void tp_events_stream(tp_req *req);  /* events.c */
void tp_job_bundle(tp_req *req);     /* bundle.c */

/* ------------------------------------------------------------ the table */

const tp_route tp_routes[] = {
    {"GET", "/livez", TP_ROLE_NONE, livez, "livez", 1, 0, 0, 0},
    {"GET", "/readyz", TP_ROLE_NONE, readyz, "readyz", 1, 0, 0, 0},
    {"GET", "/metrics", TP_ROLE_NONE, metrics, "metrics", 0, 0, 0, 0},
    {"POST", "/api/auth/login", TP_ROLE_NONE, login, "auth_login", 0, TP_LIMIT_LOGIN, 0, 0},
    {"POST", "/api/jobs/fetch", TP_ROLE_OPERATOR, jobs_fetch, "jobs_fetch", 0, TP_LIMIT_QUEUE, 0, 0},
    {"GET", "/api/jobs", TP_ROLE_VIEWER, jobs_list, "jobs_list", 0, 0, 0, 1},
    {"GET", "/api/jobs/{id}", TP_ROLE_VIEWER, job_get, "job_get", 0, 0, 0, 0},
    {"POST", "/api/jobs/{id}/retry", TP_ROLE_OPERATOR, job_retry, "job_retry", 0, TP_LIMIT_QUEUE, 0, 0},
    {"POST", "/api/jobs/{id}/cancel", TP_ROLE_OPERATOR, job_cancel, "job_cancel", 0, 0, 0, 0},
    {"GET", "/api/jobs/{id}/bundle", TP_ROLE_VIEWER, tp_job_bundle, "job_bundle", 0, 0, 0, 0},
    {"GET", "/api/branches", TP_ROLE_VIEWER, branches_list, "branches_list", 0, 0, 0, 0},
    {"POST", "/api/branches", TP_ROLE_ADMIN, branches_upsert, "branches_upsert", 0, 0, 0, 0},
    {"POST", "/api/branches/{code}/test-parse", TP_ROLE_OPERATOR, test_parse, "test_parse", 0, 0, 1, 0},
    {"GET", "/api/missing", TP_ROLE_VIEWER, missing_get, "missing_get", 0, 0, 0, 0},
    {"POST", "/api/missing/run", TP_ROLE_OPERATOR, missing_run, "missing_run", 0, TP_LIMIT_QUEUE, 0, 0},
    {"GET", "/api/plugins", TP_ROLE_VIEWER, plugins_list, "plugins_list", 1, 0, 0, 0},
    {"GET", "/api/audit", TP_ROLE_ADMIN, audit_list, "audit_list", 0, 0, 0, 0},
    {"GET", "/api/files", TP_ROLE_VIEWER, files_list, "files_list", 0, 0, 0, 0},
    {"GET", "/api/files/{id}/download", TP_ROLE_VIEWER, file_download, "file_download", 0, 0, 0, 0},
    {"GET", "/api/records", TP_ROLE_VIEWER, records_list, "records_list", 0, 0, 0, 1},
    {"GET", "/api/records/export", TP_ROLE_VIEWER, tp_records_export, "records_export", 0, 0, 0, 0},
    {"GET", "/api/events", TP_ROLE_VIEWER, tp_events_stream, "events", 1, 0, 0, 0},
};
const int tp_nroutes = (int)(sizeof tp_routes / sizeof *tp_routes);
