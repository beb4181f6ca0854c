/* db.h -- the PostgreSQL connection (libpq) and the schema.
 *
 * The database is tillpipe's one source of truth and its job queue, and
 * engine/db/ is the one place that speaks SQL: every statement lives in the
 * module of the table it serves (queue.h, load.h, branches.h, ...), each
 * parameterised.  A tp_db is one connection, used by one thread at a time;
 * its address comes from --database or $TILLPIPE_DATABASE_URL (a libpq URL
 * or keyword string) and messages never repeat it, since it may hold a
 * password.
 */
#ifndef TP_DB_H
#define TP_DB_H

#include "core/error.h"

typedef struct tp_db tp_db;

/* The database URL: `opt` if given, else $TILLPIPE_DATABASE_URL, else NULL. */
const char *tp_db_url(const char *opt);

/* Connect.  NULL with err set (TP_EDB) when the server cannot be reached. */
tp_db *tp_db_connect(const char *url, tp_error *err);

/* Connect, retrying with exponential backoff (0.5 s doubling to 30 s) until
 * connected or *stop becomes non-zero (then NULL).  Long-running commands
 * use this; one-shot commands fail at once with tp_db_connect. */
tp_db *tp_db_connect_retry(const char *url, volatile int *stop, tp_error *err);

/* Close; NULL is a no-op. */
void tp_db_close(tp_db *db);

/* Reconnect a broken connection in place; prepared statements are
 * forgotten.  0 or TP_EDB. */
int tp_db_reset(tp_db *db, tp_error *err);

/* 1 when the connection is broken (after an error). */
int tp_db_broken(const tp_db *db);

/* Transactions: BEGIN; then tp_db_end(db, rc) commits when rc is 0
 * (returning the commit's result), else rolls back and returns rc. */
int tp_db_begin(tp_db *db, tp_error *err);
int tp_db_end(tp_db *db, int rc, tp_error *err);

/* Roll back a transaction left open, if any (a connection given back to a
 * pool after a failed request). */
void tp_db_abandon(tp_db *db);

/* Statements on this connection give up waiting for a lock after `ms`
 * milliseconds (0: wait forever).  0 or TP_EDB. */
int tp_db_set_lock_timeout(tp_db *db, int ms, tp_error *err);

/* Give up on a peer that has gone silent for about `seconds` (1 or more): a
 * host cut off from the network, a server that vanished.  TCP keepalives
 * and a user timeout on both ends of a TCP connection -- this socket, and
 * the server's for this session (SET tcp_keepalives_*, tcp_user_timeout) --
 * so that the server ends the session of a client it cannot reach, rolling
 * back its transaction and releasing its row locks (a worker cut off inside
 * its load would otherwise keep its job locked, and unrescuable, for the
 * kernel's two hours), and this side sees a dead server as an error.  Kept
 * across tp_db_reset; nothing to do on a unix socket.  0 or TP_EDB. */
int tp_db_set_peer_timeout(tp_db *db, int seconds, tp_error *err);

/* LISTEN on `channel` (one of the TP_CHANNEL_* names).  0 or TP_EDB. */
#define TP_CHANNEL_JOB_EVENTS "tillpipe_job_events" /* a job's status changed */
#define TP_CHANNEL_LISTS "tillpipe_lists"           /* jobs or records changed */
#define TP_CHANNEL_USERS "tillpipe_users"           /* a user or a revoked token changed */
int tp_db_listen(tp_db *db, const char *channel, tp_error *err);

/* Wait up to `timeout_ms` for notifications on this connection -- and, when
 * `watch_fd` >= 0, for that socket's peer to hang up (*hangup is then set).
 * Returns the number of notifications consumed (0 on timeout or hangup), or
 * -1 when the connection is broken. */
int tp_db_wait(tp_db *db, int timeout_ms, int watch_fd, int *hangup);

/* Apply pending migrations in order, each in its own transaction, under an
 * advisory lock so concurrent callers wait for each other.  Refuses (TP_EDB)
 * a database migrated by a newer tillpipe.  *applied gets the count. */
int tp_db_migrate(tp_db *db, int *applied, tp_error *err);

/* The database's schema version (0 = never migrated). */
int tp_db_schema_version(tp_db *db, int *version, tp_error *err);

/* Check the schema is exactly what this tillpipe knows; a clear error
 * telling to run `tillpipe migrate` (or upgrade) otherwise. */
int tp_db_check_schema(tp_db *db, tp_error *err);

#endif
