// Scenarios of replica failover: elections after a master crash, votes, the old master's return.
#include <catch2/catch.hpp>

#include <gossipcluster/testing/cluster_setup.hpp>

namespace scenario_failover_test {

using namespace gossipcluster;
using namespace gossipcluster::testing;
using namespace std::chrono_literals;

namespace {

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
        CHECK(sim.core(i).state().slot_owner(0)->id() == heir);
        CHECK(sim.core(i).state().find(old_master)->failing());
    }
    CHECK(sim.core(replica).state().myself().is_master());
    // The new master's epoch is unique and the greatest.
    const Epoch e = sim.core(replica).state().myself().config_epoch();
    for (std::size_t m = 1; m < sh.masters; ++m)
        CHECK(sim.core(m).state().myself().config_epoch() < e);

    // The old master comes back and follows the new one.
    sim.restart(0);
    REQUIRE(sim.run_until(
        [&] {
            const auto me = sim.core(0).state().myself();
            return me.is_replica() && me.master() && *me.master() == heir && cluster_converged(sim);
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
    CHECK(*sim.core(behind).state().myself().master() == sim.core(ahead).state().myself_id());
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

namespace {

CommandResult manual(SimCluster& sim, std::size_t node, ClusterState::FailoverMode mode) {
    return sim.core(node).command(
        [&](auto& st, Now n, Output& o) { return st.failover(n, mode, o); });
}

}  // namespace

TEST_CASE("[failover] CLUSTER FAILOVER in all three modes promotes the replica", "[scenario]") {
    auto mode = GENERATE(ClusterState::FailoverMode::Default, ClusterState::FailoverMode::Force,
                         ClusterState::FailoverMode::Takeover);
    CAPTURE(static_cast<int>(mode));
    SimCluster sim({.seed = 53});
    const auto sh = shape(3000ms);
    REQUIRE(form_cluster(sim, sh, 60s));
    const std::size_t replica = replica_index(sh, 1, 0);
    const NodeId old_master = sim.core(1).state().myself_id();
    const NodeId heir = sim.core(replica).state().myself_id();
    bool paused = false, resumed = false;
    sim.set_observer([&](std::size_t node, Instant, const Event& e) {
        if (node == 1 && std::holds_alternative<event::PauseWrites>(e)) paused = true;
        if (node == 1 && std::holds_alternative<event::ResumeWrites>(e)) resumed = true;
    });
    REQUIRE(manual(sim, replica, mode).ok);
    REQUIRE(sim.run_until(
        [&] {
            const auto om = sim.core(1).state().myself();
            return om.is_replica() && om.master() && *om.master() == heir && cluster_converged(sim);
        },
        20s));
    for (std::size_t i = 0; i < sim.size(); ++i)
        CHECK(sim.core(i).state().slot_owner(6000)->id() == heir);
    CHECK(sim.core(replica).state().find(old_master)->is_replica());
    if (mode == ClusterState::FailoverMode::Default) {
        CHECK(paused);
        CHECK(resumed);
    }
}

TEST_CASE("[failover] CLUSTER FAILOVER refusals name the rule broken", "[scenario]") {
    SimCluster sim({.seed = 59});
    const auto sh = shape(1000ms);
    REQUIRE(form_cluster(sim, sh, 60s));
    CHECK(manual(sim, 0, ClusterState::FailoverMode::Default).error ==
          CommandError::FailoverOnMaster);
    sim.crash(0);
    // The replica sees its link to the master break at once, before any FAIL.
    sim.run_for(50ms);
    const std::size_t replica = replica_index(sh, 0, 0);
    CHECK(manual(sim, replica, ClusterState::FailoverMode::Default).error ==
          CommandError::FailoverMasterDown);
    CHECK(manual(sim, replica, ClusterState::FailoverMode::Force).ok);
}

TEST_CASE("[migration] an orphaned master gets a replica from the best-served master",
          "[scenario]") {
    SimCluster sim({.seed = 61});
    ClusterShape sh = shape(2000ms, 1);
    REQUIRE(form_cluster(sim, sh, 60s));
    // Give master 0 a second replica, then kill master 2's only replica.
    std::size_t extra = sim.add_node(sh.config);
    REQUIRE(sim.meet(extra, 0).ok);
    REQUIRE(sim.run_until([&] { return membership_converged(sim); }, 20s));
    const NodeId m0 = sim.core(0).state().myself_id();
    REQUIRE(sim.core(extra)
                .command(
                    [&](auto& st, Now n, Output& o) { return st.replicate(n, m0.view(), true, o); })
                .ok);
    REQUIRE(sim.run_until([&] { return cluster_converged(sim); }, 20s));
    const std::size_t orphaned_replica = replica_index(sh, 2, 0);
    sim.crash(orphaned_replica);
    const NodeId m2 = sim.core(2).state().myself_id();
    // One of master 0's replicas (the smaller name) moves to master 2 after the delay.
    REQUIRE(sim.run_until(
        [&] {
            std::size_t serving_m2 = 0;
            for (std::size_t i = 0; i < sim.size(); ++i) {
                if (!sim.alive(i)) continue;
                const auto me = sim.core(i).state().myself();
                if (me.is_replica() && me.master() && *me.master() == m2) ++serving_m2;
            }
            return serving_m2 == 1;
        },
        60s));
}

TEST_CASE("[pubsub] PUBLISH reaches every node and PUBLISHSHARD only the shard", "[scenario]") {
    SimCluster sim({.seed = 67});
    const auto sh = shape(3000ms);
    REQUIRE(form_cluster(sim, sh, 60s));
    std::map<std::size_t, std::vector<std::string>> got;
    std::map<std::size_t, std::string> module_payloads;
    sim.set_observer([&](std::size_t node, Instant, const Event& e) {
        if (auto* p = std::get_if<event::PublishReceived>(&e))
            got[node].push_back((p->shard ? "shard:" : "all:") + p->channel + "=" + p->message);
        if (auto* m = std::get_if<event::ModuleMessageReceived>(&e))
            module_payloads[node] = m->payload;
    });
    REQUIRE(sim.core(0)
                .command([](auto& st, Now n, Output& o) {
                    return st.publish(n, "news", "hello", false, o);
                })
                .ok);
    REQUIRE(sim.core(1)
                .command([](auto& st, Now n, Output& o) {
                    return st.publish(n, "orders", "42", true, o);
                })
                .ok);
    REQUIRE(sim.core(2)
                .command([](auto& st, Now n, Output& o) {
                    return st.send_module_message(n, 0x1122334455667788ull, 7, "payload",
                                                  std::nullopt, o);
                })
                .ok);
    sim.run_for(1s);
    for (std::size_t i = 1; i < sim.size(); ++i)
        CHECK(std::count(got[i].begin(), got[i].end(), "all:news=hello") == 1);
    // Shard of master 1: its replica only.
    const std::size_t shard_replica = replica_index(sh, 1, 0);
    for (std::size_t i = 0; i < sim.size(); ++i) {
        const bool has = std::count(got[i].begin(), got[i].end(), "shard:orders=42") == 1;
        CHECK(has == (i == shard_replica));
    }
    for (std::size_t i = 0; i < sim.size(); ++i)
        if (i != 2) CHECK(module_payloads[i] == "payload");
    auto too_big = sim.core(0).command([](auto& st, Now n, Output& o) {
        return st.publish(n, "c", std::string(1 << 20, 'x'), false, o);
    });
    CHECK_FALSE(too_big.ok);
}

}  // namespace scenario_failover_test
