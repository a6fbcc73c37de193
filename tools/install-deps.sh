#!/usr/bin/env bash
# Installs the Debian 12 packages gossipcluster needs to build, test and run its demo, skipping
# what is already installed. Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(build-essential cmake g++ clang libclang-rt-14-dev clang-format libasio-dev libfmt-dev
    libssl-dev openssl catch2 libbenchmark-dev libpcap-dev redis-server redis-tools python3
    python3-redis tcpdump procps iproute2 nftables)

missing=()
for p in "${packages[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "all ${#packages[@]} packages already installed"
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        echo "missing packages (run as root to install them): ${missing[*]}" >&2
        exit 1
    fi
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# One retry: a mirror hiccup should not fail the whole run.
"${sudo[@]}" apt-get update -q || { sleep 10 && "${sudo[@]}" apt-get update -q; }
"${sudo[@]}" apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" ||
    { sleep 10 && "${sudo[@]}" apt-get install -y -q --no-install-recommends \
        -o DPkg::Lock::Timeout=300 "${missing[@]}"; }
