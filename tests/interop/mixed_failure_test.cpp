// Interop: failure detection across a cluster of 3 redis-server and 3 gossipcluster-kvserver
// masters that own all slots: a crashed master of either kind is marked FAIL by the other kind,
// the cluster state follows slot coverage, a restart clears it, and a moved slot reaches a node
// that was down while it moved.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "gossipcluster/persisted_state.hpp"
#include "gossipcluster/storage/nodes_conf.hpp"
#include "nodes_lines.hpp"
#include "process_harness.hpp"

namespace interop_mixed_failure_test {

using namespace gossipcluster::interop_test;
using namespace std::chrono_literals;

namespace {

constexpr int kNodeTimeoutMs = 2000;
constexpr auto kConvergeLimit = 30s;
constexpr auto kPollEvery = 100ms;
constexpr auto kFailPollEvery = 20ms;
constexpr std::size_t kSlots = 16384;
constexpr std::size_t kMasters = 6;

using Servers = std::vector<ClusterServer*>;

// "ok", "fail", or empty when the node does not answer.
std::string cluster_state(ClusterServer& s) {
    auto r = s.call({"CLUSTER", "INFO"}, 2s);
    if (!r || !r->is_bulk()) return {};
    const auto at = r->text.find("cluster_state:");
    if (at == std::string::npos) return {};
    const auto from = at + std::string_view("cluster_state:").size();
    return r->text.substr(from, r->text.find('\r', from) - from);
}

std::string my_id(ClusterServer& s) {
    auto r = s.call({"CLUSTER", "MYID"});
    return r && r->is_bulk() ? r->text : std::string();
}

std::string dump(const Servers& servers) {
    std::string out;
    for (auto* s : servers) {
        std::string nodes = "(no reply)";
        if (auto r = s->call({"CLUSTER", "NODES"}, 2s)) nodes = r->show();
        out += fmt::format("=== {} pid {} state '{}' CLUSTER NODES:\n{}\n{}\n", s->name(), s->pid(),
                           cluster_state(*s), nodes, s->log_tail(25));
    }
    return out;
}

std::string fresh_node_id() {
    static std::mt19937_64 rng(std::random_device{}());
    std::string id;
    while (id.size() < 40)
        id += fmt::format("{:016x}", rng());
    id.resize(40);
    return id;
}

// Slots [first, last] of the i-th of the six masters.
std::pair<std::size_t, std::size_t> range_of(std::size_t i) {
    return {i * kSlots / kMasters, (i + 1) * kSlots / kMasters - 1};
}

// Six masters, all slots assigned: redis-servers 0-2 own ranges 0-2 (config epochs 4-6, set
// with SET-CONFIG-EPOCH), kvservers own ranges 3-5 (config epochs 1-3) from a nodes.conf written
// before their first start. All have met and the cluster state is ok everywhere.
struct Cluster {
    TempDir tmp{"gossipcluster-mixed-fail"};
    std::vector<std::unique_ptr<ClusterServer>> redis;
    std::vector<std::unique_ptr<ClusterServer>> kv;
    std::map<const ClusterServer*, std::string> id;

    Servers all() const {
        Servers out;
        for (auto& s : redis)
            out.push_back(s.get());
        for (auto& s : kv)
            out.push_back(s.get());
        return out;
    }
    Servers all_but(const ClusterServer* gone) const {
        Servers out;
        for (auto* s : all())
            if (s != gone) out.push_back(s);
        return out;
    }

    Cluster() {
        for (std::size_t i = 0; i < 3; ++i) {
            redis.push_back(std::make_unique<ClusterServer>(
                ServerKind::kRedis, tmp.path(), std::vector<std::string>{}, kNodeTimeoutMs));
            auto& r = *redis.back();
            const auto [lo, hi] = range_of(i);
            auto added =
                r.call({"CLUSTER", "ADDSLOTSRANGE", std::to_string(lo), std::to_string(hi)});
            REQUIRE(added);
            CHECK(added->show() == "OK");
            auto epoch = r.call({"CLUSTER", "SET-CONFIG-EPOCH", std::to_string(4 + i)});
            REQUIRE(epoch);
            CHECK(epoch->show() == "OK");
        }
        for (std::size_t i = 0; i < 3; ++i) {
            const auto [lo, hi] = range_of(3 + i);
            const auto write_conf = [&, lo = lo, hi = hi](const ClusterServer& s) {
                gossipcluster::NodeRecord me;
                me.id = *gossipcluster::NodeId::parse(fresh_node_id());
                me.ip = "127.0.0.1";
                me.port = s.port();
                me.cport = s.bus_port();
                me.flags = gossipcluster::node_flag::kMyself | gossipcluster::node_flag::kMaster;
                me.config_epoch = 1 + i;
                me.connected = true;
                me.slots.set_range(lo, hi);
                gossipcluster::PersistedState st;
                st.nodes = {me};
                st.current_epoch = 1 + i;
                std::ofstream(s.config_path(), std::ios::binary | std::ios::trunc)
                    << gossipcluster::render_nodes_conf(st);
            };
            kv.push_back(std::make_unique<ClusterServer>(ServerKind::kKv, tmp.path(),
                                                         std::vector<std::string>{}, kNodeTimeoutMs,
                                                         write_conf));
        }
        for (auto* s : all()) {
            id[s] = my_id(*s);
            CAPTURE(s->name());
            REQUIRE(id[s].size() == 40);
        }
        // The kvservers start from the node table written for them.
        for (auto& k : kv) {
            auto lines = nodes_of(*k);
            REQUIRE(lines);
            REQUIRE(lines->size() == 1);
            CAPTURE(k->name(), lines->front().f);
            const auto [lo, hi] = range_of(static_cast<std::size_t>(&k - &kv[0]) + 3);
            CHECK(lines->front().owns(lo));
            CHECK(lines->front().owns(hi));
        }
        // A chain of MEETs across kinds; gossip does the rest.
        const Servers order{redis[0].get(), kv[0].get(),    redis[1].get(),
                            kv[1].get(),    redis[2].get(), kv[2].get()};
        for (std::size_t i = 1; i < order.size(); ++i) {
            auto r = order[i - 1]->call(
                {"CLUSTER", "MEET", "127.0.0.1", std::to_string(order[i]->port())});
            REQUIRE(r);
            CHECK(r->show() == "OK");
        }
        require_all_ok(all(), "forming the cluster");
    }

    // Every node lists exactly the six, all connected without fail flags, and says
    // cluster_state:ok.
    bool healthy(const Servers& servers) {
        for (auto* s : servers) {
            auto lines = nodes_of(*s);
            if (!lines || lines->size() != kMasters) return false;
            for (const auto& l : *lines)
                if (!l.connected() || l.has_flag("fail") || l.has_flag("fail?")) return false;
            if (cluster_state(*s) != "ok") return false;
        }
        return true;
    }
    void require_all_ok(const Servers& servers, std::string_view when) {
        const auto t0 = std::chrono::steady_clock::now();
        const bool ok = wait_until(kConvergeLimit, kPollEvery, [&] { return healthy(servers); });
        if (!ok) {
            INFO(when << ": not all connected and ok\n" << dump(servers));
            REQUIRE(ok);
        }
        WARN(fmt::format("{}: all six connected and cluster_state:ok after {} ms", when,
                         std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - t0)
                             .count()));
    }
};

// Kills `victim` with SIGKILL, then polls every live node every 20 ms (bounded) until all
// flag it "fail" and report cluster_state:fail; prints when each did. Restarts it and waits
// until everyone is healthy again.
void crash_and_recover(Cluster& c, ClusterServer& victim) {
    const Servers live = c.all_but(&victim);
    const std::string victim_id = c.id[&victim];
    std::map<ClusterServer*, double> failed_at;
    std::map<ClusterServer*, double> state_fail_at;

    victim.kill();
    const auto t0 = std::chrono::steady_clock::now();
    auto elapsed_ms = [&] {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
            .count();
    };
    const auto deadline = t0 + kConvergeLimit;
    while (std::chrono::steady_clock::now() < deadline) {
        for (auto* s : live) {
            if (failed_at.count(s) == 0) {
                auto lines = nodes_of(*s);
                const Line* l = lines ? find(*lines, victim_id) : nullptr;
                if (l && l->has_flag("fail")) failed_at[s] = elapsed_ms();
            }
            if (state_fail_at.count(s) == 0 && cluster_state(*s) == "fail")
                state_fail_at[s] = elapsed_ms();
        }
        if (failed_at.size() == live.size() && state_fail_at.size() == live.size()) break;
        std::this_thread::sleep_for(kFailPollEvery);
    }

    std::string report =
        fmt::format("{} master {} killed (SIGKILL), node timeout {} ms, polled every 20 ms:\n",
                    kind_name(victim.kind()), victim.name(), kNodeTimeoutMs);
    double all_fail = 0;
    double all_state = 0;
    for (auto* s : live) {
        const bool f = failed_at.count(s) != 0;
        const bool st = state_fail_at.count(s) != 0;
        report += fmt::format(
            "  {:<10} ({:<22}) flags it fail after {:>8} ms, cluster_state:fail "
            "after {:>8} ms\n",
            s->name(), kind_name(s->kind()), f ? fmt::format("{:.0f}", failed_at[s]) : "never",
            st ? fmt::format("{:.0f}", state_fail_at[s]) : "never");
        if (f) all_fail = std::max(all_fail, failed_at[s]);
        if (st) all_state = std::max(all_state, state_fail_at[s]);
    }
    report +=
        fmt::format("  all live nodes: FAIL after {:.0f} ms, cluster_state:fail after {:.0f} ms",
                    all_fail, all_state);
    WARN(report);

    for (auto* s : live) {
        CAPTURE(s->name(), kind_name(s->kind()));
        CHECK(failed_at.count(s) == 1);
        CHECK(state_fail_at.count(s) == 1);
    }
    if (failed_at.size() != live.size() || state_fail_at.size() != live.size()) {
        INFO(dump(live));
        REQUIRE(failed_at.size() == live.size());
        REQUIRE(state_fail_at.size() == live.size());
    }

    victim.start();
    CHECK(my_id(victim) == victim_id);
    c.require_all_ok(c.all(), fmt::format("after {} restarted", victim.name()));
}

}  // namespace

TEST_CASE("[mixed] kvservers mark a crashed redis-server master FAIL, a restart clears it",
          "[interop][mixed]") {
    Cluster c;
    crash_and_recover(c, *c.redis[0]);
}

TEST_CASE("[mixed] redis-servers mark a crashed kvserver master FAIL, a restart clears it",
          "[interop][mixed]") {
    Cluster c;
    crash_and_recover(c, *c.kv[0]);
}

TEST_CASE("[mixed] a kvserver restarted with a stale slot claim learns the slot's new owner",
          "[interop][mixed]") {
    Cluster c;
    ClusterServer& k = *c.kv[0];
    ClusterServer& r = *c.redis[0];
    const std::size_t slot = range_of(3).first;  // k's first slot
    const std::string r_id = c.id[&r];
    const std::string k_id = c.id[&k];
    const Servers live = c.all_but(&k);

    CHECK(describe_status(k.stop()) == "exit status 0");
    // The slot moves to r on every live node; r's new config epoch makes its claim the newer.
    std::string kv_replies;
    for (auto* s : live) {
        auto reply = s->call({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", r_id});
        CAPTURE(s->name());
        REQUIRE(reply);
        if (s->kind() == ServerKind::kRedis)
            CHECK(reply->show() == "OK");
        else if (reply->show() != "OK")
            // The kvservers still learn it from r's newer claim; reported, not required.
            kv_replies += fmt::format("  {}: {}\n", s->name(), reply->show());
    }
    if (!kv_replies.empty()) WARN("CLUSTER SETSLOT NODE on kvservers answered:\n" << kv_replies);
    auto bumped = r.call({"CLUSTER", "BUMPEPOCH"});
    REQUIRE(bumped);
    CAPTURE(bumped->show());
    CHECK(bumped->show().rfind("BUMPED", 0) == 0);

    // The file k restarts from still gives it the slot, under its old config epoch.
    {
        auto parsed = gossipcluster::parse_nodes_conf(read_file(k.config_path()));
        REQUIRE(parsed.ok());
        REQUIRE(parsed.state->myself());
        CHECK(parsed.state->myself()->slots.test(slot));
    }
    k.start();
    CHECK(my_id(k) == k_id);

    const auto t0 = std::chrono::steady_clock::now();
    const bool moved = wait_until(kConvergeLimit, kPollEvery, [&] {
        for (auto* s : c.all()) {
            auto lines = nodes_of(*s);
            if (!lines) return false;
            const Line* rl = find(*lines, r_id);
            const Line* kl = find(*lines, k_id);
            if (!rl || !kl || !rl->owns(slot) || kl->owns(slot)) return false;
        }
        return true;
    });
    if (!moved) {
        INFO("slot " << slot << " should belong to " << r.name() << " (" << r_id << ") everywhere\n"
                     << dump(c.all()));
        REQUIRE(moved);
    }
    WARN(fmt::format(
        "slot {} shown as {}'s on all six, {} included, {} ms after {} restarted", slot, r.name(),
        k.name(),
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count(),
        k.name()));
    // k keeps the rest of its range, so every slot is covered again.
    c.require_all_ok(c.all(), "after the slot moved");
    auto lines = nodes_of(k);
    REQUIRE(lines);
    const Line* kl = find(*lines, k_id);
    REQUIRE(kl);
    CHECK(kl->owns(slot + 1));
    CHECK(kl->owns(range_of(3).second));
}

}  // namespace interop_mixed_failure_test
