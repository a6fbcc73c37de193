// Interop: replica elections in a cluster of 3 redis-server and 3 gossipcluster-kvserver shards
// (each a master and a replica of its kind): the quorum of 4 masters can only be reached with
// votes from both kinds, so a promotion proves that the other kind voted; the vote counters say
// who did. Afterwards every node agrees on slot owners and config epochs.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "failover_support.hpp"
#include "process_harness.hpp"

namespace interop_mixed_failover_test {

using namespace gossipcluster::interop_test;
using namespace std::chrono_literals;

namespace {

constexpr int kNodeTimeoutMs = 1500;
constexpr const char* kAcksSent = "cluster_stats_messages_auth-ack_sent";
constexpr const char* kAcksReceived = "cluster_stats_messages_auth-ack_received";

std::vector<ServerKind> mixed_kinds() {
    return {ServerKind::kRedis, ServerKind::kRedis, ServerKind::kRedis,
            ServerKind::kKv,    ServerKind::kKv,    ServerKind::kKv};
}

// The masters' vote counters, and the candidate's count of votes received.
struct Votes {
    std::map<ClusterServer*, long long> sent;
    long long received = 0;
};

Votes read_votes(ShardedCluster& c, ClusterServer& candidate, const ClusterServer* skip) {
    Votes v;
    for (auto& sh : c.shards())
        if (sh.master.get() != skip) v.sent[sh.master.get()] = bus_counter(*sh.master, kAcksSent);
    v.received = bus_counter(candidate, kAcksReceived);
    return v;
}

// Who voted between `before` and `after`, by kind; a line per master for the report.
struct VoteCount {
    std::size_t redis = 0;
    std::size_t kv = 0;
    std::string report;
};

VoteCount count_votes(const Votes& before, const Votes& after) {
    VoteCount n;
    for (const auto& [s, b] : before.sent) {
        const long long delta = after.sent.at(s) - b;
        if (delta > 0) ++(s->kind() == ServerKind::kRedis ? n.redis : n.kv);
        n.report += fmt::format("{}{} +{}", n.report.empty() ? "" : ", ", s->name(), delta);
    }
    return n;
}

// How many masters `voters` granted a vote to `candidate_id`, by their logs: redis-server and
// the kvserver both log "Failover auth granted to <id>".
std::size_t logged_grants(const std::vector<ClusterServer*>& voters,
                          const std::string& candidate_id) {
    std::size_t n = 0;
    for (auto* s : voters)
        if (read_file(s->log_path()).find("Failover auth granted to " + candidate_id) !=
            std::string::npos)
            ++n;
    return n;
}

std::vector<ClusterServer*> masters_of_kind(ShardedCluster& c, ServerKind kind,
                                            const ClusterServer* skip) {
    std::vector<ClusterServer*> out;
    for (auto& sh : c.shards())
        if (sh.master->kind() == kind && sh.master.get() != skip) out.push_back(sh.master.get());
    return out;
}

// Kills the master of shard `i` with SIGKILL; its replica must win an election whose quorum the
// master's own kind cannot reach alone; then the dead master restarts and becomes a replica of
// the winner, and all twelve agree.
void crash_and_elect(ShardedCluster& c, std::size_t i) {
    ClusterServer& victim = *c.shard(i).master;
    ClusterServer& heir = *c.shard(i).replica;
    const ServerKind own = victim.kind();
    const ServerKind other = own == ServerKind::kRedis ? ServerKind::kKv : ServerKind::kRedis;
    const std::string heir_id = c.id(heir);
    // 6 masters: quorum 4; the victim's kind has 2 masters left, so 2 votes at least come from
    // the other kind.
    constexpr std::size_t kQuorum = 4;
    const std::size_t own_left = masters_of_kind(c, own, &victim).size();
    REQUIRE(own_left == 2);
    const Votes before = read_votes(c, heir, &victim);

    victim.kill();
    const auto t0 = std::chrono::steady_clock::now();
    const bool promoted = wait_until(20s, 20ms, [&] { return serves_slots(heir); });
    const double promoted_ms = ms_since(t0);
    if (!promoted) {
        INFO(heir.name() << " was not promoted\n" << c.dump());
        REQUIRE(promoted);
    }
    const double agreed_ms = c.wait_agreement(c.all_but({&victim}), "after the election");
    const Votes after = read_votes(c, heir, &victim);
    const VoteCount votes = count_votes(before, after);
    const std::size_t from_other = own == ServerKind::kRedis ? votes.kv : votes.redis;
    const long long received = after.received - before.received;
    const std::size_t other_grants = logged_grants(masters_of_kind(c, other, nullptr), heir_id);
    CAPTURE(votes.report, received, other_grants);
    CHECK(votes.redis + votes.kv >= kQuorum);
    CHECK(from_other >= kQuorum - own_left);
    CHECK(other_grants >= kQuorum - own_left);
    CHECK(received >= static_cast<long long>(kQuorum));

    // The winner's config epoch is the newest, and every live node says so (checked by
    // wait_agreement above: same owners, same epochs).
    auto nodes = cluster_nodes(heir);
    REQUIRE(nodes);
    const NodeEntry* me = find_entry(*nodes, heir_id);
    REQUIRE(me);
    for (const auto& e : *nodes)
        if (e.id != heir_id && e.is_master() && e.slot_count() > 0)
            CHECK(e.config_epoch < me->config_epoch);

    const auto t1 = std::chrono::steady_clock::now();
    victim.start();
    const bool rejoined =
        wait_until(kConvergeLimit, 50ms, [&] { return replicating_from(victim, heir_id); });
    if (!rejoined) {
        INFO(victim.name() << " did not become " << heir.name() << "'s replica\n" << c.dump());
        REQUIRE(rejoined);
    }
    const double rejoined_ms = ms_since(t1);
    const double all_agreed_ms = c.wait_agreement(c.all(), "after the old master rejoined");
    WARN(fmt::format(
        "{} master {} killed (node timeout {} ms): {} {} promoted after {:.0f} ms with config "
        "epoch {}; live nodes agreed {:.0f} ms later. auth-ack_sent by the masters: {} ({} "
        "redis-server, {} kvserver "
        "masters voted; the winner counted {} auth-ack received; {} {} masters logged a grant to "
        "it). Old master a replica of the winner {:.0f} ms after restart, all 12 agreed {:.0f} ms "
        "later",
        kind_name(own), victim.name(), kNodeTimeoutMs, kind_name(own), heir.name(), promoted_ms,
        me->config_epoch, agreed_ms, votes.report, votes.redis, votes.kv, received, other_grants,
        kind_name(other), rejoined_ms, all_agreed_ms));
}

}  // namespace

TEST_CASE("[mixed-failover] a crashed redis-server master's replica wins with kvserver votes",
          "[interop][mixed][failover]") {
    ShardedCluster c("gossipcluster-mixed-failover", mixed_kinds(), kNodeTimeoutMs);
    crash_and_elect(c, 0);
}

TEST_CASE("[mixed-failover] a crashed kvserver master's replica wins with redis-server votes",
          "[interop][mixed][failover]") {
    ShardedCluster c("gossipcluster-mixed-failover", mixed_kinds(), kNodeTimeoutMs);
    crash_and_elect(c, 3);
}

TEST_CASE("[mixed-failover] CLUSTER FAILOVER on a redis-server replica, kvserver masters vote",
          "[interop][mixed][failover]") {
    ShardedCluster c("gossipcluster-mixed-mf", mixed_kinds(), kNodeTimeoutMs);
    ClusterServer& master = *c.shard(0).master;
    ClusterServer& replica = *c.shard(0).replica;
    const std::string replica_id = c.id(replica);
    // Quorum 4 of 6 masters; the three redis-server masters (the old master included) are not
    // enough: at least one kvserver master must vote.
    constexpr std::size_t kQuorum = 4;

    // Writes confirmed by the replica before the failover are on the new master afterwards.
    const std::string tag = hash_tag_served_by(master);
    REQUIRE(!tag.empty());
    constexpr int kKeys = 200;
    for (int i = 0; i < kKeys; ++i) {
        auto r = master.call({"SET", fmt::format("{}:{}", tag, i), std::to_string(i)});
        REQUIRE(r);
        REQUIRE(r->is_ok());
    }
    auto waited = master.call({"WAIT", "1", "2000"});
    REQUIRE(waited);
    CHECK(waited->integer == 1);
    const Votes before = read_votes(c, replica, nullptr);
    auto reply = replica.call({"CLUSTER", "FAILOVER"});
    REQUIRE(reply);
    REQUIRE(reply->is_ok());
    const auto t0 = std::chrono::steady_clock::now();
    const bool promoted = wait_until(15s, 20ms, [&] { return serves_slots(replica); });
    const double promoted_ms = ms_since(t0);
    if (!promoted) {
        INFO(replica.name() << " was not promoted\n" << c.dump());
        REQUIRE(promoted);
    }
    const bool followed =
        wait_until(kConvergeLimit, 50ms, [&] { return replicating_from(master, replica_id); });
    if (!followed) {
        INFO(master.name() << " did not become " << replica.name() << "'s replica\n" << c.dump());
        REQUIRE(followed);
    }
    const double followed_ms = ms_since(t0);
    const double agreed_ms = c.wait_agreement(c.all(), "after the manual failover");
    int found = 0;
    for (int i = 0; i < kKeys; ++i) {
        auto r = replica.call({"GET", fmt::format("{}:{}", tag, i)});
        if (r && r->is_bulk() && r->text == std::to_string(i)) ++found;
    }
    CHECK(found == kKeys);
    const Votes after = read_votes(c, replica, nullptr);
    const VoteCount votes = count_votes(before, after);
    const long long received = after.received - before.received;
    const std::size_t kv_grants =
        logged_grants(masters_of_kind(c, ServerKind::kKv, nullptr), replica_id);
    CAPTURE(votes.report, received, kv_grants);
    CHECK(votes.redis + votes.kv >= kQuorum);
    CHECK(votes.kv >= kQuorum - 3);
    CHECK(kv_grants >= kQuorum - 3);
    CHECK(received >= static_cast<long long>(kQuorum));
    WARN(fmt::format(
        "CLUSTER FAILOVER on redis-server replica {}: promoted after {:.0f} ms, old master {} its "
        "replica after {:.0f} ms, all 12 agreed {:.0f} ms later. auth-ack_sent by the masters: {} "
        "({} redis-server, {} "
        "kvserver masters voted; the winner counted {} auth-ack received; {} kvserver masters "
        "logged a grant to it)",
        replica.name(), promoted_ms, master.name(), followed_ms, agreed_ms, votes.report,
        votes.redis, votes.kv, received, kv_grants));
}

}  // namespace interop_mixed_failover_test
