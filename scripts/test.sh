#!/usr/bin/env bash
# Run every test: a normal build, then the same suite under AddressSanitizer
# and UndefinedBehaviorSanitizer.  Warnings are errors in both builds.
set -euo pipefail
umask 022 # tillpipe refuses plugin files and folders that others may write: build none
cd "$(dirname "$0")/.."
scripts/deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
run_suite() { # build-dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTP_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs" >/dev/null
  (cd "$dir" && ctest --output-on-failure -j "$jobs")
}

echo "== tests (release build)"
run_suite build/test
echo "== tests (AddressSanitizer + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build/asan -DTP_SANITIZE=ON
echo "== all tests passed"
