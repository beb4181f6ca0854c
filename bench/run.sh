#!/usr/bin/env bash
# All of tillpipe's benchmarks, one command.  Each prints its figures next to
# a reference measured in the same run (the machine is shared and noisy).
#   bench/run.sh                  engine (run/parse), database (queue/backfill)
#                                 and fetch (the pipeline over the network)
#                                 and api (the HTTP API under wrk)
#                                 and attack (/livez under a slowloris and
#                                 a login flood from one address)
#   bench/run.sh engine|db|fetch|api|attack  one of them
set -euo pipefail
umask 022 # tillpipe refuses plugin files and folders that others may write: build none
cd "$(dirname "$0")"
case ${1:-all} in
  engine) ./engine.sh ;;
  db) ./db.sh ;;
  fetch) ./fetch.sh ;;
  api) ./api.sh ;;
  attack) ./attack.sh ;;
  all) ./engine.sh; echo; ./db.sh; echo; ./fetch.sh; echo; ./api.sh; echo; ./attack.sh ;;
  *) echo "usage: bench/run.sh [engine|db|fetch|api|attack]" >&2; exit 2 ;;
esac
