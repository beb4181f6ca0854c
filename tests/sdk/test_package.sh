#!/bin/sh
# test_package.sh -- the SDK as an installed package, and reproducible plugins.
#
# usage: test_package.sh CMAKE BUILD_DIR TILLPIPE CC PKG_CONFIG LIBDIR
#
#  1. `cmake --install BUILD_DIR --prefix P --component sdk` into a temporary
#     prefix P: the headers, the template, P/LIBDIR/pkgconfig/tillpipe.pc
#     and the CMake package P/LIBDIR/cmake/tillpipe/;
#  2. build the installed template twice with find_package(tillpipe) against
#     P, from two copies at different absolute paths (one with its build
#     folder inside, one outside): both .so files must have the same sha256,
#     and neither may contain a path of the temporary folder;
#  3. build it once more with the template's Makefile, which takes the SDK
#     from `pkg-config --cflags tillpipe` only (PKG_CONFIG_PATH=P/LIBDIR/
#     pkgconfig); check the .pc's variables, that `tillpipe plugin info`
#     reads the result and names it, with the .pc's ABI; and that
#     `tillpipe plugin test` passes both builds (find_package and make).
# Temporary files go under one mktemp directory, removed on exit.
set -eu

if [ $# -ne 6 ]; then
    echo "usage: $0 CMAKE BUILD_DIR TILLPIPE CC PKG_CONFIG LIBDIR" >&2
    exit 2
fi
CMAKE=$1 BUILD=$2 TILLPIPE=$3 CC=$4 PKG_CONFIG=$5 LIBDIR=$6
NAME=example_rd5900

LIB_NAME=package
. "$(dirname "$0")/lib.sh"

# sha FILE: the sha256 of FILE, in hex.
sha() {
    "$CMAKE" -E sha256sum "$1" | cut -d' ' -f1
}

# ------------------------------------------------ 1. install the SDK
PREFIX=$TMP/prefix
logged "$TMP/install.log" "$CMAKE" --install "$BUILD" --prefix "$PREFIX" --component sdk
for f in include/tillpipe/sdk.h include/tillpipe/csv.h include/tillpipe/layout.h \
    share/tillpipe/template/CMakeLists.txt share/tillpipe/template/Makefile \
    share/tillpipe/template/$NAME.c "$LIBDIR/pkgconfig/tillpipe.pc" \
    "$LIBDIR/cmake/tillpipe/tillpipeConfig.cmake" \
    "$LIBDIR/cmake/tillpipe/tillpipeConfigVersion.cmake"; do
    [ -f "$PREFIX/$f" ] || fail "the SDK install did not write $f"
done
# the SDK only: no binary, no bundled plugin
[ ! -e "$PREFIX/bin" ] || fail "cmake --install --component sdk installed $PREFIX/bin"

# ------------------------------------------------ 2. find_package, twice
# build SRC BUILDDIR LOG: copy the installed template to SRC, configure it
# against the prefix only and build it in BUILDDIR.
build() {
    cp -R "$PREFIX/share/tillpipe/template" "$1"
    logged "$3.configure" "$CMAKE" -S "$1" -B "$2" -DCMAKE_PREFIX_PATH="$PREFIX" \
        -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS=-Werror
    grep -qxF "tillpipe_DIR:PATH=$PREFIX/$LIBDIR/cmake/tillpipe" "$2/CMakeCache.txt" ||
        fail "$1 did not take the CMake package from $PREFIX"
    logged "$3.build" "$CMAKE" --build "$2"
    [ -f "$2/$NAME.so" ] || fail "the build did not produce $2/$NAME.so"
}
mkdir "$TMP/one" "$TMP/two" "$TMP/two/sources"
build "$TMP/one/my-plugin" "$TMP/one/my-plugin/build" "$TMP/one"
build "$TMP/two/sources/other-name" "$TMP/two/out" "$TMP/two"
A=$TMP/one/my-plugin/build/$NAME.so
B=$TMP/two/out/$NAME.so
for so in "$A" "$B"; do
    if grep -qF "$TMP" "$so"; then
        fail "$so contains a build path ($TMP...): not reproducible"
    fi
done
SHA_A=$(sha "$A")
SHA_B=$(sha "$B")
[ "$SHA_A" = "$SHA_B" ] || fail "the same template built in two folders differs: $SHA_A ($A) vs $SHA_B ($B)"

# ------------------------------------------------ 3. pkg-config and make
PKG_CONFIG_PATH=$PREFIX/$LIBDIR/pkgconfig
export PKG_CONFIG_PATH
PC_CFLAGS=$("$PKG_CONFIG" --cflags tillpipe) || fail "pkg-config finds no tillpipe.pc in $PKG_CONFIG_PATH"
PC_CFLAGS=$(echo $PC_CFLAGS) # without pkg-config's trailing space
[ "$PC_CFLAGS" = "-I$PREFIX/include" ] ||
    fail "pkg-config --cflags tillpipe: $PC_CFLAGS (want -I$PREFIX/include)"
PLUGINDIR=$("$PKG_CONFIG" --variable=plugindir tillpipe)
[ "$PLUGINDIR" = "$PREFIX/$LIBDIR/tillpipe/plugins" ] ||
    fail "pkg-config --variable=plugindir tillpipe: $PLUGINDIR"
ABI=$("$PKG_CONFIG" --variable=abi_version tillpipe)

MK=$TMP/make/$NAME
mkdir "$TMP/make"
cp -R "$PREFIX/share/tillpipe/template" "$MK"
logged "$TMP/make.log" make -C "$MK" CC="$CC" PKG_CONFIG="$PKG_CONFIG" CFLAGS="-O2 -g -Werror"
SO=$MK/$NAME.so
[ -f "$SO" ] || fail "make did not produce $SO"
expect "$TMP/make.log" "-I$PREFIX/include"
if grep -qF "$TMP" "$SO"; then
    fail "$SO contains a build path ($TMP...): not reproducible"
fi

logged "$TMP/info.txt" "$TILLPIPE" plugin info "$SO"
expect "$TMP/info.txt" "name:     $NAME"
expect "$TMP/info.txt" "ABI:      $ABI "

# Both builds pass the conformance kit.
logged "$TMP/plugin-test-cmake.txt" "$TILLPIPE" plugin test "$A"
logged "$TMP/plugin-test-make.txt" "$TILLPIPE" plugin test "$SO"
expect "$TMP/plugin-test-cmake.txt" "ok"
TESTED=", plugin test on both builds"

echo "package: find_package twice = sha256 $SHA_A; pkg-config + make: plugin info$TESTED OK"
