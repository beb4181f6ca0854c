/* auth.c -- tokens (JWT HS256 with libjwt), passwords (argon2id with
 * libsodium) and POST /api/auth/login.  A token carries sub, role, iat and
 * exp; verification accepts HS256 with the server's secret only. */
#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/users.h"
#include "routes.h"

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

char *tp_token_issue(const char *secret, const char *subject, tp_role role, int ttl,
                     long long *expires_at)
{
    jwt_t *jwt = NULL;
    if (jwt_new(&jwt) != 0)
        return NULL;
    time_t now = time(NULL);
    *expires_at = (long long)now + ttl;
    char *tok = NULL;
    if (jwt_add_grant(jwt, "sub", subject) == 0 &&
        jwt_add_grant(jwt, "role", tp_role_name(role)) == 0 &&
        jwt_add_grant_int(jwt, "iat", (long)now) == 0 &&
        jwt_add_grant_int(jwt, "exp", (long)*expires_at) == 0 &&
        jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)) == 0)
        tok = jwt_encode_str(jwt);
    jwt_free(jwt);
    return tok;
}

int tp_token_verify(const char *secret, const char *token, char subject[64], tp_role *role,
                    const char **why)
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
    else {
        snprintf(subject, 64, "%s", sub);
        *role = tp_role_parse(r);
        rc = 0;
    }
    jwt_free(jwt);
    return rc;
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
    tp_error err = {0};
    char hash[256], rolename[16];
    int found = 0;
    if (tp_user_get(req->db, user, hash, rolename, &found, &err) < 0) {
        json_decref(b);
        tp_reply_db_error(req, &err);
        return;
    }
    int ok = found && tp_password_verify(hash, pass);
    tp_role role = ok ? tp_role_parse(rolename) : TP_ROLE_NONE;
    if (!ok || role == TP_ROLE_NONE) {
        json_decref(b);
        tp_reply_problem(req, 401, "bad_credentials", "unknown user or wrong password");
        return;
    }
    const tp_api_opts *o = tp_server_opts(req->srv);
    long long exp = 0;
    char *tok = tp_token_issue(o->jwt_secret, user, role, o->token_ttl, &exp);
    snprintf(req->subject, sizeof req->subject, "%s", user);
    json_decref(b);
    if (!tok) {
        tp_reply_problem(req, 500, "internal", "could not issue a token");
        return;
    }
    tp_audit(req, "auth.login", req->subject, NULL);
    tp_reply_json(req, 200,
                  json_pack("{s:s, s:I, s:s}", "token", tok, "expires_at", (json_int_t)exp, "role",
                            tp_role_name(role)));
    free(tok);
}
