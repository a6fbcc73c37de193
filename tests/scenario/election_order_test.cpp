// Elections pick the replica with the most data: it starts first, within its documented delay of
// the FAIL, and a replica whose replication link has been down too long never starts one.
#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <optional>

#include <gossipcluster/testing/cluster_setup.hpp>

namespace scenario_election_order_test {

using namespace gossipcluster;
using namespace gossipcluster::testing;
using namespace std::chrono_literals;

namespace {

// Each node's wake-ups follow its own start rather than a wall-clock grid shared by all, as in a
// large cluster or one whose clocks are not in step: two replicas then learn of a FAIL at the
// same moment but would look at it at different times if nothing woke them at once.
ClusterShape two_replicas_each(Duration timeout) {
    ClusterShape s;
    s.replicas_per_master = 2;
    s.config.node_timeout = timeout;
    s.config.ping_grid_sync_max_nodes = 0;
    return s;
}

void set_offset(SimCluster& sim, std::size_t node, std::uint64_t offset) {
    sim.core(node).command([&](auto& st, Now, Output&) {
        st.set_replication_offset(offset);
        return CommandResult::success();
    });
}

void set_link(SimCluster& sim, std::size_t node, ReplicationLink link) {
    sim.core(node).command([&](auto& st, Now now, Output&) {
        st.set_replication_link(now, link);
        return CommandResult::success();
    });
}

// A master with slots other than `old` owns slot 0 in the view of `node`.
bool replaced_in_view(SimCluster& sim, std::size_t node, const NodeId& old) {
    const auto owner = sim.core(node).state().slot_owner(0);
    return owner && owner->id() != old;
}

}  // namespace

TEST_CASE("[election] the replica with the greater offset always wins", "[scenario]") {
    // The offsets are set shortly before the crash, after the idle pings that would have
    // carried them: ranks must rest on offsets exchanged when the election is scheduled.
    const auto timeout = GENERATE(1000, 3000, 15000);
    const auto seed = GENERATE(range(1, 41));
    CAPTURE(timeout, seed);
    SimCluster sim({.seed = static_cast<std::uint64_t>(seed)});
    const ClusterShape sh = two_replicas_each(Duration{timeout});
    REQUIRE(form_cluster(sim, sh, 120s));
    sim.run_for(Duration{2 * timeout});
    // Which replica is ahead alternates, so that the name order (the tie-break) cannot decide.
    const std::size_t ahead = replica_index(sh, 0, seed % 2);
    const std::size_t behind = replica_index(sh, 0, 1 - seed % 2);
    set_offset(sim, behind, 1000);
    set_offset(sim, ahead, 5000);
    sim.run_for(50ms);
    const NodeId old_master = sim.core(0).state().myself_id();
    sim.crash(0);
    REQUIRE(sim.run_until([&] { return replaced_in_view(sim, 1, old_master); },
                          Duration{4 * timeout + 10000}));
    sim.run_for(Duration{timeout});
    CHECK(sim.core(ahead).state().myself().is_master());
    CHECK(sim.core(behind).state().myself().is_replica());
}

TEST_CASE("[election] a replica starts its election within its delay of seeing the FAIL",
          "[scenario]") {
    // Documented delay (Config): election_base_delay + up to election_jitter + rank x
    // election_rank_delay, counted from the moment the replica learns of the FAIL, whether from
    // its own quorum or from a FAIL message.
    const auto timeout = GENERATE(1000, 15000);
    const auto seed = GENERATE(range(1, 9));
    CAPTURE(timeout, seed);
    SimCluster sim({.seed = static_cast<std::uint64_t>(seed)});
    const ClusterShape sh = two_replicas_each(Duration{timeout});
    REQUIRE(form_cluster(sim, sh, 120s));
    sim.run_for(Duration{2 * timeout});
    const NodeId old_master = sim.core(0).state().myself_id();
    std::map<std::size_t, std::int64_t> saw_fail;
    std::map<std::size_t, std::pair<std::int64_t, std::size_t>> started;  // time, rank
    sim.set_observer([&](std::size_t node, Instant at, const Event& e) {
        if (const auto* f = std::get_if<event::NodeFailed>(&e); f && f->node == old_master)
            saw_fail.emplace(node, at.ms);
        if (const auto* s = std::get_if<event::ElectionStarted>(&e))
            started.emplace(node, std::pair{at.ms, s->rank});
    });
    sim.crash(0);
    REQUIRE(sim.run_until([&] { return replaced_in_view(sim, 1, old_master); },
                          Duration{4 * timeout + 10000}));
    REQUIRE_FALSE(started.empty());
    const Config defaults;
    for (const auto& [node, when] : started) {
        REQUIRE(saw_fail.contains(node));
        const std::int64_t waited = when.first - saw_fail.at(node);
        const std::int64_t bound =
            defaults.election_base_delay.count() + defaults.election_jitter.count() +
            static_cast<std::int64_t>(when.second) * defaults.election_rank_delay.count();
        CAPTURE(node, waited, bound, when.second);
        CHECK(waited >= defaults.election_base_delay.count());
        CHECK(waited <= bound);
    }
}

TEST_CASE("[election] a replica whose replication link is down too long never starts one",
          "[scenario]") {
    // Validity window (Redis's rule): repl_ping_period + node_timeout x replica_validity_factor,
    // after forgiving one node timeout; here 10 s + 10 x 1 s = 20 s.
    SimCluster sim({.seed = 7});
    const ClusterShape sh = two_replicas_each(1000ms);
    REQUIRE(form_cluster(sim, sh, 120s));
    sim.run_for(2s);
    const std::size_t a = replica_index(sh, 0, 0);
    const std::size_t b = replica_index(sh, 0, 1);
    // Down for 25 s: past the window, though the master kept pinging on the bus until its crash.
    set_link(sim, a, {.up = false, .idle = 25000ms});
    // Up, but silent for as long: the same verdict.
    set_link(sim, b, {.up = true, .idle = 25000ms});
    const NodeId old_master = sim.core(0).state().myself_id();
    std::size_t elections = 0, refusals = 0;
    sim.set_observer([&](std::size_t node, Instant, const Event& e) {
        if (node != a && node != b) return;
        if (std::holds_alternative<event::ElectionStarted>(e)) ++elections;
        if (std::holds_alternative<event::ElectionRefused>(e)) ++refusals;
    });
    sim.crash(0);
    REQUIRE(sim.run_until([&] { return failed_by(sim, old_master) == live_count(sim); }, 10s));
    sim.run_for(20s);
    CHECK(elections == 0);
    CHECK(refusals == 2);
    CHECK_FALSE(replaced_in_view(sim, 1, old_master));
}

TEST_CASE("[election] a fresh replication link lets the replica fail over whatever the bus says",
          "[scenario]") {
    SimCluster sim({.seed = 8});
    const ClusterShape sh = two_replicas_each(1000ms);
    REQUIRE(form_cluster(sim, sh, 120s));
    sim.run_for(2s);
    const std::size_t a = replica_index(sh, 0, 0);
    const std::size_t b = replica_index(sh, 0, 1);
    set_link(sim, a, {.up = true, .idle = 0ms});
    set_link(sim, b, {.up = false, .idle = 25000ms});
    const NodeId old_master = sim.core(0).state().myself_id();
    sim.crash(0);
    REQUIRE(sim.run_until([&] { return replaced_in_view(sim, 1, old_master); }, 20s));
    sim.run_for(2s);
    CHECK(sim.core(a).state().myself().is_master());
    CHECK(sim.core(b).state().myself().is_replica());
}

}  // namespace scenario_election_order_test
