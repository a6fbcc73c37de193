// Unit tests of the slot, epoch and role subcommands of cluster_command and of the CLUSTER SLOTS,
// SHARDS and REPLICAS replies, checked against redis-server 7.0's replies and errors.
#include <catch2/catch.hpp>

#include "../common/reply_samples.hpp"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "gossipcluster/cluster_core.hpp"
#include "gossipcluster/commands/cluster_command.hpp"
#include "gossipcluster/commands/resp_value.hpp"
#include "gossipcluster/storage/memory_storage.hpp"
#include "gossipcluster/storage/nodes_conf.hpp"
#include "gossipcluster/testing/manual_clock.hpp"

namespace unit_cluster_slot_commands_test {

using namespace gossipcluster;

namespace {

const std::string& kSampleNodes = test_data::kSampleNodesConf;

constexpr std::string_view kMaster2 = "ca7dd988bdb7db78d1a3d974d409888aacfcf1e0";

struct NullTransport {
    void connect(LinkId, const Endpoint&) {}
    void send(LinkId, const Message&) {}
    void close(LinkId) {}
};

using TestCore = ClusterCore<NullTransport, testing::ManualClock, MemoryStorage>;

Config sample_config() {
    Config c;
    c.port = 30500;
    c.cport = 40500;
    return c;
}

PersistedState parse_sample() {
    auto parsed = parse_nodes_conf(kSampleNodes, NodeLineTarget::kClusterNodes);
    REQUIRE(parsed.ok());
    return *parsed.state;
}

RespValue run(TestCore& core, std::initializer_list<std::string_view> args,
              const ClusterHostKeys& keys = {}) {
    std::vector<std::string_view> v(args);
    return cluster_command(core, std::span<const std::string_view>(v), {}, keys);
}

std::string encoded(const RespValue& v) {
    std::string out;
    write_resp2(v, out);
    return out;
}

RespValue error(std::string text) {
    return RespValue::error(std::move(text));
}

// The second and third entries of "CLUSTER SLOTS (RESP2)" in reply-samples.txt, byte for byte
// (their replicas had not replicated yet, so Redis listed none).
constexpr std::string_view kSlotsEntry2 =
    "*3\r\n:5461\r\n:10922\r\n*4\r\n$9\r\n127.0.0.1\r\n:30501\r\n$40\r\n"
    "ca7dd988bdb7db78d1a3d974d409888aacfcf1e0\r\n*2\r\n$8\r\nhostname\r\n$11\r\nnode-1.test\r\n";
constexpr std::string_view kSlotsEntry3 =
    "*3\r\n:10923\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:30502\r\n$40\r\n"
    "9c429edd608657366c136fa4c85130923db6cbb9\r\n*0\r\n";
// The first entry's master, as in the sample.
constexpr std::string_view kSlotsMaster1 =
    "*4\r\n$9\r\n127.0.0.1\r\n:30500\r\n$40\r\nb93c8673c83a1f8aadcf25d0b8204837277b90fc\r\n*0\r\n";

}  // namespace

TEST_CASE("[cluster-slots] CLUSTER SLOTS, SHARDS and REPLICAS of the sample cluster",
          "[unit][cluster-slots]") {
    testing::ManualClock clock;
    TestCore core(sample_config(), NullTransport{}, clock, MemoryStorage(parse_sample()));

    // No replica has reported an offset here, so each range lists its master only.
    const std::string slots = encoded(run(core, {"SLOTS"}));
    CHECK(slots == std::string("*3\r\n*3\r\n:0\r\n:5460\r\n") + std::string(kSlotsMaster1) +
                       std::string(kSlotsEntry2) + std::string(kSlotsEntry3));

    const RespValue shards = run(core, {"shards"});
    REQUIRE(shards.items.size() == 3);
    for (const auto& shard : shards.items) {
        REQUIRE(shard.items.size() == 4);
        CHECK(shard.items[0] == RespValue::bulk("slots"));
        CHECK(shard.items[2] == RespValue::bulk("nodes"));
        REQUIRE(shard.items[3].items.size() == 2);  // master and replica
        const RespValue& master = shard.items[3].items[0];
        CHECK(master.items[0] == RespValue::bulk("id"));
        const RespValue& replica = shard.items[3].items[1];
        // Replica maps end with role replica, offset 0 and health loading, as in the sample.
        const auto n = replica.items.size();
        CHECK(replica.items[n - 5] == RespValue::bulk("replica"));
        CHECK(replica.items[n - 1] == RespValue::bulk("loading"));
    }
    // Node 30501 announces a hostname: its map has 16 elements, the others 14 (sample).
    const RespValue& with_host = shards.items[2].items[3].items[0];
    CHECK(with_host.items[1] == RespValue::bulk(std::string(kMaster2)));
    CHECK(with_host.items.size() == 16);
    CHECK(shards.items[2].items[1] ==
          RespValue::array({RespValue::number(5461), RespValue::number(10922)}));

    const RespValue replicas = run(core, {"REPLICAS", "b93c8673c83a1f8aadcf25d0b8204837277b90fc"});
    REQUIRE(replicas.items.size() == 1);
    const std::string nodes = cluster_nodes_text(core.state(), core.now());
    const std::string line = replicas.items[0].text;
    CHECK(line.rfind("2dceb86f8f2d09091bfd378d8149b39a0aa34bb4 127.0.0.1:30504@40504 slave "
                     "b93c8673c83a1f8aadcf25d0b8204837277b90fc 0 ",
                     0) == 0);
    CHECK(nodes.find(line + "\n") != std::string::npos);
    CHECK(run(core, {"slaves", "0000000000000000000000000000000000000000"}) ==
          error("ERR Unknown node 0000000000000000000000000000000000000000"));
    CHECK(run(core, {"REPLICAS", "2dceb86f8f2d09091bfd378d8149b39a0aa34bb4"}) ==
          error("ERR The specified node is not a master"));
}

TEST_CASE("[cluster-slots] slot and epoch subcommands on a joined master",
          "[unit][cluster-slots]") {
    testing::ManualClock clock;
    TestCore core(sample_config(), NullTransport{}, clock, MemoryStorage(parse_sample()));
    std::size_t keys_held = 3;
    ClusterHostKeys keys;
    keys.total = [&] { return keys_held; };
    keys.count_in_slot = [&](std::uint16_t slot) { return slot == 1 ? keys_held : 0; };
    keys.keys_in_slot = [&](std::uint16_t slot, std::size_t limit) {
        std::vector<std::string> out;
        for (std::size_t i = 0; slot == 1 && i < keys_held && i < limit; ++i)
            out.push_back("k" + std::to_string(i));
        return out;
    };

    // Texts from reply-samples.txt.
    CHECK(run(core, {"ADDSLOTS", "1"}) == error("ERR Slot 1 is already busy"));
    CHECK(run(core, {"REPLICATE", "0000000000000000000000000000000000000000"}) ==
          error("ERR Unknown node 0000000000000000000000000000000000000000"));
    CHECK(run(core, {"SET-CONFIG-EPOCH", "99"}) ==
          error("ERR The user can assign a config epoch only when the node does not know any "
                "other node."));
    CHECK(run(core, {"setslot", "0", "node", kMaster2}) == RespValue::ok());
    CHECK(core.state().slot_owner(0)->id().view() == kMaster2);

    CHECK(run(core, {"ADDSLOTS", "x"}) == error("ERR Invalid or out of range slot"));
    CHECK(run(core, {"DELSLOTS", "16384"}) == error("ERR Invalid or out of range slot"));
    CHECK(run(core, {"FLUSHSLOTS"}, keys) ==
          error("ERR DB must be empty to perform CLUSTER FLUSHSLOTS."));
    CHECK(run(core, {"SETSLOT", "1", "NODE", kMaster2}, keys) ==
          error("ERR Can't assign hashslot 1 to a different node while I still hold keys for this "
                "hash slot."));
    CHECK(run(core, {"SETSLOT", "1", "bogus", kMaster2}) ==
          error("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP"));
    CHECK(run(core, {"SETSLOT", "1", "stable", kMaster2}) ==
          error("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP"));
    CHECK(run(core, {"SETSLOT", "1", "node", "nope"}) == error("ERR Unknown node nope"));
    CHECK(run(core, {"SETSLOT", "1", "Migrating", kMaster2}) == RespValue::ok());
    CHECK(core.state().migrating().at(1).view() == kMaster2);
    CHECK(run(core, {"SETSLOT", "1", "STABLE"}) == RespValue::ok());
    CHECK(core.state().migrating().empty());
    CHECK(run(core, {"SETSLOT", "6000", "importing", kMaster2}) == RespValue::ok());
    CHECK(core.state().importing().at(6000).view() == kMaster2);

    CHECK(run(core, {"COUNTKEYSINSLOT", "1"}, keys) == RespValue::number(3));
    CHECK(run(core, {"COUNTKEYSINSLOT", "16384"}, keys) == error("ERR Invalid slot"));
    CHECK(run(core, {"GETKEYSINSLOT", "1", "2"}, keys) ==
          RespValue::array({RespValue::bulk("k0"), RespValue::bulk("k1")}));
    CHECK(run(core, {"GETKEYSINSLOT", "2", "10"}, keys) == RespValue::array());
    CHECK(run(core, {"GETKEYSINSLOT", "1", "-1"}, keys) ==
          error("ERR Invalid slot or number of keys"));
    CHECK(run(core, {"GETKEYSINSLOT", "x", "1"}, keys) ==
          error("ERR value is not an integer or out of range"));

    CHECK(run(core, {"FAILOVER"}) == error("ERR You should send CLUSTER FAILOVER to a replica"));
    CHECK(run(core, {"FAILOVER", "sideways"}) == error("ERR syntax error"));
    CHECK(run(core, {"REPLICATE", kMaster2}, keys) ==
          error("ERR To set a master the node must be empty and without assigned slots."));

    // Our epoch 1 is not the greatest (current epoch 6): the bump takes a fresh one.
    CHECK(run(core, {"BUMPEPOCH"}) == RespValue::simple("BUMPED 7"));
    CHECK(run(core, {"bumpepoch"}) == RespValue::simple("STILL 7"));
}

TEST_CASE("[cluster-slots] a fresh node: ranges, SLOTS with its unknown address, FLUSHSLOTS",
          "[unit][cluster-slots]") {
    testing::ManualClock clock;
    TestCore core(sample_config(), NullTransport{}, clock, MemoryStorage());

    CHECK(run(core, {"ADDSLOTSRANGE", "5", "3"}) ==
          error("ERR start slot number 5 is greater than end slot number 3"));
    CHECK(run(core, {"ADDSLOTSRANGE", "0", "5", "10"}) ==
          error("ERR wrong number of arguments for 'cluster|addslotsrange' command"));
    CHECK(run(core, {"ADDSLOTSRANGE", "0", "5", "3", "7"}) ==
          error("ERR Slot 3 specified multiple times"));
    CHECK(run(core, {"ADDSLOTSRANGE", "0", "5", "10", "12"}) == RespValue::ok());
    CHECK(run(core, {"DELSLOTSRANGE", "0", "2"}) == RespValue::ok());
    CHECK(run(core, {"DELSLOTS", "0"}) == error("ERR Slot 0 is already unassigned"));
    const std::string id = core.state().myself_id().str();
    // A node nobody met does not know its address: the ip is empty, as Redis answers.
    auto entry = [&](std::int64_t first, std::int64_t last) {
        return RespValue::array({RespValue::number(first), RespValue::number(last),
                                 RespValue::array({RespValue::bulk(""), RespValue::number(30500),
                                                   RespValue::bulk(id), RespValue::array()})});
    };
    CHECK(run(core, {"SLOTS"}) == RespValue::array({entry(3, 5), entry(10, 12)}));
    CHECK(run(core, {"SET-CONFIG-EPOCH", "x"}) ==
          error("ERR value is not an integer or out of range"));
    CHECK(run(core, {"SET-CONFIG-EPOCH", "-1"}) == error("ERR Invalid config epoch specified: -1"));
    CHECK(run(core, {"set-config-epoch", "4"}) == RespValue::ok());
    CHECK(core.state().myself().config_epoch() == 4);
    CHECK(run(core, {"FLUSHSLOTS"}) == RespValue::ok());
    CHECK(run(core, {"SLOTS"}) == RespValue::array());
    const RespValue shards = run(core, {"SHARDS"});
    REQUIRE(shards.items.size() == 1);
    CHECK(shards.items[0].items[1] == RespValue::array());
}

}  // namespace unit_cluster_slot_commands_test
