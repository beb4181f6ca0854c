#!/usr/bin/env bash
# bench/fuzz.sh -- build the libFuzzer harnesses (tests/fuzz/, clang with
# ASan+UBSan) and run each for a time or a number of executions, N at a time
# (one process each), printing per harness, in the order given: executions,
# executions per second, coverage (edges "cov", features "ft"), corpus size,
# crashes.
#
#   bench/fuzz.sh [-t SECONDS] [-n EXECUTIONS] [-p N] [-B BUILD_DIR] [HARNESS...]
#
# Defaults: 60 s each, one at a time, build/fuzz, every harness; -n with -t
# stops each at whichever comes first.  Inputs are capped at 4 KiB (8 KiB
# for a terminal-day or an archive).  The corpora grow in
# BUILD_DIR/fuzz-corpus/<name>/ from run to run, seeded from samples/ and the
# plugin cases (tests/fuzz/seeds.sh), the committed seeds and crash cases; a
# crash, leak or sanitizer report is kept in BUILD_DIR/fuzz-artifacts/<name>/
# with its log, and makes the exit status 1.  Make a crash a regression case:
# copy it into tests/fuzz/regress/<name>/ (replayed by the normal tests).
set -euo pipefail
umask 022
cd "$(dirname "$0")/.."
secs="" runs="" par=1 build=build/fuzz
while getopts "t:n:p:B:h" o; do
  case $o in
    t) secs=$OPTARG ;;
    n) runs=$OPTARG ;;
    p) par=$OPTARG ;;
    B) build=$OPTARG ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[[ $par =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: -p wants a count" >&2; exit 2; }
all=(csv plugins termday config report_name multipart cursors api_bodies unpack fetch_list)
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=("${all[@]}")

command -v clang >/dev/null || { echo "fuzz: clang is needed (scripts/deps.sh)" >&2; exit 2; }
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTP_WERROR=ON -DTP_FUZZ=ON \
  >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" \
  --target $(printf 'fuzz_%s ' "${harnesses[@]}") >/dev/null
rm -rf "$build/fuzz-seeds"
tests/fuzz/seeds.sh "$build/fuzz-seeds" "$build/plugins"

max_len() { # bytes per input: lines of a report; a terminal-day is a few files
  case $1 in termday | unpack) echo 8192 ;; *) echo 4096 ;; esac
}

# run_one NAME: one harness, its figures into BUILD/fuzz-NAME.row (a table
# row) and .rc (0, or 1 on a crash, leak or sanitizer report)
run_one() {
  local h=$1 corpus=$build/fuzz-corpus/$1 art=$build/fuzz-artifacts/$1 log=$build/fuzz-$1.log
  local before rc=0 execs eps last cov ft crashes d status=0
  mkdir -p "$corpus" "$art"
  before=$(ls "$art" | grep -c -v '\.log$' || true)
  local dirs=("$corpus")
  for d in "$build/fuzz-seeds/$h" "tests/fuzz/seeds/$h" "tests/fuzz/regress/$h"; do
    [ -d "$d" ] && dirs+=("$d")
  done
  local limit=()
  [ -n "$runs" ] && limit+=(-runs="$runs")
  [ -n "$secs" ] && limit+=(-max_total_time="$secs")
  [ ${#limit[@]} -gt 0 ] || limit=(-max_total_time=60)
  # -reload=0: one process per corpus, nothing else writes to it
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    "$build/fuzz/fuzz_$h" "${limit[@]}" -max_len="$(max_len "$h")" -timeout=10 \
    -rss_limit_mb=2048 -reload=0 -print_final_stats=1 -dict="tests/fuzz/dict/$h.dict" \
    -artifact_prefix="$art/" "${dirs[@]}" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  crashes=$(($(ls "$art" | grep -c -v '\.log$' || true) - before))
  if [ "$rc" -ne 0 ] || [ "$crashes" -gt 0 ]; then
    status=1
    [ "$crashes" -gt 0 ] || crashes=1
    cp "$log" "$art/$(date +%Y%m%d-%H%M%S).log"
    { echo "$h:"; grep -E 'ERROR|SUMMARY|fuzz check failed' "$log" | head -5; } >&2 || true
  fi
  printf '%-12s %12s %9s %7s %7s %8s %8s\n' "$h" "${execs:-?}" "${eps:-?}" "${cov:-?}" \
    "${ft:-?}" "$(ls "$corpus" | wc -l)" "$crashes" >"$build/fuzz-$h.row"
  echo "$status" >"$build/fuzz-$h.rc"
}

# N at a time: start the next harness when one of the N ends
running=0
for h in "${harnesses[@]}"; do
  rm -f "$build/fuzz-$h.row" "$build/fuzz-$h.rc"
  if [ "$running" -ge "$par" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_one "$h" &
  running=$((running + 1))
done
wait

status=0
printf '%-12s %12s %9s %7s %7s %8s %8s\n' harness executions exec/s cov ft corpus crashes
for h in "${harnesses[@]}"; do
  if [ -f "$build/fuzz-$h.row" ]; then
    cat "$build/fuzz-$h.row"
  else
    printf '%-12s %12s\n' "$h" "(no result)"
  fi
  [ "$(cat "$build/fuzz-$h.rc" 2>/dev/null || echo 1)" = 0 ] || status=1
done
exit $status
