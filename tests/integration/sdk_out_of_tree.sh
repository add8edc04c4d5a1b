#!/bin/sh
# A vendor's view: install the SDK to a temporary prefix, then build the
# example plugin out of tree with find_package(Mimamori) and, separately,
# with pkg-config only; the host must load both.
set -eu
src=$1
build=$2
# The SDK library of a sanitizer build carries instrumentation: a plugin
# linking it must be built with the same flags.
flags=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log"
test -f "$tmp/prefix/include/mimamori/plugin.h"
test -f "$tmp/prefix/lib/pkgconfig/mimamori-sdk.pc" || test -f "$tmp/prefix/lib64/pkgconfig/mimamori-sdk.pc"
# 1. CMake package.
cp -r "$src/sdk/examples/hello" "$tmp/hello-src"
cmake -S "$tmp/hello-src" -B "$tmp/hello-build" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
	-DCMAKE_C_FLAGS="$flags" -DCMAKE_MODULE_LINKER_FLAGS="$flags" >"$tmp/cfg.log"
cmake --build "$tmp/hello-build" >"$tmp/build.log"
test -f "$tmp/hello-build/hello.so"
mkdir -p "$tmp/plugins-cmake"
cp "$tmp/hello-build/hello.so" "$tmp/plugins-cmake/"
# 2. pkg-config alone.
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig:$tmp/prefix/lib64/pkgconfig"
mkdir -p "$tmp/plugins-pc"
# shellcheck disable=SC2086,SC2046
${CC:-cc} $flags -std=c11 -Wall -Wextra -Werror -shared -o "$tmp/plugins-pc/hello.so" \
	"$src/sdk/examples/hello/hello.c" $(pkg-config --cflags --libs mimamori-sdk)
chmod 755 "$tmp" "$tmp/plugins-cmake" "$tmp/plugins-pc"
for d in plugins-cmake plugins-pc; do
	out=$("$MIMAMORI" -c "$src/tests/data/config-min" --plugin-dir "$tmp/$d" plugins)
	echo "$out" | grep -q '^hello ' || { echo "FAIL: $d: $out"; exit 1; }
	echo "$out" | grep -q 'Refused' && { echo "FAIL: $d refused: $out"; exit 1; }
	# The exported symbols are exactly the entry point.
	syms=$(nm -D --defined-only "$tmp/$d/hello.so" | awk '$2 == "T" {print $3}')
	[ "$syms" = "mm_plugin_entry" ] || { echo "FAIL: $d exports: $syms"; exit 1; }
done
echo "out-of-tree example builds (cmake and pkg-config) load in the host"
