#!/usr/bin/env bash
# format.sh -- every C file of the repository is as the house's
# .clang-format lays it out (clang-format --dry-run --Werror), and no line of
# any of them is over 100 columns.
#   tests/style/format.sh [ROOT]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"
command -v clang-format >/dev/null ||
  { echo "format: clang-format is not installed (scripts/deps.sh installs it)"; exit 1; }
mapfile -t files < <(find engine api sdk plugins tests bench -name '*.[ch]' -not -path '*/build*' |
  sort)
bad=0
clang-format --dry-run --Werror "${files[@]}" 2>&1 | grep -E '^[^ ].*: (error|warning)' || true
clang-format --dry-run --Werror "${files[@]}" >/dev/null 2>&1 || bad=1
awk 'length > 100 { printf "%s:%d: %d columns\n", FILENAME, FNR, length; bad = 1 }
     END { exit bad }' "${files[@]}" || bad=1
[ $bad -eq 0 ] && echo "format: ${#files[@]} files as .clang-format lays them out, none over 100 columns"
exit $bad
