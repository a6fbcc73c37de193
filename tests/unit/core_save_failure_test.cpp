// Unit tests of ClusterCore after a failed save: nothing that depends on it leaves, ever.
#include <catch2/catch.hpp>

#include "../common/reply_samples.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gossipcluster/cluster_core.hpp"
#include "gossipcluster/storage/memory_storage.hpp"
#include "gossipcluster/storage/nodes_conf.hpp"
#include "gossipcluster/testing/manual_clock.hpp"

namespace unit_core_save_failure_test {

using namespace gossipcluster;

namespace {

// What the core handed to the transport, in order.
struct Wire {
    std::vector<LinkId> connects;
    std::vector<Message> sent;
};

struct WireTransport {
    std::shared_ptr<Wire> wire;
    void connect(LinkId link, const Endpoint&) { wire->connects.push_back(link); }
    void send(LinkId, const Message& msg) { wire->sent.push_back(msg); }
    void close(LinkId) {}
};

using TestCore = ClusterCore<WireTransport, testing::ManualClock, MemoryStorage>;

// Node 30500 of the redis-server 7.0.15 sample: a master with configEpoch 1 among masters of
// epochs 2 and 3, so CLUSTER BUMPEPOCH raises currentEpoch to 7 (saved with fsync).
struct Node {
    std::shared_ptr<Wire> wire = std::make_shared<Wire>();
    std::unique_ptr<TestCore> core;

    Node() {
        auto parsed = parse_nodes_conf(test_data::kSampleNodesConf);
        REQUIRE(parsed.ok());
        Config c;
        c.port = 30500;
        c.cport = 40500;
        core = std::make_unique<TestCore>(c, WireTransport{wire}, testing::ManualClock{},
                                          MemoryStorage(*parsed.state));
    }

    CommandResult bump() {
        return core->command([](ClusterState& s, Now n, Output& o) {
            bool bumped = false;
            return s.bump_epoch(n, o, bumped);
        });
    }

    // A second of cron, then every link it asked for comes up: PINGs leave.
    void run_a_second() {
        core->clock().advance(Duration{1000});
        core->tick();
        for (LinkId link : std::vector<LinkId>(wire->connects))
            core->on_link_up(link);
    }
};

}  // namespace

TEST_CASE("[core-save-failure] without a failure, the bumped epoch is saved and announced",
          "[unit][core-save-failure]") {
    Node node;
    CHECK(node.bump().ok);
    CHECK(node.core->storage().saved()->current_epoch == 7);
    node.run_a_second();
    REQUIRE_FALSE(node.wire->sent.empty());
    for (const auto& m : node.wire->sent)
        CHECK(m.header.current_epoch == 7);
    CHECK_FALSE(node.core->halted());
}

TEST_CASE(
    "[core-save-failure] after a failed save the core halts and never announces the "
    "unsaved epoch",
    "[unit][core-save-failure]") {
    Node node;
    node.core->storage().fail_next_save();
    CHECK_THROWS_AS(node.bump(), StorageError);
    // Memory went ahead of the disk.
    CHECK(node.core->state().current_epoch() == 7);
    CHECK(node.core->storage().saved()->current_epoch == 6);
    CHECK(node.core->halted());

    // Later inputs, which would carry currentEpoch 7 in every header, throw and send nothing,
    // even though saving works again.
    CHECK_THROWS_AS(node.run_a_second(), StorageError);
    CHECK_THROWS_AS(node.core->on_link_up(LinkId{1}), StorageError);
    CHECK_THROWS_AS(node.bump(), StorageError);
    CHECK(node.wire->connects.empty());
    CHECK(node.wire->sent.empty());
    CHECK(node.core->storage().saved()->current_epoch == 6);
}

TEST_CASE("[core-save-failure] messages queued behind a failed save are not sent",
          "[unit][core-save-failure]") {
    Node node;
    node.core->storage().fail_next_save();
    // A step that must be durable before its message leaves, as a vote is.
    auto step = [](ClusterState&, Now, Output& o) {
        o.save = true;
        o.fsync = true;
        o.actions.emplace_back(action::Connect{LinkId{77}, Endpoint{"127.0.0.1", 40501}});
        o.actions.emplace_back(action::Send{LinkId{77}, Message{}});
    };
    CHECK_THROWS_AS(node.core->command(step), StorageError);
    CHECK(node.wire->connects.empty());
    CHECK(node.wire->sent.empty());
    CHECK(node.core->halted());
}

}  // namespace unit_core_save_failure_test
