#!/usr/bin/env bash
# GET /livez latency (median and p99) while one address attacks the API, next
# to the same measurement on the same server without the attack, in the same
# run: from 127.0.0.2 (all of 127/8 is loopback) a slowloris (~1,000
# connections sending their headers a byte at a time, reopened when the
# server closes them) and a login flood (16 loops of wrong passwords), both
# from bench/attack.c; the probe opens a fresh connection from 127.0.0.1
# every 20 ms.  `tillpipe serve` runs with its default options (connections
# per client, request deadline, login rate).  Target: p99 < 50 ms under attack.
#   bench/attack.sh [--seconds S] [--connections N] [--login-loops L] [--build DIR]
#   (--build: use an existing build folder instead of building build-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=20 conns=1000 loops=16 build=
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --login-loops) loops=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    *) echo "usage: bench/attack.sh [--seconds S] [--connections N] [--login-loops L] [--build DIR]" >&2
       exit 2 ;;
  esac
done
scripts/deps.sh
if [ -z "$build" ]; then
  build=build-bench
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$build" -j "$(nproc)" --target tillpipe tp-attack >/dev/null
fi
tp=$PWD/$build/tillpipe
attack=$PWD/$build/bench/tp-attack
[ -x "$tp" ] && [ -x "$attack" ] || { echo "attack: no tillpipe or tp-attack in $build" >&2; exit 1; }
ulimit -n 16384 2>/dev/null || ulimit -n 4096 2>/dev/null || true
work=$(mktemp -d /tmp/tillpipe-bench-XXXXXX)
pg=$work/pg
chmod 755 "$work"
apipid=
trap '[ -n "$apipid" ] && kill "$apipid" 2>/dev/null; tests/fixtures/pg/pgctl.sh stop "$pg" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export TILLPIPE_DATABASE_URL=$(tests/fixtures/pg/pgctl.sh start "$pg")
export PGOPTIONS="-c client_min_messages=warning"
$tp migrate >/dev/null
echo "bench-password" | $tp user add bench --role viewer >/dev/null
export TILLPIPE_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
$tp serve --no-workers --listen 127.0.0.1:0 --port-file "$work/port" --quiet \
  --store "fs:$work/store" >"$work/serve.log" 2>&1 &
apipid=$!
for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")

echo "== attack: GET /livez from 127.0.0.1, a new connection every 20 ms, ${seconds} s each,"
echo "   against one address (127.0.0.2): $conns slowloris connections and $loops login loops"
printf "   %-14s %9s %9s %9s %7s\n" "" "p50 ms" "p99 ms" "samples" "errors"
read -r q50 q99 qn qerr _ < <($attack --port "$port" --seconds "$seconds")
printf "   %-14s %9s %9s %9s %7s\n" quiet "$q50" "$q99" "$qn" "$qerr"
read -r a50 a99 an aerr held closed logins l429 lref < <($attack --port "$port" --seconds "$seconds" \
  --src 127.0.0.2 --slowloris "$conns" --login-loops "$loops")
printf "   %-14s %9s %9s %9s %7s\n" "under attack" "$a50" "$a99" "$an" "$aerr"
echo "   the attack: slowloris connections kept by the server at the end $held, closed or refused $closed;"
echo "   logins tried $logins (429: $l429, connection refused: $lref)"
# the login flood alone (the slowloris above takes the address's connections,
# so its logins are mostly refused before they reach the password check)
read -r f50 f99 fn ferr _ _ flogins f429 fref < <($attack --port "$port" --seconds "$seconds" \
  --src 127.0.0.2 --login-loops "$loops")
printf "   %-14s %9s %9s %9s %7s   (logins tried %s, 429: %s, refused: %s)\n" "logins alone" \
  "$f50" "$f99" "$fn" "$ferr" "$flogins" "$f429" "$fref"
if kill -0 "$apipid" 2>/dev/null; then alive=yes; else alive=NO; fi
awk -v q50=$q50 -v q99=$q99 -v a50=$a50 -v a99=$a99 -v alive=$alive 'BEGIN {
  printf "   under attack / quiet: median x%.1f, p99 x%.1f; p99 under attack %.2f ms (target < 50 ms): %s; server alive: %s\n",
         a50 / (q50 > 0 ? q50 : 1e-9), a99 / (q99 > 0 ? q99 : 1e-9), a99, a99 < 50 ? "met" : "MISSED", alive }'
