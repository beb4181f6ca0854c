/* auth.c -- tokens (JWT HS256 with libjwt), passwords (argon2id with
 * libsodium), POST /api/auth/login and /logout, and the check of every
 * request's token against its user as things are now (session.c).  A token
 * carries sub, role, jti, ver (the user's token version), iat and exp;
 * verification accepts HS256 with the server's secret only. */
#include <errno.h>
#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/users.h"
#include "routes.h"
#include "session.h"

const char *tp_role_name(tp_role r)
{
    switch (r) {
    case TP_ROLE_VIEWER: return "viewer";
    case TP_ROLE_OPERATOR: return "operator";
    case TP_ROLE_ADMIN: return "admin";
    default: return "none";
    }
}

tp_role tp_role_parse(const char *s)
{
    if (!s)
        return TP_ROLE_NONE;
    if (strcmp(s, "viewer") == 0)
        return TP_ROLE_VIEWER;
    if (strcmp(s, "operator") == 0)
        return TP_ROLE_OPERATOR;
    if (strcmp(s, "admin") == 0)
        return TP_ROLE_ADMIN;
    return TP_ROLE_NONE;
}

char *tp_token_issue(const char *secret, const char *subject, tp_role role, long long version,
                     int ttl, long long *expires_at)
{
    jwt_t *jwt = NULL;
    if (jwt_new(&jwt) != 0)
        return NULL;
    time_t now = time(NULL);
    *expires_at = (long long)now + ttl;
    unsigned char rnd[16];
    char jti[33];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(jti, sizeof jti, rnd, sizeof rnd);
    char *tok = NULL;
    if (jwt_add_grant(jwt, "sub", subject) == 0 &&
        jwt_add_grant(jwt, "role", tp_role_name(role)) == 0 &&
        jwt_add_grant(jwt, "jti", jti) == 0 && jwt_add_grant_int(jwt, "ver", (long)version) == 0 &&
        jwt_add_grant_int(jwt, "iat", (long)now) == 0 &&
        jwt_add_grant_int(jwt, "exp", (long)*expires_at) == 0 &&
        jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)) == 0)
        tok = jwt_encode_str(jwt);
    jwt_free(jwt);
    return tok;
}

/* The token's id: its jti (1-64 letters, digits, '-' or '_'), or the sha256
 * of the token when it has none; -1 when its jti is not one. */
static int token_id(const char *jti, const char *token, char out[65])
{
    if (!jti) {
        unsigned char h[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
        sodium_bin2hex(out, 65, h, sizeof h);
        return 0;
    }
    size_t n = strlen(jti);
    if (n == 0 || n > 64 ||
        strspn(jti, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != n)
        return -1;
    memcpy(out, jti, n + 1);
    return 0;
}

int tp_token_claims(const char *secret, const char *token, tp_claims *c, const char **why)
{
    jwt_t *jwt = NULL;
    *why = "invalid token";
    if (!token || strlen(token) > 4096)
        return -1;
    /* jwt_decode checks the signature against the key for HMAC algorithms;
     * the algorithm itself is checked below (no "none", no other). */
    if (jwt_decode(&jwt, token, (const unsigned char *)secret, (int)strlen(secret)) != 0 || !jwt)
        return -1;
    int rc = -1;
    const char *sub = jwt_get_grant(jwt, "sub"), *r = jwt_get_grant(jwt, "role");
    long exp = jwt_get_grant_int(jwt, "exp");
    if (jwt_get_alg(jwt) != JWT_ALG_HS256)
        *why = "token algorithm must be HS256";
    else if (exp <= 0 || (long long)exp <= (long long)time(NULL))
        *why = "token expired";
    else if (!sub || !*sub || strlen(sub) >= 64 || tp_role_parse(r) == TP_ROLE_NONE)
        *why = "token lacks a subject or a known role";
    else if (token_id(jwt_get_grant(jwt, "jti"), token, c->jti) < 0)
        *why = "token id (jti) malformed";
    else {
        snprintf(c->sub, sizeof c->sub, "%s", sub);
        c->role = tp_role_parse(r);
        c->exp = exp;
        errno = 0;
        c->ver = jwt_get_grant_int(jwt, "ver");
        if (errno == ENOENT) /* a token made before versions: as the first version */
            c->ver = 0;
        rc = 0;
    }
    jwt_free(jwt);
    return rc;
}

int tp_auth_current(tp_req *req, const char *token)
{
    tp_auth *a = tp_server_opts(req->srv)->auth;
    tp_claims c;
    const char *why = "invalid token";
    tp_error err = {0};
    tp_role role = TP_ROLE_NONE;
    int rc = !a ? TP_EDB
             : tp_token_claims(tp_server_opts(req->srv)->jwt_secret, token, &c, &why) < 0
                 ? 1
                 : tp__auth_check(a, &c, NULL, &role, &why, &err);
    if (rc == 0) {
        snprintf(req->subject, sizeof req->subject, "%s", c.sub);
        req->role = role;
        return 0;
    }
    req->subject[0] = '\0';
    if (rc < 0)
        tp_reply_db_error(req, &err);
    else
        tp_reply_problem(req, 401, "unauthorized", "%s", why);
    return -1;
}

int tp_api_hash_password(const char *password, char out[128], tp_error *err)
{
    if (sodium_init() < 0)
        return tp_error_set(err, TP_EIO, "libsodium could not start");
    if (crypto_pwhash_str_alg(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return tp_error_set(err, TP_ENOMEM, "argon2id: out of memory");
    return TP_OK;
}

int tp_password_verify(const char *hash, const char *password)
{
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

/* ------------------------------------------------------------ login */

/* The user and the throttle, on the logins' connection (given back before
 * any hashing): 0, or -1 after replying 503. */
static int login_read(tp_req *req, tp_auth *a, const char *user, const char *client,
                      tp_login_read *lr)
{
    tp_error err = {0};
    tp_db *db = tp__auth_db_get(a, &err);
    int rc =
        db ? tp_user_login_read(db, user, client, tp__auth_free_failures(a), lr, &err) : TP_EDB;
    if (db)
        tp__auth_db_put(a, db);
    if (rc < 0)
        tp_reply_db_error(req, &err);
    return rc < 0 ? -1 : 0;
}

/* A login's outcome: a failure counted for the throttle and audited (no
 * password; `reason` for the administrator), or a success clearing this
 * address's count on the account. */
static void login_record(tp_req *req, tp_auth *a, const char *user, const char *client,
                         const char *reason)
{
    tp_error err = {0};
    tp_db *db = tp__auth_db_get(a, &err);
    int rc = !db      ? TP_EDB
             : reason ? tp_user_login_failed(db, user, client, &err)
                      : tp_user_login_succeeded(db, user, client, &err);
    if (rc < 0 && !tp_server_opts(req->srv)->quiet)
        fprintf(stderr, "tillpipe serve: login not recorded (request %s)\n", req->request_id);
    if (!db)
        return;
    req->db = db;
    if (reason)
        tp_audit(req, "auth.login_failed", user,
                 json_pack("{s:s, s:s}", "client", client, "reason", reason));
    else
        tp_audit(req, "auth.login", req->subject, json_pack("{s:s}", "client", client));
    req->db = NULL;
    tp__auth_db_put(a, db);
}

static void reply_retry(tp_req *req, int seconds)
{
    char ra[16];
    snprintf(ra, sizeof ra, "%d", seconds);
    if (req->resp)
        MHD_add_response_header(req->resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
}

/* Verify, then answer: the token, or 401 (the failure recorded), or 503
 * when too many logins wait for a hash. */
static void login_verify(tp_req *req, tp_auth *a, const char *user, const char *pass,
                         const char *client, const tp_login_read *lr)
{
    int ok = tp__auth_verify(a, lr->found ? lr->hash : NULL, pass);
    if (ok < 0) {
        tp_reply_problem(req, 503, "login_busy", "too many logins at once; try again in 1 s");
        reply_retry(req, 1);
        return;
    }
    tp_role role = ok && !lr->user.disabled ? tp_role_parse(lr->user.role) : TP_ROLE_NONE;
    if (role == TP_ROLE_NONE) {
        login_record(req, a, user, client,
                     !lr->found ? "no such user"
                     : !ok      ? "wrong password"
                                : "user disabled");
        tp_reply_problem(req, 401, "bad_credentials", "unknown user or wrong password");
        return;
    }
    const tp_api_opts *o = tp_server_opts(req->srv);
    long long exp = 0;
    char *tok =
        tp_token_issue(o->jwt_secret, user, role, lr->user.token_version, o->token_ttl, &exp);
    if (!tok) {
        tp_reply_problem(req, 500, "internal", "could not issue a token");
        return;
    }
    snprintf(req->subject, sizeof req->subject, "%s", user);
    login_record(req, a, user, client, NULL);
    tp_reply_json(req, 200,
                  json_pack("{s:s, s:I, s:s}", "token", tok, "expires_at", (json_int_t)exp, "role",
                            tp_role_name(role)));
    free(tok);
}

/* POST /api/auth/login.  No pooled connection: the user is read on the
 * logins' own one, given back before the (bounded) password hash. */
void tp__login(tp_req *req)
{
    json_t *b = tp_body_object(req);
    if (!b)
        return;
    const char *user = json_string_value(json_object_get(b, "username"));
    const char *pass = json_string_value(json_object_get(b, "password"));
    if (!user || !pass || strlen(user) > 64 || strlen(pass) > 1024) {
        json_decref(b);
        tp_reply_problem(req, 400, "invalid_body",
                         "want {\"username\": string, \"password\": string}");
        return;
    }
    tp_auth *a = tp_server_opts(req->srv)->auth;
    char client[64];
    tp__client_address(req, NULL, client);
    tp_login_read lr;
    if (!a) {
        tp_reply_problem(req, 503, "login_busy", "logins are not available");
    } else if (login_read(req, a, user, client, &lr) == 0) {
        if (lr.wait_s > 0) {
            tp__auth_count_throttled(a);
            tp_reply_problem(req, 429, "rate_limited",
                             "too many failed logins on this account from this address;"
                             " try again in %d s",
                             lr.wait_s);
            reply_retry(req, lr.wait_s);
        } else
            login_verify(req, a, user, pass, client, &lr);
        sodium_memzero(lr.hash, sizeof lr.hash);
    }
    json_decref(b);
}

/* POST /api/auth/logout: the token used is revoked until it expires. */
void tp__logout(tp_req *req)
{
    const tp_api_opts *o = tp_server_opts(req->srv);
    tp_claims c;
    const char *why;
    tp_error err = {0};
    if (tp_token_claims(o->jwt_secret, tp__bearer(req), &c, &why) < 0) {
        tp_reply_problem(req, 401, "unauthorized", "%s", why);
        return;
    }
    if (tp_token_revoke(req->db, c.jti, c.sub, c.exp, &err) < 0) {
        tp_reply_db_error(req, &err);
        return;
    }
    tp__auth_changed(o->auth);
    tp_audit(req, "auth.logout", req->subject, NULL);
    tp_reply_text(req, 204, "text/plain; charset=utf-8", "");
}
