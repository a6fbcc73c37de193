// Node timeout means "unreachable for that long", at every size: a master that restarts, or whose
// connections are all reset, within the timeout is never suspected, FAILed or replaced.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include <gossipcluster/testing/cluster_setup.hpp>

namespace sim_quick_restart_test {

using namespace gossipcluster;
using namespace gossipcluster::testing;
using namespace std::chrono_literals;

namespace {

enum class Blip { Restart, ResetLinks };

struct BlipOutcome {
    std::size_t suspected = 0;  // PFAIL events about the master, on any node
    std::size_t failed = 0;     // FAIL events about it
    std::size_t elections = 0;  // elections started for it
    bool still_master = false;  // it owns its slots again in every view
};

// N/2 masters and N/2 replicas restarted from nodes.conf, idle for a minute at timeout 15000
// (long enough for gossip to spare most direct pings in a large cluster), then master 0 is
// restarted after 2 s, or sees every connection reset without a restart.
BlipOutcome blip_a_master(std::size_t nodes, std::uint64_t seed, Blip blip) {
    SimCluster sim({.seed = seed});
    Config config;
    config.node_timeout = 15000ms;
    start_stored_cluster(sim, nodes, nodes / 2, config, seed);
    REQUIRE(run_until_converged(sim, 120s));
    sim.run_for(60s);

    const NodeId victim = sim.core(0).state().myself_id();
    BlipOutcome outcome;
    sim.set_observer([&](std::size_t, Instant, const Event& e) {
        if (const auto* p = std::get_if<event::NodePfail>(&e); p && p->node == victim)
            ++outcome.suspected;
        if (const auto* f = std::get_if<event::NodeFailed>(&e); f && f->node == victim)
            ++outcome.failed;
        if (const auto* s = std::get_if<event::ElectionStarted>(&e);
            s && s->failed_master == victim)
            ++outcome.elections;
    });
    if (blip == Blip::Restart) {
        sim.crash(0);
        sim.run_for(2s);
        sim.restart(0);
    } else {
        sim.reset_links(0);
    }
    // Two timeouts: whatever a blip could set off has happened by then.
    sim.run_for(30s);
    outcome.still_master = sim.core(0).state().myself().is_master();
    for (std::size_t i = 0; i < sim.size() && outcome.still_master; ++i) {
        const auto owner = sim.core(i).state().slot_owner(0);
        outcome.still_master = owner && owner->id() == victim;
    }
    CHECK(sim.codec_errors().empty());
    return outcome;
}

void check_survives(std::size_t nodes, std::uint64_t seed, Blip blip) {
    CAPTURE(nodes, seed, blip == Blip::Restart ? "restart" : "reset links");
    const BlipOutcome o = blip_a_master(nodes, seed, blip);
    CHECK(o.suspected == 0);
    CHECK(o.failed == 0);
    CHECK(o.elections == 0);
    CHECK(o.still_master);
}

}  // namespace

TEST_CASE("[blip] a master restarted within the timeout is never suspected, at 6 and 100 nodes",
          "[sim]") {
    const auto nodes = GENERATE(std::size_t{6}, std::size_t{100});
    const auto seed = GENERATE(std::uint64_t{1}, std::uint64_t{2}, std::uint64_t{3});
    check_survives(nodes, seed, Blip::Restart);
}

TEST_CASE("[blip] a master whose links are all reset is never suspected, at 6 and 100 nodes",
          "[sim]") {
    const auto nodes = GENERATE(std::size_t{6}, std::size_t{100});
    const auto seed = GENERATE(std::uint64_t{1}, std::uint64_t{2}, std::uint64_t{3});
    check_survives(nodes, seed, Blip::ResetLinks);
}

TEST_CASE("[blip] 300 and 500 nodes: a quick restart or a reset of links never fails over",
          "[sim][.long]") {
    const auto nodes = GENERATE(std::size_t{300}, std::size_t{500});
    const auto seed = GENERATE(range(std::uint64_t{1}, std::uint64_t{6}));
    check_survives(nodes, seed, Blip::Restart);
    check_survives(nodes, seed, Blip::ResetLinks);
}

TEST_CASE("[blip] a crashed master is suspected about one timeout after the crash, at 100 nodes",
          "[sim]") {
    // The other side of the rule: no earlier than the timeout (it was reachable until the
    // crash), and not much later (the collectors still gather the quorum at once).
    const auto seed = GENERATE(std::uint64_t{1}, std::uint64_t{2});
    CAPTURE(seed);
    SimCluster sim({.seed = seed});
    Config config;
    config.node_timeout = 15000ms;
    config.replica_no_failover = true;
    start_stored_cluster(sim, 100, 50, config, seed);
    REQUIRE(run_until_converged(sim, 120s));
    sim.run_for(60s);
    const NodeId victim = sim.core(0).state().myself_id();
    std::vector<std::int64_t> suspected;
    sim.set_observer([&](std::size_t, Instant at, const Event& e) {
        if (const auto* p = std::get_if<event::NodePfail>(&e); p && p->node == victim)
            suspected.push_back(at.ms);
    });
    const std::int64_t crash = sim.now().ms;
    sim.crash(0);
    REQUIRE(sim.run_until([&] { return failed_by(sim, victim) == live_count(sim); }, 40s));
    const std::int64_t fail_all = sim.now().ms - crash;
    REQUIRE_FALSE(suspected.empty());
    const std::int64_t first = *std::min_element(suspected.begin(), suspected.end()) - crash;
    CAPTURE(first, fail_all);
    CHECK(first >= 15000 - 100);
    CHECK(fail_all <= 15000 + 1000);
}

}  // namespace sim_quick_restart_test
