// Byte-exact encoder and strict decoder of Redis 7.0 cluster-bus messages.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "gossipcluster/bus_limits.hpp"
#include "gossipcluster/decode_error.hpp"
#include "gossipcluster/detail/linkage.hpp"
#include "gossipcluster/detail/wire.hpp"
#include "gossipcluster/message.hpp"
#include "gossipcluster/types.hpp"

namespace gossipcluster {

// The decoder's limits; the defaults are the bounds the encoder keeps to (bus_limits.hpp), so
// every frame encode() writes decodes with them.
struct CodecLimits {
    std::size_t max_frame_bytes = kDefaultMaxFrameBytes;
    std::size_t max_extensions = kMaxExtensions;
};

// Decodes exactly one whole frame (frame.size() must equal totlen). Reuses `out`'s storage
// (vectors and strings are cleared and refilled) so that steady-state decoding does not allocate.
// On error `out` is valid but holds unspecified content.
//
// Beyond Redis's own checks, every extension record is validated whether or not EXT_DATA is set,
// and node names, ip fields and string extensions must be well formed. The header's `count` and
// `extensions` fields are ignored for types other than PING/PONG/MEET, as Redis ignores them.
GOSSIPCLUSTER_INLINE DecodeError decode(std::span<const std::uint8_t> frame, Message& out,
                                        const CodecLimits& limits = {});

// Size of the frame encode() writes for `m`.
// encoded_size() and encode() throw std::invalid_argument when `m` cannot be a valid frame: a body
// alternative that does not match header.type, an unknown type, more than 65535 gossip entries,
// more than kMaxExtensions extensions, a hostname or human node name longer than 255 bytes or
// holding a NUL, an UnknownExt whose type is one of the interpreted ones (0-3), or a total length
// above kDefaultMaxFrameBytes: what it writes always decodes with the default CodecLimits.
GOSSIPCLUSTER_INLINE std::size_t encoded_size(const Message& m);

// Appends exactly encoded_size(m) bytes. totlen, count and extensions are derived from the body;
// header.mflags is written as given (encode never sets or clears EXT_DATA by itself); reserved
// bytes are zero. Nothing is appended when it throws.
GOSSIPCLUSTER_INLINE void encode(const Message& m, std::vector<std::uint8_t>& out);
GOSSIPCLUSTER_INLINE std::vector<std::uint8_t> encode(const Message& m);

// Reads sig+totlen from the first 8 bytes: None when they are acceptable for the splitter.
// A totlen between 16 and 2255 is only valid for a light header, whose type sits at bytes 12-13:
// when the span holds at least 14 bytes that bit is checked too; with only 8 bytes such a totlen
// is given the benefit of the doubt (decode() rejects it later).
GOSSIPCLUSTER_INLINE DecodeError check_prefix(std::span<const std::uint8_t> first8,
                                              std::size_t max_frame_bytes,
                                              std::uint32_t& totlen_out);

namespace detail::layout {

// clusterMsg header (all integers big-endian).
inline constexpr std::size_t kSig = 0;
inline constexpr std::size_t kTotlen = 4;
inline constexpr std::size_t kPrefixSize = 8;  // sig + totlen: what the reader needs first
inline constexpr std::size_t kVer = 8;
inline constexpr std::size_t kPort = 10;
inline constexpr std::size_t kType = 12;
inline constexpr std::size_t kCount = 14;
inline constexpr std::size_t kCurrentEpoch = 16;
inline constexpr std::size_t kConfigEpoch = 24;
inline constexpr std::size_t kOffset = 32;
inline constexpr std::size_t kSender = 40;
inline constexpr std::size_t kMyslots = 80;
inline constexpr std::size_t kSlaveof = 2128;
inline constexpr std::size_t kMyip = 2168;
inline constexpr std::size_t kExtensions = 2214;
inline constexpr std::size_t kNotused1 = 2216;
inline constexpr std::size_t kNotused1Size = 30;
inline constexpr std::size_t kPport = 2246;
inline constexpr std::size_t kCport = 2248;
inline constexpr std::size_t kFlags = 2250;
inline constexpr std::size_t kState = 2252;
inline constexpr std::size_t kMflags = 2253;
inline constexpr std::size_t kMflagsSize = 3;
inline constexpr std::size_t kData = 2256;

static_assert(kSender == kOffset + 8);
static_assert(kMyslots == kSender + kNodeNameLen);
static_assert(kSlaveof == kMyslots + kSlotBitmapBytes);
static_assert(kMyip == kSlaveof + kNodeNameLen);
static_assert(kExtensions == kMyip + kIpFieldLen);
static_assert(kNotused1 == kExtensions + 2);
static_assert(kPport == kNotused1 + kNotused1Size);
static_assert(kMflags + kMflagsSize == kData);
static_assert(kData == kHeaderSize && kHeaderSize == 2256);

// Valkey's light header: sig, totlen, ver, unused, type|0x8000, unused.
inline constexpr std::uint16_t kLightBit = 0x8000;
inline constexpr std::size_t kLightHeaderSize = 16;

// clusterMsgDataGossip, relative to the entry.
inline constexpr std::size_t kGossipNode = 0;
inline constexpr std::size_t kGossipPingSent = 40;
inline constexpr std::size_t kGossipPongReceived = 44;
inline constexpr std::size_t kGossipIp = 48;
inline constexpr std::size_t kGossipPort = 94;
inline constexpr std::size_t kGossipCport = 96;
inline constexpr std::size_t kGossipFlags = 98;
inline constexpr std::size_t kGossipPport = 100;
inline constexpr std::size_t kGossipNotused = 102;
static_assert(kGossipPingSent == kGossipNode + kNodeNameLen);
static_assert(kGossipPort == kGossipIp + kIpFieldLen);
static_assert(kGossipNotused + 2 == kGossipEntrySize && kGossipEntrySize == 104);

// Ping extension record, relative to the record.
inline constexpr std::size_t kExtLength = 0;
inline constexpr std::size_t kExtType = 4;
inline constexpr std::size_t kExtUnused = 6;
inline constexpr std::size_t kExtHeaderSize = 8;
inline constexpr std::size_t kExtAlign = 8;
inline constexpr std::size_t kForgottenPayloadSize = kNodeNameLen + 8;  // name + u64 ttl
inline constexpr std::size_t kShardIdPayloadSize = kNodeNameLen;

// FAIL.
inline constexpr std::size_t kFailNode = kData;
inline constexpr std::size_t kFailSize = kFailNode + kNodeNameLen;
static_assert(kFailSize == 2296);

// PUBLISH / PUBLISHSHARD.
inline constexpr std::size_t kPublishChannelLen = kData;
inline constexpr std::size_t kPublishMessageLen = kData + 4;
inline constexpr std::size_t kPublishBulk = kData + 8;
static_assert(kPublishBulk == 2264);

// UPDATE.
inline constexpr std::size_t kUpdateConfigEpoch = kData;
inline constexpr std::size_t kUpdateNode = kData + 8;
inline constexpr std::size_t kUpdateSlots = kUpdateNode + kNodeNameLen;
inline constexpr std::size_t kUpdateSize = kUpdateSlots + kSlotBitmapBytes;
static_assert(kUpdateSlots == 2304);
static_assert(kUpdateSize == 4352);

// MODULE.
inline constexpr std::size_t kModuleId = kData;
inline constexpr std::size_t kModuleLen = kData + 8;
inline constexpr std::size_t kModuleType = kData + 12;
inline constexpr std::size_t kModuleBulk = kData + 13;
static_assert(kModuleBulk == 2269);

}  // namespace detail::layout

namespace detail {

inline constexpr std::uint8_t kSignature[4] = {'R', 'C', 'm', 'b'};

constexpr std::size_t align8(std::size_t n) {
    return (n + 7) & ~std::size_t{7};
}

// Wire bytes seen as chars (the byte types may alias each other).
inline const char* as_chars(const std::uint8_t* p) {
    return reinterpret_cast<const char*>(p);
}

// NodeId::is_valid's rule ([a-z0-9]{40}) over wire bytes, eight bytes at a time: a PING checks a
// dozen names or more, and a byte loop cost about 250 instructions a name. For each byte below
// 0x80, adding 0x80 - lo sets its top bit exactly when it is >= lo, and adding 0x7f - hi exactly
// when it is > hi; no sum leaves its byte, so the lanes stay independent. A byte with its top bit
// set is rejected on its own.
inline bool valid_name_at(const std::uint8_t* p) {
    constexpr std::uint64_t kOnes = 0x0101010101010101ull;
    constexpr std::uint64_t kTop = 0x8080808080808080ull;
    static_assert(kNodeNameLen % 8 == 0);
    std::uint64_t bad = 0;
    for (std::size_t i = 0; i < kNodeNameLen; i += 8) {
        std::uint64_t w = 0;
        std::memcpy(&w, p + i, sizeof w);
        const std::uint64_t low = w & ~kTop;
        const std::uint64_t digit = (low + kOnes * (0x80 - '0')) & ~(low + kOnes * (0x7f - '9'));
        const std::uint64_t lower = (low + kOnes * (0x80 - 'a')) & ~(low + kOnes * (0x7f - 'z'));
        bad |= (w & kTop) | (((digit | lower) & kTop) ^ kTop);
    }
    return bad == 0;
}
inline bool null_name_at(const std::uint8_t* p) {
    unsigned any = 0;
    for (std::size_t i = 0; i < kNodeNameLen; ++i)
        any |= p[i];
    return any == 0;
}

// Reads a node name at `p` into `out`; true when it is valid.
inline bool read_name(const std::uint8_t* p, NodeId& out) {
    out = NodeId::from_raw(as_chars(p));
    return valid_name_at(p);
}

}  // namespace detail

}  // namespace gossipcluster

// The definitions: compiled once into the library (src/codec.cpp), or included here in
// header-only mode.
#ifdef GOSSIPCLUSTER_HEADER_ONLY
#include "gossipcluster/impl/codec.ipp"
#endif
