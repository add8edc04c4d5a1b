#!/bin/sh
# Every test: installs what is missing, builds warning-free (-Werror), runs
# the whole ctest suite, then builds again with AddressSanitizer and
# UndefinedBehaviorSanitizer and runs the suite once more.
#
#   ./scripts/test.sh               # both passes
#   MM_TEST_SANITIZE=0 ./scripts/test.sh   # plain pass only (quicker, local use)
#
# Long soak and fuzz runs are scaled down here (MM_SOAK_SCALE, and
# MM_FUZZ_ITERATIONS for the fuzz replays); raise them for a long run.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
jobs=$(nproc)
export MM_FUZZ_ITERATIONS="${MM_FUZZ_ITERATIONS:-2000}"

cmake -S . -B build -DMM_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build -j"$jobs" --output-on-failure --timeout 900

if [ "${MM_TEST_SANITIZE:-1}" != 0 ]; then
	cmake -S . -B build-asan -DMM_WERROR=ON -DMM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build-asan -j"$jobs"
	MM_FUZZ_ITERATIONS=$((MM_FUZZ_ITERATIONS / 4)) \
		ctest --test-dir build-asan -j"$jobs" --output-on-failure --timeout 1200
fi
