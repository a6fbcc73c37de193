// Nothing a peer sends can stop a node: announced text nodes.conf cannot carry, epochs near 2^64,
// long blacklists and large PUBLISH frames. Includes a property test over random decoded input.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "gossipcluster/bus_limits.hpp"
#include "gossipcluster/cluster_state.hpp"
#include "gossipcluster/codec.hpp"
#include "gossipcluster/detail/prng.hpp"
#include "gossipcluster/frame_splitter.hpp"
#include "gossipcluster/storage/nodes_conf.hpp"
#include "gossipcluster/testing/cluster_setup.hpp"
#include "state_test_support.hpp"

namespace unit_peer_input_test {

using namespace gossipcluster;
using test_support::at;

namespace {

constexpr std::size_t kKnown = 6;  // three masters with a replica each; node 0 is us

NodeId name_of(std::size_t i) {
    return *NodeId::parse(fmt::format("{:040x}", 0xfeed000 + i));
}

std::string ip_of(std::size_t i) {
    return fmt::format("10.1.{}.{}", i / 200, 1 + i % 200);
}

PersistedState stored_view(std::size_t nodes = kKnown, std::size_t masters = 3) {
    std::vector<NodeId> ids;
    for (std::size_t j = 0; j < nodes; ++j)
        ids.push_back(name_of(j));
    return testing::stored_cluster_view(0, ids, masters, ip_of, 7000, 17000);
}

LinkId link_of(std::size_t peer) {
    return LinkId::inbound(100 + peer);
}

// Node 0 with an inbound link from every other known node.
struct Fixture {
    explicit Fixture(PersistedState stored = stored_view())
        : peers(stored.nodes.size()),
          st(test_support::config_announcing(ip_of(0)), at(1000), std::move(stored)) {
        Output out;
        for (std::size_t j = 1; j < peers; ++j)
            st.on_inbound_link(at(1000), link_of(j), ip_of(j), ip_of(0), out);
    }
    std::size_t peers;
    ClusterState st;
};

// A PING as master `from` (0 < from < 3) sends it.
Message ping_from(std::size_t from) {
    Message m;
    Header& h = m.header;
    h.type = MessageType::Ping;
    h.sender = name_of(from);
    h.current_epoch = 3;
    h.config_epoch = from + 1;
    h.myslots.set_range(from * kSlotCount / 3, (from + 1) * kSlotCount / 3 - 1);
    h.myip.assign(ip_of(from));
    h.port = 7000;
    h.cport = 17000;
    h.flags = node_flag::kMaster;
    h.mflags[0] = message_flag::kExtData;
    m.body = GossipBody{};
    return m;
}

// The state as nodes.conf would get it: the text must load back, to the same records.
void check_saves_and_loads_back(const ClusterState& st, Now now) {
    const PersistedState saved = st.snapshot(now);
    const std::string text = render_nodes_conf(saved);
    const ParseResult loaded = parse_nodes_conf(text);
    INFO(text);
    REQUIRE(loaded.ok());
    std::vector<NodeRecord> expected;
    Epoch max_config = 0;
    for (const NodeRecord& r : saved.nodes) {
        if (r.flags & node_flag::kHandshake) continue;  // never saved
        expected.push_back(r);
        max_config = std::max(max_config, r.config_epoch);
    }
    CHECK(loaded.state->nodes == expected);
    CHECK(loaded.state->last_vote_epoch == saved.last_vote_epoch);
    // Loading raises currentEpoch to the greatest configEpoch, as Redis does.
    CHECK(loaded.state->current_epoch == std::max(saved.current_epoch, max_config));
    CHECK(loaded.state->current_epoch < kEpochLimit);
    CHECK(loaded.state->last_vote_epoch < kEpochLimit);
}

// Every message in `out` encodes, and decodes back to itself with the default limits.
void check_sends_decode(const Output& out) {
    for (const Action& a : out.actions) {
        const auto* send = std::get_if<action::Send>(&a);
        if (!send) continue;
        std::vector<std::uint8_t> bytes;
        REQUIRE_NOTHROW(encode(send->message, bytes));
        Message back;
        REQUIRE(decode(bytes, back) == DecodeError::None);
        CHECK(back == send->message);
    }
}

}  // namespace

TEST_CASE("[peer-input] a hostname nodes.conf cannot carry is ignored, a valid one is kept",
          "[unit][peer-input]") {
    Fixture f;
    std::int64_t t = 2000;
    const std::vector<std::string> refused{"with space", "a,b",         "h\xc3\xa9llo", "tab\there",
                                           "semi;colon", "under_score", "new\nline"};
    std::string human;
    for (const std::string& bad : refused) {
        CAPTURE(bad);
        Message m = ping_from(1);
        std::get<GossipBody>(m.body).extensions.push_back(HostnameExt{bad});
        std::get<GossipBody>(m.body).extensions.push_back(HumanNodenameExt{bad});
        Output out;
        f.st.on_message(at(t), link_of(1), m, out);
        CHECK(f.st.find(name_of(1))->hostname().empty());
        // '_' may be in a human node name; the rest is refused there too, and the name before
        // it stays.
        if (valid_human_nodename(bad)) human = bad;
        CHECK(f.st.find(name_of(1))->human_nodename() == human);
        check_saves_and_loads_back(f.st, at(t));
        t += 10;
    }
    Message m = ping_from(1);
    std::get<GossipBody>(m.body).extensions.push_back(HostnameExt{"node-1.example.org"});
    std::get<GossipBody>(m.body).extensions.push_back(HumanNodenameExt{"node_1/east"});
    Output out;
    f.st.on_message(at(t), link_of(1), m, out);
    CHECK(f.st.find(name_of(1))->hostname() == "node-1.example.org");
    CHECK(f.st.find(name_of(1))->human_nodename() == "node_1/east");
    check_saves_and_loads_back(f.st, at(t));
}

TEST_CASE("[peer-input] Config refuses a hostname or human node name peers would ignore",
          "[unit][peer-input]") {
    Config c;
    c.announce_hostname = "has space";
    CHECK_THROWS_AS(c.validate(), ConfigError);
    c.announce_hostname = "ok-host.example";
    CHECK_NOTHROW(c.validate());
    c.human_nodename = "a,b";
    CHECK_THROWS_AS(c.validate(), ConfigError);
    c.human_nodename = "shard-1/replica_2";
    CHECK_NOTHROW(c.validate());
}

TEST_CASE("[peer-input] a header or UPDATE at the epoch limit changes nothing",
          "[unit][peer-input][epochs]") {
    Fixture f;
    const Epoch before_current = f.st.current_epoch();
    for (Epoch e : {kEpochLimit, kEpochLimit + 1, std::numeric_limits<Epoch>::max()}) {
        CAPTURE(e);
        Message m = ping_from(1);
        m.header.config_epoch = e;
        Output out;
        f.st.on_message(at(2000), link_of(1), m, out);
        CHECK(f.st.find(name_of(1))->config_epoch() == 2);
        m = ping_from(2);
        m.header.current_epoch = e;
        f.st.on_message(at(2000), link_of(2), m, out);
        CHECK(f.st.current_epoch() == before_current);

        // An UPDATE handing node 1 every slot at that epoch.
        Message update = ping_from(2);
        update.header.type = MessageType::Update;
        UpdateBody body{e, name_of(1), {}};
        body.slots.set_range(0, kSlotCount - 1);
        update.body = body;
        f.st.on_message(at(2000), link_of(2), update, out);
        CHECK(f.st.find(name_of(1))->config_epoch() == 2);
        CHECK(f.st.slot_owner(0)->id() == name_of(0));
    }
    CHECK(f.st.counters().dropped_epoch_limit == 6);
    // Just below the limit is still an epoch like any other.
    Message m = ping_from(1);
    m.header.config_epoch = kEpochLimit - 1;
    Output out;
    f.st.on_message(at(2000), link_of(1), m, out);
    CHECK(f.st.find(name_of(1))->config_epoch() == kEpochLimit - 1);
    check_saves_and_loads_back(f.st, at(2000));
}

TEST_CASE("[peer-input] no epoch increment wraps, even from a nodes.conf at 2^64-1",
          "[unit][peer-input][epochs]") {
    PersistedState stored = stored_view();
    stored.current_epoch = std::numeric_limits<Epoch>::max();
    stored.nodes[1].config_epoch = std::numeric_limits<Epoch>::max();
    ClusterState st(test_support::config_announcing(ip_of(0)), at(1000), stored);
    REQUIRE(st.current_epoch() == std::numeric_limits<Epoch>::max());
    Output out;
    bool bumped = true;
    CHECK(st.bump_epoch(at(1100), out, bumped).ok);
    CHECK_FALSE(bumped);
    CHECK(st.current_epoch() == std::numeric_limits<Epoch>::max());
    CHECK(st.myself().config_epoch() == 1);

    // An operator cannot set one at the limit either.
    PersistedState alone;
    NodeRecord me;
    me.id = name_of(0);
    me.ip = ip_of(0);
    me.port = 7000;
    me.cport = 17000;
    me.flags = node_flag::kMyself | node_flag::kMaster;
    alone.nodes.push_back(me);
    ClusterState fresh(test_support::config_announcing(ip_of(0)), at(1000), alone);
    CHECK_FALSE(fresh.set_config_epoch(at(1100), static_cast<std::int64_t>(kEpochLimit), out).ok);
    CHECK(fresh.set_config_epoch(at(1100), static_cast<std::int64_t>(kEpochLimit - 1), out).ok);
    CHECK(fresh.current_epoch() == kEpochLimit - 1);
}

TEST_CASE("[peer-input] the encoder refuses what the decoder would refuse",
          "[unit][peer-input][codec]") {
    Message m = ping_from(1);
    auto& body = std::get<GossipBody>(m.body);
    for (std::size_t i = 0; i < kMaxExtensions; ++i)
        body.extensions.push_back(ForgottenNodeExt{name_of(1000 + i), 60});
    const auto bytes = encode(m);
    Message back;
    CHECK(decode(bytes, back) == DecodeError::None);
    body.extensions.push_back(ShardIdExt{name_of(1)});
    CHECK_THROWS_AS(encoded_size(m), std::invalid_argument);
    // The largest payload the core may be configured to send fits in a frame the decoder takes.
    STATIC_REQUIRE(kHeaderSize + 13 + kMaxBusPayloadBytes <= kDefaultMaxFrameBytes);
    Config c;
    c.max_publish_bytes = kMaxBusPayloadBytes + 1;
    CHECK_THROWS_AS(c.validate(), ConfigError);
}

TEST_CASE("[peer-input] a long blacklist goes out in turns, every message decodes",
          "[unit][peer-input][forget]") {
    // Us, two masters that stay, and 300 replicas we forget.
    constexpr std::size_t kForgotten = 300;
    Fixture f(stored_view(3 + kForgotten, 3));
    Output out;
    for (std::size_t j = 3; j < 3 + kForgotten; ++j)
        REQUIRE(f.st.forget(at(1100), name_of(j).view(), out).ok);
    // Node 1 asks; each answer carries a turn of the blacklist. It reads every extension (Redis
    // 7.0 would get the hostname alone).
    Message ask = ping_from(1);
    ask.header.flags |= node_flag::kExtensionsSupported;
    std::set<NodeId> told;
    for (std::int64_t t = 1200; t < 1200 + 4 * 10; t += 10) {
        out.clear();
        f.st.on_message(at(t), link_of(1), ask, out);
        check_sends_decode(out);
        for (const Action& a : out.actions) {
            const auto* send = std::get_if<action::Send>(&a);
            if (!send) continue;
            const auto* body = std::get_if<GossipBody>(&send->message.body);
            if (!body) continue;
            CHECK(body->extensions.size() <= kMaxExtensions);
            for (const auto& ext : body->extensions)
                if (const auto* fg = std::get_if<ForgottenNodeExt>(&ext)) told.insert(fg->node);
        }
    }
    CHECK(told.size() == kForgotten);
    // A tick pings the peers too, and what it sends decodes as well.
    out.clear();
    f.st.tick(at(20000), out);
    check_sends_decode(out);
}

TEST_CASE("[peer-input] a PUBLISH over 1 MiB, as a Redis peer may send, is framed and decoded",
          "[unit][peer-input][codec]") {
    Message m;
    m.header = ping_from(1).header;
    m.header.type = MessageType::Publish;
    m.header.mflags = {};
    m.body = PublishBody{"news", std::string(3u << 20, 'p')};
    const auto bytes = encode(m);
    FrameSplitter splitter;
    // Fed in socket-sized chunks, as a transport does.
    std::size_t frames = 0;
    for (std::size_t at_byte = 0; at_byte < bytes.size(); at_byte += 16384) {
        const std::size_t n = std::min<std::size_t>(16384, bytes.size() - at_byte);
        REQUIRE(splitter.feed(std::span<const std::uint8_t>(bytes).subspan(at_byte, n)) ==
                DecodeError::None);
        while (auto frame = splitter.next()) {
            Message back;
            REQUIRE(decode(*frame, back) == DecodeError::None);
            CHECK(back == m);
            ++frames;
        }
    }
    CHECK(frames == 1);
    // The bound is still there, and still a setting.
    std::uint32_t totlen = 0;
    CHECK(check_prefix(bytes, bytes.size() - 1, totlen) == DecodeError::TotlenTooLarge);
}

namespace {

// Random input for the property test: every field anywhere in its range, with the values that
// matter (epoch limits, hostnames of arbitrary bytes, many extensions) drawn often.
struct Fuzzer {
    detail::Prng prng;

    std::uint64_t u64() { return prng.next(); }
    std::uint16_t u16() { return static_cast<std::uint16_t>(prng.next()); }
    bool coin() { return prng.chance(0.5); }

    Epoch epoch() {
        switch (prng.below(8)) {
            case 0:
                return 0;
            case 1:
                return kEpochLimit - 1 - prng.below(2);
            case 2:
                return kEpochLimit + prng.below(2);
            case 3:
                return std::numeric_limits<Epoch>::max() - prng.below(2);
            case 4:
                return u64();
            default:
                return prng.below(20);
        }
    }
    NodeId node() {
        // Mostly names we know, sometimes strangers.
        return coin() ? name_of(prng.below(kKnown)) : name_of(1000 + prng.below(50));
    }
    std::string bytes(std::size_t max_len, bool allow_nul) {
        std::string s(prng.below(max_len + 1), '\0');
        for (char& c : s) {
            do {
                c = static_cast<char>(prng.next());
            } while (!allow_nul && c == '\0');
        }
        return s;
    }
    std::string text() {
        // Well-formed values, and arbitrary bytes that pass the codec (no NUL, <= 255).
        switch (prng.below(4)) {
            case 0:
                return "";
            case 1:
                return fmt::format("host-{}.example", prng.below(100));
            case 2:
                return std::string(prng.below(kHostnameMaxLen + 1), 'h');
            default:
                return bytes(kHostnameMaxLen, false);
        }
    }
    std::string ip() {
        switch (prng.below(5)) {
            case 0:
                return "";
            case 1:
                return ip_of(prng.below(kKnown + 5));
            case 2:
                return "fe80::1%eth0";
            case 3:
                return "::ffff:10.1.0.9";
            default:
                return bytes(kIpFieldLen - 1, false);
        }
    }
    PingExtension extension() {
        switch (prng.below(6)) {
            case 0:
                return HostnameExt{text()};
            case 1:
                return HumanNodenameExt{text()};
            case 2:
                return ForgottenNodeExt{node(), coin() ? prng.below(100) : u64()};
            case 3:
                return ShardIdExt{node()};
            default: {
                UnknownExt u;
                u.type = static_cast<std::uint16_t>(4 + prng.below(100));
                const std::string payload = bytes(24, true);
                u.payload.assign(payload.begin(), payload.end());
                return u;
            }
        }
    }
    SlotBitmap slots() {
        SlotBitmap b;
        if (coin()) {
            const std::size_t first = prng.below(kSlotCount);
            b.set_range(first, first + prng.below(kSlotCount - first));
        }
        return b;
    }

    Message message() {
        Message m;
        Header& h = m.header;
        h.type = static_cast<MessageType>(prng.below(kMessageTypeCount));
        h.port = u16();
        h.cport = u16();
        h.pport = u16();
        h.current_epoch = epoch();
        h.config_epoch = epoch();
        h.offset = u64();
        h.sender = node();
        h.slaveof = coin() ? NodeId{} : node();
        h.myslots = slots();
        h.myip.assign(ip());
        h.flags = u16();
        h.state = coin() ? BusClusterState::Ok : BusClusterState::Fail;
        h.mflags = {static_cast<std::uint8_t>(prng.next()), 0, 0};
        switch (h.type) {
            case MessageType::Ping:
            case MessageType::Pong:
            case MessageType::Meet: {
                GossipBody body;
                const std::size_t entries = prng.below(8);
                for (std::size_t k = 0; k < entries; ++k) {
                    GossipEntry e;
                    e.node = node();
                    e.ping_sent = static_cast<std::uint32_t>(u64());
                    e.pong_received = static_cast<std::uint32_t>(coin() ? u64() : 1'790'000u);
                    e.ip.assign(ip());
                    e.port = u16();
                    e.cport = u16();
                    e.flags = u16();
                    e.pport = u16();
                    body.gossip.push_back(e);
                }
                // Sometimes more extensions than a frame may carry: such a PING does not
                // decode and never reaches the state.
                const std::size_t exts = prng.chance(0.05) ? 250 + prng.below(20) : prng.below(6);
                for (std::size_t k = 0; k < exts; ++k)
                    body.extensions.push_back(extension());
                m.body = std::move(body);
                break;
            }
            case MessageType::Fail:
                m.body = FailBody{node()};
                break;
            case MessageType::Update:
                m.body = UpdateBody{epoch(), node(), slots()};
                break;
            case MessageType::Publish:
            case MessageType::PublishShard:
                m.body = PublishBody{bytes(8, true), bytes(64, true)};
                break;
            case MessageType::Module:
                m.body = ModuleBody{u64(), static_cast<std::uint8_t>(prng.next()), bytes(32, true)};
                break;
            default:
                m.body = EmptyBody{};
                break;
        }
        return m;
    }
};

}  // namespace

TEST_CASE("[peer-input] property: any decoded input leaves a state that saves and loads back",
          "[unit][peer-input][property]") {
    const auto seed = GENERATE(range(1, 9));
    CAPTURE(seed);
    Fuzzer fuzz{detail::Prng(static_cast<std::uint64_t>(seed))};
    Fixture f;
    std::int64_t t = 1000;
    std::size_t delivered = 0;
    for (int step = 0; step < 400; ++step) {
        t += static_cast<std::int64_t>(fuzz.prng.below(300));
        const Message m = fuzz.message();
        std::vector<std::uint8_t> bytes;
        try {
            encode(m, bytes);
        } catch (const std::invalid_argument&) {
            continue;  // not a frame at all (too many extensions)
        }
        Message decoded;
        if (decode(bytes, decoded) != DecodeError::None) continue;
        Output out;
        const std::size_t peer = 1 + fuzz.prng.below(kKnown - 1);
        f.st.on_message(at(t), link_of(peer), decoded, out);
        ++delivered;
        check_sends_decode(out);
        if (fuzz.prng.chance(0.2)) {
            out.clear();
            f.st.tick(at(t), out);
            check_sends_decode(out);
        }
        CAPTURE(step);
        check_saves_and_loads_back(f.st, at(t));
        CHECK(f.st.current_epoch() < kEpochLimit);
    }
    CHECK(delivered > 200);
}

}  // namespace unit_peer_input_test
