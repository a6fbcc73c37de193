#!/usr/bin/env bash
# Checks that gossipcluster is consumable: installs it and builds a find_package project against
# the install, then builds a project that embeds the source tree with add_subdirectory.
# Usage: tests/cmake/run_consumers.sh SOURCE_DIR WORK_DIR   (WORK_DIR is emptied first)
# Extra CMake arguments for every configure (a compiler, say) may be given in CONSUMER_CMAKE_ARGS.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 SOURCE_DIR WORK_DIR" >&2
    exit 2
fi
src=$(cd "$1" && pwd)
mkdir -p "$2"
work=$(cd "$2" && pwd)
here="$src/tests/cmake"
read -r -a extra <<<"${CONSUMER_CMAKE_ARGS:-}"
jobs=${CMAKE_BUILD_PARALLEL_LEVEL:-2}

rm -rf "${work:?}/"{pkg-build,stage,prefix,fp-build,fp-too-new,as-build}
step() { printf '\n-- %s\n' "$*"; }

step "install gossipcluster from $src"
cmake -S "$src" -B "$work/pkg-build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$work/stage" -DGOSSIPCLUSTER_BUILD_TESTS=OFF \
    -DGOSSIPCLUSTER_BUILD_EXAMPLES=OFF -DGOSSIPCLUSTER_BUILD_BENCH=OFF "${extra[@]}"
cmake --build "$work/pkg-build" -j "$jobs"
cmake --install "$work/pkg-build"

# Move the installed tree: a package that works only where it was installed is not relocatable.
mv "$work/stage" "$work/prefix"
step "installed files (relocated to $work/prefix)"
(cd "$work/prefix" && find . -type f | sort)
cmake_dir=$(dirname "$(find "$work/prefix" -name gossipclusterConfig.cmake | head -n 1)")
missing=0
for f in "$work/prefix/include/gossipcluster/types.hpp" \
         "$work/prefix/include/gossipcluster/message.hpp" \
         "$cmake_dir/gossipclusterConfig.cmake" \
         "$cmake_dir/gossipclusterConfigVersion.cmake" \
         "$cmake_dir/gossipclusterTargets.cmake" \
         "$cmake_dir/FindAsio.cmake"; do
    [ -f "$f" ] || { echo "missing from the install: $f" >&2; missing=1; }
done
if grep -rl -- "$work/stage" "$work/prefix" >/dev/null 2>&1; then
    echo "the install records its original prefix:" >&2
    grep -rl -- "$work/stage" "$work/prefix" >&2
    missing=1
fi
[ "$missing" -eq 0 ]

step "find_package consumer"
cmake -S "$here/find_package_consumer" -B "$work/fp-build" -DCMAKE_PREFIX_PATH="$work/prefix" \
    "${extra[@]}"
cmake --build "$work/fp-build" -j "$jobs"
"$work/fp-build/consumer"

step "find_package refuses an incompatible version"
if cmake -S "$here/find_package_consumer" -B "$work/fp-too-new" \
    -DCMAKE_PREFIX_PATH="$work/prefix" -DGOSSIPCLUSTER_REQUIRE_VERSION=999.0 "${extra[@]}" \
    >"$work/fp-too-new.log" 2>&1; then
    echo "find_package(gossipcluster 999.0) succeeded; the version file is not checked" >&2
    exit 1
fi
grep -q "compatible with requested version" "$work/fp-too-new.log" || {
    cat "$work/fp-too-new.log" >&2
    echo "find_package(gossipcluster 999.0) failed for another reason than the version" >&2
    exit 1
}
echo "refused, as it should be"

step "add_subdirectory consumer"
cmake -S "$here/add_subdirectory_consumer" -B "$work/as-build" \
    -DGOSSIPCLUSTER_SOURCE_DIR="$src" "${extra[@]}"
cmake --build "$work/as-build" -j "$jobs"
"$work/as-build/consumer"

step "both consumer projects built and ran"
