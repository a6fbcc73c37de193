#!/usr/bin/env bash
# Writes malformed frame files and checks busdump's exit status and stderr reason for each.
# Usage: busdump_malformed.sh BUSDUMP VECTORS_DIR WORK_DIR
set -u
busdump=$1
vectors=$2
work=$3
rm -rf "$work"
mkdir -p "$work"
failures=0
passes=0

meet="$vectors/bin/pair-meet-ping-pong-0-MEET.bin"
ack="$vectors/bin/failover-auth-ack-0-FAILOVER_AUTH_ACK.bin"
ping="$vectors/bin/failover-ping-pfail-gossip-0-PING.bin"

# Overwrites bytes of FILE at OFFSET with the printf-escaped STRING.
patch() { printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

# expect NAME WANT_RC WANT_STDERR_SUBSTRING [busdump args...]
expect() {
    local name=$1 want_rc=$2 want_err=$3
    shift 3
    "$busdump" "$@" >"$work/$name.out" 2>"$work/$name.err"
    local rc=$?
    if [ "$rc" -ne "$want_rc" ]; then
        echo "FAIL $name: exit $rc, want $want_rc"; cat "$work/$name.err"
        failures=$((failures + 1)); return
    fi
    if [ -n "$want_err" ] && ! grep -qF -- "$want_err" "$work/$name.err"; then
        echo "FAIL $name: stderr lacks '$want_err':"; cat "$work/$name.err"
        failures=$((failures + 1)); return
    fi
    echo "ok   $name"
    passes=$((passes + 1))
}

# 1. Bad signature.
cp "$meet" "$work/badsig.bin"; chmod u+w "$work/badsig.bin"
patch "$work/badsig.bin" 0 'XCmb'
expect badsig 1 "frame 0: malformed: the frame does not start with the signature RCmb" "$work/badsig.bin"

# 2. A header-only message that carries payload: totlen 2260 (0x08d4) and 4 more bytes.
cp "$ack" "$work/payload.bin"; chmod u+w "$work/payload.bin"
patch "$work/payload.bin" 4 '\x00\x00\x08\xd4'
printf '\x00\x00\x00\x00' >>"$work/payload.bin"
expect header_payload 1 "frame 0: malformed: a header-only message carries payload bytes" "$work/payload.bin"

# 3. An invalid sender name (upper case is outside [a-z0-9]).
cp "$ping" "$work/sender.bin"; chmod u+w "$work/sender.bin"
patch "$work/sender.bin" 40 'Z'
expect bad_sender 1 "malformed: the sender is not a valid 40-character node name" "$work/sender.bin"

# 4. A file cut inside its frame.
head -c 1000 "$meet" >"$work/cut.bin"
expect cut 1 "frame 0: malformed: the input ends inside a frame" "$work/cut.bin"

# 5. An empty file.
: >"$work/empty.bin"
expect empty 1 "the file is empty" "$work/empty.bin"

# 6. A stream: good, bad (invalid sender), good. The dump goes on past the bad frame.
cat "$meet" "$work/sender.bin" "$ack" >"$work/stream.bin"
expect stream 1 "frame 1: malformed: the sender is not a valid 40-character node name" "$work/stream.bin"
if [ "$(grep -c '^## frame ' "$work/stream.out")" -ne 2 ] ||
   ! grep -q '^## frame 2 ' "$work/stream.out"; then
    echo "FAIL stream: want frames 0 and 2 dumped:"; grep '^## frame' "$work/stream.out"
    failures=$((failures + 1))
fi

# 7. A bad prefix in the middle of a stream: the next frame is found again by its signature.
cat "$meet" "$work/badsig.bin" "$ack" >"$work/resync.bin"
expect resync 1 "frame 1: malformed: the frame does not start with the signature RCmb" "$work/resync.bin"
if ! grep -q '^FAILOVER_AUTH_ACK ' "$work/resync.out"; then
    echo "FAIL resync: the frame after the bad prefix was not dumped"
    failures=$((failures + 1))
fi

# 8. Every vector back to back is one valid stream.
cat "$vectors"/bin/*.bin >"$work/all.bin"
expect all_vectors 0 "" "$work/all.bin"
want=$(ls "$vectors"/bin/*.bin | wc -l)
got=$(grep -c "^## frame " "$work/all_vectors.out")
if [ "$got" -ne "$want" ]; then
    echo "FAIL all_vectors: dumped $got frames of $want"; failures=$((failures + 1))
fi

# 9. Usage errors and unreadable files exit 2.
expect no_args 2 "no input file"
expect bad_option 2 "unknown option --bogus" --bogus "$meet"
expect missing_file 2 "cannot read $work/does-not-exist" "$work/does-not-exist"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
