#!/usr/bin/env bash
# Checks that gossipcluster is consumable: installs it and builds a find_package project against
# the install, then builds a project that embeds the source tree with add_subdirectory; both for
# the compiled library (the default) and for GOSSIPCLUSTER_HEADER_ONLY=ON.
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

step() { printf '\n-- %s\n' "$*"; }

# check_mode NAME CMAKE_ARGS...: the whole check for one mode, in WORK_DIR/NAME.
check_mode() {
    local mode=$1
    shift
    local mode_args=("$@")
    local dir="$work/$mode"
    rm -rf "${dir:?}"
    mkdir -p "$dir"

    step "[$mode] install gossipcluster from $src"
    cmake -S "$src" -B "$dir/pkg-build" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_INSTALL_PREFIX="$dir/stage" -DGOSSIPCLUSTER_BUILD_TESTS=OFF \
        -DGOSSIPCLUSTER_BUILD_EXAMPLES=OFF -DGOSSIPCLUSTER_BUILD_BENCH=OFF "${extra[@]}" \
        "${mode_args[@]}"
    cmake --build "$dir/pkg-build" -j "$jobs"
    cmake --install "$dir/pkg-build"

    # Move the installed tree: a package that works only where it was installed is not relocatable.
    mv "$dir/stage" "$dir/prefix"
    step "[$mode] installed files (relocated to $dir/prefix)"
    (cd "$dir/prefix" && find . -type f | sort)
    cmake_dir=$(dirname "$(find "$dir/prefix" -name gossipclusterConfig.cmake | head -n 1)")
    missing=0
    for f in "$dir/prefix/include/gossipcluster/types.hpp" \
             "$dir/prefix/include/gossipcluster/message.hpp" \
             "$cmake_dir/gossipclusterConfig.cmake" \
             "$cmake_dir/gossipclusterConfigVersion.cmake" \
             "$cmake_dir/gossipclusterTargets.cmake" \
             "$cmake_dir/FindAsio.cmake"; do
        [ -f "$f" ] || { echo "missing from the install: $f" >&2; missing=1; }
    done
    if grep -rl -- "$dir/stage" "$dir/prefix" >/dev/null 2>&1; then
        echo "the install records its original prefix:" >&2
        grep -rl -- "$dir/stage" "$dir/prefix" >&2
        missing=1
    fi
    [ "$missing" -eq 0 ]

    step "[$mode] find_package consumer"
    cmake -S "$here/find_package_consumer" -B "$dir/fp-build" -DCMAKE_PREFIX_PATH="$dir/prefix" \
        "${extra[@]}" "${mode_args[@]}"
    cmake --build "$dir/fp-build" -j "$jobs"
    "$dir/fp-build/consumer"

    step "[$mode] find_package refuses an incompatible version"
    if cmake -S "$here/find_package_consumer" -B "$dir/fp-too-new" \
        -DCMAKE_PREFIX_PATH="$dir/prefix" -DGOSSIPCLUSTER_REQUIRE_VERSION=999.0 "${extra[@]}" \
        "${mode_args[@]}" \
        >"$dir/fp-too-new.log" 2>&1; then
        echo "find_package(gossipcluster 999.0) succeeded; the version file is not checked" >&2
        exit 1
    fi
    grep -q "compatible with requested version" "$dir/fp-too-new.log" || {
        cat "$dir/fp-too-new.log" >&2
        echo "find_package(gossipcluster 999.0) failed for another reason than the version" >&2
        exit 1
    }
    echo "refused, as it should be"

    step "[$mode] add_subdirectory consumer"
    cmake -S "$here/add_subdirectory_consumer" -B "$dir/as-build" \
        -DGOSSIPCLUSTER_SOURCE_DIR="$src" "${extra[@]}" "${mode_args[@]}"
    cmake --build "$dir/as-build" -j "$jobs"
    "$dir/as-build/consumer"

    # The mode travels with the package: a header-only install must tell its users to include
    # the definitions, a compiled one must ship the library.
    if [ "$mode" = header-only ]; then
        grep -q 'GOSSIPCLUSTER_HEADER_ONLY' "$cmake_dir/gossipclusterTargets.cmake" || {
            echo "the header-only package does not define GOSSIPCLUSTER_HEADER_ONLY" >&2
            exit 1
        }
    else
        [ -n "$(find "$dir/prefix" -name 'libgossipcluster.*')" ] || {
            echo "the compiled package installs no libgossipcluster" >&2
            exit 1
        }
    fi
}

check_mode compiled -DGOSSIPCLUSTER_HEADER_ONLY=OFF
check_mode header-only -DGOSSIPCLUSTER_HEADER_ONLY=ON

step "both consumer projects built and ran in both modes"
