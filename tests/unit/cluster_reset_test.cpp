// Unit tests of CLUSTER RESET [SOFT|HARD]: the core's reset, its persistence order, and the
// command's arguments and refusals as redis-server 7.0.15 answers them.
#include <catch2/catch.hpp>

#include "../common/reply_samples.hpp"

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gossipcluster/cluster_core.hpp"
#include "gossipcluster/commands/cluster_command.hpp"
#include "gossipcluster/commands/resp_value.hpp"
#include "gossipcluster/storage/memory_storage.hpp"
#include "gossipcluster/storage/nodes_conf.hpp"
#include "gossipcluster/testing/manual_clock.hpp"

namespace unit_cluster_reset_test {

using namespace gossipcluster;

namespace {

constexpr std::string_view kMyself = "b93c8673c83a1f8aadcf25d0b8204837277b90fc";
constexpr std::string_view kMyReplica = "2dceb86f8f2d09091bfd378d8149b39a0aa34bb4";

// What the core did, in order: "connect", "send", "close" and "save" / "save+fsync".
using Journal = std::shared_ptr<std::vector<std::string>>;

struct JournalTransport {
    Journal log;
    void connect(LinkId, const Endpoint&) { log->push_back("connect"); }
    void send(LinkId, const Message&) { log->push_back("send"); }
    void close(LinkId) { log->push_back("close"); }
};

struct JournalStorage {
    Journal log;
    MemoryStorage inner;
    std::optional<PersistedState> load() { return inner.load(); }
    void save(const PersistedState& state, bool fsync) {
        log->push_back(fsync ? "save+fsync" : "save");
        inner.save(state, fsync);
    }
};

using TestCore = ClusterCore<JournalTransport, testing::ManualClock, JournalStorage>;

PersistedState sample(bool as_replica) {
    auto parsed = parse_nodes_conf(test_data::kSampleNodesConf);
    REQUIRE(parsed.ok());
    PersistedState state = *parsed.state;
    if (as_replica) {
        // The same cluster seen from the replica of b93c...: myself moves to that line.
        for (auto& rec : state.nodes) {
            if (rec.id.view() == kMyself)
                rec.flags &= static_cast<std::uint16_t>(~node_flag::kMyself);
            if (rec.id.view() == kMyReplica) rec.flags |= node_flag::kMyself;
        }
    }
    return state;
}

struct Fixture {
    Journal log = std::make_shared<std::vector<std::string>>();
    std::vector<Event> events;
    std::unique_ptr<TestCore> core;

    explicit Fixture(bool as_replica, std::uint64_t seed = 42) {
        Config c;
        c.port = as_replica ? 30504 : 30500;
        c.cport = static_cast<std::uint16_t>(c.port + 10000);
        c.seed = seed;
        core = std::make_unique<TestCore>(c, JournalTransport{log}, testing::ManualClock{},
                                          JournalStorage{log, MemoryStorage(sample(as_replica))});
        core->set_event_handler([this](const Event& e) { events.push_back(e); });
    }

    RespValue run(std::initializer_list<std::string_view> args, const ClusterHostKeys& keys = {}) {
        std::vector<std::string_view> v(args);
        log->clear();
        events.clear();
        return cluster_command(*core, std::span<const std::string_view>(v), {}, keys);
    }

    template <typename E>
    std::size_t count_events() const {
        return static_cast<std::size_t>(
            std::count_if(events.begin(), events.end(),
                          [](const Event& e) { return std::holds_alternative<E>(e); }));
    }

    const PersistedState& saved() { return *core->storage().inner.saved(); }
};

std::size_t owned_slots(const ClusterState& st) {
    std::size_t n = 0;
    for (std::size_t s = 0; s < kSlotCount; ++s)
        n += st.slot_owner(s) ? 1 : 0;
    return n;
}

bool is_hex_name(std::string_view id) {
    return id.size() == 40 && std::all_of(id.begin(), id.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

}  // namespace

TEST_CASE("[cluster-reset] arguments and refusals are redis-server 7.0's", "[unit]") {
    Fixture f(false);
    CHECK(f.run({"RESET", "foo"}) == RespValue::error("ERR syntax error"));
    CHECK(f.run({"reset", "soft", "hard"}) ==
          RespValue::error("ERR unknown subcommand or wrong number of arguments for 'reset'. Try "
                           "CLUSTER HELP."));
    ClusterHostKeys keys;
    keys.total = [] { return std::size_t{3}; };
    CHECK(f.run({"RESET", "HARD"}, keys) ==
          RespValue::error("ERR CLUSTER RESET can't be called with master nodes containing keys"));
    // Refused means untouched.
    CHECK(f.core->state().node_count() == 6);
    CHECK(owned_slots(f.core->state()) == kSlotCount);
    CHECK(f.log->empty());
    // CLUSTER HELP lists it.
    const RespValue help = f.run({"HELP"});
    bool listed = false;
    for (const auto& line : help.items)
        listed = listed || line.text == "RESET [HARD|SOFT]";
    CHECK(listed);
}

TEST_CASE("[cluster-reset] SOFT on a master forgets every node and slot, keeps name and epochs",
          "[unit]") {
    Fixture f(false);
    const std::size_t fsyncs = f.core->storage().inner.fsync_count();
    const auto soft = GENERATE(as<std::string>{}, "", "soft", "SOFT");
    CAPTURE(soft);
    const RespValue reply = soft.empty() ? f.run({"RESET"}) : f.run({"RESET", soft});
    CHECK(reply == RespValue::ok());
    const ClusterState& st = f.core->state();
    CHECK(st.myself_id().view() == kMyself);
    CHECK(st.node_count() == 1);
    CHECK(owned_slots(st) == 0);
    CHECK(st.myself().slot_count() == 0);
    CHECK(st.myself().is_master());
    CHECK(st.importing().empty());
    CHECK(st.migrating().empty());
    CHECK(st.current_epoch() == 6);
    CHECK(st.myself().config_epoch() == 1);
    CHECK_FALSE(st.cluster_ok());
    CHECK(f.count_events<event::NodeForgotten>() == 5);
    CHECK(f.count_events<event::RoleChanged>() == 0);
    // On disk, with fsync: the node alone, no slots, the same epochs.
    CHECK(f.core->storage().inner.fsync_count() == fsyncs + 1);
    REQUIRE(f.saved().nodes.size() == 1);
    CHECK(f.saved().nodes[0].id.view() == kMyself);
    CHECK(f.saved().nodes[0].slots.count() == 0);
    CHECK(f.saved().current_epoch == 6);
    // CLUSTER NODES shows the one line, as redis-server does after a reset.
    const RespValue nodes = f.run({"NODES"});
    CHECK(std::count(nodes.text.begin(), nodes.text.end(), '\n') == 1);
    CHECK(nodes.text.find("myself,master - 0") != std::string::npos);
}

TEST_CASE("[cluster-reset] HARD also takes a new name from the seed and zeroes every epoch",
          "[unit]") {
    Fixture f(false, 7);
    Fixture twin(false, 7);
    CHECK(f.run({"RESET", "HARD"}) == RespValue::ok());
    CHECK(twin.run({"reset", "hard"}) == RespValue::ok());
    const ClusterState& st = f.core->state();
    const std::string fresh(st.myself_id().view());
    CHECK(fresh != kMyself);
    CHECK(is_hex_name(fresh));
    // The name comes from the core's seeded generator: the same seed, the same new name.
    CHECK(twin.core->state().myself_id() == st.myself_id());
    CHECK(st.node_count() == 1);
    CHECK(st.find(*NodeId::parse(kMyself)) == std::nullopt);
    CHECK(st.current_epoch() == 0);
    CHECK(st.last_vote_epoch() == 0);
    CHECK(st.myself().config_epoch() == 0);
    CHECK(owned_slots(st) == 0);
    REQUIRE(f.saved().nodes.size() == 1);
    CHECK(f.saved().nodes[0].id.view() == fresh);
    CHECK(f.saved().nodes[0].config_epoch == 0);
    CHECK(f.saved().current_epoch == 0);
    CHECK(f.saved().last_vote_epoch == 0);
    CHECK(f.run({"MYID"}) == RespValue::bulk(fresh));
    // A hard-reset node may take an epoch again, as a fresh one can.
    CHECK(f.run({"SET-CONFIG-EPOCH", "3"}) == RespValue::ok());
}

TEST_CASE("[cluster-reset] a replica turns master, drops its data and may hold keys", "[unit]") {
    Fixture f(true);
    REQUIRE(f.core->state().myself().is_replica());
    std::size_t flushed = 0;
    ClusterHostKeys keys;
    keys.total = [] { return std::size_t{5}; };
    keys.flush = [&] { ++flushed; };
    CHECK(f.run({"RESET"}, keys) == RespValue::ok());
    const ClusterState& st = f.core->state();
    CHECK(flushed == 1);
    CHECK(st.myself_id().view() == kMyReplica);
    CHECK(st.myself().is_master());
    CHECK_FALSE(st.myself().is_replica());
    CHECK_FALSE(st.myself().master().has_value());
    CHECK(st.node_count() == 1);
    REQUIRE(f.count_events<event::RoleChanged>() == 1);
    for (const auto& e : f.events)
        if (const auto* role = std::get_if<event::RoleChanged>(&e)) {
            CHECK(role->is_master);
            CHECK_FALSE(role->was_master);
        }
    REQUIRE(f.saved().nodes.size() == 1);
    CHECK((f.saved().nodes[0].flags & node_flag::kMaster) != 0);
    CHECK((f.saved().nodes[0].flags & node_flag::kSlave) == 0);
    CHECK_FALSE(f.saved().nodes[0].master.has_value());
    // Now a master: with keys it is refused like any master.
    CHECK(f.run({"RESET"}, keys).is_error());
    CHECK(flushed == 1);
}

TEST_CASE("[cluster-reset] the reset is on disk, fsynced, before any link is closed", "[unit]") {
    Fixture f(false);
    // Let the node connect to its peers first, so there are links to close.
    f.core->clock().advance(Duration{200});
    f.core->tick();
    f.core->clock().advance(Duration{200});
    f.core->tick();
    REQUIRE(std::count(f.log->begin(), f.log->end(), "connect") == 5);
    CHECK(f.run({"RESET"}) == RespValue::ok());
    REQUIRE_FALSE(f.log->empty());
    CHECK(f.log->front() == "save+fsync");
    CHECK(std::count(f.log->begin(), f.log->end(), "close") == 5);
    CHECK(std::count(f.log->begin(), f.log->end(), "send") == 0);
    CHECK(std::count(f.log->begin(), f.log->end(), "connect") == 0);
    // With no one left, nothing more goes out later either.
    f.log->clear();
    f.core->clock().advance(Duration{5000});
    f.core->tick();
    CHECK(std::count(f.log->begin(), f.log->end(), "send") == 0);
    CHECK(std::count(f.log->begin(), f.log->end(), "connect") == 0);
}

TEST_CASE("[cluster-reset] a failed save sends nothing and the command reports it", "[unit]") {
    Fixture f(true);
    f.core->storage().inner.fail_next_save();
    f.log->clear();
    std::vector<std::string_view> v{"RESET", "HARD"};
    CHECK_THROWS(cluster_command(*f.core, std::span<const std::string_view>(v)));
    CHECK(std::count(f.log->begin(), f.log->end(), "close") == 0);
    CHECK(std::count(f.log->begin(), f.log->end(), "send") == 0);
}

}  // namespace unit_cluster_reset_test
