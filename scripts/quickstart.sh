#!/bin/sh
# Quick start: install what is missing, build, and run the sensor on the
# bundled configuration (conf.d/) for a short while, then show the events
# that arrived and the status of every module.
#
#   ./scripts/quickstart.sh            # runs for 20 seconds
#   MM_RUN_SECONDS=60 ./scripts/quickstart.sh
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
./build/mimamori check-config
./build/mimamori plugins
echo
echo "== mimamori run (supervisor + aggregator + modules) for ${MM_RUN_SECONDS:-20} s =="
./build/mimamori run --for "${MM_RUN_SECONDS:-20}"
echo
echo "== events that arrived (newest last; mimamori events tail --pretty) =="
./build/mimamori events tail --pretty | tail -n 25
echo
echo "== mimamori status =="
./build/mimamori status
