/* db.h -- the PostgreSQL connection (libpq), schema migrations and record
 * partitions.
 *
 * The database is tillpipe's one source of truth and its job queue.  Its
 * address comes from --database or $TILLPIPE_DATABASE_URL (a libpq URL or
 * keyword string); messages never repeat it, since it may hold a password.
 * All SQL with values is parameterised.
 */
#ifndef TP_DB_H
#define TP_DB_H

#include <libpq-fe.h>

#include "core/error.h"

typedef struct tp_db_stmt tp_db_stmt;

typedef struct tp_db {
    PGconn *conn;        /* read-only for callers; owned */
    tp_db_stmt *stmts;   /* statements prepared on this connection (db.c) */
    int nstmts, stmt_gen;
} tp_db;

/* The database URL: `opt` if given, else $TILLPIPE_DATABASE_URL, else NULL. */
const char *tp_db_url(const char *opt);

/* Connect.  NULL with err set (TP_EDB) when the server cannot be reached. */
tp_db *tp_db_connect(const char *url, tp_error *err);

/* Connect, retrying with exponential backoff (0.5 s doubling to 30 s) until
 * connected or *stop becomes non-zero (then NULL).  Long-running commands
 * use this; one-shot commands fail at once with tp_db_connect. */
tp_db *tp_db_connect_retry(const char *url, volatile int *stop, tp_error *err);

void tp_db_close(tp_db *db);

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

/* Run a statement, discarding its result; 0 or TP_EDB. */
int tp_db_exec(tp_db *db, const char *sql, int nparams, const char *const *params,
               tp_error *err);

/* End a transaction: COMMIT when rc is 0 (returning its result), else
 * ROLLBACK and return rc unchanged. */
int tp_db_end(tp_db *db, int rc, tp_error *err);

/* Reconnect a broken connection in place (PQreset); the server forgot the
 * prepared statements, so does the cache.  0 or TP_EDB. */
int tp_db_reset(tp_db *db, tp_error *err);

/* 1 when the connection is broken (after an error). */
int tp_db_broken(const tp_db *db);

/* Record a mutating action in audit_log: who (e.g. "cli:alice"), what,
 * on what, and details as JSON text (may be NULL).  Best effort for the
 * caller's own decision; returns 0 or TP_EDB. */
int tp_db_audit(tp_db *db, const char *actor, const char *action, const char *target,
                const char *details_json, tp_error *err);

/* The actor of a command-line action: "cli:<login name>". */
const char *tp_db_cli_actor(void);

/* Apply pending migrations in order, each in its own transaction, under an
 * advisory lock so concurrent callers wait for each other.  Refuses (TP_EDB)
 * a database migrated by a newer tillpipe.  *applied gets the count. */
int tp_db_migrate(tp_db *db, int *applied, tp_error *err);

/* The database's schema version (0 = never migrated). */
int tp_db_schema_version(tp_db *db, int *version, tp_error *err);

/* Check the schema is exactly what this tillpipe knows; a clear error
 * telling to run `tillpipe migrate` (or upgrade) otherwise. */
int tp_db_check_schema(tp_db *db, tp_error *err);

/* Make sure the records partition for `year` exists (idempotent, safe with
 * concurrent callers).  Run it outside the load transaction. */
int tp_db_ensure_partition(tp_db *db, int year, tp_error *err);

#endif
