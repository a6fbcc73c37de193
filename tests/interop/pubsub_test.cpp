// Interop: Pub/Sub on gossipcluster-kvserver against redis-server 7.0: the same replies byte for
// byte, messages across a mixed cluster both ways, shard channels within a shard of each kind,
// and output buffer limits for slow subscribers.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "gossipcluster/keyslot.hpp"
#include "process_harness.hpp"
#include "redis_cli_support.hpp"

namespace interop_pubsub_test {

using namespace gossipcluster::interop_test;
using namespace std::chrono_literals;

namespace {

constexpr auto kReplyLimit = 3s;
constexpr auto kPollEvery = 100ms;

// Reply bytes made printable for failure messages.
std::string printable(std::string_view bytes) {
    std::string out;
    for (unsigned char c : bytes) {
        if (c == '\r')
            out += "\\r";
        else if (c == '\n')
            out += "\\n";
        else if (c < 0x20 || c >= 0x7f)
            out += fmt::format("\\x{:02x}", c);
        else
            out += static_cast<char>(c);
    }
    return out;
}

std::string bulk(std::string_view s) {
    return fmt::format("${}\r\n{}\r\n", s.size(), s);
}
// Redis's push replies, spelled out from its protocol documentation.
std::string push(std::string_view kind, std::string_view name, long long count) {
    return fmt::format("*3\r\n{}{}:{}\r\n", bulk(kind), bulk(name), count);
}
std::string message(std::string_view channel, std::string_view payload) {
    return fmt::format("*3\r\n{}{}{}", bulk("message"), bulk(channel), bulk(payload));
}
std::string pmessage(std::string_view pattern, std::string_view channel, std::string_view payload) {
    return fmt::format("*4\r\n{}{}{}{}", bulk("pmessage"), bulk(pattern), bulk(channel),
                       bulk(payload));
}
std::string smessage(std::string_view channel, std::string_view payload) {
    return fmt::format("*3\r\n{}{}{}", bulk("smessage"), bulk(channel), bulk(payload));
}

// The next `n` replies on `conn`, each as raw bytes ("(none)" when one does not come).
std::vector<std::string> read_replies(RespConnection& conn, int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
        auto raw = conn.read_raw(kReplyLimit);
        out.push_back(raw ? *raw : std::string("(none)"));
        if (!raw) break;
    }
    return out;
}

std::string send_and_read(RespConnection& conn, const std::vector<std::string>& args, int n = 1) {
    if (!args.empty() && !conn.send_raw(encode_command(args))) return "(send failed)";
    std::string out;
    for (auto& r : read_replies(conn, n))
        out += r;
    return out;
}

// A scripted exchange: `args` go out on connection `conn` (nothing when empty), then `replies`
// replies are read from it. Where redis-server's order comes from its hash tables, the step
// compares in any order: its replies, or the elements of its one array reply.
enum class Order { kExact, kAnyReplyOrder, kAnyElementOrder };
struct Step {
    int conn;
    std::vector<std::string> args;
    int replies = 1;
    Order order = Order::kExact;
};

// The elements of an array reply, sorted, each as raw bytes.
std::string sorted_elements(const std::string& raw) {
    Reply r;
    std::size_t pos = 0;
    if (detail::parse_reply(raw, pos, r) != detail::Parse::kDone || r.type != Reply::Type::kArray)
        return raw;
    std::vector<std::string> items;
    for (const auto& e : r.elements)
        items.push_back(e.type == Reply::Type::kBulk ? bulk(e.text) : e.show());
    std::sort(items.begin(), items.end());
    std::string out = fmt::format("*{} (any order)\r\n", items.size());
    for (const auto& i : items)
        out += i;
    return out;
}

// Runs `steps` against the server on `port`; one transcript line per step.
std::vector<std::string> run_script(std::uint16_t port, const std::vector<Step>& steps,
                                    int connections) {
    std::vector<std::unique_ptr<RespConnection>> conns;
    for (int i = 0; i < connections; ++i) {
        conns.push_back(std::make_unique<RespConnection>(port));
        REQUIRE(conns.back()->reconnect());
    }
    std::vector<std::string> transcript;
    for (const auto& step : steps) {
        auto& conn = *conns.at(static_cast<std::size_t>(step.conn));
        std::string line = fmt::format("c{}", step.conn);
        for (const auto& a : step.args)
            line += " " + printable(a);
        if (!step.args.empty() && !conn.send_raw(encode_command(step.args)))
            line += " (send failed)";
        auto replies = read_replies(conn, step.replies);
        if (step.order == Order::kAnyReplyOrder) std::sort(replies.begin(), replies.end());
        if (step.order == Order::kAnyElementOrder)
            for (auto& r : replies)
                r = sorted_elements(r);
        line += " =>";
        for (const auto& r : replies)
            line += " " + printable(r);
        transcript.push_back(std::move(line));
    }
    return transcript;
}

struct Standalone {
    Standalone(ServerKind kind, const fs::path& dir) {
        for (int attempt = 0; attempt < 4; ++attempt) {
            port = pick_port();
            REQUIRE(port != 0);
            const std::string program =
                kind == ServerKind::kRedis ? std::string(kRedisServerPath) : kv_program();
            auto args = server_arguments(program, port, dir, false);
            log = dir / fmt::format("{}-{}.log", kind == ServerKind::kRedis ? "redis" : "kv", port);
            process.emplace(args, log);
            if (wait_ready(*process, port)) return;
            process.reset();
        }
        FAIL("standalone server did not start: " << read_tail(log));
    }
    static std::string kv_program() {
#ifdef GOSSIPCLUSTER_BIN_DIR
        return kKvServerPath;
#else
        return "";
#endif
    }
    std::uint16_t port = 0;
    fs::path log;
    std::optional<Process> process;
};

// The standalone script: every command, its errors and its replies in both modes.
std::vector<Step> standalone_script() {
    const std::string binary_channel("bin\0\r\nary", 9);
    const std::string binary_payload("\x00\xff\r\n", 4);
    return {
        // Argument errors and the replies outside subscribe mode.
        {2, {"PUBSUB"}},
        {2, {"PUBSUB", "CHANNELS", "a", "b"}},
        {2, {"PUBSUB", "SHARDCHANNELS", "a", "b"}},
        {2, {"PUBSUB", "NUMPAT", "x"}},
        {2, {"PUBSUB", "HELP", "x"}},
        {2, {"PUBSUB", "NOSUCH"}},
        {2, {"pubsub", "help"}},
        {2, {"PUBSUB", "NUMSUB"}},
        {2, {"PUBSUB", "SHARDNUMSUB"}},
        {2, {"SUBSCRIBE"}},
        {2, {"PSUBSCRIBE"}},
        {2, {"SSUBSCRIBE"}},
        {2, {"PUBLISH", "a"}},
        {2, {"SPUBLISH", "a", "b", "c"}},
        {2, {"PUBLISH", "a", "b"}},
        {2, {"SPUBLISH", "a", "b"}},
        {2, {"UNSUBSCRIBE"}},
        {2, {"PUNSUBSCRIBE"}},
        {2, {"SUNSUBSCRIBE"}},
        {2, {"UNSUBSCRIBE", "x", "y"}, 2},
        {2, {"PUNSUBSCRIBE", "x*"}},
        {2, {"SUNSUBSCRIBE", "x"}},
        {2, {"PING"}},
        // Subscribe mode: counts, repeats, allowed and refused commands.
        {0, {"SUBSCRIBE", "news.1", "x", "news.1"}, 3},
        {0, {"PSUBSCRIBE", "news.*", "n?ws.*", "news.*"}, 3},
        {0, {"SSUBSCRIBE", "s1", "s2", "s1"}, 3},
        {0, {"PING"}},
        {0, {"ping", "hello"}},
        {0, {"PING", "a", "b"}},
        {0, {"GET", "x"}},
        {0, {"NOSUCHCOMMAND", "x"}},
        {0, {"CLIENT", "LIST"}},
        {0, {"PUBLISH", "a", "b"}},
        {0, {"PUBSUB", "NUMPAT"}},
        {0, {"SET", "k"}},
        {1, {"PSUBSCRIBE", "news.*"}},
        // Delivery: the channel first, then the patterns (their order is a hash table's).
        {2, {"PUBLISH", "news.1", "hi"}},
        {0, {}, 3, Order::kAnyReplyOrder},
        {1, {}, 1},
        {2, {"PUBLISH", "news.2", "second"}},
        {0, {}, 2, Order::kAnyReplyOrder},
        {1, {}, 1},
        {2, {"PUBLISH", "other", "nobody"}},
        {2, {"PUBSUB", "NUMPAT"}},
        {2, {"PUBSUB", "NUMSUB", "news.1", "x", "zz", "s1"}},
        {2, {"PUBSUB", "CHANNELS"}, 1, Order::kAnyElementOrder},
        {2, {"PUBSUB", "CHANNELS", "n*"}},
        {2, {"PUBSUB", "CHANNELS", "[^n]"}},
        {2, {"PUBSUB", "SHARDCHANNELS"}, 1, Order::kAnyElementOrder},
        {2, {"PUBSUB", "SHARDCHANNELS", "*2"}},
        {2, {"PUBSUB", "SHARDNUMSUB", "s1", "s2", "news.1"}},
        {2, {"SPUBLISH", "s1", "shard message"}},
        {0, {}, 1},
        {2, {"PUBLISH", "s1", "not a shard message"}},
        {2, {"SPUBLISH", "news.1", "not a channel message"}},
        // Leaving subscribe mode one kind at a time.
        {0, {"SUNSUBSCRIBE", "s1", "zz"}, 2},
        {0, {"UNSUBSCRIBE", "news.1", "x", "zz"}, 3},
        {0, {"PUNSUBSCRIBE", "news.*"}},
        {0, {"PUNSUBSCRIBE"}},
        {0, {"PING"}},
        {0, {"GET", "x"}},
        {0, {"SUNSUBSCRIBE"}},
        {0, {"PING"}},
        {0, {"GET", "x"}},
        // Binary-safe names and payloads; glob classes and escapes.
        {1, {"PUNSUBSCRIBE"}},
        {1, {"SUBSCRIBE", binary_channel}},
        {2, {"PUBLISH", binary_channel, binary_payload}},
        {1, {}, 1},
        {1, {"PSUBSCRIBE", "h[ae]llo", "h\\*"}, 2},
        {2, {"PUBLISH", "hallo", "m1"}},
        {2, {"PUBLISH", "hillo", "m2"}},
        {2, {"PUBLISH", "h*", "m3"}},
        {1, {}, 2},
        {2, {"PUBLISH", "big", std::string(100000, 'b')}},
        {1, {"SUBSCRIBE", "big"}},
        {2, {"PUBLISH", "big", std::string(100000, 'b')}},
        {1, {}, 1},
        {1, {"QUIT"}},
        {2, {"PUBSUB", "NUMSUB", "big"}},
    };
}

}  // namespace

TEST_CASE("[pubsub] replies match redis-server 7.0 byte for byte", "[interop][pubsub]") {
    TempDir tmp("gossipcluster-pubsub");
    Standalone redis(ServerKind::kRedis, tmp.path());
    Standalone kv(ServerKind::kKv, tmp.path());
    const auto steps = standalone_script();
    const auto expected = run_script(redis.port, steps, 3);
    const auto actual = run_script(kv.port, steps, 3);
    REQUIRE(expected.size() == actual.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        CAPTURE(i);
        CHECK(actual[i] == expected[i]);
    }
    // The script reached subscribe mode and delivered: not a transcript of timeouts.
    for (const auto& line : expected)
        CHECK(line.find("(none)") == std::string::npos);
}

TEST_CASE("[pubsub] the redis-server reply formats are what the tests spell out",
          "[interop][pubsub]") {
    // The helpers that the cluster case builds its expectations with, against real replies.
    TempDir tmp("gossipcluster-pubsub-format");
    Standalone redis(ServerKind::kRedis, tmp.path());
    RespConnection sub(redis.port);
    RespConnection pub(redis.port);
    CHECK(send_and_read(sub, {"SUBSCRIBE", "c"}) == push("subscribe", "c", 1));
    CHECK(send_and_read(sub, {"PSUBSCRIBE", "c*"}) == push("psubscribe", "c*", 2));
    CHECK(send_and_read(sub, {"SSUBSCRIBE", "s"}) == push("ssubscribe", "s", 1));
    CHECK(send_and_read(pub, {"PUBLISH", "c", "m"}) == ":2\r\n");
    CHECK(send_and_read(sub, {}, 2) == message("c", "m") + pmessage("c*", "c", "m"));
    CHECK(send_and_read(pub, {"SPUBLISH", "s", "m"}) == ":1\r\n");
    CHECK(send_and_read(sub, {}) == smessage("s", "m"));
}

TEST_CASE("[pubsub] a slow subscriber is closed at its output buffer limit", "[interop][pubsub]") {
    TempDir tmp("gossipcluster-pubsub-limit");
    // Small limits so that loopback socket buffers (a few MB) are soon full.
    struct Limit {
        std::vector<std::string> words;  // hard, soft, soft seconds
        std::chrono::milliseconds pace;  // between publishes
    };
    // The hard limit alone, then the soft limit alone (over 256 KB for more than a second).
    const std::vector<Limit> limits{{{"1mb", "0", "0"}, 0ms}, {{"0", "256kb", "1"}, 20ms}};
    for (const auto kind : {ServerKind::kRedis, ServerKind::kKv})
        for (const auto& limit : limits) {
            CAPTURE(kind_name(kind), limit.words);
            std::optional<Process> process;
            std::uint16_t port = 0;
            fs::path log;
            for (int attempt = 0; attempt < 4 && !process; ++attempt) {
                port = pick_port();
                auto args =
                    server_arguments(kind == ServerKind::kRedis ? std::string(kRedisServerPath)
                                                                : Standalone::kv_program(),
                                     port, tmp.path(), false);
                args.insert(args.end(), {"--client-output-buffer-limit", "pubsub"});
                args.insert(args.end(), limit.words.begin(), limit.words.end());
                log = tmp.path() / fmt::format("limit-{}.log", port);
                process.emplace(args, log);
                if (!wait_ready(*process, port)) process.reset();
            }
            REQUIRE(process);
            RespConnection slow(port);
            RespConnection reader(port);
            RespConnection pub(port);
            REQUIRE(send_and_read(slow, {"SUBSCRIBE", "flood"}) == push("subscribe", "flood", 1));
            REQUIRE(send_and_read(reader, {"SUBSCRIBE", "flood"}) == push("subscribe", "flood", 1));
            // `slow` never reads: 64 MB offered, far beyond the limit plus the socket buffers.
            const std::string payload(64 * 1024, 'x');
            int published = 0;
            bool dropped = false;
            const auto start = std::chrono::steady_clock::now();
            for (; published < 1024 && !dropped; ++published) {
                std::this_thread::sleep_for(limit.pace);
                auto r = pub.call({"PUBLISH", "flood", payload});
                REQUIRE(r);
                REQUIRE(r->type == Reply::Type::kInteger);
                dropped = r->integer == 1;
                // The reader keeps up, so only `slow` can be over the limit.
                auto got = reader.read_raw(kReplyLimit);
                REQUIRE(got);
            }
            const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start);
            INFO("messages published before the slow subscriber was dropped: "
                 << published << " in " << took.count() << " ms");
            CHECK(dropped);
            if (limit.pace > 0ms) CHECK(took > 1s);
            auto numsub = pub.call({"PUBSUB", "NUMSUB", "flood"});
            REQUIRE(numsub);
            REQUIRE(numsub->elements.size() == 2);
            CHECK(numsub->elements[1].integer == 1);
            // What `slow` had buffered can still be read; then the connection ends.
            CHECK(slow.closed_by_peer(10s));
            CHECK(send_and_read(pub, {"PING"}) == "+PONG\r\n");
            fmt::print(
                "pubsub [{} limit {} {} {}]: slow subscriber closed after {} messages, {} ms\n",
                kind_name(kind), limit.words[0], limit.words[1], limit.words[2], published,
                took.count());
        }
}

namespace {

// A channel name whose slot lies in [lo, hi].
std::string channel_in(std::uint16_t lo, std::uint16_t hi, std::string_view prefix) {
    for (int i = 0; i < 1000000; ++i) {
        std::string name = fmt::format("{}{}", prefix, i);
        const auto slot = gossipcluster::key_hash_slot(name);
        if (slot >= lo && slot <= hi) return name;
    }
    FAIL("no channel name found for the slot range");
    return {};
}

struct NodeRow {
    std::string id, flags, master, link;
};

std::vector<NodeRow> node_rows(ClusterServer& s) {
    std::vector<NodeRow> rows;
    auto r = s.call({"CLUSTER", "NODES"});
    if (!r || !r->is_bulk()) return rows;
    for (const auto& line : split(r->text, '\n')) {
        auto f = split(line, ' ');
        if (f.size() >= 8) rows.push_back({f[0], f[2], f[3], f[7]});
    }
    return rows;
}

std::string nodes_dump(const std::vector<ClusterServer*>& all) {
    std::string out;
    for (auto* s : all) {
        auto r = s->call({"CLUSTER", "NODES"}, 2s);
        out += fmt::format("=== {}:\n{}\n{}\n", s->name(), r ? r->text : "(no reply)",
                           s->log_tail(15));
    }
    return out;
}

}  // namespace

TEST_CASE("[pubsub] messages cross a mixed cluster; shard channels stay in their shard",
          "[interop][pubsub][mixed]") {
    TempDir tmp("gossipcluster-pubsub-mixed");
    ClusterServer r0(ServerKind::kRedis, tmp.path());
    ClusterServer r1(ServerKind::kRedis, tmp.path());
    ClusterServer k0(ServerKind::kKv, tmp.path());
    ClusterServer k1(ServerKind::kKv, tmp.path());
    ClusterServer kr(ServerKind::kKv, tmp.path());     // replica of r0
    ClusterServer rr(ServerKind::kRedis, tmp.path());  // replica of k0
    const std::vector<ClusterServer*> all{&r0, &r1, &k0, &k1, &kr, &rr};

    for (auto* s : {&r1, &k0, &k1, &kr, &rr})
        REQUIRE(s->call({"CLUSTER", "MEET", "127.0.0.1", std::to_string(r0.port())})->is_ok());
    REQUIRE(r0.call({"CLUSTER", "ADDSLOTSRANGE", "0", "4095"})->is_ok());
    REQUIRE(r1.call({"CLUSTER", "ADDSLOTSRANGE", "4096", "8191"})->is_ok());
    REQUIRE(k0.call({"CLUSTER", "ADDSLOTSRANGE", "8192", "12287"})->is_ok());
    REQUIRE(k1.call({"CLUSTER", "ADDSLOTSRANGE", "12288", "16383"})->is_ok());
    const std::string r0_id = node_id(r0);
    const std::string k0_id = node_id(k0);
    const std::string kr_id = node_id(kr);
    const std::string rr_id = node_id(rr);

    // Replicas may only follow a master they know.
    auto knows = [](ClusterServer& s, const std::string& id) {
        for (const auto& row : node_rows(s))
            if (row.id == id && row.flags.find("handshake") == std::string::npos) return true;
        return false;
    };
    REQUIRE(wait_until(kConvergeLimit, kPollEvery, [&] { return knows(kr, r0_id); }));
    REQUIRE(wait_until(kConvergeLimit, kPollEvery, [&] { return knows(rr, k0_id); }));
    REQUIRE(kr.call({"CLUSTER", "REPLICATE", r0_id})->is_ok());
    REQUIRE(rr.call({"CLUSTER", "REPLICATE", k0_id})->is_ok());

    // Everyone knows all six, connected, both replicas as such, and the cluster is ok.
    const bool settled = wait_until(kConvergeLimit, kPollEvery, [&] {
        for (auto* s : all) {
            if (!cluster_ok(*s)) return false;
            auto rows = node_rows(*s);
            if (rows.size() != all.size()) return false;
            for (const auto& row : rows) {
                if (row.link != "connected" || row.flags.find("handshake") != std::string::npos)
                    return false;
                if (row.id == kr_id && row.master != r0_id) return false;
                if (row.id == rr_id && row.master != k0_id) return false;
            }
        }
        return true;
    });
    INFO((settled ? std::string() : nodes_dump(all)));
    REQUIRE(settled);

    // PUBLISH on any node reaches channel and pattern subscribers on every node.
    RespConnection on_r1(r1.port()), on_k1(k1.port()), on_kr(kr.port()), on_rr(rr.port());
    RespConnection pat_k0(k0.port()), pat_r0(r0.port());
    for (auto* c : {&on_r1, &on_k1, &on_kr, &on_rr})
        REQUIRE(send_and_read(*c, {"SUBSCRIBE", "news"}) == push("subscribe", "news", 1));
    REQUIRE(send_and_read(pat_k0, {"PSUBSCRIBE", "ne?s"}) == push("psubscribe", "ne?s", 1));
    REQUIRE(send_and_read(pat_r0, {"PSUBSCRIBE", "n*s"}) == push("psubscribe", "n*s", 1));

    RespConnection ctl_k0(k0.port()), ctl_r1(r1.port());
    CHECK(send_and_read(ctl_k0, {"PUBLISH", "news", "from-kv"}) == ":1\r\n");
    for (auto* c : {&on_r1, &on_k1, &on_kr, &on_rr})
        CHECK(send_and_read(*c, {}) == message("news", "from-kv"));
    CHECK(send_and_read(pat_k0, {}) == pmessage("ne?s", "news", "from-kv"));
    CHECK(send_and_read(pat_r0, {}) == pmessage("n*s", "news", "from-kv"));

    CHECK(send_and_read(ctl_r1, {"PUBLISH", "news", "from-redis"}) == ":1\r\n");
    for (auto* c : {&on_r1, &on_k1, &on_kr, &on_rr})
        CHECK(send_and_read(*c, {}) == message("news", "from-redis"));
    CHECK(send_and_read(pat_k0, {}) == pmessage("ne?s", "news", "from-redis"));
    CHECK(send_and_read(pat_r0, {}) == pmessage("n*s", "news", "from-redis"));

    // Shard channels: one shard led by redis-server (r0 + kv replica kr), one by kvserver (k0 +
    // redis replica rr). A replica serves its master's shard channels without READONLY.
    struct Shard {
        ClusterServer& master;
        ClusterServer& replica;
        std::string channel;
    };
    const std::vector<Shard> shards{{r0, kr, channel_in(0, 4095, "shard-r-")},
                                    {k0, rr, channel_in(8192, 12287, "shard-k-")}};
    for (const auto& shard : shards) {
        CAPTURE(shard.master.name(), shard.replica.name(), shard.channel);
        RespConnection on_master(shard.master.port()), on_replica(shard.replica.port());
        RespConnection ctl_master(shard.master.port()), ctl_replica(shard.replica.port());
        CHECK(send_and_read(on_master, {"SSUBSCRIBE", shard.channel}) ==
              push("ssubscribe", shard.channel, 1));
        CHECK(send_and_read(on_replica, {"SSUBSCRIBE", shard.channel}) ==
              push("ssubscribe", shard.channel, 1));
        CHECK(send_and_read(ctl_master, {"SPUBLISH", shard.channel, "by-master"}) == ":1\r\n");
        CHECK(send_and_read(on_master, {}) == smessage(shard.channel, "by-master"));
        CHECK(send_and_read(on_replica, {}) == smessage(shard.channel, "by-master"));
        CHECK(send_and_read(ctl_replica, {"SPUBLISH", shard.channel, "by-replica"}) == ":1\r\n");
        CHECK(send_and_read(on_master, {}) == smessage(shard.channel, "by-replica"));
        CHECK(send_and_read(on_replica, {}) == smessage(shard.channel, "by-replica"));
        // Shard subscribers are not channel subscribers of the same name.
        CHECK(send_and_read(ctl_master, {"PUBLISH", shard.channel, "plain"}) == ":0\r\n");
    }

    // Routing of shard channels: every node, of either kind, gives the same redirection.
    const std::string in_k1 = channel_in(12288, 16383, "route-k-");
    const std::string in_r1 = channel_in(4096, 8191, "route-r-");
    const std::string moved_k1 =
        fmt::format("-MOVED {} 127.0.0.1:{}\r\n", gossipcluster::key_hash_slot(in_k1), k1.port());
    const std::string moved_r1 =
        fmt::format("-MOVED {} 127.0.0.1:{}\r\n", gossipcluster::key_hash_slot(in_r1), r1.port());
    const std::string crossslot = "-CROSSSLOT Keys in request don't hash to the same slot\r\n";
    for (auto* s : {&r0, &k0, &kr, &rr}) {
        CAPTURE(s->name());
        RespConnection c(s->port());
        CHECK(send_and_read(c, {"SSUBSCRIBE", in_k1}) == moved_k1);
        CHECK(send_and_read(c, {"SPUBLISH", in_r1, "x"}) == moved_r1);
        CHECK(send_and_read(c, {"SUNSUBSCRIBE", in_r1}) == moved_r1);
        CHECK(send_and_read(c, {"SSUBSCRIBE", in_k1, in_r1}) == crossslot);
        CHECK(send_and_read(c, {"PUBLISH", in_k1, "x"}) == ":0\r\n");
    }
    {
        // A replica redirects to the master of another shard, not to its own.
        RespConnection c(kr.port());
        CHECK(send_and_read(c, {"SSUBSCRIBE", shards[1].channel}) ==
              fmt::format("-MOVED {} 127.0.0.1:{}\r\n",
                          gossipcluster::key_hash_slot(shards[1].channel), k0.port()));
    }

    // A slot taken from a node unsubscribes its shard channels, with one message per channel.
    for (auto* s : {&r1, &k1}) {
        CAPTURE(s->name());
        const bool is_r1 = s == &r1;
        // Two channels of one slot, by a hash tag.
        const std::string tag = channel_in(is_r1 ? 4096 : 12288, is_r1 ? 8191 : 16383, "lost-");
        const std::string a = "{" + tag + "}a";
        const std::string b = "{" + tag + "}b";
        const std::string slot = std::to_string(gossipcluster::key_hash_slot(a));
        RespConnection sub(s->port()), ctl(s->port());
        CHECK(send_and_read(sub, {"SSUBSCRIBE", a, b}, 2) +
                  send_and_read(sub, {"SUBSCRIBE", "plain"}) ==
              push("ssubscribe", a, 1) + push("ssubscribe", b, 2) + push("subscribe", "plain", 1));
        CHECK(send_and_read(ctl, {"CLUSTER", "DELSLOTS", slot}) == "+OK\r\n");
        // Redis sends them in name order.
        CHECK(send_and_read(sub, {}, 2) == push("sunsubscribe", a, 1) + push("sunsubscribe", b, 0));
        CHECK(send_and_read(ctl, {"PUBSUB", "SHARDNUMSUB", a}) ==
              fmt::format("*2\r\n{}:0\r\n", bulk(a)));
        CHECK(send_and_read(ctl, {"CLUSTER", "ADDSLOTS", slot}) == "+OK\r\n");
    }
    CHECK(wait_until(kConvergeLimit, kPollEvery, [&] {
        return std::all_of(all.begin(), all.end(), [](ClusterServer* s) { return cluster_ok(*s); });
    }));
}

}  // namespace interop_pubsub_test
