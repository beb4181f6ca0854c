/* users.h -- the API's users (argon2id password hashes, made by the
 * caller; a token version and a disabled flag that take tokens back),
 * revoked tokens, the failed logins of the login throttle, and the answers
 * kept for Idempotency-Key requests.  Every change of users or
 * revoked_tokens is announced on TP_CHANNEL_USERS (sql/007_auth.sql). */
#ifndef TP_DB_USERS_H
#define TP_DB_USERS_H

#include "core/error.h"
#include "db.h"

/* A user as every API request is checked against it: the role in force
 * now, the token version (tokens issued under another are refused) and
 * whether the user is disabled. */
typedef struct tp_user_state {
    char name[65];
    char role[16];
    long long token_version;
    int disabled;
} tp_user_state;

/* What a login reads, in one statement: the user (*found 0 when there is
 * none; then the rest is empty) and the throttle.  `free_failures` is how
 * many failed logins an account takes within TP_LOGIN_WINDOW_S (from all
 * addresses together) before each address that failed on it waits: 1 s
 * after its last failure, doubling with each failure beyond, up to
 * TP_LOGIN_MAX_WAIT_S; 0 turns the throttle off.  *wait_s > 0 when `client`
 * must still wait that long.  0 or TP_EDB. */
#define TP_LOGIN_WINDOW_S 900
#define TP_LOGIN_MAX_WAIT_S 900
typedef struct tp_login_read {
    int found;
    char hash[256];
    tp_user_state user;
    int wait_s;
} tp_login_read;
int tp_user_login_read(tp_db *db, const char *name, const char *client, int free_failures,
                       tp_login_read *out, tp_error *err);

/* A failed login of `name` (a user or not) from `client` counted; old
 * counts are dropped on the way.  A successful one clears that address's
 * count on that account.  0 or TP_EDB. */
int tp_user_login_failed(tp_db *db, const char *name, const char *client, tp_error *err);
int tp_user_login_succeeded(tp_db *db, const char *name, const char *client, tp_error *err);

/* The user's current state (*found 0 when there is no such user) and
 * whether token `jti` was revoked.  0 or TP_EDB. */
int tp_user_state_get(tp_db *db, const char *name, const char *jti, tp_user_state *out, int *found,
                      int *revoked, tp_error *err);

/* Every user, in bytewise order of name; then the jti of every revoked
 * token not yet expired, in bytewise order.  `cb` returning < 0 stops (that
 * value is returned).  0, TP_EDB, or the callback's value. */
int tp_users_each(tp_db *db, int (*cb)(void *ud, const tp_user_state *u), void *ud, tp_error *err);
int tp_revoked_each(tp_db *db, int (*cb)(void *ud, const char *jti), void *ud, tp_error *err);

/* Revoke token `jti` of `name`, valid until `expires_at` (Unix seconds);
 * revocations past their token's expiry are dropped on the way.  0 or
 * TP_EDB. */
int tp_token_revoke(tp_db *db, const char *jti, const char *name, long long expires_at,
                    tp_error *err);

/* Add a user, or give an existing one this hash and role (and a new token
 * version: its tokens so far are refused).  0 or TP_EDB. */
int tp_user_save(tp_db *db, const char *name, const char *hash, const char *role, tp_error *err);

/* A new password; disabled or enabled; removed.  Each moves the token
 * version on.  0, TP_ENOTFOUND (no such user) or TP_EDB. */
int tp_user_set_password(tp_db *db, const char *name, const char *hash, tp_error *err);
int tp_user_set_disabled(tp_db *db, const char *name, int disabled, tp_error *err);
int tp_user_remove(tp_db *db, const char *name, tp_error *err);

/* Every user as a JSON array of {"username", "role", "disabled",
 * "created_at"} (caller frees); NULL with err set. */
char *tp_users_json(tp_db *db, tp_error *err);

/* Idempotency keys: the first answer to (actor, key) is kept a day.
 * tp_idem_lock serialises requests with one key (a session-level advisory
 * lock: tp_idem_unlock it on the same connection); tp_idem_get finds a kept
 * answer (*found; *status, and *body which the caller frees); tp_idem_put
 * keeps one. */
int tp_idem_lock(tp_db *db, const char *actor, const char *key, tp_error *err);
void tp_idem_unlock(tp_db *db, const char *actor, const char *key);
int tp_idem_get(tp_db *db, const char *actor, const char *key, char hash[65], int *found,
                unsigned *status, char **body, tp_error *err);
int tp_idem_put(tp_db *db, const char *actor, const char *key, const char *hash, unsigned status,
                const char *body, tp_error *err);

#endif
