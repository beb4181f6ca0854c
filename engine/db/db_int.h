/* db_int.h -- what the modules of engine/db/ share: the connection's
 * insides, statements with parameters, and the fence of a job's attempt.
 * Private to engine/db/ (and the tests of the queue); callers use the
 * modules' headers. */
#ifndef TP_DB_INT_H
#define TP_DB_INT_H

#include <libpq-fe.h>

#include "db.h"

typedef struct tp_db_stmt tp_db_stmt;

struct tp_db {
    PGconn *conn;      /* owned */
    tp_db_stmt *stmts; /* statements prepared on this connection (db.c) */
    int nstmts, stmt_gen;
    int peer_timeout; /* seconds, 0: the kernel's (tp_db_set_peer_timeout) */
};

/* Run a statement with text parameters.  Returns the result (PQclear it) or
 * NULL with err set (TP_EDB, the server's message).
 *
 * A statement with parameters is prepared on the connection the first time
 * it is run and executed by name afterwards (a bounded cache per
 * connection, keyed by the SQL text): the server parses it once, and plans
 * it once when a generic plan serves (PostgreSQL decides that).  Statements
 * without parameters -- transaction control, COPY, several statements --
 * go as they are. */
PGresult *tp_db_query(tp_db *db, const char *sql, int nparams, const char *const *params,
                      tp_error *err);

/* tp_db_query of a statement whose one parameter is an id. */
PGresult *tp_db_query_id(tp_db *db, const char *sql, long long id, tp_error *err);

/* Run a statement, discarding its result; 0 or TP_EDB. */
int tp_db_exec(tp_db *db, const char *sql, int nparams, const char *const *params, tp_error *err);

/* The one value of a statement answering JSON text, as a new string
 * (caller frees); NULL with err set -- TP_ENOTFOUND (message "not found")
 * when there is no row or the value is NULL. */
char *tp_db_json(tp_db *db, const char *sql, int nparams, const char *const *params, tp_error *err);

/* A failure reported by the server, as one line: TP_EDB with "what: msg". */
int tp_db_fail(tp_error *err, const char *what, const char *msg);

/* The value of row i, column c as a number (the server formatted it). */
long long tp_db_ll(const PGresult *r, int i, int c);

/* ---- rows one at a time (files.c's objects, records.c's records) ---- */

/* Send a statement whose rows are then read one by one (PQgetResult in
 * single-row mode) until tp_db_drain or tp_db_cancel.  0, or TP_EDB with err
 * set and nothing left pending on the connection. */
int tp_db_send_rows(tp_db *db, const char *sql, int nparams, const char *const *params,
                    tp_error *err);

/* The next row of the statement, while *done is 0: 1 with *row (a
 * single-row result; PQclear it), 0 at its end, TP_EDB when it failed (err
 * set, when not NULL; the rest drained).  *done becomes 1 at the end and on
 * failure. */
int tp_db_next_row(tp_db *db, int *done, PGresult **row, tp_error *err);

/* Read what the server still sends of the statement and discard it. */
void tp_db_drain(tp_db *db);

/* A statement not read to its end: ask the server to stop it, then drain. */
void tp_db_cancel(tp_db *db);

/* The fence of an attempt: a statement about a job that only this attempt
 * may make names it by (job id, attempt, lease owner) -- always its first
 * three parameters, with TP_FENCE as the condition on them.  Further
 * parameters are added after (tp_fence_add returns each one's number).
 *
 * TP_JOB_IN(states) is the condition on job $1 being in one of `states`
 * (quoted SQL literals).  Both compare the state as text on purpose:
 * `status = 'running'` lets the planner prove the predicate of the partial
 * indexes on live jobs (jobs_live_key, jobs_claimable) and -- planning with
 * the statistics of a quieter moment, and keeping that plan on a long-lived
 * connection -- scan such an index end to end filtering on id, instead of
 * probing the primary key: during a backfill, with thousands of live jobs,
 * every fenced statement would cost O(live jobs). */
#define TP_FENCE "id = $1 AND attempts = $2 AND lease_owner = $3 AND status::text = 'running'"
#define TP_JOB_IN(states) "id = $1 AND status::text IN (" states ")"
#define TP_FENCE_MAX_PARAMS 16

typedef struct tp_fence {
    char id[24], attempt[16];
    const char *p[TP_FENCE_MAX_PARAMS];
    int n;
} tp_fence;

/* ---- list pages (lists.c; lists.h says what a page is) ---- */

/* The filters of a list as SQL conditions with their values as parameters
 * $1..$n. */
typedef struct tp_list_filter {
    char where[768];
    size_t len;
    const char *p[16];
    int n;
} tp_list_filter;

/* Add a condition; `cond` holds one "?" where its parameter's number goes
 * ("pos = $?::int").  Every condition is one of ours, never input. */
void tp_list_filter_add(tp_list_filter *f, const char *cond, const char *value);

/* What a list is. */
typedef struct tp_list_def {
    const char *table;
    const char *order; /* SQL ORDER BY of the rows, e.g. "id DESC" */
    const char *item;  /* SQL of one row's JSON, over the row as `j` */
    const char *key;   /* SQL of a row's key text (the cursor's content) */
    const char *after; /* SQL of "after the cursor", its values as $? */
} tp_list_def;

struct tp_list_page;
struct tp_list_totals;
/* One page: `cursor` the `ncursor` values for d->after (NULL on the first
 * page).  0 or TP_EDB / TP_ENOMEM with err set. */
int tp_list_run(tp_db *db, struct tp_list_totals *totals, const tp_list_def *d, tp_list_filter *f,
                int limit, const char *const *cursor, int ncursor, struct tp_list_page *out,
                tp_error *err);

struct tp_job;
void tp_fence_init(tp_fence *f, const struct tp_job *job, const char *owner);
int tp_fence_add(tp_fence *f, const char *value);

/* Run a fenced statement whose first column, on its one row, is the job's
 * cancel_requested (*cancel, which may be NULL).  TP_ELOST when no row came
 * back: the attempt no longer owns the job. */
int tp_fence_run(tp_db *db, const char *sql, const tp_fence *f, int *cancel, tp_error *err);

#endif
