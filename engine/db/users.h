/* users.h -- the API's users (argon2id password hashes, made by the
 * caller) and the answers kept for Idempotency-Key requests. */
#ifndef TP_DB_USERS_H
#define TP_DB_USERS_H

#include "core/error.h"
#include "db.h"

/* A user's password hash and role: *found 0 when there is no such user.
 * 0 or TP_EDB. */
int tp_user_get(tp_db *db, const char *name, char hash[256], char role[16], int *found,
                tp_error *err);

/* Add a user, or give an existing one this hash and role.  0 or TP_EDB. */
int tp_user_save(tp_db *db, const char *name, const char *hash, const char *role, tp_error *err);

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
