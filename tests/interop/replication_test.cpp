// Replication between two kvservers: full sync, write stream, WAIT, INFO, takeover and resync.
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "process_harness.hpp"

namespace interop_replication_test {

namespace {

using namespace gossipcluster::interop_test;
using std::chrono::milliseconds;

// The value of `field` in an INFO reply, or "" when it is absent.
std::string info_field(ClusterServer& s, std::string_view field) {
    auto r = s.call({"INFO", "replication"});
    if (!r || !r->is_bulk()) return {};
    const std::string key = std::string(field) + ":";
    std::size_t at = 0;
    while (at < r->text.size()) {
        const std::size_t end = r->text.find("\r\n", at);
        const std::string_view line(r->text.data() + at,
                                    (end == std::string::npos ? r->text.size() : end) - at);
        if (line.substr(0, key.size()) == key) return std::string(line.substr(key.size()));
        if (end == std::string::npos) break;
        at = end + 2;
    }
    return {};
}

std::string reply_text(const std::optional<Reply>& r) {
    return r ? r->show() : std::string("(no reply)");
}

std::string value_of(int i) {
    return fmt::format("value-{}-{}", i, std::string(static_cast<std::size_t>(i % 7), 'x'));
}

}  // namespace

TEST_CASE("[replication] a replica follows its master, takes over and the old master resyncs",
          "[interop][replication]") {
    TempDir dir("gossipcluster-replication");
    ClusterServer a(ServerKind::kKv, dir.path(), {}, 2000);
    ClusterServer b(ServerKind::kKv, dir.path(), {}, 2000);
    INFO(a.log_tail());
    INFO(b.log_tail());

    auto id_a = a.call({"CLUSTER", "MYID"});
    REQUIRE(id_a);
    REQUIRE(id_a->is_bulk());
    REQUIRE(b.call({"CLUSTER", "MEET", "127.0.0.1", std::to_string(a.port())})->is_ok());
    auto slots = a.call({"CLUSTER", "ADDSLOTSRANGE", "0", "16383"});
    INFO("ADDSLOTSRANGE: " << reply_text(slots));
    REQUIRE((slots && slots->is_ok()));

    // B can replicate A once it knows A by its real name.
    std::string last;
    const bool replicating = wait_until(milliseconds(10000), milliseconds(100), [&] {
        auto r = b.call({"CLUSTER", "REPLICATE", id_a->text});
        last = reply_text(r);
        return r && r->is_ok();
    });
    INFO("CLUSTER REPLICATE: " << last);
    REQUIRE(replicating);
    REQUIRE(wait_until(milliseconds(10000), milliseconds(50),
                       [&] { return info_field(b, "master_link_status") == "up"; }));
    CHECK(info_field(b, "role") == "slave");
    CHECK(info_field(b, "master_port") == std::to_string(a.port()));
    CHECK(info_field(a, "role") == "master");
    CHECK(info_field(a, "connected_slaves") == "1");

    // Writes are refused until the cluster state is ok.
    REQUIRE(wait_until(milliseconds(10000), milliseconds(50), [&] {
        auto r = a.call({"CLUSTER", "INFO"});
        return r && r->text.find("cluster_state:ok") != std::string::npos;
    }));

    // 1000 keys, every tenth with a TTL, WAIT after each batch of 100.
    constexpr int kKeys = 1000;
    for (int i = 0; i < kKeys; ++i) {
        std::vector<std::string> set{"SET", fmt::format("key:{}", i), value_of(i)};
        if (i % 10 == 0) set.insert(set.end(), {"PX", "600000"});
        auto r = a.call(set);
        INFO("SET key:" << i << " -> " << reply_text(r));
        REQUIRE((r && r->is_ok()));
        if (i % 100 == 99) {
            auto w = a.call({"WAIT", "1", "1000"});
            INFO("WAIT after key:" << i << " -> " << reply_text(w));
            REQUIRE(w);
            CHECK(w->type == Reply::Type::kInteger);
            CHECK(w->integer == 1);
        }
    }
    // INCR travels as its result.
    REQUIRE(a.call({"INCRBY", "counter", "41"})->integer == 41);
    REQUIRE(a.call({"INCR", "counter"})->integer == 42);
    REQUIRE(a.call({"DEL", "key:999"})->integer == 1);
    auto w = a.call({"WAIT", "1", "1000"});
    REQUIRE(w);
    CHECK(w->integer == 1);

    // Two replicas cannot be found: WAIT gives up at its timeout with the one there is.
    const auto before = std::chrono::steady_clock::now();
    auto w2 = a.call({"WAIT", "2", "300"});
    const auto waited = std::chrono::steady_clock::now() - before;
    REQUIRE(w2);
    CHECK(w2->integer == 1);
    CHECK(waited >= milliseconds(250));
    // The server stays responsive while a client waits: B kept applying, A kept answering.
    const std::string master_offset = info_field(a, "master_repl_offset");
    CHECK(master_offset != "0");
    CHECK(wait_until(milliseconds(5000), milliseconds(50), [&] {
        return info_field(b, "slave_repl_offset") == master_offset &&
               info_field(b, "master_repl_offset") == master_offset;
    }));
    CHECK(info_field(a, "slave0")
              .find(fmt::format("port={},state=online,offset={}", b.port(), master_offset)) !=
          std::string::npos);
    CHECK(b.call({"DBSIZE"})->integer == kKeys);  // 999 keys and the counter

    // The master dies without a word; B takes over and serves every key.
    REQUIRE(::kill(a.pid(), SIGKILL) == 0);
    a.stop();
    REQUIRE(wait_until(milliseconds(5000), milliseconds(100),
                       [&] { return info_field(b, "master_link_status") == "down"; }));
    auto takeover = b.call({"CLUSTER", "FAILOVER", "TAKEOVER"});
    INFO("FAILOVER TAKEOVER: " << reply_text(takeover));
    REQUIRE((takeover && takeover->is_ok()));
    REQUIRE(wait_until(milliseconds(5000), milliseconds(50),
                       [&] { return info_field(b, "role") == "master"; }));
    CHECK(info_field(b, "master_repl_offset") == master_offset);
    int found = 0;
    for (int i = 0; i < kKeys - 1; ++i) {
        auto r = b.call({"GET", fmt::format("key:{}", i)});
        if (r && r->is_bulk() && r->text == value_of(i)) ++found;
    }
    CHECK(found == kKeys - 1);
    CHECK(b.call({"GET", "key:999"})->type == Reply::Type::kNull);
    CHECK(b.call({"GET", "counter"})->text == "42");
    // A comes back, learns that B owns its slots, turns into B's replica and catches up.
    REQUIRE(b.call({"SET", "after-failover", "yes"})->is_ok());
    a.start();
    INFO(a.log_tail());
    REQUIRE(wait_until(milliseconds(15000), milliseconds(100), [&] {
        return info_field(a, "role") == "slave" && info_field(a, "master_link_status") == "up";
    }));
    CHECK(info_field(a, "master_port") == std::to_string(b.port()));
    REQUIRE(b.call({"SET", "after-resync", "yes"})->is_ok());
    auto w3 = b.call({"WAIT", "1", "2000"});
    REQUIRE(w3);
    CHECK(w3->integer == 1);
    const std::string new_offset = info_field(b, "master_repl_offset");
    CHECK(wait_until(milliseconds(5000), milliseconds(50),
                     [&] { return info_field(a, "slave_repl_offset") == new_offset; }));
    CHECK(a.call({"DBSIZE"})->integer == kKeys + 2);
}

TEST_CASE("[replication] writes acknowledged during a manual failover survive on the new master",
          "[interop][replication]") {
    TempDir dir("gossipcluster-replication-mf");
    ClusterServer a(ServerKind::kKv, dir.path(), {}, 2000);
    ClusterServer b(ServerKind::kKv, dir.path(), {}, 2000);
    INFO(a.log_tail());
    INFO(b.log_tail());

    auto id_a = a.call({"CLUSTER", "MYID"});
    REQUIRE((id_a && id_a->is_bulk()));
    REQUIRE(b.call({"CLUSTER", "MEET", "127.0.0.1", std::to_string(a.port())})->is_ok());
    REQUIRE(a.call({"CLUSTER", "ADDSLOTSRANGE", "0", "16383"})->is_ok());
    REQUIRE(wait_until(milliseconds(10000), milliseconds(100), [&] {
        auto r = b.call({"CLUSTER", "REPLICATE", id_a->text});
        return r && r->is_ok();
    }));
    REQUIRE(wait_until(milliseconds(10000), milliseconds(50), [&] {
        auto r = a.call({"CLUSTER", "INFO"});
        return r && r->text.find("cluster_state:ok") != std::string::npos &&
               info_field(b, "master_link_status") == "up";
    }));

    // A writes while B asks for the failover: A pauses, B catches up, B takes the slots. Writes
    // held during the pause are answered after it (with -MOVED once B owns the slots); whatever
    // A acknowledged with OK must be on B.
    std::vector<int> acknowledged;
    int moved = 0;
    REQUIRE(b.call({"CLUSTER", "FAILOVER"})->is_ok());
    for (int i = 0; i < 5000 && moved == 0; ++i) {
        auto r = a.call({"SET", fmt::format("mf:{}", i), value_of(i)});
        REQUIRE(r);
        if (r->is_ok())
            acknowledged.push_back(i);
        else if (r->is_error() && r->text.rfind("MOVED", 0) == 0)
            ++moved;
        else
            FAIL("unexpected reply " << r->show());
    }
    CHECK(moved == 1);
    REQUIRE(wait_until(milliseconds(5000), milliseconds(50),
                       [&] { return info_field(b, "role") == "master"; }));
    int found = 0;
    for (int i : acknowledged) {
        auto r = b.call({"GET", fmt::format("mf:{}", i)});
        if (r && r->is_bulk() && r->text == value_of(i)) ++found;
    }
    CHECK(found == static_cast<int>(acknowledged.size()));
    // A followed: it is B's replica now and has every key.
    REQUIRE(wait_until(milliseconds(10000), milliseconds(50), [&] {
        return info_field(a, "role") == "slave" && info_field(a, "master_link_status") == "up";
    }));
    CHECK(wait_until(milliseconds(5000), milliseconds(50), [&] {
        auto n = a.call({"DBSIZE"});
        return n && n->integer == static_cast<long long>(acknowledged.size());
    }));
}

}  // namespace interop_replication_test
