/* users.c -- see users.h. */
#include "users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

#define WINDOW "interval '900 seconds'" /* TP_LOGIN_WINDOW_S */

static void state_from(const PGresult *r, int row, int col, tp_user_state *u)
{
    snprintf(u->role, sizeof u->role, "%s", PQgetvalue(r, row, col));
    u->token_version = tp_db_ll(r, row, col + 1);
    u->disabled = PQgetvalue(r, row, col + 2)[0] == 't';
}

int tp_user_login_read(tp_db *db, const char *name, const char *client, int free_failures,
                       tp_login_read *out, tp_error *err)
{
    char freef[16];
    snprintf(freef, sizeof freef, "%d", free_failures);
    const char *p[] = {name, client, freef};
    /* the account's failures in the window, from every address; this
     * address's last one; the wait: 2^(failures - free) s after that */
    PGresult *r = tp_db_query(
        db,
        "WITH f AS (SELECT coalesce(sum(failures), 0) n, max(last_failed_at) FILTER (WHERE"
        " client = $2) mine FROM login_failures WHERE username = $1 AND last_failed_at > now() "
        "- " WINDOW ")"
        " SELECT u.password_hash, u.role, u.token_version, u.disabled,"
        " CASE WHEN $3::int <= 0 OR f.n < $3::int OR f.mine IS NULL THEN 0"
        " ELSE greatest(0, ceil(extract(epoch FROM f.mine + make_interval(secs =>"
        " least(900, 2 ^ least(20, f.n - $3::int))) - now())))::int END"
        " FROM f LEFT JOIN users u ON u.username = $1",
        3, p, err);
    if (!r)
        return TP_EDB;
    memset(out, 0, sizeof *out);
    out->found = !PQgetisnull(r, 0, 0);
    if (out->found) {
        snprintf(out->hash, sizeof out->hash, "%s", PQgetvalue(r, 0, 0));
        snprintf(out->user.name, sizeof out->user.name, "%s", name);
        state_from(r, 0, 1, &out->user);
    }
    out->wait_s = (int)tp_db_ll(r, 0, 4);
    PQclear(r);
    return TP_OK;
}

int tp_user_login_failed(tp_db *db, const char *name, const char *client, tp_error *err)
{
    const char *p[] = {name, client};
    /* at most 100 stale rows go with each failure (never this one, which the
     * INSERT may update; never one another failure is dropping) */
    return tp_db_exec(
        db,
        "WITH gone AS (DELETE FROM login_failures WHERE ctid = ANY (ARRAY(SELECT ctid FROM"
        " login_failures WHERE last_failed_at < now() - " WINDOW
        " AND NOT (username = $1 AND client = $2) LIMIT 100 FOR UPDATE SKIP LOCKED)))"
        " INSERT INTO login_failures (username, client, failures, last_failed_at)"
        " VALUES ($1, $2, 1, now()) ON CONFLICT (username, client) DO UPDATE SET failures ="
        " CASE WHEN login_failures.last_failed_at < now() - " WINDOW " THEN 1"
        " ELSE login_failures.failures + 1 END, last_failed_at = now()",
        2, p, err);
}

int tp_user_login_succeeded(tp_db *db, const char *name, const char *client, tp_error *err)
{
    const char *p[] = {name, client};
    return tp_db_exec(db, "DELETE FROM login_failures WHERE username = $1 AND client = $2", 2, p,
                      err);
}

int tp_user_state_get(tp_db *db, const char *name, const char *jti, tp_user_state *out, int *found,
                      int *revoked, tp_error *err)
{
    const char *p[] = {name, jti};
    PGresult *r = tp_db_query(db,
                              "SELECT u.role, u.token_version, u.disabled, EXISTS (SELECT 1 FROM"
                              " revoked_tokens WHERE jti = $2) FROM users u WHERE username = $1",
                              2, p, err);
    if (!r)
        return TP_EDB;
    memset(out, 0, sizeof *out);
    *found = PQntuples(r) == 1;
    *revoked = 0;
    if (*found) {
        snprintf(out->name, sizeof out->name, "%s", name);
        state_from(r, 0, 0, out);
        *revoked = PQgetvalue(r, 0, 3)[0] == 't';
    }
    PQclear(r);
    return TP_OK;
}

int tp_users_each(tp_db *db, int (*cb)(void *ud, const tp_user_state *u), void *ud, tp_error *err)
{
    PGresult *r = tp_db_query(db,
                              "SELECT username, role, token_version, disabled FROM users"
                              " ORDER BY username COLLATE \"C\"",
                              0, NULL, err);
    if (!r)
        return TP_EDB;
    int rc = TP_OK;
    for (int i = 0; rc == TP_OK && i < PQntuples(r); i++) {
        tp_user_state u = {.token_version = 0};
        snprintf(u.name, sizeof u.name, "%s", PQgetvalue(r, i, 0));
        state_from(r, i, 1, &u);
        rc = cb(ud, &u);
    }
    PQclear(r);
    return rc;
}

int tp_revoked_each(tp_db *db, int (*cb)(void *ud, const char *jti), void *ud, tp_error *err)
{
    PGresult *r = tp_db_query(db,
                              "SELECT jti FROM revoked_tokens WHERE expires_at > now()"
                              " ORDER BY jti COLLATE \"C\"",
                              0, NULL, err);
    if (!r)
        return TP_EDB;
    int rc = TP_OK;
    for (int i = 0; rc == TP_OK && i < PQntuples(r); i++)
        rc = cb(ud, PQgetvalue(r, i, 0));
    PQclear(r);
    return rc;
}

int tp_token_revoke(tp_db *db, const char *jti, const char *name, long long expires_at,
                    tp_error *err)
{
    char exp[24];
    snprintf(exp, sizeof exp, "%lld", expires_at);
    const char *p[] = {jti, name, exp};
    return tp_db_exec(db,
                      "WITH gone AS (DELETE FROM revoked_tokens WHERE ctid = ANY (ARRAY(SELECT"
                      " ctid FROM revoked_tokens WHERE expires_at < now() AND jti <> $1"
                      " LIMIT 100 FOR UPDATE SKIP LOCKED)))"
                      " INSERT INTO revoked_tokens (jti, username, expires_at)"
                      " VALUES ($1, $2, to_timestamp($3::bigint)) ON CONFLICT (jti) DO NOTHING",
                      3, p, err);
}

int tp_user_save(tp_db *db, const char *name, const char *hash, const char *role, tp_error *err)
{
    const char *p[] = {name, hash, role};
    return tp_db_exec(db,
                      "INSERT INTO users (username, password_hash, role) VALUES ($1, $2, $3)"
                      " ON CONFLICT (username) DO UPDATE SET password_hash ="
                      " EXCLUDED.password_hash, role = EXCLUDED.role,"
                      " token_version = users.token_version + 1",
                      3, p, err);
}

/* An UPDATE or DELETE of one user by name ($1): TP_ENOTFOUND when none. */
static int one_user(tp_db *db, const char *sql, int n, const char *const *p, tp_error *err)
{
    PGresult *r = tp_db_query(db, sql, n, p, err);
    if (!r)
        return TP_EDB;
    int rc = PQntuples(r) == 1 ? TP_OK : tp_error_set(err, TP_ENOTFOUND, "no such user");
    PQclear(r);
    return rc;
}

int tp_user_set_password(tp_db *db, const char *name, const char *hash, tp_error *err)
{
    const char *p[] = {name, hash};
    return one_user(db,
                    "UPDATE users SET password_hash = $2, token_version = token_version + 1"
                    " WHERE username = $1 RETURNING 1",
                    2, p, err);
}

int tp_user_set_disabled(tp_db *db, const char *name, int disabled, tp_error *err)
{
    const char *p[] = {name, disabled ? "true" : "false"};
    return one_user(db,
                    "UPDATE users SET disabled = $2::boolean, token_version = token_version + 1"
                    " WHERE username = $1 RETURNING 1",
                    2, p, err);
}

int tp_user_remove(tp_db *db, const char *name, tp_error *err)
{
    const char *p[] = {name};
    return one_user(db, "DELETE FROM users WHERE username = $1 RETURNING 1", 1, p, err);
}

char *tp_users_json(tp_db *db, tp_error *err)
{
    return tp_db_json(db,
                      "SELECT coalesce(json_agg(json_build_object('username', username, 'role',"
                      " role, 'disabled', disabled, 'created_at', created_at) ORDER BY username"
                      " COLLATE \"C\"), '[]')::text FROM users",
                      0, NULL, err);
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
