#!/usr/bin/env bash
# layers_selftest.sh -- layers.sh must fail on a forbidden include: a copy of
# the repository's sources gets one (engine/core reaching engine/db), another
# a private header taken across folders, and each check must refuse it.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tillpipe-layers-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
copy() { # a fresh copy of what layers.sh reads
  rm -rf "$tmp/r" && mkdir -p "$tmp/r"
  local d dirs=()
  for d in docs engine api sdk plugins tests/gen tests/reportsim tests/style; do
    [ -e "$src/$d" ] && dirs+=("$d")
  done
  (cd "$src" && tar cf - --exclude='build*' "${dirs[@]}") | (cd "$tmp/r" && tar xf -)
}
expect_refused() { # what, pattern
  if out=$("$tmp/r/tests/style/layers.sh" "$tmp/r" 2>&1); then
    echo "FAIL: $1 was not refused"; exit 1
  fi
  grep -qF -- "$2" <<<"$out" || { echo "FAIL: $1: no line with \"$2\" in:"; echo "$out"; exit 1; }
  echo "ok: $1 refused"
}
copy
"$tmp/r/tests/style/layers.sh" "$tmp/r" >/dev/null || { echo "FAIL: the copy itself fails"; exit 1; }
sed -i '0,/#include/s//#include "db\/db.h"\n#include/' "$tmp/r/engine/core/error.c"
expect_refused "engine/core including engine/db" "engine/core may not include engine/db"
copy
sed -i '0,/#include/s//#include "store\/store_int.h"\n#include/' "$tmp/r/engine/worker/worker.c"
expect_refused "a private header from another folder" "is private to engine/store"
copy
sed -i '0,/#include/s//#include "..\/..\/engine\/core\/error.h"\n#include/' "$tmp/r/plugins/rd5000/rd5000.c"
expect_refused "a plugin reaching into the engine" "reaches out of its folder"
