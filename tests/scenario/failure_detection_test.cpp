// Scenarios of failure detection and slot ownership: PFAIL, FAIL by quorum, undo, UPDATE.
#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <vector>

#include <gossipcluster/testing/cluster_setup.hpp>

namespace scenario_failure_detection_test {

using namespace gossipcluster;
using namespace gossipcluster::testing;
using namespace std::chrono_literals;

namespace {

// Replicas that never fail over, so that failure detection is seen on its own.
ClusterShape shape_with_timeout(Duration timeout) {
    ClusterShape shape;
    shape.config.node_timeout = timeout;
    shape.config.replica_no_failover = true;
    return shape;
}

}  // namespace

TEST_CASE("[slots] six nodes form a cluster with three shards", "[scenario]") {
    SimCluster sim({.seed = 21});
    REQUIRE(form_cluster(sim, shape_with_timeout(15000ms), 60s));
    const auto& st = sim.core(4).state();
    CHECK(st.slot_owner(0)->id() == sim.core(0).state().myself_id());
    CHECK(st.slot_owner(16383)->id() == sim.core(2).state().myself_id());
    CHECK(st.myself().is_replica());
    CHECK(*st.myself().master() == sim.core(1).state().myself_id());
    for (std::size_t i = 0; i < sim.size(); ++i)
        CHECK(sim.core(i).state().cluster_ok());
}

TEST_CASE("[failure] a crashed master is FAILed everywhere within timeout + 100 ms", "[scenario]") {
    auto timeout = GENERATE(1000, 3000, 15000);
    auto seed = GENERATE(1, 2, 3);
    CAPTURE(timeout, seed);
    SimCluster sim({.seed = static_cast<std::uint64_t>(seed)});
    REQUIRE(form_cluster(sim, shape_with_timeout(Duration{timeout}), 120s));
    sim.run_for(Duration{timeout * 2});
    const NodeId victim = sim.core(0).state().myself_id();
    const Instant crash = sim.now();
    sim.crash(0);
    REQUIRE(sim.run_until([&] { return failed_by(sim, victim) == live_count(sim); },
                          Duration{timeout * 4}));
    const auto fail_all = (sim.now() - crash).count();
    CAPTURE(fail_all);
    CHECK(fail_all <= timeout + 100);
    // Full coverage is lost: every live node reports the cluster down.
    sim.run_for(200ms);
    for (std::size_t i = 1; i < sim.size(); ++i)
        CHECK_FALSE(sim.core(i).state().cluster_ok());
}

TEST_CASE("[failure] every node picks the same collectors for the reports about a suspect",
          "[scenario]") {
    auto seed = GENERATE(1, 2, 3);
    CAPTURE(seed);
    SimCluster sim({.seed = static_cast<std::uint64_t>(seed)});
    ClusterShape shape = shape_with_timeout(3000ms);
    shape.masters = 12;
    shape.replicas_per_master = 0;
    REQUIRE(form_cluster(sim, shape, 120s));
    sim.run_for(6s);
    const NodeId victim = sim.core(0).state().myself_id();
    // A collector cannot pick itself and takes the next one instead: four names at most between
    // all the nodes, and the nodes that are none of them pick the same three.
    std::vector<std::vector<NodeId>> picks;
    std::vector<NodeId> named;
    for (std::size_t i = 1; i < sim.size(); ++i) {
        picks.push_back(sim.core(i).state().failure_report_collectors(victim));
        REQUIRE(picks.back().size() == 3);
        CHECK(std::find(picks.back().begin(), picks.back().end(), victim) == picks.back().end());
        for (const auto& id : picks.back())
            if (std::find(named.begin(), named.end(), id) == named.end()) named.push_back(id);
    }
    CHECK(named.size() == 4);
    std::optional<std::vector<NodeId>> common;
    for (std::size_t i = 1; i < sim.size(); ++i) {
        if (std::find(named.begin(), named.end(), sim.core(i).state().myself_id()) != named.end())
            continue;
        if (!common) common = picks[i - 1];
        CHECK(picks[i - 1] == *common);
    }
    REQUIRE(common);
    // Another suspect has other collectors.
    CHECK(sim.core(1).state().failure_report_collectors(sim.core(2).state().myself_id()) !=
          sim.core(1).state().failure_report_collectors(victim));
}

TEST_CASE("[failure] a master paused for less than the timeout is never marked FAIL",
          "[scenario]") {
    auto seed = GENERATE(1, 2, 3, 4, 5);
    CAPTURE(seed);
    const int timeout = 3000;
    SimCluster sim({.seed = static_cast<std::uint64_t>(seed)});
    REQUIRE(form_cluster(sim, shape_with_timeout(Duration{timeout}), 120s));
    sim.run_for(Duration{timeout});
    const NodeId paused = sim.core(1).state().myself_id();
    bool ever_failed = false;
    sim.set_observer([&](std::size_t, Instant, const Event& e) {
        if (auto* f = std::get_if<event::NodeFailed>(&e); f && f->node == paused)
            ever_failed = true;
    });
    sim.pause(1, Duration{timeout * 9 / 10});
    sim.run_for(Duration{timeout * 3});
    CHECK_FALSE(ever_failed);
    CHECK(failed_by(sim, paused) == 0);
}

TEST_CASE("[failure] a master that comes back clears FAIL only after the undo time", "[scenario]") {
    const int timeout = 2000;
    SimCluster sim({.seed = 9});
    REQUIRE(form_cluster(sim, shape_with_timeout(Duration{timeout}), 120s));
    const NodeId victim = sim.core(2).state().myself_id();
    sim.crash(2);
    REQUIRE(sim.run_until([&] { return failed_by(sim, victim) == live_count(sim); }, 10s));
    const Instant failed_at = sim.now();
    sim.restart(2);
    // A master with slots stays FAIL for 2 x node timeout, in case a replica takes over.
    sim.run_for(Duration{timeout});
    CHECK(failed_by(sim, victim) > 0);
    REQUIRE(sim.run_until([&] { return failed_by(sim, victim) == 0; }, 20s));
    CHECK((sim.now() - failed_at).count() > 2 * timeout);
    REQUIRE(sim.run_until([&] { return cluster_converged(sim); }, 20s));
}

TEST_CASE("[failure] a crashed replica is FAILed and cleared as soon as it answers", "[scenario]") {
    const int timeout = 2000;
    SimCluster sim({.seed = 10});
    REQUIRE(form_cluster(sim, shape_with_timeout(Duration{timeout}), 120s));
    const NodeId replica = sim.core(3).state().myself_id();
    sim.crash(3);
    REQUIRE(sim.run_until([&] { return failed_by(sim, replica) == live_count(sim); }, 10s));
    sim.restart(3);
    REQUIRE(sim.run_until([&] { return failed_by(sim, replica) == 0; }, 5s));
}

TEST_CASE("[slots] a newer configEpoch takes slots and the stale owner is corrected by UPDATE",
          "[scenario]") {
    SimCluster sim({.seed = 17});
    REQUIRE(form_cluster(sim, shape_with_timeout(5000ms), 60s));
    // Node 0 is cut off; meanwhile node 1 takes slot 0 with a bumped epoch (as after a failover).
    sim.partition({0}, {1, 2, 3, 4, 5});
    const NodeId n1 = sim.core(1).state().myself_id();
    auto r = sim.core(1).command([&](auto& st, Now n, Output& o) {
        return st.set_slot(n, 0, SetSlotMode::Node, n1.view(), 0, o);
    });
    REQUIRE(r.ok);
    bool bumped = false;
    sim.core(1).command([&](auto& st, Now n, Output& o) { return st.bump_epoch(n, o, bumped); });
    REQUIRE(bumped);
    sim.run_for(2s);
    // Node 0 still claims slot 0 with its old epoch. Node 1 stays unable to reach it, so node 1's
    // own claim cannot correct it: nodes 2..5 answer its stale claim with UPDATE and it yields.
    sim.heal();
    sim.block(1, 0);
    REQUIRE(sim.run_until(
        [&] {
            for (std::size_t i = 0; i < sim.size(); ++i)
                if (sim.core(i).state().slot_owner(0)->id() != n1) return false;
            return true;
        },
        30s));
    CHECK(sim.core(0).state().counters().received[static_cast<std::size_t>(MessageType::Update)] >
          0);
    sim.heal();
}

TEST_CASE("[slots] a slot its owner stopped claiming goes to the next claimant whatever the epochs",
          "[scenario]") {
    // Node 5 misses two takeovers: node 3 takes shard 0 from node 0, then node 0 takes shard 1
    // with a still newer epoch. Node 5 then learns node 0's newer epoch while still crediting it
    // with shard 0, so node 3's claim (older epoch) can only win because node 0 no longer claims
    // shard 0 itself.
    SimCluster sim({.seed = 29});
    REQUIRE(form_cluster(sim, shape_with_timeout(2000ms), 60s));
    const std::size_t observer = 5;
    sim.partition({observer}, {0, 1, 2, 3, 4});
    auto takeover = [&](std::size_t node) {
        return sim.core(node)
            .command([&](auto& st, Now n, Output& o) {
                return st.failover(n, ClusterState::FailoverMode::Takeover, o);
            })
            .ok;
    };
    const NodeId n0 = sim.core(0).state().myself_id();
    const NodeId n3 = sim.core(3).state().myself_id();
    const NodeId n1 = sim.core(1).state().myself_id();
    REQUIRE(takeover(3));
    REQUIRE(sim.run_until([&] { return sim.core(0).state().myself().is_replica(); }, 10s));
    REQUIRE(sim.core(0)
                .command(
                    [&](auto& st, Now n, Output& o) { return st.replicate(n, n1.view(), true, o); })
                .ok);
    REQUIRE(sim.run_until([&] { return !sim.core(4).state().find(n0)->is_master(); }, 10s));
    REQUIRE(takeover(0));
    REQUIRE(sim.run_until(
        [&] {
            for (std::size_t i = 0; i < observer; ++i)
                if (sim.core(i).state().slot_owner(6000)->id() != n0) return false;
            return true;
        },
        10s));
    const Epoch newest = sim.core(0).state().myself().config_epoch();
    REQUIRE(newest > sim.core(3).state().myself().config_epoch());

    // The observer hears from everyone but node 3 first.
    sim.heal();
    sim.partition({observer}, {3});
    const auto& view = sim.core(observer).state();
    REQUIRE(sim.run_until([&] { return view.find(n0)->config_epoch() == newest; }, 10s));
    CHECK(view.slot_owner(6000)->id() == n0);
    sim.run_for(3s);
    // The trap: without the owner's own word, its newer epoch would keep shard 0 forever.
    CHECK(view.slot_owner(0)->id() == n0);

    sim.heal();
    REQUIRE(sim.run_until([&] { return view.slot_owner(0)->id() == n3; }, 10s));
    REQUIRE(sim.run_until([&] { return cluster_converged(sim); }, 20s));
}

TEST_CASE("[epochs] equal config epochs are made unique, the smaller name moves", "[scenario]") {
    SimCluster sim({.seed = 23});
    for (int i = 0; i < 3; ++i)
        sim.add_node();
    for (std::size_t i = 0; i < 3; ++i) {
        std::vector<std::uint16_t> slots{static_cast<std::uint16_t>(i)};
        REQUIRE(sim.core(i)
                    .command([&](auto& st, Now n, Output& o) { return st.add_slots(n, slots, o); })
                    .ok);
        REQUIRE(
            sim.core(i)
                .command([&](auto& st, Now n, Output& o) { return st.set_config_epoch(n, 1, o); })
                .ok);
    }
    REQUIRE(sim.meet(1, 0).ok);
    REQUIRE(sim.meet(2, 0).ok);
    REQUIRE(sim.run_until(
        [&] {
            std::set<Epoch> epochs;
            for (std::size_t i = 0; i < 3; ++i)
                epochs.insert(sim.core(i).state().myself().config_epoch());
            return epochs.size() == 3 && membership_converged(sim);
        },
        30s));
    // The greatest name never moves.
    std::size_t greatest = 0;
    for (std::size_t i = 1; i < 3; ++i)
        if (sim.core(i).state().myself_id() > sim.core(greatest).state().myself_id()) greatest = i;
    CHECK(sim.core(greatest).state().myself().config_epoch() == 1);
}

TEST_CASE("[epochs] every epoch change is saved with fsync before a message carries it",
          "[scenario]") {
    SimCluster sim({.seed = 29});
    for (int i = 0; i < 2; ++i)
        sim.add_node();
    REQUIRE(sim.core(0)
                .command([](auto& st, Now n, Output& o) { return st.set_config_epoch(n, 5, o); })
                .ok);
    const auto& saved = sim.core(0).storage().saved();
    REQUIRE(saved);
    CHECK(saved->current_epoch == 5);
    CHECK(sim.core(0).storage().fsync_count() >= 2);
    REQUIRE(sim.meet(1, 0).ok);
    REQUIRE(sim.run_until([&] { return sim.core(1).state().current_epoch() == 5; }, 10s));
    // Node 1 adopted the epoch from a header; its store already has it.
    CHECK(sim.core(1).storage().saved()->current_epoch == 5);
}

TEST_CASE("[slots] slot commands are refused with the code and values of Redis's errors",
          "[scenario]") {
    SimCluster sim({.seed = 31});
    sim.add_node();
    auto& core = sim.core(0);
    auto add = [&](std::vector<std::uint16_t> slots) {
        return core.command([&](auto& st, Now n, Output& o) { return st.add_slots(n, slots, o); });
    };
    CHECK(add({1, 2}).ok);
    const auto busy = add({1});
    CHECK_FALSE(busy.ok);
    CHECK(busy.error == CommandError::SlotBusy);
    CHECK(busy.args.slot == 1);
    const auto twice = add({5, 5});
    CHECK(twice.error == CommandError::SlotRepeated);
    CHECK(twice.args.slot == 5);
    auto del = core.command([](auto& st, Now n, Output& o) { return st.del_slots(n, {7}, o); });
    CHECK(del.error == CommandError::SlotUnassigned);
    CHECK(del.args.slot == 7);
    auto mig = core.command([](auto& st, Now n, Output& o) {
        return st.set_slot(n, 9, SetSlotMode::Migrating, "0000000000000000000000000000000000000000",
                           0, o);
    });
    CHECK(mig.error == CommandError::SetSlotUnknownNode);
    CHECK(mig.args.node == "0000000000000000000000000000000000000000");
    auto rep = core.command([](auto& st, Now n, Output& o) {
        return st.replicate(n, "0000000000000000000000000000000000000000", true, o);
    });
    CHECK(rep.error == CommandError::UnknownNode);
    CHECK(rep.args.node == "0000000000000000000000000000000000000000");
    sim.add_node();
    REQUIRE(sim.meet(0, 1).ok);
    REQUIRE(sim.run_until([&] { return membership_converged(sim); }, 10s));
    auto sce =
        core.command([](auto& st, Now n, Output& o) { return st.set_config_epoch(n, 3, o); });
    CHECK(sce.error == CommandError::ConfigEpochNotAlone);
}

}  // namespace scenario_failure_detection_test
