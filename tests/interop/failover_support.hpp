// Helpers shared by the failover interop tests: INFO and CLUSTER NODES parsing, a cluster of
// shards (a master and one replica of the same kind), topology agreement, paused processes.
#pragma once

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "gossipcluster/keyslot.hpp"
#include "process_harness.hpp"
#include "redis_cli_support.hpp"

namespace gossipcluster::interop_test {

inline constexpr std::size_t kClusterSlots = 16384;

// The value of `field` in a "key:value\r\n" text (INFO, CLUSTER INFO); "" when absent.
inline std::string text_field(std::string_view text, std::string_view field) {
    std::size_t at = 0;
    while (at < text.size()) {
        const std::size_t end = std::min(text.find("\r\n", at), text.size());
        const std::string_view line = text.substr(at, end - at);
        if (line.size() > field.size() && line.substr(0, field.size()) == field &&
            line[field.size()] == ':')
            return std::string(line.substr(field.size() + 1));
        at = end + 2;
    }
    return {};
}

// A field of INFO replication; "" when the server does not answer.
inline std::string replication_field(ClusterServer& s, std::string_view field) {
    auto r = s.call({"INFO", "replication"}, std::chrono::milliseconds(2000));
    return r && r->is_bulk() ? text_field(r->text, field) : std::string();
}

// A field of CLUSTER INFO; "" when the server does not answer.
inline std::string cluster_info_field(ClusterServer& s, std::string_view field) {
    auto r = s.call({"CLUSTER", "INFO"}, std::chrono::milliseconds(2000));
    return r && r->is_bulk() ? text_field(r->text, field) : std::string();
}

// A CLUSTER INFO message counter: absent counters are zero (both kinds print them once
// non-zero); -1 when the server does not answer.
inline long long bus_counter(ClusterServer& s, std::string_view name) {
    auto r = s.call({"CLUSTER", "INFO"}, std::chrono::milliseconds(2000));
    if (!r || !r->is_bulk()) return -1;
    const std::string v = text_field(r->text, name);
    return v.empty() ? 0 : std::stoll(v);
}

// One CLUSTER NODES line.
struct NodeEntry {
    std::string id;
    std::vector<std::string> flags;
    std::string master;  // "-" for a master
    unsigned long long config_epoch = 0;
    std::string link;
    std::vector<std::pair<std::size_t, std::size_t>> slots;  // stable ranges only

    bool has_flag(std::string_view f) const {
        return std::find(flags.begin(), flags.end(), f) != flags.end();
    }
    bool is_master() const { return has_flag("master"); }
    bool failing() const { return has_flag("fail") || has_flag("fail?"); }
    std::size_t slot_count() const {
        std::size_t n = 0;
        for (const auto& [lo, hi] : slots)
            n += hi - lo + 1;
        return n;
    }
};

// `s`'s CLUSTER NODES, parsed; nullopt when it does not answer or a line is malformed.
inline std::optional<std::vector<NodeEntry>> cluster_nodes(ClusterServer& s) {
    auto r = s.call({"CLUSTER", "NODES"}, std::chrono::milliseconds(2000));
    if (!r || !r->is_bulk()) return std::nullopt;
    std::vector<NodeEntry> out;
    for (const auto& line : split(r->text, '\n')) {
        if (line.empty()) continue;
        const auto f = split(line, ' ');
        if (f.size() < 8) return std::nullopt;
        NodeEntry e;
        e.id = f[0];
        e.flags = split(f[2], ',');
        e.master = f[3];
        try {
            e.config_epoch = std::stoull(f[6]);
            for (std::size_t i = 8; i < f.size(); ++i) {
                if (f[i].empty() || f[i][0] == '[') continue;  // slots being moved
                const auto range = split(f[i], '-');
                const std::size_t lo = std::stoul(range[0]);
                const std::size_t hi = range.size() == 2 ? std::stoul(range[1]) : lo;
                if (range.size() > 2 || lo > hi || hi >= kClusterSlots) return std::nullopt;
                e.slots.emplace_back(lo, hi);
            }
        } catch (const std::exception&) {
            return std::nullopt;
        }
        e.link = f[7];
        out.push_back(std::move(e));
    }
    return out;
}

inline const NodeEntry* find_entry(const std::vector<NodeEntry>& nodes, std::string_view id) {
    for (const auto& e : nodes)
        if (e.id == id) return &e;
    return nullptr;
}

inline const NodeEntry* myself_entry(const std::vector<NodeEntry>& nodes) {
    for (const auto& e : nodes)
        if (e.has_flag("myself")) return &e;
    return nullptr;
}

// What one node believes about the cluster's masters: the owner of every slot and each slot
// owner's config epoch, and who replicates whom.
struct TopologyView {
    std::vector<std::string> owner;                    // by slot; "" when unassigned
    std::map<std::string, unsigned long long> epochs;  // slot owners only
    std::map<std::string, std::string> master_of;      // replica id -> master id
    std::string my_id;
    std::string problem;  // non-empty when the view is unusable
};

inline TopologyView topology_of(ClusterServer& s) {
    TopologyView v;
    v.owner.assign(kClusterSlots, {});
    auto nodes = cluster_nodes(s);
    if (!nodes) {
        v.problem = "no CLUSTER NODES reply";
        return v;
    }
    for (const auto& e : *nodes) {
        if (e.has_flag("myself")) v.my_id = e.id;
        if (!e.is_master() && e.master != "-") v.master_of[e.id] = e.master;
        if (e.slots.empty()) continue;
        if (!e.is_master()) v.problem += fmt::format("replica {} lists slots; ", e.id);
        v.epochs[e.id] = e.config_epoch;
        for (const auto& [lo, hi] : e.slots)
            for (std::size_t slot = lo; slot <= hi; ++slot) {
                if (!v.owner[slot].empty())
                    v.problem += fmt::format("slot {} listed for two nodes; ", slot);
                v.owner[slot] = e.id;
            }
    }
    return v;
}

// Empty when every server in `servers` sees every slot owned, the same owner of each slot, the
// same config epoch for each owner, distinct epochs, the same master for each of `servers` that
// is a replica, and cluster_state:ok; otherwise what differs. Servers not in `servers` (down,
// paused) may be shown differently by different nodes: only their slots count.
inline std::string topology_disagreement(const std::vector<ClusterServer*>& servers) {
    std::vector<TopologyView> views;
    std::set<std::string> members;
    for (auto* s : servers) {
        views.push_back(topology_of(*s));
        members.insert(views.back().my_id);
    }
    for (auto& v : views)
        std::erase_if(v.master_of,
                      [&](const auto& pair) { return members.count(pair.first) == 0; });
    std::string out;
    for (std::size_t i = 0; i < servers.size(); ++i) {
        const TopologyView& v = views[i];
        const std::string& name = servers[i]->name();
        const std::string& first = servers[0]->name();
        if (!v.problem.empty()) out += fmt::format("{}: {}\n", name, v.problem);
        if (std::count(v.owner.begin(), v.owner.end(), std::string()) != 0)
            out += fmt::format("{}: some slots have no owner\n", name);
        std::set<unsigned long long> distinct;
        for (const auto& [id, epoch] : v.epochs)
            distinct.insert(epoch);
        if (distinct.size() != v.epochs.size())
            out += fmt::format("{}: two slot owners share a config epoch\n", name);
        if (v.owner != views[0].owner)
            out += fmt::format("{}: slot owners differ from {}'s\n", name, first);
        if (v.epochs != views[0].epochs)
            out += fmt::format("{}: owners' config epochs differ from {}'s\n", name, first);
        if (v.master_of != views[0].master_of)
            out += fmt::format("{}: replica pairs differ from {}'s\n", name, first);
        if (cluster_info_field(*servers[i], "cluster_state") != "ok")
            out += fmt::format("{}: cluster_state is not ok\n", name);
    }
    return out;
}

// True when `s` says, in its own CLUSTER NODES line, that it is a master with slots.
inline bool serves_slots(ClusterServer& s) {
    auto nodes = cluster_nodes(s);
    const NodeEntry* me = nodes ? myself_entry(*nodes) : nullptr;
    return me && me->is_master() && me->slot_count() > 0;
}

// True when `s` is a replica of `master_id` (its own view) with its replication link up.
inline bool replicating_from(ClusterServer& s, std::string_view master_id) {
    auto nodes = cluster_nodes(s);
    const NodeEntry* me = nodes ? myself_entry(*nodes) : nullptr;
    return me && me->has_flag("slave") && me->master == master_id &&
           replication_field(s, "master_link_status") == "up";
}

// A hash tag ("{t<n>}") whose slot `master` serves, by its own CLUSTER NODES; "" if none.
inline std::string hash_tag_served_by(ClusterServer& master) {
    auto nodes = cluster_nodes(master);
    const NodeEntry* me = nodes ? myself_entry(*nodes) : nullptr;
    if (!me) return {};
    for (int n = 0; n < 100000; ++n) {
        const std::string tag = fmt::format("{{t{}}}", n);
        const std::size_t slot = gossipcluster::key_hash_slot(tag);
        for (const auto& [lo, hi] : me->slots)
            if (slot >= lo && slot <= hi) return tag;
    }
    return {};
}

inline double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// A master and its replica, always of the same kind (each kind replicates its own way).
struct Shard {
    std::unique_ptr<ClusterServer> master;
    std::unique_ptr<ClusterServer> replica;
};

// Shards own equal slot ranges (shard i the i-th range), masters' config epochs 1..n set before
// they meet, replicas attached with CLUSTER REPLICATE, or the whole cluster built by redis-cli
// --cluster create. The constructor returns once every node sees the same topology, cluster
// state ok, and every replica's link is up. Paused servers are resumed in the destructor, before
// any server is stopped, so cleanup never waits on a stopped process.
class ShardedCluster {
  public:
    enum class Formation { kByHand, kRedisCli };

    ShardedCluster(std::string_view name, const std::vector<ServerKind>& shard_kinds,
                   int node_timeout_ms, Formation formation = Formation::kByHand)
        : tmp_(std::string(name)) {
        std::vector<std::unique_ptr<ClusterServer>> masters, replicas;
        for (ServerKind kind : shard_kinds) {
            masters.push_back(std::make_unique<ClusterServer>(
                kind, tmp_.path(), std::vector<std::string>{}, node_timeout_ms));
            replicas.push_back(std::make_unique<ClusterServer>(
                kind, tmp_.path(), std::vector<std::string>{}, node_timeout_ms));
        }
        if (formation == Formation::kByHand)
            form_by_hand(masters, replicas);
        else
            form_with_redis_cli(masters, replicas);
        wait_formed();
    }
    ~ShardedCluster() {
        for (pid_t pid : paused_)
            ::kill(pid, SIGCONT);
    }
    ShardedCluster(const ShardedCluster&) = delete;
    ShardedCluster& operator=(const ShardedCluster&) = delete;

    std::vector<Shard>& shards() { return shards_; }
    Shard& shard(std::size_t i) { return shards_.at(i); }
    const fs::path& dir() const { return tmp_.path(); }
    // The id a server had when the cluster formed (ids survive restarts).
    const std::string& id(const ClusterServer& s) const { return ids_.at(&s); }

    std::vector<ClusterServer*> all() const {
        std::vector<ClusterServer*> out;
        for (const auto& sh : shards_) {
            out.push_back(sh.master.get());
            out.push_back(sh.replica.get());
        }
        return out;
    }
    std::vector<ClusterServer*> all_but(const std::set<const ClusterServer*>& gone) const {
        std::vector<ClusterServer*> out;
        for (auto* s : all())
            if (gone.count(s) == 0) out.push_back(s);
        return out;
    }

    // SIGSTOP / SIGCONT, remembered so that the destructor resumes what is still paused.
    void pause(ClusterServer& s) {
        REQUIRE(::kill(s.pid(), SIGSTOP) == 0);
        paused_.insert(s.pid());
    }
    void resume(ClusterServer& s) {
        ::kill(s.pid(), SIGCONT);
        paused_.erase(s.pid());
    }

    // CLUSTER NODES and the log tail of every running, unpaused server, for failure messages.
    std::string dump() {
        std::string out;
        for (auto* s : all()) {
            std::string nodes = "(not running or paused)";
            if (s->running() && paused_.count(s->pid()) == 0)
                if (auto r = s->call({"CLUSTER", "NODES"}, std::chrono::milliseconds(1000)))
                    nodes = r->show();
            out += fmt::format("=== {} pid {}:\n{}\n{}\n", s->name(), s->pid(), nodes,
                               s->log_tail(20));
        }
        return out;
    }

    // Waits (bounded) until `servers` agree on the topology with cluster_state:ok; the wait in ms.
    double wait_agreement(const std::vector<ClusterServer*>& servers, std::string_view when) {
        const auto t0 = std::chrono::steady_clock::now();
        std::string last;
        const bool agreed = wait_until(kConvergeLimit, std::chrono::milliseconds(100), [&] {
            last = topology_disagreement(servers);
            return last.empty();
        });
        if (!agreed) {
            INFO(when << ": no agreement\n" << last << dump());
            REQUIRE(agreed);
        }
        return ms_since(t0);
    }

  private:
    static std::pair<std::size_t, std::size_t> range_of(std::size_t i, std::size_t n) {
        return {i * kClusterSlots / n, (i + 1) * kClusterSlots / n - 1};
    }

    void form_by_hand(std::vector<std::unique_ptr<ClusterServer>>& masters,
                      std::vector<std::unique_ptr<ClusterServer>>& replicas) {
        for (std::size_t i = 0; i < masters.size(); ++i) {
            ClusterServer& m = *masters[i];
            const auto [lo, hi] = range_of(i, masters.size());
            auto added =
                m.call({"CLUSTER", "ADDSLOTSRANGE", std::to_string(lo), std::to_string(hi)});
            INFO(m.name() << " ADDSLOTSRANGE: " << (added ? added->show() : "(no reply)"));
            REQUIRE((added && added->is_ok()));
            auto epoch = m.call({"CLUSTER", "SET-CONFIG-EPOCH", std::to_string(i + 1)});
            INFO(m.name() << " SET-CONFIG-EPOCH: " << (epoch ? epoch->show() : "(no reply)"));
            REQUIRE((epoch && epoch->is_ok()));
        }
        for (std::size_t i = 0; i < masters.size(); ++i)
            shards_.push_back({std::move(masters[i]), std::move(replicas[i])});
        for (auto* s : all())
            ids_[s] = node_id(*s);
        ClusterServer& hub = *shards_[0].master;
        for (auto* s : all()) {
            if (s == &hub) continue;
            auto met = s->call({"CLUSTER", "MEET", "127.0.0.1", std::to_string(hub.port())});
            REQUIRE((met && met->is_ok()));
        }
        for (auto& sh : shards_) {
            const std::string master_id = ids_[sh.master.get()];
            std::string last;
            const bool attached = wait_until(kConvergeLimit, std::chrono::milliseconds(100), [&] {
                auto r = sh.replica->call({"CLUSTER", "REPLICATE", master_id});
                last = r ? r->show() : "(no reply)";
                return r && r->is_ok();
            });
            INFO(sh.replica->name() << " CLUSTER REPLICATE: " << last << "\n" << dump());
            REQUIRE(attached);
        }
    }

    // redis-cli picks the pairs: they are read back from CLUSTER NODES.
    void form_with_redis_cli(std::vector<std::unique_ptr<ClusterServer>>& masters,
                             std::vector<std::unique_ptr<ClusterServer>>& replicas) {
        std::vector<std::string> create{kRedisCliPath, "--cluster", "create"};
        std::vector<std::unique_ptr<ClusterServer>> pool;
        for (auto* group : {&masters, &replicas})
            for (auto& s : *group) {
                create.push_back(address(*s));
                pool.push_back(std::move(s));
            }
        for (const char* a : {"--cluster-replicas", "1", "--cluster-yes"})
            create.emplace_back(a);
        const ToolRun created = run_tool(create, tmp_.path(), "create", std::chrono::seconds(60));
        INFO(created.show());
        REQUIRE(created.ok());
        for (auto& s : pool)
            ids_[s.get()] = node_id(*s);
        std::optional<std::vector<NodeEntry>> nodes;
        const bool paired = wait_until(kConvergeLimit, std::chrono::milliseconds(100), [&] {
            nodes = cluster_nodes(*pool[0]);
            if (!nodes || nodes->size() != pool.size()) return false;
            return std::all_of(nodes->begin(), nodes->end(), [](const NodeEntry& e) {
                return e.is_master() ? e.slot_count() > 0 : e.master != "-";
            });
        });
        INFO("redis-cli --cluster create did not give every master a replica\n" << created.show());
        REQUIRE(paired);
        auto take = [&](std::string_view id) {
            for (auto& s : pool)
                if (s && ids_[s.get()] == id) return std::move(s);
            return std::unique_ptr<ClusterServer>();
        };
        std::vector<NodeEntry> ms;
        for (const auto& e : *nodes)
            if (e.is_master()) ms.push_back(e);
        std::sort(ms.begin(), ms.end(), [](const NodeEntry& a, const NodeEntry& b) {
            return a.slots.front().first < b.slots.front().first;
        });
        for (const auto& m : ms) {
            Shard sh;
            sh.master = take(m.id);
            for (const auto& e : *nodes)
                if (e.master == m.id && !sh.replica) sh.replica = take(e.id);
            REQUIRE(sh.master);
            REQUIRE(sh.replica);
            shards_.push_back(std::move(sh));
        }
    }

    void wait_formed() {
        wait_agreement(all(), "forming the cluster");
        for (auto& sh : shards_) {
            const std::string master_id = ids_[sh.master.get()];
            const bool up = wait_until(kConvergeLimit, std::chrono::milliseconds(50),
                                       [&] { return replicating_from(*sh.replica, master_id); });
            INFO(sh.replica->name() << " never got its replication link up\n" << dump());
            REQUIRE(up);
        }
        // Every node shows every replica under its master.
        wait_agreement(all(), "replicas attached");
    }

    TempDir tmp_;
    std::vector<Shard> shards_;
    std::map<const ClusterServer*, std::string> ids_;
    std::set<pid_t> paused_;
};

}  // namespace gossipcluster::interop_test
