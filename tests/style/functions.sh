#!/usr/bin/env bash
# functions.sh -- no function of tillpipe's own code (engine/, api/, sdk/,
# plugins/, tests/gen/, tests/reportsim/; tests themselves aside) is longer than MAX lines (default
# 100), counted from its opening brace to its closing one.  Functions are
# found as clang-format lays them out (.clang-format): the brace of a
# function body alone on its line in column 0, its closing brace likewise.
#   tests/style/functions.sh [ROOT] [MAX]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
max=${2:-100}
cd "$root"
dirs=()
for d in engine api sdk plugins tests/gen tests/reportsim; do
  [ -d "$d" ] && dirs+=("$d")
done
find "${dirs[@]}" -name '*.[ch]' -not -name 'test_*.c' -not -path '*/build*' | sort | xargs awk -v max="$max" '
  FNR == 1 { start = 0 }
  /^\{$/ && prev ~ /\)$/ { start = FNR; name = prev; next }
  /^\}/ && start {
    n = FNR - start - 1
    if (n > max) { printf "%s:%d: %d lines: %s\n", FILENAME, start, n, name; bad = 1 }
    start = 0
  }
  { prev = $0 }
  END { exit bad }
' && echo "functions: none over $max lines"
