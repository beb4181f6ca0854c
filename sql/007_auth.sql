-- 007_auth.sql: tokens that can be taken back, and logins that cannot be
-- guessed at speed.
--  * users.token_version: every token carries the version its user had when
--    it was issued; a new password, a new role, disabling or removing the
--    user moves it on, and every token issued before stops working at once.
--    users.disabled: a user who may not log in (their tokens refused).
--  * revoked_tokens: tokens given back with POST /api/auth/logout (by their
--    jti), kept until they would have expired anyway.
--  * login_failures: failed logins per account and client address, for the
--    per-account throttle shared by every `tillpipe serve`.
-- Each change of users or revoked_tokens is announced on tillpipe_users:
-- every server keeps who may do what in memory and reloads it then.
ALTER TABLE users ADD COLUMN token_version bigint NOT NULL DEFAULT 0,
                  ADD COLUMN disabled boolean NOT NULL DEFAULT false;

CREATE TABLE revoked_tokens (
    jti        text PRIMARY KEY CHECK (length(jti) BETWEEN 1 AND 64),
    username   text NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);

CREATE TABLE login_failures (
    username       text NOT NULL,
    client         text NOT NULL,
    failures       integer NOT NULL,
    last_failed_at timestamptz NOT NULL,
    PRIMARY KEY (username, client)
);
CREATE INDEX login_failures_age ON login_failures (last_failed_at);

CREATE FUNCTION tp_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tillpipe_users', '');
    RETURN NULL;
END $$;

CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON users FOR EACH STATEMENT EXECUTE FUNCTION tp_users_changed();
CREATE TRIGGER revoked_tokens_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON revoked_tokens FOR EACH STATEMENT EXECUTE FUNCTION tp_users_changed();
