// Interop: six gossipcluster-kvserver processes made into a cluster by redis-cli --cluster, then
// used by redis-cli -c and redis-py's RedisCluster, resharded with keys and grown by add-node.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "gossipcluster/keyslot.hpp"
#include "process_harness.hpp"
#include "redis_cli_support.hpp"

namespace interop_redis_cli_cluster_test {

using namespace gossipcluster::interop_test;
using namespace std::chrono_literals;

namespace {

// The client port of the master owning `slot`, read from CLUSTER SLOTS on `s`; 0 if none.
long long owner_port(ClusterServer& s, std::uint16_t slot) {
    auto r = s.call({"CLUSTER", "SLOTS"});
    if (!r || r->type != Reply::Type::kArray) return 0;
    for (const auto& e : r->elements)
        if (e.elements.size() >= 3 && e.elements[0].integer <= slot &&
            slot <= e.elements[1].integer)
            return e.elements[2].elements.at(1).integer;
    return 0;
}

ClusterServer* by_port(std::vector<std::unique_ptr<ClusterServer>>& servers, long long port) {
    for (auto& s : servers)
        if (s->port() == port) return s.get();
    return nullptr;
}

// A redis-py script: writes (or only checks) key:0..n-1 through RedisCluster, exit 0 when every
// value reads back.
std::string redis_py_script(bool write) {
    return fmt::format(
        "import sys\n"
        "from redis.cluster import RedisCluster\n"
        "rc = RedisCluster(host='127.0.0.1', port=int(sys.argv[1]))\n"
        "n = int(sys.argv[2])\n"
        "if {}:\n"
        "    for i in range(n):\n"
        "        rc.set(f'key:{{i}}', f'value:{{i}}')\n"
        "bad = [i for i in range(n) if rc.get(f'key:{{i}}') != f'value:{{i}}'.encode()]\n"
        "print('mismatches', len(bad), bad[:10])\n"
        "sys.exit(1 if bad else 0)\n",
        write ? "True" : "False");
}

}  // namespace

TEST_CASE("[redis-cli] redis-cli --cluster builds, checks and reshards a kvserver cluster",
          "[interop][redis-cli]") {
    if (::access(kRedisCliPath, X_OK) != 0) FAIL("redis-cli is not installed at " << kRedisCliPath);
    TempDir dir("kv-redis-cli");
    std::vector<std::unique_ptr<ClusterServer>> servers;
    for (int i = 0; i < 6; ++i)
        servers.push_back(std::make_unique<ClusterServer>(ServerKind::kKv, dir.path()));
    auto logs = [&] {
        std::string all;
        for (auto& s : servers)
            all += s->log_tail(15) + "\n";
        return all;
    };

    std::vector<std::string> create{kRedisCliPath, "--cluster", "create"};
    for (auto& s : servers)
        create.push_back(address(*s));
    for (const char* a : {"--cluster-replicas", "1", "--cluster-yes"})
        create.emplace_back(a);
    const ToolRun created = run_tool(create, dir.path(), "create");
    INFO(created.show() << logs());
    REQUIRE(created.ok());
    REQUIRE(created.output.find("[OK] All 16384 slots covered") != std::string::npos);
    REQUIRE(wait_until(kConvergeLimit, 100ms, [&] {
        return std::all_of(servers.begin(), servers.end(), [](auto& s) { return cluster_ok(*s); });
    }));

    ClusterServer& first = *servers[0];
    auto check = [&] {
        return run_tool({kRedisCliPath, "--cluster", "check", address(first)}, dir.path(), "check");
    };
    {
        const ToolRun checked = check();
        INFO(checked.show());
        CHECK(checked.ok());
        CHECK(checked.output.find("[OK] All nodes agree about slots configuration.") !=
              std::string::npos);
        CHECK(checked.output.find("[OK] All 16384 slots covered") != std::string::npos);
    }

    SECTION("redirections, redis-cli -c, redis-py, reshard with keys, add-node") {
        // "user:0" hashes to slot 14907 (CRC16 checked against redis-server's CLUSTER KEYSLOT).
        const std::uint16_t slot = gossipcluster::key_hash_slot("user:0");
        REQUIRE(slot == 14907);
        const long long owner = owner_port(first, slot);
        REQUIRE(owner != 0);
        ClusterServer* elsewhere = nullptr;
        for (auto& s : servers)
            if (s->port() != owner && !elsewhere) elsewhere = s.get();
        REQUIRE(elsewhere);
        auto moved = elsewhere->call({"GET", "user:0"});
        REQUIRE(moved);
        CHECK(moved->text == fmt::format("MOVED 14907 127.0.0.1:{}", owner));
        auto cross = first.call({"MGET", "a3729", "c12298"});
        REQUIRE(cross);
        CHECK(cross->text == "CROSSSLOT Keys in request don't hash to the same slot");

        const auto p = std::to_string(elsewhere->port());
        const ToolRun set = run_tool({kRedisCliPath, "-c", "-p", p, "SET", "user:0", "hello"},
                                     dir.path(), "cli-set", 20s);
        INFO(set.show());
        CHECK(set.ok());
        CHECK(set.output.find("OK") != std::string::npos);
        const ToolRun get =
            run_tool({kRedisCliPath, "-c", "-p", p, "GET", "user:0"}, dir.path(), "cli-get", 20s);
        INFO(get.show());
        CHECK(get.ok());
        CHECK(get.output == "hello\n");

        // CLUSTER SLOTS: three ranges covering every slot, each with its master (replicas are
        // listed only once they report a replication offset).
        auto slots = first.call({"CLUSTER", "SLOTS"});
        REQUIRE(slots);
        REQUIRE(slots->elements.size() == 3);
        long long covered = 0;
        for (const auto& e : slots->elements) {
            CHECK(e.elements.size() >= 3);
            covered += e.elements[1].integer - e.elements[0].integer + 1;
        }
        CHECK(covered == 16384);

        const fs::path script = dir.path() / "cluster.py";
        { std::ofstream(script) << redis_py_script(true); }
        const ToolRun py =
            run_tool({kPython, script.string(), std::to_string(first.port()), "10000"}, dir.path(),
                     "redis-py");
        INFO(py.show());
        REQUIRE(py.ok());
        auto total_keys = [&] {
            long long n = 0;
            for (auto& s : servers) {
                auto nodes = s->call({"CLUSTER", "NODES"});
                auto db = s->call({"DBSIZE"});
                if (nodes && db && nodes->text.find("myself,master") != std::string::npos)
                    n += db->integer;
            }
            return n;
        };
        CHECK(total_keys() == 10001);

        // Migration by hand: ASK, TRYAGAIN, ASKING, MIGRATE, as redis-server answers them.
        ClusterServer& a = first;
        const long long b_port = owner_port(first, 8000);
        ClusterServer* b = by_port(servers, b_port);
        REQUIRE(b);
        REQUIRE(b != &a);
        // A slot of a's that holds keys (a was given 0-5460 by create).
        int pick = 0;
        while (pick < 10000 && gossipcluster::key_hash_slot(fmt::format("key:{}", pick)) > 5000)
            ++pick;
        const std::uint16_t s0 = gossipcluster::key_hash_slot(fmt::format("key:{}", pick));
        const std::string s0t = std::to_string(s0);
        REQUIRE(owner_port(a, s0) == a.port());
        auto keys = a.call({"CLUSTER", "GETKEYSINSLOT", s0t, "10"});
        REQUIRE(keys);
        REQUIRE(!keys->elements.empty());
        const std::string key = keys->elements[0].text;
        const std::string missing = "{" + key + "}absent";
        REQUIRE(gossipcluster::key_hash_slot(key) == s0);
        auto count = a.call({"CLUSTER", "COUNTKEYSINSLOT", s0t});
        REQUIRE(count);
        CHECK(count->integer == static_cast<long long>(keys->elements.size()));
        REQUIRE(b->call({"CLUSTER", "SETSLOT", s0t, "importing", node_id(a)})->is_ok());
        REQUIRE(a.call({"CLUSTER", "SETSLOT", s0t, "migrating", node_id(*b)})->is_ok());
        CHECK(a.call({"GET", missing})->text == fmt::format("ASK {} 127.0.0.1:{}", s0, b_port));
        CHECK(a.call({"GET", key})->text == "value:" + key.substr(4));
        CHECK(a.call({"MGET", key, missing})->text ==
              "TRYAGAIN Multiple keys request during rehashing of slot");
        CHECK(b->call({"GET", key})->text == fmt::format("MOVED {} 127.0.0.1:{}", s0, a.port()));
        CHECK(b->call({"ASKING"})->is_ok());
        CHECK(b->call({"GET", key})->type == Reply::Type::kNull);
        CHECK(a.call({"MIGRATE", "127.0.0.1", std::to_string(b_port), "", "0", "5000", "KEYS", key})
                  ->text == "OK");
        CHECK(a.call({"MIGRATE", "127.0.0.1", std::to_string(b_port), "", "0", "5000", "KEYS", key})
                  ->text == "NOKEY");
        CHECK(b->call({"ASKING"})->is_ok());
        CHECK(b->call({"GET", key})->text == "value:" + key.substr(4));
        // Put the slot back to a stable state; the reshard below moves the rest.
        CHECK(b->call({"CLUSTER", "SETSLOT", s0t, "stable"})->is_ok());
        CHECK(a.call({"CLUSTER", "SETSLOT", s0t, "stable"})->is_ok());
        CHECK(b->call({"ASKING"})->is_ok());
        auto moved_back = b->call({"GET", key});
        REQUIRE(moved_back);
        CHECK(moved_back->text == fmt::format("MOVED {} 127.0.0.1:{}", s0, a.port()));
        // The key now lives on b only: give it back to its owner so no key is lost.
        CHECK(b->call(
                   {"MIGRATE", "127.0.0.1", std::to_string(a.port()), "", "0", "5000", "KEYS", key})
                  ->text == "OK");
        CHECK(a.call({"GET", key})->text == "value:" + key.substr(4));
        CHECK(total_keys() == 10001);

        // redis-cli --cluster reshard: 100 slots with their keys from a to b.
        const ToolRun reshard = run_tool(
            {kRedisCliPath, "--cluster", "reshard", address(a), "--cluster-from", node_id(a),
             "--cluster-to", node_id(*b), "--cluster-slots", "100", "--cluster-yes"},
            dir.path(), "reshard");
        INFO(reshard.show() << logs());
        REQUIRE(reshard.ok());
        CHECK(owner_port(a, 0) == b_port);
        CHECK(owner_port(a, 99) == b_port);
        CHECK(owner_port(a, 100) == a.port());
        REQUIRE(wait_until(kConvergeLimit, 200ms, [&] { return check().ok(); }));
        CHECK(total_keys() == 10001);
        { std::ofstream(script) << redis_py_script(false); }
        const ToolRun reread =
            run_tool({kPython, script.string(), std::to_string(first.port()), "10000"}, dir.path(),
                     "redis-py-reread");
        INFO(reread.show());
        CHECK(reread.ok());

        // add-node: a seventh, empty master joins.
        servers.push_back(std::make_unique<ClusterServer>(ServerKind::kKv, dir.path()));
        const ToolRun added =
            run_tool({kRedisCliPath, "--cluster", "add-node", address(*servers.back()), address(a)},
                     dir.path(), "add-node");
        INFO(added.show() << logs());
        REQUIRE(added.ok());
        CHECK(added.output.find("[OK] New node added correctly.") != std::string::npos);
        ToolRun last;
        CHECK(wait_until(kConvergeLimit, 200ms, [&] {
            last = check();
            return last.ok() && last.output.find("in 4 masters") != std::string::npos;
        }));
        INFO(last.show());
        CHECK(last.output.find("[OK] All 16384 slots covered") != std::string::npos);
    }
    for (auto& s : servers)
        s->stop();
}

}  // namespace interop_redis_cli_cluster_test
