// ClusterState::check_invariants on views loaded from damaged state, and the loader's repairs.
#include <catch2/catch.hpp>

#include <string>

#include "gossipcluster/cluster_state.hpp"

#include "../common/node_names.hpp"
#include "state_test_support.hpp"

namespace unit_state_invariants_test {

using test_names::name;

using namespace gossipcluster;
using gossipcluster::test_support::at;
using gossipcluster::test_support::config_announcing;

namespace {

NodeRecord record(char c, std::uint16_t flags) {
    NodeRecord r;
    r.id = name(c);
    r.ip = "10.0.0.1";
    r.port = static_cast<std::uint16_t>(7000 + c);
    r.cport = static_cast<std::uint16_t>(17000 + c);
    r.flags = flags;
    return r;
}

// Myself (a, a master with slots 0-99) and one peer record as given.
PersistedState with_peer(NodeRecord peer) {
    PersistedState st;
    NodeRecord me = record('a', node_flag::kMyself | node_flag::kMaster);
    me.config_epoch = 1;
    for (std::size_t s = 0; s < 100; ++s)
        me.slots.set(s);
    st.nodes.push_back(me);
    st.nodes.push_back(std::move(peer));
    st.current_epoch = 3;
    return st;
}

}  // namespace

TEST_CASE("[invariants] a fresh node and a loaded one are consistent, also after ticks") {
    ClusterState fresh(config_announcing("10.0.0.1"), at(1), std::nullopt);
    CHECK(fresh.check_invariants().empty());

    ClusterState loaded(config_announcing("10.0.0.1"), at(1),
                        with_peer(record('b', node_flag::kMaster)));
    CHECK(loaded.check_invariants().empty());
    Output out;
    for (std::int64_t t = 100; t <= 5000; t += 100)
        loaded.tick(at(t), out);
    CHECK(loaded.check_invariants().empty());
}

TEST_CASE("[invariants] a vote newer than currentEpoch in a file raises currentEpoch") {
    PersistedState st = with_peer(record('b', node_flag::kMaster));
    st.current_epoch = 5;
    st.last_vote_epoch = 9;
    ClusterState s(config_announcing("10.0.0.1"), at(1), st);
    CHECK(s.current_epoch() == 9);
    CHECK(s.last_vote_epoch() == 9);
    CHECK(s.check_invariants().empty());
    Output out;
    CHECK_NOTHROW(s.tick(at(200), out));
}

TEST_CASE("[invariants] a record that is both master and replica keeps one role") {
    SECTION("with a master named: a replica") {
        NodeRecord peer = record('b', node_flag::kMaster | node_flag::kSlave);
        peer.master = name('a');
        ClusterState s(config_announcing("10.0.0.1"), at(1), with_peer(peer));
        CHECK(s.check_invariants().empty());
        REQUIRE(s.find(name('b')));
        CHECK(s.find(name('b'))->is_replica());
        CHECK_FALSE(s.find(name('b'))->is_master());
    }
    SECTION("without one: a master") {
        ClusterState s(config_announcing("10.0.0.1"), at(1),
                       with_peer(record('b', node_flag::kMaster | node_flag::kSlave)));
        CHECK(s.check_invariants().empty());
        CHECK(s.find(name('b'))->is_master());
    }
    SECTION("naming itself as its master: the master link is dropped") {
        NodeRecord peer = record('b', node_flag::kSlave);
        peer.master = name('b');
        ClusterState s(config_announcing("10.0.0.1"), at(1), with_peer(peer));
        CHECK(s.check_invariants().empty());
        CHECK_FALSE(s.find(name('b'))->master().has_value());
    }
}

}  // namespace unit_state_invariants_test
