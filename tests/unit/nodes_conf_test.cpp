// Unit tests of the nodes.conf / CLUSTER NODES text format against real redis-server 7.0 output.
#include <catch2/catch.hpp>

#include "../common/reply_samples.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "gossipcluster/storage/nodes_conf.hpp"

namespace unit_nodes_conf_test {

using namespace gossipcluster;

namespace {

// Node names and lines below are copied from shared/reference/reply-samples.txt (redis-server
// 7.0.15, six nodes on 127.0.0.1:30500-30505, node 30501 announcing hostname node-1.test).
constexpr std::string_view kId30500 = "b93c8673c83a1f8aadcf25d0b8204837277b90fc";
constexpr std::string_view kId30501 = "ca7dd988bdb7db78d1a3d974d409888aacfcf1e0";
constexpr std::string_view kId30502 = "9c429edd608657366c136fa4c85130923db6cbb9";
constexpr std::string_view kId30503 = "ca56ef5f38a1fa8736f7667bc1b7231358c73326";
constexpr std::string_view kId30504 = "2dceb86f8f2d09091bfd378d8149b39a0aa34bb4";
constexpr std::string_view kId30505 = "946fa60463aa3e42227cf740d03a65181276daf2";

NodeId id(std::string_view text) {
    auto parsed = NodeId::parse(text);
    REQUIRE(parsed);
    return *parsed;
}

constexpr std::uint16_t kMaster = node_flag::kMaster;
constexpr std::uint16_t kSlave = node_flag::kSlave;
constexpr std::uint16_t kMyself = node_flag::kMyself;
constexpr std::uint16_t kFail = node_flag::kFail;

struct Spec {
    std::string_view id;
    std::uint16_t port;
    std::uint16_t flags;
    std::string_view master;  // empty: none
    std::uint64_t ping;
    std::uint64_t pong;
    Epoch epoch;
    bool connected;
    std::vector<std::pair<std::size_t, std::size_t>> ranges;
};

// The sample cluster uses 127.0.0.1, bus port = port + 10000, and only 30501 has a hostname.
NodeRecord sample_node(const Spec& s) {
    NodeRecord n;
    n.id = id(s.id);
    n.ip = "127.0.0.1";
    n.port = s.port;
    n.cport = static_cast<std::uint16_t>(s.port + 10000);
    if (s.port == 30501) n.hostname = "node-1.test";
    n.flags = s.flags;
    if (!s.master.empty()) n.master = id(s.master);
    n.ping_sent_ms = s.ping;
    n.pong_received_ms = s.pong;
    n.config_epoch = s.epoch;
    n.connected = s.connected;
    for (auto [a, b] : s.ranges)
        n.slots.set_range(a, b);
    return n;
}

std::string render_block(const std::vector<NodeRecord>& nodes) {
    std::string out;
    for (const auto& n : nodes)
        out += render_node_line(n, {NodeLineTarget::kClusterNodes}) + "\n";
    return out;
}

std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        auto nl = text.find('\n');
        lines.push_back(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    }
    return lines;
}

// `CLUSTER NODES` on port 30500 (bulk length 763).
const std::string kSampleNodes(test_data::kSampleClusterNodes);

// `CLUSTER NODES with failed nodes` on port 30500 (bulk length 805).
const std::string kSampleFailed =
    "9c429edd608657366c136fa4c85130923db6cbb9 127.0.0.1:30502@40502 master - 0 1795316525000 3 "
    "connected 10923-16383\n"
    "b93c8673c83a1f8aadcf25d0b8204837277b90fc 127.0.0.1:30500@40500 myself,master - 0 "
    "1795316526000 1 connected 1-5460\n"
    "ca7dd988bdb7db78d1a3d974d409888aacfcf1e0 127.0.0.1:30501@40501,node-1.test master,fail - "
    "1795316519907 1795316517395 7 disconnected 0 5461-10922\n"
    "ca56ef5f38a1fa8736f7667bc1b7231358c73326 127.0.0.1:30503@40503 slave "
    "9c429edd608657366c136fa4c85130923db6cbb9 0 1795316526442 3 connected\n"
    "2dceb86f8f2d09091bfd378d8149b39a0aa34bb4 127.0.0.1:30504@40504 slave "
    "b93c8673c83a1f8aadcf25d0b8204837277b90fc 0 1795316526040 1 connected\n"
    "946fa60463aa3e42227cf740d03a65181276daf2 127.0.0.1:30505@40505 slave,fail "
    "ca7dd988bdb7db78d1a3d974d409888aacfcf1e0 1795316518400 1795316516000 7 disconnected\n";

// `CLUSTER NODES on the source while slot 0 is MIGRATING` (bulk length 810).
const std::string kSampleMigrating =
    "9c429edd608657366c136fa4c85130923db6cbb9 127.0.0.1:30502@40502 master - 0 1795316511000 3 "
    "connected 10923-16383\n"
    "b93c8673c83a1f8aadcf25d0b8204837277b90fc 127.0.0.1:30500@40500 myself,master - 0 "
    "1795316511000 1 connected 0-5460 [0->-ca7dd988bdb7db78d1a3d974d409888aacfcf1e0]\n"
    "ca7dd988bdb7db78d1a3d974d409888aacfcf1e0 127.0.0.1:30501@40501,node-1.test master - 0 "
    "1795316512000 2 connected 5461-10922\n"
    "ca56ef5f38a1fa8736f7667bc1b7231358c73326 127.0.0.1:30503@40503 slave "
    "9c429edd608657366c136fa4c85130923db6cbb9 0 1795316512375 3 connected\n"
    "2dceb86f8f2d09091bfd378d8149b39a0aa34bb4 127.0.0.1:30504@40504 slave "
    "b93c8673c83a1f8aadcf25d0b8204837277b90fc 0 1795316511000 1 connected\n"
    "946fa60463aa3e42227cf740d03a65181276daf2 127.0.0.1:30505@40505 slave "
    "ca7dd988bdb7db78d1a3d974d409888aacfcf1e0 0 1795316512576 2 connected\n";

// `CLUSTER NODES on the target while slot 0 is IMPORTING` (bulk length 810).
const std::string kSampleImporting =
    "9c429edd608657366c136fa4c85130923db6cbb9 127.0.0.1:30502@40502 master - 0 1795316511000 3 "
    "connected 10923-16383\n"
    "ca7dd988bdb7db78d1a3d974d409888aacfcf1e0 127.0.0.1:30501@40501,node-1.test myself,master - 0 "
    "1795316512000 2 connected 5461-10922 [0-<-b93c8673c83a1f8aadcf25d0b8204837277b90fc]\n"
    "ca56ef5f38a1fa8736f7667bc1b7231358c73326 127.0.0.1:30503@40503 slave "
    "9c429edd608657366c136fa4c85130923db6cbb9 0 1795316512573 3 connected\n"
    "2dceb86f8f2d09091bfd378d8149b39a0aa34bb4 127.0.0.1:30504@40504 slave "
    "b93c8673c83a1f8aadcf25d0b8204837277b90fc 0 1795316511369 1 connected\n"
    "946fa60463aa3e42227cf740d03a65181276daf2 127.0.0.1:30505@40505 slave "
    "ca7dd988bdb7db78d1a3d974d409888aacfcf1e0 0 1795316512372 2 connected\n"
    "b93c8673c83a1f8aadcf25d0b8204837277b90fc 127.0.0.1:30500@40500 master - 0 1795316511068 1 "
    "connected 0-5460\n";

// `CLUSTER NODES on a replica`: the myself,slave line of port 30504.
const std::string kSampleReplicaMyself =
    "2dceb86f8f2d09091bfd378d8149b39a0aa34bb4 127.0.0.1:30504@40504 myself,slave "
    "b93c8673c83a1f8aadcf25d0b8204837277b90fc 0 1795316506000 1 connected";

const std::string kVars = "vars currentEpoch 7 lastVoteEpoch 7\n";

// CLUSTER NODES grammar by default: most samples here are replies or single lines, not files.
ParseResult parse_ok(std::string_view text, NodeLineTarget source = NodeLineTarget::kClusterNodes) {
    auto r = parse_nodes_conf(text, source);
    INFO((r.error ? r.error->describe() : std::string("ok")));
    REQUIRE(r.ok());
    REQUIRE_FALSE(r.error);
    return r;
}

}  // namespace

TEST_CASE("[nodes-conf] flags render in Redis order and parse back", "[unit][nodes-conf]") {
    CHECK(render_flags(0) == "noflags");
    CHECK(render_flags(node_flag::kMeet | node_flag::kMigrateTo) == "noflags");
    CHECK(render_flags(0xffff) == "myself,master,slave,fail?,fail,handshake,noaddr,nofailover");
    CHECK(render_flags(kMyself | kMaster) == "myself,master");
    CHECK(render_flags(kSlave | kFail) == "slave,fail");
    CHECK(render_flags(kMaster | node_flag::kPfail | node_flag::kNoFailover) ==
          "master,fail?,nofailover");

    const std::uint16_t printable = kMyself | kMaster | kSlave | node_flag::kPfail | kFail |
                                    node_flag::kHandshake | node_flag::kNoAddr |
                                    node_flag::kNoFailover;
    for (unsigned f = 0; f < 1024; ++f) {
        auto flags = static_cast<std::uint16_t>(f & printable);
        auto parsed = parse_flags(render_flags(flags));
        REQUIRE(parsed);
        REQUIRE(*parsed == flags);
    }
    CHECK(parse_flags("noflags") == std::uint16_t{0});
    CHECK(parse_flags("master,noflags") == kMaster);
    CHECK(parse_flags("slave,myself") == (kMyself | kSlave));
    CHECK_FALSE(parse_flags(""));
    CHECK_FALSE(parse_flags("master,"));
    CHECK_FALSE(parse_flags(",master"));
    CHECK_FALSE(parse_flags("master,,slave"));
    CHECK_FALSE(parse_flags("primary"));
    CHECK_FALSE(parse_flags("meet"));
    CHECK_FALSE(parse_flags("Master"));
}

TEST_CASE("[nodes-conf] renders the CLUSTER NODES replies of redis-server 7.0 byte for byte",
          "[unit][nodes-conf]") {
    SECTION("six healthy nodes, hostname on one master") {
        std::vector<NodeRecord> nodes{
            sample_node(
                {kId30502, 30502, kMaster, {}, 0, 1795316506000, 3, true, {{10923, 16383}}}),
            sample_node(
                {kId30500, 30500, kMyself | kMaster, {}, 0, 1795316505000, 1, true, {{0, 5460}}}),
            sample_node({kId30501, 30501, kMaster, {}, 0, 1795316505351, 2, true, {{5461, 10922}}}),
            sample_node({kId30503, 30503, kSlave, kId30502, 0, 1795316506857, 3, true, {}}),
            sample_node({kId30504, 30504, kSlave, kId30500, 0, 1795316506355, 1, true, {}}),
            sample_node({kId30505, 30505, kSlave, kId30501, 0, 1795316505552, 2, true, {}}),
        };
        auto text = render_block(nodes);
        CHECK(text.size() == 763);  // the bulk length redis-server sent
        CHECK(text == kSampleNodes);
    }
    SECTION("failed master keeps its slots, shows disconnected and fail flags") {
        std::vector<NodeRecord> nodes{
            sample_node(
                {kId30502, 30502, kMaster, {}, 0, 1795316525000, 3, true, {{10923, 16383}}}),
            sample_node(
                {kId30500, 30500, kMyself | kMaster, {}, 0, 1795316526000, 1, true, {{1, 5460}}}),
            sample_node({kId30501,
                         30501,
                         kMaster | kFail,
                         {},
                         1795316519907,
                         1795316517395,
                         7,
                         false,
                         {{0, 0}, {5461, 10922}}}),
            sample_node({kId30503, 30503, kSlave, kId30502, 0, 1795316526442, 3, true, {}}),
            sample_node({kId30504, 30504, kSlave, kId30500, 0, 1795316526040, 1, true, {}}),
            sample_node({kId30505,
                         30505,
                         kSlave | kFail,
                         kId30501,
                         1795316518400,
                         1795316516000,
                         7,
                         false,
                         {}}),
        };
        auto text = render_block(nodes);
        CHECK(text.size() == 805);
        CHECK(text == kSampleFailed);
    }
    SECTION("migrating slot on the source's myself line") {
        auto me = sample_node(
            {kId30500, 30500, kMyself | kMaster, {}, 0, 1795316511000, 1, true, {{0, 5460}}});
        me.migrating.push_back({0, id(kId30501)});
        std::vector<NodeRecord> nodes{
            sample_node(
                {kId30502, 30502, kMaster, {}, 0, 1795316511000, 3, true, {{10923, 16383}}}),
            me,
            sample_node({kId30501, 30501, kMaster, {}, 0, 1795316512000, 2, true, {{5461, 10922}}}),
            sample_node({kId30503, 30503, kSlave, kId30502, 0, 1795316512375, 3, true, {}}),
            sample_node({kId30504, 30504, kSlave, kId30500, 0, 1795316511000, 1, true, {}}),
            sample_node({kId30505, 30505, kSlave, kId30501, 0, 1795316512576, 2, true, {}}),
        };
        auto text = render_block(nodes);
        CHECK(text.size() == 810);
        CHECK(text == kSampleMigrating);
    }
    SECTION("importing slot on the target's myself line, with hostname") {
        auto me = sample_node(
            {kId30501, 30501, kMyself | kMaster, {}, 0, 1795316512000, 2, true, {{5461, 10922}}});
        me.importing.push_back({0, id(kId30500)});
        std::vector<NodeRecord> nodes{
            sample_node(
                {kId30502, 30502, kMaster, {}, 0, 1795316511000, 3, true, {{10923, 16383}}}),
            me,
            sample_node({kId30503, 30503, kSlave, kId30502, 0, 1795316512573, 3, true, {}}),
            sample_node({kId30504, 30504, kSlave, kId30500, 0, 1795316511369, 1, true, {}}),
            sample_node({kId30505, 30505, kSlave, kId30501, 0, 1795316512372, 2, true, {}}),
            sample_node({kId30500, 30500, kMaster, {}, 0, 1795316511068, 1, true, {{0, 5460}}}),
        };
        auto text = render_block(nodes);
        CHECK(text.size() == 810);
        CHECK(text == kSampleImporting);
    }
    SECTION("a replica's own line") {
        auto me = sample_node(
            {kId30504, 30504, kMyself | kSlave, kId30500, 0, 1795316506000, 1, true, {}});
        CHECK(render_node_line(me, {NodeLineTarget::kClusterNodes}) == kSampleReplicaMyself);
        CHECK(render_node_line(me, {NodeLineTarget::kNodesConf}) == kSampleReplicaMyself);
    }
}

TEST_CASE("[nodes-conf] open slots: myself only, ascending, one per slot", "[unit][nodes-conf]") {
    NodeRecord n;
    n.id = id(kId30500);
    n.ip = "127.0.0.1";
    n.port = 7000;
    n.cport = 17000;
    n.flags = kMyself | kMaster;
    n.connected = true;
    n.slots.set_range(0, 2);
    n.slots.set(7);
    n.slots.set_range(16380, 16383);
    n.importing.push_back({9, id(kId30502)});
    n.migrating.push_back({12, id(kId30501)});
    n.migrating.push_back({3, id(kId30501)});
    const std::string expected =
        std::string(kId30500) +
        " 127.0.0.1:7000@17000 myself,master - 0 0 0 connected 0-2 7 16380-16383 [3->-" +
        std::string(kId30501) + "] [9-<-" + std::string(kId30502) + "] [12->-" +
        std::string(kId30501) + "]";
    CHECK(render_node_line(n) == expected);

    n.flags = kMaster;  // not myself: the open slots are not shown
    CHECK(render_node_line(n) == std::string(kId30500) +
                                     " 127.0.0.1:7000@17000 master - 0 0 0 connected 0-2 7 "
                                     "16380-16383");
}

TEST_CASE("[nodes-conf] file: every line newline-terminated, handshake skipped, vars last",
          "[unit][nodes-conf]") {
    PersistedState st;
    auto me = sample_node({kId30500, 30500, kMyself | kMaster, {}, 0, 0, 1, true, {{0, 5460}}});
    auto hs = sample_node({kId30501, 30501, node_flag::kHandshake, {}, 0, 0, 0, false, {}});
    auto replica = sample_node({kId30504, 30504, kSlave, kId30500, 0, 1795316506355, 1, true, {}});
    st.nodes = {me, hs, replica};
    st.current_epoch = 6;
    st.last_vote_epoch = 5;
    auto text = render_nodes_conf(st);
    CHECK(text == render_node_line(me) + "\n" + render_node_line(replica) + "\n" +
                      "vars currentEpoch 6 lastVoteEpoch 5\n");

    auto r = parse_ok(text);
    PersistedState without_handshake = st;
    without_handshake.nodes.erase(without_handshake.nodes.begin() + 1);
    CHECK(*r.state == without_handshake);
}

TEST_CASE("[nodes-conf] parse then render reproduces the redis-server replies",
          "[unit][nodes-conf]") {
    for (const std::string* sample :
         {&kSampleNodes, &kSampleFailed, &kSampleMigrating, &kSampleImporting}) {
        auto r = parse_ok(*sample);
        auto lines = lines_of(*sample);
        REQUIRE(r.state->nodes.size() == lines.size());
        for (std::size_t i = 0; i < lines.size(); ++i)
            CHECK(render_node_line(r.state->nodes[i], {NodeLineTarget::kClusterNodes}) == lines[i]);
        // The file form appends the vars line; parsing it again gives the same state.
        auto file = *sample + kVars;
        CHECK(render_nodes_conf(*r.state) == *sample + "vars currentEpoch " +
                                                 std::to_string(r.state->current_epoch) +
                                                 " lastVoteEpoch 0\n");
        auto again = parse_ok(file);
        auto again_text = render_nodes_conf(*again.state);
        CHECK(again_text == file);
        CHECK(parse_ok(again_text).state == again.state);
    }

    auto failed = parse_ok(kSampleFailed);
    const auto& st = *failed.state;
    REQUIRE(st.myself());
    CHECK(st.myself()->id == id(kId30500));
    CHECK(st.current_epoch == 7);  // raised to the highest configEpoch in the file
    const auto& fail_master = st.nodes[2];
    CHECK(fail_master.hostname == "node-1.test");
    CHECK(fail_master.flags == (kMaster | kFail));
    CHECK_FALSE(fail_master.connected);
    CHECK(fail_master.ping_sent_ms == 1795316519907);
    CHECK(fail_master.pong_received_ms == 1795316517395);
    CHECK(fail_master.slots.count() == 1 + (10922 - 5461 + 1));
    CHECK(fail_master.slots.test(0));
    CHECK_FALSE(fail_master.slots.test(1));
    CHECK(st.nodes[5].master == id(kId30501));
    CHECK(st.nodes[5].config_epoch == 7);

    auto migrating = parse_ok(kSampleMigrating);
    const auto* me = migrating.state->myself();
    REQUIRE(me);
    REQUIRE(me->migrating.size() == 1);
    CHECK(me->migrating[0] == OpenSlot{0, id(kId30501)});
    CHECK(me->importing.empty());
    auto importing = parse_ok(kSampleImporting);
    me = importing.state->myself();
    REQUIRE(me);
    REQUIRE(me->importing.size() == 1);
    CHECK(me->importing[0] == OpenSlot{0, id(kId30500)});
}

TEST_CASE("[nodes-conf] the illustrative 7.0 and 7.2 files of the reference load",
          "[unit][nodes-conf]") {
    // cluster-bus.md section 2.1, "# 7.0".
    const std::string v70 =
        "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001,host-a myself,master - 0 "
        "0 1 connected 0-5460 [5461->-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]\n"
        "07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004 slave "
        "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 1 connected\n"
        "vars currentEpoch 6 lastVoteEpoch 0\n";
    auto r = parse_ok(v70);
    const auto& st = *r.state;
    REQUIRE(st.nodes.size() == 2);
    CHECK(st.current_epoch == 6);
    CHECK(st.last_vote_epoch == 0);
    const auto& me = st.nodes[0];
    CHECK(me.id == id("e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca"));
    CHECK(me.ip == "127.0.0.1");
    CHECK(me.port == 30001);
    CHECK(me.cport == 31001);
    CHECK(me.hostname == "host-a");
    CHECK(me.flags == (kMyself | kMaster));
    CHECK(me.connected);
    CHECK(me.slots.count() == 5461);
    REQUIRE(me.migrating.size() == 1);
    CHECK(me.migrating[0] == OpenSlot{5461, id("67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1")});
    const auto& replica = st.nodes[1];
    CHECK(replica.flags == kSlave);
    CHECK(replica.master == me.id);
    CHECK(replica.pong_received_ms == 1426238317239);
    CHECK(replica.config_epoch == 1);
    CHECK(render_nodes_conf(st) == v70);

    // "# 7.2": the reference writes the shard id as a `<40 hex>` placeholder; a real one here.
    const std::string v72 =
        "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001,,tls-port=0,shard-id="
        "3fa3b6f1c2d4e5a6b7c8d9e0f1a2b3c4d5e6f7a8 myself,master - 0 0 1 connected 0-5460\n";
    auto r72 = parse_ok(v72);
    const auto& me72 = r72.state->nodes.at(0);
    CHECK(me72.hostname.empty());
    CHECK(me72.port == 30001);
    CHECK(me72.cport == 31001);
    CHECK(me72.slots.count() == 5461);
    CHECK(r72.state->current_epoch == 1);
    // The aux fields are dropped: we write the 7.0 form.
    CHECK(render_nodes_conf(*r72.state) ==
          "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 "
          "connected 0-5460\nvars currentEpoch 1 lastVoteEpoch 0\n");
    // With a hostname and the aux fields after it.
    auto r72h = parse_ok(
        "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001,host-a,nodename=n1,"
        "tcp-port=30001 myself,master - 0 0 1 connected\n");
    CHECK(r72h.state->nodes.at(0).hostname == "host-a");
}

TEST_CASE("[nodes-conf] addresses: IPv6, empty own ip, default bus port, CRLF, blank lines",
          "[unit][nodes-conf]") {
    const std::string me = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca";
    auto one = [&](std::string_view addr) {
        return parse_ok(me + " " + std::string(addr) + " myself,master - 0 0 0 connected\n")
            .state->nodes.at(0);
    };
    auto v6 = one("::1:30001@40001");
    CHECK(v6.ip == "::1");
    CHECK(v6.port == 30001);
    CHECK(v6.cport == 40001);
    CHECK(render_node_line(v6) == me + " ::1:30001@40001 myself,master - 0 0 0 connected");

    auto v6long = one("2001:db8::7:6379@16379,db.example");
    CHECK(v6long.ip == "2001:db8::7");
    CHECK(v6long.port == 6379);
    CHECK(v6long.hostname == "db.example");

    auto fresh = one(":30001@40001");  // a node that has not learnt its own address yet
    CHECK(fresh.ip.empty());
    CHECK(fresh.port == 30001);
    CHECK(render_node_line(fresh) == me + " :30001@40001 myself,master - 0 0 0 connected");

    auto old = one("127.0.0.1:30001");  // no @cport: port + 10000
    CHECK(old.cport == 40001);

    auto crlf = parse_ok("\n\r\n" + me + " 127.0.0.1:1@2 myself,master - 0 0 3 connected 5\r\n\n" +
                         "vars currentEpoch 2 lastVoteEpoch 1 futureVar x\r\n\n\n");
    CHECK(crlf.state->nodes.size() == 1);
    CHECK(crlf.state->current_epoch == 3);
    CHECK(crlf.state->last_vote_epoch == 1);
}

namespace {

struct Corruption {
    std::string name;
    std::size_t replace_line;  // 1-based line of the base file to replace; 0: append `text`
    std::string text;          // replacement line including its '\n' ("" deletes the line)
    std::size_t expect_line;
    std::string expect_reason;  // substring of the reason
};

// Line 1: myself master, line 2: replica, line 3: master, line 4: vars.
const std::string kBaseLines[] = {
    "b93c8673c83a1f8aadcf25d0b8204837277b90fc 127.0.0.1:30500@40500,node-0 myself,master - 0 "
    "1795316505000 1 connected 0-5460 [5->-9c429edd608657366c136fa4c85130923db6cbb9]\n",
    "2dceb86f8f2d09091bfd378d8149b39a0aa34bb4 127.0.0.1:30504@40504 slave "
    "b93c8673c83a1f8aadcf25d0b8204837277b90fc 0 1795316506355 1 connected\n",
    "9c429edd608657366c136fa4c85130923db6cbb9 127.0.0.1:30502@40502 master - 0 1795316506000 3 "
    "connected 10923-16383 5461\n",
    "vars currentEpoch 7 lastVoteEpoch 7\n",
};

std::string base_file() {
    std::string s;
    for (const auto& l : kBaseLines)
        s += l;
    return s;
}

const std::string kReplica = "2dceb86f8f2d09091bfd378d8149b39a0aa34bb4 ";
const std::string kMasterC = "9c429edd608657366c136fa4c85130923db6cbb9 127.0.0.1:30502@40502 ";

}  // namespace

TEST_CASE("[nodes-conf] corrupt files are rejected with line number and reason",
          "[unit][nodes-conf]") {
    const std::string master_b = "b93c8673c83a1f8aadcf25d0b8204837277b90fc";
    const std::string tail = " slave " + master_b + " 0 1 1 connected\n";
    const std::vector<Corruption> cases{
        {"short line", 2, kReplica + "127.0.0.1:30504@40504 slave " + master_b + " 0 1 1\n", 2,
         "fields"},
        {"id of 39 characters", 2,
         "2dceb86f8f2d09091bfd378d8149b39a0aa34bb 127.0.0.1:30504@40504" + tail, 2, "node id"},
        {"id with upper case", 2,
         "2DCEB86F8F2D09091BFD378D8149B39A0AA34BB4 127.0.0.1:30504@40504" + tail, 2, "node id"},
        {"port not a number", 2, kReplica + "127.0.0.1:30x04@40504" + tail, 2, "port"},
        {"port above 65535", 2, kReplica + "127.0.0.1:65536@40504" + tail, 2, "port"},
        {"empty port", 2, kReplica + "127.0.0.1:@40504" + tail, 2, "port"},
        {"address without colon", 2, kReplica + "127.0.0.1@40504" + tail, 2, ":port"},
        {"bus port not a number", 2, kReplica + "127.0.0.1:30504@4x" + tail, 2, "bus port"},
        {"bus port above 65535", 2, kReplica + "127.0.0.1:30504@99999" + tail, 2, "bus port"},
        {"no bus port and port too high", 2, kReplica + "127.0.0.1:60000" + tail, 2, "65535"},
        {"aux field without =", 2, kReplica + "127.0.0.1:30504@40504,host,bogus" + tail, 2,
         "aux field"},
        {"bad flags (empty name)", 2,
         kReplica + "127.0.0.1:30504@40504 slave,,fail " + master_b + " 0 1 1 connected\n", 2,
         "flags"},
        {"unknown flag", 2,
         kReplica + "127.0.0.1:30504@40504 replica " + master_b + " 0 1 1 connected\n", 2, "flags"},
        {"bad master id", 2,
         kReplica + "127.0.0.1:30504@40504 slave b93c8673c83a1f8aadcf 0 1 1 connected\n", 2,
         "master id"},
        {"slot not a number", 3, kMasterC + "master - 0 1 3 connected 10923-16383 54x1\n", 3,
         "slot"},
        {"slot 16384", 3, kMasterC + "master - 0 1 3 connected 10923-16384\n", 3, "slot"},
        {"slot listed twice", 3, kMasterC + "master - 0 1 3 connected 10923-16383 16000\n", 3,
         "twice"},
        {"open slot listed twice", 1,
         master_b + " 127.0.0.1:30500@40500 myself,master - 0 1 1 connected [5->-" + master_b +
             "] [5->-" + master_b + "]\n",
         1, "twice"},
        {"reversed range", 3, kMasterC + "master - 0 1 3 connected 16383-10923\n", 3, "reversed"},
        {"range with empty end", 3, kMasterC + "master - 0 1 3 connected 10923-\n", 3, "slot"},
        {"open slot on another node's line", 3,
         kMasterC + "master - 0 1 3 connected [7-<-" + master_b + "]\n", 3, "myself"},
        {"bad open slot arrow", 1,
         master_b + " 127.0.0.1:30500@40500 myself,master - 0 1 1 connected [5-->" + master_b +
             "]\n",
         1, "open slot"},
        {"open slot out of range", 1,
         master_b + " 127.0.0.1:30500@40500 myself,master - 0 1 1 connected [16384->-" + master_b +
             "]\n",
         1, "open slot"},
        {"epoch not a number", 3, kMasterC + "master - 0 1 3x connected\n", 3, "configEpoch"},
        {"negative epoch", 3, kMasterC + "master - 0 1 -3 connected\n", 3, "configEpoch"},
        {"epoch overflows 64 bits", 3, kMasterC + "master - 0 1 18446744073709551616 connected\n",
         3, "configEpoch"},
        {"ping with a sign", 3, kMasterC + "master - +5 1 3 connected\n", 3, "ping_sent"},
        {"pong garbage", 3, kMasterC + "master - 0 1e9 3 connected\n", 3, "pong_received"},
        {"bad link state", 3, kMasterC + "master - 0 1 3 linked\n", 3, "link state"},
        {"no myself line", 1, master_b + " 127.0.0.1:30500@40500 master - 0 1 1 connected 0-5460\n",
         5, "myself"},
        {"two myself lines", 3, kMasterC + "myself,master - 0 1 3 connected\n", 3, "myself"},
        {"duplicate id", 3,
         kReplica + "127.0.0.1:30502@40502 master - 0 1 3 connected 10923-16383\n", 3, "duplicate"},
        {"vars arity", 4, "vars currentEpoch 7 lastVoteEpoch\n", 4, "vars"},
        {"vars number", 4, "vars currentEpoch 7 lastVoteEpoch seven\n", 4, "lastVoteEpoch"},
        {"vars overflow", 4, "vars currentEpoch 99999999999999999999 lastVoteEpoch 0\n", 4,
         "currentEpoch"},
        {"garbage bytes", 2, "\xff\xfe\x01garbage\x80\n", 2, "fields"},
        {"garbage node line", 2, "\xff\xfe\x01 \x80 \x81 \x82 \x83 \x84 \x85 \x86\n", 2, "node id"},
        {"NUL inside the id", 2,
         std::string("2dceb86f8f2d09091bfd378d8149b39a0aa34bb\0 127.0.0.1:30504@40504", 62) + tail,
         2, "node id"},
        {"NUL inside the hostname", 2,
         kReplica + std::string("127.0.0.1:30504@40504,ho\0st", 27) + tail, 2, "character"},
        {"last line without newline", 4, "vars currentEpoch 7 lastVoteEpoch 7", 4, "newline"},
        {"vars line missing", 4, "", 4, "no vars line"},
        {"node line after vars", 0, kReplica + "127.0.0.1:30509@40509" + tail, 5, "after the vars"},
        {"node in handshake", 3, kMasterC + "handshake - 0 1 0 disconnected\n", 3, "handshake"},
        {"slot both migrating and importing", 1,
         master_b + " 127.0.0.1:30500@40500 myself,master - 0 1 1 connected [5->-" + master_b +
             "] [5-<-" + master_b + "]\n",
         1, "both"},
    };
    REQUIRE(cases.size() >= 15);
    for (const auto& c : cases) {
        std::string text;
        for (std::size_t i = 0; i < 4; ++i)
            text += (i + 1 == c.replace_line) ? c.text : kBaseLines[i];
        if (c.replace_line == 0) text += c.text;
        auto r = parse_nodes_conf(text);
        INFO(c.name);
        INFO((r.error ? r.error->describe() : std::string("accepted")));
        REQUIRE_FALSE(r.ok());
        REQUIRE(r.error);
        CHECK(r.error->line == c.expect_line);
        CHECK_THAT(r.error->reason, Catch::Contains(c.expect_reason));
        // Error text quotes hostile input escaped: no raw control bytes.
        CHECK(std::all_of(r.error->reason.begin(), r.error->reason.end(),
                          [](char ch) { return ch >= 0x20 && ch < 0x7f; }));
    }
    // The unmodified base is valid: each failure above is caused by its own change.
    auto ok = parse_ok(base_file());
    CHECK(ok.state->nodes.size() == 3);
}

// A real multi-node file: the node lines redis-server 7.0.15 printed while slot 0 was migrating,
// with its vars line last, as Redis writes nodes.conf.
const std::string kRealFile = kSampleMigrating + kVars;

TEST_CASE("[nodes-conf] a file cut at any byte, line boundaries included, is refused",
          "[unit][nodes-conf][truncation]") {
    const std::string& file = kRealFile;
    const auto whole = parse_ok(file, NodeLineTarget::kNodesConf);
    REQUIRE(whole.state->nodes.size() == 6);
    REQUIRE(whole.state->last_vote_epoch == 7);
    std::size_t boundaries = 0;
    for (std::size_t cut = 0; cut <= file.size(); ++cut) {
        const std::string_view kept = std::string_view(file).substr(0, cut);
        auto r = parse_nodes_conf(kept);
        INFO("cut at byte " << cut << " of " << file.size());
        if (cut == file.size()) {
            REQUIRE(r.ok());
            CHECK(*r.state == *whole.state);
            continue;
        }
        if (cut > 0 && file[cut - 1] == '\n') ++boundaries;
        // Never a partial state: the node lines before the cut may all be intact, but the vars
        // line (lastVoteEpoch) is gone, or the last line is cut inside a field.
        REQUIRE_FALSE(r.ok());
        REQUIRE(r.error);
        CHECK(r.error->line >= 1);
        CHECK_FALSE(r.error->reason.empty());
    }
    CHECK(boundaries == 6);  // the cut after every node line was tried, and the empty file
}

TEST_CASE("[nodes-conf] a file whose vars line is missing, early or incomplete is refused",
          "[unit][nodes-conf][truncation]") {
    struct Case {
        std::string text;
        std::size_t line;
        std::string reason;
    };
    const std::string me =
        "b93c8673c83a1f8aadcf25d0b8204837277b90fc 127.0.0.1:30500@40500 "
        "myself,master - 0 1795316505000 1 connected 0-5460\n";
    const std::string peer =
        "9c429edd608657366c136fa4c85130923db6cbb9 127.0.0.1:30502@40502 "
        "master - 0 1795316506000 3 connected 10923-16383\n";
    const std::vector<Case> cases{
        {"", 1, "myself"},
        {me, 2, "no vars line"},
        {me + peer + "\n\n", 5, "no vars line"},
        {me + kVars + peer, 3, "after the vars line"},
        {me + kVars + kVars, 3, "second vars line"},
        {me + "vars currentEpoch 7\n", 2, "lastVoteEpoch"},
        {me + "vars lastVoteEpoch 7\n", 2, "currentEpoch"},
        {me + "vars\n", 2, "currentEpoch"},
    };
    for (const auto& c : cases) {
        auto r = parse_nodes_conf(c.text);
        INFO(c.text);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error->line == c.line);
        CHECK_THAT(r.error->reason, Catch::Contains(c.reason));
    }
    // Redis pads a shorter rewrite with newlines: blank lines after the vars line are fine.
    auto padded = parse_ok(me + peer + kVars + "\n\n", NodeLineTarget::kNodesConf);
    CHECK(padded.state->last_vote_epoch == 7);
    // A CLUSTER NODES reply has no vars line.
    CHECK(parse_ok(me + peer, NodeLineTarget::kClusterNodes).state->nodes.size() == 2);
}

TEST_CASE("[nodes-conf] random byte damage never crashes and loaded states re-render",
          "[unit][nodes-conf]") {
    const std::string file = kSampleFailed + kVars;
    std::mt19937 rng(20240611);
    std::size_t loaded = 0;
    for (int round = 0; round < 3000; ++round) {
        std::string damaged = file;
        int edits = 1 + static_cast<int>(rng() % 3);
        for (int e = 0; e < edits; ++e) {
            std::size_t at = rng() % damaged.size();
            switch (rng() % 3) {
                case 0:
                    damaged[at] = static_cast<char>(rng() & 0xff);
                    break;
                case 1:
                    damaged.erase(at, 1 + rng() % 8);
                    break;
                default:
                    damaged.insert(at, 1, " -:@,\n[]0"[rng() % 9]);
                    break;
            }
            if (damaged.empty()) damaged = "x";
        }
        auto r = parse_nodes_conf(damaged);
        REQUIRE(r.ok() != r.error.has_value());
        if (r.ok()) {
            ++loaded;
            auto again = parse_nodes_conf(render_nodes_conf(*r.state));
            INFO(damaged);
            REQUIRE(again.ok());
            CHECK(*again.state == *r.state);
        }
    }
    CHECK(loaded > 0);
}

TEST_CASE("[nodes-conf] hostile sizes: many fields, many nodes", "[unit][nodes-conf]") {
    const std::string me = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca";
    const std::string head = me + " 127.0.0.1:7000@17000 myself,master - 0 0 1 connected";

    // The most slot fields a real line can have: every other slot on its own.
    std::string sparse = head;
    for (std::size_t s = 0; s < kSlotCount; s += 2)
        sparse += " " + std::to_string(s);
    auto r = parse_ok(sparse + "\n");
    CHECK(r.state->nodes.at(0).slots.count() == kSlotCount / 2);
    CHECK(render_node_line(r.state->nodes.at(0)) == sparse);

    // Four million copies of the full range: rejected at the second one, not after 6e10 steps.
    std::string bomb = head;
    bomb.reserve(head.size() + 8 * 4000000 + 1);
    for (int i = 0; i < 4000000; ++i)
        bomb += " 0-16383";
    auto rb = parse_nodes_conf(bomb + "\n");
    REQUIRE_FALSE(rb.ok());
    CHECK(rb.error->line == 1);
    CHECK_THAT(rb.error->reason, Catch::Contains("slot 0 is listed twice"));

    // Node count cap.
    std::string many = head + "\n";
    for (std::size_t i = 0; i < kMaxConfNodes; ++i)
        many += fmt::format("{:040x} 127.0.0.1:7001@17001 master - 0 0 0 disconnected\n", i + 1);
    auto rm = parse_nodes_conf(many);
    REQUIRE_FALSE(rm.ok());
    CHECK(rm.error->line == kMaxConfNodes + 1);
    CHECK_THAT(rm.error->reason, Catch::Contains("more than"));
    many.resize(many.rfind('\n', many.size() - 2) + 1);  // drop the last node: exactly at the cap
    auto at_cap = parse_ok(many);
    CHECK(at_cap.state->nodes.size() == kMaxConfNodes);
}

}  // namespace unit_nodes_conf_test
