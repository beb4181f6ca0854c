#!/usr/bin/env bash
# A throwaway S3 server for the tests, the demo and the benchmarks: s3rver
# (Node.js, pinned in package.json / package-lock.json next to this script)
# on 127.0.0.1, a random port, its objects under DIR/data.  No mocks: the
# tests talk to this real server, which checks request signatures (V2) against
# its one account, access key S3RVER, secret key S3RVER.
#
#   s3ctl.sh start DIR [BUCKET...]
#                         install s3rver if needed, start it with these
#                         buckets; writes DIR/endpoint (host:port), DIR/pid,
#                         DIR/log and prints the endpoint
#   s3ctl.sh stop DIR     stop the server and remove DIR (only under /tmp)
#   s3ctl.sh pause DIR    SIGSTOP the server (it accepts connections and never
#                         answers: timeout tests)
#   s3ctl.sh resume DIR   SIGCONT it
#
# The npm packages are installed once (npm ci from the lock file) into
# ${TILLPIPE_NPM_CACHE:-$HOME/.cache/tillpipe}/s3rver, which later runs and
# other test binaries reuse; concurrent starts serialise on a lock there.
# Buckets are made here because libs3 (Debian's 2.0) signs bucket requests
# over "/bucket/" and s3rver checks them against "/bucket": creating a bucket
# through libs3 fails with SignatureDoesNotMatch unless
# S3CTL_ALLOW_MISMATCHED_SIGNATURES=1, which turns signature checks off
# (unknown access keys are still refused).
# When $S3CTL_OWNER_PID is set, a watchdog stops the server and removes DIR
# once that process is gone (a test binary that crashed before its stop).
set -euo pipefail
usage="usage: s3ctl.sh start DIR [BUCKET...] | stop|pause|resume DIR"
cmd=${1:?$usage}
dir=${2:?$usage}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Where the packages live between runs: the user's cache, else /tmp.
cache_root() {
  if [ -n "${TILLPIPE_NPM_CACHE:-}" ]; then
    echo "$TILLPIPE_NPM_CACHE"
  elif [ -n "${HOME:-}" ] && mkdir -p "$HOME/.cache/tillpipe" 2>/dev/null && [ -w "$HOME/.cache/tillpipe" ]; then
    echo "$HOME/.cache/tillpipe"
  else
    echo "/tmp/tillpipe-npm-$(id -u)"
  fi
}

# npm ci into the cache unless the same lock file was installed there already.
install_s3rver() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
    { echo "s3ctl: node and npm are needed (apt-get install nodejs npm)" >&2; return 1; }
  local root pkg want
  root=$(cache_root)
  pkg=$root/s3rver
  mkdir -p "$pkg"
  want=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1)
  exec 9>"$root/s3rver.lock"
  flock 9
  if [ "$(cat "$pkg/.installed" 2>/dev/null)" != "$want" ] || [ ! -f "$pkg/node_modules/s3rver/bin/s3rver.js" ]; then
    rm -f "$pkg/.installed"
    cp "$here/package.json" "$here/package-lock.json" "$pkg/"
    # npm's own download cache: the user's, unless $HOME is not writable.
    if [ -z "${HOME:-}" ] || [ ! -w "$HOME" ]; then
      export npm_config_cache="$root/npm-cache"
    fi
    if ! (cd "$pkg" && npm ci --no-audit --no-fund --ignore-scripts --no-update-notifier --loglevel=error) >"$root/s3rver-npm.log" 2>&1; then
      echo "s3ctl: npm ci failed (see $root/s3rver-npm.log)" >&2
      flock -u 9
      return 1
    fi
    echo "$want" >"$pkg/.installed"
  fi
  flock -u 9
  exec 9>&-
  echo "$pkg/node_modules/s3rver/bin/s3rver.js"
}

# True once the server at 127.0.0.1:$1 answers an HTTP request.
answers() {
  if command -v curl >/dev/null 2>&1; then
    curl -s -o /dev/null -m 2 "http://127.0.0.1:$1/"
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

stop_pid() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  kill -CONT "$pid" 2>/dev/null || true # a paused server would not die of TERM
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

case $cmd in
start)
  shift 2
  extra=()
  [ "${S3CTL_ALLOW_MISMATCHED_SIGNATURES:-0}" = 1 ] && extra+=(--allow-mismatched-signatures)
  for b in "$@"; do extra+=(--configure-bucket "$b"); done
  js=$(install_s3rver)
  mkdir -p "$dir/data"
  rm -f "$dir/endpoint" "$dir/pid"
  # A random port; another process may hold it, so try a few.
  for try in 1 2 3 4 5 6 7 8; do
    port=$(((RANDOM % 20000) + 30000))
    node "$js" --directory "$dir/data" --address 127.0.0.1 --port "$port" --silent \
      --no-vhost-buckets ${extra[@]+"${extra[@]}"} </dev/null >"$dir/log" 2>&1 &
    pid=$!
    ok=0
    # The CLI prints this line once it is listening (even with --silent):
    # then the port is ours, not some other server's.
    for _ in $(seq 300); do
      if ! kill -0 "$pid" 2>/dev/null; then break; fi
      if grep -q "listening on 127.0.0.1:$port" "$dir/log" 2>/dev/null && answers "$port"; then
        ok=1
        break
      fi
      sleep 0.1
    done
    [ "$ok" -eq 1 ] && break
    stop_pid "$pid"
    wait "$pid" 2>/dev/null || true
    if ! grep -q EADDRINUSE "$dir/log" 2>/dev/null || [ "$try" -eq 8 ]; then
      echo "s3ctl: could not start s3rver (see $dir/log)" >&2
      exit 1
    fi
  done
  echo "$pid" >"$dir/pid"
  echo "127.0.0.1:$port" >"$dir/endpoint"
  chmod 644 "$dir/endpoint" "$dir/pid"
  if [ -n "${S3CTL_OWNER_PID:-}" ]; then
    owner=$S3CTL_OWNER_PID
    (
      trap '' HUP
      while kill -0 "$owner" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 1; done
      if kill -0 "$pid" 2>/dev/null; then
        stop_pid "$pid"
        case $dir in /tmp/*) rm -rf "$dir" ;; esac
      fi
    ) </dev/null >/dev/null 2>&1 &
    echo $! >"$dir/watchdog.pid"
  fi
  cat "$dir/endpoint"
  ;;
stop)
  if [ -f "$dir/watchdog.pid" ]; then
    kill "$(cat "$dir/watchdog.pid")" 2>/dev/null || true
  fi
  if [ -f "$dir/pid" ]; then
    stop_pid "$(cat "$dir/pid")"
  fi
  case $dir in /tmp/*) rm -rf "$dir" ;; esac
  ;;
pause)
  kill -STOP "$(cat "$dir/pid")"
  ;;
resume)
  kill -CONT "$(cat "$dir/pid")"
  ;;
*) echo "$usage" >&2; exit 2 ;;
esac
