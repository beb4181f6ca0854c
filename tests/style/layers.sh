#!/usr/bin/env bash
# layers.sh -- check every #include against the map in docs/architecture.md.
#
#   tests/style/layers.sh [ROOT]      (ROOT: the repository, default: this one)
#
# The map is the block between "<!-- layers -->" and "<!-- /layers -->" in
# ROOT/docs/architecture.md: one line per folder, "FOLDER: ALLOWED...", where
# ALLOWED names the other folders its files may include.  A quoted include
# is resolved next to the file first, then from the include roots (engine/,
# api/, tests/gen/, sdk/include/); <tillpipe/...> is the SDK; other <...> are
# system headers.  Refused: an include of a folder not allowed, any "../",
# and a private header (NAME_int.h) from outside its own folder.
# Tests (test_*.c) may include what they test, and are not checked.
# Prints one line per violation and exits 1 when there is any.
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"
map=$(sed -n '/<!-- layers -->/,/<!-- \/layers -->/p' docs/architecture.md |
  grep -E '^[a-z/]+:' || true)
[ -n "$map" ] || { echo "layers: no map in docs/architecture.md"; exit 1; }
folders=$(printf '%s\n' "$map" | cut -d: -f1 | awk '{ print length, $0 }' | sort -rn |
  cut -d' ' -f2)

owner() { # the mapped folder holding path $1 (longest match), or nothing
  local f
  for f in $folders; do
    case $1 in "$f"/*) echo "$f"; return ;; esac
  done
}
allowed() { # folder $1 may include folder $2
  [ "$1" = "$2" ] && return 0
  printf '%s\n' "$map" | grep -E "^$1:" | cut -d: -f2 | tr ' ' '\n' | grep -qxF "$2"
}

bad=0
fail() { echo "$1"; bad=1; }
for f in $folders; do
  [ -d "$f" ] || fail "layers: $f is in the map but is not a folder"
done
while IFS= read -r file; do
  from=$(owner "$file")
  [ -n "$from" ] || continue
  dir=$(dirname "$file")
  while IFS=: read -r line inc; do
    case $inc in
      *'<tillpipe/'*) target=sdk/include/tillpipe/$(echo "$inc" | sed 's/.*<tillpipe\/\([^>]*\)>.*/\1/') ;;
      *'<'*) continue ;;
      *'"'*) target=$(echo "$inc" | sed 's/[^"]*"\([^"]*\)".*/\1/') ;;
      *) continue ;;
    esac
    where="$file:$line"
    case $target in
      *..*) fail "$where: \"$target\" reaches out of its folder with .."; continue ;;
    esac
    if [ -f "$dir/$target" ]; then
      resolved=$dir/$target
    elif [[ $target == sdk/* ]]; then
      resolved=$target
    else
      resolved=
      for r in engine api tests/gen sdk/include; do
        if [ -f "$r/$target" ]; then resolved=$r/$target; break; fi
      done
      [ -n "$resolved" ] || continue # generated (migrations.c) or a system header
    fi
    to=$(owner "$resolved")
    [ -n "$to" ] || { fail "$where: includes $resolved, which is in no mapped folder"; continue; }
    allowed "$from" "$to" || fail "$where: $from may not include $to ($resolved)"
    case $resolved in
      *_int.h) [ "$(dirname "$resolved")" = "$dir" ] ||
        fail "$where: $resolved is private to $(dirname "$resolved")" ;;
    esac
  done < <(grep -nE '^[[:space:]]*#[[:space:]]*include' "$file" | sed 's/^\([0-9]*\):/\1:/')
done < <(find $folders -name '*.[ch]' -not -name 'test_*.c' | sort)
[ $bad -eq 0 ] && echo "layers: every include follows docs/architecture.md"
exit $bad
