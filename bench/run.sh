#!/usr/bin/env bash
# All of tillpipe's benchmarks, one command.  Each prints its figures next to
# a reference measured in the same run (the machine is shared and noisy).
#   bench/run.sh            engine (run/parse) and database (queue/backfill)
#   bench/run.sh engine|db  one of them
set -euo pipefail
cd "$(dirname "$0")"
case ${1:-all} in
  engine) ./engine.sh ;;
  db) ./db.sh ;;
  all) ./engine.sh; echo; ./db.sh ;;
  *) echo "usage: bench/run.sh [engine|db]" >&2; exit 2 ;;
esac
