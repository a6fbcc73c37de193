// Limits on what the cluster bus carries, shared by the encoder, the decoder and the core.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gossipcluster/types.hpp"

namespace gossipcluster {

// --- frames ------------------------------------------------------------------------------------

// Largest PUBLISH channel + message, or MODULE payload, a frame of the default size holds. Redis
// reads a frame of whatever totlen it announces, and a PUBLISH carries what a client gave the
// command: with Redis 7.0's defaults that is up to 512 MiB per argument (proto-max-bulk-len) and
// 1 GiB of pending input per client (client-query-buffer-limit). 1 GiB admits every PUBLISH a
// default-configured Redis forwards.
inline constexpr std::size_t kMaxBusPayloadBytes = std::size_t{1} << 30;

// Bytes before the payload of a PUBLISH (8: two lengths) or a MODULE (13: id, length, type)
// message, rounded up so that either fits.
inline constexpr std::size_t kMaxPayloadPrefixBytes = 16;

// Largest frame the decoder accepts by default and the largest the encoder writes. A reader
// buffers at most one partial frame per link, and only as many bytes as the peer really sent, so
// this is a bound on memory per link rather than an allocation; transports make it a setting
// (AsioTcpOptions::max_frame_bytes) for hosts that want a smaller one.
inline constexpr std::size_t kDefaultMaxFrameBytes =
    kHeaderSize + kMaxPayloadPrefixBytes + kMaxBusPayloadBytes;

// --- PING / PONG / MEET ------------------------------------------------------------------------

// Gossip entries in one message: the header's count field is 16 bits.
inline constexpr std::size_t kMaxGossipEntries = 65535;

// Extension records in one message. Decoding a record costs more memory than its 8 wire bytes,
// so the decoder refuses more than this; the encoder refuses to write more, and the core never
// builds more (see kMaxForgottenPerMessage), so our own PINGs always decode.
inline constexpr std::size_t kMaxExtensions = 256;

// Extensions a PING of ours carries besides FORGOTTEN_NODE: HOSTNAME, HUMAN_NODENAME, SHARDID.
inline constexpr std::size_t kFixedPingExtensions = 3;

// FORGOTTEN_NODE records in one message. A longer blacklist is sent in turns (see fill_ping).
inline constexpr std::size_t kMaxForgottenPerMessage = kMaxExtensions - kFixedPingExtensions;

// --- epochs ------------------------------------------------------------------------------------

// No epoch at or above this is adopted from a peer, accepted from an operator or reached by an
// increment. Each election or collision adds one, so no real cluster comes near 2^62; an epoch
// adopted near 2^64 would leave no room for the next increment, which would wrap to 0 and lose
// every later election.
inline constexpr Epoch kEpochLimit = Epoch{1} << 62;

// --- text a peer announces ---------------------------------------------------------------------

// Redis 7.0 accepts an announced hostname of ASCII letters, digits, '-' and '.' only (empty:
// none). That is also what a nodes.conf line and CLUSTER NODES can carry: blanks separate their
// fields and ',' the parts of the address field.
inline bool valid_hostname(std::string_view s) {
    return s.size() <= kHostnameMaxLen && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.';
           });
}

// A human node name is written to nodes.conf by Redis 7.2 as the value of an aux field
// (`,nodename=<name>`): visible ASCII, without the characters Redis 7.2 refuses in aux fields
// (!#$%&()*+:;<>?@[]^{|}~) and without ',' and '=', which delimit aux fields. Empty: none.
inline bool valid_human_nodename(std::string_view s) {
    constexpr std::string_view kRefused = "!#$%&()*+:;<>?@[]^{|}~,=";
    return s.size() <= kHostnameMaxLen && std::all_of(s.begin(), s.end(), [&](char c) {
               return c > 0x20 && c < 0x7f && kRefused.find(c) == std::string_view::npos;
           });
}

}  // namespace gossipcluster
