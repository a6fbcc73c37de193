// Scenarios of replica failover: elections after a master crash, votes, the old master's return.
#include <catch2/catch.hpp>

#include <gossipcluster/testing/cluster_setup.hpp>

using namespace gossipcluster;
using namespace gossipcluster::testing;
using namespace std::chrono_literals;

namespace {

// Every live node serves again with slot 0 no longer owned by `old_master`.
bool failed_over(SimCluster& sim, const NodeId& old_master) {
    for (std::size_t i = 0; i < sim.size(); ++i) {
        if (!sim.alive(i)) continue;
        const auto* owner = sim.core(i).state().slot_owner(0);
        if (!owner || owner->id == old_master) return false;
    }
    return cluster_converged(sim);
}

ClusterShape shape(Duration timeout, std::size_t replicas = 1) {
    ClusterShape s;
    s.replicas_per_master = replicas;
    s.config.node_timeout = timeout;
    return s;
}

}  // namespace

TEST_CASE("[failover] a replica replaces a crashed master and the cluster is ok again",
          "[scenario]") {
    auto timeout = GENERATE(1000, 3000);
    auto seed = GENERATE(1, 2, 3);
    CAPTURE(timeout, seed);
    SimCluster sim({.seed = static_cast<std::uint64_t>(seed)});
    const auto sh = shape(Duration{timeout});
    REQUIRE(form_cluster(sim, sh, 120s));
    sim.run_for(Duration{timeout});
    const NodeId old_master = sim.core(0).state().myself_id();
    const std::size_t replica = replica_index(sh, 0, 0);
    const NodeId heir = sim.core(replica).state().myself_id();
    std::size_t votes_granted = 0;
    sim.set_observer([&](std::size_t, Instant, const Event& e) {
        if (std::holds_alternative<event::VoteGranted>(e)) ++votes_granted;
    });
    const Instant crash = sim.now();
    sim.crash(0);
    REQUIRE(sim.run_until([&] { return failed_over(sim, old_master); }, Duration{timeout * 10}));
    const auto all_ok = (sim.now() - crash).count();
    CAPTURE(all_ok);
    CHECK(all_ok <= timeout + 400);
    CHECK(votes_granted >= 2);
    for (std::size_t i = 1; i < sim.size(); ++i) {
        CHECK(sim.core(i).state().slot_owner(0)->id == heir);
        CHECK(sim.core(i).state().find(old_master)->failing());
    }
    CHECK(sim.core(replica).state().myself().is_master());
    // The new master's epoch is unique and the greatest.
    const Epoch e = sim.core(replica).state().myself().config_epoch;
    for (std::size_t m = 1; m < sh.masters; ++m)
        CHECK(sim.core(m).state().myself().config_epoch < e);

    // The old master comes back and follows the new one.
    sim.restart(0);
    REQUIRE(sim.run_until(
        [&] {
            const auto& me = sim.core(0).state().myself();
            return me.is_replica() && me.master && *me.master == heir && cluster_converged(sim);
        },
        Duration{timeout * 10}));
}

TEST_CASE("[failover] votes are saved before the ACK leaves and one vote per epoch holds",
          "[scenario]") {
    SimCluster sim({.seed = 41});
    const auto sh = shape(1000ms);
    REQUIRE(form_cluster(sim, sh, 60s));
    std::vector<std::pair<std::size_t, Epoch>> votes;
    bool durable = true;
    sim.set_observer([&](std::size_t node, Instant, const Event& e) {
        if (auto* v = std::get_if<event::VoteGranted>(&e)) {
            votes.push_back({node, v->epoch});
            // Events are delivered after the save: the store already holds the vote.
            const auto& saved = sim.core(node).storage().saved();
            if (!saved || saved->last_vote_epoch != v->epoch) durable = false;
        }
    });
    const NodeId old_master = sim.core(0).state().myself_id();
    sim.crash(0);
    REQUIRE(sim.run_until([&] { return failed_over(sim, old_master); }, 20s));
    CHECK(durable);
    CHECK(votes.size() >= 2);
    std::set<std::pair<std::size_t, Epoch>> unique(votes.begin(), votes.end());
    CHECK(unique.size() == votes.size());
}

TEST_CASE("[failover] the replica with the greater offset wins", "[scenario]") {
    SimCluster sim({.seed = 43});
    const auto sh = shape(1000ms, 2);
    REQUIRE(form_cluster(sim, sh, 60s));
    const std::size_t behind = replica_index(sh, 0, 0);
    const std::size_t ahead = replica_index(sh, 0, 1);
    sim.core(behind).command([](auto& st, Now, Output&) {
        st.set_replication_offset(100);
        return CommandResult::success();
    });
    sim.core(ahead).command([](auto& st, Now, Output&) {
        st.set_replication_offset(500);
        return CommandResult::success();
    });
    // Offsets travel in headers; let everyone hear them.
    sim.run_for(2s);
    const NodeId old_master = sim.core(0).state().myself_id();
    sim.crash(0);
    REQUIRE(sim.run_until([&] { return failed_over(sim, old_master); }, 20s));
    CHECK(sim.core(ahead).state().myself().is_master());
    CHECK(sim.core(behind).state().myself().is_replica());
    CHECK(*sim.core(behind).state().myself().master == sim.core(ahead).state().myself_id());
}

TEST_CASE("[failover] a minority side never elects", "[scenario]") {
    SimCluster sim({.seed = 47});
    const auto sh = shape(1000ms);
    REQUIRE(form_cluster(sim, sh, 60s));
    // Master 0's replica is cut off with master 0 ... and master 0 then dies: the replica alone
    // cannot gather votes from the majority it cannot reach.
    const std::size_t replica = replica_index(sh, 0, 0);
    std::vector<std::size_t> rest;
    for (std::size_t i = 0; i < sim.size(); ++i)
        if (i != replica) rest.push_back(i);
    sim.partition({replica}, rest);
    sim.crash(0);
    sim.run_for(20s);
    CHECK(sim.core(replica).state().myself().is_replica());
    CHECK_FALSE(sim.core(replica).state().cluster_ok());
}
