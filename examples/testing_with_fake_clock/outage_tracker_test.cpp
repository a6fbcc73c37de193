// Testing one's own integration in simulated time: OutageTracker with ManualClock and SimCluster.
//
// Nothing here sleeps. ManualClock moves only when told to, and SimCluster jumps its clock from
// one event or timer to the next, so a test that spans a minute of cluster life takes
// milliseconds, and the same seed gives the same run every time.
#include <catch2/catch.hpp>

#include <gossipcluster/testing/cluster_setup.hpp>
#include <gossipcluster/testing/manual_clock.hpp>
#include <gossipcluster/testing/sim_cluster.hpp>

#include "outage_tracker.hpp"

using namespace std::chrono_literals;
namespace gc = gossipcluster;
using gc::testing::ManualClock;
using gc::testing::SimCluster;
using Tracker = fake_clock_example::OutageTracker<ManualClock>;

namespace {

gc::NodeId node_named(char c) {
    return *gc::NodeId::parse(std::string(gc::kNodeNameLen, c));
}

// Three masters that share the slots. Three, so that two survivors are a majority and can
// agree that the third FAILed; short timeouts keep the simulated spans small.
gc::testing::ClusterShape three_masters() {
    gc::testing::ClusterShape shape;
    shape.masters = 3;
    shape.replicas_per_master = 0;
    shape.config.node_timeout = 2000ms;
    return shape;
}

}  // namespace

// Part 1: the component alone. ManualClock stands in for the real clock, the test feeds events.

TEST_CASE("[outage] a FAIL then a recovery is one outage of the elapsed time", "[unit]") {
    ManualClock clock;
    Tracker tracker(clock);  // a copy of a ManualClock shares its timeline
    const gc::NodeId a = node_named('a');

    tracker.on_event(gc::event::NodeFailed{a, false});
    CHECK(tracker.is_down(a));
    clock.advance(2500ms);
    CHECK(tracker.down_for(a) == 2500ms);

    tracker.on_event(gc::event::NodeRecovered{a});
    CHECK_FALSE(tracker.is_down(a));
    CHECK(tracker.down_for(a) == 0ms);
    REQUIRE(tracker.history().size() == 1);
    CHECK(tracker.history()[0].node == a);
    CHECK(tracker.history()[0].length() == 2500ms);
}

TEST_CASE("[outage] PFAIL alone is a suspicion, not an outage", "[unit]") {
    ManualClock clock;
    Tracker tracker(clock);
    const gc::NodeId b = node_named('b');

    tracker.on_event(gc::event::NodePfail{b});
    CHECK(tracker.is_suspected(b));
    CHECK_FALSE(tracker.is_down(b));
    clock.advance(1s);
    tracker.on_event(gc::event::NodeRecovered{b});
    CHECK_FALSE(tracker.is_suspected(b));
    CHECK(tracker.history().empty());
}

TEST_CASE("[outage] a second FAIL report does not restart the outage", "[unit]") {
    ManualClock clock;
    Tracker tracker(clock);
    const gc::NodeId c = node_named('c');

    tracker.on_event(gc::event::NodeFailed{c, false});
    clock.advance(300ms);
    tracker.on_event(gc::event::NodeFailed{c, true});  // e.g. a FAIL message after our own vote
    clock.advance(700ms);
    CHECK(tracker.down_for(c) == 1000ms);
    tracker.on_event(gc::event::NodeForgotten{c, false});
    CHECK(tracker.down_count() == 0);
    CHECK(tracker.history().empty());
}

// Part 2: the component on a real core. SimCluster runs production ClusterCores on a simulated
// network; its observer sees every event of every node, with the node's index.

TEST_CASE("[outage] a crashed master is seen down, and up again after the undo time",
          "[scenario]") {
    SimCluster sim({.seed = 4});
    const auto shape = three_masters();
    REQUIRE(gc::testing::form_cluster(sim, shape, 60s));

    // The tracker follows node 1's core and reads the simulation's clock.
    Tracker tracker(sim.clock());
    sim.set_observer([&](std::size_t node, gc::Instant, const gc::Event& e) {
        if (node == 1) tracker.on_event(e);
    });

    const gc::NodeId victim = sim.core(0).state().myself_id();
    const gc::Instant crashed_at = sim.now();
    sim.crash(0);
    REQUIRE(sim.run_until([&] { return tracker.is_down(victim); }, 30s));

    // Suspicion starts once nothing was heard from the victim for the node timeout (counted
    // from the last message before the crash), and a majority then agrees within a gossip
    // exchange or two: a generous bound is the timeout and a half.
    const auto detected_after = sim.now() - crashed_at;
    CAPTURE(detected_after.count());
    CHECK(detected_after <= shape.config.node_timeout * 3 / 2);
    CHECK(tracker.down_count() == 1);

    // The victim comes back. A master with slots is un-FAILed only after the undo time
    // (fail_undo_time_mult x node timeout), so that a flapping node does not flap the cluster.
    sim.run_for(5s);
    const gc::Instant restarted_at = sim.now();
    sim.restart(0);
    REQUIRE(sim.run_until([&] { return !tracker.is_down(victim); }, 30s));
    REQUIRE(tracker.history().size() == 1);
    const auto& outage = tracker.history()[0];
    CHECK(outage.node == victim);
    CHECK(outage.ended >= restarted_at);
    CHECK(outage.length() >=
          shape.config.node_timeout * static_cast<std::int64_t>(shape.config.fail_undo_time_mult));
    CHECK(sim.codec_errors().empty());
}

TEST_CASE("[outage] a pause shorter than the node timeout is not an outage", "[scenario]") {
    SimCluster sim({.seed = 8});
    const auto shape = three_masters();
    REQUIRE(gc::testing::form_cluster(sim, shape, 60s));

    Tracker tracker(sim.clock());
    bool anyone_suspected = false;
    sim.set_observer([&](std::size_t node, gc::Instant, const gc::Event& e) {
        if (node == 2) tracker.on_event(e);
        if (std::holds_alternative<gc::event::NodePfail>(e)) anyone_suspected = true;
    });

    // A paused process keeps its sockets open: peers must wait out the timeout, not jump on it.
    sim.pause(0, shape.config.node_timeout / 2);
    sim.run_for(shape.config.node_timeout * 3);
    CHECK(tracker.down_count() == 0);
    CHECK(tracker.history().empty());
    CHECK_FALSE(anyone_suspected);
}
