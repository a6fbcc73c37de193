#!/usr/bin/env bash
# redis-server 7.0.15 and gossipcluster-kvserver side by side on loopback: failover (3 masters +
# 3 replicas, kill -9 of a master), idle bus cost (bytes from the kernel's socket counters,
# messages, CPU) and join convergence (a MEETed node at N=30). Prints one markdown table.
#
#   bash bench/side_by_side.sh [--runs K] [--window S] [--settle S] [--quick]
#                              [--parts failover,idle,convergence] [--poll-ms MS]
#                              [--conv-runs K] [--port-base P]
#
# Environment: BUILD_DIR (default ./build-bench, then ./build) holds bin/gossipcluster-kvserver;
# REDIS_SERVER (default /usr/bin/redis-server); KEEP=1 keeps the work directory and node logs.
# Client ports are P..P+~400 (redis-server) and P+4000.. (kvserver), P defaults to 5000; bus
# ports are 10000 above.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REDIS_SERVER="${REDIS_SERVER:-/usr/bin/redis-server}"
KV=""
for dir in "${BUILD_DIR:-}" "$ROOT/build-bench" "$ROOT/build"; do
    [[ -n "$dir" && -x "$dir/bin/gossipcluster-kvserver" ]] && KV="$dir/bin/gossipcluster-kvserver" && break
done
[[ -n "$KV" ]] || {
    echo "side_by_side: no bin/gossipcluster-kvserver under BUILD_DIR, build-bench or build" >&2
    exit 1
}
[[ -x "$REDIS_SERVER" ]] || {
    echo "side_by_side: $REDIS_SERVER not found" >&2
    exit 1
}
for tool in redis-cli ss /usr/bin/python3; do
    command -v "$tool" >/dev/null || {
        echo "side_by_side: $tool is needed" >&2
        exit 1
    }
done

WORK="$(mktemp -d /tmp/gossipcluster-bench.XXXXXX)"
HELPER=""
# Every server the helper starts is listed in $WORK/pids; all of them die here, whatever happened.
cleanup() {
    local status=$?
    set +e # a failing kill or wait must not cut the cleanup short
    if [[ -n "$HELPER" ]]; then
        kill "$HELPER" 2>/dev/null
        wait "$HELPER" 2>/dev/null
    fi
    if [[ -f "$WORK/pids" ]]; then
        while read -r pid; do
            kill -9 "$pid" 2>/dev/null || true
        done <"$WORK/pids"
    fi
    if [[ "${KEEP:-0}" == 1 ]]; then
        echo "side_by_side: logs kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "redis-server: $("$REDIS_SERVER" --version | awk '{print $3}')  kvserver: $KV" >&2
/usr/bin/python3 "$ROOT/bench/side_by_side.py" --redis "$REDIS_SERVER" --kvserver "$KV" \
    --work "$WORK" "$@" &
HELPER=$!
status=0
wait "$HELPER" || status=$?
HELPER=""
exit "$status"
