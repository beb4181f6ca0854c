#!/usr/bin/env bash
# seeds.sh OUT PLUGIN_DIR -- the fuzzers' seed corpora from the project's
# report samples (samples/) and the plugins' test cases
# (tests/plugins/cases/), in each harness's input format (the comment at the
# top of tests/fuzz/fuzz_<name>.c), into OUT/<name>/.  The committed seeds
# (tests/fuzz/seeds/<name>/) and crash cases (regress/<name>/) are added by
# bench/fuzz.sh beside these.
set -euo pipefail
out=$1
plugdir=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
samples=$root/samples
cases=$root/tests/plugins/cases
mkdir -p "$out"/{csv,plugins,termday,report_name,unpack,fetch_list,config}

# the plugins in registry order (file names, sorted)
mapfile -t plugins < <(cd "$plugdir" && ls -1 -- *.so | LC_ALL=C sort | sed 's/\.so$//')
plugin_index() { # name -> index, or nothing
  local i
  for i in "${!plugins[@]}"; do [ "${plugins[$i]}" = "$1" ] && echo "$i" && return; done
}
octal() { printf '\\%03o' "$1"; }

# one CSV file: a csv seed and a plugins seed for `plugin` (delimiter optional)
add_csv() { # file plugin delimiter-char tag
  local f=$1 plugin=$2 d=${3:-,} tag=$4 i flags=0 dc
  printf '%s\000\001\000' "$d" > "$out/csv/$tag"
  cat "$f" >> "$out/csv/$tag"
  i=$(plugin_index "$plugin")
  [ -n "$i" ] || return 0
  [ "$d" != "," ] && flags=1
  dc=$(printf '%d' "'$d")
  printf "$(octal "$i")$(octal "$flags")$(octal "$dc")\\000\\000\\000" > "$out/plugins/$tag"
  cat "$f" >> "$out/plugins/$tag"
}

for c in "$cases"/*/*/; do
  plugin=$(basename "$(dirname "$c")"); name=$(basename "$c"); d=,
  [ -f "$c/input.csv" ] || continue
  if [ -f "$c/options.json" ]; then
    grep -q '"delimiter": ";"' "$c/options.json" && d=';'
    grep -q '"delimiter": "\\t"' "$c/options.json" && d=$'\t'
  fi
  add_csv "$c/input.csv" "$plugin" "$d" "case-$plugin-$name"
done

for day in "$samples"/*/reports; do
  case=$(basename "$(dirname "$day")")
  [ "$case" = generated ] && continue # large: the hand-made cases cover its shapes
  for f in "$day"/*.csv; do
    [ -f "$f" ] || continue
    n=$(basename "$f"); type=$(echo "$n" | cut -d_ -f4)
    printf '%s' "$n" > "$out/report_name/$case-$n"
    add_csv "$f" "$type" , "sample-$case-$n"
    [ "$case" = newer-pos ] && [ "$type" = rd5500 ] && add_csv "$f" newpos , "sample-$case-newpos-$n"
  done
  # one terminal-day seed per branch/terminal of the case
  for key in $(ls "$day" | grep '\.csv$' | cut -d_ -f2,3 | sort -u); do
    t=$out/termday/$case-$key; : > "$t"; sep=""
    for f in "$day"/*_"${key}"_*.csv; do
      printf '%s%s\n' "$sep" "$(basename "$f")" >> "$t"; cat "$f" >> "$t"; sep=$'\n~~~~\n'
    done
  done
  ls "$day" | sed "s|^|reports/$case/|" | paste -sd, > "$out/fetch_list/$case"
done
cp "$samples"/archives/reports/* "$out/unpack/"
cp "$samples"/branches.json "$out/config/samples-branches.json"
