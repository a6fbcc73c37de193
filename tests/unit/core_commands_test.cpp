// Unit tests of ClusterCore's operator command methods and of its polled event queue.
#include <catch2/catch.hpp>

#include "../common/reply_samples.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "gossipcluster/cluster_core.hpp"
#include "gossipcluster/storage/memory_storage.hpp"
#include "gossipcluster/storage/nodes_conf.hpp"
#include "gossipcluster/testing/manual_clock.hpp"

namespace unit_core_commands_test {

using namespace gossipcluster;

namespace {

// Saves and transport calls in the order the core made them.
struct Journal {
    std::vector<std::string> entries;
    std::vector<LinkId> connects;
    bool fail_saves = false;

    std::ptrdiff_t first(const std::string& what) const {
        auto it = std::find(entries.begin(), entries.end(), what);
        return it == entries.end() ? -1 : it - entries.begin();
    }
};

struct JournalTransport {
    std::shared_ptr<Journal> journal;
    void connect(LinkId link, const Endpoint&) {
        journal->connects.push_back(link);
        journal->entries.push_back("connect");
    }
    void send(LinkId, const Message&) { journal->entries.push_back("send"); }
    void close(LinkId) { journal->entries.push_back("close"); }
};

struct JournalStorage {
    std::shared_ptr<Journal> journal;
    std::optional<PersistedState> initial;
    std::optional<PersistedState> load() { return initial; }
    void save(const PersistedState&, bool) {
        if (journal->fail_saves) throw StorageError("journal storage: save refused");
        journal->entries.push_back("save");
    }
};

using JournalCore = ClusterCore<JournalTransport, testing::ManualClock, JournalStorage>;

// Node 30500 of the redis-server 7.0.15 sample (a master of config epoch 1 among masters of
// epochs 2 and 3), with its links to every peer up.
struct SampleNode {
    std::shared_ptr<Journal> journal = std::make_shared<Journal>();
    std::unique_ptr<JournalCore> core;

    SampleNode() {
        auto parsed = parse_nodes_conf(test_data::kSampleNodesConf);
        REQUIRE(parsed.ok());
        Config c;
        c.port = 30500;
        c.cport = 40500;
        core = std::make_unique<JournalCore>(c, JournalTransport{journal}, testing::ManualClock{},
                                             JournalStorage{journal, *parsed.state});
        core->clock().advance(Duration{1000});
        core->tick();
        for (LinkId link : std::vector<LinkId>(journal->connects))
            core->on_link_up(link);
        journal->entries.clear();
    }

    // A slot that another master owns.
    std::uint16_t foreign_slot() const {
        for (std::size_t s = 0; s < kSlotCount; ++s) {
            const auto owner = core->state().slot_owner(s);
            if (owner && owner->id() != core->state().myself_id())
                return static_cast<std::uint16_t>(s);
        }
        FAIL("the sample has no slot of another master");
        return 0;
    }
};

}  // namespace

TEST_CASE("[core-commands] a command method saves before it sends", "[unit][core-commands]") {
    SampleNode node;
    const std::uint16_t slot = node.foreign_slot();
    const NodeId owner = node.core->state().slot_owner(slot)->id();
    const std::string me = node.core->state().myself_id().str();
    REQUIRE(node.core->set_slot(slot, SetSlotMode::Importing, owner.view()).ok);
    node.journal->entries.clear();

    // Closing an import takes a fresh config epoch, announced at once with a PONG to every peer:
    // the epoch must be on disk first.
    REQUIRE(node.core->set_slot(slot, SetSlotMode::Node, me).ok);
    CHECK(node.core->state().slot_owner(slot)->id() == node.core->state().myself_id());
    const auto save = node.journal->first("save");
    const auto send = node.journal->first("send");
    REQUIRE(save >= 0);
    REQUIRE(send >= 0);
    CHECK(save < send);
}

TEST_CASE("[core-commands] a command method whose save fails sends nothing",
          "[unit][core-commands]") {
    SampleNode node;
    const std::uint16_t slot = node.foreign_slot();
    const NodeId owner = node.core->state().slot_owner(slot)->id();
    REQUIRE(node.core->set_slot(slot, SetSlotMode::Importing, owner.view()).ok);
    node.journal->entries.clear();
    node.journal->fail_saves = true;
    CHECK_THROWS_AS(
        node.core->set_slot(slot, SetSlotMode::Node, node.core->state().myself_id().view()),
        StorageError);
    CHECK(node.journal->entries.empty());
    CHECK(node.core->halted());
}

TEST_CASE("[core-commands] command methods reach the state and return its errors",
          "[unit][core-commands]") {
    SampleNode node;
    auto& core = *node.core;
    bool bumped = false;
    CHECK(core.bump_epoch(bumped).ok);
    CHECK(bumped);
    CHECK(core.state().myself().config_epoch() == 7);

    const std::uint16_t slot = node.foreign_slot();
    auto taken = core.add_slots({slot});
    CHECK_FALSE(taken.ok);
    CHECK(taken.error == CommandError::SlotBusy);
    CHECK(taken.args.slot == slot);

    CHECK(core.failover().error == CommandError::FailoverOnMaster);
    CHECK(core.set_config_epoch(9).error == CommandError::ConfigEpochNotAlone);
    CHECK_FALSE(core.forget("0000000000000000000000000000000000000000").ok);
    auto sends = [&] {
        return std::count(node.journal->entries.begin(), node.journal->entries.end(), "send");
    };
    CHECK(core.publish("news", "hello").ok);
    const auto after_publish = sends();
    CHECK(after_publish > 0);
    CHECK(core.send_module_message(42, 1, "payload").ok);
    CHECK(sends() > after_publish);
}

TEST_CASE("[core-commands] events are queued only once the host opts in", "[unit][core-commands]") {
    SampleNode node;
    auto& core = *node.core;
    REQUIRE(core.meet("10.0.0.1", 7000, 17000).ok);
    CHECK(core.take_events().empty());
    CHECK(core.dropped_events() == 0);

    std::size_t seen_by_handler = 0;
    core.set_event_handler([&](const Event&) { ++seen_by_handler; });
    core.queue_events(16);
    REQUIRE(core.meet("10.0.0.2", 7000, 17000).ok);
    auto events = core.take_events();
    REQUIRE(events.size() == 1);
    const auto* added = std::get_if<event::NodeAdded>(&events[0]);
    REQUIRE(added != nullptr);
    CHECK(added->ip == "10.0.0.2");
    CHECK(added->handshake);
    // The handler still sees every event, and a second take finds nothing new.
    CHECK(seen_by_handler == 1);
    CHECK(core.take_events().empty());
}

TEST_CASE("[core-commands] the event queue is bounded and counts what it dropped",
          "[unit][core-commands]") {
    SampleNode node;
    auto& core = *node.core;
    core.queue_events(2);
    for (std::uint16_t i = 0; i < 5; ++i)
        REQUIRE(core.meet("10.0.1.1", static_cast<std::uint16_t>(7000 + i),
                          static_cast<std::uint16_t>(17000 + i))
                    .ok);
    auto events = core.take_events();
    REQUIRE(events.size() == 2);
    // The oldest are kept: the host knows it missed what came after them.
    CHECK(std::get<event::NodeAdded>(events[0]).port == 7000);
    CHECK(std::get<event::NodeAdded>(events[1]).port == 7001);
    CHECK(core.dropped_events() == 3);

    // Taking makes room again.
    REQUIRE(core.meet("10.0.1.2", 7000, 17000).ok);
    CHECK(core.take_events().size() == 1);
    CHECK(core.dropped_events() == 3);

    // Turning it off drops what was queued and queues no more.
    REQUIRE(core.meet("10.0.1.3", 7000, 17000).ok);
    core.queue_events(0);
    REQUIRE(core.meet("10.0.1.4", 7000, 17000).ok);
    CHECK(core.take_events().empty());
}

}  // namespace unit_core_commands_test
