#!/usr/bin/env bash
# Runs every libFuzzer binary of a GOSSIPCLUSTER_FUZZ=ON Clang build for SECONDS each, seeded
# with the captured vectors, or with tests/fuzz/corpus/<name>/ when the target has its own seeds
# (gossipcluster_fuzz_sim reads programs, gossipcluster_fuzz_nodes_conf nodes.conf files and
# gossipcluster_fuzz_resp client requests, not frames). Exits non-zero when any fuzzer finds a
# crash or cannot run.
#
# usage: tests/fuzz/run_fuzzers.sh BUILD_DIR SECONDS
# The seeds are copied into a temporary corpus (the vectors are never written to); crash
# artifacts are kept in BUILD_DIR/fuzz-artifacts/<name>/.
set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
fi
build=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
vectors=${GOSSIPCLUSTER_VECTORS_DIR:-$here/../vectors}

shopt -s nullglob
fuzzers=()
for f in "$build"/bin/gossipcluster_fuzz_*; do
    case "$(basename "$f")" in
        gossipcluster_fuzz_replay_*) ;;
        *) [ -x "$f" ] && fuzzers+=("$f") ;;
    esac
done
if [ ${#fuzzers[@]} -eq 0 ]; then
    echo "no libFuzzer binaries in $build/bin (configure with -DCMAKE_CXX_COMPILER=clang++" \
         "-DGOSSIPCLUSTER_FUZZ=ON and build the gossipcluster_fuzz_* targets)" >&2
    exit 2
fi
seeds=("$vectors"/bin/*.bin)
if [ ${#seeds[@]} -eq 0 ]; then
    echo "no seed vectors in $vectors/bin" >&2
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/gossipcluster-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

status=0
for fuzzer in "${fuzzers[@]}"; do
    name=$(basename "$fuzzer")
    corpus=$work/$name
    artifacts=$build/fuzz-artifacts/$name
    mkdir -p "$corpus" "$artifacts"
    own=("$here/corpus/${name#gossipcluster_fuzz_}"/*)
    if [ ${#own[@]} -gt 0 ]; then
        cp "${own[@]}" "$corpus"/
        echo "== $name: ${seconds}s, seeds: ${#own[@]} files of tests/fuzz/corpus/${name#gossipcluster_fuzz_}"
    else
        cp "${seeds[@]}" "$corpus"/
        echo "== $name: ${seconds}s, seeds: ${#seeds[@]} vectors"
    fi
    "$fuzzer" -max_total_time="$seconds" -max_len=70000 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$work/$name.log" 2>&1
    rc=$?
    execs=$(grep -m1 'stat::number_of_executed_units' "$work/$name.log" | awk '{print $2}')
    cov=$(grep -E '^#[0-9]+' "$work/$name.log" | tail -1 | grep -oE 'cov: [0-9]+' || true)
    if [ $rc -ne 0 ]; then
        echo "!! $name failed (exit $rc); log tail:"
        tail -40 "$work/$name.log"
        status=1
    else
        echo "   $name: ${execs:-?} executions, ${cov:-cov: ?}, no crash"
    fi
done
exit $status
