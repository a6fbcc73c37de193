// Interop: CLUSTER FAILOVER in its three modes on a gossipcluster-kvserver replica in a cluster of
// three kvserver shards: default (the master pauses, the replica catches up, no acknowledged
// write is lost), FORCE (an election without the master's agreement) and TAKEOVER (no election).
// Each promotes the replica and turns the old master into its replica.
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "failover_support.hpp"
#include "process_harness.hpp"

namespace interop_manual_failover_test {

using namespace gossipcluster::interop_test;
using namespace std::chrono_literals;

namespace {

constexpr int kNodeTimeoutMs = 1500;

std::string reply_text(const std::optional<Reply>& r) {
    return r ? r->show() : std::string("(no reply)");
}

// How many of `keys` (name -> value) `s` serves with their value.
int count_found(ClusterServer& s, const std::vector<std::pair<std::string, std::string>>& keys) {
    int found = 0;
    for (const auto& [k, v] : keys) {
        auto r = s.call({"GET", k});
        if (r && r->is_bulk() && r->text == v) ++found;
    }
    return found;
}

// `n` writes to `master` under `tag`, then WAIT 1: the keys, all acknowledged by the replica.
std::vector<std::pair<std::string, std::string>> write_acked(ClusterServer& master,
                                                             const std::string& tag,
                                                             std::string_view round, int n) {
    std::vector<std::pair<std::string, std::string>> keys;
    for (int i = 0; i < n; ++i) {
        keys.emplace_back(fmt::format("{}:{}:{}", tag, round, i), fmt::format("v{}-{}", round, i));
        auto r = master.call({"SET", keys.back().first, keys.back().second});
        INFO("SET " << keys.back().first << " on " << master.name() << ": " << reply_text(r));
        REQUIRE((r && r->is_ok()));
    }
    auto w = master.call({"WAIT", "1", "2000"});
    INFO("WAIT 1 on " << master.name() << ": " << reply_text(w));
    REQUIRE(w);
    CHECK(w->integer == 1);
    return keys;
}

// Sends CLUSTER FAILOVER [mode] to `replica` and waits until it serves the slots and `master` is
// its replica with the link up, then until all agree; the time to promotion in ms.
double fail_over(ShardedCluster& c, ClusterServer& replica, ClusterServer& master,
                 const std::vector<std::string>& mode) {
    std::vector<std::string> command{"CLUSTER", "FAILOVER"};
    command.insert(command.end(), mode.begin(), mode.end());
    const auto t0 = std::chrono::steady_clock::now();
    auto r = replica.call(command);
    INFO("CLUSTER FAILOVER on " << replica.name() << ": " << reply_text(r));
    REQUIRE((r && r->is_ok()));
    const bool promoted = wait_until(15s, 10ms, [&] { return serves_slots(replica); });
    const double promoted_ms = ms_since(t0);
    if (!promoted) {
        INFO(replica.name() << " was not promoted\n" << c.dump());
        REQUIRE(promoted);
    }
    const std::string replica_id = c.id(replica);
    const bool followed =
        wait_until(kConvergeLimit, 20ms, [&] { return replicating_from(master, replica_id); });
    if (!followed) {
        INFO(master.name() << " did not become " << replica.name() << "'s replica\n" << c.dump());
        REQUIRE(followed);
    }
    c.wait_agreement(c.all(), "after the failover");
    return promoted_ms;
}

}  // namespace

TEST_CASE("[manual-failover] CLUSTER FAILOVER, FORCE and TAKEOVER on a kvserver replica",
          "[interop][failover][manual-failover]") {
    ShardedCluster c("gossipcluster-manual-failover",
                     {ServerKind::kKv, ServerKind::kKv, ServerKind::kKv}, kNodeTimeoutMs);
    ClusterServer& a = *c.shard(0).master;
    ClusterServer& b = *c.shard(0).replica;
    const std::string tag = hash_tag_served_by(a);
    REQUIRE(!tag.empty());

    // Default: a pipeline of writes is still on its way to b when b asks; a pauses writes, b
    // catches up with a's final offset and wins; held writes are answered with -MOVED. Every
    // write a acknowledged with OK is on b.
    constexpr int kPipelined = 5000;
    std::vector<std::pair<std::string, std::string>> sent;
    std::string pipeline;
    for (int i = 0; i < kPipelined; ++i) {
        sent.emplace_back(fmt::format("{}:default:{}", tag, i), fmt::format("vdefault-{}", i));
        pipeline += encode_command({"SET", sent.back().first, sent.back().second});
    }
    RespConnection writer(a.port());
    REQUIRE(writer.send_raw(pipeline));
    const auto t0 = std::chrono::steady_clock::now();
    auto started = b.call({"CLUSTER", "FAILOVER"});
    REQUIRE(started);
    REQUIRE(started->is_ok());
    std::vector<std::pair<std::string, std::string>> acknowledged;
    int moved = 0;
    auto account = [&](const std::optional<Reply>& r,
                       const std::pair<std::string, std::string>& kv) {
        INFO("SET " << kv.first << ": " << reply_text(r));
        REQUIRE(r);
        if (r->is_ok() && moved == 0)
            acknowledged.push_back(kv);
        else if (r->is_error() && r->text.rfind("MOVED", 0) == 0)
            ++moved;
        else
            FAIL("unexpected reply " << r->show());
    };
    for (int i = 0; i < kPipelined; ++i)
        account(writer.read(15s), sent[static_cast<std::size_t>(i)]);
    for (int i = kPipelined; i < 20000 && moved == 0; ++i) {
        const std::pair<std::string, std::string> kv{fmt::format("{}:default:{}", tag, i),
                                                     fmt::format("vdefault-{}", i)};
        account(writer.call({"SET", kv.first, kv.second}, 15s), kv);
    }
    CHECK(moved >= 1);
    const bool promoted = wait_until(15s, 10ms, [&] { return serves_slots(b); });
    const double default_ms = ms_since(t0);
    if (!promoted) {
        INFO(c.dump());
        REQUIRE(promoted);
    }
    CHECK(count_found(b, acknowledged) == static_cast<int>(acknowledged.size()));
    const std::string b_id = c.id(b);
    const bool followed =
        wait_until(kConvergeLimit, 20ms, [&] { return replicating_from(a, b_id); });
    if (!followed) {
        INFO(a.name() << " did not follow " << b.name() << "\n" << c.dump());
        REQUIRE(followed);
    }
    c.wait_agreement(c.all(), "after CLUSTER FAILOVER");
    const std::size_t default_writes = acknowledged.size();

    // FORCE: a, now b's replica, takes the slots back by election, without b's agreement.
    auto forced_keys = write_acked(b, tag, "force", 200);
    const double force_ms = fail_over(c, a, b, {"FORCE"});
    CHECK(count_found(a, forced_keys) == static_cast<int>(forced_keys.size()));
    CHECK(count_found(a, acknowledged) == static_cast<int>(acknowledged.size()));

    // TAKEOVER: b, a's replica again, claims the slots with an epoch of its own, no votes.
    auto taken_keys = write_acked(a, tag, "takeover", 200);
    const long long requests_before = bus_counter(b, "cluster_stats_messages_auth-req_sent");
    const double takeover_ms = fail_over(c, b, a, {"TAKEOVER"});
    CHECK(count_found(b, taken_keys) == static_cast<int>(taken_keys.size()));
    CHECK(bus_counter(b, "cluster_stats_messages_auth-req_sent") == requests_before);

    // b's claim carries the newest config epoch; every node agrees (checked above).
    auto nodes = cluster_nodes(b);
    REQUIRE(nodes);
    const NodeEntry* me = myself_entry(*nodes);
    REQUIRE(me);
    for (const auto& e : *nodes)
        if (e.id != me->id && e.is_master() && e.slot_count() > 0)
            CHECK(e.config_epoch < me->config_epoch);
    // a, a replica again, copied everything b has.
    CHECK(wait_until(10s, 50ms, [&] {
        auto x = a.call({"DBSIZE"});
        auto y = b.call({"DBSIZE"});
        return x && y && y->integer > 0 && x->integer == y->integer;
    }));
    WARN(fmt::format(
        "kvserver manual failovers (node timeout {} ms): default mode promoted {} {:.0f} ms "
        "after CLUSTER FAILOVER with {} of {} pipelined writes acknowledged before it, all found; "
        "FORCE promoted "
        "{} after {:.0f} ms; TAKEOVER promoted {} after {:.0f} ms (config epoch {})",
        kNodeTimeoutMs, b.name(), default_ms, default_writes, kPipelined, a.name(), force_ms,
        b.name(), takeover_ms, me->config_epoch));
}

}  // namespace interop_manual_failover_test
