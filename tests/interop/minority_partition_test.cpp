// Interop: partitions made with SIGSTOP on gossipcluster-kvserver processes (three shards, a
// master and a replica each). Two stopped masters leave a minority that must not elect anyone,
// not even when a replica forces an election, nor after the partition heals with votes for that
// expired election; one stopped master leaves a majority that promotes its replica. Stopped
// processes are always continued before the servers stop.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "failover_support.hpp"
#include "process_harness.hpp"

namespace interop_minority_partition_test {

using namespace gossipcluster::interop_test;
using namespace std::chrono_literals;

namespace {

// The majority's test (one stopped master).
constexpr int kNodeTimeoutMs = 1500;

// The minority's test (two stopped masters). A forced election collects votes for max(2 x node
// timeout, 2 s); its manual failover ends 5 s after it started. The partition heals between the
// two: the stopped masters then answer the request they slept through, and those late votes
// must not make the replica win. A shorter node timeout than the majority's ends the election
// sooner, so that the resume has room on both sides: 1.2 s after the election ends, 1.2 s before
// the manual failover does (less the test's own lateness, which the loop below keeps to one
// round of queries).
constexpr int kMinorityNodeTimeoutMs = 1300;
constexpr double kElectionMs = std::max(2.0 * kMinorityNodeTimeoutMs, 2000.0);
constexpr double kResumeAfterForce = kElectionMs + 1200;
constexpr double kManualFailoverMs = 5000;
// A failed election is retried after twice its length. That retry must come after the manual
// failover is over (its end resets the election): one within it, with the masters back, could
// legitimately win and say nothing about late votes.
static_assert(2 * kElectionMs > kManualFailoverMs);
static_assert(kResumeAfterForce - kElectionMs >= 1200 &&
              kManualFailoverMs - kResumeAfterForce >= 1200);

std::vector<ServerKind> kv_shards() {
    return {ServerKind::kKv, ServerKind::kKv, ServerKind::kKv};
}

// Every node's config epoch as `s` lists it; empty when it does not answer.
std::map<std::string, unsigned long long> epochs_seen_by(ClusterServer& s) {
    std::map<std::string, unsigned long long> out;
    if (auto nodes = cluster_nodes(s))
        for (const auto& e : *nodes)
            out[e.id] = e.config_epoch;
    return out;
}

bool is_replica(ClusterServer& s) {
    auto nodes = cluster_nodes(s);
    const NodeEntry* me = nodes ? myself_entry(*nodes) : nullptr;
    return me && me->has_flag("slave") && me->slot_count() == 0;
}

}  // namespace

TEST_CASE("[partition] two stopped masters of three leave a minority that never elects",
          "[interop][failover][partition]") {
    ShardedCluster c("gossipcluster-minority", kv_shards(), kMinorityNodeTimeoutMs);
    ClusterServer& m0 = *c.shard(0).master;
    ClusterServer& m1 = *c.shard(1).master;
    ClusterServer& m2 = *c.shard(2).master;
    ClusterServer& r1 = *c.shard(1).replica;
    const std::vector<ClusterServer*> minority{&m0, c.shard(0).replica.get(), &r1,
                                               c.shard(2).replica.get()};
    const auto epochs_before = epochs_seen_by(m0);
    REQUIRE(epochs_before.size() == 6);
    const TopologyView before = topology_of(m0);
    const long long votes_before = bus_counter(m0, "cluster_stats_messages_auth-ack_sent");

    c.pause(m1);
    c.pause(m2);
    const auto t0 = std::chrono::steady_clock::now();
    std::map<ClusterServer*, double> fail_at;
    bool forced = false;
    double forced_at = 0;
    std::string violation;
    // Resumed no earlier than this (and watched for 3 node timeouts at least).
    auto resume_at = [&] {
        return std::max(forced_at + kResumeAfterForce, 3.0 * kMinorityNodeTimeoutMs);
    };
    while (violation.empty()) {
        const double now = ms_since(t0);
        if (forced && now >= resume_at()) break;
        for (auto* s : minority) {
            if (fail_at.count(s) == 0 && cluster_info_field(*s, "cluster_state") == "fail")
                fail_at[s] = ms_since(t0);
            if (s != &m0 && !is_replica(*s))
                violation = fmt::format("{} is no longer a replica", s->name());
            if (epochs_seen_by(*s) != epochs_before)
                violation = fmt::format("{} shows a changed config epoch", s->name());
        }
        // Once the minority knows it is one, a replica of a stopped master forces an election:
        // only m0 can vote for it, one vote short of the quorum of two.
        if (!forced && fail_at.size() == minority.size()) {
            auto r = r1.call({"CLUSTER", "FAILOVER", "FORCE"});
            REQUIRE(r);
            CHECK(r->is_ok());
            forced = true;
            forced_at = ms_since(t0);
        }
        if (!forced && now > 15000) break;
        // Never past the moment to resume: the loop ends within one round of queries after it.
        const double pause_ms = forced ? std::min(100.0, resume_at() - ms_since(t0)) : 100.0;
        if (pause_ms > 0)
            std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(pause_ms));
    }
    const double watched_ms = ms_since(t0);
    const long long votes_given =
        bus_counter(m0, "cluster_stats_messages_auth-ack_sent") - votes_before;
    const std::string r1_log = read_file(r1.log_path());
    if (!violation.empty()) {
        INFO(violation << "\n" << c.dump());
        FAIL(violation);
    }
    CHECK(forced);
    for (auto* s : minority) {
        CAPTURE(s->name());
        CHECK(fail_at.count(s) == 1);
    }
    CHECK(watched_ms >= 3 * kMinorityNodeTimeoutMs);
    CHECK(votes_given <= 1);  // m0 may vote once; that is all the minority has
    CHECK(r1_log.find("Starting a failover election") != std::string::npos);
    CHECK(r1_log.find("Failover election won") == std::string::npos);
    CHECK(watched_ms >= forced_at + kElectionMs);
    CHECK(watched_ms < forced_at + kManualFailoverMs);

    c.resume(m1);
    c.resume(m2);
    // Until the forced failover is over for sure, r1 stays a replica.
    std::string late_win;
    while (late_win.empty() && ms_since(t0) < forced_at + kManualFailoverMs + 1000) {
        if (!is_replica(r1)) late_win = r1.name() + " was promoted after the partition healed";
        std::this_thread::sleep_for(50ms);
    }
    if (!late_win.empty()) {
        INFO(c.dump());
        FAIL(late_win);
    }
    const double agreed_ms = c.wait_agreement(c.all(), "after the partition healed");
    // Nobody was promoted: the same owners with the same config epochs as before.
    const TopologyView after = topology_of(m1);
    CHECK(after.owner == before.owner);
    CHECK(after.epochs == before.epochs);
    CHECK(is_replica(r1));
    std::string fails;
    for (auto* s : minority)
        fails += fmt::format("{}{} {:.0f} ms", fails.empty() ? "" : ", ", s->name(), fail_at[s]);
    WARN(fmt::format(
        "minority of 1 master + 3 replicas (node timeout {} ms), stopped for {:.0f} ms: "
        "cluster_state:fail at {}; CLUSTER FAILOVER FORCE on {} at {:.0f} ms got {} vote(s) "
        "(quorum 2), no promotion, no config epoch changed; resumed {:.0f} ms after the FORCE "
        "(election over, manual failover not yet): the late votes did not promote {}; all 6 "
        "agreed on the old owners {:.0f} ms after the resume checks",
        kMinorityNodeTimeoutMs, watched_ms, fails, r1.name(), forced_at, votes_given,
        watched_ms - forced_at, r1.name(), agreed_ms));
}

TEST_CASE("[partition] one stopped master of three: the majority promotes its replica",
          "[interop][failover][partition]") {
    ShardedCluster c("gossipcluster-majority", kv_shards(), kNodeTimeoutMs);
    ClusterServer& m1 = *c.shard(1).master;
    ClusterServer& r1 = *c.shard(1).replica;
    const std::string r1_id = c.id(r1);

    c.pause(m1);
    const auto t0 = std::chrono::steady_clock::now();
    const bool promoted = wait_until(15s, 20ms, [&] { return serves_slots(r1); });
    const double promoted_ms = ms_since(t0);
    if (!promoted) {
        INFO(r1.name() << " was not promoted\n" << c.dump());
        REQUIRE(promoted);
    }
    const double live_agreed_ms = c.wait_agreement(c.all_but({&m1}), "with m1 stopped");

    // m1 wakes up still claiming its slots under the old epoch; it learns it lost them and
    // follows the new master.
    c.resume(m1);
    const auto t1 = std::chrono::steady_clock::now();
    const bool followed =
        wait_until(kConvergeLimit, 20ms, [&] { return replicating_from(m1, r1_id); });
    if (!followed) {
        INFO(m1.name() << " did not become " << r1.name() << "'s replica\n" << c.dump());
        REQUIRE(followed);
    }
    const double followed_ms = ms_since(t1);
    const double agreed_ms = c.wait_agreement(c.all(), "after m1 continued");
    WARN(fmt::format(
        "master {} stopped (node timeout {} ms): {} promoted after {:.0f} ms, the other five "
        "agreed {:.0f} ms later; after SIGCONT {} was {}'s replica with its link up in {:.0f} ms, "
        "all 6 agreed {:.0f} ms later",
        m1.name(), kNodeTimeoutMs, r1.name(), promoted_ms, live_agreed_ms, m1.name(), r1.name(),
        followed_ms, agreed_ms));
}

}  // namespace interop_minority_partition_test
