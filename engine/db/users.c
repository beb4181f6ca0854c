/* users.c -- see users.h. */
#include "users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

int tp_user_get(tp_db *db, const char *name, char hash[256], char role[16], int *found,
                tp_error *err)
{
    const char *p[] = {name};
    PGresult *r =
        tp_db_query(db, "SELECT password_hash, role FROM users WHERE username = $1", 1, p, err);
    if (!r)
        return TP_EDB;
    *found = PQntuples(r) == 1;
    if (*found) {
        snprintf(hash, 256, "%s", PQgetvalue(r, 0, 0));
        snprintf(role, 16, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return TP_OK;
}

int tp_user_save(tp_db *db, const char *name, const char *hash, const char *role, tp_error *err)
{
    const char *p[] = {name, hash, role};
    return tp_db_exec(db,
                      "INSERT INTO users (username, password_hash, role) VALUES ($1, $2, $3)"
                      " ON CONFLICT (username) DO UPDATE SET password_hash ="
                      " EXCLUDED.password_hash, role = EXCLUDED.role",
                      3, p, err);
}

int tp_idem_lock(tp_db *db, const char *actor, const char *key, tp_error *err)
{
    const char *p[] = {actor, key};
    return tp_db_exec(db, "SELECT pg_advisory_lock(hashtextextended($1 || '/' || $2, 7))", 2, p,
                      err);
}

void tp_idem_unlock(tp_db *db, const char *actor, const char *key)
{
    const char *p[] = {actor, key};
    tp_error err = {0};
    tp_db_exec(db, "SELECT pg_advisory_unlock(hashtextextended($1 || '/' || $2, 7))", 2, p, &err);
}

int tp_idem_get(tp_db *db, const char *actor, const char *key, char hash[65], int *found,
                unsigned *status, char **body, tp_error *err)
{
    const char *p[] = {actor, key};
    PGresult *r = tp_db_query(db,
                              "SELECT request_hash, status, response::text FROM idempotency_keys"
                              " WHERE actor = $1 AND key = $2"
                              " AND created_at > now() - interval '1 day'",
                              2, p, err);
    if (!r)
        return TP_EDB;
    *found = PQntuples(r) == 1;
    *body = NULL;
    int rc = TP_OK;
    if (*found) {
        snprintf(hash, 65, "%s", PQgetvalue(r, 0, 0));
        *status = (unsigned)tp_db_ll(r, 0, 1);
        if (!(*body = strdup(PQgetvalue(r, 0, 2))))
            rc = tp_error_set(err, TP_ENOMEM, "out of memory");
    }
    PQclear(r);
    return rc;
}

int tp_idem_put(tp_db *db, const char *actor, const char *key, const char *hash, unsigned status,
                const char *body, tp_error *err)
{
    char st[16];
    snprintf(st, sizeof st, "%u", status);
    const char *p[] = {actor, key, hash, st, body};
    return tp_db_exec(db,
                      "INSERT INTO idempotency_keys (actor, key, request_hash, status, response)"
                      " VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (actor, key) DO UPDATE"
                      " SET request_hash = EXCLUDED.request_hash, status = EXCLUDED.status,"
                      " response = EXCLUDED.response, created_at = now()",
                      5, p, err);
}
