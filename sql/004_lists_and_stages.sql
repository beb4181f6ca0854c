-- 1. The API keeps the answers of its job and record lists until what they
-- show changes (api/cache.h).  Any statement that changes jobs or records
-- announces it on `tillpipe_lists` -- once per statement, and PostgreSQL
-- folds repeats within a transaction into one notification at commit.  A
-- heartbeat (lease columns only) announces nothing.
CREATE FUNCTION tp_lists_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tillpipe_lists', '');
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_lists
    AFTER INSERT OR DELETE OR TRUNCATE
       OR UPDATE OF kind, branch, pos, business_date, status, attempts, max_attempts, records,
                    last_error, created_by, created_at, started_at, finished_at
    ON jobs FOR EACH STATEMENT EXECUTE FUNCTION tp_lists_changed();

CREATE TRIGGER records_lists
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON records FOR EACH STATEMENT EXECUTE FUNCTION tp_lists_changed();

-- 2. Seconds each stage of an attempt took: {"fetch": s, "store": s, "parse": s,
-- "load": s} up to where it ended (GET /metrics makes histograms of them).
ALTER TABLE job_attempts ADD COLUMN stage_seconds jsonb;
