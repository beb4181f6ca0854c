/* worker.c -- see worker.h. */
#include "worker.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "db/db.h"
#include "io/fsutil.h"
#include "pipeline/pipeline.h"
#include "db/queue.h"
#include "core/reports.h"
#include "io/scan.h"
#include "source.h"

#define TP_MAX_THREADS 64

/* A job the process holds, as the heartbeat thread sees it. */
typedef struct slot {
    int busy;
    tp_job job;
    int cancel;  /* a cancel was requested */
    int lost;    /* the lease was lost */
    int loading; /* in its load transaction, which holds the job row locked */
} slot;

typedef struct worker {
    const tp_worker_opts *o;
    char id[96]; /* lease owner: host:pid:n */
    pthread_mutex_t mu;
    slot slots[TP_MAX_THREADS];
    tp_worker_stats stats;
    int done; /* threads finished: the heartbeat thread may go */
    time_t stop_at;
} worker;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static void logf_(const worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(const worker *w, const char *fmt, ...)
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

/* ------------------------------------------------------------ heartbeat */

static void *heartbeat_main(void *arg)
{
    worker *w = arg;
    int lease = w->o->lease_seconds;
    double every = lease / 6.0 > 0.2 ? lease / 6.0 : 0.2;
    tp_error err = {0};
    tp_db *db = NULL;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        int done = w->done;
        tp_job jobs[TP_MAX_THREADS];
        int idx[TP_MAX_THREADS], n = 0;
        for (int i = 0; i < w->o->concurrency; i++)
            if (w->slots[i].busy && !w->slots[i].lost && !w->slots[i].loading) {
                jobs[n] = w->slots[i].job;
                idx[n++] = i;
            }
        pthread_mutex_unlock(&w->mu);
        if (done)
            break;
        if (!db || tp_db_broken(db)) {
            tp_db_close(db);
            db = tp_db_connect(w->o->db_url, &err);
            /* A job row someone holds locked (a load transaction of ours
             * that began after the snapshot above, a rescuer) must not stall
             * the beats of every other job this process holds. */
            char sql[64];
            int ms = (int)(every * 250);
            ms = ms < 50 ? 50 : ms > 1000 ? 1000 : ms;
            snprintf(sql, sizeof sql, "SET lock_timeout = %d", ms);
            if (db && tp_db_exec(db, sql, 0, NULL, &err) < 0) {
                tp_db_close(db);
                db = NULL;
            }
        }
        /* "this worker is alive" (readiness checks look for a recent one) */
        const char *wp[] = {w->id, w->o->noop ? "noop" : "worker"};
        if (db)
            tp_db_exec(db,
                       "INSERT INTO workers (id, kind, seen_at) VALUES ($1, $2, now())"
                       " ON CONFLICT (id) DO UPDATE SET seen_at = now()",
                       2, wp, &err);
        for (int k = 0; db && k < n; k++) {
            int cancel = 0;
            int rc = tp_queue_heartbeat(db, &jobs[k], w->id, lease, &cancel, &err);
            pthread_mutex_lock(&w->mu);
            slot *s = &w->slots[idx[k]];
            if (s->busy && s->job.id == jobs[k].id && s->job.attempt == jobs[k].attempt) {
                if (rc == TP_ELOST)
                    s->lost = 1;
                else if (rc == TP_OK)
                    s->cancel = cancel;
            }
            pthread_mutex_unlock(&w->mu);
        }
        /* sleep until the next beat, or until the threads are done */
        for (double t = 0; t < every; t += 0.05) {
            pthread_mutex_lock(&w->mu);
            done = w->done;
            pthread_mutex_unlock(&w->mu);
            if (done)
                break;
            sleep_s(0.05);
        }
    }
    if (db) { /* gone: no longer counts as a live worker */
        const char *wp[] = {w->id};
        tp_db_exec(db, "DELETE FROM workers WHERE id = $1", 1, wp, &err);
    }
    tp_db_close(db);
    return NULL;
}

/* ------------------------------------------------------------ one job */

/* What a worker thread keeps between jobs. */
#define TP_SPOOL_BUFFER (256 * 1024)

typedef struct thread_cache {
    tp_fetch_conn *conn;/* this thread's report server connection */
    char *spool_buf;    /* the spool file's stdio buffer (TP_SPOOL_BUFFER) */
    FILE *spool;        /* the spool file, emptied for each job (no new inode per job) */
    char *workdir;      /* this thread's work folder, emptied after each job */
    tp_dir_index *index;/* the listing of --reports, reused while the folder is unchanged */
    int partition_year; /* the records partition last made sure of */
    tp_config *config;  /* the branches table, as last read */
    double config_at;   /* when (now_s) */
} thread_cache;

#define TP_CONFIG_TTL 5.0 /* seconds a branch configuration is reused */

typedef struct job_ctx {
    worker *w;
    int me;      /* slot index */
    tp_db *db;
    const tp_job *job;
    FILE *spool; /* records in COPY text format */
    char *files_json; /* the candidates, for the files table */
    char *fetch_json; /* what the fetch stage saw, written when the attempt ends */
    struct thread_cache *cache;
    long long records;
    const char *stage; /* the stage running (fetch, store, parse, load) */
    double stage_at;   /* when it began */
    char stages[256];  /* {"fetch": seconds, ...}: the stages ended so far */
    char code[48];
    int retryable;
    char msg[1024];
} job_ctx;

static int job_error(job_ctx *c, const char *code, int retryable, const char *msg)
{
    snprintf(c->code, sizeof c->code, "%s", code);
    c->retryable = retryable;
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    return -1;
}

/* The stage that runs from now on; the one before it is timed. */
static void stage_enter(job_ctx *c, const char *stage)
{
    double now = now_s();
    size_t n = strlen(c->stages);
    if (c->stage && n + 40 < sizeof c->stages)
        snprintf(c->stages + n, sizeof c->stages - n, "%s\"%s\": %.6f", n ? ", " : "{",
                 c->stage, now - c->stage_at);
    c->stage = stage;
    c->stage_at = now;
}

/* The attempt's seconds per stage, the running one up to now, as JSON. */
static const char *stages_json(job_ctx *c, char *buf, size_t cap)
{
    size_t n = strlen(c->stages);
    snprintf(buf, cap, "%s%s\"%s\": %.6f}", n ? c->stages : "{", n ? ", " : "", c->stage,
             now_s() - c->stage_at);
    return buf;
}

/* Stage boundary: a requested cancel or a lost lease ends the attempt. */
static int boundary(job_ctx *c)
{
    pthread_mutex_lock(&c->w->mu);
    int cancel = c->w->slots[c->me].cancel, lost = c->w->slots[c->me].lost;
    pthread_mutex_unlock(&c->w->mu);
    if (lost)
        return TP_ELOST;
    if (cancel)
        return TP_ECANCELLED;
    if (*c->w->o->stop && c->w->stop_at && time(NULL) >= c->w->stop_at)
        return TP_ESTOP;
    return TP_OK;
}

/* COPY text format: backslash escapes; NULL is \N. */
static void copy_text(FILE *f, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        switch (ch) {
        case '\\': fputs("\\\\", f); break;
        case '\t': fputs("\\t", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        default: putc_unlocked(ch, f);
        }
    }
}

static void copy_field(FILE *f, tp_field v, int null_if_empty, int last)
{
    if (null_if_empty && v.len == 0)
        fputs("\\N", f);
    else
        copy_text(f, v.ptr, v.len);
    putc_unlocked(last ? '\n' : '\t', f);
}

static void copy_cstr(FILE *f, const char *s, int last)
{
    tp_field v = {s, s ? strlen(s) : 0};
    copy_field(f, v, s == NULL, last);
}

#define RECORD_COLUMNS                                                                      \
    "branch, pos, business_date, job_id, source_file, source_line, or_number, transno,"    \
    " item_code, product_name, quantity, unit_price, amount, discount, department_code,"   \
    " department_name, pos_department_code, time_text, time_minutes, daypart, type_code,"  \
    " transaction_type, discount_code, discount_name, vat_flag, vat_div, vat_amount,"      \
    " vat_discount, vat_price, payment_code, payment_name, phone, dep_from_product"

static int spool_record(void *ud, const tp_record *r, tp_error *err)
{
    job_ctx *c = ud;
    FILE *f = c->spool;
    char num[64];
    copy_cstr(f, r->branch, 0);
    fprintf(f, "%d\t%s\t%lld\t", r->pos, r->date, c->job->id);
    copy_cstr(f, r->source_file, 0);
    fprintf(f, "%llu\t", (unsigned long long)r->source_line);
    copy_field(f, r->or_number, 0, 0);
    copy_field(f, r->transno, 0, 0);
    copy_field(f, r->item_code, 0, 0);
    copy_field(f, r->product_name, 0, 0);
    copy_field(f, r->quantity, 1, 0);
    copy_field(f, r->unit_price, 1, 0);
    copy_field(f, r->amount, 1, 0);
    copy_field(f, r->discount, 1, 0);
    copy_field(f, r->dep_code, 0, 0);
    copy_field(f, r->department_name, 0, 0);
    copy_field(f, r->pos_dep_code, 0, 0);
    copy_field(f, r->time, 0, 0);
    if (r->time_minutes >= 0)
        snprintf(num, sizeof num, "%d", r->time_minutes);
    copy_cstr(f, r->time_minutes >= 0 ? num : NULL, 0);
    copy_cstr(f, r->daypart == TP_DAYPART_NONE ? NULL : tp_daypart_name(r->daypart), 0);
    copy_field(f, r->type_code, 0, 0);
    copy_cstr(f, r->txn_type == TP_TXN_UNKNOWN ? NULL : tp_txn_type_name(r->txn_type), 0);
    copy_field(f, r->disc_code, 0, 0);
    copy_field(f, r->discount_name, 0, 0);
    copy_field(f, r->vat_flag, 0, 0);
    copy_field(f, r->vat_div, 1, 0);
    copy_field(f, r->vat_amount, 1, 0);
    copy_field(f, r->vat_discount, 1, 0);
    copy_field(f, r->vat_price, 1, 0);
    copy_field(f, r->payment_code, 0, 0);
    copy_field(f, r->payment_name, 0, 0);
    copy_field(f, r->phone, 0, 0);
    fputs(r->dep_from_product ? "t\n" : "f\n", f);
    if (ferror(f))
        return tp_error_set(err, TP_EIO, "spool file: write error: %s", strerror(errno));
    c->records++;
    return TP_OK;
}

/* The branch configuration as the database has it. */
static tp_config *load_config(tp_db *db, tp_error *err)
{
    PGresult *r = tp_db_query(
        db,
        "SELECT json_build_object('branches', coalesce(json_agg(json_build_object("
        "'code', code, 'name', name, 'active', active, 'terminals', terminals, 'pos', pos,"
        "'parsers', parsers, 'report_server', report_server) ORDER BY code), '[]'))::text"
        " FROM branches",
        0, NULL, err);
    if (!r)
        return NULL;
    tp_config *cfg = tp_config_parse(PQgetvalue(r, 0, 0), "branches table", err);
    PQclear(r);
    return cfg;
}

/* Every candidate file of the terminal-day (hashed and stored by now), as
 * the JSON the load inserts in one statement.  Built before the transaction
 * opens. */
static char *files_json(const tp_termday *td)
{
    json_t *a = json_array();
    for (size_t i = 0; i < td->ncands; i++) {
        const tp_candidate *cd = &td->cands[i];
        char key[TP_STORE_KEY_MAX];
        tp_store_key(cd->sha256, key);
        json_t *o = json_pack("{s:s, s:s, s:I, s:b, s:s, s:s, s:s}", "type",
                              tp_schema_of(cd->rn.type)->name, "name", cd->name, "size",
                              (json_int_t)cd->size, "chosen", cd->chosen, "reason", cd->reason,
                              "sha256", cd->sha256, "key", key);
        json_object_set_new(o, "rows", cd->counted ? json_integer((json_int_t)cd->rows) : json_null());
        json_array_append_new(a, o);
    }
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

/* The quality findings of a terminal-day as the JSON arrays the load
 * statement takes: missing report types, problems.  TP_ENOMEM when either
 * could not be made (the caller frees both either way). */
static int quality_json(const tp_quality *q, char **missing_json, char **problems_json)
{
    json_t *missing = json_array(), *problems = json_array();
    for (int t = 0; t < TP_TYPE_COUNT; t++)
        if (q->missing & (1u << t))
            json_array_append_new(missing, json_string(tp_schema_of(t)->name));
    for (size_t i = 0; i < q->nproblems; i++)
        json_array_append_new(
            problems, json_pack("{s:s, s:I, s:s, s:s}", "file", q->problems[i].file, "line",
                                (json_int_t)q->problems[i].line, "severity",
                                q->problems[i].severity == TP_PROBLEM_ERROR ? "error" : "warning",
                                "reason", q->problems[i].reason));
    *missing_json = json_dumps(missing, JSON_COMPACT);
    *problems_json = json_dumps(problems, JSON_COMPACT);
    json_decref(missing);
    json_decref(problems);
    return *missing_json && *problems_json ? TP_OK : TP_ENOMEM;
}

/* Send the spool to a COPY already started. */
static int copy_spool(tp_db *db, FILE *spool, tp_error *err)
{
    int rc = TP_OK;
    char buf[65536];
    size_t n;
    rewind(spool);
    while (rc == TP_OK && (n = fread(buf, 1, sizeof buf, spool)) > 0)
        if (PQputCopyData(db->conn, buf, (int)n) != 1)
            rc = tp_error_set(err, TP_EDB, "COPY: %s", PQerrorMessage(db->conn));
    if (PQputCopyEnd(db->conn, rc == TP_OK ? NULL : "aborted") != 1 && rc == TP_OK)
        rc = tp_error_set(err, TP_EDB, "COPY: %s", PQerrorMessage(db->conn));
    PGresult *r;
    while ((r = PQgetResult(db->conn))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == TP_OK)
            rc = tp_error_set(err, TP_EDB, "COPY: %s", PQresultErrorMessage(r));
        PQclear(r);
    }
    return rc;
}

/* Write the files, quality and records of a finished terminal-day and
 * complete the job: one transaction of five steps -- BEGIN; one
 * statement that locks the job row (if this attempt still owns it) and,
 * unless a cancel is pending, empties the terminal-day and adds its files
 * and quality findings; the COPY of the records; the completion; COMMIT. */
static int load_txn(job_ctx *c, const tp_termday_result *res, const char *plugins_json,
                    tp_error *err)
{
    tp_db *db = c->db;
    const tp_job *j = c->job;
    int year = (int)strtol(j->date, NULL, 10);
    if (c->cache->partition_year != year) {
        if (tp_db_ensure_partition(db, year, err) < 0)
            return TP_EDB;
        c->cache->partition_year = year;
    }
    const tp_quality *q = &res->quality;
    char *ms = NULL, *ps = NULL;
    if (quality_json(q, &ms, &ps) < 0) {
        free(ms);
        free(ps);
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    }
    char spos[16], sid[32], satt[16], a[32], b[32], w3[32], lo[32];
    snprintf(spos, sizeof spos, "%d", j->pos);
    snprintf(sid, sizeof sid, "%lld", j->id);
    snprintf(satt, sizeof satt, "%d", j->attempt);
    snprintf(a, sizeof a, "%llu", (unsigned long long)q->rows_outside_date);
    snprintf(b, sizeof b, "%llu", (unsigned long long)q->rows_rejected);
    snprintf(w3, sizeof w3, "%llu", (unsigned long long)q->warnings);
    snprintf(lo, sizeof lo, "%llu", (unsigned long long)q->problems_left_out);
    const char *p[] = {sid, satt, c->w->id, j->branch, spos, j->date, c->files_json,
                       a,   b,    w3,       ms,        ps,   lo};
    int rc = tp_db_exec(db, "BEGIN", 0, NULL, err);
    PGresult *r = NULL;
    if (rc == TP_OK &&
        !(r = tp_db_query(
              db,
              "WITH l AS MATERIALIZED (SELECT cancel_requested FROM jobs WHERE " TP_QUEUE_FENCE
              "  FOR UPDATE),"
              " go AS MATERIALIZED (SELECT 1 FROM l WHERE NOT cancel_requested),"
              " d AS (DELETE FROM records WHERE branch = $4 AND pos = $5 AND business_date = $6"
              "  AND EXISTS (SELECT 1 FROM go)),"
              " f AS (INSERT INTO files (job_id, attempt, branch, pos, business_date,"
              "  report_type, name, size, data_rows, sha256, storage_key, chosen, reason)"
              "  SELECT $1, $2, $4, $5, $6, f.type, f.name, f.size, f.rows, f.sha256, f.key,"
              "  f.chosen, f.reason FROM jsonb_to_recordset($7::jsonb) AS f(type text,"
              "  name text, size bigint, rows bigint, sha256 text, key text, chosen boolean,"
              "  reason text) WHERE EXISTS (SELECT 1 FROM go)),"
              " q AS (INSERT INTO quality_flags (job_id, branch, pos, business_date,"
              "  rows_outside_date, rows_rejected, warnings, missing_reports, problems,"
              "  problems_left_out) SELECT $1, $4, $5, $6, $8, $9, $10,"
              "  ARRAY(SELECT jsonb_array_elements_text($11::jsonb)), $12::jsonb, $13"
              "  WHERE EXISTS (SELECT 1 FROM go))"
              " SELECT cancel_requested FROM l",
              13, p, err)))
        rc = TP_EDB;
    free(ms);
    free(ps);
    if (rc == TP_OK && PQntuples(r) != 1)
        rc = tp_error_set(err, TP_ELOST,
                          "job %lld attempt %d: lease lost (rescued or finished elsewhere); "
                          "nothing written",
                          j->id, j->attempt);
    int cancel = rc == TP_OK && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (rc == TP_OK && cancel) { /* nothing was written: the job ends cancelled */
        rc = tp_queue_mark_cancelled(db, j, err);
        rc = tp_db_end(db, rc, err);
        return rc == TP_OK ? TP_ECANCELLED : rc;
    }
    if (rc == TP_OK) {
        PGresult *cr = tp_db_query(db, "COPY records (" RECORD_COLUMNS ") FROM STDIN", 0, NULL, err);
        rc = cr ? copy_spool(db, c->spool, err) : TP_EDB;
        PQclear(cr);
    }
    char stages[320];
    tp_attempt_info info = {plugins_json, stages_json(c, stages, sizeof stages), c->fetch_json};
    if (rc == TP_OK)
        rc = tp_queue_mark_succeeded(db, j, c->records, &info, err);
    const char *pause = getenv("TILLPIPE_TEST_PAUSE_IN_LOAD"); /* crash tests only */
    if (rc == TP_OK && pause)
        sleep_s(strtod(pause, NULL));
    return tp_db_end(db, rc, err);
}

/* load_txn, the heartbeat told to leave the job alone meanwhile: the
 * transaction holds the job row locked (so no one can rescue it), and a
 * heartbeat waiting for that lock -- as long as the load takes, perhaps
 * longer than the lease -- would renew none of the process's other jobs. */
static int load(job_ctx *c, const tp_termday_result *res, const char *plugins_json,
                tp_error *err)
{
    pthread_mutex_lock(&c->w->mu);
    c->w->slots[c->me].loading = 1;
    pthread_mutex_unlock(&c->w->mu);
    int rc = load_txn(c, res, plugins_json, err);
    pthread_mutex_lock(&c->w->mu);
    c->w->slots[c->me].loading = 0;
    pthread_mutex_unlock(&c->w->mu);
    return rc;
}

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

static tp_source source_of(const worker *w, thread_cache *cache)
{
    if (w->o->reports_dir && !cache->index)
        cache->index = tp_dir_index_new(); /* (NULL: each job reads the folder) */
    return (tp_source){.reports_dir = w->o->reports_dir,
                       .index = cache->index,
                       .server = w->o->server,
                       .conn = cache->conn,
                       .store = w->o->store,
                       .max_file_bytes = w->o->fetcher ? tp_fetcher_max_file_bytes(w->o->fetcher) : 0,
                       .workroot = w->o->workroot,
                       .workdir = cache->workdir};
}

/* What the fetch stage did, for the attempt (for "why did it fail?"); it
 * is written with the attempt's end, so it costs no statement of its own. */
static void note_fetch(job_ctx *c, const char *source, const char *server, const tp_fetched *f)
{
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

/* The fetch info of an attempt that ends without a completion or failure
 * of its own to carry it (cancelled, released).  Best effort. */
static void write_fetch_info(job_ctx *c)
{
    if (!c->fetch_json)
        return;
    char sid[32], satt[16];
    snprintf(sid, sizeof sid, "%lld", c->job->id);
    snprintf(satt, sizeof satt, "%d", c->job->attempt);
    const char *p[] = {sid, satt, c->fetch_json};
    tp_error e2 = {0};
    tp_db_exec(c->db, "UPDATE job_attempts SET fetch_info = $3::jsonb WHERE job_id = $1 AND attempt = $2",
               3, p, &e2);
}

/* The files a terminal-day's last succeeded run kept, for a reparse. */
static int stored_files(job_ctx *c, char ***names, char ***shas, size_t *n, tp_error *err)
{
    char spos[16];
    snprintf(spos, sizeof spos, "%d", c->job->pos);
    const char *p[] = {c->job->branch, spos, c->job->date};
    PGresult *r = tp_db_query(c->db,
                              "SELECT name, sha256 FROM files WHERE job_id = ("
                              " SELECT max(job_id) FROM files WHERE branch = $1 AND pos = $2"
                              " AND business_date = $3 AND storage_key IS NOT NULL"
                              " AND job_id IN (SELECT id FROM jobs WHERE status = 'succeeded'"
                              " AND branch = $1 AND pos = $2 AND business_date = $3))"
                              " AND sha256 IS NOT NULL ORDER BY id",
                              3, p, err);
    if (!r)
        return TP_EDB;
    *n = (size_t)PQntuples(r);
    *names = calloc(*n + 1, sizeof **names);
    *shas = calloc(*n + 1, sizeof **shas);
    int rc = *names && *shas ? TP_OK : tp_error_set(err, TP_ENOMEM, "out of memory");
    for (size_t i = 0; rc == TP_OK && i < *n; i++)
        if (!((*names)[i] = strdup(PQgetvalue(r, (int)i, 0))) ||
            !((*shas)[i] = strdup(PQgetvalue(r, (int)i, 1))))
            rc = tp_error_set(err, TP_ENOMEM, "out of memory");
    PQclear(r);
    return rc;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* The fetch stage: from the report server, the folder, or (reparse) the
 * store.  < 0 with the job error recorded in c. */
static int fetch_stage(job_ctx *c, const tp_config *cfg, tp_fetched *f, tp_error *err)
{
    const tp_job *job = c->job;
    tp_source src = source_of(c->w, c->cache);
    if (job->kind == TP_JOB_REPARSE) {
        char **names = NULL, **shas = NULL;
        size_t n = 0;
        int rc = stored_files(c, &names, &shas, &n, err);
        if (rc == TP_OK && n == 0) {
            rc = tp_error_set(err, TP_ENOTFOUND,
                              "nothing to reparse: %s/%d/%s has no succeeded run with stored files",
                              job->branch, job->pos, job->date);
            free_strv(names, n);
            free_strv(shas, n);
            return job_error(c, "no_stored_files", 0, err->msg);
        }
        tp_stored_file *files = rc == TP_OK ? calloc(n, sizeof *files) : NULL;
        for (size_t i = 0; files && i < n; i++)
            files[i] = (tp_stored_file){names[i], shas[i]};
        if (rc == TP_OK && !files)
            rc = tp_error_set(err, TP_ENOMEM, "out of memory");
        if (rc == TP_OK)
            rc = tp_source_stored(&src, job->branch, job->pos, job->date, files, n, f, err);
        free(files);
        free_strv(names, n);
        free_strv(shas, n);
        note_fetch(c, "store", NULL, f);
        if (rc < 0)
            return job_error(c, rc == TP_EDB ? "database_unavailable" : "store_unavailable", 1,
                             err->msg);
        return TP_OK;
    }
    const tp_branch_cfg *b = tp_config_branch(cfg, job->branch);
    const char *server = b && b->report_server ? b->report_server : c->w->o->server;
    int rc = tp_source_fetch(&src, server, job->branch, job->pos, job->date, f, err);
    note_fetch(c, src.reports_dir ? "folder" : "server", src.reports_dir ? NULL : server, f);
    if (rc < 0) {
        /* over the cap, not CSV, an unsafe archive: retrying changes nothing */
        int final = f->kind == TP_FETCH_BAD_FILE && (err->code == TP_ELIMIT || err->code == TP_EPARSE);
        return job_error(c, tp_fetch_kind_code(f->kind), !final, err->msg);
    }
    if (f->kind == TP_FETCH_NO_FILES) {
        char m[1024];
        snprintf(m, sizeof m, "%s for %s/%d/%s", err->msg, job->branch, job->pos, job->date);
        return job_error(c, "no_files", 1, m);
    }
    return TP_OK;
}

/* Run one claimed job to its end (succeeded, failed/retry, cancelled,
 * released or lost). */
static void run_job(worker *w, int me, tp_db *db, thread_cache *cache, const tp_job *job)
{
    job_ctx c = {.w = w, .me = me, .db = db, .job = job, .cache = cache};
    stage_enter(&c, "fetch");
    tp_error err = {0};
    tp_fetched fetched = {0};
    const tp_config *cfg = NULL;
    tp_termday_result res;
    memset(&res, 0, sizeof res);
    char *pj = NULL;
    int rc;

    /* The branch configuration: its parsers and its report server. */
    if (!cache->config || now_s() - cache->config_at > TP_CONFIG_TTL) {
        tp_config *fresh = load_config(db, &err);
        if (fresh) {
            tp_config_destroy(cache->config);
            cache->config = fresh;
            cache->config_at = now_s();
        }
    }
    if (!(cfg = cache->config)) {
        job_error(&c, tp_db_broken(db) ? "database_unavailable" : "config_invalid", 1, err.msg);
        goto failed;
    }

    /* fetch: the terminal-day's candidates into a work folder */
    if (fetch_stage(&c, cfg, &fetched, &err) < 0)
        goto failed;
    if ((rc = boundary(&c)) != TP_OK)
        goto boundary_stop;

    /* store: every candidate kept in the raw-file store */
    stage_enter(&c, "store");
    tp_source src = source_of(w, cache);
    if (tp_source_keep(&src, &fetched, &err) < 0) {
        job_error(&c, err.code == TP_EIO || err.code == TP_ENOMEM ? "store_unavailable"
                                                                  : "store_error",
                  1, err.msg);
        goto failed;
    }
    if ((rc = boundary(&c)) != TP_OK)
        goto boundary_stop;

    /* parse + combine into the spool */
    stage_enter(&c, "parse");
    if (!cache->spool) {
        if (!(cache->spool_buf = malloc(TP_SPOOL_BUFFER)) || !(cache->spool = tmpfile())) {
            job_error(&c, "spool_unavailable", 1, cache->spool_buf ? strerror(errno) : "out of memory");
            free(cache->spool_buf);
            cache->spool_buf = NULL;
            goto failed;
        }
        setvbuf(cache->spool, cache->spool_buf, _IOFBF, TP_SPOOL_BUFFER);
    }
    c.spool = cache->spool;
    rewind(c.spool);
    if (ftruncate(fileno(c.spool), 0) < 0) {
        job_error(&c, "spool_unavailable", 1, strerror(errno));
        goto failed;
    }
    tp_pipeline pl = {w->o->plugins, cfg};
    if (tp_pipeline_termday(&pl, &fetched.scan->days[0], spool_record, &c, &res, &err) < 0) {
        int retry = err.code == TP_EIO || err.code == TP_ENOMEM;
        job_error(&c, err.code == TP_EPLUGIN || err.code == TP_ENOTFOUND ? "plugin_error"
                      : err.code == TP_ECONFIG                          ? "config_invalid"
                      : retry                                           ? "io_error"
                                                                        : "parse_error",
                  retry, err.msg);
        goto failed;
    }
    if (fflush(c.spool) != 0) {
        job_error(&c, "spool_unavailable", 1, strerror(errno));
        goto failed;
    }
    if ((rc = boundary(&c)) != TP_OK)
        goto boundary_stop;

    /* load: one transaction */
    stage_enter(&c, "load");
    pj = plugins_json(&res);
    c.files_json = files_json(&fetched.scan->days[0]);
    if (!pj || !c.files_json) {
        job_error(&c, "io_error", 1, "out of memory");
        goto failed;
    }
    rc = load(&c, &res, pj, &err);
    if (rc == TP_OK) {
        pthread_mutex_lock(&w->mu);
        w->stats.succeeded++;
        w->stats.records += c.records;
        pthread_mutex_unlock(&w->mu);
        logf_(w, "job %lld %s/%d/%s: succeeded, %lld records", job->id, job->branch, job->pos,
              job->date, c.records);
        goto out;
    }
    if (rc == TP_ECANCELLED || rc == TP_ELOST)
        goto boundary_stop;
    job_error(&c, tp_db_broken(db) ? "database_unavailable" : "load_error", 1, err.msg);
    goto failed;

boundary_stop:
    if (rc == TP_ELOST) {
        pthread_mutex_lock(&w->mu);
        w->stats.lost++;
        pthread_mutex_unlock(&w->mu);
        logf_(w, "job %lld: lease lost, nothing written", job->id);
    } else if (rc == TP_ECANCELLED) {
        if (strcmp(c.stage, "load") != 0) { /* load already marked it */
            tp_error e2 = {0};
            int cancel = 0;
            if (tp_db_exec(db, "BEGIN", 0, NULL, &e2) == TP_OK &&
                tp_queue_lock_owned(db, job, w->id, &cancel, &e2) == TP_OK &&
                tp_queue_mark_cancelled(db, job, &e2) == TP_OK)
                tp_db_exec(db, "COMMIT", 0, NULL, &e2);
            else
                PQclear(PQexec(db->conn, "ROLLBACK"));
        }
        write_fetch_info(&c);
        pthread_mutex_lock(&w->mu);
        w->stats.cancelled++;
        pthread_mutex_unlock(&w->mu);
        logf_(w, "job %lld: cancelled", job->id);
    } else { /* stopping: give it back */
        tp_error e2 = {0};
        write_fetch_info(&c);
        tp_queue_release(db, job, w->id, &e2);
        pthread_mutex_lock(&w->mu);
        w->stats.released++;
        pthread_mutex_unlock(&w->mu);
        logf_(w, "job %lld: released (shutting down)", job->id);
    }
    goto out;

failed: {
    tp_error e2 = {0};
    /* the attempt's own connection may be the casualty: reconnect once */
    if (tp_db_broken(db))
        tp_db_reset(db, &e2);
    char stages[320];
    tp_attempt_info info = {NULL, stages_json(&c, stages, sizeof stages), c.fetch_json};
    int frc = tp_queue_fail(db, job, w->id, c.stage, c.code, c.retryable, c.msg,
                            w->o->backoff_base, &info, &e2);
    pthread_mutex_lock(&w->mu);
    if (frc == TP_ELOST)
        w->stats.lost++;
    else if (c.retryable && job->attempt < job->max_attempts)
        w->stats.retried++;
    else
        w->stats.failed++;
    pthread_mutex_unlock(&w->mu);
    logf_(w, "job %lld %s/%d/%s attempt %d: %s at %s: %s%s", job->id, job->branch, job->pos,
          job->date, job->attempt, c.code, c.stage, c.msg,
          frc == TP_OK      ? ""
          : frc == TP_ELOST ? " (the lease was already lost: another attempt owns the job)"
                            : " (could not record the failure; the lease will expire)");
}
out:
    free(pj);
    free(c.files_json);
    free(c.fetch_json);
    tp_termday_result_clear(&res);
    tp_fetched_clear(&fetched);
}

/* A no-op job (queue benchmark): claimed, then completed at once, fenced. */
static void noop_job(worker *w, tp_db *db, const tp_job *job)
{
    tp_error err = {0};
    int cancel = 0, done = 0;
    int rc = tp_queue_complete_empty(db, job, w->id, &done, &err);
    if (rc == TP_OK && !done) { /* a cancel or rerun is pending: the full path */
        rc = tp_db_exec(db, "BEGIN", 0, NULL, &err);
        if (rc == TP_OK)
            rc = tp_queue_lock_owned(db, job, w->id, &cancel, &err);
        if (rc == TP_OK)
            rc = cancel ? tp_queue_mark_cancelled(db, job, &err)
                        : tp_queue_mark_succeeded(db, job, 0, NULL, &err);
        rc = tp_db_end(db, rc, &err);
    }
    pthread_mutex_lock(&w->mu);
    if (rc == TP_OK)
        w->stats.succeeded++;
    else
        w->stats.lost++;
    pthread_mutex_unlock(&w->mu);
}

/* ------------------------------------------------------------ threads */

typedef struct thread_arg {
    worker *w;
    int me;
} thread_arg;

static int queue_empty(tp_db *db)
{
    tp_error err = {0};
    PGresult *r = tp_db_query(db,
                              "SELECT NOT EXISTS (SELECT 1 FROM jobs WHERE status IN"
                              " ('queued', 'running'))",
                              0, NULL, &err);
    int empty = r && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return empty;
}

static void *thread_main(void *arg)
{
    thread_arg *ta = arg;
    worker *w = ta->w;
    const tp_worker_opts *o = w->o;
    tp_error err = {0};
    tp_db *db = NULL;
    thread_cache cache = {0};
    double last_rescue = 0, idle = 0.05;
    if ((o->fetcher && !(cache.conn = tp_fetch_conn_new(o->fetcher, &err))) ||
        (!o->noop && !(cache.workdir = tp_make_workdir(o->workroot, "tillpipe-work-", &err)))) {
        logf_(w, "%s", err.msg);
        tp_fetch_conn_free(cache.conn);
        return NULL;
    }
    while (!*o->stop) {
        if (!db || tp_db_broken(db)) {
            tp_db_close(db);
            db = tp_db_connect_retry(o->db_url, (volatile int *)o->stop, &err);
            if (!db)
                break;
        }
        if (ta->me == 0 && now_s() - last_rescue > o->lease_seconds / 4.0) {
            int rescued = 0;
            if (tp_queue_rescue(db, &rescued, &err) == TP_OK && rescued)
                logf_(w, "rescued %d job%s with expired leases", rescued, rescued == 1 ? "" : "s");
            last_rescue = now_s();
        }
        tp_job job;
        int n = 0;
        if (tp_queue_claim(db, w->id, o->lease_seconds, &job, 1, &n, &err) < 0) {
            sleep_s(0.5);
            continue;
        }
        if (n == 0) {
            if (o->exit_when_idle && queue_empty(db))
                break;
            sleep_s(idle);
            idle = idle * 2 > 1.0 ? 1.0 : idle * 2;
            continue;
        }
        idle = 0.05;
        pthread_mutex_lock(&w->mu);
        w->slots[ta->me] = (slot){.busy = 1, .job = job};
        pthread_mutex_unlock(&w->mu);
        if (o->noop)
            noop_job(w, db, &job);
        else
            run_job(w, ta->me, db, &cache, &job);
        pthread_mutex_lock(&w->mu);
        w->slots[ta->me].busy = 0;
        pthread_mutex_unlock(&w->mu);
    }
    tp_config_destroy(cache.config);
    tp_fetch_conn_free(cache.conn);
    tp_dir_index_free(cache.index);
    if (cache.spool)
        fclose(cache.spool);
    free(cache.spool_buf);
    if (cache.workdir)
        tp_remove_tree(cache.workdir);
    free(cache.workdir);
    tp_db_close(db);
    return NULL;
}

int tp_worker_run(const tp_worker_opts *o, tp_worker_stats *stats, tp_error *err)
{
    if (o->concurrency < 1 || o->concurrency > TP_MAX_THREADS)
        return tp_error_set(err, TP_EINVAL, "concurrency must be 1-%d", TP_MAX_THREADS);
    worker *w = calloc(1, sizeof *w);
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
    if (rc < 0) {
        pthread_mutex_destroy(&w->mu);
        free(w);
        return rc;
    }
    logf_(w, "%s started: %d thread%s, lease %d s", w->id, o->concurrency,
          o->concurrency == 1 ? "" : "s", o->lease_seconds);
    pthread_t hb, th[TP_MAX_THREADS];
    thread_arg args[TP_MAX_THREADS];
    pthread_create(&hb, NULL, heartbeat_main, w);
    for (int i = 0; i < o->concurrency; i++) {
        args[i] = (thread_arg){w, i};
        pthread_create(&th[i], NULL, thread_main, &args[i]);
    }
    /* Watch for the stop signal to start the drain clock. */
    int joined[TP_MAX_THREADS] = {0};
    for (int running = o->concurrency; running > 0;) {
        pthread_mutex_lock(&w->mu);
        if (*o->stop && !w->stop_at)
            w->stop_at = time(NULL) + o->drain_seconds;
        pthread_mutex_unlock(&w->mu);
        for (int i = 0; i < o->concurrency; i++)
            if (!joined[i] && pthread_tryjoin_np(th[i], NULL) == 0) {
                joined[i] = 1;
                running--;
            }
        if (running)
            sleep_s(0.05);
    }
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    pthread_mutex_unlock(&w->mu);
    pthread_join(hb, NULL);
    if (stats)
        *stats = w->stats;
    pthread_mutex_destroy(&w->mu);
    free(w);
    return TP_OK;
}
