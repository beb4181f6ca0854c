#!/usr/bin/env bash
# tillpipe benchmarks -- one command, figures next to a reference measured in
# the same run (the machine is shared and noisy: medians and ratios).
#
#   bench/engine.sh [--days N] [--big-mb N] [--reps N]   (bench/run.sh runs it)
#
# 1. `tillpipe run` over generated data for one branch, two terminals and a
#    year (default), against `cat` of the same files: input MB/s,
#    records/s, terminal-days/s, peak RSS and the ratio to cat.
#    Target: >= 300 MB/s of report input on one core.
#    The same run with `--isolation none` (plugins in the engine's process)
#    beside it: what the sandbox costs.  Target: <= 10% (ratio <= 1.10).
# 2. `tillpipe parse` over one generated rd5000 file of about 1 GB (default):
#    peak RSS.  Target: <= 64 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
days=365 big_mb=1024 reps=5
while [ $# -gt 0 ]; do
  case $1 in
    --days) days=$2; shift 2 ;;
    --big-mb) big_mb=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    *) echo "usage: bench/engine.sh [--days N] [--big-mb N] [--reps N]" >&2; exit 2 ;;
  esac
done
scripts/deps.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench -j "$(nproc)" >/dev/null
tp=build-bench/tillpipe
measure=build-bench/bench/tp-measure
work=$(mktemp -d /tmp/tillpipe-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== generating 1 branch x 2 terminals x $days days"
$tp gen --branches 1 --terminals 2 --days "$days" --seed 2026 --out "$work/in" >/dev/null
bytes=$(du -sb "$work/in" | cut -f1)
files=$(find "$work/in" -type f | wc -l)
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
echo "   $files files, $mb MB"

# Warm the page cache so both sides read from memory.
cat "$work"/in/* >/dev/null
read -r cat_s cat_min _ < <($measure "$reps" -- sh -c "cat \"$work\"/in/* >/dev/null")
read -r run_s run_min run_rss < <($measure "$reps" -- taskset -c 0 $tp run --reports "$work/in" \
  --out "$work/out.csv" --quiet)
read -r none_s none_min none_rss < <($measure "$reps" -- taskset -c 0 $tp run --reports "$work/in" \
  --out "$work/out-none.csv" --quiet --isolation none)
cmp -s "$work/out.csv" "$work/out-none.csv" || { echo "isolation changed the records" >&2; exit 1; }
records=$(($(wc -l < "$work/out.csv") - 1))
tdays=$($tp run --reports "$work/in" --out "$work/out2.csv" 2>&1 >/dev/null |
  sed -n 's/^tillpipe run: \([0-9]*\) terminal-days.*/\1/p')

echo
echo "== tillpipe run: one branch, two terminals, $days days (median of $reps, pinned to one core)"
awk -v b="$bytes" -v rs="$run_s" -v cs="$cat_s" -v rec="$records" -v td="$tdays" -v rss="$run_rss" \
    -v ns="$none_s" -v nrss="$none_rss" '
BEGIN {
  printf "   %-28s %10s %12s %14s %12s\n", "", "seconds", "input MB/s", "records/s", "term-days/s"
  printf "   %-28s %10.3f %12.1f %14.0f %12.1f\n", "tillpipe run", rs, b/1e6/rs, rec/rs, td/rs
  printf "   %-28s %10.3f %12.1f %14.0f %12.1f\n", "tillpipe run --isolation none", ns, b/1e6/ns, rec/ns, td/ns
  printf "   %-28s %10.3f %12.1f\n", "cat (same files)", cs, b/1e6/cs
  printf "   ratio run/cat throughput:  %.2f  (run takes %.2fx the time cat takes)\n", cs/rs, rs/cs
  printf "   sandbox cost: run/none %.3f (target <= 1.10: %s)\n", rs/ns, (rs/ns <= 1.10 ? "MET" : "NOT MET")
  printf "   peak RSS of tillpipe run:  %.1f MB (--isolation none: %.1f MB)\n", rss/1024, nrss/1024
  printf "   target >= 300 MB/s input:  %s\n", (b/1e6/rs >= 300 ? "MET" : "NOT MET")
}'

echo
echo "== tillpipe parse over a ~$big_mb MB rd5000 file"
$tp gen --big-rd5000 $((big_mb * 1024 * 1024)) --seed 7 --out "$work/a_BMC_1_rd5000_2026-02-09_20-00_.csv" >/dev/null
rm -rf "$work/in"
bigb=$(stat -c %s "$work/a_BMC_1_rd5000_2026-02-09_20-00_.csv")
read -r p_s _ p_rss < <($measure 1 -- $tp parse "$work/a_BMC_1_rd5000_2026-02-09_20-00_.csv")
read -r c_s _ _ < <($measure 1 -- cat "$work/a_BMC_1_rd5000_2026-02-09_20-00_.csv")
awk -v b="$bigb" -v ps="$p_s" -v cs="$c_s" -v rss="$p_rss" 'BEGIN {
  printf "   file %.0f MB; parse (JSON lines to /dev/null) %.2f s = %.1f MB/s; cat %.2f s = %.1f MB/s\n", b/1e6, ps, b/1e6/ps, cs, b/1e6/cs
  printf "   peak RSS of tillpipe parse: %.1f MB  (target <= 64 MB: %s)\n", rss/1024, (rss/1024 <= 64 ? "MET" : "NOT MET")
}'
