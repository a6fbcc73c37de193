// Interop: nodes.conf files written by redis-server 7.0 load here, and files written here load
// there.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "../common/slot_ranges.hpp"
#include "gossipcluster/storage/file_storage.hpp"
#include "gossipcluster/storage/nodes_conf.hpp"
#include "process_harness.hpp"

namespace interop_nodes_conf_redis_test {

using namespace gossipcluster;
using namespace gossipcluster::interop_test;
using namespace std::chrono_literals;

namespace {

constexpr auto kWaitLimit = 10s;

void require_redis() {
    INFO("redis-server 7.0 must be installed at "
         << kRedisServerPath << " (Debian package redis-server; CI installs it)");
    REQUIRE(::access(kRedisServerPath, X_OK) == 0);
}

// One command's reply as text: a bulk string or status as it is, anything else as shown.
std::string command(ClusterServer& server, const std::vector<std::string>& args) {
    auto r = server.call(args);
    std::string shown = "command";
    for (const auto& a : args)
        shown += " " + a;
    INFO(shown);
    INFO(server.log_tail());
    REQUIRE(r.has_value());
    return r->type == Reply::Type::kBulk || r->type == Reply::Type::kSimple ? r->text : r->show();
}

std::vector<std::string_view> nonempty_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        auto nl = text.find('\n');
        auto line = text.substr(0, nl);
        if (!line.empty()) lines.push_back(line);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    }
    return lines;
}

// Parses a CLUSTER NODES reply with the nodes.conf parser and checks each line re-renders
// byte for byte.
PersistedState parse_cluster_nodes(const std::string& reply) {
    auto r = parse_nodes_conf(reply, NodeLineTarget::kClusterNodes);
    INFO("CLUSTER NODES reply:\n" << reply);
    INFO((r.error ? r.error->describe() : std::string()));
    REQUIRE(r.ok());
    auto lines = nonempty_lines(reply);
    REQUIRE(lines.size() == r.state->nodes.size());
    for (std::size_t i = 0; i < lines.size(); ++i)
        CHECK(render_node_line(r.state->nodes[i], {NodeLineTarget::kClusterNodes}) == lines[i]);
    return *r.state;
}

}  // namespace

TEST_CASE("[nodes-conf] a nodes.conf written by redis-server 7.0 parses and re-renders exactly",
          "[interop][nodes-conf]") {
    require_redis();
    TempDir dir;
    std::uint16_t port = 0;
    fs::path conf;

    std::string myid, nodes_reply, info;
    {
        ClusterServer server(ServerKind::kRedis, dir.path());
        port = server.port();
        conf = server.config_path();
        CHECK(command(server, {"CLUSTER", "ADDSLOTSRANGE", "0", "99", "1000", "1000", "5000",
                               "5460", "16383", "16383"}) == "OK");
        CHECK(command(server, {"cluster", "set-config-epoch", "5"}) == "OK");
        myid = command(server, {"CLUSTER", "MYID"});
        nodes_reply = command(server, {"CLUSTER", "NODES"});
        info = command(server, {"CLUSTER", "INFO"});

        // redis-server rewrites the file before it replies, but allow it a bounded moment.
        auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
        while (true) {
            auto r = parse_nodes_conf(read_file(conf));
            if (r.ok() && r.state->myself() && r.state->myself()->config_epoch == 5 &&
                r.state->myself()->slots.count() == 100 + 1 + 461 + 1)
                break;
            INFO("nodes.conf:\n" << read_file(conf));
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            std::this_thread::sleep_for(20ms);
        }
        int status = server.stop();
        INFO(server.log_tail());
        CHECK(WIFEXITED(status));
    }

    const std::string text = read_file(conf);
    INFO("nodes.conf written by redis-server:\n" << text);
    auto r = parse_nodes_conf(text);
    INFO((r.error ? r.error->describe() : std::string()));
    REQUIRE(r.ok());
    const auto& st = *r.state;
    REQUIRE(st.nodes.size() == 1);
    const NodeRecord* me = st.myself();
    REQUIRE(me);
    REQUIRE(myid.size() == 40);
    CHECK(me->id.view() == myid);
    CHECK(me->flags == (node_flag::kMyself | node_flag::kMaster));
    CHECK(me->port == port);
    CHECK(me->cport == port + 10000);
    CHECK(me->slots ==
          test_support::slot_ranges({{0, 99}, {1000, 1000}, {5000, 5460}, {16383, 16383}}));
    CHECK(me->config_epoch == 5);
    CHECK_FALSE(me->master);
    CHECK(st.current_epoch == 5);
    CHECK(st.last_vote_epoch == 0);
    CHECK_THAT(info,
               Catch::Contains("cluster_current_epoch:5") && Catch::Contains("cluster_my_epoch:5"));
    // Our renderer writes the very same bytes.
    CHECK(render_nodes_conf(st) == text);

    // CLUSTER NODES agrees with the file (other than timing fields).
    auto live = parse_cluster_nodes(nodes_reply);
    REQUIRE(live.myself());
    CHECK(live.myself()->id == me->id);
    CHECK(live.myself()->slots == me->slots);
    CHECK(live.myself()->config_epoch == me->config_epoch);
    CHECK(live.myself()->port == me->port);
    CHECK(live.myself()->cport == me->cport);
    CHECK(live.myself()->flags == me->flags);
}

TEST_CASE("[nodes-conf] redis-server 7.0 starts from a nodes.conf written here",
          "[interop][nodes-conf]") {
    require_redis();
    TempDir dir;
    const NodeId my_id = *NodeId::parse("4a1f0e9c2b7d4e8f9a0b1c2d3e4f5a6b7c8d9e0f");
    const NodeId other_id = *NodeId::parse("91c3e5a7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9");
    std::uint16_t port = 0;
    std::uint16_t other_port = 0;  // nobody listens there
    fs::path conf;
    PersistedState st;
    NodeRecord me;
    NodeRecord other;
    // The file is written for the port the server is about to get, before it starts.
    auto write_conf = [&](const ClusterServer& server) {
        port = server.port();
        other_port = pick_port();
        REQUIRE(other_port != 0);
        conf = server.config_path();
        me = NodeRecord{};
        me.id = my_id;
        me.ip = "127.0.0.1";
        me.port = port;
        me.cport = static_cast<std::uint16_t>(port + 10000);
        me.flags = node_flag::kMyself | node_flag::kMaster;
        me.config_epoch = 3;
        me.connected = true;
        me.slots = test_support::slot_ranges({{0, 999}, {5000, 5000}});
        other = NodeRecord{};
        other.id = other_id;
        other.ip = "127.0.0.1";
        other.port = other_port;
        other.cport = static_cast<std::uint16_t>(other_port + 10000);
        other.flags = node_flag::kMaster;
        other.config_epoch = 4;
        other.slots = test_support::slot_ranges({{1000, 1999}});
        st = PersistedState{};
        st.nodes = {me, other};
        st.current_epoch = 7;
        st.last_vote_epoch = 2;
        {
            FileStorage storage(conf);
            storage.save(st, true);
        }
        REQUIRE(read_file(conf) == render_nodes_conf(st));
    };

    std::string myid, nodes_reply, info;
    {
        ClusterServer server(ServerKind::kRedis, dir.path(), {}, 3000, write_conf);
        myid = command(server, {"CLUSTER", "MYID"});
        nodes_reply = command(server, {"CLUSTER", "NODES"});
        info = command(server, {"CLUSTER", "INFO"});
        server.stop();
    }
    CHECK(myid == my_id.view());
    INFO("CLUSTER INFO:\n" << info);
    CHECK_THAT(info, Catch::Contains("cluster_current_epoch:7\r\n") &&
                         Catch::Contains("cluster_my_epoch:3\r\n") &&
                         Catch::Contains("cluster_known_nodes:2\r\n"));

    auto live = parse_cluster_nodes(nodes_reply);
    REQUIRE(live.myself());
    CHECK(live.myself()->id == my_id);
    CHECK(live.myself()->slots == me.slots);
    CHECK(live.myself()->config_epoch == 3);
    CHECK(live.myself()->port == port);
    REQUIRE(live.nodes.size() == 2);
    const auto& seen = live.nodes[0].id == other_id ? live.nodes[0] : live.nodes[1];
    CHECK(seen.id == other_id);
    CHECK(seen.port == other_port);
    CHECK(seen.slots == other.slots);
    CHECK(seen.config_epoch == 4);
    CHECK((seen.flags & node_flag::kMaster));

    // And the file redis-server keeps afterwards still holds our identity and epochs.
    auto after = parse_nodes_conf(read_file(conf));
    REQUIRE(after.ok());
    REQUIRE(after.state->myself());
    CHECK(after.state->myself()->id == my_id);
    CHECK(after.state->myself()->slots == me.slots);
    CHECK(after.state->current_epoch == 7);
    CHECK(after.state->last_vote_epoch == 2);
}

}  // namespace interop_nodes_conf_redis_test
