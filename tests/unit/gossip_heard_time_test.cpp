// The time a gossip entry gives for a node is when we last heard from it at all, PING or PONG.
#include <catch2/catch.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "gossipcluster/cluster_state.hpp"
#include "gossipcluster/testing/cluster_setup.hpp"
#include "state_test_support.hpp"

namespace unit_gossip_heard_time_test {

using namespace gossipcluster;
using test_support::at;
using test_support::kUnixAtZero;

namespace {

// Four masters: a section to one peer holds the two others (max(3, 4 / 10) = 3 wanted, two left
// once ourselves and the target are out), so no random pick decides what the test sees.
constexpr std::size_t kNodes = 4;

NodeId name_of(std::size_t i) {
    return *NodeId::parse(fmt::format("{:040x}", 0xdef000 + i));
}

std::string ip_of(std::size_t i) {
    return fmt::format("10.1.0.{}", 1 + i);
}

PersistedState stored_view() {
    std::vector<NodeId> ids;
    for (std::size_t j = 0; j < kNodes; ++j)
        ids.push_back(name_of(j));
    return testing::stored_cluster_view(0, ids, kNodes, ip_of, 7000, 17000);
}

Config test_config() {
    return test_support::config_announcing(ip_of(0));
}

// A PING from master `from`, claiming its slots, with no gossip entries.
Message ping_from(std::size_t from) {
    Message m;
    Header& h = m.header;
    h.type = MessageType::Ping;
    h.sender = name_of(from);
    h.config_epoch = static_cast<Epoch>(from + 1);
    h.current_epoch = kNodes;
    h.myslots.set_range(from * kSlotCount / kNodes, (from + 1) * kSlotCount / kNodes - 1);
    h.myip.assign(ip_of(from));
    h.port = 7000;
    h.cport = 17000;
    h.flags = node_flag::kMaster;
    m.body = GossipBody{};
    return m;
}

// The entry about `about` in the first gossip message sent on `link`, if there is one.
std::optional<GossipEntry> entry_sent(const Output& out, LinkId link, const NodeId& about) {
    for (const Action& a : out.actions) {
        const auto* send = std::get_if<action::Send>(&a);
        if (!send || send->link != link) continue;
        const auto* body = std::get_if<GossipBody>(&send->message.body);
        if (!body) continue;
        for (const GossipEntry& e : body->gossip)
            if (e.node == about) return e;
        return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace

TEST_CASE("[gossip] an entry gives the time of the last message from its node PING included",
          "[unit][gossip]") {
    ClusterState st(test_config(), at(1000), stored_view());
    Output out;
    st.tick(at(1100), out);  // links to the three others, no PONG back yet

    // Node 1 pings us at t = 5 s, before any PONG of its own reached us (and well within the
    // node timeout, so nobody is suspected).
    const LinkId from_one = LinkId::inbound(11);
    st.on_inbound_link(at(4'000), from_one, ip_of(1), ip_of(0), out);
    out.clear();
    st.on_message(at(5'000), from_one, ping_from(1), out);

    // Node 2 pings us at t = 8 s: our PONG tells it about nodes 1 and 3.
    const LinkId from_two = LinkId::inbound(12);
    st.on_inbound_link(at(7'000), from_two, ip_of(2), ip_of(0), out);
    out.clear();
    st.on_message(at(8'000), from_two, ping_from(2), out);

    const auto about_one = entry_sent(out, from_two, name_of(1));
    const auto about_three = entry_sent(out, from_two, name_of(3));
    REQUIRE(about_one);
    REQUIRE(about_three);
    // Heard from node 1 at 5 s: that is what its entry says, in Unix seconds.
    CHECK(about_one->pong_received == (kUnixAtZero + 5'000) / 1000);
    // Never heard from node 3: no time at all, as before.
    CHECK(about_three->pong_received == 0);
}

}  // namespace unit_gossip_heard_time_test
