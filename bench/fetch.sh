#!/usr/bin/env bash
# The whole pipeline over the network: a generated week for 27 branches x 2
# terminals served by the report-server simulator on loopback, fetched by
# workers into records -- once with the fs store, once with S3 (s3rver) --
# next to a plain `curl --parallel` download of the same files into a folder,
# measured in the same run (target: the pipeline within 2x of the download).
#   bench/fetch.sh [--days N] [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/.."
days=7 rounds=3
while [ $# -gt 0 ]; do
  case $1 in
    --days) days=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "usage: bench/fetch.sh [--days N] [--rounds N]" >&2; exit 2 ;;
  esac
done
scripts/deps.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench -j "$(nproc)" >/dev/null
tp=$PWD/build-bench/tillpipe sim=$PWD/build-bench/tillpipe-reportsim
work=$(mktemp -d /tmp/tillpipe-bench-XXXXXX)
pg=$work/pg s3=$work/s3
chmod 755 "$work"
simpid=
cleanup() {
  [ -n "$simpid" ] && kill "$simpid" 2>/dev/null || true
  tests/fixtures/s3/s3ctl.sh stop "$s3" >/dev/null 2>&1 || true
  tests/fixtures/pg/pgctl.sh stop "$pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export TILLPIPE_DATABASE_URL=$(tests/fixtures/pg/pgctl.sh start "$pg")
export PGOPTIONS="-c client_min_messages=warning"
sql() { psql -qAt "$TILLPIPE_DATABASE_URL" -c "$1"; }
secs() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

last=$(date -d "2025-06-01 + $((days - 1)) days" +%F)
$tp gen --branches 27 --days "$days" --seed 11 --start 2025-06-01 --no-faults --out "$work/served" >/dev/null
files=$(find "$work/served" -type f | wc -l)
bytes=$(du -sb "$work/served" | cut -f1)
mb=$(awk -v b=$bytes 'BEGIN { printf "%.1f", b / 1048576 }')

"$sim" --dir "$work/served" --port 0 --port-file "$work/port" --quiet --threads 8 &
simpid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
base="http://127.0.0.1:$(cat "$work/port")"
tests/fixtures/s3/s3ctl.sh start "$s3" tillpipe-bench >/dev/null
export TILLPIPE_S3_ACCESS_KEY=S3RVER TILLPIPE_S3_SECRET_KEY=S3RVER
s3store="s3://tillpipe-bench?endpoint=$(cat "$s3/endpoint")&https=0"

# The branches the generator wrote, as a configuration to import.
codes=$(ls "$work/served" | cut -d_ -f2 | sort -u)
{ echo '{"branches": ['; sep=""
  for c in $codes; do printf '%s{"code": "%s", "terminals": [1, 2]}' "$sep" "$c"; sep=","; done
  echo ']}'; } > "$work/branches.json"
$tp migrate >/dev/null
$tp branch import "$work/branches.json" >/dev/null

echo "== fetch: $(echo $codes | wc -w) branches x 2 terminals x $days days: $files files, $mb MB, served over loopback"

# Reference: the same files with curl --parallel into a folder.
( cd "$work/served" && find . -type f -printf '%P\n' ) > "$work/paths"
curl_round() {
  rm -rf "$work/dl" && mkdir -p "$work/dl"
  awk -v b="$base" -v d="$work/dl" '{ printf "url = \"%s/%s\"\noutput = \"%s/%s\"\n", b, $0, d, $0 }' "$work/paths" > "$work/curl.cfg"
  local t0=$(secs)
  curl --parallel --parallel-max 8 --no-progress-meter -f --config "$work/curl.cfg"
  local t1=$(secs)
  awk -v a=$t0 -v b=$t1 'BEGIN { print b - a }'
}

pipeline_round() { # $1: store address, $2: source (--server URL or --reports DIR)
  sql "TRUNCATE jobs, job_events, records, files, quality_flags CASCADE"
  rm -rf "$work/store"
  local t0=$(secs)
  $tp enqueue --from 2025-06-01 --to "$last" >/dev/null
  $tp worker $2 --store "$1" --exit-when-idle --concurrency 4 --quiet
  local t1=$(secs)
  local bad=$(sql "SELECT count(*) FROM jobs WHERE status <> 'succeeded'")
  [ "$bad" = 0 ] || { echo "   $bad jobs did not succeed:" >&2; sql "SELECT branch, pos, business_date, status, last_error FROM jobs WHERE status <> 'succeeded' LIMIT 5" >&2; exit 1; }
  awk -v a=$t0 -v b=$t1 'BEGIN { print b - a }'
}

: > "$work/t.curl"; : > "$work/t.fs"; : > "$work/t.s3"; : > "$work/t.local"
for r in $(seq "$rounds"); do
  curl_round >> "$work/t.curl"
  pipeline_round "fs:$work/store" "--server $base" >> "$work/t.fs"
  pipeline_round "$s3store" "--server $base" >> "$work/t.s3"
  pipeline_round "fs:$work/store" "--reports $work/dl" >> "$work/t.local"
done
tdays=$(sql "SELECT count(*) FROM jobs WHERE status = 'succeeded'")
records=$(sql "SELECT count(*) FROM records")
tc=$(median < "$work/t.curl") tf=$(median < "$work/t.fs") ts=$(median < "$work/t.s3")
tl=$(median < "$work/t.local")
awk -v td=$tdays -v r=$records -v mb=$mb -v tc=$tc -v tf=$tf -v ts=$ts -v tl=$tl -v n=$rounds 'BEGIN {
  printf "   medians of %d rounds; %d terminal-days, %d records each pipeline round\n", n, td, r
  printf "   %-34s %9s %13s %9s %11s\n", "", "seconds", "term-days/s", "MB/s", "records/s"
  printf "   %-34s %9.2f %13s %9.1f %11s\n", "curl --parallel 8 (download only)", tc, "", mb / tc, ""
  printf "   %-34s %9.2f %13.1f %9.1f %11.0f\n", "pipeline, fs store", tf, td / tf, mb / tf, r / tf
  printf "   %-34s %9.2f %13.1f %9.1f %11.0f\n", "pipeline, s3 store (s3rver)", ts, td / ts, mb / ts, r / ts
  printf "   %-34s %9.2f %13.1f %9.1f %11.0f\n", "the same jobs from a local folder", tl, td / tl, mb / tl, r / tl
  printf "   (no network: what the fetch itself adds is fs minus this)\n"
  printf "   ratio pipeline/download: fs %.2f, s3 %.2f  (target <= 2: fs %s, s3 %s)\n", tf / tc, ts / tc,
         (tf / tc <= 2 ? "MET" : "NOT MET"), (ts / tc <= 2 ? "MET" : "NOT MET")
}'
