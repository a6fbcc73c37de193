// What one node sends a peer that speaks only Redis 7.0's ping extensions, and what it sends
// peers that read them all: messages written as each kind of peer writes them, fed to one
// ClusterState, and the extensions of its answers.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include <gossipcluster/cluster_state.hpp>
#include <gossipcluster/message_format.hpp>
#include <gossipcluster/testing/cluster_setup.hpp>

namespace scenario_redis70_peer_test {

using namespace gossipcluster;

namespace {

// Four nodes: masters 0..2 and node 3, a replica of node 0. `self` is us.
constexpr std::size_t kNodes = 4;
constexpr std::size_t kMasters = 3;

NodeId name_of(std::size_t i) {
    return *NodeId::parse(fmt::format("{:040x}", 0xabc000 + i));
}

std::string ip_of(std::size_t i) {
    return fmt::format("10.2.0.{}", 1 + i);
}

Now at(std::int64_t ms) {
    return Now{Instant{ms}, 1'790'000'000'000ull + static_cast<std::uint64_t>(ms)};
}

LinkId link_of(std::size_t peer) {
    return LinkId::inbound(200 + peer);
}

// Us, node `self`, announcing a hostname and a human node name, with an inbound link from every
// other node.
struct Fixture {
    explicit Fixture(std::size_t me = 1, bool allow_migration = true)
        : self(me), st(config(me, allow_migration), at(1000), view(me)) {
        Output out;
        for (std::size_t j = 0; j < kNodes; ++j)
            if (j != self) st.on_inbound_link(at(1000), link_of(j), ip_of(j), ip_of(self), out);
    }
    static Config config(std::size_t self, bool allow_migration) {
        Config c;
        c.allow_replica_migration = allow_migration;
        c.port = 7000;
        c.cport = 17000;
        c.announce_ip = ip_of(self);
        c.announce_hostname = "me.example";
        c.human_nodename = "me-human";
        return c;
    }
    static PersistedState view(std::size_t self) {
        std::vector<NodeId> ids;
        for (std::size_t j = 0; j < kNodes; ++j)
            ids.push_back(name_of(j));
        return testing::stored_cluster_view(self, ids, kMasters, ip_of, 7000, 17000);
    }
    // The extensions of our answer to `m` from node `from`.
    std::vector<PingExtension> answer(std::size_t from, const Message& m, std::int64_t t) {
        Output out;
        st.on_message(at(t), link_of(from), m, out);
        for (const Action& a : out.actions)
            if (const auto* send = std::get_if<action::Send>(&a);
                send && send->link == link_of(from) &&
                send->message.header.type == MessageType::Pong)
                return std::get<GossipBody>(send->message.body).extensions;
        FAIL("no PONG to the PING");
        return {};
    }
    std::size_t self;
    ClusterState st;
};

// A PING from node `from` as a Redis 7.0 node writes it: no EXT_DATA and no extensions without
// a hostname, EXT_DATA and the hostname alone with one.
Message ping_from(std::size_t from, std::optional<std::string> hostname = std::nullopt) {
    Message m;
    Header& h = m.header;
    h.type = MessageType::Ping;
    h.sender = name_of(from);
    h.current_epoch = kMasters;
    const bool master = from < kMasters;
    h.config_epoch = master ? from + 1 : 1;
    const std::size_t m_of = master ? from : 0;
    h.myslots.set_range(m_of * kSlotCount / kMasters, (m_of + 1) * kSlotCount / kMasters - 1);
    if (!master) h.slaveof = name_of(0);
    h.myip.assign(ip_of(from));
    h.port = 7000;
    h.cport = 17000;
    h.flags = master ? node_flag::kMaster : node_flag::kSlave;
    GossipBody body;
    if (hostname) {
        h.mflags[0] = message_flag::kExtData;
        body.extensions.push_back(HostnameExt{*hostname});
    }
    m.body = std::move(body);
    return m;
}

std::vector<std::uint16_t> types_of(const std::vector<PingExtension>& exts) {
    std::vector<std::uint16_t> out;
    for (const auto& e : exts)
        out.push_back(detail::extension_type_id(e));
    return out;
}

const std::vector<std::uint16_t> kHostnameOnly{static_cast<std::uint16_t>(ExtensionType::Hostname)};

}  // namespace

// Redis 7.0 forgets a sender's hostname when a PING or PONG comes without the hostname extension,
// whether or not it announces a hostname itself: it must get ours in every message.
TEST_CASE("[redis70] a peer without a hostname gets ours in every answer", "[scenario][redis70]") {
    Fixture f;
    for (std::int64_t t = 2000; t < 2300; t += 100) {
        const auto exts = f.answer(2, ping_from(2), t);
        REQUIRE(types_of(exts) == kHostnameOnly);
        CHECK(std::get<HostnameExt>(exts[0]).hostname == "me.example");
    }
}

// Redis 7.0 logs a warning for every extension but the hostname, on every message: a 7.0 node
// with a hostname (EXT_DATA set, hostname alone) gets nothing else, forgotten nodes and shard id
// included.
TEST_CASE("[redis70] a peer that sends only the hostname gets only the hostname",
          "[scenario][redis70]") {
    Fixture f;
    Output out;
    REQUIRE(f.st.forget(at(1500), name_of(3).view(), out).ok);  // a FORGOTTEN_NODE candidate
    for (std::int64_t t = 2000; t < 2300; t += 100) {
        const auto exts = f.answer(2, ping_from(2, "peer-2.example"), t);
        CHECK(types_of(exts) == kHostnameOnly);
        CHECK(f.st.find(name_of(2))->hostname() == "peer-2.example");
    }
}

// A peer that sent an extension 7.0 does not know (Redis 7.2 always sends the shard id), or that
// advertises EXTENSIONS_SUPPORTED in its header flags (Redis 8, Valkey 8, this library), reads
// them all: it gets hostname, human node name, forgotten nodes and shard id.
TEST_CASE("[redis70] peers that read every extension get every extension", "[scenario][redis70]") {
    const auto how = GENERATE(0, 1);
    CAPTURE(how);
    Fixture f;
    Output out;
    REQUIRE(f.st.forget(at(1500), name_of(3).view(), out).ok);
    Message m = ping_from(2);
    if (how == 0) {
        m.header.mflags[0] = message_flag::kExtData;
        std::get<GossipBody>(m.body).extensions.push_back(ShardIdExt{name_of(40)});
    } else {
        m.header.flags |= node_flag::kExtensionsSupported;
    }
    const std::vector<std::uint16_t> all{static_cast<std::uint16_t>(ExtensionType::Hostname),
                                         static_cast<std::uint16_t>(ExtensionType::HumanNodename),
                                         static_cast<std::uint16_t>(ExtensionType::ForgottenNode),
                                         static_cast<std::uint16_t>(ExtensionType::ShardId)};
    CHECK(types_of(f.answer(2, m, 2000)) == all);
    // Learnt once: a later plain 7.0-looking PING still gets them all.
    CHECK(types_of(f.answer(2, ping_from(2), 2100)) == all);
}

// Our headers say we read every extension, so that two nodes of this library exchange them all
// even when both announce a hostname (a hostname alone looks like Redis 7.0).
TEST_CASE("[redis70] our headers advertise EXTENSIONS_SUPPORTED", "[scenario][redis70]") {
    Fixture f;
    Output out;
    f.st.on_message(at(2000), link_of(2), ping_from(2), out);
    bool seen = false;
    for (const Action& a : out.actions)
        if (const auto* send = std::get_if<action::Send>(&a)) {
            seen = true;
            CHECK((send->message.header.flags & node_flag::kExtensionsSupported) != 0);
        }
    CHECK(seen);
}

// Redis gives a replica the shard id of its master (7.2 ships it in the SHARDID extension and
// groups CLUSTER SHARDS by it): ours must be the master's, not a random one of our own.
TEST_CASE("[redis70] a replica sends its master's shard id", "[scenario][redis70]") {
    Fixture f(3);  // node 3: a replica of node 0
    const NodeId master_shard = name_of(77);
    Message m = ping_from(0);
    m.header.mflags[0] = message_flag::kExtData;
    std::get<GossipBody>(m.body).extensions.push_back(ShardIdExt{master_shard});
    // The PONG to that very PING is written before its extensions are read; the next one has it.
    f.answer(0, m, 2000);
    const auto exts = f.answer(0, m, 2100);
    std::optional<NodeId> sent;
    for (const auto& e : exts)
        if (const auto* s = std::get_if<ShardIdExt>(&e)) sent = s->shard_id;
    REQUIRE(sent);
    CHECK(*sent == master_shard);
    CHECK(f.st.shard_id() == master_shard);
}

// Redis 7.0 takes a sender's NOFAILOVER flag from every PING, PONG and MEET header (a replica
// started with cluster-replica-no-failover, or one that changed it by CONFIG SET): siblings rank
// themselves without it. Gossip alone only set it when the node was first learnt.
TEST_CASE("[redis70] a sender's NOFAILOVER flag follows its headers", "[scenario][redis70]") {
    Fixture f(1);
    Message m = ping_from(3);  // node 3: a replica of node 0
    m.header.flags |= node_flag::kNoFailover;
    Output out;
    f.st.on_message(at(2000), link_of(3), m, out);
    CHECK(f.st.find(name_of(3))->has(node_flag::kNoFailover));
    f.st.on_message(at(2100), link_of(3), ping_from(3), out);
    CHECK_FALSE(f.st.find(name_of(3))->has(node_flag::kNoFailover));
}

// A replica that announces itself master (it won an election) is marked MIGRATE_TO, as Redis 7.0
// marks a promoted replica: with no replicas of its own it is an orphaned master that replica
// migration refills. Unmarked, a spare replica elsewhere never moved to it.
TEST_CASE("[redis70] a promoted replica is a target of replica migration", "[scenario][redis70]") {
    Fixture f(1);
    CHECK_FALSE(f.st.find(name_of(3))->has(node_flag::kMigrateTo));
    Message m = ping_from(3);
    m.header.slaveof = NodeId{};
    m.header.flags = node_flag::kMaster;
    m.header.config_epoch = 4;
    m.header.current_epoch = 4;
    Output out;
    f.st.on_message(at(2000), link_of(3), m, out);
    REQUIRE(f.st.find(name_of(3))->is_master());
    CHECK(f.st.find(name_of(3))->has(node_flag::kMigrateTo));
}

// Our master (here: we) lost every slot to a master that claims other slots too: the slots were
// migrated, and following that master would be a replica migration, which
// cluster-allow-replica-migration no forbids (Redis 7.0 stays a master without slots). A claim of
// our slots alone is a failover in our own shard, followed either way.
TEST_CASE(
    "[redis70] allow_replica_migration decides whether a master emptied by a migration "
    "follows",
    "[scenario][redis70]") {
    const bool allow = GENERATE(false, true);
    const bool ours_only = GENERATE(false, true);
    CAPTURE(allow, ours_only);
    Fixture f(1, allow);
    Message m = ping_from(2);
    m.header.config_epoch = 10;
    m.header.current_epoch = 10;
    m.header.myslots = SlotBitmap{};
    m.header.myslots.set_range(kSlotCount / kMasters, 2 * kSlotCount / kMasters - 1);  // ours
    if (!ours_only) m.header.myslots.set_range(2 * kSlotCount / kMasters, kSlotCount - 1);
    Output out;
    f.st.on_message(at(2000), link_of(2), m, out);
    CHECK(f.st.myself().slot_count() == 0);
    const bool follows = allow || ours_only;
    CHECK(f.st.myself().is_replica() == follows);
    CHECK(f.st.myself().is_master() == !follows);
}

// Node 2 stopped claiming the top of its range (a migration we have not heard the end of): those
// slots stay routed to it but are disowned. When node 1 claims one of node 2's slots with an older
// epoch, our UPDATE about node 2 must leave the disowned slots out, as Redis 7.0 masks them:
// node 1 would otherwise bind them to node 2's epoch, and their next claimant would lose.
TEST_CASE("[redis70] an UPDATE leaves out the slots their owner stopped claiming",
          "[scenario][redis70]") {
    Fixture f(0);
    const std::size_t first2 = 2 * kSlotCount / kMasters;
    Message from2 = ping_from(2);
    from2.header.myslots = SlotBitmap{};
    from2.header.myslots.set_range(first2, 16000);
    Output out;
    f.st.on_message(at(2000), link_of(2), from2, out);
    REQUIRE(f.st.slot_owner(16100)->id() == name_of(2));  // still routed to node 2

    Message stale = ping_from(1);
    stale.header.myslots.set(first2);  // node 2's slot, claimed at node 1's older epoch
    out = Output{};
    f.st.on_message(at(2100), link_of(1), stale, out);
    std::optional<UpdateBody> update;
    for (const Action& a : out.actions)
        if (const auto* send = std::get_if<action::Send>(&a);
            send && send->link == link_of(1) && send->message.header.type == MessageType::Update)
            update = std::get<UpdateBody>(send->message.body);
    REQUIRE(update);
    CHECK(update->node == name_of(2));
    CHECK(update->config_epoch == 3);
    SlotBitmap expected;
    expected.set_range(first2, 16000);
    CHECK(update->slots == expected);
}

// Node 3 won an election for node 0's slots and said so; a PING it wrote as a replica just
// before, on its other link, arrives after that. Its header carries node 0's older epoch: stale,
// it must not demote node 3 and leave node 0's slots without an owner. A header at the new
// master's epoch (node 2 following node 3 after losing to it) still turns a master into a replica.
TEST_CASE("[redis70] a replica header older than the master we know does not demote it",
          "[scenario][redis70]") {
    Fixture f(1);
    Message promoted = ping_from(3);
    promoted.header.slaveof = NodeId{};
    promoted.header.flags = node_flag::kMaster;
    promoted.header.config_epoch = 4;
    promoted.header.current_epoch = 4;
    promoted.header.myslots = SlotBitmap{};
    promoted.header.myslots.set_range(0, kSlotCount / kMasters - 1);
    Output out;
    f.st.on_message(at(2000), link_of(3), promoted, out);
    REQUIRE(f.st.slot_owner(0)->id() == name_of(3));

    SECTION("stale: written as node 0's replica before the promotion") {
        f.st.on_message(at(2001), link_of(3), ping_from(3), out);
        CHECK(f.st.find(name_of(3))->is_master());
        REQUIRE(f.st.slot_owner(0) != std::nullopt);
        CHECK(f.st.slot_owner(0)->id() == name_of(3));
    }
    SECTION("news: a master that lost its slots to node 3 follows it") {
        Message m = ping_from(2);
        m.header.myslots = SlotBitmap{};
        m.header.myslots.set_range(0, kSlotCount / kMasters - 1);  // node 3's claim, as its replica
        m.header.slaveof = name_of(3);
        m.header.flags = node_flag::kSlave;
        m.header.config_epoch = 4;
        m.header.current_epoch = 4;
        f.st.on_message(at(2001), link_of(2), m, out);
        CHECK(f.st.find(name_of(2))->is_replica());
        CHECK(f.st.find(name_of(3))->is_master());
    }
}

}  // namespace scenario_redis70_peer_test
