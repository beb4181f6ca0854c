#!/usr/bin/env bash
# test_cases.sh -- no Check test case (START_TEST ... END_TEST) in any C file
# under tests/ is longer than MAX lines (default 80), counted as the lines
# between the two markers.  A case is one behaviour; a longer one is two
# cases, or a case and a helper.  Also refused: a START_TEST with no END_TEST
# before the next one or the end of its file, and a test_*.c in which no case
# is found at all (a marker the check would not see is a case it never
# measures).
#   tests/style/test_cases.sh [ROOT] [MAX]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
max=${2:-80}
cd "$root"
[ -d tests ] || { echo "test cases: no tests/ folder in $root"; exit 1; }
mapfile -t files < <(find tests -name '*.c' -not -path '*/build*' | sort)
[ ${#files[@]} -gt 0 ] || { echo "test cases: no C files under tests/"; exit 1; }
awk -v max="$max" '
  function unclosed() {
    if (start) { printf "%s:%d: no END_TEST: %s\n", file, start, name; bad = 1 }
    start = 0
  }
  function done_file() {
    unclosed()
    if (file ~ /(^|\/)test_[^\/]*\.c$/ && !found) {
      printf "%s: no START_TEST found\n", file; bad = 1
    }
  }
  FNR == 1 {
    if (file != "") done_file()
    file = FILENAME; found = 0
  }
  /^[ \t]*START_TEST[ \t]*\(/ {
    unclosed()
    start = FNR; name = $0; sub(/^[ \t]+/, "", name); found++; cases++
    if (!seen[FILENAME]++) nfiles++
    d = FILENAME; sub(/\/[^\/]*$/, "", d)
    if (!dirs[d]++) ndirs++
    next
  }
  /^[ \t]*END_TEST([ \t]|$)/ && start {
    n = FNR - start - 1
    if (n > max) { printf "%s:%d: %d lines: %s\n", FILENAME, start, n, name; bad = 1 }
    if (n > longest) longest = n
    start = 0
  }
  END {
    if (file != "") done_file()
    if (!cases) { print "test cases: no START_TEST found under tests/"; exit 1 }
    if (!bad)
      printf "test cases: none over %d lines (%d cases in %d files, %d folders; longest %d)\n",
             max, cases, nfiles, ndirs, longest
    exit bad
  }
' "${files[@]}"
