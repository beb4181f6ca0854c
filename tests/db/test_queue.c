/* test_queue.c -- the PostgreSQL job queue through the library API (db.h,
 * queue.h) against a real server the binary starts itself: migrations,
 * idempotent and racing enqueues, concurrent claims, fencing after a rescue
 * or a terminated connection, failures and retries, cancel, and the events
 * table with its NOTIFY.  Every case creates a database of its own, so cases
 * do not depend on each other or on their order. */
#include <check.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "db/db_int.h"
#include "db/migrations.h"
#include "db/queue.h"
#include "testutil.h"

/* ------------------------------------------------------------ helpers */

static const char *main_url; /* the server's own database (tu_pg_start) */
static char case_url[1024];  /* this case's database */

/* main_url with its database name replaced by `name`. */
static void url_with_db(char *out, size_t cap, const char *name)
{
    const char *q = strchr(main_url, '?');
    size_t qpos = q ? (size_t)(q - main_url) : strlen(main_url);
    size_t slash = qpos;
    while (slash > 0 && main_url[slash - 1] != '/')
        slash--;
    snprintf(out, cap, "%.*s%s%s", (int)slash, main_url, name, main_url + qpos);
}

/* Run SQL on the server's own database (CREATE / DROP DATABASE). */
static void __attribute__((format(printf, 1, 2))) admin(const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    char *v = tu_pg_value(sql);
    ck_assert_msg(v != NULL, "%s failed", sql);
    free(v);
}

static tp_db *connect_ok(const char *url)
{
    tp_error e = {0};
    tp_db *db = tp_db_connect(url, &e);
    ck_assert_msg(db != NULL, "connect: %s", e.msg);
    return db;
}

/* A new empty database for this case (its URL in case_url), migrated when
 * asked, and a connection to it. */
static tp_db *fresh_db(const char *name, int migrate)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_database WHERE datname = '%s'", name);
    char *n = tu_pg_value(sql);
    ck_assert_msg(n != NULL, "%s failed", sql);
    if (strcmp(n, "0") != 0) /* only when a case runs twice on one server */
        admin("DROP DATABASE %s WITH (FORCE)", name);
    free(n);
    admin("CREATE DATABASE %s", name);
    url_with_db(case_url, sizeof case_url, name);
    tp_db *db = connect_ok(case_url);
    if (migrate) {
        int applied = -1;
        tp_error e = {0};
        ck_assert_msg(tp_db_migrate(db, &applied, &e) == TP_OK, "migrate: %s", e.msg);
        ck_assert_int_eq(applied, tp_migration_count);
    }
    return db;
}

/* The first value of a query (printf-style SQL of the test's own constants),
 * "<null>" for NULL.  A small ring of buffers: valid for the next 7 calls. */
static char *__attribute__((format(printf, 2, 3))) sv(tp_db *db, const char *fmt, ...)
{
    static char ring[8][4096];
    static int next;
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    PGresult *r = PQexec(db->conn, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0, "%s: %s", sql,
                  PQerrorMessage(db->conn));
    char *out = ring[next++ % 8];
    snprintf(out, sizeof ring[0], "%s", PQgetisnull(r, 0, 0) ? "<null>" : PQgetvalue(r, 0, 0));
    PQclear(r);
    return out;
}

#define iv(db, ...) strtoll(sv((db), __VA_ARGS__), NULL, 10)

/* Run a statement (printf-style SQL) that must succeed. */
static void __attribute__((format(printf, 2, 3))) ex(tp_db *db, const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    PGresult *r = PQexec(db->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
                  PQerrorMessage(db->conn));
    PQclear(r);
}

static void add_branch(tp_db *db, const char *code, const char *terminals, int active)
{
    ex(db,
       "INSERT INTO branches (code, name, active, terminals) VALUES ('%s', 'Branch %s', %s, '%s')",
       code, code, active ? "true" : "false", terminals);
}

static long long enqueue_ok(tp_db *db, const char *branch, int pos, const char *date, int force,
                            tp_enqueue_result want)
{
    long long id = -1;
    tp_enqueue_result res = (tp_enqueue_result)-1;
    tp_error e = {0};
    ck_assert_msg(tp_queue_enqueue(db, branch, pos, date, force, "test", &id, &res, &e) == TP_OK,
                  "enqueue %s/%d/%s: %s", branch, pos, date, e.msg);
    ck_assert_int_eq(res, want);
    ck_assert(id > 0);
    return id;
}

/* enqueue_ok for a reparse (tp_queue_enqueue_kind). */
static long long reparse_ok(tp_db *db, const char *branch, int pos, const char *date, int force,
                            tp_enqueue_result want)
{
    long long id = -1;
    tp_enqueue_result res = (tp_enqueue_result)-1;
    tp_error e = {0};
    ck_assert_msg(tp_queue_enqueue_kind(db, TP_JOB_REPARSE, branch, pos, date, force, "test", &id,
                                        &res, &e) == TP_OK,
                  "reparse %s/%d/%s: %s", branch, pos, date, e.msg);
    ck_assert_int_eq(res, want);
    ck_assert(id > 0);
    return id;
}

/* Claim exactly one job. */
static tp_job claim_one(tp_db *db, const char *worker)
{
    tp_job j[1];
    int n = -1;
    tp_error e = {0};
    ck_assert_msg(tp_queue_claim(db, worker, TP_LEASE_SECONDS, j, 1, &n, &e) == TP_OK, "claim: %s",
                  e.msg);
    ck_assert_int_eq(n, 1);
    return j[0];
}

static int claim_count(tp_db *db, const char *worker)
{
    tp_job j[4];
    int n = -1;
    tp_error e = {0};
    ck_assert_msg(tp_queue_claim(db, worker, TP_LEASE_SECONDS, j, 4, &n, &e) == TP_OK, "claim: %s",
                  e.msg);
    return n;
}

/* The start of the worker's success path: BEGIN, and the job locked as
 * still `worker`'s, no cancel asked for.  The transaction stays open. */
static void begin_completion(tp_db *db, const tp_job *j, const char *worker)
{
    tp_error e = {0};
    int cancel = -1;
    ck_assert_int_eq(tp_db_exec(db, "BEGIN", 0, NULL, &e), TP_OK);
    ck_assert_msg(tp_queue_lock_owned(db, j, worker, &cancel, &e) == TP_OK, "lock: %s", e.msg);
    ck_assert_int_eq(cancel, 0);
}

/* The worker's success path: lock the job if still ours, mark it succeeded,
 * commit -- one transaction. */
static void complete_ok(tp_db *db, const tp_job *j, const char *worker, long long records)
{
    tp_error e = {0};
    begin_completion(db, j, worker);
    ck_assert_msg(tp_queue_mark_succeeded(db, j, records, NULL, &e) == TP_OK, "succeed: %s", e.msg);
    ck_assert_msg(tp_db_exec(db, "COMMIT", 0, NULL, &e) == TP_OK, "commit: %s", e.msg);
}

static void expire_lease(tp_db *db, long long id)
{
    ex(db, "UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = %lld", id);
}

static int rescue(tp_db *db)
{
    int n = -1;
    tp_error e = {0};
    ck_assert_msg(tp_queue_rescue(db, &n, &e) == TP_OK, "rescue: %s", e.msg);
    return n;
}

/* Job `id` made due now (its backoff skipped), then claimed. */
static tp_job claim_due(tp_db *db, long long id, const char *worker)
{
    ex(db, "UPDATE jobs SET run_after = now() WHERE id = %lld", id);
    return claim_one(db, worker);
}

/* The seconds a failed job waits before it may run again (its backoff). */
static double retry_delay(tp_db *db, long long id)
{
    return strtod(sv(db,
                     "SELECT extract(epoch FROM run_after - updated_at) FROM jobs"
                     " WHERE id = %lld",
                     id),
                  NULL);
}

/* How an attempt ended: (stage, error_code, retryable, message, finished). */
static const char *attempt_end(tp_db *db, long long id, int attempt)
{
    return sv(db,
              "SELECT row(stage, error_code, retryable, message, finished_at IS NOT NULL)::text"
              " FROM job_attempts WHERE job_id = %lld AND attempt = %d",
              id, attempt);
}

/* Everything about a job and its attempts, as text, to show nothing changed. */
static void job_snapshot(tp_db *db, long long id, char *out, size_t cap)
{
    snprintf(out, cap, "%s | %s | %s",
             sv(db,
                "SELECT row(status, attempts, lease_owner, lease_expires_at, last_error, run_after,"
                " finished_at, cancel_requested, rerun_requested, records, updated_at)::text"
                " FROM jobs WHERE id = %lld",
                id),
             sv(db,
                "SELECT coalesce(string_agg(row(attempt, worker, stage, error_code, retryable,"
                " message, finished_at)::text, ';' ORDER BY attempt), '') FROM job_attempts"
                " WHERE job_id = %lld",
                id),
             sv(db, "SELECT count(*) FROM job_events WHERE job_id = %lld", id));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait until backend `*pid` (published by another thread) waits for a lock. */
static void wait_blocked(tp_db *obs, _Atomic int *pid)
{
    double until = now_s() + 10;
    while (now_s() < until) {
        int p = atomic_load(pid);
        if (p > 0 && strcmp(sv(obs,
                               "SELECT coalesce((SELECT wait_event_type FROM pg_stat_activity"
                               " WHERE pid = %d), '')",
                               p),
                            "Lock") == 0)
            return;
        usleep(5000);
    }
    ck_abort_msg("backend %d never waited for a lock", atomic_load(pid));
}

/* ----------------------------------------------------- worker threads */

/* One library call on a connection of the thread's own.  With a barrier,
 * all threads connect first and then start together. */
typedef struct call {
    pthread_barrier_t *barrier;
    _Atomic int pid; /* the thread's backend, once connected */
    int what;        /* CALL_* */
    /* in */
    const char *branch, *date, *from, *to;
    int pos, force;
    /* out */
    int rc, applied;
    long long id, created;
    tp_enqueue_result result;
    char msg[1024];
} call;

enum { CALL_MIGRATE, CALL_ENQUEUE, CALL_RANGE };

static void *call_thread(void *arg)
{
    call *c = arg;
    tp_error e = {0};
    tp_db *db = tp_db_connect(case_url, &e);
    if (db)
        atomic_store(&c->pid, PQbackendPID(db->conn));
    if (c->barrier)
        pthread_barrier_wait(c->barrier);
    if (!db) {
        c->rc = e.code;
        snprintf(c->msg, sizeof c->msg, "%s", e.msg);
        return NULL;
    }
    switch (c->what) {
    case CALL_MIGRATE: c->rc = tp_db_migrate(db, &c->applied, &e); break;
    case CALL_ENQUEUE:
        c->rc = tp_queue_enqueue(db, c->branch, c->pos, c->date, c->force, "thread", &c->id,
                                 &c->result, &e);
        break;
    case CALL_RANGE:
        c->rc = tp_queue_enqueue_range(db, c->from, c->to, c->force, "thread", &c->created, &e);
        break;
    }
    snprintf(c->msg, sizeof c->msg, "%s", e.msg);
    tp_db_close(db);
    return NULL;
}

/* ------------------------------------------------------- 1. migrations */

static const char *const tables[] = {
    "schema_migrations", "branches",      "jobs",       "job_attempts", "files",
    "records",           "quality_flags", "job_events", "audit_log",    "users"};

static void assert_schema(tp_db *db)
{
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++)
        ck_assert_msg(strcmp(sv(db, "SELECT to_regclass('%s') IS NOT NULL", tables[i]), "t") == 0,
                      "table %s missing", tables[i]);
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM pg_trigger WHERE tgname = 'jobs_events'"), 1);
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM pg_indexes WHERE indexname = 'jobs_live_key'"),
                     1);
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM schema_migrations"), tp_migration_count);
    ck_assert_int_eq(iv(db, "SELECT max(version) FROM schema_migrations"),
                     tp_migrations[tp_migration_count - 1].version);
    int v = -1;
    tp_error e = {0};
    ck_assert_int_eq(tp_db_schema_version(db, &v, &e), TP_OK);
    ck_assert_int_eq(v, tp_migrations[tp_migration_count - 1].version);
    ck_assert_msg(tp_db_check_schema(db, &e) == TP_OK, "check: %s", e.msg);
}

START_TEST(migrate_fresh_and_rerun)
{
    tp_db *db = fresh_db("q_migrate_fresh", 0);
    int v = -1, applied = -1;
    tp_error e = {0};
    /* Unmigrated: version 0 and a check telling what to do. */
    ck_assert_int_eq(tp_db_schema_version(db, &v, &e), TP_OK);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(tp_db_check_schema(db, &e), TP_EDB);
    ck_assert_int_eq(e.code, TP_EDB);
    ck_assert_msg(strstr(e.msg, "run `tillpipe migrate`") != NULL, "%s", e.msg);
    ck_assert_msg(strstr(e.msg, "version 0") != NULL, "%s", e.msg);

    ck_assert_msg(tp_db_migrate(db, &applied, &e) == TP_OK, "%s", e.msg);
    ck_assert_int_eq(applied, tp_migration_count);
    assert_schema(db);

    ck_assert_msg(tp_db_migrate(db, &applied, &e) == TP_OK, "%s", e.msg);
    ck_assert_int_eq(applied, 0);
    assert_schema(db);
    tp_db_close(db);
}
END_TEST

START_TEST(migrate_concurrent)
{
    enum { N = 6 };
    tp_db *db = fresh_db("q_migrate_concurrent", 0);
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, N);
    call c[N];
    pthread_t t[N];
    memset(c, 0, sizeof c);
    for (int i = 0; i < N; i++) {
        c[i].barrier = &b;
        c[i].what = CALL_MIGRATE;
        c[i].applied = -1;
        ck_assert_int_eq(pthread_create(&t[i], NULL, call_thread, &c[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        ck_assert_msg(c[i].rc == TP_OK, "migrator %d: %s", i, c[i].msg);
        ck_assert_msg(c[i].applied == 0 || c[i].applied == tp_migration_count,
                      "migrator %d applied %d", i, c[i].applied);
        total += c[i].applied;
    }
    pthread_barrier_destroy(&b);
    ck_assert_int_eq(total, tp_migration_count);
    assert_schema(db);
    tp_db_close(db);
}
END_TEST

START_TEST(migrate_refuses_newer_database)
{
    tp_db *db = fresh_db("q_migrate_newer", 1);
    ex(db, "INSERT INTO schema_migrations (version, name) VALUES (999, 'from_the_future')");
    int applied = -1, v = -1;
    tp_error e = {0};
    ck_assert_int_eq(tp_db_migrate(db, &applied, &e), TP_EDB);
    ck_assert_int_eq(e.code, TP_EDB);
    ck_assert_int_eq(applied, 0);
    ck_assert_msg(strstr(e.msg, "upgrade tillpipe") && strstr(e.msg, "999"), "%s", e.msg);
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM schema_migrations"), tp_migration_count + 1);

    memset(&e, 0, sizeof e);
    ck_assert_int_eq(tp_db_check_schema(db, &e), TP_EDB);
    ck_assert_msg(strstr(e.msg, "upgrade tillpipe") && strstr(e.msg, "999"), "%s", e.msg);
    ck_assert_int_eq(tp_db_schema_version(db, &v, &e), TP_OK);
    ck_assert_int_eq(v, 999);
    /* The advisory lock was given back: another migrator is not stuck. */
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                            " AND database = (SELECT oid FROM pg_database"
                            " WHERE datname = current_database())"),
                     0);
    tp_db_close(db);
}
END_TEST

START_TEST(connect_unreachable_hides_password)
{
    /* A refused port, a port that is no number, a socket that is not there,
     * and malformed URLs, whose libpq messages quote the URL. */
    const char *urls[] = {
        "postgresql://tillpipe:secretpw@127.0.0.1:1/tillpipe",
        "postgresql://tillpipe:secretpw@127.0.0.1:notaport/tillpipe",
        "postgresql:///tillpipe?host=/nonexistent-tillpipe&port=1&password=secretpw",
        "host=/nonexistent-tillpipe port=1 user=tillpipe password=secretpw",
        "postgresql://tillpipe:secretpw@[::1]x/tillpipe",
        "postgresql://tillpipe:secretpw%zz@127.0.0.1:1/tillpipe",
    };
    for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
        tp_error e = {0};
        tp_db *db = tp_db_connect(urls[i], &e);
        ck_assert_msg(db == NULL, "connected to %s", urls[i]);
        ck_assert_int_eq(e.code, TP_EDB);
        ck_assert_msg(strncmp(e.msg, "cannot connect to the database: ", 32) == 0, "%s", e.msg);
        ck_assert_msg(strlen(e.msg) > 32, "no reason given: %s", e.msg);
        ck_assert_msg(strchr(e.msg, '\n') == NULL && strchr(e.msg, '\r') == NULL,
                      "not one line: %s", e.msg);
        ck_assert_msg(strstr(e.msg, "secretpw") == NULL, "password shown for %s: %s", urls[i],
                      e.msg);
    }
    tp_error e = {0};
    ck_assert_ptr_null(tp_db_connect(NULL, &e));
    ck_assert_int_eq(e.code, TP_EUSAGE);
    ck_assert_msg(strstr(e.msg, "TILLPIPE_DATABASE_URL") != NULL, "%s", e.msg);
}
END_TEST

/* Statements with parameters are prepared once per connection: reused,
 * re-prepared after a migration changes their table, forgotten on
 * reconnect, and an error is the statement's own even in a transaction. */
static long long prepared_count(tp_db *db, const char *like)
{
    const char *p[] = {like};
    tp_error e = {0};
    PGresult *r = tp_db_query(
        db, "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE $1", 1, p, &e);
    ck_assert_msg(r != NULL, "%s", e.msg);
    long long n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

START_TEST(prepared_statements)
{
    tp_db *db = fresh_db("q_prepared", 0);
    tp_error e = {0};
    ex(db, "CREATE TABLE t (id int PRIMARY KEY, v text)");
    ex(db, "INSERT INTO t VALUES (1, 'one'), (2, 'two')");
    const char *one[] = {"1"}, *two[] = {"2"};
    const char *sel = "SELECT * FROM t WHERE id = $1::int";
    for (int i = 0; i < 3; i++) {
        PGresult *r = tp_db_query(db, sel, 1, i % 2 ? two : one, &e);
        ck_assert_msg(r != NULL, "%s", e.msg);
        ck_assert_str_eq(PQgetvalue(r, 0, 1), i % 2 ? "two" : "one");
        PQclear(r);
    }
    ck_assert_int_eq(prepared_count(db, "SELECT * FROM t WHERE id = %"), 1); /* once */
    /* a migration adds a column: the same text answers with the new shape */
    ex(db, "ALTER TABLE t ADD COLUMN w int DEFAULT 7");
    PGresult *r = tp_db_query(db, sel, 1, one, &e);
    ck_assert_msg(r != NULL, "after ALTER: %s", e.msg);
    ck_assert_int_eq(PQnfields(r), 3);
    ck_assert_str_eq(PQgetvalue(r, 0, 2), "7");
    PQclear(r);
    /* an error inside a transaction is the statement's own */
    ck_assert_int_eq(tp_db_exec(db, "BEGIN", 0, NULL, &e), TP_OK);
    ck_assert_int_eq(tp_db_exec(db, "UPDATE t SET nosuch = $1 WHERE id = 1", 1, one, &e), TP_EDB);
    ck_assert_msg(strstr(e.msg, "nosuch") != NULL, "%s", e.msg);
    PQclear(PQexec(db->conn, "ROLLBACK"));
    /* more statements than the cache holds still run */
    for (int i = 0; i < 140; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT v FROM t WHERE id = $1::int AND %d = %d", i, i);
        r = tp_db_query(db, sql, 1, two, &e);
        ck_assert_msg(r != NULL && strcmp(PQgetvalue(r, 0, 0), "two") == 0, "statement %d: %s", i,
                      e.msg);
        PQclear(r);
    }
    ck_assert_int_le(prepared_count(db, "%"), 130);
    /* the server forgets them with the connection; so does the cache */
    tp_db *admin_db = connect_ok(case_url);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", PQbackendPID(db->conn));
    const char *pp[] = {pid};
    ck_assert_int_eq(tp_db_exec(admin_db, "SELECT pg_terminate_backend($1::int)", 1, pp, &e),
                     TP_OK);
    tp_db_close(admin_db);
    ck_assert_ptr_null(tp_db_query(db, sel, 1, two, &e));
    ck_assert(tp_db_broken(db));
    ck_assert_int_eq(tp_db_reset(db, &e), TP_OK);
    r = tp_db_query(db, sel, 1, two, &e);
    ck_assert_msg(r != NULL, "after reset: %s", e.msg);
    ck_assert_str_eq(PQgetvalue(r, 0, 1), "two");
    PQclear(r);
    tp_db_close(db);
}
END_TEST

/* ---------------------------------------------------------- 2. enqueue */

START_TEST(enqueue_unknown_branch_and_terminal)
{
    tp_db *db = fresh_db("q_enqueue_unknown", 1);
    add_branch(db, "B1", "{1,2}", 1);
    long long id = -1;
    tp_enqueue_result res;
    tp_error e = {0};
    ck_assert_int_eq(tp_queue_enqueue(db, "NOPE", 1, "2024-01-01", 0, "t", &id, &res, &e),
                     TP_ENOTFOUND);
    ck_assert_int_eq(e.code, TP_ENOTFOUND);
    ck_assert_msg(strstr(e.msg, "unknown branch \"NOPE\"") != NULL, "%s", e.msg);
    memset(&e, 0, sizeof e);
    ck_assert_int_eq(tp_queue_enqueue(db, "B1", 3, "2024-01-01", 0, "t", &id, &res, &e),
                     TP_ENOTFOUND);
    ck_assert_msg(strstr(e.msg, "branch B1 has no terminal 3") != NULL, "%s", e.msg);
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM jobs"), 0);
    /* The connection is usable afterwards (no transaction left open). */
    ck_assert_int_eq(PQtransactionStatus(db->conn), PQTRANS_IDLE);
    enqueue_ok(db, "B1", 2, "2024-01-01", 0, TP_ENQUEUE_CREATED);
    tp_db_close(db);
}
END_TEST

START_TEST(enqueue_concurrent_same_key)
{
    enum { N = 20 };
    tp_db *db = fresh_db("q_enqueue_race", 1);
    add_branch(db, "B1", "{1,2}", 1);
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, N);
    call c[N];
    pthread_t t[N];
    memset(c, 0, sizeof c);
    for (int i = 0; i < N; i++) {
        c[i].barrier = &b;
        c[i].what = CALL_ENQUEUE;
        c[i].branch = "B1";
        c[i].pos = 2;
        c[i].date = "2024-05-17";
        ck_assert_int_eq(pthread_create(&t[i], NULL, call_thread, &c[i]), 0);
    }
    int created = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        ck_assert_msg(c[i].rc == TP_OK, "enqueuer %d: %s", i, c[i].msg);
        created += c[i].result == TP_ENQUEUE_CREATED;
        if (c[i].result != TP_ENQUEUE_CREATED)
            ck_assert_int_eq(c[i].result, TP_ENQUEUE_EXISTING);
        ck_assert_int_eq(c[i].id, c[0].id);
    }
    pthread_barrier_destroy(&b);
    ck_assert_int_eq(created, 1);
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM jobs"), 1);
    ck_assert_int_eq(iv(db, "SELECT id FROM jobs"), c[0].id);
    ck_assert_str_eq(
        sv(db, "SELECT row(branch, pos, business_date, status, attempts)::text FROM jobs"),
        "(B1,2,2024-05-17,queued,0)");
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM job_events"), 1);
    tp_db_close(db);
}
END_TEST

START_TEST(enqueue_force)
{
    tp_db *db = fresh_db("q_enqueue_force", 1);
    add_branch(db, "B1", "{1}", 1);
    /* While queued: the same job, now forced. */
    long long id = enqueue_ok(db, "B1", 1, "2024-02-29", 0, TP_ENQUEUE_CREATED);
    ck_assert_str_eq(sv(db, "SELECT force FROM jobs WHERE id = %lld", id), "f");
    ck_assert_int_eq(enqueue_ok(db, "B1", 1, "2024-02-29", 0, TP_ENQUEUE_EXISTING), id);
    ck_assert_str_eq(sv(db, "SELECT force FROM jobs WHERE id = %lld", id), "f");
    ck_assert_int_eq(enqueue_ok(db, "B1", 1, "2024-02-29", 1, TP_ENQUEUE_EXISTING), id);
    ck_assert_str_eq(
        sv(db, "SELECT row(status, force, rerun_requested)::text FROM jobs WHERE id = %lld", id),
        "(queued,t,f)");
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM jobs"), 1);

    /* While running: a rerun, queued when the running one completes. */
    tp_job j = claim_one(db, "w1");
    ck_assert_int_eq(j.id, id);
    ck_assert_int_eq(j.force, 1);
    ck_assert_int_eq(enqueue_ok(db, "B1", 1, "2024-02-29", 1, TP_ENQUEUE_RERUN), id);
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM jobs"), 1);
    ck_assert_str_eq(
        sv(db, "SELECT row(status, rerun_requested)::text FROM jobs WHERE id = %lld", id),
        "(running,t)");
    /* Not forced: the running job is the live one. */
    ck_assert_int_eq(enqueue_ok(db, "B1", 1, "2024-02-29", 0, TP_ENQUEUE_EXISTING), id);
    /* The one-statement completion leaves a rerun to the transactional path. */
    int done = -1;
    tp_error e = {0};
    ck_assert_int_eq(tp_queue_complete_empty(db, &j, "w1", &done, &e), TP_OK);
    ck_assert_int_eq(done, 0);
    ck_assert_str_eq(sv(db, "SELECT status FROM jobs WHERE id = %lld", id), "running");
    complete_ok(db, &j, "w1", 42);
    ck_assert_str_eq(sv(db, "SELECT row(status, records)::text FROM jobs WHERE id = %lld", id),
                     "(succeeded,42)");
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM jobs"), 2);
    long long rerun = iv(db, "SELECT id FROM jobs WHERE status = 'queued'");
    ck_assert(rerun > id);
    ck_assert_str_eq(sv(db,
                        "SELECT row(branch, pos, business_date, force, attempts)::text FROM jobs"
                        " WHERE id = %lld",
                        rerun),
                     "(B1,1,2024-02-29,t,0)");
    ck_assert_int_eq(enqueue_ok(db, "B1", 1, "2024-02-29", 0, TP_ENQUEUE_EXISTING), rerun);
    /* A finished key gets a new job. */
    tp_job j2 = claim_one(db, "w1");
    complete_ok(db, &j2, "w1", 0);
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')"), 0);
    long long third = enqueue_ok(db, "B1", 1, "2024-02-29", 0, TP_ENQUEUE_CREATED);
    ck_assert(third > rerun);
    tp_db_close(db);
}
END_TEST

/* A force asks for a fetch (a reparse cannot bring a corrected re-send
 * from the report server): a queued reparse becomes a fetch; a running
 * reparse's rerun is a fetch, whether it then succeeds or fails; a forced
 * range makes queued reparses fetches.  A forced reparse of a live fetch
 * leaves it a fetch. */
START_TEST(force_asks_for_a_fetch)
{
    tp_db *db = fresh_db("q_force_fetch", 1);
    add_branch(db, "B1", "{1}", 1);
    tp_error e = {0};
    long long id = reparse_ok(db, "B1", 1, "2024-05-01", 0, TP_ENQUEUE_CREATED);
    ck_assert_int_eq(enqueue_ok(db, "B1", 1, "2024-05-01", 1, TP_ENQUEUE_UPGRADED), id);
    ck_assert_str_eq(sv(db, "SELECT row(kind, force)::text FROM jobs WHERE id = %lld", id),
                     "(fetch,t)");
    ck_assert_int_eq(enqueue_ok(db, "B1", 1, "2024-05-01", 1, TP_ENQUEUE_EXISTING), id);
    tp_job j = claim_one(db, "w1");
    ck_assert_int_eq(j.kind, TP_JOB_FETCH);
    /* a forced reparse of a live fetch: still a fetch after it */
    reparse_ok(db, "B1", 1, "2024-05-01", 1, TP_ENQUEUE_RERUN);
    complete_ok(db, &j, "w1", 1);
    ck_assert_str_eq(sv(db, "SELECT kind FROM jobs WHERE status = 'queued'"), "fetch");
    j = claim_one(db, "w1");
    complete_ok(db, &j, "w1", 1);

    /* a running reparse, forced as a fetch: the rerun is a fetch (succeeded) */
    id = reparse_ok(db, "B1", 1, "2024-05-01", 0, TP_ENQUEUE_CREATED);
    j = claim_one(db, "w1");
    ck_assert_int_eq(j.kind, TP_JOB_REPARSE);
    ck_assert_int_eq(enqueue_ok(db, "B1", 1, "2024-05-01", 1, TP_ENQUEUE_RERUN), id);
    complete_ok(db, &j, "w1", 1);
    ck_assert_str_eq(sv(db, "SELECT row(kind, force)::text FROM jobs WHERE status = 'queued'"),
                     "(fetch,t)");
    j = claim_one(db, "w1");
    complete_ok(db, &j, "w1", 1);
    /* ... and when the reparse then fails */
    id = reparse_ok(db, "B1", 1, "2024-05-01", 0, TP_ENQUEUE_CREATED);
    j = claim_one(db, "w1");
    ck_assert_int_eq(enqueue_ok(db, "B1", 1, "2024-05-01", 1, TP_ENQUEUE_RERUN), id);
    ck_assert_int_eq(tp_queue_fail(db, &j, "w1", "fetch", "store_corrupt", 0, "bad", 10, NULL, &e),
                     TP_OK);
    ck_assert_str_eq(sv(db, "SELECT row(kind, force)::text FROM jobs WHERE status = 'queued'"),
                     "(fetch,t)");
    j = claim_one(db, "w1");
    complete_ok(db, &j, "w1", 1);
    /* a forced range: a queued reparse becomes a fetch */
    id = reparse_ok(db, "B1", 1, "2024-05-02", 0, TP_ENQUEUE_CREATED);
    long long created = -1;
    ck_assert_int_eq(
        tp_queue_enqueue_range(db, "2024-05-02", "2024-05-02", 1, "test", &created, &e), TP_OK);
    ck_assert_int_eq(created, 0);
    ck_assert_str_eq(sv(db, "SELECT row(kind, force)::text FROM jobs WHERE id = %lld", id),
                     "(fetch,t)");
    tp_db_close(db);
}
END_TEST

/* A forced enqueue that waits for the row of a job completing at that very
 * moment must not be lost: it answers "rerun" only if a rerun will happen. */
START_TEST(enqueue_force_while_completing)
{
    tp_db *db = fresh_db("q_force_completing", 1);
    add_branch(db, "B1", "{1}", 1);
    long long id = enqueue_ok(db, "B1", 1, "2024-03-01", 0, TP_ENQUEUE_CREATED);
    tp_job j = claim_one(db, "w1");
    tp_error e = {0};
    begin_completion(db, &j, "w1");

    call c = {.what = CALL_ENQUEUE, .branch = "B1", .pos = 1, .date = "2024-03-01", .force = 1};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, call_thread, &c), 0);
    tp_db *obs = connect_ok(case_url);
    wait_blocked(obs, &c.pid);
    ck_assert_int_eq(tp_queue_mark_succeeded(db, &j, 7, NULL, &e), TP_OK);
    ck_assert_int_eq(tp_db_exec(db, "COMMIT", 0, NULL, &e), TP_OK);
    pthread_join(t, NULL);
    ck_assert_msg(c.rc == TP_OK, "%s", c.msg);
    ck_assert_str_eq(sv(db, "SELECT status FROM jobs WHERE id = %lld", id), "succeeded");
    /* A run after the completion exists, and the answer names it. */
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM jobs WHERE status = 'queued'"), 1);
    long long next = iv(db, "SELECT id FROM jobs WHERE status = 'queued'");
    ck_assert_int_eq(c.result, TP_ENQUEUE_CREATED);
    ck_assert_int_eq(c.id, next);
    ck_assert_str_eq(sv(db, "SELECT force FROM jobs WHERE id = %lld", next), "t");
    tp_db_close(obs);
    tp_db_close(db);
}
END_TEST

START_TEST(enqueue_range)
{
    tp_db *db = fresh_db("q_enqueue_range", 1);
    add_branch(db, "A1", "{1,2}", 1);
    add_branch(db, "B2", "{3}", 1);
    add_branch(db, "C3", "{1,2,3}", 0); /* inactive: never queued */
    long long created = -1;
    tp_error e = {0};
    /* 3 terminals x 4 days, across a month end. */
    ck_assert_msg(tp_queue_enqueue_range(db, "2024-01-30", "2024-02-02", 0, "t", &created, &e) ==
                      TP_OK,
                  "%s", e.msg);
    ck_assert_int_eq(created, 12);
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM jobs"), 12);
    ck_assert_int_eq(iv(db, "SELECT count(DISTINCT (branch, pos, business_date)) FROM jobs"), 12);
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM jobs WHERE branch = 'C3'"), 0);
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM jobs WHERE branch = 'B2' AND pos = 3"), 4);
    ck_assert_str_eq(
        sv(db, "SELECT min(business_date)::text || '..' || max(business_date)::text FROM jobs"),
        "2024-01-30..2024-02-02");
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM jobs WHERE status = 'queued' AND NOT force"), 12);
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM job_events WHERE status = 'queued'"), 12);

    /* Again: nothing new; one day more: only that day. */
    ck_assert_int_eq(tp_queue_enqueue_range(db, "2024-01-30", "2024-02-02", 0, "t", &created, &e),
                     TP_OK);
    ck_assert_int_eq(created, 0);
    ck_assert_int_eq(tp_queue_enqueue_range(db, "2024-01-30", "2024-02-03", 0, "t", &created, &e),
                     TP_OK);
    ck_assert_int_eq(created, 3);
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM jobs"), 15);
    /* A single enqueue sees the range's job. */
    long long a1 = iv(
        db, "SELECT id FROM jobs WHERE branch = 'A1' AND pos = 2 AND business_date = '2024-02-01'");
    ck_assert_int_eq(enqueue_ok(db, "A1", 2, "2024-02-01", 0, TP_ENQUEUE_EXISTING), a1);

    /* Forced: queued jobs forced, a running one asked to run again. */
    tp_job j = claim_one(db, "w1");
    ck_assert_int_eq(tp_queue_enqueue_range(db, "2024-01-30", "2024-02-03", 1, "t", &created, &e),
                     TP_OK);
    ck_assert_int_eq(created, 0);
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM jobs WHERE force"), 15);
    ck_assert_str_eq(sv(db, "SELECT rerun_requested FROM jobs WHERE id = %lld", j.id), "t");
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM jobs WHERE rerun_requested"), 1);

    /* A small range leaves the statistics to autovacuum; a backfill-sized
     * one refreshes them at once (pg_class.reltuples: -1 = never analyzed). */
    ck_assert_int_eq(iv(db, "SELECT reltuples FROM pg_class WHERE relname = 'jobs'"), -1);
    ck_assert_int_eq(tp_queue_enqueue_range(db, "2025-01-01", "2025-06-30", 0, "t", &created, &e),
                     TP_OK);
    ck_assert_int_eq(created, 3 * 181);
    _Static_assert(TP_QUEUE_ANALYZE_AFTER > 15, "the ranges above must not analyze");
    ck_assert_int_le(TP_QUEUE_ANALYZE_AFTER, created);
    ck_assert_int_eq(iv(db, "SELECT reltuples FROM pg_class WHERE relname = 'jobs'"), 15 + 3 * 181);
    tp_db_close(db);
}
END_TEST

START_TEST(enqueue_range_one_transaction)
{
    tp_db *db = fresh_db("q_enqueue_range_tx", 1);
    add_branch(db, "A1", "{1,2}", 1);
    add_branch(db, "Z9", "{1,100}", 1); /* terminal 100 breaks the jobs CHECK (pos <= 99) */
    long long created = -1;
    tp_error e = {0};
    ck_assert_int_eq(tp_queue_enqueue_range(db, "2024-06-01", "2024-06-03", 0, "t", &created, &e),
                     TP_EDB);
    ck_assert_msg(strstr(e.msg, "jobs_pos_check") != NULL, "%s", e.msg);
    /* Nothing of the range landed: not even the valid combinations. */
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM jobs"), 0);
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM job_events"), 0);
    ck_assert_int_eq(PQtransactionStatus(db->conn), PQTRANS_IDLE);
    ex(db, "UPDATE branches SET terminals = '{1,2}' WHERE code = 'Z9'");
    ck_assert_int_eq(tp_queue_enqueue_range(db, "2024-06-01", "2024-06-03", 0, "t", &created, &e),
                     TP_OK);
    ck_assert_int_eq(created, 12);
    tp_db_close(db);
}
END_TEST

/* A range enqueue holds its new jobs uncommitted (here: waiting on a row
 * lock) while a single enqueue of one of its keys starts: the single one must
 * return the range's job, not a duplicate-key error. */
START_TEST(enqueue_single_while_range_in_flight)
{
    tp_db *db = fresh_db("q_range_vs_single", 1);
    add_branch(db, "A1", "{1}", 1);
    add_branch(db, "B2", "{1}", 1);
    long long b2 = enqueue_ok(db, "B2", 1, "2024-03-01", 0, TP_ENQUEUE_CREATED);
    tp_db *holder = connect_ok(case_url);
    ex(holder, "BEGIN");
    ex(holder, "SELECT 1 FROM jobs WHERE id = %lld FOR UPDATE", b2);

    call range = {.what = CALL_RANGE, .from = "2024-03-01", .to = "2024-03-01", .force = 1};
    call one = {.what = CALL_ENQUEUE, .branch = "A1", .pos = 1, .date = "2024-03-01"};
    pthread_t tr, to;
    ck_assert_int_eq(pthread_create(&tr, NULL, call_thread, &range), 0);
    wait_blocked(db, &range.pid); /* inserted A1, waits to force B2 */
    ck_assert_int_eq(pthread_create(&to, NULL, call_thread, &one), 0);
    wait_blocked(db, &one.pid); /* waits on the range's uncommitted A1 */
    ex(holder, "ROLLBACK");
    pthread_join(tr, NULL);
    pthread_join(to, NULL);
    ck_assert_msg(range.rc == TP_OK, "range: %s", range.msg);
    ck_assert_int_eq(range.created, 1);
    ck_assert_msg(one.rc == TP_OK, "single: %s", one.msg);
    ck_assert_int_eq(one.result, TP_ENQUEUE_EXISTING);
    ck_assert_int_eq(one.id, iv(db, "SELECT id FROM jobs WHERE branch = 'A1'"));
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM jobs"), 2);
    tp_db_close(holder);
    tp_db_close(db);
}
END_TEST

/* A forced range waiting for the row of a job completing at that moment must
 * still leave a run of that key after it. */
START_TEST(enqueue_range_force_while_completing)
{
    tp_db *db = fresh_db("q_range_force_completing", 1);
    add_branch(db, "A1", "{1}", 1);
    long long id = enqueue_ok(db, "A1", 1, "2024-03-01", 0, TP_ENQUEUE_CREATED);
    tp_job j = claim_one(db, "w1");
    tp_error e = {0};
    begin_completion(db, &j, "w1");
    call range = {.what = CALL_RANGE, .from = "2024-03-01", .to = "2024-03-01", .force = 1};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, call_thread, &range), 0);
    tp_db *obs = connect_ok(case_url);
    wait_blocked(obs, &range.pid);
    ck_assert_int_eq(tp_queue_mark_succeeded(db, &j, 0, NULL, &e), TP_OK);
    ck_assert_int_eq(tp_db_exec(db, "COMMIT", 0, NULL, &e), TP_OK);
    pthread_join(t, NULL);
    ck_assert_msg(range.rc == TP_OK, "range: %s", range.msg);
    ck_assert_str_eq(sv(db, "SELECT status FROM jobs WHERE id = %lld", id), "succeeded");
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM jobs WHERE status = 'queued' AND force"), 1);
    ck_assert_int_eq(range.created, 1);
    tp_db_close(obs);
    tp_db_close(db);
}
END_TEST

/* ----------------------------------------------------------- 3. claims */

enum { CLAIMERS = 8, CLAIM_JOBS = 400 };

typedef struct claimer {
    pthread_barrier_t *barrier;
    char worker[16];
    long long ids[CLAIM_JOBS];
    int n, rc, calls;
    char msg[1024];
} claimer;

static void *claim_thread(void *arg)
{
    claimer *c = arg;
    tp_error e = {0};
    tp_db *db = tp_db_connect(case_url, &e);
    pthread_barrier_wait(c->barrier);
    if (!db) {
        c->rc = e.code;
        snprintf(c->msg, sizeof c->msg, "%s", e.msg);
        return NULL;
    }
    for (;;) {
        tp_job j[7];
        int n = 0;
        c->rc = tp_queue_claim(db, c->worker, TP_LEASE_SECONDS, j, 7, &n, &e);
        c->calls++;
        if (c->rc != TP_OK) {
            snprintf(c->msg, sizeof c->msg, "%s", e.msg);
            break;
        }
        if (n == 0)
            break;
        for (int i = 0; i < n && c->n < CLAIM_JOBS; i++) {
            if (j[i].attempt != 1) {
                c->rc = -100;
                snprintf(c->msg, sizeof c->msg, "job %lld claimed with attempt %d", j[i].id,
                         j[i].attempt);
            }
            c->ids[c->n++] = j[i].id;
        }
    }
    tp_db_close(db);
    return NULL;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

START_TEST(claims_concurrent_never_double)
{
    tp_db *db = fresh_db("q_claims", 1);
    /* 10 branches x 4 terminals x 10 days = 400 jobs. */
    for (int b = 0; b < 10; b++) {
        char code[8];
        snprintf(code, sizeof code, "K%d", b);
        add_branch(db, code, "{1,2,3,4}", 1);
    }
    long long created = -1;
    tp_error e = {0};
    ck_assert_int_eq(tp_queue_enqueue_range(db, "2023-12-27", "2024-01-05", 0, "t", &created, &e),
                     TP_OK);
    ck_assert_int_eq(created, CLAIM_JOBS);

    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, CLAIMERS);
    static claimer c[CLAIMERS];
    pthread_t t[CLAIMERS];
    memset(c, 0, sizeof c);
    for (int i = 0; i < CLAIMERS; i++) {
        c[i].barrier = &b;
        snprintf(c[i].worker, sizeof c[i].worker, "claimer-%d", i);
        ck_assert_int_eq(pthread_create(&t[i], NULL, claim_thread, &c[i]), 0);
    }
    static long long all[CLAIM_JOBS * 2];
    int total = 0;
    for (int i = 0; i < CLAIMERS; i++) {
        pthread_join(t[i], NULL);
        ck_assert_msg(c[i].rc == TP_OK, "%s: %s", c[i].worker, c[i].msg);
        ck_assert_int_le(total + c[i].n, CLAIM_JOBS);
        memcpy(all + total, c[i].ids, (size_t)c[i].n * sizeof *all);
        total += c[i].n;
        /* The database agrees on who holds what. */
        ck_assert_int_eq(iv(db, "SELECT count(*) FROM jobs WHERE lease_owner = '%s'", c[i].worker),
                         c[i].n);
    }
    pthread_barrier_destroy(&b);
    ck_assert_int_eq(total, CLAIM_JOBS);
    qsort(all, (size_t)total, sizeof *all, cmp_ll);
    for (int i = 1; i < total; i++)
        ck_assert_msg(all[i] != all[i - 1], "job %lld claimed twice", all[i]);
    ck_assert_int_eq(
        iv(db, "SELECT count(*) FROM jobs WHERE id BETWEEN %lld AND %lld", all[0], all[total - 1]),
        CLAIM_JOBS);
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM jobs WHERE status = 'running' AND attempts = 1"
                            " AND lease_expires_at > now()"),
                     CLAIM_JOBS);
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM job_attempts"), CLAIM_JOBS);
    ck_assert_int_eq(iv(db, "SELECT count(DISTINCT job_id) FROM job_attempts WHERE attempt = 1"),
                     CLAIM_JOBS);
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id"
                            " WHERE a.worker = j.lease_owner"),
                     CLAIM_JOBS);
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM job_events WHERE status = 'running'"),
                     CLAIM_JOBS);
    tp_db_close(db);
}
END_TEST

/* ---------------------------------------------------------- 4. fencing */

START_TEST(fencing_after_rescue)
{
    tp_db *db = fresh_db("q_fencing", 1);
    add_branch(db, "B1", "{1}", 1);
    long long id = enqueue_ok(db, "B1", 1, "2024-04-01", 0, TP_ENQUEUE_CREATED);
    tp_job j = claim_one(db, "w1");
    ck_assert_int_eq(j.id, id);
    ck_assert_int_eq(j.attempt, 1);
    ck_assert_str_eq(j.branch, "B1");
    ck_assert_str_eq(j.date, "2024-04-01");
    ck_assert_int_eq(j.pos, 1);
    ck_assert_int_eq(j.max_attempts, 5);

    tp_error e = {0};
    int cancel = -1;
    /* Wrong owner, wrong attempt. */
    ck_assert_int_eq(tp_queue_heartbeat(db, &j, "w2", 60, &cancel, &e), TP_ELOST);
    ck_assert_int_eq(e.code, TP_ELOST);
    ck_assert_msg(strstr(e.msg, "lease lost") != NULL, "%s", e.msg);
    tp_job wrong = j;
    wrong.attempt = 2;
    ck_assert_int_eq(tp_queue_heartbeat(db, &wrong, "w1", 60, &cancel, &e), TP_ELOST);
    ck_assert_int_eq(tp_queue_heartbeat(db, &j, "w1", 60, &cancel, &e), TP_OK);
    ck_assert_int_eq(cancel, 0);

    /* The lease runs out; a rescuer requeues. */
    expire_lease(db, id);
    ck_assert_int_eq(rescue(db), 1);
    ck_assert_str_eq(sv(db,
                        "SELECT row(status, attempts, lease_owner, lease_expires_at)::text"
                        " FROM jobs WHERE id = %lld",
                        id),
                     "(queued,1,,)");
    ck_assert_msg(strstr(sv(db, "SELECT last_error FROM jobs WHERE id = %lld", id),
                         "lease expired: worker w1") != NULL,
                  "last_error: %s", sv(db, "SELECT last_error FROM jobs WHERE id = %lld", id));
    ck_assert_str_eq(sv(db,
                        "SELECT row(error_code, retryable)::text FROM job_attempts"
                        " WHERE job_id = %lld AND attempt = 1",
                        id),
                     "(lease_expired,t)");
    ck_assert_int_eq(rescue(db), 0);

    /* The old attempt can change nothing any more. */
    char before[8192], after[8192];
    job_snapshot(db, id, before, sizeof before);
    ck_assert_int_eq(tp_queue_heartbeat(db, &j, "w1", 60, &cancel, &e), TP_ELOST);
    ck_assert_int_eq(tp_db_exec(db, "BEGIN", 0, NULL, &e), TP_OK);
    ck_assert_int_eq(tp_queue_lock_owned(db, &j, "w1", &cancel, &e), TP_ELOST);
    ck_assert_msg(strstr(e.msg, "nothing written") != NULL, "%s", e.msg);
    ck_assert_int_eq(tp_db_exec(db, "ROLLBACK", 0, NULL, &e), TP_OK);
    ck_assert_int_eq(
        tp_queue_fail(db, &j, "w1", "parse", "parse_error", 0, "late failure", 1, NULL, &e),
        TP_ELOST);
    ck_assert_int_eq(PQtransactionStatus(db->conn), PQTRANS_IDLE);
    ck_assert_int_eq(tp_queue_release(db, &j, "w1", &e), TP_ELOST);
    int done = -1;
    ck_assert_int_eq(tp_queue_complete_empty(db, &j, "w1", &done, &e), TP_ELOST);
    ck_assert_int_eq(done, 0);
    ck_assert_int_eq(PQtransactionStatus(db->conn), PQTRANS_IDLE);
    job_snapshot(db, id, after, sizeof after);
    ck_assert_str_eq(before, after);

    /* The next claim is attempt 2, even by the same worker name; the old
     * token still cannot touch it. */
    tp_job j2 = claim_one(db, "w1");
    ck_assert_int_eq(j2.id, id);
    ck_assert_int_eq(j2.attempt, 2);
    ck_assert_int_eq(tp_queue_heartbeat(db, &j, "w1", 60, &cancel, &e), TP_ELOST);
    ck_assert_int_eq(tp_queue_fail(db, &j, "w1", "parse", "parse_error", 0, "late", 1, NULL, &e),
                     TP_ELOST);
    ck_assert_int_eq(tp_queue_heartbeat(db, &j2, "w1", 60, &cancel, &e), TP_OK);
    complete_ok(db, &j2, "w1", 3);
    ck_assert_str_eq(sv(db,
                        "SELECT row(status, attempts, records, last_error)::text FROM jobs"
                        " WHERE id = %lld",
                        id),
                     "(succeeded,2,3,)");
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM job_attempts WHERE job_id = %lld", id), 2);
    tp_db_close(db);
}
END_TEST

/* pg_terminate_backend on the worker's connection in the middle of its load
 * transaction: nothing it did lands; after the rescue, its token is dead even
 * on a new connection. */
START_TEST(fencing_terminated_connection)
{
    tp_db *w = fresh_db("q_terminate", 1);
    add_branch(w, "B1", "{1}", 1);
    long long id = enqueue_ok(w, "B1", 1, "2024-04-02", 0, TP_ENQUEUE_CREATED);
    tp_job j = claim_one(w, "w1");
    tp_error e = {0};
    int cancel = -1;
    begin_completion(w, &j, "w1");
    ck_assert_int_eq(tp_queue_mark_succeeded(w, &j, 99, NULL, &e), TP_OK);

    tp_db *other = connect_ok(case_url);
    ck_assert_str_eq(sv(other, "SELECT pg_terminate_backend(%d, 10000)", PQbackendPID(w->conn)),
                     "t");
    ck_assert_str_eq(sv(other, "SELECT status FROM jobs WHERE id = %lld", id), "running");
    expire_lease(other, id);
    ck_assert_int_eq(rescue(other), 1);
    char before[8192], after[8192];
    job_snapshot(other, id, before, sizeof before);

    /* The cut-off connection: its commit and every later call fail. */
    int rc = tp_db_exec(w, "COMMIT", 0, NULL, &e);
    ck_assert_int_eq(rc, TP_EDB);
    ck_assert_int_eq(tp_db_broken(w), 1);
    rc = tp_queue_heartbeat(w, &j, "w1", 60, &cancel, &e);
    ck_assert_msg(rc == TP_EDB || rc == TP_ELOST, "heartbeat: %d %s", rc, e.msg);
    rc = tp_queue_fail(w, &j, "w1", "load", "db_error", 1, "x", 1, NULL, &e);
    ck_assert_msg(rc == TP_EDB || rc == TP_ELOST, "fail: %d %s", rc, e.msg);
    tp_db_close(w);

    /* Reconnected, the same worker still holds only a dead token. */
    w = connect_ok(case_url);
    ck_assert_int_eq(tp_db_exec(w, "BEGIN", 0, NULL, &e), TP_OK);
    ck_assert_int_eq(tp_queue_lock_owned(w, &j, "w1", &cancel, &e), TP_ELOST);
    ck_assert_int_eq(tp_db_exec(w, "ROLLBACK", 0, NULL, &e), TP_OK);
    int done = -1;
    ck_assert_int_eq(tp_queue_complete_empty(w, &j, "w1", &done, &e), TP_ELOST);
    ck_assert_int_eq(tp_queue_heartbeat(w, &j, "w1", 60, &cancel, &e), TP_ELOST);
    job_snapshot(other, id, after, sizeof after);
    ck_assert_str_eq(before, after);
    /* Only the rescuer's change: queued again, attempt 1 ended by lease. */
    ck_assert_str_eq(sv(other,
                        "SELECT row(status, attempts, records, lease_owner, finished_at)::text"
                        " FROM jobs WHERE id = %lld",
                        id),
                     "(queued,1,,,)");
    ck_assert_msg(strstr(sv(other, "SELECT last_error FROM jobs WHERE id = %lld", id), "lease") !=
                      NULL,
                  "no lease in last_error");
    ck_assert_str_eq(sv(other,
                        "SELECT row(stage, error_code)::text FROM job_attempts"
                        " WHERE job_id = %lld",
                        id),
                     "(claimed,lease_expired)");
    ck_assert_str_eq(sv(other,
                        "SELECT string_agg(status::text, ',' ORDER BY id) FROM job_events"
                        " WHERE job_id = %lld",
                        id),
                     "queued,running,queued");
    tp_db_close(w);
    tp_db_close(other);
}
END_TEST

/* ------------------------------------------------ 5. failure and retries */

START_TEST(backoff_bounds)
{
    unsigned seed = 12345;
    for (int attempt = 1; attempt <= 40; attempt++) {
        double d = 2.0;
        for (int i = 1; i < attempt && d < 600; i++)
            d *= 2;
        if (d > 600)
            d = 600;
        double lo = 1e9, hi = -1;
        for (int k = 0; k < 500; k++) {
            double b = tp_queue_backoff(attempt, 2.0, &seed);
            ck_assert_msg(b >= d / 2 && b <= d, "attempt %d: %f outside [%f, %f]", attempt, b,
                          d / 2, d);
            lo = b < lo ? b : lo;
            hi = b > hi ? b : hi;
        }
        ck_assert_msg(hi - lo > d / 4, "attempt %d: no jitter (%f..%f)", attempt, lo, hi);
    }
    /* Doubling from the base, capped at 10 minutes; < 0 = the default 2 s,
     * 0 = no delay. */
    double b = tp_queue_backoff(1, -1, &seed);
    ck_assert(b >= 1 && b <= 2);
    ck_assert(tp_queue_backoff(4, 0, &seed) == 0);
    b = tp_queue_backoff(3, 5, &seed);
    ck_assert(b >= 10 && b <= 20);
    b = tp_queue_backoff(10, 2, &seed);
    ck_assert(b >= 300 && b <= 600);
    b = tp_queue_backoff(1000000, 1000, &seed);
    ck_assert(b >= 300 && b <= 600);
}
END_TEST

START_TEST(fail_retryable_and_not)
{
    tp_db *db = fresh_db("q_fail", 1);
    add_branch(db, "B1", "{1,2}", 1);
    long long id = enqueue_ok(db, "B1", 1, "2024-04-03", 0, TP_ENQUEUE_CREATED);
    tp_error e = {0};

    /* Retryable, attempts left: queued after the backoff. */
    tp_job j = claim_one(db, "w1");
    ck_assert_int_eq(tp_queue_fail(db, &j, "w1", "fetch", "fetch_error", 1,
                                   "report server timed out", 10, NULL, &e),
                     TP_OK);
    ck_assert_str_eq(sv(db,
                        "SELECT row(status, attempts, lease_owner, finished_at, last_error)::text"
                        " FROM jobs WHERE id = %lld",
                        id),
                     "(queued,1,,,\"report server timed out\")");
    double delay = retry_delay(db, id);
    ck_assert_msg(delay >= 5 && delay <= 10, "delay %f outside [5, 10]", delay);
    ck_assert_str_eq(sv(db, "SELECT run_after > now() FROM jobs WHERE id = %lld", id), "t");
    ck_assert_str_eq(attempt_end(db, id, 1), "(fetch,fetch_error,t,\"report server timed out\",t)");
    ck_assert_int_eq(claim_count(db, "w1"), 0); /* not before run_after */

    /* The second retry waits twice as long. */
    j = claim_due(db, id, "w1");
    ck_assert_int_eq(j.attempt, 2);
    ck_assert_int_eq(tp_queue_fail(db, &j, "w1", "fetch", "fetch_error", 1, "again", 10, NULL, &e),
                     TP_OK);
    delay = retry_delay(db, id);
    ck_assert_msg(delay >= 10 && delay <= 20, "delay %f outside [10, 20]", delay);

    /* Not retryable: failed at once, attempts left or not. */
    j = claim_due(db, id, "w1");
    ck_assert_int_eq(j.attempt, 3);
    ck_assert_int_eq(tp_queue_fail(db, &j, "w1", "parse", "parse_error", 0,
                                   "rd5800.csv line 3: bad amount", 10, NULL, &e),
                     TP_OK);
    ck_assert_str_eq(
        sv(db,
           "SELECT row(status, attempts, lease_owner, finished_at IS NOT NULL, last_error)::text"
           " FROM jobs WHERE id = %lld",
           id),
        "(failed,3,,t,\"rd5800.csv line 3: bad amount\")");
    ck_assert_str_eq(attempt_end(db, id, 3),
                     "(parse,parse_error,f,\"rd5800.csv line 3: bad amount\",t)");
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM job_attempts WHERE job_id = %lld", id), 3);
    ex(db, "UPDATE jobs SET run_after = now() - interval '1 hour'");
    ck_assert_int_eq(claim_count(db, "w1"), 0);
    /* The failed event carries the error. */
    ck_assert_str_eq(
        sv(db, "SELECT message FROM job_events WHERE job_id = %lld AND status = 'failed'", id),
        "rd5800.csv line 3: bad amount");
    /* A failed key may be queued again. */
    ck_assert(enqueue_ok(db, "B1", 1, "2024-04-03", 0, TP_ENQUEUE_CREATED) > id);
    tp_db_close(db);
}
END_TEST

/* A force asked for while the run went on is not lost when the run fails:
 * the new run is queued, forced; and the same when the lease expires on the
 * last attempt. */
START_TEST(fail_keeps_forced_rerun)
{
    tp_db *db = fresh_db("q_fail_force", 1);
    add_branch(db, "B1", "{1,2}", 1);
    tp_error e = {0};
    long long id3 = enqueue_ok(db, "B1", 2, "2024-04-03", 0, TP_ENQUEUE_CREATED);
    tp_job j = claim_one(db, "w1");
    ck_assert_int_eq(j.id, id3);
    ck_assert(enqueue_ok(db, "B1", 2, "2024-04-03", 1, TP_ENQUEUE_RERUN) == id3);
    ck_assert_int_eq(tp_queue_fail(db, &j, "w1", "parse", "parse_error", 0, "bad", 10, NULL, &e),
                     TP_OK);
    ck_assert_str_eq(sv(db, "SELECT string_agg(row(status, force, rerun_requested)::text, ','"
                            " ORDER BY id) FROM jobs WHERE pos = 2"),
                     "(failed,f,f),(queued,t,f)");
    /* ... and the same when the lease expires on the last attempt */
    j = claim_one(db, "w1");
    ck_assert(enqueue_ok(db, "B1", 2, "2024-04-03", 1, TP_ENQUEUE_RERUN) == j.id);
    ex(db,
       "UPDATE jobs SET max_attempts = 1, lease_expires_at = now() - interval '1 s'"
       " WHERE id = %lld",
       j.id);
    int rescued = 0;
    ck_assert_int_eq(tp_queue_rescue(db, &rescued, &e), TP_OK);
    ck_assert_int_eq(rescued, 1);
    ck_assert_str_eq(sv(db, "SELECT string_agg(row(status, force, rerun_requested)::text, ','"
                            " ORDER BY id) FROM jobs WHERE pos = 2"),
                     "(failed,f,f),(failed,t,f),(queued,t,f)");
    tp_db_close(db);
}
END_TEST

START_TEST(poison_job_fails_at_max_attempts)
{
    tp_db *db = fresh_db("q_poison", 1);
    add_branch(db, "B1", "{1}", 1);
    long long id = enqueue_ok(db, "B1", 1, "2024-04-04", 0, TP_ENQUEUE_CREATED);
    ex(db, "UPDATE jobs SET max_attempts = 3 WHERE id = %lld", id);
    tp_error e = {0};
    for (int attempt = 1; attempt <= 3; attempt++) {
        tp_job j = claim_due(db, id, "w1");
        ck_assert_int_eq(j.attempt, attempt);
        ck_assert_int_eq(j.max_attempts, 3);
        char msg[64];
        snprintf(msg, sizeof msg, "plugin crashed (%d)", attempt);
        ck_assert_int_eq(
            tp_queue_fail(db, &j, "w1", "parse", "plugin_error", 1, msg, 0.001, NULL, &e), TP_OK);
        ck_assert_str_eq(sv(db, "SELECT status FROM jobs WHERE id = %lld", id),
                         attempt < 3 ? "queued" : "failed");
    }
    ck_assert_str_eq(sv(db,
                        "SELECT row(status, attempts, last_error, finished_at IS NOT NULL)::text"
                        " FROM jobs WHERE id = %lld",
                        id),
                     "(failed,3,\"plugin crashed (3)\",t)");
    ck_assert_int_eq(iv(db,
                        "SELECT count(*) FROM job_attempts WHERE job_id = %lld"
                        " AND error_code = 'plugin_error' AND retryable",
                        id),
                     3);
    ex(db, "UPDATE jobs SET run_after = now() - interval '1 hour'");
    ck_assert_int_eq(claim_count(db, "w1"), 0);
    ck_assert_str_eq(sv(db,
                        "SELECT string_agg(status::text, ',' ORDER BY id) FROM job_events"
                        " WHERE job_id = %lld",
                        id),
                     "queued,running,queued,running,queued,running,failed");
    tp_db_close(db);
}
END_TEST

START_TEST(rescue_on_last_attempt_fails)
{
    tp_db *db = fresh_db("q_rescue_last", 1);
    add_branch(db, "B1", "{1}", 1);
    long long id = enqueue_ok(db, "B1", 1, "2024-04-05", 0, TP_ENQUEUE_CREATED);
    ex(db, "UPDATE jobs SET max_attempts = 2 WHERE id = %lld", id);
    tp_job j = claim_one(db, "w1");
    expire_lease(db, id);
    ck_assert_int_eq(rescue(db), 1);
    ck_assert_str_eq(sv(db, "SELECT status FROM jobs WHERE id = %lld", id), "queued");
    tp_job j2 = claim_one(db, "w2");
    ck_assert_int_eq(j2.attempt, 2);
    /* Not expired yet: the rescuer leaves it alone. */
    ck_assert_int_eq(rescue(db), 0);
    expire_lease(db, id);
    ck_assert_int_eq(rescue(db), 1);
    ck_assert_str_eq(sv(db,
                        "SELECT row(status, attempts, lease_owner, finished_at IS NOT NULL)::text"
                        " FROM jobs WHERE id = %lld",
                        id),
                     "(failed,2,,t)");
    ck_assert_str_eq(sv(db, "SELECT last_error FROM jobs WHERE id = %lld", id),
                     "lease expired: worker w2 stopped heartbeating");
    ck_assert_int_eq(iv(db,
                        "SELECT count(*) FROM job_attempts WHERE job_id = %lld"
                        " AND error_code = 'lease_expired'",
                        id),
                     2);
    tp_error e = {0};
    int cancel;
    ck_assert_int_eq(tp_queue_heartbeat(db, &j, "w1", 60, &cancel, &e), TP_ELOST);
    ck_assert_int_eq(tp_queue_heartbeat(db, &j2, "w2", 60, &cancel, &e), TP_ELOST);
    ck_assert_int_eq(claim_count(db, "w1"), 0);
    tp_db_close(db);
}
END_TEST

/* Job ids are bigint: failing a job with a large id must work (the backoff
 * seed is computed from it). */
START_TEST(fail_large_job_id)
{
    tp_db *db = fresh_db("q_large_id", 1);
    add_branch(db, "B1", "{1}", 1);
    ex(db, "SELECT setval('jobs_id_seq', 5000000000123)");
    long long id = enqueue_ok(db, "B1", 1, "2024-04-06", 0, TP_ENQUEUE_CREATED);
    ck_assert(id > 5000000000123LL);
    tp_job j = claim_one(db, "w1");
    ck_assert_int_eq(j.id, id);
    tp_error e = {0};
    ck_assert_int_eq(tp_queue_fail(db, &j, "w1", "fetch", "fetch_error", 1, "timeout", 4, NULL, &e),
                     TP_OK);
    double delay = retry_delay(db, id);
    ck_assert_msg(delay >= 2 && delay <= 4, "delay %f", delay);
    tp_db_close(db);
}
END_TEST

/* ----------------------------------------------------------- 6. cancel */

START_TEST(cancel_queued_and_running)
{
    tp_db *db = fresh_db("q_cancel", 1);
    add_branch(db, "B1", "{1,2}", 1);
    tp_error e = {0};
    int now = -1;

    /* Queued: cancelled at once, never claimed. */
    long long q = enqueue_ok(db, "B1", 1, "2024-04-07", 0, TP_ENQUEUE_CREATED);
    ck_assert_int_eq(tp_queue_cancel(db, q, "test", &now, &e), TP_OK);
    ck_assert_int_eq(now, 1);
    ck_assert_str_eq(
        sv(db,
           "SELECT row(status, cancel_requested, finished_at IS NOT NULL, attempts)::text"
           " FROM jobs WHERE id = %lld",
           q),
        "(cancelled,t,t,0)");
    ck_assert_int_eq(claim_count(db, "w1"), 0);

    /* Running: flagged; the heartbeat tells the worker, which ends it. */
    long long r = enqueue_ok(db, "B1", 2, "2024-04-07", 0, TP_ENQUEUE_CREATED);
    tp_job j = claim_one(db, "w1");
    ck_assert_int_eq(j.id, r);
    now = -1;
    ck_assert_int_eq(tp_queue_cancel(db, r, "test", &now, &e), TP_OK);
    ck_assert_int_eq(now, 0);
    ck_assert_str_eq(sv(db,
                        "SELECT row(status, cancel_requested, finished_at)::text FROM jobs"
                        " WHERE id = %lld",
                        r),
                     "(running,t,)");
    int cancel = -1;
    ck_assert_int_eq(tp_queue_heartbeat(db, &j, "w1", 60, &cancel, &e), TP_OK);
    ck_assert_int_eq(cancel, 1);
    /* A second cancel while running is accepted and changes nothing. */
    ck_assert_int_eq(tp_queue_cancel(db, r, "test", &now, &e), TP_OK);
    ck_assert_int_eq(now, 0);
    ck_assert_int_eq(tp_db_exec(db, "BEGIN", 0, NULL, &e), TP_OK);
    cancel = -1;
    ck_assert_int_eq(tp_queue_lock_owned(db, &j, "w1", &cancel, &e), TP_OK);
    ck_assert_int_eq(cancel, 1);
    ck_assert_int_eq(tp_queue_mark_cancelled(db, &j, &e), TP_OK);
    ck_assert_int_eq(tp_db_exec(db, "COMMIT", 0, NULL, &e), TP_OK);
    ck_assert_str_eq(sv(db,
                        "SELECT row(status, lease_owner, finished_at IS NOT NULL, records)::text"
                        " FROM jobs WHERE id = %lld",
                        r),
                     "(cancelled,,t,)");
    ck_assert_str_eq(sv(db,
                        "SELECT row(error_code, retryable)::text FROM job_attempts"
                        " WHERE job_id = %lld AND attempt = 1",
                        r),
                     "(cancelled,f)");
    ck_assert_int_eq(tp_queue_heartbeat(db, &j, "w1", 60, &cancel, &e), TP_ELOST);

    /* Once cancelled, it cannot be cancelled again. */
    memset(&e, 0, sizeof e);
    ck_assert_int_eq(tp_queue_cancel(db, r, "test", &now, &e), TP_EINVAL);
    ck_assert_int_eq(e.code, TP_EINVAL);
    ck_assert_msg(strstr(e.msg, "already cancelled") != NULL, "%s", e.msg);
    tp_db_close(db);
}
END_TEST

/* A running job whose cancel was asked for and whose worker died ends
 * cancelled; a finished job cannot be cancelled; an unknown id is not found. */
START_TEST(cancel_dead_worker_or_finished)
{
    tp_db *db = fresh_db("q_cancel_end", 1);
    add_branch(db, "B1", "{1,2}", 1);
    tp_error e = {0};
    int now = -1, cancel = -1;

    /* Running, cancel requested, and the worker dies: the rescuer ends it
     * cancelled instead of queueing it for another attempt. */
    long long d = enqueue_ok(db, "B1", 2, "2024-04-09", 0, TP_ENQUEUE_CREATED);
    tp_job jd = claim_one(db, "w9");
    ck_assert_int_eq(tp_queue_cancel(db, d, "test", &now, &e), TP_OK);
    ck_assert_int_eq(now, 0);
    expire_lease(db, d);
    ck_assert_int_eq(rescue(db), 1);
    ck_assert_str_eq(sv(db,
                        "SELECT row(status, lease_owner, finished_at IS NOT NULL)::text"
                        " FROM jobs WHERE id = %lld",
                        d),
                     "(cancelled,,t)");
    ck_assert_int_eq(claim_count(db, "w1"), 0);
    ck_assert_int_eq(tp_queue_heartbeat(db, &jd, "w9", 60, &cancel, &e), TP_ELOST);

    /* Finished jobs cannot be cancelled; unknown ids are not found. */
    long long s = enqueue_ok(db, "B1", 1, "2024-04-08", 0, TP_ENQUEUE_CREATED);
    tp_job js = claim_one(db, "w1");
    complete_ok(db, &js, "w1", 1);
    ck_assert_int_eq(tp_queue_cancel(db, s, "test", &now, &e), TP_EINVAL);
    ck_assert_msg(strstr(e.msg, "already succeeded") != NULL, "%s", e.msg);
    ck_assert_str_eq(
        sv(db, "SELECT row(status, cancel_requested)::text FROM jobs WHERE id = %lld", s),
        "(succeeded,f)");
    memset(&e, 0, sizeof e);
    ck_assert_int_eq(tp_queue_cancel(db, 987654321, "test", &now, &e), TP_ENOTFOUND);
    ck_assert_int_eq(e.code, TP_ENOTFOUND);
    ck_assert_msg(strstr(e.msg, "987654321") != NULL, "%s", e.msg);
    tp_db_close(db);
}
END_TEST

/* ----------------------------------------------------------- 7. events */

/* Notifications on `l` until `want` arrived (then 200 ms more, to catch
 * extras) or 5 s passed. */
static int read_notifies(tp_db *l, long long *ids, int max, int want)
{
    int n = 0;
    double until = now_s() + 5;
    for (;;) {
        double left = until - now_s();
        if (left <= 0)
            break;
        struct pollfd pfd = {PQsocket(l->conn), POLLIN, 0};
        poll(&pfd, 1, (int)(left * 1000) + 1);
        ck_assert_int_eq(PQconsumeInput(l->conn), 1);
        PGnotify *nt;
        while ((nt = PQnotifies(l->conn)) != NULL) {
            ck_assert_str_eq(nt->relname, "tillpipe_job_events");
            if (n < max)
                ids[n] = strtoll(nt->extra, NULL, 10);
            n++;
            PQfreemem(nt);
            if (n == want)
                until = now_s() + 0.2;
        }
    }
    return n;
}

/* The statements that address one job (fences, cancel, force) probe the
 * primary key, also when the statistics were taken with no live job and
 * thousands are live now -- the moment a backfill starts.  (Written as
 * `status = 'running'`, PostgreSQL 15 plans a scan of the whole live-jobs
 * partial index instead, filtering on id: a cost per statement that grows
 * with the backlog.) */
static char *plan_of(tp_db *db, const char *name)
{
    static char buf[4096];
    PGresult *r = PQexec(db->conn, name);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", name, PQerrorMessage(db->conn));
    buf[0] = '\0';
    for (int i = 0; i < PQntuples(r); i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s\n", PQgetvalue(r, i, 0));
    PQclear(r);
    return buf;
}

START_TEST(single_job_statements_probe_primary_key)
{
    tp_db *db = fresh_db("q_fence_plan", 1);
    add_branch(db, "B1", "{1,2,3,4}", 1);
    /* a quiet day: a history of finished jobs, none live; statistics taken */
    ex(db, "INSERT INTO jobs (branch, pos, business_date, status, created_by)"
           " SELECT 'B1', 1 + i %% 4, date '2020-01-01' + i / 4, 'succeeded', 't'"
           " FROM generate_series(0, 3999) i");
    ex(db, "ANALYZE jobs");
    /* planned now, as a worker's connection does; the plan is kept (as
     * prepared statements keep theirs) */
    ex(db, "SET plan_cache_mode = force_generic_plan");
    ex(db, "PREPARE fence(bigint, int, text) AS SELECT 1 FROM jobs WHERE " TP_FENCE " FOR UPDATE");
    ex(db, "PREPARE one(bigint) AS SELECT 1 FROM jobs WHERE " TP_JOB_IN("'queued', 'running'"));
    const char *plans[] = {"EXPLAIN EXECUTE fence(1, 1, 'w1')", "EXPLAIN EXECUTE one(1)"};
    for (int i = 0; i < 2; i++)
        plan_of(db, plans[i]);
    /* then a backlog of live jobs, not enough for autovacuum to re-analyze */
    ex(db,
       "INSERT INTO jobs (branch, pos, business_date, created_by)"
       " SELECT 'B1', 1 + i %% 4, date '2024-01-01' + i / 4, 't' FROM generate_series(0, 1999) i");
    for (int i = 0; i < 2; i++) {
        const char *plan = plan_of(db, plans[i]);
        ck_assert_msg(strstr(plan, "Index Cond: (id = $1)") && strstr(plan, "jobs_pkey"), "%s:\n%s",
                      plans[i], plan);
    }
    ex(db, "RESET plan_cache_mode");
    tp_db_close(db);
}
END_TEST

START_TEST(events_and_notify)
{
    tp_db *db = fresh_db("q_events", 1);
    add_branch(db, "B1", "{1}", 1);
    tp_db *l = connect_ok(case_url);
    ex(l, "LISTEN tillpipe_job_events");

    long long id = enqueue_ok(db, "B1", 1, "2024-04-09", 0, TP_ENQUEUE_CREATED);
    enqueue_ok(db, "B1", 1, "2024-04-09", 0, TP_ENQUEUE_EXISTING); /* no status change */
    tp_job j = claim_one(db, "w1");
    int cancel;
    tp_error e = {0};
    ck_assert_int_eq(tp_queue_heartbeat(db, &j, "w1", 60, &cancel, &e), TP_OK); /* none either */
    complete_ok(db, &j, "w1", 5);

    ck_assert_str_eq(sv(db, "SELECT string_agg(row(status, attempt)::text, ',' ORDER BY id)"
                            " FROM job_events"),
                     "(queued,0),(running,1),(succeeded,1)");
    ck_assert_int_eq(iv(db, "SELECT count(*) FROM job_events WHERE job_id <> %lld", id), 0);
    long long want[3];
    for (int i = 0; i < 3; i++)
        want[i] = iv(db, "SELECT id FROM job_events ORDER BY id OFFSET %d LIMIT 1", i);
    ck_assert(want[0] < want[1] && want[1] < want[2]);

    long long got[8];
    int n = read_notifies(l, got, 8, 3);
    ck_assert_int_eq(n, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(got[i], want[i]);

    /* A retry and a rescue are events too, with their messages. */
    long long id2 = enqueue_ok(db, "B1", 1, "2024-04-10", 0, TP_ENQUEUE_CREATED);
    tp_job j2 = claim_one(db, "w1");
    ck_assert_int_eq(
        tp_queue_fail(db, &j2, "w1", "fetch", "fetch_error", 1, "no answer", 0.001, NULL, &e),
        TP_OK);
    ck_assert_str_eq(sv(db,
                        "SELECT string_agg(row(status, attempt, message)::text, ',' ORDER BY id)"
                        " FROM job_events WHERE job_id = %lld",
                        id2),
                     "(queued,0,),(running,1,),(queued,1,\"no answer\")");
    n = read_notifies(l, got, 8, 3);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(got[2], iv(db, "SELECT max(id) FROM job_events"));
    tp_db_close(l);
    tp_db_close(db);
}
END_TEST

/* ------------------------------------------------------------- suite */

static Suite *suite(void)
{
    Suite *s = suite_create("queue");
    TCase *t = tcase_create("migrations");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, migrate_fresh_and_rerun);
    tcase_add_test(t, migrate_concurrent);
    tcase_add_test(t, migrate_refuses_newer_database);
    tcase_add_test(t, connect_unreachable_hides_password);
    tcase_add_test(t, prepared_statements);
    suite_add_tcase(s, t);

    t = tcase_create("enqueue");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, enqueue_unknown_branch_and_terminal);
    tcase_add_test(t, enqueue_concurrent_same_key);
    tcase_add_test(t, enqueue_force);
    tcase_add_test(t, enqueue_force_while_completing);
    tcase_add_test(t, force_asks_for_a_fetch);
    tcase_add_test(t, enqueue_range);
    tcase_add_test(t, enqueue_range_one_transaction);
    tcase_add_test(t, enqueue_single_while_range_in_flight);
    tcase_add_test(t, enqueue_range_force_while_completing);
    suite_add_tcase(s, t);

    t = tcase_create("claims");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, claims_concurrent_never_double);
    suite_add_tcase(s, t);

    t = tcase_create("fencing");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, fencing_after_rescue);
    tcase_add_test(t, fencing_terminated_connection);
    suite_add_tcase(s, t);

    t = tcase_create("failures");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, backoff_bounds);
    tcase_add_test(t, fail_retryable_and_not);
    tcase_add_test(t, fail_keeps_forced_rerun);
    tcase_add_test(t, poison_job_fails_at_max_attempts);
    tcase_add_test(t, rescue_on_last_attempt_fails);
    tcase_add_test(t, fail_large_job_id);
    suite_add_tcase(s, t);

    t = tcase_create("cancel");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, cancel_queued_and_running);
    tcase_add_test(t, cancel_dead_worker_or_finished);
    tcase_add_test(t, single_job_statements_probe_primary_key);
    suite_add_tcase(s, t);

    t = tcase_create("events");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, events_and_notify);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    main_url = tu_pg_start();
    if (!main_url) {
        fprintf(stderr, "test_queue: cannot start a PostgreSQL for the tests "
                        "(tests/fixtures/pg/pgctl.sh; is the postgresql package installed?)\n");
        return EXIT_FAILURE;
    }
    int failed = tu_run_suite(suite());
    tu_pg_stop();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
