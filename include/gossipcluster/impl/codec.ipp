// Definitions of the codec's encode/decode functions (src/codec.cpp, or codec.hpp in header-only
// mode).
#pragma once

#include "gossipcluster/codec.hpp"

namespace gossipcluster {

namespace detail {

template <typename T, typename Variant>
T& ensure_alternative(Variant& v) {
    if (auto* p = std::get_if<T>(&v)) return *p;
    return v.template emplace<T>();
}

// The body alternative each message type travels with.
template <typename Body>
constexpr bool body_matches(MessageType t) {
    switch (t) {
        case MessageType::Ping:
        case MessageType::Pong:
        case MessageType::Meet:
            return std::is_same_v<Body, GossipBody>;
        case MessageType::Fail:
            return std::is_same_v<Body, FailBody>;
        case MessageType::Publish:
        case MessageType::PublishShard:
            return std::is_same_v<Body, PublishBody>;
        case MessageType::FailoverAuthRequest:
        case MessageType::FailoverAuthAck:
        case MessageType::MfStart:
            return std::is_same_v<Body, EmptyBody>;
        case MessageType::Update:
            return std::is_same_v<Body, UpdateBody>;
        case MessageType::Module:
            return std::is_same_v<Body, ModuleBody>;
    }
    return false;
}

// --- decoding ------------------------------------------------------------------------------

// A NUL-terminated string extension (hostname, human node name) from a record payload.
inline DecodeError decode_string_ext(std::span<const std::uint8_t> payload, std::string& out,
                                     DecodeError unterminated, DecodeError too_long) {
    const void* nul = std::memchr(payload.data(), 0, payload.size());
    if (nul == nullptr) return unterminated;
    const auto len =
        static_cast<std::size_t>(static_cast<const std::uint8_t*>(nul) - payload.data());
    if (len > kHostnameMaxLen) return too_long;
    out.assign(as_chars(payload.data()), len);
    return DecodeError::None;
}

inline DecodeError decode_extension(std::uint16_t type, std::span<const std::uint8_t> payload,
                                    PingExtension& out) {
    switch (type) {
        case static_cast<std::uint16_t>(ExtensionType::Hostname):
            return decode_string_ext(payload, ensure_alternative<HostnameExt>(out).hostname,
                                     DecodeError::HostnameUnterminated,
                                     DecodeError::HostnameTooLong);
        case static_cast<std::uint16_t>(ExtensionType::HumanNodename):
            return decode_string_ext(payload, ensure_alternative<HumanNodenameExt>(out).name,
                                     DecodeError::HumanNodenameUnterminated,
                                     DecodeError::HumanNodenameTooLong);
        case static_cast<std::uint16_t>(ExtensionType::ForgottenNode): {
            if (payload.size() < layout::kForgottenPayloadSize)
                return DecodeError::ForgottenNodeTooShort;
            auto& ext = ensure_alternative<ForgottenNodeExt>(out);
            if (!read_name(payload.data(), ext.node)) return DecodeError::ForgottenNodeInvalidId;
            WireReader r(payload);
            ext.ttl_seconds = r.u64(kNodeNameLen);
            return DecodeError::None;
        }
        case static_cast<std::uint16_t>(ExtensionType::ShardId): {
            if (payload.size() < layout::kShardIdPayloadSize) return DecodeError::ShardIdTooShort;
            auto& ext = ensure_alternative<ShardIdExt>(out);
            if (!read_name(payload.data(), ext.shard_id)) return DecodeError::ShardIdInvalid;
            return DecodeError::None;
        }
        default: {
            auto& ext = ensure_alternative<UnknownExt>(out);
            ext.type = type;
            ext.payload.assign(payload.begin(), payload.end());
            return DecodeError::None;
        }
    }
}

inline DecodeError decode_gossip_body(WireReader& r, std::span<const std::uint8_t> frame,
                                      GossipBody& body, const CodecLimits& limits) {
    namespace L = layout;
    const std::size_t count = r.u16(L::kCount);
    const std::size_t ext_count = r.u16(L::kExtensions);
    const std::size_t totlen = frame.size();
    if (count * kGossipEntrySize > totlen - L::kData) return DecodeError::GossipBeyondFrame;
    if (ext_count > limits.max_extensions) return DecodeError::TooManyExtensions;

    body.gossip.resize(count);
    std::size_t pos = L::kData;
    // The whole section is inside the frame (checked above): the entries are read without a
    // check per field.
    for (GossipEntry& g : body.gossip) {
        const std::uint8_t* e = frame.data() + pos;
        if (!read_name(e + L::kGossipNode, g.node)) return DecodeError::InvalidGossipNode;
        g.ping_sent = load_be32(e + L::kGossipPingSent);
        g.pong_received = load_be32(e + L::kGossipPongReceived);
        std::memcpy(g.ip.raw().data(), e + L::kGossipIp, kIpFieldLen);
        if (!g.ip.terminated()) return DecodeError::GossipIpUnterminated;
        g.port = load_be16(e + L::kGossipPort);
        g.cport = load_be16(e + L::kGossipCport);
        g.flags = load_be16(e + L::kGossipFlags);
        g.pport = load_be16(e + L::kGossipPport);
        pos += kGossipEntrySize;
    }

    // Records follow the gossip section whether or not EXT_DATA is set: validate them always.
    body.extensions.resize(ext_count);
    for (PingExtension& ext : body.extensions) {
        const std::size_t remaining = totlen - pos;
        if (remaining == 0) return DecodeError::ExtensionMissing;
        if (remaining < L::kExtHeaderSize) return DecodeError::ExtensionBeyondFrame;
        const std::uint32_t length = r.u32(pos + L::kExtLength);  // full 32 bits: no truncation
        if (length < L::kExtHeaderSize) return DecodeError::ExtensionTooShort;
        if (length % L::kExtAlign != 0) return DecodeError::ExtensionUnaligned;
        if (length > remaining) return DecodeError::ExtensionBeyondFrame;
        const std::uint16_t type = r.u16(pos + L::kExtType);
        const auto payload = frame.subspan(pos + L::kExtHeaderSize, length - L::kExtHeaderSize);
        if (auto e = decode_extension(type, payload, ext); e != DecodeError::None) return e;
        pos += length;
    }
    if (pos != totlen) return DecodeError::TrailingBytes;
    return DecodeError::None;
}

inline DecodeError decode_body(WireReader& r, std::span<const std::uint8_t> frame, Message& out,
                               const CodecLimits& limits) {
    namespace L = layout;
    const std::size_t totlen = frame.size();
    switch (out.header.type) {
        case MessageType::Ping:
        case MessageType::Pong:
        case MessageType::Meet:
            return decode_gossip_body(r, frame, ensure_alternative<GossipBody>(out.body), limits);
        case MessageType::Fail: {
            if (totlen != L::kFailSize) return DecodeError::FailLengthMismatch;
            auto& body = ensure_alternative<FailBody>(out.body);
            if (!read_name(frame.data() + L::kFailNode, body.node))
                return DecodeError::InvalidFailNode;
            return DecodeError::None;
        }
        case MessageType::Publish:
        case MessageType::PublishShard: {
            if (totlen < L::kPublishBulk) return DecodeError::PublishTruncated;
            const std::uint64_t channel_len = r.u32(L::kPublishChannelLen);
            const std::uint64_t message_len = r.u32(L::kPublishMessageLen);
            // 64-bit sum of two 32-bit lengths cannot overflow.
            if (L::kPublishBulk + channel_len + message_len != totlen)
                return DecodeError::PublishLengthMismatch;
            auto& body = ensure_alternative<PublishBody>(out.body);
            const char* bulk = as_chars(frame.data() + L::kPublishBulk);
            body.channel.assign(bulk, channel_len);
            body.message.assign(bulk + channel_len, message_len);
            return DecodeError::None;
        }
        case MessageType::FailoverAuthRequest:
        case MessageType::FailoverAuthAck:
        case MessageType::MfStart:
            if (totlen != L::kData) return DecodeError::HeaderOnlyLengthMismatch;
            ensure_alternative<EmptyBody>(out.body);
            return DecodeError::None;
        case MessageType::Update: {
            if (totlen != L::kUpdateSize) return DecodeError::UpdateLengthMismatch;
            auto& body = ensure_alternative<UpdateBody>(out.body);
            body.config_epoch = r.u64(L::kUpdateConfigEpoch);
            if (!read_name(frame.data() + L::kUpdateNode, body.node))
                return DecodeError::InvalidUpdateNode;
            r.copy(L::kUpdateSlots, kSlotBitmapBytes, body.slots.bytes().data());
            return DecodeError::None;
        }
        case MessageType::Module: {
            if (totlen < L::kModuleBulk) return DecodeError::ModuleTruncated;
            const std::uint64_t len = r.u32(L::kModuleLen);
            if (L::kModuleBulk + len != totlen) return DecodeError::ModuleLengthMismatch;
            auto& body = ensure_alternative<ModuleBody>(out.body);
            // The id is opaque; keeping it as the big-endian reading makes re-encoding exact.
            body.module_id = r.u64(L::kModuleId);
            body.module_type = r.u8(L::kModuleType);
            body.payload.assign(as_chars(frame.data() + L::kModuleBulk), len);
            return DecodeError::None;
        }
    }
    return DecodeError::UnknownType;
}

// --- encoding ------------------------------------------------------------------------------

[[noreturn]] inline void invalid_message(const char* why) {
    throw std::invalid_argument(std::string("gossipcluster::encode: ") + why);
}

inline void check_string_ext(const std::string& s) {
    if (s.size() > kHostnameMaxLen) invalid_message("hostname or human node name above 255 bytes");
    if (s.find('\0') != std::string::npos)
        invalid_message("hostname or human node name holds a NUL");
}

inline std::size_t extension_record_size(const PingExtension& ext) {
    namespace L = layout;
    return std::visit(
        [](const auto& e) -> std::size_t {
            using E = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<E, HostnameExt>) {
                check_string_ext(e.hostname);
                return L::kExtHeaderSize + align8(e.hostname.size() + 1);
            } else if constexpr (std::is_same_v<E, HumanNodenameExt>) {
                check_string_ext(e.name);
                return L::kExtHeaderSize + align8(e.name.size() + 1);
            } else if constexpr (std::is_same_v<E, ForgottenNodeExt>) {
                return L::kExtHeaderSize + L::kForgottenPayloadSize;
            } else if constexpr (std::is_same_v<E, ShardIdExt>) {
                return L::kExtHeaderSize + L::kShardIdPayloadSize;
            } else {
                if (e.type <= static_cast<std::uint16_t>(ExtensionType::ShardId))
                    invalid_message("UnknownExt uses the type of an interpreted extension");
                return L::kExtHeaderSize + align8(e.payload.size());
            }
        },
        ext);
}

inline std::size_t body_size(const Message& m) {
    namespace L = layout;
    return std::visit(
        [&m](const auto& body) -> std::size_t {
            using B = std::decay_t<decltype(body)>;
            if (static_cast<std::uint16_t>(m.header.type) >= kMessageTypeCount)
                invalid_message("unknown message type");
            if (!body_matches<B>(m.header.type))
                invalid_message("the body alternative does not match the header type");
            if constexpr (std::is_same_v<B, GossipBody>) {
                static_assert(kMaxGossipEntries <= std::numeric_limits<std::uint16_t>::max());
                static_assert(kMaxExtensions <= std::numeric_limits<std::uint16_t>::max());
                if (body.gossip.size() > kMaxGossipEntries)
                    invalid_message("more than 65535 gossip entries");
                if (body.extensions.size() > kMaxExtensions)
                    invalid_message("more extensions than the decoder accepts");
                std::size_t n = body.gossip.size() * kGossipEntrySize;
                for (const auto& ext : body.extensions)
                    n += extension_record_size(ext);
                return n;
            } else if constexpr (std::is_same_v<B, FailBody>) {
                return L::kFailSize - L::kData;
            } else if constexpr (std::is_same_v<B, PublishBody>) {
                return L::kPublishBulk - L::kData + body.channel.size() + body.message.size();
            } else if constexpr (std::is_same_v<B, UpdateBody>) {
                return L::kUpdateSize - L::kData;
            } else if constexpr (std::is_same_v<B, ModuleBody>) {
                return L::kModuleBulk - L::kData + body.payload.size();
            } else {
                return 0;
            }
        },
        m.body);
}

inline void encode_string_ext(WireWriter& w, ExtensionType type, const std::string& s) {
    const std::size_t padded = align8(s.size() + 1);
    w.u32(static_cast<std::uint32_t>(layout::kExtHeaderSize + padded));
    w.u16(static_cast<std::uint16_t>(type));
    w.u16(0);
    w.bytes(s.data(), s.size());
    w.zeros(padded - s.size());
}

inline void encode_extension(WireWriter& w, const PingExtension& ext) {
    namespace L = layout;
    std::visit(
        [&w](const auto& e) {
            using E = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<E, HostnameExt>) {
                encode_string_ext(w, ExtensionType::Hostname, e.hostname);
            } else if constexpr (std::is_same_v<E, HumanNodenameExt>) {
                encode_string_ext(w, ExtensionType::HumanNodename, e.name);
            } else if constexpr (std::is_same_v<E, ForgottenNodeExt>) {
                w.u32(static_cast<std::uint32_t>(L::kExtHeaderSize + L::kForgottenPayloadSize));
                w.u16(static_cast<std::uint16_t>(ExtensionType::ForgottenNode));
                w.u16(0);
                w.bytes(e.node.raw().data(), kNodeNameLen);
                w.u64(e.ttl_seconds);
            } else if constexpr (std::is_same_v<E, ShardIdExt>) {
                w.u32(static_cast<std::uint32_t>(L::kExtHeaderSize + L::kShardIdPayloadSize));
                w.u16(static_cast<std::uint16_t>(ExtensionType::ShardId));
                w.u16(0);
                w.bytes(e.shard_id.raw().data(), kNodeNameLen);
            } else {
                const std::size_t padded = align8(e.payload.size());
                w.u32(static_cast<std::uint32_t>(L::kExtHeaderSize + padded));
                w.u16(e.type);
                w.u16(0);
                w.bytes(e.payload.data(), e.payload.size());
                w.zeros(padded - e.payload.size());
            }
        },
        ext);
}

inline void encode_header(WireWriter& w, const Header& h, std::uint32_t totlen, std::uint16_t count,
                          std::uint16_t extensions) {
    w.bytes(kSignature, sizeof kSignature);
    w.u32(totlen);
    w.u16(kProtocolVersion);
    w.u16(h.port);
    w.u16(static_cast<std::uint16_t>(h.type));
    w.u16(count);
    w.u64(h.current_epoch);
    w.u64(h.config_epoch);
    w.u64(h.offset);
    w.fixed_bytes<kNodeNameLen>(h.sender.raw().data());
    w.fixed_bytes<kSlotBitmapBytes>(h.myslots.bytes().data());
    w.fixed_bytes<kNodeNameLen>(h.slaveof.raw().data());
    w.fixed_bytes<kIpFieldLen>(h.myip.raw().data());
    w.u16(extensions);
    w.zeros(layout::kNotused1Size);
    w.u16(h.pport);
    w.u16(h.cport);
    w.u16(h.flags);
    w.u8(static_cast<std::uint8_t>(h.state));
    w.bytes(h.mflags.data(), layout::kMflagsSize);
}

inline void encode_body(WireWriter& w, const MessageBody& body) {
    std::visit(
        [&w](const auto& b) {
            using B = std::decay_t<decltype(b)>;
            if constexpr (std::is_same_v<B, GossipBody>) {
                // One bounds check per entry, then stores at fixed offsets: written field by
                // field, every byte stored made the compiler reload the writer's position.
                namespace L = layout;
                for (const GossipEntry& g : b.gossip) {
                    std::uint8_t* e = w.reserve(kGossipEntrySize);
                    if (!e) return;
                    std::memcpy(e + L::kGossipNode, g.node.raw().data(), kNodeNameLen);
                    store_be32(e + L::kGossipPingSent, g.ping_sent);
                    store_be32(e + L::kGossipPongReceived, g.pong_received);
                    std::memcpy(e + L::kGossipIp, g.ip.raw().data(), kIpFieldLen);
                    store_be16(e + L::kGossipPort, g.port);
                    store_be16(e + L::kGossipCport, g.cport);
                    store_be16(e + L::kGossipFlags, g.flags);
                    store_be16(e + L::kGossipPport, g.pport);
                    store_be16(e + L::kGossipNotused, 0);
                }
                for (const PingExtension& ext : b.extensions)
                    encode_extension(w, ext);
            } else if constexpr (std::is_same_v<B, FailBody>) {
                w.bytes(b.node.raw().data(), kNodeNameLen);
            } else if constexpr (std::is_same_v<B, PublishBody>) {
                w.u32(static_cast<std::uint32_t>(b.channel.size()));
                w.u32(static_cast<std::uint32_t>(b.message.size()));
                w.bytes(b.channel.data(), b.channel.size());
                w.bytes(b.message.data(), b.message.size());
            } else if constexpr (std::is_same_v<B, UpdateBody>) {
                w.u64(b.config_epoch);
                w.bytes(b.node.raw().data(), kNodeNameLen);
                w.bytes(b.slots.bytes().data(), kSlotBitmapBytes);
            } else if constexpr (std::is_same_v<B, ModuleBody>) {
                w.u64(b.module_id);
                w.u32(static_cast<std::uint32_t>(b.payload.size()));
                w.u8(b.module_type);
                w.bytes(b.payload.data(), b.payload.size());
            }
        },
        body);
}

}  // namespace detail

GOSSIPCLUSTER_INLINE DecodeError check_prefix(std::span<const std::uint8_t> first8,
                                              std::size_t max_frame_bytes,
                                              std::uint32_t& totlen_out) {
    namespace L = detail::layout;
    if (first8.size() < L::kPrefixSize) return DecodeError::Truncated;
    if (!std::equal(first8.begin(), first8.begin() + 4, detail::kSignature))
        return DecodeError::BadSignature;
    detail::WireReader r(first8);
    const std::uint32_t totlen = r.u32(L::kTotlen);
    totlen_out = totlen;
    if (totlen > max_frame_bytes) return DecodeError::TotlenTooLarge;
    if (totlen < L::kLightHeaderSize) return DecodeError::TotlenTooSmall;
    if (totlen < kHeaderSize && r.has(L::kType, 2) && (r.u16(L::kType) & L::kLightBit) == 0)
        return DecodeError::TotlenTooSmall;
    return DecodeError::None;
}

GOSSIPCLUSTER_INLINE DecodeError decode(std::span<const std::uint8_t> frame, Message& out,
                                        const CodecLimits& limits) {
    namespace L = detail::layout;
    std::uint32_t totlen = 0;
    if (auto e = check_prefix(frame, limits.max_frame_bytes, totlen); e != DecodeError::None)
        return e;
    if (totlen != frame.size()) return DecodeError::TotlenMismatch;
    // check_prefix saw at least 14 bytes here, so a totlen below 2256 means a light header.
    detail::WireReader r(frame);
    const std::uint16_t raw_type = r.u16(L::kType);
    if (r.u16(L::kVer) != kProtocolVersion) return DecodeError::BadVersion;
    if ((raw_type & L::kLightBit) != 0) return DecodeError::LightHeaderUnsupported;
    if (raw_type >= kMessageTypeCount) return DecodeError::UnknownType;

    Header& h = out.header;
    h.type = static_cast<MessageType>(raw_type);
    h.port = r.u16(L::kPort);
    h.current_epoch = r.u64(L::kCurrentEpoch);
    h.config_epoch = r.u64(L::kConfigEpoch);
    h.offset = r.u64(L::kOffset);
    if (!detail::read_name(frame.data() + L::kSender, h.sender)) return DecodeError::InvalidSender;
    r.copy(L::kMyslots, kSlotBitmapBytes, h.myslots.bytes().data());
    const std::uint8_t* slaveof = frame.data() + L::kSlaveof;
    if (!detail::read_name(slaveof, h.slaveof) && !detail::null_name_at(slaveof))
        return DecodeError::InvalidSlaveof;
    r.copy(L::kMyip, kIpFieldLen, h.myip.raw().data());
    if (!h.myip.terminated()) return DecodeError::MyIpUnterminated;
    h.pport = r.u16(L::kPport);
    h.cport = r.u16(L::kCport);
    h.flags = r.u16(L::kFlags);
    h.state = static_cast<BusClusterState>(r.u8(L::kState));
    r.copy(L::kMflags, L::kMflagsSize, h.mflags.data());

    return detail::decode_body(r, frame, out, limits);
}

GOSSIPCLUSTER_INLINE std::size_t encoded_size(const Message& m) {
    static_assert(kDefaultMaxFrameBytes <= std::numeric_limits<std::uint32_t>::max());
    const std::size_t size = kHeaderSize + detail::body_size(m);
    if (size > kDefaultMaxFrameBytes)
        detail::invalid_message("total length above the frame size the decoder accepts");
    return size;
}

GOSSIPCLUSTER_INLINE void encode(const Message& m, std::vector<std::uint8_t>& out) {
    const std::size_t size = encoded_size(m);  // validates m before anything is appended
    std::uint16_t count = 0;
    std::uint16_t extensions = 0;
    if (const auto* g = std::get_if<GossipBody>(&m.body)) {
        count = static_cast<std::uint16_t>(g->gossip.size());
        extensions = static_cast<std::uint16_t>(g->extensions.size());
    }
    // Grow geometrically so that appending many frames to one buffer stays linear.
    if (out.capacity() - out.size() < size)
        out.reserve(std::max(out.size() + size, 2 * out.capacity()));
    const std::size_t at = out.size();
    out.resize(at + size);
    detail::WireWriter w(std::span<std::uint8_t>(out.data() + at, size));
    detail::encode_header(w, m.header, static_cast<std::uint32_t>(size), count, extensions);
    detail::encode_body(w, m.body);
    if (!w.ok() || w.remaining() != 0) {
        out.resize(at);
        throw std::logic_error("gossipcluster: encoded length differs from encoded_size()");
    }
}

GOSSIPCLUSTER_INLINE std::vector<std::uint8_t> encode(const Message& m) {
    std::vector<std::uint8_t> out;
    encode(m, out);
    return out;
}

}  // namespace gossipcluster
