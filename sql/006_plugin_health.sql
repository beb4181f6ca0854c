-- Plugin builds that fail, and the ones quarantined for it.
--
-- A build is its sha256.  Every parse that ends in plugin_failed (a crash,
-- a hang, a limit, an exit in the sandbox) adds one to failures_in_row; a
-- terminal-day the build parsed successfully sets it back to 0.  At the
-- workers' threshold (--plugin-quarantine-after, default 3) the build is
-- quarantined: no worker uses it until an operator clears it (cleared_at,
-- cleared_by; failures_in_row back to 0), whichever worker or machine saw
-- the failures.
CREATE TABLE plugin_health (
    sha256          text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    name            text NOT NULL,
    version         text NOT NULL,
    failures_in_row integer NOT NULL DEFAULT 0,
    failures_total  bigint NOT NULL DEFAULT 0,
    last_error      text,
    last_failed_at  timestamptz,
    quarantined_at  timestamptz,
    cleared_at      timestamptz,
    cleared_by      text
);
CREATE INDEX plugin_health_attention ON plugin_health (sha256) WHERE failures_in_row > 0;
