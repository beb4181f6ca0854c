#!/usr/bin/env bash
# The HTTP API under load (wrk, from Debian), next to GET /livez on the same
# server in the same run:
#   GET /api/jobs with 100,000 jobs in the table;
#   GET /api/records, first page and a deep cursor, with N records (10 million
#   by default) -- a one-day window, the way operators page through records;
#   a full day's export (csv) next to `psql \copy (...) TO` of the same rows.
# The lists run twice: as served (answers kept until jobs or records change,
# api/cache.h) and with --no-list-cache (every answer computed by a prepared
# statement) -- the figure for lists polled while a backfill changes them.
# Targets on this 2-core machine: /api/jobs >= 50% of /livez throughput with
# p99 < 20 ms; records pages p99 < 50 ms; the export >= 50% of \copy speed.
#   bench/api.sh [--records N] [--seconds S]
set -euo pipefail
cd "$(dirname "$0")/.."
records=10000000 seconds=10
while [ $# -gt 0 ]; do
  case $1 in
    --records) records=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) echo "usage: bench/api.sh [--records N] [--seconds S]" >&2; exit 2 ;;
  esac
done
scripts/deps.sh
command -v wrk >/dev/null || { [ "$(id -u)" -eq 0 ] && apt-get install -y -qq wrk >/dev/null || sudo apt-get install -y -qq wrk >/dev/null; }
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench -j "$(nproc)" >/dev/null
tp=$PWD/build-bench/tillpipe
work=$(mktemp -d /tmp/tillpipe-bench-XXXXXX)
pg=$work/pg
chmod 755 "$work"
apipid=
trap '[ -n "$apipid" ] && kill "$apipid" 2>/dev/null; tests/fixtures/pg/pgctl.sh stop "$pg" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export TILLPIPE_DATABASE_URL=$(tests/fixtures/pg/pgctl.sh start "$pg")
export PGOPTIONS="-c client_min_messages=warning"
sql() { psql -qAt "$TILLPIPE_DATABASE_URL" -c "$1"; }
secs() { date +%s.%N; }
$tp migrate >/dev/null
$tp branch import --builtin >/dev/null
echo "bench-password" | $tp user add bench --role viewer >/dev/null

echo "== api: filling the tables (100,000 jobs, $records records)"
sql "INSERT INTO jobs (branch, pos, business_date, status, attempts, records, finished_at)
     SELECT (ARRAY['BMC','MAGS','AYALA-FRN','BETA','B-SMS','BGRAN','BPAG','BTAB'])[1 + i % 8],
            1 + (i / 8) % 2, date '2020-01-01' + (i / 16), 'succeeded', 1, 100, now()
     FROM generate_series(0, 99999) i"
days=365
psql -qAt "$TILLPIPE_DATABASE_URL" >/dev/null <<SQL
CREATE TABLE IF NOT EXISTS records_2025 PARTITION OF records FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO records (branch, pos, business_date, job_id, source_file, source_line, or_number,
                     transno, item_code, product_name, quantity, unit_price, amount, discount,
                     department_code, department_name, pos_department_code, time_text,
                     time_minutes, daypart, type_code, transaction_type, discount_code,
                     discount_name, vat_flag, vat_div, vat_amount, vat_discount, vat_price,
                     payment_code, payment_name, phone)
SELECT (ARRAY['BMC','MAGS','AYALA-FRN','BETA','B-SMS','BGRAN','BPAG','BTAB'])[1 + (i / 1000) % 8],
       1 + (i / 500) % 2, date '2025-01-01' + ((i / 8000) % $days)::int, 1,
       'a_BMC_1_rd5000_x_20-00_.csv', i, 'OR' || (i / 7), 'T' || (i / 7), 'ITEM' || (i % 997),
       'Product ' || (i % 997), 1, 99.50, 99.50, 0, '01', 'FOOD', '01', '12:30', 750, 'Lunch',
       'D', 'Dine-In', '', '', 'V', 1.12, 10.66, 0, 88.84, 'CASH', 'Cash', ''
FROM generate_series(1, $records) i;
VACUUM ANALYZE;
SQL
export TILLPIPE_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
start_api() { # $@: more serve options
  [ -n "$apipid" ] && { kill "$apipid"; wait "$apipid" 2>/dev/null || true; }
  rm -f "$work/port"
  $tp serve --no-workers --listen 127.0.0.1:0 --port-file "$work/port" --quiet \
    --store "fs:$work/store" "$@" >"$work/serve.log" 2>&1 &
  apipid=$!
  for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
  api="http://127.0.0.1:$(cat "$work/port")"
  tok=$(curl -sf -H 'Content-Type: application/json' -d '{"username": "bench", "password": "bench-password"}' \
        "$api/api/auth/login" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
}
start_api
day=2025-03-03
cursor=$(first=""; c=""; for _ in $(seq 40); do
    r=$(curl -sf -H "Authorization: Bearer $tok" "$api/api/records?start=$day&end=$day&limit=500${c:+&cursor=$c}")
    c=$(printf '%s' "$r" | sed -n 's/.*"next":"\([^"]*\)".*/\1/p'); [ -n "$c" ] || break; first=$c; done; echo "$first")

run_wrk() { # $1 label, $2 path, $3 auth (0/1)
  local hdr=()
  [ "$3" = 1 ] && hdr=(-H "Authorization: Bearer $tok")
  wrk -t2 -c16 -d"${seconds}s" --latency "${hdr[@]}" "$api$2" >"$work/wrk.out" 2>&1
  local rps=$(awk '/^Requests\/sec/ { print $2 }' "$work/wrk.out")
  local p50=$(awk '$1 == "50%" { print $2 }' "$work/wrk.out")
  local p99=$(awk '$1 == "99%" { print $2 }' "$work/wrk.out")
  local errs=$(awk '/Non-2xx/ { print $NF }' "$work/wrk.out")
  printf "   %-34s %10s %10s %10s%s\n" "$1" "$rps" "$p50" "$p99" "${errs:+  ($errs non-2xx!)}"
  echo "$rps" > "$work/rps.$1"
}
lists() { # $1: label suffix
  run_wrk "jobs$1" "/api/jobs?limit=50" 1
  run_wrk "records-first$1" "/api/records?start=$day&end=$day&limit=100" 1
  run_wrk "records-deep$1" "/api/records?start=$day&end=$day&limit=100&cursor=$cursor" 1
}
echo "== api: wrk -t2 -c16, ${seconds} s each, one server, default options (a pooled database connection per CPU)"
printf "   %-34s %10s %10s %10s\n" "" "req/s" "p50" "p99"
run_wrk livez /livez 0
lists ""
start_api --no-list-cache
lists " (--no-list-cache)"
awk -v l=$(cat "$work/rps.livez") -v j=$(cat "$work/rps.jobs") \
    -v u="$(cat "$work/rps.jobs (--no-list-cache)")" 'BEGIN {
  printf "   /api/jobs throughput is %.0f%% of /livez (target >= 50%%); %.0f%% with --no-list-cache\n",
         100 * j / l, 100 * u / l }'

echo "== api: a full day's export vs psql \\copy of the same rows (medians of 5, taken in turns)"
rows=$(sql "SELECT count(*) FROM records WHERE business_date = '$day'")
: > "$work/t.export"; : > "$work/t.copy"
for _ in 1 2 3 4 5; do
  t0=$(secs)
  curl -sf -H "Authorization: Bearer $tok" "$api/api/records/export?start=$day&end=$day&format=csv" -o "$work/export.csv"
  t1=$(secs)
  psql -qAt "$TILLPIPE_DATABASE_URL" -c "\\copy (SELECT * FROM records WHERE business_date = '$day') TO '$work/copy.csv' (FORMAT csv)"
  t2=$(secs)
  awk -v a=$t0 -v b=$t1 'BEGIN { print b - a }' >> "$work/t.export"
  awk -v a=$t1 -v b=$t2 'BEGIN { print b - a }' >> "$work/t.copy"
done
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
lines=$(($(wc -l < "$work/export.csv") - 1))
awk -v r=$rows -v n=$lines -v e=$(median "$work/t.export") -v c=$(median "$work/t.copy") 'BEGIN {
  printf "   %d rows (export gave %d): export %.3f s (%.0f rows/s), \\copy %.3f s (%.0f rows/s): %.0f%% (target >= 50%%)\n",
         r, n, e, r / e, c, r / c, 100 * c / e }'
