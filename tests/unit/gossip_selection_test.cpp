// GossipSelection: the size of a section, news first, random picks, suspects, and what is never
// picked.
#include <catch2/catch.hpp>

#include <algorithm>
#include <deque>
#include <set>
#include <string>
#include <vector>

#include "gossipcluster/detail/gossip_selection.hpp"

namespace unit_gossip_selection_test {

using gossipcluster::GossipSize;
using gossipcluster::LinkId;
using gossipcluster::NodeId;
using gossipcluster::detail::gossip_entries_wanted;
using gossipcluster::detail::GossipRequest;
using gossipcluster::detail::GossipSelection;
using gossipcluster::detail::Node;
using gossipcluster::detail::Prng;
namespace node_flag = gossipcluster::node_flag;

namespace {

// A view of `count` reachable masters named by number, in name order (order_pos set as the node
// table would), and one sender's selection over it with its own seeded generator.
struct View {
    std::deque<Node> nodes;
    std::vector<Node*> order;
    std::size_t with_news = 0;
    Prng prng;
    GossipSelection selection;

    View(std::size_t count, std::uint64_t seed) : prng(seed) {
        for (std::size_t i = 0; i < count; ++i) {
            Node& n = nodes.emplace_back();
            const std::string hex = std::to_string(1000000 + i);
            n.id = *NodeId::parse(std::string(40 - hex.size(), '0') + hex);
            n.flags = node_flag::kMaster;
            n.link = LinkId{i + 1};
            n.order_pos = static_cast<std::uint32_t>(i);
            order.push_back(&n);
        }
    }

    // The positions of the nodes one section names, in the order it names them.
    std::vector<std::size_t> pick(const GossipRequest& r) {
        std::vector<std::size_t> picked;
        selection.select(order, r, with_news, prng,
                         [&](const Node& n) { picked.push_back(n.order_pos); });
        return picked;
    }
};

}  // namespace

TEST_CASE(
    "[gossip-selection] a section wants a tenth of the view, at least three, never more than "
    "others") {
    CHECK(gossip_entries_wanted(1000, GossipSize::usual(), 3, 10) == 100);
    CHECK(gossip_entries_wanted(20, GossipSize::usual(), 3, 10) == 3);
    CHECK(gossip_entries_wanted(4, GossipSize::usual(), 3, 10) == 2);  // only two others
    CHECK(gossip_entries_wanted(1, GossipSize::usual(), 3, 10) == 0);
    CHECK(gossip_entries_wanted(1000, GossipSize::everything(), 3, 10) == 998);
    CHECK(gossip_entries_wanted(1000, GossipSize::at_most(5), 3, 10) == 5);
    CHECK(gossip_entries_wanted(1000, GossipSize::at_most(1), 3, 10) == 3);  // the minimum holds
}

TEST_CASE("[gossip-selection] news goes first and is counted down; random picks fill the rest") {
    View v(50, 7);
    v.order[40]->news = 1;
    v.order[45]->news = 2;
    v.with_news = 2;
    GossipRequest r{v.order[0], v.order[1], 5, false, 0};
    const auto first = v.pick(r);
    REQUIRE(first.size() == 5);
    CHECK(first[0] == 40);
    CHECK(first[1] == 45);
    CHECK(v.order[40]->news == 0);
    CHECK(v.order[45]->news == 1);
    CHECK(v.with_news == 1);
    // Each node at most once per section, never the sender or the receiver.
    CHECK(std::set<std::size_t>(first.begin(), first.end()).size() == first.size());
    CHECK(std::count(first.begin(), first.end(), 0) == 0);
    CHECK(std::count(first.begin(), first.end(), 1) == 0);
    // The next section may name the same nodes again.
    const auto second = v.pick(r);
    CHECK(second[0] == 45);
    CHECK(v.with_news == 0);
}

TEST_CASE(
    "[gossip-selection] handshakes, nodes without an address, suspects and unreachable empty nodes "
    "are not picked") {
    View v(12, 1);
    v.order[2]->flags |= node_flag::kHandshake;
    v.order[3]->flags |= node_flag::kNoAddr;
    v.order[4]->flags |= node_flag::kPfail;
    v.order[5]->link = LinkId{};  // unreachable and owns nothing
    v.order[6]->link = LinkId{};  // unreachable but serves slots: still worth naming
    v.order[6]->slot_count = 10;
    const GossipRequest r{v.order[0], v.order[1], 10, false, 0};
    std::set<std::size_t> seen;
    for (int round = 0; round < 50; ++round)
        for (std::size_t k : v.pick(r))
            seen.insert(k);
    CHECK(seen == std::set<std::size_t>{6, 7, 8, 9, 10, 11});
}

TEST_CASE("[gossip-selection] every suspect rides along up to the cap, except the receiver") {
    View v(30, 3);
    for (std::size_t k : {10u, 11u, 12u, 13u})
        v.order[k]->flags |= node_flag::kPfail;
    GossipRequest r{v.order[0], v.order[11], 3, false, 64};
    auto picked = v.pick(r);
    REQUIRE(picked.size() == 6);
    CHECK(std::vector<std::size_t>(picked.end() - 3, picked.end()) ==
          std::vector<std::size_t>{10, 12, 13});
    r.max_suspects = 2;
    picked = v.pick(r);
    REQUIRE(picked.size() == 5);
    CHECK(std::vector<std::size_t>(picked.end() - 2, picked.end()) ==
          std::vector<std::size_t>{10, 12});
}

TEST_CASE("[gossip-selection] a newcomer's section names the whole view") {
    View v(40, 5);
    const GossipRequest r{v.order[0], v.order[39],
                          gossip_entries_wanted(40, GossipSize::everything(), 3, 10), true, 0};
    const auto picked = v.pick(r);
    CHECK(picked.size() == 38);
    CHECK(std::set<std::size_t>(picked.begin(), picked.end()).size() == 38);
}

TEST_CASE("[gossip-selection] the same seed gives the same sections") {
    const auto run = [](std::uint64_t seed) {
        View v(500, seed);
        const GossipRequest r{v.order[0], v.order[1], 50, false, 0};
        std::vector<std::size_t> all;
        for (int i = 0; i < 20; ++i)
            for (std::size_t k : v.pick(r))
                all.push_back(k);
        return all;
    };
    CHECK(run(11) == run(11));
    CHECK(run(11) != run(12));
}

}  // namespace unit_gossip_selection_test
