-- 001_init.sql: tillpipe's schema -- branches, jobs and their history, raw
-- files, typed records, data-quality findings, events, audit, users.
-- Applied by `tillpipe migrate` in one transaction (see engine/db.c).

CREATE TABLE branches (
    code        text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9-]{1,32}$'),
    name        text NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    terminals   integer[] NOT NULL DEFAULT '{1}',
    pos         text NOT NULL DEFAULT 'classic' CHECK (pos IN ('classic', 'newer')),
    parsers     jsonb NOT NULL DEFAULT '{}',   -- report type -> plugin / options
    legacy_list text,                          -- settings/*.txt it came from, if any
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TYPE job_status AS ENUM ('queued', 'running', 'succeeded', 'failed', 'cancelled');

CREATE TABLE jobs (
    id               bigserial PRIMARY KEY,
    branch           text NOT NULL,
    pos              integer NOT NULL CHECK (pos BETWEEN 1 AND 99),
    business_date    date NOT NULL,
    status           job_status NOT NULL DEFAULT 'queued',
    attempts         integer NOT NULL DEFAULT 0,      -- attempts started
    max_attempts     integer NOT NULL DEFAULT 5,
    run_after        timestamptz NOT NULL DEFAULT now(),
    lease_owner      text,                            -- worker id while running
    lease_expires_at timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    rerun_requested  boolean NOT NULL DEFAULT false,  -- force while running: queue again after
    force            boolean NOT NULL DEFAULT false,
    created_by       text NOT NULL DEFAULT 'cli',
    last_error       text,
    records          bigint,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- One live job per terminal-day.
CREATE UNIQUE INDEX jobs_live_key ON jobs (branch, pos, business_date)
    WHERE status IN ('queued', 'running');
-- What claimers scan.
CREATE INDEX jobs_claimable ON jobs (run_after, id) WHERE status = 'queued';
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_key ON jobs (branch, pos, business_date, id);
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);

CREATE TABLE job_attempts (
    id          bigserial PRIMARY KEY,
    job_id      bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    worker      text NOT NULL,
    stage       text,                 -- fetch, select, parse, combine, load
    error_code  text,                 -- stable code, e.g. parse_error, lease_expired
    retryable   boolean,
    message     text,
    plugins     jsonb,                -- report type -> {name, version, sha256}
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    UNIQUE (job_id, attempt)
);

CREATE TABLE files (
    id            bigserial PRIMARY KEY,
    job_id        bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt       integer NOT NULL,
    branch        text NOT NULL,
    pos           integer NOT NULL,
    business_date date NOT NULL,
    report_type   text NOT NULL,
    name          text NOT NULL,
    size          bigint NOT NULL,
    data_rows     bigint,
    sha256        text,
    storage_key   text,
    chosen        boolean NOT NULL,
    reason        text NOT NULL
);
CREATE INDEX files_job ON files (job_id);
CREATE INDEX files_key ON files (branch, business_date);

-- Typed records (docs/records.md), partitioned by business-date year;
-- tp_db_ensure_partition() creates a year's partition on demand.
CREATE TABLE records (
    branch          text NOT NULL,
    pos             integer NOT NULL,
    business_date   date NOT NULL,
    job_id          bigint NOT NULL,
    source_file     text NOT NULL,
    source_line     bigint NOT NULL,
    or_number       text NOT NULL,
    transno         text NOT NULL,
    item_code       text NOT NULL,
    product_name    text NOT NULL,
    quantity        numeric,
    unit_price      numeric,
    amount          numeric,
    discount        numeric,
    department_code text NOT NULL,
    department_name text NOT NULL,
    pos_department_code text NOT NULL,
    time_text       text NOT NULL,
    time_minutes    integer,
    daypart         text,
    type_code       text NOT NULL,
    transaction_type text,
    discount_code   text NOT NULL,
    discount_name   text NOT NULL,
    vat_flag        text NOT NULL,
    vat_div         numeric,
    vat_amount      numeric,
    vat_discount    numeric,
    vat_price       numeric,
    payment_code    text NOT NULL,
    payment_name    text NOT NULL,
    phone           text NOT NULL
) PARTITION BY RANGE (business_date);
CREATE INDEX records_key ON records (branch, pos, business_date);
CREATE INDEX records_job ON records (job_id);

CREATE TABLE quality_flags (
    id            bigserial PRIMARY KEY,
    job_id        bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    branch        text NOT NULL,
    pos           integer NOT NULL,
    business_date date NOT NULL,
    rows_outside_date bigint NOT NULL DEFAULT 0,
    rows_rejected bigint NOT NULL DEFAULT 0,
    warnings      bigint NOT NULL DEFAULT 0,
    missing_reports text[] NOT NULL DEFAULT '{}',
    problems      jsonb NOT NULL DEFAULT '[]',   -- [{file, line, severity, reason}], capped
    problems_left_out bigint NOT NULL DEFAULT 0
);
CREATE INDEX quality_key ON quality_flags (branch, pos, business_date);

CREATE TABLE job_events (
    id         bigserial PRIMARY KEY,
    job_id     bigint NOT NULL,
    status     job_status NOT NULL,
    attempt    integer NOT NULL,
    message    text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_events_job ON job_events (job_id, id);

CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    actor      text NOT NULL,
    action     text NOT NULL,
    target     text,
    request_id text,
    details    jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    username      text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Every job status change is an event, announced by id only (NOTIFY
-- payloads are small; listeners re-read the table after their last id).
CREATE FUNCTION tp_job_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ev bigint;
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO job_events (job_id, status, attempt, message)
        VALUES (NEW.id, NEW.status, NEW.attempts,
                CASE WHEN NEW.status IN ('failed', 'queued') THEN NEW.last_error END)
        RETURNING id INTO ev;
        PERFORM pg_notify('tillpipe_job_events', ev::text);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER jobs_events AFTER INSERT OR UPDATE OF status ON jobs
    FOR EACH ROW EXECUTE FUNCTION tp_job_event();
