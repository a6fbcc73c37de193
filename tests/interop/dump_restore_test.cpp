// Interop: DUMP payloads, RESTORE and MIGRATE between gossipcluster-kvserver and redis-server
// 7.0.15, both standalone on loopback ports.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "process_harness.hpp"

namespace interop_dump_restore_test {

using namespace gossipcluster::interop_test;
using namespace std::chrono_literals;

namespace {

// A standalone (cluster-enabled no) server of either kind in its own directory, stopped by pid
// when it goes out of scope.
struct Standalone {
    Standalone(const fs::path& root, const char* program, std::string_view tag)
        : port(pick_port()), log_path(root / fmt::format("{}-{}.log", tag, port)) {
        INFO(program << " must be there");
        REQUIRE(::access(program, X_OK) == 0);
        REQUIRE(port != 0);
        const fs::path dir = root / fmt::format("{}-{}", tag, port);
        fs::create_directories(dir);
        process.emplace(server_arguments(program, port, dir, false), log_path);
        INFO(read_file(log_path));
        REQUIRE(wait_ready(*process, port));
        conn.emplace(port);
    }
    std::optional<Reply> call(const std::vector<std::string>& args) { return conn->call(args); }
    // The exact bytes of the reply to `args`.
    std::string raw(const std::vector<std::string>& args) {
        std::string request = fmt::format("*{}\r\n", args.size());
        for (const auto& a : args)
            request += fmt::format("${}\r\n{}\r\n", a.size(), a);
        if (!conn->send_raw(request)) return "<send failed>";
        return conn->read_raw().value_or("<no reply>");
    }
    std::string bulk(const std::vector<std::string>& args) {
        auto r = call(args);
        return r && r->is_bulk() ? r->text : std::string("<not a bulk reply>");
    }

    std::uint16_t port;
    fs::path log_path;
    std::optional<Process> process;
    std::optional<RespConnection> conn;
};

std::string random_binary(std::mt19937_64& rng, std::size_t n) {
    std::string s(n, '\0');
    for (auto& c : s)
        c = static_cast<char>(rng() & 0xff);
    return s;
}

}  // namespace

TEST_CASE("[dump-restore] DUMP payloads agree with redis-server and load on both sides",
          "[interop][kvserver]") {
    TempDir tmp("kv-dump-restore");
    Standalone redis(tmp.path(), kRedisServerPath, "redis");
    Standalone kv(tmp.path(), kKvServerPath, "kv");
    std::mt19937_64 rng(7);

    struct Value {
        std::string name;
        std::string data;
        bool redis_compresses;  // redis-server LZF-compresses it (rdbcompression yes)
    };
    std::string text_block;
    while (text_block.size() < 4000)
        text_block +=
            fmt::format("line {} of a long and repetitive text value\n", text_block.size());
    const std::vector<Value> values{
        {"short", "hello", false},
        {"int8", "-7", false},
        {"int16", "12345", false},
        {"int32", "-2147483648", false},
        {"not-an-int", "007", false},
        {"wide-int", "12345678901", false},
        {"empty", "", false},
        {"crlf-nul", std::string("a\r\nb\0c", 6), false},
        {"binary", random_binary(rng, 300), false},
        {"binary-20k", random_binary(rng, 20 * 1024), false},
        {"repeated", std::string(54, 'a'), true},
        {"text", text_block, true},
        {"text-20k", std::string(20 * 1024, 'z'), true},
    };
    for (const auto& v : values) {
        INFO(v.name);
        REQUIRE(redis.call({"SET", v.name, v.data})->text == "OK");
        REQUIRE(kv.call({"SET", v.name, v.data})->text == "OK");
        const std::string from_redis = redis.bulk({"DUMP", v.name});
        const std::string from_kv = kv.bulk({"DUMP", v.name});
        if (v.redis_compresses) {
            // redis-server stores it LZF-compressed, this server as it is.
            REQUIRE(from_redis.size() > 2);
            CHECK(static_cast<unsigned char>(from_redis[1]) == 0xc3);
            CHECK(from_kv.size() > from_redis.size());
        } else {
            CHECK(from_kv == from_redis);
        }
        // Each side restores the other's payload to the same value.
        const std::string copy = v.name + ":copy";
        CHECK(kv.call({"RESTORE", copy, "0", from_redis})->text == "OK");
        CHECK(redis.call({"RESTORE", copy, "0", from_kv})->text == "OK");
        CHECK(kv.bulk({"GET", copy}) == v.data);
        CHECK(redis.bulk({"GET", copy}) == v.data);
    }
}

TEST_CASE("[dump-restore] RESTORE options and errors are redis-server's, byte for byte",
          "[interop][kvserver]") {
    TempDir tmp("kv-restore-errors");
    Standalone redis(tmp.path(), kRedisServerPath, "redis");
    Standalone kv(tmp.path(), kKvServerPath, "kv");
    REQUIRE(redis.call({"SET", "src", "hello"}));
    const std::string payload = redis.bulk({"DUMP", "src"});
    REQUIRE(payload.size() > 10);
    std::string bad_crc = payload;
    bad_crc.back() = static_cast<char>(bad_crc.back() ^ 0x40);
    std::string newer = payload;
    newer[payload.size() - 10] = 11;
    // A set ('s', type 2) with a matching checksum, from redis-server itself.
    REQUIRE(redis.call({"SADD", "aset", "m"}));
    const std::string set_payload = redis.bulk({"DUMP", "aset"});

    const std::vector<std::vector<std::string>> script{
        {"SET", "taken", "x"},
        {"RESTORE", "taken", "0", payload},
        {"RESTORE", "taken", "x", "garbage"},
        {"RESTORE", "fresh", "x", payload},
        {"RESTORE", "fresh", "-1", payload},
        {"RESTORE", "fresh", "-0", payload},
        {"RESTORE", "fresh", "0", "garbage"},
        {"RESTORE", "fresh", "0", ""},
        {"RESTORE", "fresh", "0", bad_crc},
        {"RESTORE", "fresh", "0", newer},
        {"RESTORE", "fresh", "0", payload, "foo"},
        {"RESTORE", "fresh", "0", payload, "IDLETIME"},
        {"RESTORE", "fresh", "0", payload, "IDLETIME", "-1"},
        {"RESTORE", "fresh", "0", payload, "IDLETIME", "x"},
        {"RESTORE", "fresh", "0", payload, "FREQ", "256"},
        {"RESTORE", "fresh", "0", payload, "FREQ", "x"},
        {"RESTORE", "fresh", "0", payload, "IDLETIME", "1", "FREQ", "2"},
        {"RESTORE", "fresh"},
        {"DUMP"},
        {"DUMP", "a", "b"},
        {"DUMP", "missing"},
        {"RESTORE", "fresh", "0", payload, "IDLETIME", "10"},
        {"GET", "fresh"},
        {"RESTORE", "fresh", "0", payload},
        {"RESTORE", "fresh", "0", payload, "replace", "FREQ", "5"},
        {"RESTORE-ASKING", "asked", "0", payload},
        {"GET", "asked"},
        // An absolute time in the past: OK, and no key; with REPLACE the old one goes too.
        {"RESTORE", "past", "1", payload, "ABSTTL"},
        {"EXISTS", "past"},
        {"RESTORE", "taken", "1", payload, "ABSTTL", "REPLACE"},
        {"EXISTS", "taken"},
        {"RESTORE", "later", "600000", payload},
        {"EXISTS", "later"},
    };
    for (const auto& cmd : script) {
        std::string shown;
        for (const auto& a : cmd)
            shown += " '" + (a.size() > 24 ? a.substr(0, 8) + "..." : a) + "'";
        CAPTURE(shown);
        CHECK(kv.raw(cmd) == redis.raw(cmd));
    }

    // Other types load in redis-server; this server has strings only and refuses them cleanly.
    CHECK(redis.raw({"RESTORE", "set-copy", "0", set_payload}) == "+OK\r\n");
    CHECK(kv.raw({"RESTORE", "set-copy", "0", set_payload}) == "-ERR Bad data format\r\n");
    CHECK(kv.call({"PING"})->text == "PONG");

    // A relative TTL expires the key. The TTL outlasts the round trip that finds the key many
    // times over; the sleep starts after the RESTORE took effect and lasts longer than the TTL.
    CHECK(kv.call({"RESTORE", "brief", "2000", payload})->text == "OK");
    CHECK(kv.call({"EXISTS", "brief"})->integer == 1);
    std::this_thread::sleep_for(2100ms);
    CHECK(kv.call({"EXISTS", "brief"})->integer == 0);
}

TEST_CASE("[dump-restore] MIGRATE moves keys between kvserver and redis-server both ways",
          "[interop][kvserver]") {
    TempDir tmp("kv-migrate-redis");
    Standalone redis(tmp.path(), kRedisServerPath, "redis");
    Standalone kv(tmp.path(), kKvServerPath, "kv");
    const std::string to_redis = std::to_string(redis.port);
    const std::string to_kv = std::to_string(kv.port);
    const std::string long_value(5000, 'q');

    // kvserver -> redis-server: RESTORE with this server's payloads.
    REQUIRE(kv.call({"SET", "k1", "one"}));
    REQUIRE(kv.call({"SET", "k2", long_value}));
    REQUIRE(kv.call({"SET", "k3", "3", "PX", "600000"}));
    CHECK(kv.call({"MIGRATE", "127.0.0.1", to_redis, "", "0", "5000", "KEYS", "k1", "k2", "k3"})
              ->text == "OK");
    CHECK(kv.call({"EXISTS", "k1", "k2", "k3"})->integer == 0);
    CHECK(redis.bulk({"GET", "k1"}) == "one");
    CHECK(redis.bulk({"GET", "k2"}) == long_value);
    const auto ttl = redis.call({"PTTL", "k3"});
    REQUIRE(ttl);
    CHECK(ttl->integer > 500000);
    CHECK(ttl->integer <= 600000);
    CHECK(kv.call({"MIGRATE", "127.0.0.1", to_redis, "nokey", "0", "5000"})->text == "NOKEY");

    // A key the target has: BUSYKEY through both servers' MIGRATE alike, then REPLACE and COPY.
    REQUIRE(kv.call({"SET", "k1", "again"}));
    REQUIRE(redis.call({"SET", "r1", "x"}));
    REQUIRE(kv.call({"SET", "r1", "y"}));
    const std::string kv_busy = kv.raw({"MIGRATE", "127.0.0.1", to_redis, "k1", "0", "5000"});
    const std::string redis_busy = redis.raw({"MIGRATE", "127.0.0.1", to_kv, "r1", "0", "5000"});
    CHECK(kv_busy ==
          "-ERR Target instance replied with error: BUSYKEY Target key name already "
          "exists.\r\n");
    CHECK(kv_busy == redis_busy);
    CHECK(kv.call({"MIGRATE", "127.0.0.1", to_redis, "k1", "0", "5000", "COPY", "REPLACE"})->text ==
          "OK");
    CHECK(kv.bulk({"GET", "k1"}) == "again");
    CHECK(redis.bulk({"GET", "k1"}) == "again");

    // redis-server -> kvserver: RESTORE with redis-server's payloads, LZF-compressed ones too.
    REQUIRE(redis.call({"SET", "big", long_value}));
    REQUIRE(redis.call({"SET", "n", "-42"}));
    CHECK(redis
              .call({"MIGRATE", "127.0.0.1", to_kv, "", "0", "5000", "REPLACE", "KEYS", "big", "n",
                     "r1"})
              ->text == "OK");
    CHECK(kv.bulk({"GET", "big"}) == long_value);
    CHECK(kv.bulk({"GET", "n"}) == "-42");
    CHECK(kv.bulk({"GET", "r1"}) == "x");
    CHECK(redis.call({"EXISTS", "big", "n", "r1"})->integer == 0);
}

}  // namespace interop_dump_restore_test
