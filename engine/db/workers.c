/* workers.c -- see workers.h. */
#include "workers.h"

#include "db_int.h"

int tp_worker_seen(tp_db *db, const char *id, const char *kind, tp_error *err)
{
    const char *p[] = {id, kind};
    return tp_db_exec(db,
                      "INSERT INTO workers (id, kind, seen_at) VALUES ($1, $2, now())"
                      " ON CONFLICT (id) DO UPDATE SET seen_at = now()",
                      2, p, err);
}

void tp_worker_gone(tp_db *db, const char *id)
{
    const char *p[] = {id};
    tp_error err = {0};
    tp_db_exec(db, "DELETE FROM workers WHERE id = $1", 1, p, &err);
}

int tp_workers_alive(tp_db *db, long long *n, tp_error *err)
{
    PGresult *r = tp_db_query(db,
                              "SELECT count(*) FROM workers WHERE kind = 'worker'"
                              " AND seen_at > now() - interval '2 minutes'",
                              0, NULL, err);
    if (!r)
        return TP_EDB;
    *n = tp_db_ll(r, 0, 0);
    PQclear(r);
    return TP_OK;
}
