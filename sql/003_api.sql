-- 003_api.sql: what the HTTP API keeps.
--  * idempotency_keys: a POST with an Idempotency-Key header answers a repeat
--    of the same request with the first answer (per user and key, 24 h).
CREATE TABLE idempotency_keys (
    actor        text NOT NULL,
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    request_hash text NOT NULL,
    status       integer NOT NULL,
    response     jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);

-- Records are read by date range in (date, branch, terminal, file, line)
-- order (the API's pages and exports); the load's DELETE of one
-- terminal-day uses the same index.  It replaces records_key.
DROP INDEX records_key;
CREATE INDEX records_day_key ON records (business_date, branch, pos, source_file, source_line);

-- The legacy record2025 layout writes the department column unguarded when it
-- came from the product master (newer POS): kept so an export reproduces it.
ALTER TABLE records ADD COLUMN dep_from_product boolean NOT NULL DEFAULT false;

-- Worker processes say they are alive with every heartbeat (readiness:
-- "no live worker"); a stopping worker removes its row.
CREATE TABLE workers (
    id         text PRIMARY KEY,
    kind       text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    seen_at    timestamptz NOT NULL
);
