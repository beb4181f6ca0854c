#!/bin/sh
# test_template.sh -- the SDK template as an integrator uses it.
#
# usage: test_template.sh CMAKE BUILD_DIR TILLPIPE BUNDLED_PLUGIN_DIR CC NM
#
#  1. install the SDK (headers, template, CMake package) of BUILD_DIR into a
#     temporary prefix: `cmake --install BUILD_DIR --component sdk`;
#  2. copy the installed template and build it out of tree with cmake,
#     against that prefix only (-DCMAKE_PREFIX_PATH), warnings as errors;
#  3. check it exports only tp_plugin_entry, `tillpipe plugin info` it, and
#     `tillpipe parse` its sample, diffing with the expected output;
#  4. next to the bundled plugins: branch EXAMPLE resolves to it as an
#     override, other branches to the generic rd5900; with options from a
#     branch configuration it reads the classic layout as the generic does,
#     and a semicolon-separated copy of its sample as the sample; bad option
#     values fail the parse with the plugin's message.
# Temporary files go under one mktemp directory, removed on exit.
set -eu

if [ $# -ne 6 ]; then
    echo "usage: $0 CMAKE BUILD_DIR TILLPIPE BUNDLED_PLUGIN_DIR CC NM" >&2
    exit 2
fi
CMAKE=$1 BUILD=$2 TILLPIPE=$3 BUNDLED=$4 CC=$5 NM=$6
NAME=example_rd5900

LIB_NAME=template
. "$(dirname "$0")/lib.sh"

# parse OUT ERR ARGS...: tillpipe parse ARGS, stdout to OUT, stderr to ERR.
parse() {
    out=$1 err=$2
    shift 2
    if ! "$TILLPIPE" parse "$@" >"$out" 2>"$err"; then
        cat "$err" >&2
        fail "tillpipe parse $*"
    fi
}

# ------------------------------------------------ 1. install the SDK
PREFIX=$TMP/prefix
logged "$TMP/install.log" "$CMAKE" --install "$BUILD" --prefix "$PREFIX" --component sdk
for f in include/tillpipe/sdk.h include/tillpipe/csv.h include/tillpipe/layout.h \
    share/tillpipe/template/CMakeLists.txt share/tillpipe/template/$NAME.c \
    share/tillpipe/template/sample/rd5900.csv \
    share/tillpipe/template/sample/rd5900.expected.jsonl; do
    [ -f "$PREFIX/$f" ] || fail "the SDK install did not write $f"
done

# ------------------------------------------------ 2. copy and build
SRC=$TMP/my-plugin
cp -R "$PREFIX/share/tillpipe/template" "$SRC"
logged "$TMP/configure.log" "$CMAKE" -S "$SRC" -B "$SRC/build" \
    -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS=-Werror
# found in the temporary prefix, not in /usr/local or the source tree
grep -qF -- "-- tillpipe SDK: $PREFIX/include " "$TMP/configure.log" ||
    fail "the template did not take the SDK from $PREFIX/include"
logged "$TMP/build.log" "$CMAKE" --build "$SRC/build"
SO=$SRC/build/$NAME.so
[ -f "$SO" ] || fail "the build did not produce $SO"

# Against the installed headers only: no include path into tillpipe's source
# tree (sdk/include) or build tree in the plugin's compile flags or deps.
if grep -rqs -e "$BUILD" -e "sdk/include" "$SRC/build/CMakeFiles/$NAME.dir"; then
    fail "the out-of-tree build refers to tillpipe's source or build tree"
fi

# ------------------------------------------------ 3. exports, info, parse
SYMS=$("$NM" -D --defined-only "$SO" | awk '{print $NF}') || fail "$NM -D $SO failed"
[ "$SYMS" = tp_plugin_entry ] || fail "$SO exports: $SYMS (want only tp_plugin_entry)"

logged "$TMP/info.txt" "$TILLPIPE" plugin info "$SO"
for want in "name:     $NAME" "version:  1.0.0" "license:  MIT" "types:    rd5900" \
    "branches: EXAMPLE"; do
    expect "$TMP/info.txt" "$want"
done

ALONE=$TMP/plugins-alone
mkdir "$ALONE"
cp "$SO" "$ALONE/"
SAMPLE=$SRC/sample/rd5900.csv
EXPECTED=$SRC/sample/rd5900.expected.jsonl
parse "$TMP/out.jsonl" "$TMP/err.txt" --plugins "$ALONE" --plugin $NAME --type rd5900 "$SAMPLE"
diff -u "$EXPECTED" "$TMP/out.jsonl" >&2 || fail "tillpipe parse output differs from $EXPECTED"
expect "$TMP/err.txt" "7 rows, 2 rejected, 1 warnings (parser $NAME 1.0.0:"

# ------------------------------------------------ 4. next to the bundled ones
ALL=$TMP/plugins-all
mkdir "$ALL"
cp "$BUNDLED"/*.so "$SO" "$ALL/"
logged "$TMP/list.txt" "$TILLPIPE" plugin list --plugins "$ALL"
grep -q "^$NAME " "$TMP/list.txt" || { cat "$TMP/list.txt" >&2; fail "plugin list lacks $NAME"; }
expect "$TMP/list.txt" "branches: EXAMPLE"

parse "$TMP/out-ex.jsonl" "$TMP/err-ex.txt" --plugins "$ALL" --branch EXAMPLE --type rd5900 \
    "$SAMPLE"
expect "$TMP/err-ex.txt" "(parser $NAME 1.0.0: override for branch EXAMPLE)"
cmp -s "$EXPECTED" "$TMP/out-ex.jsonl" || fail "override output differs from $EXPECTED"

CLASSIC=$TMP/classic.csv
printf '%s\n' 'PAY_CODE,PAY_DESC,METHOD,MAX_AMOUNT,POS,BRANCH' \
    '00001,CASH,0,0.000,1,EXAMPLE' '4,CHARGE,6,0.000,1,EXAMPLE' '5,GC P50,2,50.000,1,EXAMPLE' \
    >"$CLASSIC"
parse "$TMP/generic.jsonl" "$TMP/err-gen.txt" --plugins "$ALL" --branch OTHER --type rd5900 \
    "$CLASSIC"
expect "$TMP/err-gen.txt" "(parser rd5900 1.0.0: generic)"
expect "$TMP/generic.jsonl" '{"line":2,"row":{"CODE":"00001","NAME":"CASH"}}'

cat >"$TMP/branches.json" <<EOF
{"branches": [
  {"code": "EXAMPLE", "parsers": {"rd5900": {"plugin": "$NAME",
                                   "options": {"column.CODE": 0, "column.NAME": 1}}}},
  {"code": "BROKEN", "parsers": {"rd5900": {"plugin": "$NAME",
                                  "options": {"column.CODE": "x"}}}},
  {"code": "SEMI", "parsers": {"rd5900": {"plugin": "$NAME",
                                "options": {"delimiter": ";"}}}},
  {"code": "BADDELIM", "parsers": {"rd5900": {"plugin": "$NAME",
                                    "options": {"delimiter": ";;"}}}}
]}
EOF
parse "$TMP/options.jsonl" "$TMP/err-opt.txt" --plugins "$ALL" --branches "$TMP/branches.json" \
    --branch EXAMPLE --type rd5900 "$CLASSIC"
expect "$TMP/err-opt.txt" "(parser $NAME 1.0.0: named by the branch configuration)"
diff -u "$TMP/generic.jsonl" "$TMP/options.jsonl" >&2 ||
    fail "with column options the template should read the classic layout as rd5900 does"

if "$TILLPIPE" parse --plugins "$ALL" --branches "$TMP/branches.json" --branch BROKEN \
    --type rd5900 "$CLASSIC" >"$TMP/broken.jsonl" 2>"$TMP/err-broken.txt"; then
    fail "a bad option value must fail the parse"
fi
expect "$TMP/broken.jsonl" '"severity":"error","problem":"option column.CODE must be a column index'
expect "$TMP/err-broken.txt" "plugin $NAME refused its options"

# A POS writing ';': the sample has no comma inside a quoted field, so with
# every comma made a semicolon it must read as the sample does.
tr , ';' <"$SAMPLE" >"$TMP/semicolon.csv"
parse "$TMP/semicolon.jsonl" "$TMP/err-semi.txt" --plugins "$ALL" \
    --branches "$TMP/branches.json" --branch SEMI --type rd5900 "$TMP/semicolon.csv"
diff -u "$EXPECTED" "$TMP/semicolon.jsonl" >&2 ||
    fail "with the delimiter option the semicolon sample should read as the sample"
if "$TILLPIPE" parse --plugins "$ALL" --branches "$TMP/branches.json" --branch BADDELIM \
    --type rd5900 "$SAMPLE" >"$TMP/baddelim.jsonl" 2>"$TMP/err-baddelim.txt"; then
    fail "a delimiter option of two characters must fail the parse"
fi
expect "$TMP/baddelim.jsonl" '"problem":"option delimiter must be one character'
expect "$TMP/err-baddelim.txt" "plugin $NAME refused its options"

echo "template: built against $PREFIX/include, info, parse, override, options and delimiter OK"
