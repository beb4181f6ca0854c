#!/usr/bin/env bash
# Database benchmarks on a throwaway PostgreSQL (tests/fixtures/pg/pgctl.sh):
#  (a) queue: no-op jobs enqueued, claimed and completed per second with 1, 2
#      and 4 worker threads (target >= 1,000 jobs/s);
#  (b) backfill: generated data for 5 branches x 2 terminals x 90 days through
#      workers into records -- terminal-days/s and records/s -- next to a bare
#      `psql \copy` of the same records into the same table (target: within
#      2x of the copy).
#   bench/db.sh [--days N] [--jobs-days N]
set -euo pipefail
cd "$(dirname "$0")/.."
days=90 jobs_days=200
while [ $# -gt 0 ]; do
  case $1 in
    --days) days=$2; shift 2 ;;
    --jobs-days) jobs_days=$2; shift 2 ;;
    *) echo "usage: bench/db.sh [--days N] [--jobs-days N]" >&2; exit 2 ;;
  esac
done
scripts/deps.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench -j "$(nproc)" >/dev/null
tp=$PWD/build-bench/tillpipe
work=$(mktemp -d /tmp/tillpipe-bench-XXXXXX)
pg=$work/pg
chmod 755 "$work" # the server runs as an unprivileged user
trap 'tests/fixtures/pg/pgctl.sh stop "$pg" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export TILLPIPE_DATABASE_URL=$(tests/fixtures/pg/pgctl.sh start "$pg")
export PGOPTIONS="-c client_min_messages=warning"
export TILLPIPE_STORE="fs:$work/store"
sql() { psql -qAt "$TILLPIPE_DATABASE_URL" -c "$1"; }
secs() { date +%s.%N; }

$tp migrate >/dev/null
$tp branch import --builtin >/dev/null

echo "== (a) queue: no-op jobs (8 branches x 2 terminals x $jobs_days days each round)"
printf "   %-10s %8s %10s %12s\n" threads jobs seconds "jobs/s"
for threads in 1 2 4; do
  sql "TRUNCATE jobs, job_events CASCADE"
  t0=$(secs)
  $tp enqueue --from 2020-01-01 --to "$(date -d "2020-01-01 + $((jobs_days - 1)) days" +%F)" >/dev/null
  $tp worker --noop --exit-when-idle --concurrency $threads --quiet
  t1=$(secs)
  n=$(sql "SELECT count(*) FROM jobs WHERE status = 'succeeded'")
  awk -v t=$threads -v n=$n -v a=$t0 -v b=$t1 'BEGIN { printf "   %-10s %8d %10.2f %12.0f%s\n", t, n, b-a, n/(b-a), (n/(b-a) >= 1000 ? "" : "  (below 1,000)") }'
done

echo
echo "== (b) backfill: 5 branches x 2 terminals x $days days (medians of 3 runs, each from an empty store and table)"
$tp gen --branches 5 --days "$days" --seed 7 --start 2025-01-01 --out "$work/reports" --no-faults >/dev/null
mb=$(du -sm "$work/reports" | cut -f1)
: > "$work/t.backfill"; : > "$work/t.copy"
for run in 1 2 3; do
  sql "TRUNCATE jobs, job_events, records CASCADE"
  # A new, empty store folder per run; the earlier ones stay until the end:
  # thousands of files deleted just before would make ext4 look long for
  # free inodes, which a store that only grows never pays.
  export TILLPIPE_STORE="fs:$work/store-$run"
  sql "CHECKPOINT" # neither side pays for the other's writes
  t0=$(secs)
  $tp enqueue --from 2025-01-01 --to "$(date -d "2025-01-01 + $((days - 1)) days" +%F)" >/dev/null
  # Only the five generated branches have files; park the rest.
  sql "UPDATE jobs SET status = 'cancelled' WHERE branch NOT IN ('BMC','MAGS','AYALA-FRN','BETA','B-SMS') AND status = 'queued'"
  $tp worker --reports "$work/reports" --exit-when-idle --concurrency 4 --quiet
  t1=$(secs)
  awk -v a=$t0 -v b=$t1 'BEGIN { print b - a }' >> "$work/t.backfill"
  tdays=$(sql "SELECT count(*) FROM jobs WHERE status = 'succeeded'")
  failed=$(sql "SELECT count(*) FROM jobs WHERE status = 'failed'")
  records=$(sql "SELECT count(*) FROM records")
  # The same records, copied bare into the same (emptied) table.
  psql -qAt "$TILLPIPE_DATABASE_URL" -c "\\copy (SELECT * FROM records) TO '$work/records.copy'"
  sql "TRUNCATE records"
  sql "CHECKPOINT"
  c0=$(secs)
  psql -qAt "$TILLPIPE_DATABASE_URL" -c "\\copy records FROM '$work/records.copy'"
  c1=$(secs)
  awk -v a=$c0 -v b=$c1 'BEGIN { print b - a }' >> "$work/t.copy"
  echo "   run $run: backfill $(tail -1 "$work/t.backfill") s, \\copy $(tail -1 "$work/t.copy") s"
done
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
awk -v td=$tdays -v f=$failed -v r=$records -v b=$(median "$work/t.backfill") -v c=$(median "$work/t.copy") -v mb=$mb 'BEGIN {
  printf "   input %d MB; %d terminal-days succeeded, %d failed (last run)\n", mb, td, f
  printf "   %-26s %10s %14s %12s\n", "(medians)", "seconds", "term-days/s", "records/s"
  printf "   %-26s %10.2f %14.1f %12.0f\n", "backfill through workers", b, td/b, r/b
  printf "   %-26s %10.2f %14s %12.0f\n", "psql \\copy of the records", c, "", r/c
  printf "   ratio backfill/copy time: %.2f  (target <= 2: %s)\n", b/c, (b/c <= 2 ? "MET" : "NOT MET")
}'
