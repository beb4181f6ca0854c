#!/usr/bin/env bash
# The demo: generate a week of reports for a few branches (classic and newer
# POS, with re-sent exports, missing files and bad rows), run tillpipe over
# them and show what came out.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build/demo -j "$(nproc)" >/dev/null
tp=build/demo/tillpipe
out=${TILLPIPE_DEMO_DIR:-/tmp/tillpipe-demo}
rm -rf "$out" && mkdir -p "$out"

echo "== 1. plugins"
$tp plugin list
echo
echo "== 2. generate the chain's 8 configured branches x 2 terminals x 7 days"
$tp gen --branches 8 --days 7 --seed 2026 --start 2026-02-03 --out "$out/reports"
echo
echo "== 3. tillpipe run"
$tp run --reports "$out/reports" --out "$out/record2025.csv" --report "$out/report.json"
$tp run --reports "$out/reports" --out "$out/records.jsonl" --format jsonl --quiet
echo
echo "== 4. a few records (legacy record2025 layout)"
head -4 "$out/record2025.csv"
echo "   ... and typed, as JSON lines:"
head -1 "$out/records.jsonl"
echo
echo "== 5. one flagged terminal-day, explained (tillpipe run --verbose)"
$tp run --reports "$out/reports" --out "$out/tmp.csv" --verbose --quiet 2>&1 >/dev/null | awk '
  /^[^ ].*: [0-9]+ records$/ { if (flagged) exit; hdr = $0; buf = ""; next }
  { buf = buf "\n" $0 }
  /^  (warning|error) / { flagged = 1 }
  END { if (flagged) print hdr buf }' || true # awk may stop reading early
rm -f "$out/tmp.csv"
echo
echo "== 6. the same week over the network: the report-server simulator serves the"
echo "   folder (with 5% of its answers faulty: HTML error pages, truncated bodies, resets),"
echo "   workers fetch every terminal-day, keep the raw files in a store, load PostgreSQL"
pg=$out/pg
chmod 755 "$out"
simpid=
trap '[ -n "$simpid" ] && kill "$simpid" 2>/dev/null; tests/pg/pgctl.sh stop "$pg" >/dev/null 2>&1 || true' EXIT
export TILLPIPE_DATABASE_URL=$(tests/pg/pgctl.sh start "$pg")
export PGOPTIONS="-c client_min_messages=warning"
build/demo/tillpipe-reportsim --dir "$out/reports" --port 0 --port-file "$out/sim.port" --quiet \
  --fault html:list:rate=0.05 --fault truncate:file:rate=0.05 --fault reset:file:rate=0.05 &
simpid=$!
for _ in $(seq 100); do [ -s "$out/sim.port" ] && break; sleep 0.05; done
server="http://127.0.0.1:$(cat "$out/sim.port")"
echo "   report server: $server; raw-file store: $out/store"
$tp migrate
$tp branch import --builtin
$tp enqueue --from 2026-02-03 --to 2026-02-09
$tp worker --server "$server" --store "fs:$out/store" --concurrency 2 --exit-when-idle \
  --backoff 1 --retries 2 2>&1 | tail -1
$tp jobs --limit 6
echo "   jobs by status, and records per branch:"
psql -qAt -F ' ' "$TILLPIPE_DATABASE_URL" -c "SELECT '   ' || status, count(*) FROM jobs GROUP BY 1 ORDER BY 1"
psql -qAt -F ' ' "$TILLPIPE_DATABASE_URL" -c "SELECT '   ' || branch, count(*) FROM records GROUP BY 1 ORDER BY 1"
echo "   raw files: $(psql -qAt "$TILLPIPE_DATABASE_URL" -c "SELECT count(*) FROM files") candidates," \
     "$(find "$out/store" -type f | wc -l) objects stored (identical re-sends kept once)"
echo "   fetch retries the faults cost: $(curl -s "$server/_sim/stats")"
echo '   (see "tillpipe job ID" for one job: its attempts, files with why each was chosen, flags)'
echo
echo "== 7. reparse the week from the stored raw files, the report server switched off"
kill "$simpid"; simpid=
$tp reparse --from 2026-02-03 --to 2026-02-09
$tp worker --server "$server" --store "fs:$out/store" --concurrency 2 --exit-when-idle 2>&1 | tail -1
psql -qAt -F ' ' "$TILLPIPE_DATABASE_URL" -c "SELECT '   ' || kind || ' ' || status, count(*) FROM jobs GROUP BY 1 ORDER BY 1"
echo
echo "Outputs in $out: record2025.csv, records.jsonl, report.json (every candidate file and"
echo "why it was chosen, plugins used, data-quality flags). Try:"
echo "  $tp parse $out/reports/\$(ls $out/reports | grep rd5800 | head -1) | head"
