#!/bin/sh
# test_bundled_repro.sh -- a bundled plugin is the same file wherever built.
#
# usage: test_bundled_repro.sh CMAKE SOURCE_DIR PLUGIN_SO GENERATOR -DVAR=VALUE...
#
# Configures SOURCE_DIR afresh in a temporary build folder (a different
# absolute path from the build that made PLUGIN_SO), with the generator and
# the cache values given (compiler, build type, flags: those of that build),
# builds only PLUGIN_SO's plugin, and compares the two files' sha256: equal,
# since tillpipe_add_plugin keeps build paths out of the file.
set -eu

if [ $# -lt 4 ]; then
    echo "usage: $0 CMAKE SOURCE_DIR PLUGIN_SO GENERATOR -DVAR=VALUE..." >&2
    exit 2
fi
CMAKE=$1 SRC=$2 SO=$3 GEN=$4
shift 4
NAME=$(basename "$SO" .so)

LIB_NAME=repro
. "$(dirname "$0")/lib.sh"

[ -f "$SO" ] || fail "$SO does not exist: build tillpipe first"
if ! "$CMAKE" -S "$SRC" -B "$TMP/build" -G "$GEN" -DBUILD_TESTING=OFF "$@" \
    >"$TMP/configure.log" 2>&1; then
    cat "$TMP/configure.log" >&2
    fail "configuring $SRC in $TMP/build"
fi
if ! "$CMAKE" --build "$TMP/build" --target "$NAME" >"$TMP/build.log" 2>&1; then
    cat "$TMP/build.log" >&2
    fail "building $NAME in $TMP/build"
fi
AGAIN=$TMP/build/plugins/$NAME.so
[ -f "$AGAIN" ] || fail "the build did not produce $AGAIN"
if grep -qF "$TMP" "$AGAIN"; then
    fail "$AGAIN contains its build path ($TMP...): not reproducible"
fi
SHA1=$("$CMAKE" -E sha256sum "$SO" | cut -d' ' -f1)
SHA2=$("$CMAKE" -E sha256sum "$AGAIN" | cut -d' ' -f1)
[ "$SHA1" = "$SHA2" ] || fail "$NAME.so differs between two build folders: $SHA1 ($SO) vs $SHA2"
echo "$NAME.so: the same sha256 from two build folders ($SHA1)"
