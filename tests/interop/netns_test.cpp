// Interop across hosts: six gossipcluster-kvserver processes (3 masters, 3 replicas), each in its
// own network namespace, joined by veth pairs to a bridge that lives in one more namespace; so
// every packet stays inside namespaces this test creates. Partitions are nftables rules inside
// the namespaces, a symmetric one and one that drops a single direction. The node cut off from
// the majority must turn cluster_state:fail and refuse writes with CLUSTERDOWN after the node
// timeout, the majority must fail its shard over, and once healed the cluster must converge with
// no slot owned twice.
//
// Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN), iproute2 and nftables (tools/install-deps.sh);
// elsewhere the tests say why and skip. The test thread enters a node's namespace (setns) to
// start its server and to talk to it on 127.0.0.1 there: a spawned child and a created socket
// stay in the namespace they were made in.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "../common/skip.hpp"
#include "failover_support.hpp"
#include "gossipcluster/keyslot.hpp"
#include "process_harness.hpp"

namespace interop_netns_test {

using namespace gossipcluster::interop_test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kIp = "/usr/sbin/ip";
constexpr const char* kNft = "/usr/sbin/nft";
constexpr int kNodeTimeoutMs = 1000;
constexpr std::size_t kShards = 3;
constexpr std::size_t kNodes = 2 * kShards;  // masters 0-2, replica 3 + m of master m
constexpr auto kLimit = 20s;

// Runs a command to completion (bounded); its exit status 0 or the output on failure.
struct CommandRun {
    bool ok = false;
    std::string output;
};

CommandRun run_command(const std::vector<std::string>& args, const fs::path& log) {
    std::error_code ec;
    fs::remove(log, ec);
    CommandRun r;
    try {
        Process p(args, log);
        const auto status = p.wait(10s);
        r.ok = status && exited_with(*status, 0);
    } catch (const std::exception& e) {
        r.output = e.what();
        return r;
    }
    r.output = read_file(log);
    return r;
}

// The thread runs in another network namespace until the scope ends.
class InNetns {
  public:
    explicit InNetns(const std::string& name) {
        home_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        const int target = ::open(("/var/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
        if (home_ < 0 || target < 0 || ::setns(target, CLONE_NEWNET) != 0) {
            const int err = errno;
            if (target >= 0) ::close(target);
            if (home_ >= 0) ::close(home_);
            throw std::system_error(err, std::generic_category(), "entering netns " + name);
        }
        ::close(target);
    }
    ~InNetns() {
        if (::setns(home_, CLONE_NEWNET) != 0) std::abort();  // never run on in the wrong place
        ::close(home_);
    }
    InNetns(const InNetns&) = delete;
    InNetns& operator=(const InNetns&) = delete;

  private:
    int home_ = -1;
};

// The namespaces of one test: a hub with the bridge, one per node with a veth into the bridge
// and 10.77.0.(i+1)/24. The destructor deletes every namespace it created (the veths and the
// bridge go with them), also when the test fails half way.
class NetnsLab {
  public:
    NetnsLab(const fs::path& dir, std::size_t nodes) : dir_(dir) {
        const std::string prefix = fmt::format("gcns{}", ::getpid());
        hub_ = prefix + "hub";
        if (!create(hub_)) return;
        for (std::size_t i = 0; i < nodes; ++i)
            if (!create(fmt::format("{}n{}", prefix, i))) return;
        const std::vector<std::vector<std::string>> hub_setup{
            {kIp, "-n", hub_, "link", "set", "lo", "up"},
            {kIp, "-n", hub_, "link", "add", "br0", "type", "bridge"},
            {kIp, "-n", hub_, "link", "set", "br0", "up"},
        };
        for (const auto& c : hub_setup)
            if (!step(c)) return;
        for (std::size_t i = 0; i < nodes; ++i) {
            const std::string& ns = names_[i + 1];
            const std::string veth = fmt::format("v{}", i);
            const std::vector<std::vector<std::string>> node_setup{
                {kIp, "-n", hub_, "link", "add", veth, "type", "veth", "peer", "name", "eth0",
                 "netns", ns},
                {kIp, "-n", hub_, "link", "set", veth, "master", "br0"},
                {kIp, "-n", hub_, "link", "set", veth, "up"},
                {kIp, "-n", ns, "link", "set", "lo", "up"},
                {kIp, "-n", ns, "addr", "add", address(i) + "/24", "dev", "eth0"},
                {kIp, "-n", ns, "link", "set", "eth0", "up"},
            };
            for (const auto& c : node_setup)
                if (!step(c)) return;
            nodes_.push_back(ns);
        }
        ready_ = true;
    }
    ~NetnsLab() {
        for (auto it = names_.rbegin(); it != names_.rend(); ++it)
            run_command({kIp, "netns", "del", *it}, dir_ / "ip-del.log");
    }
    NetnsLab(const NetnsLab&) = delete;
    NetnsLab& operator=(const NetnsLab&) = delete;

    bool ready() const { return ready_; }
    const std::string& problem() const { return problem_; }
    const std::string& ns(std::size_t i) const { return nodes_.at(i); }
    static std::string address(std::size_t i) { return fmt::format("10.77.0.{}", i + 1); }

    // Runs nft with `script` (one command per line) inside node i's namespace.
    bool nft(std::size_t i, const std::string& script) {
        const fs::path file = dir_ / fmt::format("nft-{}.txt", i);
        write_file(file, script);
        InNetns in(ns(i));
        const auto r = run_command({kNft, "-f", file.string()}, dir_ / "nft.log");
        if (!r.ok) problem_ = fmt::format("nft in {} failed: {}\n{}", ns(i), r.output, script);
        return r.ok;
    }

  private:
    bool create(const std::string& name) {
        const auto r = run_command({kIp, "netns", "add", name}, dir_ / "ip.log");
        if (!r.ok) {
            problem_ = fmt::format("ip netns add {} failed: {}", name, r.output);
            return false;
        }
        names_.push_back(name);
        return true;
    }
    bool step(const std::vector<std::string>& args) {
        const auto r = run_command(args, dir_ / "ip.log");
        if (!r.ok) problem_ = fmt::format("{} failed: {}", fmt::join(args, " "), r.output);
        return r.ok;
    }
    static void write_file(const fs::path& p, const std::string& text) {
        std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
    }

    fs::path dir_;
    std::string hub_;
    std::vector<std::string> names_;  // every namespace created, hub first
    std::vector<std::string> nodes_;
    bool ready_ = false;
    std::string problem_;
};

// Why namespaces cannot be used here, or empty when they can.
std::string netns_unavailable() {
    if (::geteuid() != 0) return "not root: network namespaces need CAP_NET_ADMIN";
    if (::access(kIp, X_OK) != 0) return "iproute2 (/usr/sbin/ip) is not installed";
    if (::access(kNft, X_OK) != 0)
        return "nftables (/usr/sbin/nft) is not installed; tools/install-deps.sh installs it";
    return {};
}

// Six kvservers in the lab's namespaces, formed into three shards.
class NsCluster {
  public:
    NsCluster(NetnsLab& lab, const fs::path& dir) : lab_(lab) {
        for (std::size_t i = 0; i < kNodes; ++i) {
            InNetns in(lab_.ns(i));
            servers_.push_back(std::make_unique<ClusterServer>(
                ServerKind::kKv, dir,
                std::vector<std::string>{"--bind", NetnsLab::address(i), "127.0.0.1"},
                kNodeTimeoutMs));
        }
        for (std::size_t i = 0; i < kNodes; ++i)
            ids_.push_back(at(i, [](ClusterServer& s) {
                auto r = s.call({"CLUSTER", "MYID"});
                return r && r->is_bulk() ? r->text : std::string();
            }));
        for (std::size_t m = 0; m < kShards; ++m) {
            const std::size_t lo = m * kClusterSlots / kShards;
            const std::size_t hi = (m + 1) * kClusterSlots / kShards - 1;
            REQUIRE(command(m, {"CLUSTER", "ADDSLOTSRANGE", std::to_string(lo),
                                std::to_string(hi)}) == "OK");
            REQUIRE(command(m, {"CLUSTER", "SET-CONFIG-EPOCH", std::to_string(m + 1)}) == "OK");
        }
        for (std::size_t i = 1; i < kNodes; ++i)
            REQUIRE(command(i, {"CLUSTER", "MEET", NetnsLab::address(0),
                                std::to_string(servers_[0]->port())}) == "OK");
        for (std::size_t m = 0; m < kShards; ++m) {
            std::string last;
            const bool attached = wait_until(kLimit, 100ms, [&] {
                last = command(kShards + m, {"CLUSTER", "REPLICATE", ids_[m]});
                return last == "OK";
            });
            INFO("CLUSTER REPLICATE on node " << kShards + m << ": " << last << "\n" << dump());
            REQUIRE(attached);
        }
        require_agreement(all(), "forming the cluster");
    }

    ~NsCluster() {
        // Each server is stopped from its own namespace (its connection was made there).
        for (std::size_t i = 0; i < servers_.size(); ++i) {
            InNetns in(lab_.ns(i));
            servers_[i].reset();
        }
    }

    template <typename F>
    auto at(std::size_t i, F&& f) -> decltype(f(std::declval<ClusterServer&>())) {
        InNetns in(lab_.ns(i));
        return f(*servers_.at(i));
    }
    std::string command(std::size_t i, const std::vector<std::string>& args) {
        return at(i, [&](ClusterServer& s) {
            auto r = s.call(args, 3s);
            return r ? r->show() : std::string("(no reply)");
        });
    }
    std::string state(std::size_t i) {
        return at(i, [](ClusterServer& s) { return cluster_info_field(s, "cluster_state"); });
    }
    const std::string& id(std::size_t i) const { return ids_.at(i); }

    std::vector<std::size_t> all() const {
        std::vector<std::size_t> v;
        for (std::size_t i = 0; i < kNodes; ++i)
            v.push_back(i);
        return v;
    }

    // Empty when the nodes `of` agree: every slot owned once, the same owner and owner epochs,
    // distinct epochs, the same replica pairs, cluster_state:ok, every node connected without
    // failure flags (but the nodes in `cut_off`, which may be flagged). Otherwise what differs.
    std::string disagreement(const std::vector<std::size_t>& of,
                             const std::set<std::string>& cut_off) {
        std::vector<TopologyView> views;
        std::string out;
        for (std::size_t i : of)
            views.push_back(at(i, [](ClusterServer& s) { return topology_of(s); }));
        for (std::size_t k = 0; k < of.size(); ++k) {
            const auto& v = views[k];
            const std::size_t i = of[k];
            if (!v.problem.empty()) out += fmt::format("node {}: {}\n", i, v.problem);
            if (std::count(v.owner.begin(), v.owner.end(), std::string()) != 0)
                out += fmt::format("node {}: some slots have no owner\n", i);
            std::set<unsigned long long> distinct;
            for (const auto& [owner, epoch] : v.epochs)
                distinct.insert(epoch);
            if (distinct.size() != v.epochs.size())
                out += fmt::format("node {}: two slot owners share a config epoch\n", i);
            if (v.owner != views[0].owner) out += fmt::format("node {}: other slot owners\n", i);
            if (v.epochs != views[0].epochs) out += fmt::format("node {}: other epochs\n", i);
            if (v.master_of != views[0].master_of)
                out += fmt::format("node {}: other replica pairs\n", i);
            if (state(i) != "ok") out += fmt::format("node {}: cluster_state is not ok\n", i);
            auto nodes = at(i, [](ClusterServer& s) { return cluster_nodes(s); });
            if (!nodes || nodes->size() != kNodes) {
                out += fmt::format("node {}: does not list the {} nodes\n", i, kNodes);
                continue;
            }
            for (const auto& e : *nodes)
                if (cut_off.count(e.id) == 0 && (e.failing() || e.link != "connected"))
                    out += fmt::format("node {}: {} is {} {}\n", i, e.id.substr(0, 8),
                                       fmt::join(e.flags, ","), e.link);
        }
        return out;
    }

    double require_agreement(const std::vector<std::size_t>& of, std::string_view when,
                             const std::set<std::string>& cut_off = {}) {
        const auto t0 = std::chrono::steady_clock::now();
        std::string last;
        const bool agreed = wait_until(kLimit, 100ms, [&] {
            last = disagreement(of, cut_off);
            return last.empty();
        });
        INFO(when << ": no agreement after " << ms_since(t0) << " ms\n" << last << dump());
        REQUIRE(agreed);
        return ms_since(t0);
    }

    std::string dump() {
        std::string out;
        for (std::size_t i = 0; i < servers_.size(); ++i) {
            const std::string nodes = command(i, {"CLUSTER", "NODES"});
            out += fmt::format("=== node {} ({}) {}:\n{}\n{}\n", i, lab_.ns(i), servers_[i]->name(),
                               nodes, servers_[i]->log_tail(15));
        }
        return out;
    }

  private:
    NetnsLab& lab_;
    std::vector<std::unique_ptr<ClusterServer>> servers_;
    std::vector<std::string> ids_;
};

// nft rules for node `i`'s namespace that drop traffic from (and, when `both_ways`, to) the
// addresses of `others`.
std::string cut_rules(const std::vector<std::size_t>& others, bool both_ways) {
    std::vector<std::string> addrs;
    for (std::size_t o : others)
        addrs.push_back(NetnsLab::address(o));
    std::string s = "table inet gcpartition {\n";
    s += "  chain in { type filter hook input priority 0; policy accept;\n";
    s += fmt::format("    ip saddr {{ {} }} drop\n  }}\n", fmt::join(addrs, ", "));
    if (both_ways) {
        s += "  chain out { type filter hook output priority 0; policy accept;\n";
        s += fmt::format("    ip daddr {{ {} }} drop\n  }}\n", fmt::join(addrs, ", "));
    }
    return s + "}\n";
}

// A key of a slot that master `m` owns (shard m has the m-th third of the slots).
std::string key_of_shard(std::size_t m) {
    for (int n = 0;; ++n) {
        std::string key = fmt::format("key:{}", n);
        const std::size_t slot = gossipcluster::key_hash_slot(key);
        if (slot * kShards / kClusterSlots == m) return key;
    }
}

// Cuts master `m` off from the five others (both ways, or only what they send to it), then
// checks the minority and majority behaviour, heals, and checks convergence.
void isolate_master(std::size_t m, bool both_ways) {
    if (const std::string why = netns_unavailable(); !why.empty()) {
        gossipcluster::test_common::skip_case(why);
        return;
    }
    // A lab that cannot be made (or entered) is torn down before the case is skipped.
    std::string why_not;
    {
        TempDir probe_dir("gossipcluster-netns-probe");
        NetnsLab probe_lab(probe_dir.path(), 1);
        if (!probe_lab.ready()) {
            why_not = "network namespaces cannot be made here: " + probe_lab.problem();
        } else {
            try {
                InNetns probe(probe_lab.ns(0));
            } catch (const std::system_error& e) {
                why_not = std::string(
                              "cannot enter a network namespace (setns needs "
                              "CAP_SYS_ADMIN): ") +
                          e.what();
            }
        }
    }
    if (!why_not.empty()) {
        gossipcluster::test_common::skip_case(why_not);
        return;
    }
    TempDir tmp("gossipcluster-netns");
    NetnsLab lab(tmp.path(), kNodes);
    REQUIRE(lab.ready());
    NsCluster c(lab, tmp.path());
    const std::size_t replica = kShards + m;
    const std::string key = key_of_shard(m);
    REQUIRE(c.command(m, {"SET", key, "before"}) == "OK");

    std::vector<std::size_t> others;
    for (std::size_t i = 0; i < kNodes; ++i)
        if (i != m) others.push_back(i);
    const std::vector<std::size_t> majority = others;

    // Symmetric: m drops what comes from the others and what goes to them. One direction: m
    // drops only what the others send; its own packets still reach them.
    {
        const bool cut = lab.nft(m, cut_rules(others, both_ways));
        INFO(lab.problem());
        REQUIRE(cut);
    }
    const auto cut_at = std::chrono::steady_clock::now();

    // The minority: cluster_state:fail after the node timeout, writes refused with CLUSTERDOWN.
    std::string write;
    const bool refused = wait_until(kLimit, 50ms, [&] {
        write = c.command(m, {"SET", key, "during"});
        return c.state(m) == "fail" && write.find("CLUSTERDOWN") != std::string::npos;
    });
    const double refused_ms = ms_since(cut_at);
    {
        INFO("the cut-off master still says " << c.state(m) << ", SET answered " << write << "\n"
                                              << c.dump());
        REQUIRE(refused);
    }
    CHECK(refused_ms >= kNodeTimeoutMs);

    // The majority: the replica takes over the shard.
    const bool promoted = wait_until(kLimit, 100ms, [&] {
        return c.at(replica, [](ClusterServer& s) { return serves_slots(s); });
    });
    {
        INFO("replica " << replica << " did not take over\n" << c.dump());
        REQUIRE(promoted);
    }
    const double majority_ms =
        c.require_agreement(majority, "the majority after the failover", {c.id(m)});
    CHECK(c.command(replica, {"SET", key, "after"}) == "OK");
    const double failover_ms = ms_since(cut_at);

    // Heal: the rules go, the old master follows its replica, everyone agrees.
    {
        const bool healed = lab.nft(m, "delete table inet gcpartition\n");
        INFO(lab.problem());
        REQUIRE(healed);
    }
    const auto healed_at = std::chrono::steady_clock::now();
    c.require_agreement(c.all(), "after healing");
    const double converged_ms = ms_since(healed_at);
    const std::string master_of_old = c.at(m, [&](ClusterServer& s) {
        // The old master's own line: a replica now, and of whom.
        auto nodes = cluster_nodes(s);
        const NodeEntry* me = nodes ? myself_entry(*nodes) : nullptr;
        return me && !me->is_master() ? me->master : std::string();
    });
    CHECK(master_of_old == c.id(replica));
    CHECK(c.command(replica, {"GET", key}) == "\"after\"");

    WARN(
        fmt::format("{} partition of master {} (node timeout {} ms): cluster_state:fail and "
                    "CLUSTERDOWN after {:.0f} ms, majority failed over and agreed after {:.0f} ms "
                    "(agreement wait {:.0f} ms), healed cluster converged in {:.0f} ms",
                    both_ways ? "symmetric" : "one-way (inbound dropped)", m, kNodeTimeoutMs,
                    refused_ms, failover_ms, majority_ms, converged_ms));
}

}  // namespace

TEST_CASE(
    "[netns] a master cut off by a partition stops writes and its replica takes over "
    "until the partition heals",
    "[interop][netns]") {
    isolate_master(0, true);
}

TEST_CASE("[netns] a one-way partition (the master hears nothing) has the same outcome",
          "[interop][netns]") {
    isolate_master(1, false);
}

}  // namespace interop_netns_test
