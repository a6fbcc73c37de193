// Interop: redis-cli --cluster add-node as a replica, rebalance onto an empty master, del-node,
// and redis-benchmark --cluster, against a cluster of gossipcluster-kvserver processes.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "process_harness.hpp"
#include "redis_cli_support.hpp"

namespace interop_redis_cli_tools_test {

using namespace gossipcluster::interop_test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kTimeout = "/usr/bin/timeout";
constexpr const char* kBenchmark = "/usr/bin/redis-benchmark";
constexpr int kKeys = 500;

// The space-separated fields of the CLUSTER NODES line of `id` as `s` sees it; empty when `s`
// does not know that node.
std::vector<std::string> node_line(ClusterServer& s, const std::string& id) {
    auto r = s.call({"CLUSTER", "NODES"});
    if (!r || !r->is_bulk()) return {};
    for (const auto& line : split(r->text, '\n'))
        if (line.size() > id.size() && line.compare(0, id.size(), id) == 0 &&
            line[id.size()] == ' ')
            return split(line, ' ');
    return {};
}

// How many slots `s` says it owns, from its own CLUSTER NODES line (open-slot markers such as
// `[5520->-id]` are not owned slots).
long long owned_slots(ClusterServer& s) {
    const auto fields = node_line(s, node_id(s));
    long long n = 0;
    for (std::size_t i = 8; i < fields.size(); ++i) {
        const std::string& f = fields[i];
        if (f.empty() || f[0] == '[') continue;
        const auto dash = f.find('-');
        if (dash == std::string::npos) {
            ++n;
            continue;
        }
        n += std::stoll(f.substr(dash + 1)) - std::stoll(f.substr(0, dash)) + 1;
    }
    return n;
}

bool is_master(ClusterServer& s) {
    auto r = s.call({"CLUSTER", "NODES"});
    return r && r->is_bulk() && r->text.find("myself,master") != std::string::npos;
}

// A redis-py script: writes (or only checks) tool:0..n-1 through RedisCluster, exit 0 when every
// value reads back.
std::string redis_py_script(bool write) {
    return fmt::format(
        "import sys\n"
        "from redis.cluster import RedisCluster\n"
        "rc = RedisCluster(host='127.0.0.1', port=int(sys.argv[1]))\n"
        "n = int(sys.argv[2])\n"
        "if {}:\n"
        "    for i in range(n):\n"
        "        rc.set(f'tool:{{i}}', f'value:{{i}}')\n"
        "bad = [i for i in range(n) if rc.get(f'tool:{{i}}') != f'value:{{i}}'.encode()]\n"
        "print('mismatches', len(bad), bad[:10])\n"
        "sys.exit(1 if bad else 0)\n",
        write ? "True" : "False");
}

}  // namespace

TEST_CASE("[redis-cli] add-node as replica, rebalance onto an empty master, redis-benchmark",
          "[interop][redis-cli]") {
    if (::access(kRedisCliPath, X_OK) != 0) FAIL("redis-cli is not installed at " << kRedisCliPath);
    if (::access(kBenchmark, X_OK) != 0) FAIL("redis-benchmark is not installed at " << kBenchmark);
    TempDir dir("kv-redis-cli-tools");
    std::vector<std::unique_ptr<ClusterServer>> servers;
    for (int i = 0; i < 3; ++i)
        servers.push_back(std::make_unique<ClusterServer>(ServerKind::kKv, dir.path()));
    auto logs = [&] {
        std::string all;
        for (auto& s : servers)
            all += s->log_tail(15) + "\n";
        return all;
    };
    auto all_ok = [&] {
        return std::all_of(servers.begin(), servers.end(), [](auto& s) { return cluster_ok(*s); });
    };

    std::vector<std::string> create{kRedisCliPath, "--cluster", "create"};
    for (auto& s : servers)
        create.push_back(address(*s));
    create.emplace_back("--cluster-yes");
    const ToolRun created = run_tool(create, dir.path(), "create");
    INFO(created.show() << logs());
    REQUIRE(created.ok());
    REQUIRE(wait_until(kConvergeLimit, 100ms, all_ok));

    ClusterServer& first = *servers[0];
    auto check = [&] {
        return run_tool({kRedisCliPath, "--cluster", "check", address(first)}, dir.path(), "check");
    };
    const fs::path script = dir.path() / "tools.py";
    { std::ofstream(script) << redis_py_script(true); }
    const ToolRun written =
        run_tool({kPython, script.string(), std::to_string(first.port()), std::to_string(kKeys)},
                 dir.path(), "redis-py-write");
    INFO(written.show());
    REQUIRE(written.ok());

    // add-node --cluster-slave --cluster-master-id: the new node follows the second master.
    ClusterServer& followed = *servers[1];
    const std::string master_id = node_id(followed);
    REQUIRE(master_id.size() == 40);
    servers.push_back(std::make_unique<ClusterServer>(ServerKind::kKv, dir.path()));
    ClusterServer& replica = *servers.back();
    const std::string replica_id = node_id(replica);
    REQUIRE(replica_id.size() == 40);
    const ToolRun added_replica =
        run_tool({kRedisCliPath, "--cluster", "add-node", address(replica), address(first),
                  "--cluster-slave", "--cluster-master-id", master_id},
                 dir.path(), "add-replica");
    INFO(added_replica.show() << logs());
    REQUIRE(added_replica.ok());
    CHECK(added_replica.output.find("[OK] New node added correctly.") != std::string::npos);
    // Every node, the new one included, lists it as `slave <master-id>`.
    auto seen_as_replica = [&](ClusterServer& s) {
        const auto f = node_line(s, replica_id);
        return f.size() >= 8 && f[2].find("slave") != std::string::npos && f[3] == master_id;
    };
    CHECK(wait_until(kConvergeLimit, 100ms, [&] {
        return std::all_of(servers.begin(), servers.end(),
                           [&](auto& s) { return seen_as_replica(*s); });
    }));
    for (auto& s : servers) {
        INFO(s->name());
        CHECK(seen_as_replica(*s));
    }
    CHECK(node_line(replica, replica_id).at(2) == "myself,slave");

    // add-node: an empty master, then rebalance gives it its share with the keys of those slots.
    servers.push_back(std::make_unique<ClusterServer>(ServerKind::kKv, dir.path()));
    ClusterServer& empty = *servers.back();
    const ToolRun added_master =
        run_tool({kRedisCliPath, "--cluster", "add-node", address(empty), address(first)},
                 dir.path(), "add-master");
    INFO(added_master.show() << logs());
    REQUIRE(added_master.ok());
    CHECK(added_master.output.find("[OK] New node added correctly.") != std::string::npos);
    // A master that just joined takes writes only once its cluster state is ok: wait for it, as
    // MIGRATE into it would meet -CLUSTERDOWN before.
    ToolRun last;
    REQUIRE(wait_until(kConvergeLimit, 200ms, [&] {
        if (!all_ok()) return false;
        last = check();
        return last.ok() && last.output.find("in 4 masters") != std::string::npos;
    }));
    CHECK(owned_slots(empty) == 0);

    const ToolRun rebalanced = run_tool({kRedisCliPath, "--cluster", "rebalance", address(first),
                                         "--cluster-use-empty-masters", "--cluster-yes"},
                                        dir.path(), "rebalance");
    INFO(rebalanced.show() << logs());
    REQUIRE(rebalanced.ok());
    REQUIRE(wait_until(kConvergeLimit, 200ms, [&] {
        last = check();
        return last.ok();
    }));
    INFO(last.show());
    CHECK(last.output.find("[OK] All nodes agree about slots configuration.") != std::string::npos);
    CHECK(last.output.find("[OK] All 16384 slots covered") != std::string::npos);
    long long masters = 0;
    long long total_slots = 0;
    long long total_keys = 0;
    for (auto& s : servers) {
        if (!is_master(*s)) continue;
        ++masters;
        const long long owned = owned_slots(*s);
        INFO(s->name() << " owns " << owned << " slots");
        // An even share is 4096; rebalance stops within its 2% threshold of it.
        CHECK(owned >= 1);
        CHECK(owned >= 4096 - 82);
        CHECK(owned <= 4096 + 82);
        total_slots += owned;
        auto db = s->call({"DBSIZE"});
        REQUIRE(db);
        total_keys += db->integer;
    }
    CHECK(masters == 4);
    CHECK(total_slots == 16384);
    CHECK(total_keys == kKeys);
    { std::ofstream(script) << redis_py_script(false); }
    const ToolRun reread =
        run_tool({kPython, script.string(), std::to_string(empty.port()), std::to_string(kKeys)},
                 dir.path(), "redis-py-reread");
    INFO(reread.show());
    CHECK(reread.ok());
    const ToolRun cli_get =
        run_tool({kRedisCliPath, "-c", "-p", std::to_string(first.port()), "GET", "tool:7"},
                 dir.path(), "cli-get", 20s);
    INFO(cli_get.show());
    CHECK(cli_get.ok());
    CHECK(cli_get.output == "value:7\n");

    // redis-benchmark --cluster reads the masters from CLUSTER NODES and sends each its keys.
    const ToolRun bench =
        run_tool({kTimeout, "60", kBenchmark, "--cluster", "-h", "127.0.0.1", "-p",
                  std::to_string(first.port()), "-n", "200", "-t", "set,get", "-q"},
                 dir.path(), "benchmark", 90s);
    INFO(bench.show() << logs());
    CHECK(bench.ok());
    CHECK(bench.output.find("SET:") != std::string::npos);
    CHECK(bench.output.find("GET:") != std::string::npos);

    for (auto& s : servers)
        s->stop();
}

TEST_CASE("[redis-cli] del-node removes a replica and an empty master, each reset to itself",
          "[interop][redis-cli]") {
    if (::access(kRedisCliPath, X_OK) != 0) FAIL("redis-cli is not installed at " << kRedisCliPath);
    TempDir dir("kv-redis-cli-del-node");
    std::vector<std::unique_ptr<ClusterServer>> servers;
    for (int i = 0; i < 5; ++i)
        servers.push_back(std::make_unique<ClusterServer>(ServerKind::kKv, dir.path()));
    auto logs = [&] {
        std::string all;
        for (auto& s : servers)
            all += s->log_tail(15) + "\n";
        return all;
    };
    std::vector<std::string> create{kRedisCliPath, "--cluster", "create"};
    for (int i = 0; i < 3; ++i)
        create.push_back(address(*servers[static_cast<std::size_t>(i)]));
    create.emplace_back("--cluster-yes");
    const ToolRun created = run_tool(create, dir.path(), "create");
    INFO(created.show() << logs());
    REQUIRE(created.ok());
    REQUIRE(wait_until(kConvergeLimit, 100ms, [&] {
        return cluster_ok(*servers[0]) && cluster_ok(*servers[1]) && cluster_ok(*servers[2]);
    }));

    ClusterServer& first = *servers[0];
    ClusterServer& followed = *servers[1];
    ClusterServer& replica = *servers[3];
    ClusterServer& empty = *servers[4];
    const std::string replica_id = node_id(replica);
    const std::string empty_id = node_id(empty);
    const ToolRun added_replica =
        run_tool({kRedisCliPath, "--cluster", "add-node", address(replica), address(first),
                  "--cluster-slave", "--cluster-master-id", node_id(followed)},
                 dir.path(), "add-replica");
    INFO(added_replica.show() << logs());
    REQUIRE(added_replica.ok());
    const ToolRun added_master =
        run_tool({kRedisCliPath, "--cluster", "add-node", address(empty), address(first)},
                 dir.path(), "add-master");
    INFO(added_master.show() << logs());
    REQUIRE(added_master.ok());
    auto check = [&] {
        return run_tool({kRedisCliPath, "--cluster", "check", address(first)}, dir.path(), "check");
    };
    ToolRun last;
    REQUIRE(wait_until(kConvergeLimit, 200ms, [&] {
        last = check();
        return last.ok() && last.output.find("in 4 masters") != std::string::npos;
    }));

    // Keys on the followed master reach the replica, which must drop them when it is reset.
    long long written = 0;
    for (int i = 0; i < 200 && written < 20; ++i) {
        auto r = followed.call({"SET", fmt::format("del-node:{}", i), "v"});
        if (r && r->type == Reply::Type::kSimple) ++written;
    }
    REQUIRE(written == 20);
    REQUIRE(wait_until(kConvergeLimit, 100ms, [&] {
        auto r = replica.call({"DBSIZE"});
        return r && r->integer == written;
    }));

    for (ClusterServer* gone : {&replica, &empty}) {
        const std::string id = node_id(*gone);
        const ToolRun removed = run_tool(
            {kRedisCliPath, "--cluster", "del-node", address(first), id}, dir.path(), "del-node");
        INFO(gone->name() << "\n" << removed.show() << logs());
        REQUIRE(removed.ok());
        CHECK(removed.output.find("Sending CLUSTER RESET SOFT to the deleted node.") !=
              std::string::npos);
        // The removed node lists only itself, as an empty master with its old name.
        auto own = gone->call({"CLUSTER", "NODES"});
        REQUIRE(own);
        REQUIRE(own->is_bulk());
        CHECK(split(own->text, '\n').size() == 2);
        CHECK(own->text.rfind(id + " ", 0) == 0);
        CHECK(own->text.find("myself,master - 0") != std::string::npos);
        auto info = gone->call({"CLUSTER", "INFO"});
        REQUIRE(info);
        CHECK(info->text.find("cluster_known_nodes:1\r\n") != std::string::npos);
        CHECK(info->text.find("cluster_slots_assigned:0\r\n") != std::string::npos);
    }
    auto replica_keys = replica.call({"DBSIZE"});
    REQUIRE(replica_keys);
    CHECK(replica_keys->integer == 0);
    auto role = replica.call({"INFO", "replication"});
    REQUIRE(role);
    CHECK(role->text.find("role:master") != std::string::npos);

    // No remaining node lists either of them, not even after some gossip rounds.
    const auto forgotten = [&] {
        for (int i = 0; i < 3; ++i) {
            auto r = servers[static_cast<std::size_t>(i)]->call({"CLUSTER", "NODES"});
            if (!r || !r->is_bulk() || r->text.find(replica_id) != std::string::npos ||
                r->text.find(empty_id) != std::string::npos)
                return false;
        }
        return true;
    };
    REQUIRE(wait_until(kConvergeLimit, 100ms, forgotten));
    std::this_thread::sleep_for(2s);
    CHECK(forgotten());
    last = check();
    INFO(last.show() << logs());
    CHECK(last.ok());
    CHECK(last.output.find("[OK] All nodes agree about slots configuration.") != std::string::npos);
    CHECK(last.output.find("[OK] All 16384 slots covered") != std::string::npos);
    CHECK(last.output.find("in 3 masters") != std::string::npos);
    CHECK(last.output.find(replica_id) == std::string::npos);
    CHECK(last.output.find(empty_id) == std::string::npos);
    // The written keys are still served by their master.
    auto dbsize = followed.call({"DBSIZE"});
    REQUIRE(dbsize);
    CHECK(dbsize->integer == written);

    // HARD on the removed master: a new id, every epoch back to 0, still alone.
    CHECK(empty.call({"CLUSTER", "RESET", "HARD"})->text == "OK");
    const std::string renamed = node_id(empty);
    CHECK(renamed.size() == 40);
    CHECK(renamed != empty_id);
    auto hard_info = empty.call({"CLUSTER", "INFO"});
    REQUIRE(hard_info);
    CHECK(hard_info->text.find("cluster_current_epoch:0\r\n") != std::string::npos);
    CHECK(hard_info->text.find("cluster_my_epoch:0\r\n") != std::string::npos);
    CHECK(hard_info->text.find("cluster_known_nodes:1\r\n") != std::string::npos);

    for (auto& s : servers)
        s->stop();
}

}  // namespace interop_redis_cli_tools_test
