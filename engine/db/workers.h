/* workers.h -- the workers table: each worker process announces itself
 * with every heartbeat, so readiness checks can tell whether any is alive. */
#ifndef TP_DB_WORKERS_H
#define TP_DB_WORKERS_H

#include "core/error.h"
#include "db.h"

#define TP_WORKER_ALIVE_SECONDS 120 /* a heartbeat this recent: alive */

/* `id` (of `kind`: "worker", or "noop" for the queue benchmark) is alive
 * now.  0 or TP_EDB. */
int tp_worker_seen(tp_db *db, const char *id, const char *kind, tp_error *err);

/* `id` has stopped (best effort). */
void tp_worker_gone(tp_db *db, const char *id);

/* How many workers of kind "worker" are alive.  0 or TP_EDB. */
int tp_workers_alive(tp_db *db, long long *n, tp_error *err);

#endif
