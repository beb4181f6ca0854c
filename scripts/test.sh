#!/usr/bin/env bash
# Run every test: a normal build, then the same suite under AddressSanitizer
# and UndefinedBehaviorSanitizer, then a short run of every fuzzer (clang,
# libFuzzer, ASan+UBSan; $TP_FUZZ_SECONDS each, 20 by default, 0 skips them).
# Warnings are errors in every build.
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
fuzz_secs=${TP_FUZZ_SECONDS:-20}
if [ "$fuzz_secs" -gt 0 ]; then
  echo "== fuzzers ($fuzz_secs s each, $jobs at once; any crash, leak or sanitizer report fails)"
  bench/fuzz.sh -p "$jobs" -t "$fuzz_secs"
fi
echo "== all tests passed"
