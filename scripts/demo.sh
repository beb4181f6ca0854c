#!/usr/bin/env bash
# The demo: generate a week of reports for a few branches (classic and newer
# POS, with re-sent exports, missing files and bad rows), run tillpipe over
# them and show what came out.
set -euo pipefail
umask 022 # tillpipe refuses plugin files and folders that others may write: build none
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build/demo -j "$(nproc)" >/dev/null
tp=build/demo/tillpipe
out=${TILLPIPE_DEMO_DIR:-/tmp/tillpipe-demo}
# A demo left running by an earlier run: stop it first.
if [ -f "$out/pids" ]; then
  kill $(cat "$out/pids") 2>/dev/null || true
  tests/fixtures/pg/pgctl.sh stop "$out/pg" >/dev/null 2>&1 || true
fi
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
echo "== 6. the real thing: a throwaway PostgreSQL, the report-server simulator serving the"
echo "   week (5% of its answers faulty: HTML error pages, truncated bodies, resets), and"
echo "   \`tillpipe serve\` -- the HTTP API with workers in the same process"
pg=$out/pg
chmod 755 "$out"
simpid= apipid=
stop_all() {
  [ -n "$apipid" ] && kill "$apipid" 2>/dev/null
  [ -n "$simpid" ] && kill "$simpid" 2>/dev/null
  tests/fixtures/pg/pgctl.sh stop "$pg" >/dev/null 2>&1 || true
}
trap 'echo "demo: failed; stopping what it started" >&2; stop_all' ERR
export TILLPIPE_DATABASE_URL=$(tests/fixtures/pg/pgctl.sh start "$pg")
export PGOPTIONS="-c client_min_messages=warning"
build/demo/tillpipe-reportsim --dir "$out/reports" --port 0 --port-file "$out/sim.port" --quiet \
  --fault html:list:rate=0.05 --fault truncate:file:rate=0.05 --fault reset:file:rate=0.05 \
  >"$out/sim.log" 2>&1 &
simpid=$!
for _ in $(seq 100); do [ -s "$out/sim.port" ] && break; sleep 0.05; done
$tp migrate
$tp branch import --builtin
password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$password" | $tp user add demo --role admin
export TILLPIPE_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
$tp serve --listen 127.0.0.1:0 --port-file "$out/api.port" --server "http://127.0.0.1:$(cat "$out/sim.port")" \
  --store "fs:$out/store" --concurrency 2 --quiet >"$out/serve.log" 2>&1 &
apipid=$!
for _ in $(seq 200); do [ -s "$out/api.port" ] && break; sleep 0.05; done
api="http://127.0.0.1:$(cat "$out/api.port")"
echo "$apipid $simpid" > "$out/pids"
echo "   API: $api (log: $out/serve.log)"
tok=$(curl -sf -H 'Content-Type: application/json' \
      -d "{\"username\": \"demo\", \"password\": \"$password\"}" "$api/api/auth/login" |
      sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
auth="Authorization: Bearer $tok"
echo
echo "== 7. POST /api/missing/run: queue every terminal-day of the week that has no records"
ev0=$(psql -qAt "$TILLPIPE_DATABASE_URL" -c "SELECT coalesce(max(id), 0) FROM job_events")
queued=$(curl -sf -H "$auth" -H 'Content-Type: application/json' \
         -d '{"start": "2026-02-03", "end": "2026-02-09"}' "$api/api/missing/run" |
         sed -n 's/.*"queued":\([0-9]*\).*/\1/p')
echo "   $queued jobs queued; following GET /api/events (Server-Sent Events):"
exec 3< <(curl -sN -H "$auth" -H "Last-Event-ID: $ev0" "$api/api/events")
done_ok=0 done_bad=0 retries=0
while [ $((done_ok + done_bad)) -lt "$queued" ] && IFS= read -r -t 300 line <&3; do
  case $line in
    data:*'"status" : "succeeded"'*) done_ok=$((done_ok + 1)) ;;
    data:*'"status" : "failed"'*|data:*'"status" : "cancelled"'*) done_bad=$((done_bad + 1)) ;;
    data:*'"status" : "queued"'*'"attempt" : '[1-9]*) retries=$((retries + 1)) ;;
    *) continue ;;
  esac
  printf '\r   progress: %d/%d succeeded, %d failed, %d job retries  ' "$done_ok" "$queued" "$done_bad" "$retries"
done
exec 3<&-
echo
echo
echo "== 8. summary, from the API"
curl -sf -H "$auth" "$api/metrics" | grep '^tillpipe_jobs' | sed 's/^/   /'
echo "   records: $(psql -qAt "$TILLPIPE_DATABASE_URL" -c "SELECT count(*) FROM records")"
echo "   still missing (GET /api/missing): $(curl -sf -H "$auth" "$api/api/missing?start=2026-02-03&end=2026-02-09")"
first=$(curl -sf -H "$auth" "$api/api/jobs?limit=1" | sed -n 's/.*"items": *\[{"id" *: *\([0-9]*\).*/\1/p')
echo "   one job, with its attempts and files: curl -H \"\$auth\" $api/api/jobs/$first"
trap - ERR
echo
echo "The API keeps running. Explore it:"
echo "  user demo, password $password"
echo "  curl -s -H 'Content-Type: application/json' -d '{\"username\": \"demo\", \"password\": \"$password\"}' $api/api/auth/login"
echo "  auth='Authorization: Bearer <the token>'"
echo "  curl -H \"\$auth\" '$api/api/jobs?status=succeeded&limit=5'"
echo "  curl -H \"\$auth\" '$api/api/records/export?start=2026-02-03&end=2026-02-09&format=jsonl' | head -2"
echo "  (routes: docs/openapi.yaml)"
echo "Stop it: kill $apipid $simpid; tests/fixtures/pg/pgctl.sh stop $pg"
echo
echo "Outputs in $out: record2025.csv, records.jsonl, report.json (every candidate file and"
echo "why it was chosen, plugins used, data-quality flags). Try:"
echo "  $tp parse $out/reports/\$(ls $out/reports | grep rd5800 | head -1) | head"
