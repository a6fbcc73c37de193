#!/usr/bin/env bash
# A six-node gossipcluster-kvserver cluster on loopback: create it, fill it, kill a master with
# SIGKILL, watch the failover, bring the old master back as a replica, count the surviving keys.
#
#   bash tools/demo.sh
#
# Environment: BUILD_DIR (default ./build), KEEP=1 keeps the temporary directory and its logs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
PORTS=(21000 21001 21002 21003 21004 21005)
NODE_TIMEOUT=2000
KEYS=1000

say() { printf '\n== %s\n' "$*"; }
fail() {
    printf '\nFAILED: %s\n' "$*" >&2
    exit 1
}
now_ms() { date +%s%3N; }

# --- packages -----------------------------------------------------------------------------------
missing=()
for pkg in cmake g++ libasio-dev libfmt-dev catch2 redis-tools python3; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$pkg")
done
if ((${#missing[@]})); then
    say "Installing missing packages: ${missing[*]}"
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || fail "run as root (or install sudo) to install: ${missing[*]}"
        SUDO="sudo"
    fi
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o DPkg::Lock::Timeout=300 "${missing[@]}"
fi

# --- build --------------------------------------------------------------------------------------
say "Building gossipcluster-kvserver in $BUILD_DIR"
if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD_DIR" --target gossipcluster-kvserver -j "$(nproc)" | tail -n 1
KV="$BUILD_DIR/bin/gossipcluster-kvserver"
[[ -x "$KV" ]] || KV="$(find "$BUILD_DIR" -type f -name gossipcluster-kvserver -perm -u+x | head -n 1)"
[[ -x "$KV" ]] || fail "no gossipcluster-kvserver binary under $BUILD_DIR"

for port in "${PORTS[@]}"; do
    if redis-cli -p "$port" ping >/dev/null 2>&1; then
        fail "something already answers on port $port: stop it first"
    fi
done

# --- processes: every started pid is killed on exit ---------------------------------------------
WORK="$(mktemp -d /tmp/gossipcluster-demo.XXXXXX)"
declare -A PID=()
FOLLOWER=""
SENTINEL=""
cleanup() {
    local status=$?
    [[ -n "$SENTINEL" ]] && kill "$SENTINEL" 2>/dev/null || true
    for port in "${!PID[@]}"; do
        kill "${PID[$port]}" 2>/dev/null || true
    done
    for port in "${!PID[@]}"; do
        for _ in $(seq 50); do
            kill -0 "${PID[$port]}" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "${PID[$port]}" 2>/dev/null || true
    done
    if [[ "${KEEP:-0}" == 1 ]]; then
        echo "Logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_node() {
    local port=$1
    mkdir -p "$WORK/$port"
    "$KV" --port "$port" --cluster-enabled yes --cluster-node-timeout "$NODE_TIMEOUT" \
        --dir "$WORK/$port" --logfile "$WORK/$port.log" >>"$WORK/$port.stdout" 2>&1 &
    PID[$port]=$!
}

# wait_for <seconds> <description> <command...>: polls every 100 ms.
wait_for() {
    local limit=$1 what=$2
    shift 2
    local deadline=$(($(now_ms) + limit * 1000))
    until "$@" >/dev/null 2>&1; do
        (($(now_ms) < deadline)) || fail "timed out after ${limit}s waiting for: $what"
        sleep 0.1
    done
}
answers() { [[ "$(redis-cli -p "$1" ping 2>/dev/null)" == PONG ]]; }
cluster_ok() { redis-cli -p "$1" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }
all_ok() {
    local port
    for port in "$@"; do cluster_ok "$port" || return 1; done
}

say "Starting 6 nodes on 127.0.0.1:${PORTS[0]}-${PORTS[5]} (node timeout ${NODE_TIMEOUT} ms, dir $WORK)"
for port in "${PORTS[@]}"; do start_node "$port"; done
for port in "${PORTS[@]}"; do wait_for 10 "node $port to answer PING" answers "$port"; done

say "Creating the cluster: redis-cli --cluster create ... --cluster-replicas 1"
addresses=()
for port in "${PORTS[@]}"; do addresses+=("127.0.0.1:$port"); done
timeout 60 redis-cli --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes \
    >"$WORK/create.out" 2>&1 || {
    cat "$WORK/create.out"
    fail "redis-cli --cluster create"
}
grep -E '^(\[OK\]|Adding replica)' "$WORK/create.out" | sed 's/^/   /'
wait_for 30 "every node to report cluster_state:ok" all_ok "${PORTS[@]}"
echo "   every node says cluster_state:ok"

say "Writing $KEYS keys with redis-cli -c"
for i in $(seq 0 $((KEYS - 1))); do echo "SET key:$i value:$i"; done |
    timeout 60 redis-cli -c -p "${PORTS[0]}" >"$WORK/set.out"
written=$(grep -c '^OK$' "$WORK/set.out" || true)
((written == KEYS)) || fail "only $written SETs succeeded (see $WORK/set.out)"
echo "   $written of $KEYS SETs answered OK"

# The victim: a master that is not the node we talk to, with its replica caught up.
nodes="$(redis-cli -p "${PORTS[0]}" cluster nodes)"
victim_line="$(echo "$nodes" | awk '$3 ~ /master/ && $3 !~ /myself/ {print; exit}')"
[[ -n "$victim_line" ]] || fail "no master to kill in: $nodes"
VICTIM_ID="$(echo "$victim_line" | awk '{print $1}')"
VICTIM_PORT="$(echo "$victim_line" | awk '{split($2, a, "[:@]"); print a[2]}')"
replica_ports=()
while read -r p; do replica_ports+=("$p"); done < <(echo "$nodes" |
    awk -v m="$VICTIM_ID" '$4 == m {split($2, a, "[:@]"); print a[2]}')
((${#replica_ports[@]})) || fail "master $VICTIM_PORT has no replica"
field() { redis-cli -p "$1" info replication | tr -d '\r' | awk -F: -v f="$2" '$1 == f {print $2}'; }
caught_up() {
    local want
    want="$(field "$VICTIM_PORT" master_repl_offset)"
    [[ "$(field "${replica_ports[0]}" slave_repl_offset)" == "$want" ]]
}
wait_for 10 "the replica of $VICTIM_PORT to catch up" caught_up
echo "   master $VICTIM_PORT (${VICTIM_ID:0:8}) holds $(redis-cli -p "$VICTIM_PORT" dbsize) keys;" \
    "its replica ${replica_ports[*]} is at offset $(field "${replica_ports[0]}" slave_repl_offset)"

# --- the failover -------------------------------------------------------------------------------
declare -A NAME=()
while read -r id addr _; do
    p="${addr#*:}"
    NAME[$id]="${p%%@*}"
done <<<"$nodes"
names_sed=""
for id in "${!NAME[@]}"; do names_sed+="s/$id/node:${NAME[$id]}/g;"; done

say "kill -9 master $VICTIM_PORT (pid ${PID[$VICTIM_PORT]}); the nodes' logs from now on:"
KILL_MS=$(now_ms)
KILL_DAY_MS=$(date -d "@$((KILL_MS / 1000))" +'%H %M %S' |
    awk -v ms=$((KILL_MS % 1000)) '{print (($1 * 60 + $2) * 60 + $3) * 1000 + ms}')
others=()
for port in "${PORTS[@]}"; do [[ $port != "$VICTIM_PORT" ]] && others+=("$port"); done
logs=()
for port in "${others[@]}"; do logs+=("$WORK/$port.log"); done
kill -9 "${PID[$VICTIM_PORT]}"
wait "${PID[$VICTIM_PORT]}" 2>/dev/null || true
unset "PID[$VICTIM_PORT]"

# Lines about failure detection and the election, with the time since the kill.
sleep 60 &
SENTINEL=$!
tail -n 0 -F --pid="$SENTINEL" "${logs[@]}" 2>/dev/null |
    awk -v t0="$KILL_DAY_MS" '
        /^==> / { file = $2; sub(/.*\//, "", file); sub(/\.log$/, "", file); next }
        tolower($0) ~ /possibly failing|as failing|fail message|failover election|failover auth granted|now a master|now a replica|cluster state changed|in sync with master|promoted/ {
            split($5, t, "[:.]")
            ms = ((t[1] * 60 + t[2]) * 60 + t[3]) * 1000 + t[4] - t0
            line = $7
            for (i = 8; i <= NF; ++i) line = line " " $i
            printf "   +%5d ms  node:%s  %s\n", ms, file, line
            fflush()
        }' | sed -u "$names_sed" &
FOLLOWER=$!

# Done when one of the victim's replicas is a master and every other node says ok again.
promoted() {
    local port
    for port in "${replica_ports[@]}"; do
        [[ "$(field "$port" role)" == master ]] && return 0
    done
    return 1
}
OK_MS=""
deadline=$(($(now_ms) + 30000))
while (($(now_ms) < deadline)); do
    if promoted && all_ok "${others[@]}"; then
        OK_MS=$(now_ms)
        break
    fi
    sleep 0.1
done
sleep 0.3
kill "$SENTINEL" 2>/dev/null || true
wait "$FOLLOWER" 2>/dev/null || true
FOLLOWER=""
[[ -n "$OK_MS" ]] || fail "the cluster did not come back to cluster_state:ok within 30 s"
for port in "${replica_ports[@]}"; do
    [[ "$(field "$port" role)" == master ]] || continue
    epoch="$(redis-cli -p "$port" cluster info | tr -d '\r' |
        awk -F: '$1 == "cluster_my_epoch" {print $2}')"
    echo
    echo "   replica $port won: it is now the master of those slots, config epoch $epoch"
done
echo "   every surviving node said cluster_state:ok $((OK_MS - KILL_MS)) ms after the kill"

# --- the old master comes back ------------------------------------------------------------------
say "Restarting $VICTIM_PORT: it should come back as a replica"
start_node "$VICTIM_PORT"
wait_for 10 "node $VICTIM_PORT to answer PING" answers "$VICTIM_PORT"
back_as_replica() {
    [[ "$(field "$VICTIM_PORT" role)" == slave && "$(field "$VICTIM_PORT" master_link_status)" == up ]]
}
wait_for 30 "$VICTIM_PORT to sync as a replica" back_as_replica
echo "   $VICTIM_PORT: role:$(field "$VICTIM_PORT" role), master_port:$(field "$VICTIM_PORT" master_port)," \
    "master_link_status:up, $(redis-cli -p "$VICTIM_PORT" dbsize) keys"
wait_for 30 "every node to report cluster_state:ok" all_ok "${PORTS[@]}"

say "Reading every key back with redis-cli -c"
for i in $(seq 0 $((KEYS - 1))); do echo "GET key:$i"; done |
    timeout 60 redis-cli -c -p "${PORTS[0]}" | grep -v '^-> Redirected' >"$WORK/get.out" || true
survived=$(seq 0 $((KEYS - 1)) | sed 's/^/value:/' | paste -d' ' - "$WORK/get.out" |
    awk '$1 == $2' | wc -l)
echo "   $survived of $KEYS keys survived the failover"
say "Done in $((($(now_ms) - KILL_MS) / 1000)) s after the kill; stopping every node"
((survived == KEYS)) || exit 1
