-- 002_fetch.sql: fetching from the report server and the raw-file store.
--  * jobs.kind: 'fetch' (report server or folder, then the whole pipeline) or
--    'reparse' (select/parse/combine/load again from the stored raw files).
--  * branches.report_server: a branch's own report server base URL.
--  * job_attempts.fetch_info: what the fetch stage did (listed, downloaded,
--    stored, ignored names) for "why did it fail?".
ALTER TABLE jobs ADD COLUMN kind text NOT NULL DEFAULT 'fetch'
    CHECK (kind IN ('fetch', 'reparse'));
ALTER TABLE branches ADD COLUMN report_server text
    CHECK (report_server IS NULL OR report_server ~ '^https?://');
ALTER TABLE job_attempts ADD COLUMN fetch_info jsonb;
-- Reparse finds a terminal-day's last stored candidates through this.
CREATE INDEX files_day ON files (branch, pos, business_date, job_id);
