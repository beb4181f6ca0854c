/* session.h -- who may use the API right now (the inside of tp_auth, api.h):
 * every user's current state and the revoked tokens, kept in memory by a
 * thread that LISTENs on TP_CHANNEL_USERS and reloads both on each
 * notification; checks go to the database instead whenever that thread is
 * not listening (fail closed).  Also what logins share: a connection of
 * their own (never the request pool's, never held while hashing), the
 * bound on password hashes running at once, a dummy hash for unknown
 * users, and counters for /metrics.  Private to api/. */
#ifndef TP_SESSION_H
#define TP_SESSION_H

#include <sys/socket.h>

#include "http.h"

/* What a verified token says. */
typedef struct tp_claims {
    char sub[64];
    tp_role role;  /* the role when it was issued (the user's current one rules) */
    long long exp; /* Unix seconds */
    long long ver; /* the user's token version when issued (0 when absent) */
    char jti[65];  /* its id; a token without one is named by its sha256 */
} tp_claims;

/* Decode and verify a bearer token: HS256 with `secret` only (alg "none"
 * and any other algorithm refused), not expired, a known role, a subject.
 * 0 with *c filled, or -1 with a reason (static string). */
int tp_token_claims(const char *secret, const char *token, tp_claims *c, const char **why);

/* The token's user as things are now: 0 with *role the user's current role;
 * 1 when refused, *why saying why (static); TP_EDB when the database had to
 * be asked and could not answer (err set).  `db` (may be NULL) is a
 * connection the caller holds, used instead of the shared one when the
 * database must be asked. */
int tp__auth_check(tp_auth *a, const tp_claims *c, tp_db *db, tp_role *role, const char **why,
                   tp_error *err);

/* A change this process made (a logout): checks go to the database until
 * the in-memory state has been reloaded after it. */
void tp__auth_changed(tp_auth *a);

/* The logins' connection, for one short use: NULL with err set when the
 * database cannot be reached (nothing held), else give it back with
 * tp__auth_db_put. */
tp_db *tp__auth_db_get(tp_auth *a, tp_error *err);
void tp__auth_db_put(tp_auth *a, tp_db *db);

/* Run one password verification under the bound: 1 when `password` matches
 * `hash` (the dummy hash when `hash` is NULL, which never matches), 0 when
 * not; -1 when too many logins wait already (nothing run). */
int tp__auth_verify(tp_auth *a, const char *hash, const char *password);

/* The failed-login budget of an account (tp_api_opts.rate_login). */
int tp__auth_free_failures(const tp_auth *a);

/* A login refused by the throttle, counted. */
void tp__auth_count_throttled(tp_auth *a);

/* Prometheus text of the counters, appended to `out` (a growing string). */
void tp__auth_metrics(tp_auth *a, char **out, size_t *len, size_t *cap);

/* The client's address as the server's socket sees it (the peer): into *sa
 * (may be NULL) and as text; 0, or -1 when unknown (text "?"). */
int tp__client_address(tp_req *req, struct sockaddr_storage *sa, char text[64]);

/* The Authorization header's bearer token, or NULL. */
const char *tp__bearer(tp_req *req);

#endif
