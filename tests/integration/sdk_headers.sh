#!/bin/sh
# Every public SDK header must compile on its own as strict C11 and as C++.
set -eu
inc=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc=${CC:-cc}
cxx=${CXX:-c++}
n=0
for h in "$inc"/mimamori/*.h; do
	name=$(basename "$h")
	printf '#include <mimamori/%s>\n#include <mimamori/%s>\nint mm_header_test_%s;\n' \
		"$name" "$name" "$n" >"$tmp/t.c"
	$cc -std=c11 -pedantic -Werror -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes \
		-I"$inc" -c "$tmp/t.c" -o "$tmp/t.o" || { echo "FAIL: $name as C11"; exit 1; }
	if command -v "$cxx" >/dev/null 2>&1; then
		cp "$tmp/t.c" "$tmp/t.cc"
		$cxx -std=c++11 -pedantic -Werror -Wall -Wextra -I"$inc" -c "$tmp/t.cc" -o "$tmp/t.o" \
			|| { echo "FAIL: $name as C++"; exit 1; }
	else
		echo "FAIL: no C++ compiler ($cxx) to check $name"; exit 1
	fi
	n=$((n + 1))
done
echo "$n headers compile as C11 -pedantic and as C++"
[ "$n" -gt 0 ]
