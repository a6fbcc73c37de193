// Scenarios of CLUSTER RESET: removing a node as `redis-cli --cluster del-node` does (FORGET on
// every other node, then RESET on it), and the reset node joining again.
#include <catch2/catch.hpp>

#include <cstddef>
#include <vector>

#include <gossipcluster/testing/cluster_setup.hpp>

namespace scenario_reset_test {

using namespace gossipcluster;
using namespace gossipcluster::testing;
using namespace std::chrono_literals;

namespace {

CommandResult reset(SimCluster& sim, std::size_t i, bool hard) {
    return sim.core(i).command(
        [&](ClusterState& s, Now n, Output& o) { return s.reset(n, hard, o); });
}

// del-node's order: every other node forgets it first, then it resets.
void del_node(SimCluster& sim, std::size_t gone, bool hard) {
    const NodeId id = sim.core(gone).state().myself_id();
    for (std::size_t i = 0; i < sim.size(); ++i)
        if (i != gone) REQUIRE(sim.core(i).forget(id.view()).ok);
    REQUIRE(reset(sim, gone, hard).ok);
}

// No node but `gone` itself lists `id`.
bool listed_by_none(SimCluster& sim, std::size_t gone, const NodeId& id) {
    for (std::size_t i = 0; i < sim.size(); ++i)
        if (i != gone && sim.core(i).state().find(id)) return false;
    return true;
}

bool alone(SimCluster& sim, std::size_t i) {
    const auto& st = sim.core(i).state();
    std::size_t slots = 0;
    for (std::size_t s = 0; s < kSlotCount; ++s)
        slots += st.slot_owner(s) ? 1 : 0;
    return st.node_count() == 1 && slots == 0 && st.myself().is_master();
}

}  // namespace

TEST_CASE("[reset] a replica removed with FORGET + RESET SOFT stays out, then rejoins",
          "[scenario]") {
    SimCluster sim({.seed = 21});
    ClusterShape shape;
    REQUIRE(form_cluster(sim, shape, 60s));
    const std::size_t replica = replica_index(shape, 0, 0);
    const NodeId id = sim.core(replica).state().myself_id();
    const Epoch epoch_before = sim.core(replica).state().current_epoch();
    REQUIRE(sim.core(replica).state().myself().is_replica());

    std::vector<Event> events;
    sim.set_observer([&](std::size_t node, Instant, const Event& e) {
        if (node == replica) events.push_back(e);
    });
    const std::size_t fsyncs = sim.core(replica).storage().fsync_count();
    del_node(sim, replica, false);
    CHECK(sim.core(replica).storage().fsync_count() == fsyncs + 1);
    bool promoted = false;
    for (const auto& e : events)
        if (const auto* r = std::get_if<event::RoleChanged>(&e)) promoted = r->is_master;
    CHECK(promoted);

    // Gossip of the others does not bring it back, nor it them.
    sim.run_for(20s);
    CHECK(listed_by_none(sim, replica, id));
    CHECK(alone(sim, replica));
    CHECK(sim.core(replica).state().myself_id() == id);
    CHECK(sim.core(replica).state().current_epoch() == epoch_before);
    for (std::size_t i = 0; i < sim.size(); ++i) {
        if (i == replica) continue;
        CHECK(sim.core(i).state().node_count() == sim.size() - 1);
        CHECK(sim.core(i).state().cluster_ok());
    }

    // Once the others' 60 s FORGET ban is over, a MEET brings it back as an empty master.
    sim.run_for(45s);
    REQUIRE(sim.meet(0, replica).ok);
    REQUIRE(sim.run_until([&] { return membership_converged(sim); }, 30s));
    CHECK(sim.core(1).state().find(id) != std::nullopt);
    CHECK(sim.core(1).state().find(id)->is_master());
    CHECK(sim.core(1).state().find(id)->slot_count() == 0);
    CHECK(sim.run_until([&] { return cluster_converged(sim); }, 30s));
    CHECK(sim.codec_errors().empty());
}

TEST_CASE("[reset] an empty master removed with RESET HARD rejoins under a new name at once",
          "[scenario]") {
    SimCluster sim({.seed = 22});
    ClusterShape shape;
    shape.replicas_per_master = 0;
    REQUIRE(form_cluster(sim, shape, 60s));
    const std::size_t extra = sim.add_node();
    REQUIRE(sim.meet(extra, 0).ok);
    REQUIRE(sim.run_until([&] { return cluster_converged(sim); }, 30s));
    const NodeId old_id = sim.core(extra).state().myself_id();
    REQUIRE(sim.core(extra).state().current_epoch() >= 3);

    del_node(sim, extra, true);
    const auto& st = sim.core(extra).state();
    CHECK(st.myself_id() != old_id);
    CHECK(st.current_epoch() == 0);
    CHECK(st.last_vote_epoch() == 0);
    CHECK(st.myself().config_epoch() == 0);
    REQUIRE(sim.core(extra).storage().saved());
    CHECK(sim.core(extra).storage().saved()->myself()->id == st.myself_id());
    CHECK(sim.core(extra).storage().saved()->current_epoch == 0);
    sim.run_for(5s);
    CHECK(listed_by_none(sim, extra, old_id));
    CHECK(alone(sim, extra));

    // A new name is no one's banned name: it joins again straight away and learns the epochs.
    REQUIRE(sim.meet(extra, 1).ok);
    REQUIRE(sim.run_until([&] { return membership_converged(sim); }, 30s));
    CHECK(listed_by_none(sim, extra, old_id));
    CHECK(sim.run_until([&] { return cluster_converged(sim); }, 30s));
    CHECK(sim.core(extra).state().current_epoch() >= 3);
    CHECK(sim.codec_errors().empty());
}

}  // namespace scenario_reset_test
