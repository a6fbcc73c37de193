// Randomized round trips through the codec, and random damage to real frames that must never crash.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "codec_test_support.hpp"
#include "gossipcluster/codec.hpp"

namespace unit_codec_roundtrip_test {

using namespace gossipcluster;
using codec_test::Bytes;

namespace {

// Portable draws: std distributions differ between standard libraries, modulo does not.
struct Rand {
    std::mt19937_64 gen;
    explicit Rand(std::uint64_t seed) : gen(seed) {}
    std::uint64_t u64() { return gen(); }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(gen() % n); }
    bool coin() { return (gen() & 1) != 0; }
    std::uint8_t u8() { return static_cast<std::uint8_t>(gen()); }
    std::uint16_t u16() { return static_cast<std::uint16_t>(gen()); }
    std::uint32_t u32() { return static_cast<std::uint32_t>(gen()); }
};

NodeId random_node(Rand& r) {
    static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::string s(kNodeNameLen, 'a');
    for (char& c : s)
        c = kChars[r.below(36)];
    return *NodeId::parse(s);
}

// Raw 46 bytes with at least one NUL, sometimes with bytes after the terminator.
IpText random_ip(Rand& r) {
    IpText ip;
    switch (r.below(3)) {
        case 0:
            break;  // empty
        case 1: {
            // One draw per statement: argument evaluation order differs between compilers.
            const auto first = r.below(256);
            const auto last = r.below(256);
            ip.assign(std::to_string(first) + ".0.0." + std::to_string(last));
            break;
        }
        default:
            for (char& c : ip.raw())
                c = static_cast<char>(r.u8());
            ip.raw()[r.below(kIpFieldLen)] = 0;
    }
    return ip;
}

std::string random_text(Rand& r, std::size_t max_len, bool allow_nul) {
    std::string s(r.below(max_len + 1), 'x');
    for (char& c : s) {
        c = static_cast<char>(r.u8());
        if (!allow_nul && c == 0) c = 'z';
    }
    return s;
}

PingExtension random_extension(Rand& r) {
    switch (r.below(5)) {
        case 0:
            return HostnameExt{random_text(r, r.coin() ? 20 : kHostnameMaxLen, false)};
        case 1:
            return HumanNodenameExt{random_text(r, r.coin() ? 20 : kHostnameMaxLen, false)};
        case 2:
            return ForgottenNodeExt{random_node(r), r.u64()};
        case 3:
            return ShardIdExt{random_node(r)};
        default: {
            UnknownExt u;
            u.type = static_cast<std::uint16_t>(4 + r.below(0xFFFF - 4 + 1));
            // Decoding keeps the padding, so a payload that round-trips is a multiple of 8.
            u.payload.resize(8 * r.below(6));
            for (auto& b : u.payload)
                b = r.u8();
            return u;
        }
    }
}

Message random_message(Rand& r, MessageType type) {
    Message m;
    Header& h = m.header;
    h.type = type;
    h.port = r.u16();
    h.current_epoch = r.u64();
    h.config_epoch = r.u64();
    h.offset = r.u64();
    h.sender = random_node(r);
    for (auto& b : h.myslots.bytes())
        b = r.coin() ? 0 : r.u8();
    if (r.coin()) h.slaveof = random_node(r);
    h.myip = random_ip(r);
    h.pport = r.u16();
    h.cport = r.u16();
    h.flags = r.u16();
    h.state = static_cast<BusClusterState>(r.below(2));
    for (auto& b : h.mflags)
        b = r.u8();

    switch (type) {
        case MessageType::Ping:
        case MessageType::Pong:
        case MessageType::Meet: {
            GossipBody body;
            body.gossip.resize(r.below(r.coin() ? 4 : 40));
            for (auto& g : body.gossip) {
                g.node = random_node(r);
                g.ping_sent = r.u32();
                g.pong_received = r.u32();
                g.ip = random_ip(r);
                g.port = r.u16();
                g.cport = r.u16();
                g.flags = r.u16();
                g.pport = r.u16();
            }
            body.extensions.resize(r.below(7));
            for (auto& e : body.extensions)
                e = random_extension(r);
            m.body = std::move(body);
            break;
        }
        case MessageType::Fail:
            m.body = FailBody{random_node(r)};
            break;
        case MessageType::Publish:
        case MessageType::PublishShard:
            m.body =
                PublishBody{random_text(r, 64, true), random_text(r, r.coin() ? 16 : 4000, true)};
            break;
        case MessageType::FailoverAuthRequest:
        case MessageType::FailoverAuthAck:
        case MessageType::MfStart:
            m.body = EmptyBody{};
            break;
        case MessageType::Update: {
            UpdateBody u;
            u.config_epoch = r.u64();
            u.node = random_node(r);
            for (auto& b : u.slots.bytes())
                b = r.u8();
            m.body = u;
            break;
        }
        case MessageType::Module:
            m.body = ModuleBody{r.u64(), r.u8(), random_text(r, r.coin() ? 16 : 3000, true)};
            break;
    }
    return m;
}

// Random damage: bit flips, byte overwrites, truncation or growth, optionally with totlen fixed
// so that the deeper checks are reached.
Bytes mutate(Rand& r, Bytes b) {
    const std::size_t steps = 1 + r.below(4);
    for (std::size_t i = 0; i < steps && !b.empty(); ++i) {
        switch (r.below(6)) {
            case 0:
                b[r.below(b.size())] ^= static_cast<std::uint8_t>(1u << r.below(8));
                break;
            case 1:
                b[r.below(b.size())] = r.u8();
                break;
            case 2:
                b.resize(r.below(b.size() + 1));
                break;
            case 3: {
                const auto grow = r.below(64);
                b.resize(b.size() + grow, r.u8());
                break;
            }
            case 4: {
                // Aim at the length-like fields: count, extensions, publish/module lengths, ext
                // records.
                static constexpr std::size_t kHot[] = {4, 14, 2214, 2256, 2260, 2264, 2360, 2464};
                const std::size_t off = kHot[r.below(std::size(kHot))] + r.below(4);
                if (off < b.size()) b[off] = r.u8();
                break;
            }
            default:
                break;
        }
    }
    if (r.below(3) != 0 && b.size() >= 8) codec_test::fix_totlen(b);
    return b;
}

constexpr MessageType kAllTypes[] = {
    MessageType::Ping,
    MessageType::Pong,
    MessageType::Meet,
    MessageType::Fail,
    MessageType::Publish,
    MessageType::FailoverAuthRequest,
    MessageType::FailoverAuthAck,
    MessageType::Update,
    MessageType::MfStart,
    MessageType::Module,
    MessageType::PublishShard,
};

}  // namespace

TEST_CASE("[codec] random messages of every type survive encode then decode", "[unit][codec]") {
    const auto seed = GENERATE(as<std::uint64_t>{}, 1, 2, 3, 0xC0FFEE);
    CAPTURE(seed);
    Rand r(seed);
    Message decoded;  // reused across iterations, as a connection would
    Bytes appended = {0xAA, 0xBB};
    for (int i = 0; i < 400; ++i) {
        const MessageType type = kAllTypes[r.below(std::size(kAllTypes))];
        const Message m = random_message(r, type);
        CAPTURE(i, message_type_name(type));
        const Bytes wire = encode(m);
        REQUIRE(wire.size() == encoded_size(m));
        REQUIRE(decode(wire, decoded) == DecodeError::None);
        REQUIRE(decoded == m);

        // Appending keeps what the buffer held and adds exactly encoded_size bytes.
        const std::size_t before = appended.size();
        encode(m, appended);
        REQUIRE(appended.size() == before + wire.size());
        REQUIRE(std::equal(wire.begin(), wire.end(),
                           appended.begin() + static_cast<std::ptrdiff_t>(before)));
    }
    CHECK(appended[0] == 0xAA);
    CHECK(appended[1] == 0xBB);
}

TEST_CASE("[codec] encoding derives count, extensions and record sizes", "[unit][codec]") {
    Rand r(7);
    Message m = random_message(r, MessageType::Pong);
    auto& body = std::get<GossipBody>(m.body);
    body.gossip.resize(3);
    body.extensions = {HostnameExt{"node-b.test"}, HumanNodenameExt{"1234567"}, ForgottenNodeExt{},
                       ShardIdExt{random_node(r)}, UnknownExt{9, {1, 2, 3}}};
    std::get<ForgottenNodeExt>(body.extensions[2]).node = random_node(r);
    const Bytes wire = encode(m);
    // 11+1 -> 16, 7+1 -> 8, 48, 40, 3 -> 8: each plus the 8-byte record header.
    const std::size_t records = (8 + 16) + (8 + 8) + 56 + 48 + (8 + 8);
    CHECK(wire.size() == kHeaderSize + 3 * kGossipEntrySize + records);
    CHECK(codec_test::get_u32(wire, 4) == wire.size());
    CHECK(codec_test::get_u16(wire, 14) == 3);
    CHECK(codec_test::get_u16(wire, 2214) == 5);
    const std::size_t ext0 = kHeaderSize + 3 * kGossipEntrySize;
    CHECK(codec_test::get_u32(wire, ext0) == 24);
    CHECK(codec_test::get_u32(wire, ext0 + 24) == 16);
    CHECK(codec_test::get_u32(wire, ext0 + 40) == 56);
    CHECK(codec_test::get_u32(wire, ext0 + 96) == 48);
    CHECK(codec_test::get_u32(wire, ext0 + 144) == 16);
    // Padding and reserved fields are zero; encode leaves mflags as the caller set them.
    CHECK(wire[ext0 + 8 + 11] == 0);
    CHECK(std::all_of(wire.begin() + 2216, wire.begin() + 2246, [](auto b) { return b == 0; }));
    CHECK(codec_test::get_u16(wire, kHeaderSize + 102) == 0);
    CHECK(wire[2253] == m.header.mflags[0]);

    // The unknown record keeps its padding when decoded back.
    Message back;
    REQUIRE(decode(wire, back) == DecodeError::None);
    const auto& unknown = std::get<UnknownExt>(std::get<GossipBody>(back.body).extensions[4]);
    CHECK(unknown.payload == std::vector<std::uint8_t>{1, 2, 3, 0, 0, 0, 0, 0});
}

TEST_CASE("[codec] encode rejects messages that cannot be a valid frame", "[unit][codec]") {
    Rand r(11);
    Message m = random_message(r, MessageType::Ping);
    m.header.type = MessageType::Fail;  // body is still a GossipBody
    CHECK_THROWS_AS(encode(m), std::invalid_argument);
    CHECK_THROWS_AS(encoded_size(m), std::invalid_argument);

    Bytes out = {1, 2, 3};
    m = random_message(r, MessageType::Pong);
    std::get<GossipBody>(m.body).extensions = {HostnameExt{std::string(256, 'h')}};
    CHECK_THROWS_AS(encode(m, out), std::invalid_argument);
    CHECK(out == Bytes{1, 2, 3});  // nothing appended
    std::get<GossipBody>(m.body).extensions = {HostnameExt{std::string("a\0b", 3)}};
    CHECK_THROWS_AS(encode(m), std::invalid_argument);
    std::get<GossipBody>(m.body).extensions = {UnknownExt{3, {}}};
    CHECK_THROWS_AS(encode(m), std::invalid_argument);
    std::get<GossipBody>(m.body).extensions = {HostnameExt{std::string(255, 'h')}};
    CHECK_NOTHROW(encode(m));

    m.header.type = static_cast<MessageType>(11);
    CHECK_THROWS_AS(encode(m), std::invalid_argument);
}

TEST_CASE("[codec] decoding reuses the storage of the output message", "[unit][codec]") {
    Rand r(5);
    Message m = random_message(r, MessageType::Ping);
    auto& body = std::get<GossipBody>(m.body);
    body.gossip.resize(10);
    for (auto& g : body.gossip)
        g.node = random_node(r);
    body.extensions = {HostnameExt{std::string(100, 'h')}, ShardIdExt{random_node(r)}};
    const Bytes wire = encode(m);

    Message out;
    REQUIRE(decode(wire, out) == DecodeError::None);
    const auto& got = std::get<GossipBody>(out.body);
    const auto* gossip_data = got.gossip.data();
    const auto* ext_data = got.extensions.data();
    const auto* host_data = std::get<HostnameExt>(got.extensions[0]).hostname.data();
    for (int i = 0; i < 3; ++i) {
        REQUIRE(decode(wire, out) == DecodeError::None);
        CHECK(std::get<GossipBody>(out.body).gossip.data() == gossip_data);
        CHECK(std::get<GossipBody>(out.body).extensions.data() == ext_data);
        CHECK(std::get<HostnameExt>(std::get<GossipBody>(out.body).extensions[0]).hostname.data() ==
              host_data);
    }
    CHECK(out == m);
}

TEST_CASE("[codec] random damage to real and generated frames never crashes the decoder",
          "[unit][codec]") {
    const auto seed = GENERATE(as<std::uint64_t>{}, 1, 2, 3);
    CAPTURE(seed);
    Rand r(seed);
    std::vector<Bytes> seeds;
    for (const auto& p : codec_test::vector_files())
        seeds.push_back(codec_test::read_file(p));
    for (const MessageType t : kAllTypes)
        seeds.push_back(encode(random_message(r, t)));

    Message out;
    std::size_t accepted = 0;
    for (int i = 0; i < 3000; ++i) {
        const Bytes damaged = mutate(r, seeds[r.below(seeds.size())]);
        const DecodeError e = decode(damaged, out);
        if (e != DecodeError::None) {
            CHECK(action_for(e) != DecodeAction::Accept);
            continue;
        }
        ++accepted;
        // Whatever is accepted is a well-formed message: it re-encodes, and decodes the same.
        Message again;
        REQUIRE(decode(encode(out), again) == DecodeError::None);
        REQUIRE(again == out);
    }
    CHECK(accepted > 0);
}

}  // namespace unit_codec_roundtrip_test
