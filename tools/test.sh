#!/usr/bin/env bash
# Configures, builds and runs the test suite in ./build: every test registered with ctest (labels
# unit, scenario, sim, interop, fuzz, kvserver) except Catch2's hidden [.long] tests and tests
# labelled long.
# Extra arguments go to the CMake configure step, e.g. bash tools/test.sh -DGOSSIPCLUSTER_WERROR=ON
# GOSSIPCLUSTER_BUILD_DIR chooses another build directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash tools/install-deps.sh

build=${GOSSIPCLUSTER_BUILD_DIR:-build}
configure=(-S . -B "$build")
# A fresh build directory gets an optimised build with debug info; an existing one keeps its type.
[ -f "$build/CMakeCache.txt" ] || configure+=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)

cmake "${configure[@]}" "$@"
cmake --build "$build" -j "${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
ctest --test-dir "$build" --output-on-failure -j2 --timeout 300 -LE long
