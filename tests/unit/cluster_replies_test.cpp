// Unit tests of the CLUSTER command helpers: INFO / NODES / MYID texts and the replies and errors
// of cluster_command, checked against redis-server 7.0 output.
#include <catch2/catch.hpp>

#include "../common/reply_samples.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "gossipcluster/cluster_core.hpp"
#include "gossipcluster/commands/cluster_command.hpp"
#include "gossipcluster/commands/cluster_replies.hpp"
#include "gossipcluster/commands/resp_value.hpp"
#include "gossipcluster/storage/memory_storage.hpp"
#include "gossipcluster/storage/nodes_conf.hpp"
#include "gossipcluster/testing/manual_clock.hpp"
#include "gossipcluster/testing/sim_cluster.hpp"

namespace unit_cluster_replies_test {

using namespace gossipcluster;

namespace {

const std::string& kSampleNodes = test_data::kSampleNodesConf;

// "CLUSTER NODES with failed nodes" of the same file: 30501 and its replica 30505 are down and
// 30500 took over slot 0.
constexpr std::string_view kSampleFailedNodes =
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
    "ca7dd988bdb7db78d1a3d974d409888aacfcf1e0 1795316518400 1795316516000 7 disconnected\n"
    "vars currentEpoch 7 lastVoteEpoch 0\n";

constexpr std::string_view kMyId = "b93c8673c83a1f8aadcf25d0b8204837277b90fc";

Config sample_config() {
    Config c;
    c.port = 30500;
    c.cport = 40500;
    return c;
}

PersistedState parse_sample(std::string_view text) {
    auto parsed = parse_nodes_conf(text, NodeLineTarget::kClusterNodes);
    INFO((parsed.error ? parsed.error->describe() : std::string()));
    REQUIRE(parsed.ok());
    return *parsed.state;
}

// A Transport that goes nowhere: these tests look at one node's replies only.
struct NullTransport {
    void connect(LinkId, const Endpoint&) {}
    void send(LinkId, const Message&) {}
    void close(LinkId) {}
};

using TestCore = ClusterCore<NullTransport, testing::ManualClock, MemoryStorage>;

std::vector<std::string_view> words(std::initializer_list<std::string_view> list) {
    return {list};
}

RespValue run(TestCore& core, std::initializer_list<std::string_view> args) {
    auto v = words(args);
    return cluster_command(core, std::span<const std::string_view>(v));
}

std::vector<std::string> split_lines(std::string_view text, std::string_view sep) {
    std::vector<std::string> out;
    while (!text.empty()) {
        auto end = text.find(sep);
        REQUIRE(end != std::string_view::npos);  // every line is terminated
        out.emplace_back(text.substr(0, end));
        text.remove_prefix(end + sep.size());
    }
    return out;
}

}  // namespace

TEST_CASE("[cluster-replies] CLUSTER NODES prints Redis 7.0's line for every node",
          "[unit][cluster-replies]") {
    const Now now{Instant{5000}, 1795316507123};
    ClusterState state(sample_config(), now, parse_sample(kSampleNodes));

    // After a load, a peer counts as heard from "now" and has no link yet; myself's pong time is
    // the current second, as Redis prints it. Lines are in node id order.
    const std::string expected =
        "2dceb86f8f2d09091bfd378d8149b39a0aa34bb4 127.0.0.1:30504@40504 slave "
        "b93c8673c83a1f8aadcf25d0b8204837277b90fc 0 1795316507123 1 disconnected\n"
        "946fa60463aa3e42227cf740d03a65181276daf2 127.0.0.1:30505@40505 slave "
        "ca7dd988bdb7db78d1a3d974d409888aacfcf1e0 0 1795316507123 2 disconnected\n"
        "9c429edd608657366c136fa4c85130923db6cbb9 127.0.0.1:30502@40502 master - 0 1795316507123 "
        "3 disconnected 10923-16383\n"
        "b93c8673c83a1f8aadcf25d0b8204837277b90fc 127.0.0.1:30500@40500 myself,master - 0 "
        "1795316507000 1 connected 0-5460\n"
        "ca56ef5f38a1fa8736f7667bc1b7231358c73326 127.0.0.1:30503@40503 slave "
        "9c429edd608657366c136fa4c85130923db6cbb9 0 1795316507123 3 disconnected\n"
        "ca7dd988bdb7db78d1a3d974d409888aacfcf1e0 127.0.0.1:30501@40501,node-1.test master - 0 "
        "1795316507123 2 disconnected 5461-10922\n";
    CHECK(cluster_nodes_text(state, now) == expected);
    CHECK(cluster_myid(state) == kMyId);
}

TEST_CASE("[cluster-replies] CLUSTER NODES lines parse as redis-cli reads them",
          "[unit][cluster-replies]") {
    const Now now{Instant{5000}, 1795316507123};
    ClusterState state(sample_config(), now, parse_sample(kSampleFailedNodes));
    const std::string text = cluster_nodes_text(state, now);
    REQUIRE(!text.empty());
    CHECK(text.back() == '\n');
    const auto lines = split_lines(text, "\n");
    REQUIRE(lines.size() == 6);
    // Same grammar as nodes.conf: the text loads back as the node table it came from.
    auto back = parse_nodes_conf(text + "vars currentEpoch 7 lastVoteEpoch 0\n");
    REQUIRE(back.ok());
    CHECK(back.state->nodes.size() == 6);
    CHECK(text.find("ca7dd988bdb7db78d1a3d974d409888aacfcf1e0 127.0.0.1:30501@40501,node-1.test "
                    "master,fail - ") != std::string::npos);
    CHECK(text.find(" 7 disconnected 0 5461-10922\n") != std::string::npos);
    CHECK(text.find("946fa60463aa3e42227cf740d03a65181276daf2 127.0.0.1:30505@40505 slave,fail "
                    "ca7dd988bdb7db78d1a3d974d409888aacfcf1e0 ") != std::string::npos);
}

TEST_CASE("[cluster-replies] CLUSTER INFO of a loaded six-node cluster",
          "[unit][cluster-replies]") {
    const Now now{Instant{5000}, 1795316507123};

    SECTION("all masters up: the field list of reply-samples.txt, counters not yet non-zero") {
        ClusterState state(sample_config(), now, parse_sample(kSampleNodes));
        // A state just loaded has not judged the cluster yet, so it reports fail, as Redis does
        // until its first cluster state update.
        CHECK(cluster_info_text(state) ==
              "cluster_state:fail\r\n"
              "cluster_slots_assigned:16384\r\n"
              "cluster_slots_ok:16384\r\n"
              "cluster_slots_pfail:0\r\n"
              "cluster_slots_fail:0\r\n"
              "cluster_known_nodes:6\r\n"
              "cluster_size:3\r\n"
              "cluster_current_epoch:6\r\n"
              "cluster_my_epoch:1\r\n"
              "cluster_stats_messages_sent:0\r\n"
              "cluster_stats_messages_received:0\r\n"
              "total_cluster_links_buffer_limit_exceeded:0\r\n");
    }
    SECTION("a failed master: slot counts of the reference's failed-cluster sample") {
        ClusterState state(sample_config(), now, parse_sample(kSampleFailedNodes));
        const std::string text = cluster_info_text(state, ClusterInfoExtras{3});
        // Same figures as redis-server printed for this cluster (CLUSTER INFO with a master and
        // its replica down): 10921 slots ok, 5463 failed, epoch 7.
        CHECK(text.find("cluster_slots_assigned:16384\r\n"
                        "cluster_slots_ok:10921\r\n"
                        "cluster_slots_pfail:0\r\n"
                        "cluster_slots_fail:5463\r\n"
                        "cluster_known_nodes:6\r\n"
                        "cluster_size:3\r\n"
                        "cluster_current_epoch:7\r\n"
                        "cluster_my_epoch:1\r\n") != std::string::npos);
        CHECK(text.ends_with("total_cluster_links_buffer_limit_exceeded:3\r\n"));
    }
    SECTION("a replica reports its master's epoch") {
        auto loaded = parse_sample(kSampleNodes);
        for (auto& n : loaded.nodes) {
            n.flags = static_cast<std::uint16_t>(n.flags & ~node_flag::kMyself);
            if (n.id.view() == "946fa60463aa3e42227cf740d03a65181276daf2")
                n.flags = static_cast<std::uint16_t>(n.flags | node_flag::kMyself);
        }
        Config c;
        c.port = 30505;
        c.cport = 40505;
        ClusterState state(c, now, loaded);
        // Loading zeroes a replica's own epoch; 2 is its master's (30501).
        CHECK(state.myself().config_epoch() == 0);
        CHECK(cluster_info_text(state).find("cluster_my_epoch:2\r\n") != std::string::npos);
    }
}

TEST_CASE("[cluster-replies] CLUSTER INFO message counters follow Redis's names and order",
          "[unit][cluster-replies]") {
    // Type numbers and CLUSTER INFO names from shared/reference (cluster-bus.md 1.2 and
    // redis-tooling.md 2): Redis prints the types in type-number order.
    struct Name {
        std::size_t type;
        std::string_view name;
    };
    constexpr std::array<Name, 11> kNames{{{0, "ping"},
                                           {1, "pong"},
                                           {2, "meet"},
                                           {3, "fail"},
                                           {4, "publish"},
                                           {5, "auth-req"},
                                           {6, "auth-ack"},
                                           {7, "update"},
                                           {8, "mfstart"},
                                           {9, "module"},
                                           {10, "publishshard"}}};

    testing::SimCluster sim;
    const std::size_t a = sim.add_node();
    const std::size_t b = sim.add_node();
    REQUIRE(sim.meet(a, b).ok);
    sim.run_for(Duration{3000});

    const ClusterState& state = sim.core(a).state();
    const MessageCounters& counters = state.counters();
    REQUIRE(counters.sent[0] > 0);      // pings went out
    REQUIRE(counters.received[1] > 0);  // pongs came back

    std::string expected_stats;
    for (const auto* dir : {"sent", "received"}) {
        const auto& counts = std::string_view(dir) == "sent" ? counters.sent : counters.received;
        std::uint64_t total = 0;
        for (const auto& n : kNames) {
            if (counts[n.type] == 0) continue;
            total += counts[n.type];
            expected_stats +=
                fmt::format("cluster_stats_messages_{}_{}:{}\r\n", n.name, dir, counts[n.type]);
        }
        expected_stats += fmt::format("cluster_stats_messages_{}:{}\r\n", dir, total);
    }

    const std::string text = cluster_info_text(state);
    const auto lines = split_lines(text, "\r\n");
    REQUIRE(lines.size() >= 12);
    CHECK(lines[0].starts_with("cluster_state:"));
    CHECK(lines[5] == "cluster_known_nodes:2");
    CHECK(lines[6] == "cluster_size:0");
    // Two fresh masters at epoch 0 collide and one moves on, so the epoch itself varies.
    const auto at = text.find("cluster_my_epoch:");
    REQUIRE(at != std::string::npos);
    const auto eol = text.find("\r\n", at);
    REQUIRE(eol != std::string::npos);
    CHECK(text.substr(eol + 2) ==
          expected_stats + "total_cluster_links_buffer_limit_exceeded:0\r\n");
    // The node met b: a MEET went out and b's MEET never came in.
    CHECK(text.find("cluster_stats_messages_meet_sent:") != std::string::npos);
    CHECK(text.find("cluster_stats_messages_meet_received:") == std::string::npos);
}

TEST_CASE("[cluster-replies] cluster_command replies and errors match redis-server 7.0",
          "[unit][cluster-replies]") {
    // Every error text below was read from redis-server 7.0.15 given the same arguments.
    testing::ManualClock clock;
    TestCore core(sample_config(), NullTransport{}, clock,
                  MemoryStorage(parse_sample(kSampleNodes)));
    auto error = [](std::string text) { return RespValue::error(std::move(text)); };

    SECTION("MYID, KEYSLOT, HELP") {
        CHECK(run(core, {"MYID"}) == RespValue::bulk(std::string(kMyId)));
        CHECK(run(core, {"keyslot", "a3729"}) == RespValue::number(0));
        CHECK(run(core, {"KeySlot", "{user1000}.following"}) == RespValue::number(3443));
        RespValue help = run(core, {"help"});
        REQUIRE(help.kind == RespKind::kArray);
        REQUIRE(help.items.size() == 1 + 2 * kClusterSubcommands.size());
        CHECK(help.items[0] == RespValue::simple("CLUSTER <subcommand> [<arg> [value] [opt] ...]. "
                                                 "Subcommands are:"));
        for (const auto& line : help.items)
            CHECK(line.kind == RespKind::kSimple);
    }
    SECTION("NODES and INFO are bulk strings of the texts above") {
        RespValue nodes = run(core, {"nodes"});
        REQUIRE(nodes.kind == RespKind::kBulk);
        CHECK(nodes.text == cluster_nodes_text(core.state(), core.now()));
        RespValue info = run(core, {"INFO"});
        REQUIRE(info.kind == RespKind::kBulk);
        CHECK(info.text == cluster_info_text(core.state()));
    }
    SECTION("arity and unknown subcommands") {
        CHECK(run(core, {}) == error("ERR wrong number of arguments for 'cluster' command"));
        CHECK(run(core, {"FOO"}) == error("ERR unknown subcommand 'FOO'. Try CLUSTER HELP."));
        CHECK(run(core, {"meet", "1.2.3.4"}) ==
              error("ERR wrong number of arguments for 'cluster|meet' command"));
        CHECK(run(core, {"MEET", "127.0.0.1", "1", "2", "3"}) ==
              error("ERR unknown subcommand or wrong number of arguments for 'MEET'. Try CLUSTER "
                    "HELP."));
        CHECK(run(core, {"myid", "x"}) ==
              error("ERR wrong number of arguments for 'cluster|myid' command"));
        CHECK(run(core, {"nodes", "x"}) ==
              error("ERR wrong number of arguments for 'cluster|nodes' command"));
        CHECK(run(core, {"info", "x"}) ==
              error("ERR wrong number of arguments for 'cluster|info' command"));
        CHECK(run(core, {"forget"}) ==
              error("ERR wrong number of arguments for 'cluster|forget' command"));
        CHECK(run(core, {"keyslot", "a", "b"}) ==
              error("ERR wrong number of arguments for 'cluster|keyslot' command"));
        CHECK(run(core, {"count-failure-reports"}) ==
              error("ERR wrong number of arguments for 'cluster|count-failure-reports' command"));
        CHECK(run(core, {"help", "x"}) ==
              error("ERR wrong number of arguments for 'cluster|help' command"));
    }
    SECTION("MEET argument errors") {
        CHECK(run(core, {"meet", "127.0.0.1", "notaport"}) ==
              error("ERR Invalid TCP base port specified: notaport"));
        for (auto bad : {"007", "+5", " 5", "99999999999999999999"})
            CHECK(run(core, {"meet", "127.0.0.1", bad}) ==
                  error(fmt::format("ERR Invalid TCP base port specified: {}", bad)));
        CHECK(run(core, {"meet", "127.0.0.1", "6379", "notaport"}) ==
              error("ERR Invalid TCP bus port specified: notaport"));
        CHECK(run(core, {"meet", "127.0.0.1", "0"}) ==
              error("ERR Invalid node address specified: 127.0.0.1:0"));
        CHECK(run(core, {"meet", "127.0.0.1", "70000"}) ==
              error("ERR Invalid node address specified: 127.0.0.1:70000"));
        CHECK(run(core, {"meet", "127.0.0.1", "-1"}) ==
              error("ERR Invalid node address specified: 127.0.0.1:-1"));
        CHECK(run(core, {"meet", "127.0.0.1", "6379", "0"}) ==
              error("ERR Invalid node address specified: 127.0.0.1:6379"));
        CHECK(run(core, {"meet", "127.0.0.1", "6379", "70000"}) ==
              error("ERR Invalid node address specified: 127.0.0.1:6379"));
        for (auto bad : {"nothost", "localhost", "127.0.0.01", "0x7f000001"})
            CHECK(run(core, {"meet", bad, "21998"}) ==
                  error(fmt::format("ERR Invalid node address specified: {}:21998", bad)));
        CHECK(core.state().node_count() == 6);
    }
    SECTION("MEET starts one handshake; a repeated MEET is still OK") {
        CHECK(run(core, {"meet", "127.0.0.1", "21999", "31999"}) == RespValue::ok());
        CHECK(run(core, {"meet", "127.0.0.1", "21999", "31999"}) == RespValue::ok());
        CHECK(run(core, {"meet", "::1", "21999"}) == RespValue::ok());
        CHECK(core.state().node_count() == 8);
        const std::string nodes = cluster_nodes_text(core.state(), core.now());
        CHECK(nodes.find(" 127.0.0.1:21999@31999 handshake - 0 0 0 disconnected\n") !=
              std::string::npos);
        CHECK(nodes.find(" ::1:21999@31999 handshake - 0 0 0 disconnected\n") != std::string::npos);
    }
    SECTION("FORGET and COUNT-FAILURE-REPORTS") {
        CHECK(run(core, {"forget", "abc"}) == error("ERR Unknown node abc"));
        CHECK(run(core, {"forget", kMyId}) ==
              error("ERR I tried hard but I can't forget myself..."));
        CHECK(run(core, {"count-failure-reports", "abc"}) == error("ERR Unknown node abc"));
        CHECK(run(core, {"count-failure-reports", "0000000000000000000000000000000000000000"}) ==
              error("ERR Unknown node 0000000000000000000000000000000000000000"));
        CHECK(run(core, {"count-failure-reports", kMyId}) == RespValue::number(0));
        CHECK(run(core, {"forget", "ca56ef5f38a1fa8736f7667bc1b7231358c73326"}) == RespValue::ok());
        CHECK(core.state().node_count() == 5);
        CHECK(run(core, {"count-failure-reports", "ca56ef5f38a1fa8736f7667bc1b7231358c73326"}) ==
              error("ERR Unknown node ca56ef5f38a1fa8736f7667bc1b7231358c73326"));
    }
}

TEST_CASE("[cluster-replies] RESP2 encoding of reply values", "[unit][cluster-replies]") {
    CHECK(to_resp2(RespValue::ok()) == "+OK\r\n");
    CHECK(to_resp2(RespValue::error("ERR x")) == "-ERR x\r\n");
    CHECK(to_resp2(RespValue::number(-7)) == ":-7\r\n");
    CHECK(to_resp2(RespValue::bulk("a\r\nb")) == "$4\r\na\r\nb\r\n");
    CHECK(to_resp2(RespValue::bulk("")) == "$0\r\n\r\n");
    CHECK(to_resp2(RespValue::null()) == "$-1\r\n");
    CHECK(to_resp2(RespValue::null_array()) == "*-1\r\n");
    CHECK(to_resp2(RespValue::array()) == "*0\r\n");
    CHECK(
        to_resp2(RespValue::array({RespValue::number(1), RespValue::array({RespValue::null()})})) ==
        "*2\r\n:1\r\n*1\r\n$-1\r\n");
    // A line break inside a one-line reply would split it in two on the wire.
    CHECK(to_resp2(RespValue::error("ERR unknown command 'a\r\nb'")) ==
          "-ERR unknown command 'a  b'\r\n");
    CHECK(to_resp2(RespValue::simple("x\ny")) == "+x y\r\n");
}

}  // namespace unit_cluster_replies_test
