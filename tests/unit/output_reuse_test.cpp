// Output keeps the gossip sections of the messages it held for the next ones, within bounds.
#include <catch2/catch.hpp>

#include <cstddef>
#include <variant>

#include "gossipcluster/output.hpp"

namespace unit_output_reuse_test {

using namespace gossipcluster;

namespace {

action::Send ping_with(std::size_t entries) {
    action::Send send;
    send.link = LinkId{1};
    send.message.header.type = MessageType::Ping;
    GossipBody body;
    body.gossip.resize(entries);
    body.extensions.push_back(ShardIdExt{});
    send.message.body = std::move(body);
    return send;
}

}  // namespace

TEST_CASE("[output] a cleared output hands out the sections of its messages empty with their room",
          "[unit]") {
    Output out;
    out.actions.emplace_back(ping_with(20));
    const auto* sent = &std::get<GossipBody>(std::get<action::Send>(out.actions[0]).message.body);
    const GossipEntry* storage = sent->gossip.data();
    out.clear();
    CHECK(out.actions.empty());

    GossipBody reused = out.take_gossip_body();
    CHECK(reused.gossip.empty());
    CHECK(reused.extensions.empty());
    CHECK(reused.gossip.capacity() >= 20);
    CHECK(reused.gossip.data() == storage);  // the same memory, not a copy
    // Nothing left: the next one is new.
    CHECK(out.take_gossip_body().gossip.capacity() == 0);
}

TEST_CASE("[output] an output keeps a bounded number of sections and no huge ones", "[unit]") {
    Output out;
    for (std::size_t i = 0; i < 200; ++i)
        out.actions.emplace_back(ping_with(4));
    out.actions.emplace_back(ping_with(5000));  // a whole-view welcome to a large cluster
    out.actions.emplace_back(action::Close{LinkId{2}});
    out.clear();
    std::size_t kept = 0;
    while (out.take_gossip_body().gossip.capacity() != 0) {
        ++kept;
        REQUIRE(kept <= 200);
    }
    CHECK(kept == 64);
}

TEST_CASE("[output] buffers move between outputs whole", "[unit]") {
    Output a;
    Output b;
    a.actions.emplace_back(ping_with(7));
    a.clear();
    a.actions.reserve(16);
    a.swap_buffers(b);
    CHECK(a.actions.capacity() == 0);
    CHECK(b.actions.capacity() >= 16);
    CHECK(a.take_gossip_body().gossip.capacity() == 0);
    CHECK(b.take_gossip_body().gossip.capacity() >= 7);
}

}  // namespace unit_output_reuse_test
