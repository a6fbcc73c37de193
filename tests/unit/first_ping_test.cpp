// Gossip section sizes: a first ping on a new link to a known node is small, a PONG is no bigger
// than the PING it answers, a MEET and a peer's usual PING get the usual section.
#include <catch2/catch.hpp>

#include <cstddef>
#include <string>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "gossipcluster/cluster_state.hpp"
#include "gossipcluster/testing/cluster_setup.hpp"
#include "state_test_support.hpp"

namespace unit_first_ping_test {

using namespace gossipcluster;
using test_support::at;

namespace {

constexpr std::size_t kNodes = 120;  // the usual section: max(3, 120 / 10) = 12 entries
constexpr std::size_t kUsual = kNodes / 10;

NodeId name_of(std::size_t i) {
    return *NodeId::parse(fmt::format("{:040x}", 0xabc000 + i));
}

std::string ip_of(std::size_t i) {
    return fmt::format("10.0.{}.{}", i / 200, 1 + i % 200);
}

// Node 0's nodes.conf: kNodes / 2 masters with the slots split evenly, a replica for each.
PersistedState stored_view() {
    std::vector<NodeId> ids;
    for (std::size_t j = 0; j < kNodes; ++j)
        ids.push_back(name_of(j));
    return testing::stored_cluster_view(0, ids, kNodes / 2, ip_of, 7000, 17000);
}

Config test_config() {
    return test_support::config_announcing(ip_of(0));
}

struct SentPing {
    LinkId link;
    MessageType type;
    std::size_t entries;
};

std::vector<SentPing> pings_in(const Output& out) {
    std::vector<SentPing> sent;
    for (const Action& a : out.actions) {
        const auto* send = std::get_if<action::Send>(&a);
        if (!send) continue;
        const auto* body = std::get_if<GossipBody>(&send->message.body);
        if (!body) continue;
        sent.push_back({send->link, send->message.header.type, body->gossip.size()});
    }
    return sent;
}

// A PING from replica `from` (replicas claim no slots), carrying `entries` gossip entries about
// other replicas.
Message ping_from(std::size_t from, std::size_t entries) {
    Message m;
    Header& h = m.header;
    h.type = MessageType::Ping;
    h.sender = name_of(from);
    h.slaveof = name_of(from - kNodes / 2);
    h.config_epoch = static_cast<Epoch>(from - kNodes / 2 + 1);
    h.current_epoch = kNodes / 2;
    h.myip.assign(ip_of(from));
    h.port = 7000;
    h.cport = 17000;
    h.flags = node_flag::kSlave;
    GossipBody body;
    for (std::size_t k = 0; k < entries; ++k) {
        GossipEntry e;
        const std::size_t about = kNodes / 2 + 1 + k;
        e.node = name_of(about);
        e.ip.assign(ip_of(about));
        e.port = 7000;
        e.cport = 17000;
        e.flags = node_flag::kSlave;
        body.gossip.push_back(e);
    }
    m.body = std::move(body);
    return m;
}

}  // namespace

TEST_CASE("[gossip] after a restart the first ping to each known node carries a small section",
          "[unit][gossip]") {
    const Config config = test_config();
    ClusterState st(config, at(1000), stored_view());
    Output out;
    st.tick(at(1100), out);
    std::size_t connects = 0;
    for (const Action& a : out.actions)
        connects += std::holds_alternative<action::Connect>(a) ? 1 : 0;
    const auto sent = pings_in(out);
    // A link to every other node, and a ping behind each connect.
    CHECK(connects == kNodes - 1);
    REQUIRE(sent.size() == kNodes - 1);
    for (const SentPing& p : sent) {
        CHECK(p.type == MessageType::Ping);
        CHECK(p.entries <= config.gossip_min_entries);
    }
}

TEST_CASE("[gossip] a PONG is no bigger than the PING it answers", "[unit][gossip]") {
    const Config config = test_config();
    ClusterState st(config, at(1000), stored_view());
    Output out;
    st.tick(at(1100), out);
    const std::size_t from = kNodes - 1;
    const LinkId link = LinkId::inbound(5);
    st.on_inbound_link(at(1200), link, ip_of(from), ip_of(0), out);

    struct Case {
        std::size_t asked;
        std::size_t answered;
    };
    // A small first ping gets a small answer; a usual PING (ours or Redis's) the usual section,
    // and a larger one no more than that.
    for (const Case c : {Case{0, config.gossip_min_entries}, Case{3, 3}, Case{5, 5},
                         Case{kUsual, kUsual}, Case{2 * kUsual, kUsual}}) {
        out.clear();
        st.on_message(at(1300), link, ping_from(from, c.asked), out);
        const auto sent = pings_in(out);
        INFO("PING with " << c.asked << " entries");
        REQUIRE(sent.size() == 1);
        CHECK(sent[0].link == link);
        CHECK(sent[0].type == MessageType::Pong);
        CHECK(sent[0].entries == c.answered);
    }
}

TEST_CASE("[gossip] a MEET carries the usual section", "[unit][gossip]") {
    const Config config = test_config();
    ClusterState st(config, at(1000), stored_view());
    Output out;
    st.tick(at(1100), out);
    out.clear();
    REQUIRE(st.meet(at(1200), "10.9.9.9", 7000, 17000, out).ok);
    st.tick(at(1300), out);
    std::vector<SentPing> meets;
    for (const SentPing& p : pings_in(out))
        if (p.type == MessageType::Meet) meets.push_back(p);
    REQUIRE(meets.size() == 1);
    CHECK(meets[0].entries == kUsual);
}

}  // namespace unit_first_ping_test
