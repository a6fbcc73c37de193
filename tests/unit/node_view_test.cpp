// Unit tests of the public views of a ClusterState (NodeView): find, myself, slot_owner,
// slots_of, for_each_node and replicas_of report what the state holds.
#include <catch2/catch.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gossipcluster/cluster_state.hpp"
#include "gossipcluster/node_view.hpp"
#include "gossipcluster/output.hpp"
#include "gossipcluster/storage/nodes_conf.hpp"

namespace unit_node_view_test {

using namespace gossipcluster;

namespace {

// Four shards' worth of nodes, listed out of id order: myself (b0...) serves 0-99 with replicas
// e0... and a0... (in that order in the file); c0... serves 100-199 and has FAILed; d0... is its
// replica, with a hostname and a replication offset of its own.
constexpr std::string_view kMyId = "b000000000000000000000000000000000000000";
constexpr std::string_view kReplicaE = "e000000000000000000000000000000000000000";
constexpr std::string_view kReplicaA = "a000000000000000000000000000000000000000";
constexpr std::string_view kOtherMaster = "c000000000000000000000000000000000000000";
constexpr std::string_view kOtherReplica = "d000000000000000000000000000000000000000";

constexpr std::string_view kNodesConf =
    "b000000000000000000000000000000000000000 127.0.0.1:30500@40500 myself,master - 0 "
    "1795316505000 3 connected 0-99\n"
    "e000000000000000000000000000000000000000 127.0.0.1:30504@40504 slave "
    "b000000000000000000000000000000000000000 0 1795316506355 3 connected\n"
    "c000000000000000000000000000000000000000 127.0.0.2:30501@40501 master,fail - "
    "1795316519907 1795316517395 5 disconnected 100-199\n"
    "a000000000000000000000000000000000000000 127.0.0.1:30503@40503 slave "
    "b000000000000000000000000000000000000000 0 1795316506857 3 connected\n"
    "d000000000000000000000000000000000000000 127.0.0.3:30505@40505,node-d.test slave "
    "c000000000000000000000000000000000000000 0 1795316505552 5 connected\n"
    "vars currentEpoch 6 lastVoteEpoch 0\n";

NodeId id(std::string_view text) {
    auto parsed = NodeId::parse(text);
    REQUIRE(parsed);
    return *parsed;
}

Config config() {
    Config c;
    c.port = 30500;
    c.cport = 40500;
    return c;
}

ClusterState loaded(Now now) {
    auto parsed = parse_nodes_conf(kNodesConf);
    INFO((parsed.error ? parsed.error->describe() : std::string()));
    REQUIRE(parsed.ok());
    return ClusterState(config(), now, *parsed.state);
}

const Now kNow{Instant{5000}, 1795316507123};

}  // namespace

TEST_CASE("[node-view] myself and find report the nodes the state loaded", "[unit][node-view]") {
    const ClusterState st = loaded(kNow);

    const NodeView me = st.myself();
    CHECK(me.id() == st.myself_id());
    CHECK(me.id() == id(kMyId));
    CHECK(me.has(node_flag::kMyself));
    CHECK(me.has(node_flag::kMaster));
    CHECK((me.flags() & (node_flag::kMyself | node_flag::kMaster)) ==
          (node_flag::kMyself | node_flag::kMaster));
    CHECK(me.is_master());
    CHECK_FALSE(me.is_replica());
    CHECK(me.serves_slots());
    CHECK_FALSE(me.master().has_value());
    CHECK(me.port() == 30500);
    CHECK(me.cport() == 40500);
    CHECK(me.config_epoch() == 3);
    CHECK(me.slot_count() == 100);

    CHECK_FALSE(st.find(id("f000000000000000000000000000000000000000")).has_value());

    const std::optional<NodeView> failed = st.find(id(kOtherMaster));
    REQUIRE(failed);
    CHECK(failed->id() == id(kOtherMaster));
    CHECK(failed->is_master());
    CHECK(failed->failing());
    CHECK_FALSE(failed->timed_out());
    CHECK_FALSE(failed->in_handshake());
    CHECK(failed->ip() == "127.0.0.2");
    CHECK(failed->port() == 30501);
    CHECK(failed->cport() == 40501);
    CHECK(failed->config_epoch() == 5);
    CHECK(failed->slot_count() == 100);
    CHECK_FALSE(failed->link_up());
    CHECK_FALSE(failed->link().valid());

    const std::optional<NodeView> replica = st.find(id(kOtherReplica));
    REQUIRE(replica);
    CHECK(replica->is_replica());
    CHECK_FALSE(replica->is_master());
    CHECK_FALSE(replica->serves_slots());
    CHECK(replica->master() == id(kOtherMaster));
    CHECK(replica->hostname() == "node-d.test");
    CHECK(replica->ip() == "127.0.0.3");
    CHECK(replica->pport() == 0);
    CHECK(replica->slot_count() == 0);

    // The views read the state's own nodes, field for field as CLUSTER NODES shows them (which
    // prints a replica with its master's epoch; the view gives the replica's own).
    for (const NodeRecord& r : st.node_records(kNow, true)) {
        const std::optional<NodeView> v = st.find(r.id);
        REQUIRE(v);
        CHECK(v->flags() == r.flags);
        CHECK(v->ip() == r.ip);
        CHECK(v->port() == r.port);
        CHECK(v->cport() == r.cport);
        CHECK(v->master() == r.master);
        if (v->is_master()) CHECK(v->config_epoch() == r.config_epoch);
    }
}

TEST_CASE("[node-view] views compare by the node they show", "[unit][node-view]") {
    const ClusterState st = loaded(kNow);
    const NodeView me = st.myself();
    const NodeView copy = me;
    CHECK(copy == me);
    CHECK(st.find(id(kMyId)) == me);
    CHECK(st.myself() == me);
    CHECK_FALSE(st.find(id(kReplicaA)) == me);
    // Another state loaded from the same file holds other nodes.
    const ClusterState other = loaded(kNow);
    CHECK_FALSE(other.myself() == me);
}

TEST_CASE("[node-view] slot_owner and slots_of follow the slot table", "[unit][node-view]") {
    const ClusterState st = loaded(kNow);
    CHECK(st.slot_owner(0) == st.myself());
    CHECK(st.slot_owner(99) == st.myself());
    REQUIRE(st.slot_owner(100));
    CHECK(st.slot_owner(100)->id() == id(kOtherMaster));
    CHECK_FALSE(st.slot_owner(200).has_value());
    CHECK_FALSE(st.slot_owner(kSlotCount).has_value());  // out of range: nobody's

    const SlotBitmap mine = st.slots_of(st.myself());
    CHECK(mine.count() == 100);
    CHECK(mine.test(0));
    CHECK(mine.test(99));
    CHECK_FALSE(mine.test(100));
    CHECK(st.slots_of(*st.find(id(kOtherReplica))).count() == 0);
}

TEST_CASE("[node-view] add_slots shows in slot_owner, slot_count and slots_of",
          "[unit][node-view]") {
    ClusterState st(config(), kNow, std::nullopt);
    CHECK_FALSE(st.slot_owner(7).has_value());
    CHECK(st.myself().slot_count() == 0);
    CHECK_FALSE(st.myself().serves_slots());

    Output out;
    REQUIRE(st.add_slots(kNow, {7, 8, 9}, out).ok);
    CHECK(st.slot_owner(7) == st.myself());
    CHECK(st.slot_owner(9) == st.myself());
    CHECK_FALSE(st.slot_owner(10).has_value());
    CHECK(st.myself().slot_count() == 3);
    CHECK(st.myself().serves_slots());
    CHECK(st.slots_of(st.myself()).count() == 3);
}

TEST_CASE("[node-view] replicas_of lists a master's replicas in id order", "[unit][node-view]") {
    const ClusterState st = loaded(kNow);
    std::vector<NodeId> mine;
    for (const NodeView r : st.replicas_of(id(kMyId)))
        mine.push_back(r.id());
    CHECK(mine == std::vector<NodeId>{id(kReplicaA), id(kReplicaE)});

    const std::vector<NodeView> others = st.replicas_of(id(kOtherMaster));
    REQUIRE(others.size() == 1);
    CHECK(others[0] == *st.find(id(kOtherReplica)));
    CHECK(st.replicas_of(id(kReplicaA)).empty());
}

TEST_CASE("[node-view] for_each_node visits every node once, in id order, handshakes included",
          "[unit][node-view]") {
    ClusterState st = loaded(kNow);
    Output out;
    REQUIRE(st.meet(kNow, "127.0.0.9", 30509, 40509, out).ok);

    std::vector<NodeId> ids;
    std::size_t handshakes = 0;
    st.for_each_node([&](NodeView n) {
        ids.push_back(n.id());
        if (n.in_handshake()) {
            ++handshakes;
            CHECK(n.ip() == "127.0.0.9");
            CHECK(n.port() == 30509);
            CHECK(n.cport() == 40509);
        }
        CHECK(st.find(n.id()) == n);
    });
    CHECK(ids.size() == st.node_count());
    CHECK(ids.size() == 6);
    CHECK(handshakes == 1);
    for (std::size_t i = 1; i < ids.size(); ++i)
        CHECK(ids[i - 1] < ids[i]);
    // A handshake node is nobody's replica.
    CHECK(st.replicas_of(id(kMyId)).size() == 2);
}

}  // namespace unit_node_view_test
