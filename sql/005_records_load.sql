-- Cheaper record loads.
--
-- 1. The text columns of the records key (business_date, branch, pos,
-- source_file, source_line) compare byte by byte.  Branch codes and report
-- file names are ASCII, so nothing sorts differently from the database's
-- libc collation -- but index insertions and keyset comparisons no longer
-- call strcoll (a load inserting beside other loads descends the index for
-- every row and spends most of its index time comparing these keys), and
-- record order no longer depends on the server's locale.
ALTER TABLE records
    ALTER COLUMN branch TYPE text COLLATE "C",
    ALTER COLUMN source_file TYPE text COLLATE "C";

-- 2. records_job duplicated records_day_key: a terminal-day's records all
-- come from its last succeeded job (a load replaces the whole terminal-day),
-- so a job's records are found through its key:
--   SELECT r.* FROM jobs j JOIN records r ON (r.business_date, r.branch, r.pos)
--     = (j.business_date, j.branch, j.pos) AND r.job_id = j.id WHERE j.id = $1
-- One index less to update for every record loaded.
DROP INDEX records_job;
