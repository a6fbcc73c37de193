// Scenarios of cluster membership: MEET handshakes, gossip convergence, FORGET, restarts.
#include <catch2/catch.hpp>

#include <gossipcluster/testing/cluster_setup.hpp>
#include <gossipcluster/testing/convergence.hpp>

namespace scenario_membership_test {

using namespace gossipcluster;
using namespace gossipcluster::testing;
using namespace std::chrono_literals;

// The shipped predicates: every live node lists every live node, connected, out of handshake.
bool converged(SimCluster& sim) {
    return membership_converged(sim);
}

TEST_CASE("[membership] two nodes complete a MEET handshake", "[scenario]") {
    SimCluster sim({.seed = 7});
    sim.add_node();
    sim.add_node();
    REQUIRE(sim.meet(0, 1).ok);
    REQUIRE(sim.run_until([&] { return converged(sim); }, 5s));
    const NodeId id0 = sim.core(0).state().myself_id();
    const NodeId id1 = sim.core(1).state().myself_id();
    CHECK(knows(sim, 0, id1));
    CHECK(knows(sim, 1, id0));
    // Each learnt its own address from the other's connection.
    CHECK(sim.core(1).state().myself().ip() == sim.ip(1));
    CHECK(sim.core(0).state().myself().ip() == sim.ip(0));
    CHECK(sim.codec_errors().empty());
}

TEST_CASE("[membership] a duplicate MEET to the same address is refused", "[scenario]") {
    SimCluster sim({.seed = 3});
    sim.add_node();
    sim.add_node();
    REQUIRE(sim.meet(0, 1).ok);
    auto second = sim.meet(0, 1);
    CHECK_FALSE(second.ok);
    CHECK(second.error == CommandError::InvalidNodeAddress);
    CHECK(second.args.ip == sim.ip(1));
    CHECK(second.args.port == sim.port(1));
    CHECK_FALSE(sim.core(0).meet("not-an-ip", 7000, 17000).ok);
    CHECK_FALSE(sim.core(0).meet("127.0.0.9", 0, 17000).ok);
}

TEST_CASE("[membership] chained MEETs converge for 3 and 30 nodes", "[scenario]") {
    auto n = GENERATE(3, 30);
    CAPTURE(n);
    SimCluster sim({.seed = static_cast<std::uint64_t>(n)});
    for (int i = 0; i < n; ++i)
        sim.add_node();
    for (int i = 1; i < n; ++i)
        REQUIRE(sim.meet(static_cast<std::size_t>(i - 1), static_cast<std::size_t>(i)).ok);
    REQUIRE(sim.run_until([&] { return converged(sim); }, 60s));
    CHECK(sim.codec_errors().empty());
}

// CLUSTER MEET right after the target process was launched, before its bus port listens: the
// handshake node keeps asking with MEET (not PING) until a connection is up, as Redis 7.0 does,
// so the pair forms as soon as the target listens. A retry that sent PING would only teach the
// initiator the target's name; the target never adds a node it was not MET by.
TEST_CASE("[membership] a MEET sent before the target listens forms the pair once it starts",
          "[scenario]") {
    const auto late_ms = GENERATE(300, 1000, 2000);
    CAPTURE(late_ms);
    SimCluster sim({.seed = 21});
    sim.add_node();
    // Node 1 does not exist yet: connects to its address are refused.
    const auto bus = static_cast<std::uint16_t>(SimCluster::kClientPort + kBusPortIncrement);
    REQUIRE(sim.core(0).meet(SimCluster::ip_for(1), SimCluster::kClientPort, bus).ok);
    sim.run_for(std::chrono::milliseconds(late_ms));
    sim.add_node();
    // Redis 7.0 forms the pair within 0.2 s of the target's start: the next reconnect (every
    // cron period) carries the MEET.
    REQUIRE(sim.run_until([&] { return converged(sim); }, 300ms));
    CHECK(sim.codec_errors().empty());
}

TEST_CASE("[membership] a handshake that never completes is dropped", "[scenario]") {
    SimCluster sim({.seed = 5});
    sim.add_node();
    // Nobody listens there: the connection is refused and the handshake expires.
    REQUIRE(sim.core(0).meet("127.0.9.9", 7000, 17000).ok);
    CHECK(sim.core(0).state().node_count() == 2);
    // It lives for max(node timeout, 1 s): 15 s by default.
    sim.run_for(14s);
    CHECK(sim.core(0).state().node_count() == 2);
    sim.run_for(2s);
    CHECK(sim.core(0).state().node_count() == 1);
}

TEST_CASE("[membership] a forgotten node stays forgotten", "[scenario]") {
    SimCluster sim({.seed = 11});
    for (int i = 0; i < 4; ++i)
        sim.add_node();
    for (std::size_t i = 1; i < 4; ++i)
        REQUIRE(sim.meet(0, i).ok);
    REQUIRE(sim.run_until([&] { return converged(sim); }, 30s));
    const NodeId gone = sim.core(3).state().myself_id();
    sim.crash(3);
    for (std::size_t i = 0; i < 3; ++i)
        REQUIRE(sim.core(i).forget(gone.view()).ok);
    sim.run_for(30s);
    for (std::size_t i = 0; i < 3; ++i)
        CHECK(sim.core(i).state().find(gone) == std::nullopt);
    CHECK_FALSE(sim.core(0).forget(sim.core(0).state().myself_id().view()).ok);
}

TEST_CASE("[membership] a restarted node keeps its name and epoch", "[scenario]") {
    SimCluster sim({.seed = 13});
    for (int i = 0; i < 3; ++i)
        sim.add_node();
    REQUIRE(sim.meet(0, 1).ok);
    REQUIRE(sim.meet(1, 2).ok);
    REQUIRE(sim.run_until([&] { return converged(sim); }, 30s));
    const NodeId id2 = sim.core(2).state().myself_id();
    const Epoch epoch2 = sim.core(2).state().current_epoch();
    sim.crash(2);
    sim.run_for(1s);
    sim.restart(2);
    CHECK(sim.core(2).state().myself_id() == id2);
    CHECK(sim.core(2).state().current_epoch() == epoch2);
    REQUIRE(sim.run_until([&] { return converged(sim); }, 30s));
}

TEST_CASE("[membership] the same seed replays to the same trace", "[scenario]") {
    auto run = [](std::uint64_t seed) {
        SimCluster sim({.seed = seed, .min_delay = 1ms, .max_delay = 5ms});
        for (int i = 0; i < 10; ++i)
            sim.add_node();
        for (std::size_t i = 1; i < 10; ++i)
            (void)sim.meet(i - 1, i);
        sim.run_for(20s);
        return sim.trace_hash();
    };
    CHECK(run(42) == run(42));
    CHECK(run(42) != run(43));
}

TEST_CASE("[membership] FORGET on one node spreads by the FORGOTTEN_NODE extension", "[scenario]") {
    SimCluster sim({.seed = 71});
    for (int i = 0; i < 4; ++i)
        sim.add_node();
    for (std::size_t i = 1; i < 4; ++i)
        REQUIRE(sim.meet(0, i).ok);
    REQUIRE(sim.run_until([&] { return converged(sim); }, 30s));
    const NodeId gone = sim.core(3).state().myself_id();
    sim.crash(3);
    // Only node 0 is told; its pings carry the forgotten name and its remaining ttl.
    REQUIRE(sim.core(0).forget(gone.view()).ok);
    REQUIRE(sim.run_until(
        [&] {
            for (std::size_t i = 0; i < 3; ++i)
                if (sim.core(i).state().find(gone)) return false;
            return true;
        },
        30s));
    // Within the blacklist time nobody re-learns it from anyone else's gossip.
    sim.run_for(30s);
    for (std::size_t i = 0; i < 3; ++i)
        CHECK(sim.core(i).state().find(gone) == std::nullopt);
}

TEST_CASE("[membership] a peer's hostname is learnt and cleared when it stops announcing it",
          "[scenario]") {
    SimCluster sim({.seed = 73});
    Config named;
    named.announce_hostname = "node-a.test";
    sim.add_node(named);
    sim.add_node();
    REQUIRE(sim.meet(1, 0).ok);
    REQUIRE(sim.run_until([&] { return converged(sim); }, 10s));
    const NodeId a = sim.core(0).state().myself_id();
    REQUIRE(sim.run_until([&] { return sim.core(1).state().find(a)->hostname() == "node-a.test"; },
                          10s));
    // Restarted without a hostname: the peer clears it at the next message.
    sim.crash(0);
    sim.node_config(0).announce_hostname.clear();
    sim.restart(0);
    REQUIRE(sim.core(0).state().myself_id() == a);
    REQUIRE(sim.run_until([&] { return sim.core(1).state().find(a)->hostname().empty(); }, 20s));
}

TEST_CASE("[membership] FAIL, UPDATE and votes from unknown senders change nothing", "[scenario]") {
    SimCluster sim({.seed = 79});
    for (int i = 0; i < 2; ++i)
        sim.add_node();
    REQUIRE(sim.meet(0, 1).ok);
    REQUIRE(sim.run_until([&] { return converged(sim); }, 10s));
    auto& core = sim.core(0);
    const auto before = core.state().snapshot(core.now());
    const NodeId victim = sim.core(1).state().myself_id();
    // A stranger on a fresh inbound link.
    const LinkId link = LinkId::inbound(999999);
    core.on_inbound_link(link, "127.0.9.9", sim.ip(0));
    Message fail;
    fail.header.type = MessageType::Fail;
    fail.header.sender = *NodeId::parse("ffffffffffffffffffffffffffffffffffffffff");
    fail.header.current_epoch = 1000;
    fail.body = FailBody{victim};
    core.on_message(link, fail);
    Message update = fail;
    update.header.type = MessageType::Update;
    UpdateBody ub{999, victim, {}};
    ub.slots.set_range(0, 100);
    update.body = ub;
    core.on_message(link, update);
    Message request = fail;
    request.header.type = MessageType::FailoverAuthRequest;
    request.body = EmptyBody{};
    core.on_message(link, request);
    const auto after = core.state().snapshot(core.now());
    CHECK(after.current_epoch == before.current_epoch);
    CHECK(after.last_vote_epoch == before.last_vote_epoch);
    CHECK_FALSE(core.state().find(victim)->failing());
    CHECK(core.state().slot_owner(0) == std::nullopt);
    CHECK(core.state().node_count() == 2);
    CHECK(core.state().counters().dropped_unknown_sender >= 2);
}

TEST_CASE("[simulator] a link with a small capacity drops what does not fit, gossip recovers",
          "[scenario]") {
    SimCluster sim({.seed = 83, .link_capacity = 2});
    for (int i = 0; i < 10; ++i)
        sim.add_node();
    for (std::size_t i = 1; i < 10; ++i)
        REQUIRE(sim.meet(i, 0).ok);
    REQUIRE(sim.run_until([&] { return converged(sim); }, 120s));
    CHECK(sim.dropped_full() > 0);
}

namespace {

// Wake-ups per node and second of an idle, formed cluster of 30 masters, and its messages.
struct IdleCost {
    double ticks_per_node_s = 0;
    double msgs_per_node_s = 0;
    double wakeups_per_node_s = 0;  // deadlines and deliveries, one per busy millisecond
    std::size_t suspicions = 0;     // PFAIL events while every node was up
};

// With `skew_clocks`, each node's wall clock is set a different part of a 100 ms window off.
IdleCost idle_cost(Duration batch_window, std::size_t masters = 30, Duration timeout = 3000ms,
                   std::size_t quiet_skip_max_nodes = Config{}.random_ping_quiet_skip_max_nodes,
                   bool skew_clocks = false) {
    SimCluster sim({.seed = 41});
    ClusterShape shape;
    shape.masters = masters;
    shape.replicas_per_master = 0;
    shape.config.node_timeout = timeout;
    shape.config.ping_batch_window = batch_window;
    shape.config.random_ping_quiet_skip_max_nodes = quiet_skip_max_nodes;
    REQUIRE(form_cluster(sim, shape, 120s));
    if (skew_clocks)
        for (std::size_t i = 0; i < sim.size(); ++i)
            sim.core(i).clock().set_wall_skew(static_cast<std::int64_t>(i * 37 % 100));
    sim.run_for(10s);
    std::size_t suspicions = 0;
    sim.set_observer([&suspicions](std::size_t, Instant, const Event& e) {
        if (std::holds_alternative<event::NodePfail>(e)) ++suspicions;
    });
    std::uint64_t ticks0 = 0, msgs0 = 0, wakeups0 = 0, ticks1 = 0, msgs1 = 0, wakeups1 = 0;
    for (std::size_t i = 0; i < sim.size(); ++i) {
        ticks0 += sim.stats(i).ticks, msgs0 += sim.stats(i).messages_sent;
        wakeups0 += sim.stats(i).wakeups;
    }
    sim.run_for(30s);
    for (std::size_t i = 0; i < sim.size(); ++i) {
        ticks1 += sim.stats(i).ticks, msgs1 += sim.stats(i).messages_sent;
        wakeups1 += sim.stats(i).wakeups;
    }
    CHECK(cluster_converged(sim));
    const double node_seconds = 30.0 * double(sim.size());
    sim.set_observer({});
    return {double(ticks1 - ticks0) / node_seconds, double(msgs1 - msgs0) / node_seconds,
            double(wakeups1 - wakeups0) / node_seconds, suspicions};
}

}  // namespace

TEST_CASE("[cron] an idle node wakes a few times a second, its due pings batched", "[scenario]") {
    // Redis wakes every node 10 times a second. Here a node wakes for its due pings, which wait
    // for the next multiple of the batch window (100 ms at this timeout), and once a second for
    // the housekeeping; without batching each peer's ping needs a wake-up of its own.
    const IdleCost batched = idle_cost(0ms);
    const IdleCost unbatched = idle_cost(1ms);
    INFO("batched " << batched.ticks_per_node_s << " wake-ups/s, " << batched.msgs_per_node_s
                    << " msgs/s; unbatched " << unbatched.ticks_per_node_s << " wake-ups/s, "
                    << unbatched.msgs_per_node_s << " msgs/s");
    CHECK(batched.ticks_per_node_s < 8.0);
    CHECK(batched.ticks_per_node_s < 0.7 * unbatched.ticks_per_node_s);
    // Batching must not add traffic: the two ends of a pair would be due in the same window,
    // so the one with the larger name waits a window more and hears the other's ping instead.
    CHECK(batched.msgs_per_node_s <= unbatched.msgs_per_node_s);
    // One exchange (PING + PONG) per pair and half node timeout: 29 peers / 1.5 s per node.
    CHECK(batched.msgs_per_node_s < 1.1 * 29.0 / 1.5);
    CHECK(batched.suspicions == 0);
    CHECK(unbatched.suspicions == 0);
}

TEST_CASE("[cron] nodes whose wall clocks agree ping on one grid and wake together", "[scenario]") {
    // The batch grid is the instants when the wall clock reads a multiple of the window: with
    // clocks in sync every node pings at the same instants, so PINGs and PONGs arrive in bursts
    // and one wake-up handles several. Clocks spread over the window undo that.
    const IdleCost synced = idle_cost(0ms);
    const IdleCost skewed =
        idle_cost(0ms, 30, 3000ms, Config{}.random_ping_quiet_skip_max_nodes, true);
    INFO("in sync " << synced.wakeups_per_node_s << " wake-ups/s, " << synced.msgs_per_node_s
                    << " msgs/s; skewed " << skewed.wakeups_per_node_s << " wake-ups/s, "
                    << skewed.msgs_per_node_s << " msgs/s");
    CHECK(synced.wakeups_per_node_s < 0.75 * skewed.wakeups_per_node_s);
    CHECK(synced.msgs_per_node_s < 1.05 * skewed.msgs_per_node_s);
}

TEST_CASE("[cron] a small cluster skips the random ping after an exchange", "[scenario]") {
    // Ten nodes at the default timeout: the once-a-second random ping is most of the traffic,
    // and an exchange in the last second already carried gossip both ways.
    const IdleCost skipping = idle_cost(0ms, 10, 15000ms);
    const IdleCost always = idle_cost(0ms, 10, 15000ms, 0);
    INFO("skipping " << skipping.msgs_per_node_s << " msgs/s, always " << always.msgs_per_node_s);
    CHECK(skipping.msgs_per_node_s < 0.8 * always.msgs_per_node_s);
    // Fewer messages, but never so few that a live node looks dead: a node is pinged once nobody
    // has heard from it for half the timeout, directly or through a third node's gossip.
    CHECK(skipping.suspicions == 0);
    CHECK(always.suspicions == 0);
}

}  // namespace scenario_membership_test
