// Config::validate() and ClusterState's construction checks: defaults pass, each bad field is
// named.
#include <catch2/catch.hpp>

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <gossipcluster/cluster_core.hpp>
#include <gossipcluster/cluster_state.hpp>
#include <gossipcluster/config.hpp>
#include <gossipcluster/storage/memory_storage.hpp>
#include <gossipcluster/testing/manual_clock.hpp>
#include <gossipcluster/testing/sim_cluster.hpp>

namespace unit_config_test {

using namespace gossipcluster;
using namespace std::chrono_literals;

namespace {

struct Case {
    const char* what;
    std::function<void(Config&)> change;
    const char* field;  // the field the error must name; nullptr: the change is valid
};

// The error text of validate(), or nullopt when it accepts the config.
std::optional<std::string> validation_error(const Config& c) {
    try {
        c.validate();
    } catch (const ConfigError& e) {
        return std::string(e.what());
    }
    return std::nullopt;
}

// One case per check in Config::validate(), each at the first value out of range, plus the
// last value in range next to it so that an off-by-one in either direction shows.
std::vector<Case> cases() {
    return {
        {"port 0", [](Config& c) { c.port = 0; }, "port"},
        {"port 1", [](Config& c) { c.port = 1; }, nullptr},
        {"derived bus port overflows", [](Config& c) { c.port = 55536; }, "port"},
        {"derived bus port at the top", [](Config& c) { c.port = 55535; }, nullptr},
        {"explicit cport lifts the port limit",
         [](Config& c) {
             c.port = 65535;
             c.cport = 1;
         },
         nullptr},
        {"node_timeout 9 ms", [](Config& c) { c.node_timeout = 9ms; }, "node_timeout"},
        {"node_timeout negative", [](Config& c) { c.node_timeout = -1ms; }, "node_timeout"},
        {"node_timeout 10 ms",
         [](Config& c) {
             c.node_timeout = 10ms;
             c.cron_period = 5ms;
         },
         nullptr},
        {"cron_period 0", [](Config& c) { c.cron_period = 0ms; }, "cron_period"},
        {"cron_period above half the timeout",
         [](Config& c) {
             c.node_timeout = 1000ms;
             c.cron_period = 501ms;
         },
         "cron_period"},
        {"cron_period at half the timeout",
         [](Config& c) {
             c.node_timeout = 1000ms;
             c.cron_period = 500ms;
         },
         nullptr},
        {"cron_period 1 ms", [](Config& c) { c.cron_period = 1ms; }, nullptr},
        {"handshake_timeout negative", [](Config& c) { c.handshake_timeout = -1ms; },
         "handshake_timeout"},
        {"handshake_timeout 0 (derived)", [](Config& c) { c.handshake_timeout = 0ms; }, nullptr},
        {"random_ping_period 0", [](Config& c) { c.random_ping_period = 0ms; },
         "random_ping_period"},
        {"random_ping_period 1 ms", [](Config& c) { c.random_ping_period = 1ms; }, nullptr},
        {"random_ping_samples 0", [](Config& c) { c.random_ping_samples = 0; },
         "random_ping_samples"},
        {"random_ping_samples 1", [](Config& c) { c.random_ping_samples = 1; }, nullptr},
        {"ping_batch_window negative", [](Config& c) { c.ping_batch_window = -1ms; },
         "ping_batch_window"},
        {"ping_batch_window over node_timeout / 4",
         [](Config& c) {
             c.node_timeout = 1000ms;
             c.ping_batch_window = 251ms;
         },
         "ping_batch_window"},
        {"ping_batch_window node_timeout / 4",
         [](Config& c) {
             c.node_timeout = 1000ms;
             c.ping_batch_window = 250ms;
         },
         nullptr},
        {"ping_batch_window 0 (derived)", [](Config& c) { c.ping_batch_window = 0ms; }, nullptr},
        {"blacklist_ttl 0", [](Config& c) { c.blacklist_ttl = 0ms; }, "blacklist_ttl"},
        {"blacklist_ttl 1 ms", [](Config& c) { c.blacklist_ttl = 1ms; }, nullptr},
        {"fail_report_validity_mult 0", [](Config& c) { c.fail_report_validity_mult = 0; },
         "fail_report_validity_mult"},
        {"fail_report_validity_mult 1", [](Config& c) { c.fail_report_validity_mult = 1; },
         nullptr},
        {"gossip_divisor 0", [](Config& c) { c.gossip_divisor = 0; }, "gossip_divisor"},
        {"gossip_divisor 1", [](Config& c) { c.gossip_divisor = 1; }, nullptr},
        {"announce_ip of 46 characters",
         [](Config& c) { c.announce_ip = std::string(kIpFieldLen, '1'); }, "announce_ip"},
        {"announce_ip of 45 characters (the wire field keeps a NUL)",
         [](Config& c) { c.announce_ip = std::string(kIpFieldLen - 1, '1'); }, nullptr},
        {"announce_hostname of 256 characters",
         [](Config& c) { c.announce_hostname = std::string(kHostnameMaxLen + 1, 'h'); },
         "announce_hostname"},
        {"announce_hostname of 255 characters",
         [](Config& c) { c.announce_hostname = std::string(kHostnameMaxLen, 'h'); }, nullptr},
        {"human_nodename of 256 characters",
         [](Config& c) { c.human_nodename = std::string(kHostnameMaxLen + 1, 'n'); },
         "human_nodename"},
        {"human_nodename of 255 characters",
         [](Config& c) { c.human_nodename = std::string(kHostnameMaxLen, 'n'); }, nullptr},
        {"max_nodes 1", [](Config& c) { c.max_nodes = 1; }, "max_nodes"},
        {"max_nodes 2", [](Config& c) { c.max_nodes = 2; }, nullptr},
        {"election_base_delay -1", [](Config& c) { c.election_base_delay = Duration{-1}; },
         "election_base_delay"},
        {"election_base_delay 0", [](Config& c) { c.election_base_delay = Duration{0}; }, nullptr},
        {"election_jitter -1", [](Config& c) { c.election_jitter = Duration{-1}; },
         "election_jitter"},
        {"election_rank_delay -1", [](Config& c) { c.election_rank_delay = Duration{-1}; },
         "election_rank_delay"},
        {"repl_ping_period -1", [](Config& c) { c.repl_ping_period = Duration{-1}; },
         "repl_ping_period"},
        {"writable_delay -1", [](Config& c) { c.writable_delay = Duration{-1}; }, "writable_delay"},
        {"manual_failover_timeout 0", [](Config& c) { c.manual_failover_timeout = Duration{0}; },
         "manual_failover_timeout"},
        {"manual_failover_timeout 1", [](Config& c) { c.manual_failover_timeout = Duration{1}; },
         nullptr},
        {"migration_delay -1", [](Config& c) { c.migration_delay = Duration{-1}; },
         "migration_delay"},
        {"max_publish_bytes 0", [](Config& c) { c.max_publish_bytes = 0; }, "max_publish_bytes"},
    };
}

Now now_at(std::int64_t mono_ms) {
    return Now{Instant{mono_ms}, 1'790'000'000'000};
}

}  // namespace

TEST_CASE("[config] the defaults are valid and follow Redis 7.0", "[unit][config]") {
    const Config c;
    CHECK_NOTHROW(c.validate());
    CHECK(c.node_timeout == 15000ms);
    CHECK(c.bus_port() == 16379);
    CHECK(c.effective_handshake_timeout() == 15000ms);
}

TEST_CASE("[config] validate() names the field that is out of range", "[unit][config]") {
    for (const Case& k : cases()) {
        CAPTURE(k.what);
        Config c;
        k.change(c);
        const auto error = validation_error(c);
        if (k.field == nullptr) {
            CHECK_FALSE(error);
            continue;
        }
        REQUIRE(error);
        CAPTURE(*error);
        // "invalid config: <field> <why>": the field leads, so a substring match on a field whose
        // name is inside another's cannot pass by accident.
        CHECK(error->rfind(std::string("invalid config: ") + k.field + " ", 0) == 0);
    }
}

TEST_CASE("[config] derived values: bus port and handshake timeout", "[unit][config]") {
    Config c;
    c.port = 7000;
    CHECK(c.bus_port() == 17000);
    c.cport = 7777;
    CHECK(c.bus_port() == 7777);
    c.node_timeout = 500ms;
    c.cron_period = 100ms;
    CHECK(c.effective_handshake_timeout() == 1000ms);  // never below one second
    c.handshake_timeout = 250ms;
    CHECK(c.effective_handshake_timeout() == 250ms);  // an explicit value wins
}

TEST_CASE("[config] ClusterState refuses a non-positive monotonic time", "[unit][config]") {
    // Zero means "never" inside the core, so a clock starting at 0 would corrupt every timer.
    CHECK_THROWS_AS(ClusterState(Config{}, now_at(0), std::nullopt), std::invalid_argument);
    CHECK_THROWS_AS(ClusterState(Config{}, now_at(-5), std::nullopt), std::invalid_argument);
    CHECK_NOTHROW(ClusterState(Config{}, now_at(1), std::nullopt));
}

TEST_CASE("[config] ClusterState and ClusterCore validate the config they are given",
          "[unit][config]") {
    Config bad;
    bad.gossip_divisor = 0;
    CHECK_THROWS_AS(ClusterState(bad, now_at(1000), std::nullopt), ConfigError);
    CHECK_THROWS_WITH(ClusterState(bad, now_at(1000), std::nullopt),
                      Catch::Matchers::StartsWith("invalid config: gossip_divisor"));

    // Through the driver too: ClusterCore builds its state from the clock's first reading.
    testing::SimCluster sim;
    using Core = ClusterCore<testing::SimTransport, testing::ManualClock, MemoryStorage>;
    CHECK_THROWS_AS(Core(bad, testing::SimTransport(&sim, 0), testing::ManualClock{}, {}),
                    ConfigError);
    CHECK_THROWS_AS(
        Core(Config{}, testing::SimTransport(&sim, 0), testing::ManualClock{Instant{0}}, {}),
        std::invalid_argument);
}

}  // namespace unit_config_test
