#!/usr/bin/env bash
# All of tillpipe's benchmarks, one command.  Each prints its figures next to
# a reference measured in the same run (the machine is shared and noisy).
#   bench/run.sh                  engine (run/parse), database (queue/backfill)
#                                 and fetch (the pipeline over the network)
#                                 and api (the HTTP API under wrk)
#   bench/run.sh engine|db|fetch|api  one of them
set -euo pipefail
umask 022 # tillpipe refuses plugin files and folders that others may write: build none
cd "$(dirname "$0")"
case ${1:-all} in
  engine) ./engine.sh ;;
  db) ./db.sh ;;
  fetch) ./fetch.sh ;;
  api) ./api.sh ;;
  all) ./engine.sh; echo; ./db.sh; echo; ./fetch.sh; echo; ./api.sh ;;
  *) echo "usage: bench/run.sh [engine|db|fetch|api]" >&2; exit 2 ;;
esac
