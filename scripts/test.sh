#!/bin/sh
# Every test: installs what is missing, builds warning-free (-Werror), runs
# the whole ctest suite, then builds again with AddressSanitizer and
# UndefinedBehaviorSanitizer and runs the suite once more.
#
#   ./scripts/test.sh               # both passes
#   MM_TEST_SANITIZE=0 ./scripts/test.sh   # plain pass only (quicker, local use)
#
# Soak tests run at full size in the plain pass and at a tenth under the
# sanitizers (MM_SOAK_SCALE, MM_SOAK_SCALE_ASAN); fuzz targets replay their
# corpus with MM_FUZZ_ITERATIONS mutations per seed (2000; a quarter under
# the sanitizers). Raise them for a long run; libFuzzer builds for real
# fuzzing: tests/fuzz/README.md.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
jobs=$(nproc)
export MM_FUZZ_ITERATIONS="${MM_FUZZ_ITERATIONS:-2000}"
export MM_SOAK_SCALE="${MM_SOAK_SCALE:-1}"

cmake -S . -B build -DMM_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build -j"$jobs" --output-on-failure --timeout 900

if [ "${MM_TEST_SANITIZE:-1}" != 0 ]; then
	cmake -S . -B build-asan -DMM_WERROR=ON -DMM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build-asan -j"$jobs"
	# The sanitizers slow everything several times: the soak tests run at a
	# tenth of their size here (the plain pass above runs them in full).
	MM_FUZZ_ITERATIONS=$((MM_FUZZ_ITERATIONS / 4)) MM_SOAK_SCALE="${MM_SOAK_SCALE_ASAN:-0.1}" \
		ctest --test-dir build-asan -j"$jobs" --output-on-failure --timeout 1200
fi
