// Malformed cluster-bus frames, one or more per class of damage, built from captured vectors:
// shared by the codec unit tests and the hardening tests that send them to a live node.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "codec_test_support.hpp"
#include "gossipcluster/codec.hpp"

namespace codec_test::malformed {

using namespace gossipcluster;

inline constexpr std::size_t kSenderOff = 40;
inline constexpr std::size_t kSlaveofOff = 2128;
inline constexpr std::size_t kMyipOff = 2168;
inline constexpr std::size_t kExtCountOff = 2214;
inline constexpr std::size_t kMflagsOff = 2253;

inline constexpr const char* kPing4 = "failover-ping-pfail-gossip-0-PING.bin";  // 4 gossip entries
inline constexpr const char* kPongHostname =
    "pair-meet-ping-pong-1-PONG.bin";                                   // one 24-byte HOSTNAME
inline constexpr const char* kMeet = "pair-meet-ping-pong-0-MEET.bin";  // header only
inline constexpr const char* kFail = "failover-fail-0-FAIL.bin";
inline constexpr const char* kPublish = "failover-publish-0-PUBLISH.bin";  // "chan" + "hello-bus"
inline constexpr const char* kUpdate = "failover-update-0-UPDATE.bin";
inline constexpr const char* kAuthRequest = "failover-auth-request-0-FAILOVER_AUTH_REQUEST.bin";

inline Bytes vec(const char* name) {
    return codec_test::vector_bytes(name);
}

// The MEET vector turned into a PONG that carries exactly `records` after 0 gossip entries.
inline Bytes pong_with_records(const std::vector<Bytes>& records) {
    Bytes b = vec(kMeet);
    put_u16(b, 12, static_cast<std::uint16_t>(MessageType::Pong));
    for (const auto& r : records)
        b.insert(b.end(), r.begin(), r.end());
    put_u16(b, kExtCountOff, static_cast<std::uint16_t>(records.size()));
    b[kMflagsOff] = message_flag::kExtData;
    fix_totlen(b);
    return b;
}

// An extension record with the natural padded length, or `length` when given.
inline Bytes record(std::uint16_t type, const Bytes& payload, std::uint32_t length = 0) {
    Bytes r(8, 0);
    Bytes padded = payload;
    padded.resize((payload.size() + 7) / 8 * 8, 0);
    put_u32(r, 0, length != 0 ? length : static_cast<std::uint32_t>(8 + padded.size()));
    put_u16(r, 4, type);
    r.insert(r.end(), padded.begin(), padded.end());
    return r;
}

inline Bytes text(const std::string& s, bool nul = true) {
    Bytes b(s.begin(), s.end());
    if (nul) b.push_back(0);
    return b;
}

inline Bytes valid_name_bytes() {
    return text("0123456789abcdefghijklmnopqrstuvwxyz0123", false);
}

inline Bytes module_frame(const std::string& payload) {
    Message m;
    m.header.type = MessageType::Module;
    m.header.sender = *NodeId::parse("82c976deaf28511e4e7ecf09c165cfab856a3365");
    m.body = ModuleBody{0x0102030405060708ull, 7, payload};
    return encode(m);
}

struct Case {
    std::string what;
    Bytes frame;
    DecodeError expected;
    CodecLimits limits{};
};

inline std::vector<Case> malformed_cases() {
    std::vector<Case> cases;
    auto add = [&cases](std::string what, Bytes frame, DecodeError e, CodecLimits limits = {}) {
        cases.push_back({std::move(what), std::move(frame), e, limits});
    };

    // --- framing ---
    add("empty frame", {}, DecodeError::Truncated);
    {
        Bytes b = vec(kMeet);
        b.resize(5);
        add("truncated inside the 8-byte prefix", b, DecodeError::Truncated);
    }
    {
        Bytes b = vec(kMeet);
        b.resize(100);
        add("truncated header (totlen says 2256)", b, DecodeError::TotlenMismatch);
    }
    {
        Bytes b = vec(kPing4);
        b.resize(b.size() - 10);
        add("truncated body", b, DecodeError::TotlenMismatch);
    }
    {
        Bytes b = vec(kPing4);
        put_u32(b, 4, static_cast<std::uint32_t>(b.size() + 104));
        add("totlen larger than the buffer", b, DecodeError::TotlenMismatch);
    }
    {
        Bytes b = vec(kPing4);
        put_u32(b, 4, static_cast<std::uint32_t>(b.size() - 104));
        add("totlen smaller than the buffer", b, DecodeError::TotlenMismatch);
    }
    {
        Bytes b = vec(kMeet);
        b[0] = 'X';
        add("bad signature", b, DecodeError::BadSignature);
    }
    {
        Bytes b = vec(kMeet);
        b.resize(2000);
        fix_totlen(b);
        add("totlen below the 2256-byte header", b, DecodeError::TotlenTooSmall);
    }
    {
        Bytes b = vec(kMeet);
        b.resize(8);
        fix_totlen(b);
        add("totlen below even the light header", b, DecodeError::TotlenTooSmall);
    }
    {
        Bytes b = vec(kPing4);
        CodecLimits small;
        small.max_frame_bytes = b.size() - 1;
        add("frame larger than max_frame_bytes", b, DecodeError::TotlenTooLarge, small);
    }
    {
        Bytes b = vec(kMeet);
        put_u32(b, 4, 0xFFFFFFFFu);
        add("totlen 0xFFFFFFFF", b, DecodeError::TotlenTooLarge);
    }
    {
        Bytes b = vec(kMeet);
        put_u16(b, 8, 2);
        add("protocol version 2", b, DecodeError::BadVersion);
    }
    {
        Bytes b = vec(kMeet);
        put_u16(b, 12, 11);
        add("unknown type 11", b, DecodeError::UnknownType);
    }
    {
        Bytes b = vec(kMeet);
        put_u16(b, 12, 0x7FFF);
        add("unknown type 0x7fff", b, DecodeError::UnknownType);
    }
    {
        // A Valkey light PUBLISH: 16-byte header then channel_len, message_len, "ch", "msg".
        Bytes b = {'R', 'C', 'm', 'b', 0, 0, 0, 0, 0, 1, 0, 0, 0x80, 4, 0, 0};
        const Bytes payload = {0, 0, 0, 2, 0, 0, 0, 3, 'c', 'h', 'm', 's', 'g'};
        b.insert(b.end(), payload.begin(), payload.end());
        fix_totlen(b);
        add("light header PUBLISH", b, DecodeError::LightHeaderUnsupported);
    }
    {
        Bytes b = vec(kMeet);
        put_u16(b, 12, 0x8000 | static_cast<std::uint16_t>(MessageType::Meet));
        add("light bit on a full-size MEET", b, DecodeError::LightHeaderUnsupported);
    }

    // --- header fields ---
    {
        Bytes b = vec(kMeet);
        b[kSenderOff + 5] = 'A';
        add("sender with an upper-case character", b, DecodeError::InvalidSender);
    }
    {
        Bytes b = vec(kMeet);
        std::fill(b.begin() + kSenderOff, b.begin() + kSenderOff + 40, 0);
        add("all-NUL sender", b, DecodeError::InvalidSender);
    }
    {
        Bytes b = vec(kAuthRequest);
        b[kSlaveofOff + 39] = 0;
        add("slaveof partly NUL", b, DecodeError::InvalidSlaveof);
    }
    {
        Bytes b = vec(kMeet);
        b[kSlaveofOff] = '-';
        add("slaveof with a non-name character", b, DecodeError::InvalidSlaveof);
    }
    {
        Bytes b = vec(kMeet);
        std::fill(b.begin() + kMyipOff, b.begin() + kMyipOff + 46, '1');
        add("unterminated myip", b, DecodeError::MyIpUnterminated);
    }

    // --- gossip section ---
    {
        Bytes b = vec(kPing4);
        put_u16(b, 14, 0xFFFF);
        add("gossip count 0xFFFF", b, DecodeError::GossipBeyondFrame);
    }
    {
        Bytes b = vec(kPing4);
        put_u16(b, 14, 5);
        add("gossip count one beyond the frame", b, DecodeError::GossipBeyondFrame);
    }
    {
        Bytes b = vec(kPing4);
        put_u16(b, 14, 3);
        add("gossip count that leaves trailing bytes", b, DecodeError::TrailingBytes);
    }
    {
        Bytes b = vec(kPing4);
        b[2256 + 104 * 2 + 7] = 'G';
        add("invalid gossip node name", b, DecodeError::InvalidGossipNode);
    }
    {
        Bytes b = vec(kPing4);
        const std::size_t ip = 2256 + 104 * 3 + 48;
        std::fill(b.begin() + ip, b.begin() + ip + 46, '7');
        add("unterminated gossip ip", b, DecodeError::GossipIpUnterminated);
    }

    // --- extension records ---
    {
        Bytes b = vec(kPongHostname);
        put_u32(b, 2256, 0);
        add("extension length 0", b, DecodeError::ExtensionTooShort);
    }
    {
        Bytes b = vec(kPongHostname);
        put_u32(b, 2256, 4);
        add("extension length 4", b, DecodeError::ExtensionTooShort);
    }
    {
        Bytes b = vec(kPongHostname);
        put_u32(b, 2256, 20);
        add("extension length not a multiple of 8", b, DecodeError::ExtensionUnaligned);
    }
    {
        Bytes b = vec(kPongHostname);
        put_u32(b, 2256, 32);
        add("extension length beyond the frame", b, DecodeError::ExtensionBeyondFrame);
    }
    {
        // 0x00010018 stored in 16 bits would read as 24, the true record size.
        Bytes b = vec(kPongHostname);
        put_u32(b, 2256, 0x00010018u);
        add("32-bit extension length truncating to a valid 16-bit one", b,
            DecodeError::ExtensionBeyondFrame);
    }
    {
        Bytes b = vec(kPongHostname);
        put_u16(b, kExtCountOff, 2);
        add("extension count larger than the records present", b, DecodeError::ExtensionMissing);
    }
    {
        Bytes b = vec(kPongHostname);
        b.resize(b.size() + 4, 0);
        fix_totlen(b);
        put_u16(b, kExtCountOff, 2);
        add("extension record header cut by the frame end", b, DecodeError::ExtensionBeyondFrame);
    }
    {
        Bytes b = vec(kPongHostname);
        put_u16(b, kExtCountOff, 257);
        add("extension count above the default limit", b, DecodeError::TooManyExtensions);
    }
    {
        const Bytes host = record(0, text("a"));
        CodecLimits two;
        two.max_extensions = 2;
        add("three extensions with a limit of two", pong_with_records({host, host, host}),
            DecodeError::TooManyExtensions, two);
    }
    {
        Bytes b = vec(kPongHostname);
        b.resize(b.size() + 8, 0);
        fix_totlen(b);
        add("trailing bytes after the extension records", b, DecodeError::TrailingBytes);
    }
    {
        Bytes b = vec(kPongHostname);
        b[kMflagsOff] = 0;  // EXT_DATA clear: records are still validated
        put_u32(b, 2256, 0);
        add("bad extension record without EXT_DATA", b, DecodeError::ExtensionTooShort);
    }
    {
        Bytes b = vec(kPongHostname);
        b[kMflagsOff] = 0;
        b.resize(b.size() + 8, 0);
        fix_totlen(b);
        add("trailing bytes without EXT_DATA", b, DecodeError::TrailingBytes);
    }
    // Payloads of a multiple of 8 bytes, so that no zero padding supplies a terminator.
    add("unterminated hostname", pong_with_records({record(0, text("node-b.test.abcd", false))}),
        DecodeError::HostnameUnterminated);
    add("hostname of 256 characters", pong_with_records({record(0, text(std::string(256, 'h')))}),
        DecodeError::HostnameTooLong);
    add("unterminated human node name", pong_with_records({record(1, text("abcdefgh", false))}),
        DecodeError::HumanNodenameUnterminated);
    add("human node name of 300 characters",
        pong_with_records({record(1, text(std::string(300, 'n')))}),
        DecodeError::HumanNodenameTooLong);
    {
        Bytes payload = valid_name_bytes();  // 40 bytes: the ttl is missing
        add("forgotten-node payload of 40 bytes", pong_with_records({record(2, payload)}),
            DecodeError::ForgottenNodeTooShort);
    }
    {
        Bytes payload = valid_name_bytes();
        payload[0] = 'Z';
        payload.resize(48, 0);
        add("forgotten-node with an invalid name", pong_with_records({record(2, payload)}),
            DecodeError::ForgottenNodeInvalidId);
    }
    {
        Bytes payload = valid_name_bytes();
        payload.resize(32);
        add("shard-id payload of 32 bytes", pong_with_records({record(3, payload)}),
            DecodeError::ShardIdTooShort);
    }
    {
        Bytes payload = valid_name_bytes();
        payload[10] = '_';
        add("shard-id with an invalid character", pong_with_records({record(3, payload)}),
            DecodeError::ShardIdInvalid);
    }
    {
        Bytes payload = valid_name_bytes();
        const Bytes good_host = record(0, text("ok"));
        add("bad record after a good one",
            pong_with_records({good_host, record(3, payload), record(0, {}, 4)}),
            DecodeError::ExtensionTooShort);
    }

    // --- other bodies ---
    {
        Bytes b = vec(kFail);
        b.resize(b.size() + 8, 0);
        fix_totlen(b);
        add("FAIL with extra bytes", b, DecodeError::FailLengthMismatch);
    }
    {
        Bytes b = vec(kMeet);
        put_u16(b, 12, static_cast<std::uint16_t>(MessageType::Fail));
        add("FAIL without a node name", b, DecodeError::FailLengthMismatch);
    }
    {
        Bytes b = vec(kFail);
        b[2256 + 39] = ' ';
        add("FAIL naming an invalid node", b, DecodeError::InvalidFailNode);
    }
    {
        Bytes b = vec(kPublish);
        put_u32(b, 2256, 0xFFFFFFFFu);
        put_u32(b, 2260, 0xFFFFFFFFu);
        add("PUBLISH lengths 0xFFFFFFFF each", b, DecodeError::PublishLengthMismatch);
    }
    {
        Bytes b = vec(kPublish);
        put_u32(b, 2256, 5);  // channel "chan" is 4 bytes
        add("PUBLISH channel length off by one", b, DecodeError::PublishLengthMismatch);
    }
    {
        Bytes b = vec(kPublish);
        b.resize(b.size() + 1, 'x');
        fix_totlen(b);
        add("PUBLISH with a byte after the message", b, DecodeError::PublishLengthMismatch);
    }
    {
        Bytes b = vec(kMeet);
        put_u16(b, 12, static_cast<std::uint16_t>(MessageType::PublishShard));
        b.resize(b.size() + 4, 0);
        fix_totlen(b);
        add("PUBLISHSHARD too short for its lengths", b, DecodeError::PublishTruncated);
    }
    {
        Bytes b = module_frame("payload");
        put_u32(b, 2264, 8);
        add("MODULE length one above the payload", b, DecodeError::ModuleLengthMismatch);
    }
    {
        Bytes b = module_frame("payload");
        put_u32(b, 2264, 0xFFFFFFFFu);
        add("MODULE length 0xFFFFFFFF", b, DecodeError::ModuleLengthMismatch);
    }
    {
        Bytes b = module_frame("");
        b.resize(b.size() - 1);
        fix_totlen(b);
        add("MODULE without its type byte", b, DecodeError::ModuleTruncated);
    }
    {
        Bytes b = vec(kUpdate);
        b.resize(b.size() - 8);
        fix_totlen(b);
        add("UPDATE 8 bytes short", b, DecodeError::UpdateLengthMismatch);
    }
    {
        Bytes b = vec(kUpdate);
        b.resize(b.size() + 8, 0);
        fix_totlen(b);
        add("UPDATE 8 bytes long", b, DecodeError::UpdateLengthMismatch);
    }
    {
        Bytes b = vec(kUpdate);
        b[2264 + 20] = 0;
        add("UPDATE naming an invalid node", b, DecodeError::InvalidUpdateNode);
    }
    {
        Bytes b = vec(kAuthRequest);
        b.resize(b.size() + 8, 0);
        fix_totlen(b);
        add("AUTH_REQUEST with payload bytes", b, DecodeError::HeaderOnlyLengthMismatch);
    }
    {
        Bytes b = vec(kMeet);
        put_u16(b, 12, static_cast<std::uint16_t>(MessageType::MfStart));
        b.push_back(0);
        fix_totlen(b);
        add("MFSTART with one payload byte", b, DecodeError::HeaderOnlyLengthMismatch);
    }
    return cases;
}

}  // namespace codec_test::malformed
