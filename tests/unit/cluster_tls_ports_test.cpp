// Unit tests of the ports CLUSTER NODES, SLOTS, SHARDS and REPLICAS show when the bus runs TLS:
// the expected replies are those of a redis-server 7.0.15 started with --port 27001
// --tls-port 27101 --tls-cluster yes and CLUSTER ADDSLOTS 1 2 3.
#include <catch2/catch.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "gossipcluster/cluster_core.hpp"
#include "gossipcluster/commands/cluster_command.hpp"
#include "gossipcluster/commands/resp_value.hpp"
#include "gossipcluster/storage/memory_storage.hpp"
#include "gossipcluster/testing/manual_clock.hpp"

namespace unit_cluster_tls_ports_test {

using namespace gossipcluster;

namespace {

struct NullTransport {
    void connect(LinkId, const Endpoint&) {}
    void send(LinkId, const Message&) {}
    void close(LinkId) {}
};

using TestCore = ClusterCore<NullTransport, testing::ManualClock, MemoryStorage>;

// A node of a TLS cluster: known by its TLS port, the plaintext one announced as pport.
Config tls_node_config() {
    Config c;
    c.port = 27101;
    c.pport = 27001;
    c.cport = 37101;
    return c;
}

RespValue run(TestCore& core, std::initializer_list<std::string_view> args,
              const ClusterInfoExtras& extras) {
    std::vector<std::string_view> v(args);
    return cluster_command(core, std::span<const std::string_view>(v), extras);
}

ClusterInfoExtras client_on(bool tls_cluster, bool plaintext_client) {
    ClusterInfoExtras e;
    e.tls_cluster = tls_cluster;
    e.plaintext_client = plaintext_client;
    return e;
}

// The second field (ip:port@cport) of the first CLUSTER NODES line.
std::string address_field(const RespValue& nodes) {
    const std::string& text = nodes.text;
    const auto first = text.find(' ');
    const auto second = text.find(' ', first + 1);
    if (first == std::string::npos || second == std::string::npos) return {};
    return text.substr(first + 1, second - first - 1);
}

}  // namespace

TEST_CASE("[cluster-tls] a plaintext client of a TLS cluster is shown the plaintext ports",
          "[unit][cluster-tls]") {
    testing::ManualClock clock;
    TestCore core(tls_node_config(), NullTransport{}, clock, MemoryStorage());
    const auto plain = client_on(true, true);
    const auto tls = client_on(true, false);
    REQUIRE(run(core, {"ADDSLOTS", "1", "2", "3"}, plain) == RespValue::ok());
    const std::string id = core.state().myself_id().str();

    SECTION("CLUSTER NODES") {
        // The address field only: the pong time of a fresh node differs (redis-server prints 0).
        CHECK(address_field(run(core, {"NODES"}, plain)) == ":27001@37101");
        CHECK(address_field(run(core, {"NODES"}, tls)) == ":27101@37101");
    }

    SECTION("CLUSTER SLOTS") {
        auto slots = [&](std::int64_t port) {
            return RespValue::array(
                {RespValue::array({RespValue::number(1), RespValue::number(3),
                                   RespValue::array({RespValue::bulk(""), RespValue::number(port),
                                                     RespValue::bulk(id), RespValue::array()})})});
        };
        CHECK(run(core, {"SLOTS"}, plain) == slots(27001));
        CHECK(run(core, {"SLOTS"}, tls) == slots(27101));
    }

    SECTION("CLUSTER SHARDS lists both ports to every client") {
        const RespValue expected = RespValue::array({RespValue::array(
            {RespValue::bulk("slots"),
             RespValue::array({RespValue::number(1), RespValue::number(3)}),
             RespValue::bulk("nodes"),
             RespValue::array({RespValue::array(
                 {RespValue::bulk("id"), RespValue::bulk(id), RespValue::bulk("port"),
                  RespValue::number(27001), RespValue::bulk("tls-port"), RespValue::number(27101),
                  RespValue::bulk("ip"), RespValue::bulk(""), RespValue::bulk("endpoint"),
                  RespValue::bulk(""), RespValue::bulk("role"), RespValue::bulk("master"),
                  RespValue::bulk("replication-offset"), RespValue::number(0),
                  RespValue::bulk("health"), RespValue::bulk("online")})})})});
        CHECK(run(core, {"SHARDS"}, plain) == expected);
        CHECK(run(core, {"SHARDS"}, tls) == expected);
    }
}

TEST_CASE("[cluster-tls] without TLS on the bus the port is shown as it is",
          "[unit][cluster-tls]") {
    testing::ManualClock clock;
    Config c;
    c.port = 27001;
    c.cport = 37001;
    TestCore core(c, NullTransport{}, clock, MemoryStorage());
    const auto plain = client_on(false, true);
    REQUIRE(run(core, {"ADDSLOTS", "1"}, plain) == RespValue::ok());
    CHECK(address_field(run(core, {"NODES"}, plain)) == ":27001@37001");
    const RespValue shards = run(core, {"SHARDS"}, plain);
    REQUIRE(shards.kind == RespKind::kArray);
    std::string text;
    write_resp2(shards, text);
    CHECK(text.find("$4\r\nport\r\n:27001\r\n") != std::string::npos);
    CHECK(text.find("tls-port") == std::string::npos);
}

}  // namespace unit_cluster_tls_ports_test
