// Interop: gossipcluster-kvserver against redis-cli and a real redis-server 7.0: commands, error
// texts, key slots, limits, option handling, and two nodes joining over the cluster bus.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "gossipcluster/commands/resp_value.hpp"
#include "process_harness.hpp"

// Failed comparisons show the RESP bytes, control characters escaped.
template <>
struct Catch::StringMaker<gossipcluster::RespValue> {
    static std::string convert(const gossipcluster::RespValue& v) {
        std::string out;
        for (char c : gossipcluster::to_resp2(v)) {
            if (c == '\r')
                out += "\\r";
            else if (c == '\n')
                out += "\\n";
            else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
                out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
            else
                out += c;
        }
        return out;
    }
};

namespace interop_kvserver_test {

using gossipcluster::RespKind;
using gossipcluster::RespValue;
using namespace gossipcluster::interop_test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kKvServer = kKvServerPath;
constexpr auto kWaitLimit = 10s;

RespValue to_value(const Reply& r) {
    switch (r.type) {
        case Reply::Type::kSimple:
            return RespValue::simple(r.text);
        case Reply::Type::kError:
            return RespValue::error(r.text);
        case Reply::Type::kInteger:
            return RespValue::number(r.integer);
        case Reply::Type::kBulk:
            return RespValue::bulk(r.text);
        case Reply::Type::kNull:
            return RespValue::null();
        case Reply::Type::kNullArray:
            return RespValue::null_array();
        case Reply::Type::kArray: {
            std::vector<RespValue> items;
            for (const auto& e : r.elements)
                items.push_back(to_value(e));
            return RespValue::array(std::move(items));
        }
    }
    return RespValue::null();
}

// A harness connection whose failures fail the test; replies as RespValue or as raw bytes.
class RespClient {
  public:
    explicit RespClient(std::uint16_t port) : conn_(port) { REQUIRE(conn_.reconnect()); }

    void send_raw(std::string_view bytes) { REQUIRE(conn_.send_raw(bytes)); }
    // Sends until done or the peer closes; false when it closed.
    bool try_send_raw(std::string_view bytes) { return conn_.send_raw(bytes); }
    void send(const std::vector<std::string>& args) { send_raw(encode_command(args)); }

    RespValue call(const std::vector<std::string>& args) {
        send(args);
        return read_reply();
    }
    RespValue read_reply() {
        auto r = conn_.read(kWaitLimit);
        REQUIRE(r.has_value());
        return to_value(*r);
    }
    // The exact bytes of the next reply.
    std::string read_raw_reply() {
        auto raw = conn_.read_raw(kWaitLimit);
        REQUIRE(raw.has_value());
        return *raw;
    }
    bool closed_by_peer(std::chrono::milliseconds limit = kWaitLimit) {
        return conn_.closed_by_peer(limit);
    }

  private:
    RespConnection conn_;
};

// A running kvserver in its own directory, its output in root/kv-<port>.log.
struct KvServer {
    KvServer(const fs::path& root, std::uint16_t p, std::vector<std::string> extra = {},
             bool cluster = true)
        : port(p),
          dir(root / fmt::format("kv-{}", p)),
          log_path(root / fmt::format("kv-{}.log", p)) {
        INFO("the gossipcluster-kvserver example must be built: " << kKvServer);
        REQUIRE(::access(kKvServer, X_OK) == 0);
        REQUIRE(port != 0);
        fs::create_directories(dir);
        auto args = server_arguments(kKvServer, p, dir, cluster);
        args.insert(args.end(), extra.begin(), extra.end());
        process.emplace(args, log_path);
        INFO(log());
        REQUIRE(wait_ready(*process, port, kWaitLimit));
    }
    std::string log() const { return read_file(log_path); }

    std::uint16_t port;
    fs::path dir;
    fs::path log_path;
    std::optional<Process> process;
};

struct RedisServer {
    RedisServer(const fs::path& root, std::uint16_t p, bool cluster) : port(p) {
        INFO("redis-server 7.0 must be installed at " << kRedisServerPath);
        REQUIRE(::access(kRedisServerPath, X_OK) == 0);
        REQUIRE(port != 0);
        const fs::path dir = root / fmt::format("redis-{}", p);
        const fs::path log_path = root / fmt::format("redis-{}.log", p);
        fs::create_directories(dir);
        process.emplace(server_arguments(kRedisServerPath, p, dir, cluster), log_path);
        INFO(read_file(log_path));
        REQUIRE(wait_ready(*process, port, kWaitLimit));
    }
    std::uint16_t port;
    std::optional<Process> process;
};

// Sends each command of `script` to redis-server (`r`) and the kvserver (`k`): the replies must
// be the same bytes.
void check_same_replies(RespClient& r, RespClient& k,
                        const std::vector<std::vector<std::string>>& script) {
    for (const auto& cmd : script) {
        std::string shown;
        for (const auto& a : cmd)
            shown += " '" + a + "'";
        CAPTURE(shown);
        r.send(cmd);
        k.send(cmd);
        CHECK(k.read_raw_reply() == r.read_raw_reply());
    }
}

// One redis-cli call; returns its output (stdout of a non-terminal: raw replies).
std::string redis_cli(const fs::path& dir, std::uint16_t port, std::vector<std::string> args) {
    REQUIRE(::access(kRedisCliPath, X_OK) == 0);
    std::vector<std::string> argv{kRedisCliPath, "-h", "127.0.0.1", "-p", std::to_string(port)};
    argv.insert(argv.end(), args.begin(), args.end());
    // The harness appends to output files: each call starts from an empty one.
    const fs::path out = dir / "cli.out";
    std::error_code ec;
    fs::remove(out, ec);
    Process cli(argv, out);
    auto status = cli.wait(kWaitLimit);
    REQUIRE(status);
    return read_file(out);
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
        s.pop_back();
    return s;
}

struct NodeLine {
    std::string id, address, flags, master, link;
    std::size_t fields = 0;
};

// CLUSTER NODES text as redis-cli reads it: one line per node, each ending in '\n', fields
// split on spaces.
std::vector<NodeLine> parse_nodes(const std::string& text) {
    std::vector<NodeLine> out;
    if (text.empty()) return out;
    REQUIRE(text.back() == '\n');
    auto lines = split(std::string_view(text).substr(0, text.size() - 1), '\n');
    for (const auto& l : lines) {
        auto f = split(l, ' ');
        CAPTURE(l);
        REQUIRE(f.size() >= 8);
        out.push_back(NodeLine{f[0], f[1], f[2], f[3], f[7], f.size()});
    }
    return out;
}

// SIGTERM, then status 0: a clean shutdown, and no sanitizer report (those make it exit 1).
bool stops_cleanly(KvServer& kv) {
    const int status = kv.process->stop();
    INFO(kv.log());
    return exited_with(status, 0);
}

}  // namespace

TEST_CASE("[kvserver] serves redis-cli: strings, INFO, CLUSTER MYID", "[interop][kvserver]") {
    TempDir tmp("gossipcluster-kvserver");
    KvServer kv(tmp.path(), pick_port());
    const auto cli = [&](std::vector<std::string> args) {
        return trim(redis_cli(tmp.path(), kv.port, std::move(args)));
    };
    // A cluster node serves keys once it owns their slots and the cluster is up, as
    // redis-server does: this one takes all of them.
    {
        RespClient admin(kv.port);
        REQUIRE(admin.call({"CLUSTER", "ADDSLOTSRANGE", "0", "16383"}) == RespValue::ok());
        bool up = false;
        for (int i = 0; i < 100 && !up; ++i) {
            up = admin.call({"CLUSTER", "INFO"}).text.find("cluster_state:ok") != std::string::npos;
            if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        REQUIRE(up);
    }

    // One hash tag: MGET, DEL and EXISTS of several keys need them in one slot.
    CHECK(cli({"PING"}) == "PONG");
    CHECK(cli({"SET", "{t}greeting", "hello"}) == "OK");
    CHECK(cli({"GET", "{t}greeting"}) == "hello");
    CHECK(cli({"INCR", "{t}counter"}) == "1");
    CHECK(cli({"INCR", "{t}counter"}) == "2");
    CHECK(cli({"MGET", "{t}greeting", "{t}missing", "{t}counter"}) == "hello\n\n2");
    CHECK(cli({"DEL", "{t}greeting", "{t}missing"}) == "1");
    CHECK(cli({"EXISTS", "{t}greeting", "{t}counter"}) == "1");
    CHECK(cli({"DBSIZE"}) == "1");

    const std::string info = redis_cli(tmp.path(), kv.port, {"INFO"});
    CHECK(info.find("# Server\r\n") != std::string::npos);
    CHECK(info.find("\r\n# Cluster\r\ncluster_enabled:1\r\n") != std::string::npos);
    CHECK(info.find("# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n") != std::string::npos);
    CHECK(info.find("redis_mode:cluster\r\n") != std::string::npos);

    const std::string myid = cli({"CLUSTER", "MYID"});
    CHECK(myid.size() == 40);
    auto nodes = parse_nodes(redis_cli(tmp.path(), kv.port, {"CLUSTER", "NODES"}));
    REQUIRE(nodes.size() == 1);
    CHECK(nodes[0].id == myid);
    CHECK(nodes[0].flags == "myself,master");
    CHECK(nodes[0].address == fmt::format(":{}@{}", kv.port, kv.port + 10000));

    // The startup line names the pid and both ports.
    CHECK(kv.log().find(fmt::format("Ready to accept connections: pid={} port={} "
                                    "cluster_bus_port={}",
                                    kv.process->pid(), kv.port, kv.port + 10000)) !=
          std::string::npos);
    CHECK(kv.log().find("Ignoring option 'save ''") != std::string::npos);

    // SIGTERM: clean exit, the node table saved in --dir.
    CHECK(exited_with(kv.process->stop(), 0));
    const std::string conf = read_file(kv.dir / "nodes.conf");
    CHECK(conf.find(myid + " :" + std::to_string(kv.port)) == 0);
}

TEST_CASE("[kvserver] replies byte for byte as redis-server 7.0", "[interop][kvserver]") {
    TempDir tmp("gossipcluster-kvserver");

    SECTION("string and connection commands (standalone mode on both)") {
        RedisServer redis(tmp.path(), pick_port(), false);
        KvServer kv(tmp.path(), pick_port(), {}, false);
        const std::vector<std::vector<std::string>> script{
            {"PING"},
            {"PING", "hello"},
            {"PING", "a", "b"},
            {"ECHO", "hi"},
            {"echo"},
            {"GET"},
            {"get", "a", "b"},
            {"SET", "a"},
            {"SET", "a", "b", "c"},
            {"SET", "a", "b", "ex"},
            {"SET", "a", "b", "ex", "0"},
            {"SET", "a", "b", "ex", "-5"},
            {"SET", "a", "b", "ex", "x"},
            {"SET", "a", "b", "px", "0"},
            {"SET", "a", "b", "px", "100", "ex", "100"},
            {"SET", "a", "b", "nx", "xx"},
            {"SET", "a", "b", "keepttl", "ex", "10"},
            {"SET", "a", "b", "ex", "9223372036854775"},
            {"SET", "a", "b", "px", "9223372036854775807"},
            {"SET", "a", "b", "EX", "100", "ex", "100"},
            {"SET", "a", "b"},
            {"SET", "a", "c", "nx"},
            {"SET", "a", "c", "nx", "get"},
            {"SET", "a", "d", "xx", "get"},
            {"SET", "nokey", "d", "xx"},
            {"GET", "a"},
            {"SET", "", "empty key"},
            {"GET", ""},
            {"INCR", "a"},
            {"SET", "n", "9223372036854775807"},
            {"INCR", "n"},
            {"SET", "n", " 1"},
            {"INCR", "n"},
            {"SET", "n", "01"},
            {"INCR", "n"},
            {"SET", "n", "-9223372036854775808"},
            {"INCR", "n"},
            {"INCR", "fresh"},
            {"SET", "n", "5"},
            {"INCRBY", "n", "x"},
            {"INCRBY", "n", "9223372036854775807"},
            {"DECRBY", "n", "-9223372036854775808"},
            {"DECRBY", "n", "9223372036854775807"},
            {"DECR", "n"},
            {"DECRBY", "n", "10"},
            {"INCRBY", "n", "-1"},
            {"DECR", "never"},
            {"MGET", "a", "n", "zz"},
            {"MSET", "a"},
            {"MSET", "a", "b", "c"},
            {"MSET", "k1", "1", "k2", "2"},
            {"DEL", "k1", "k2", "zz"},
            {"EXISTS", "a", "a", "zz"},
            {"EXISTS"},
            {"DEL"},
            {"DBSIZE"},
            {"DBSIZE", "x"},
            {"SELECT", "x"},
            {"SELECT", "0"},
            {"nosuch"},
            {"nosuch", "aa", "bb"},
            {"CLIENT"},
            {"CLIENT", "foo"},
            {"CLIENT", "SETNAME"},
            {"CLIENT", "SETNAME", "a b"},
            {"CLIENT", "GETNAME"},
            {"CLIENT", "SETNAME", "me"},
            {"CLIENT", "GETNAME"},
            {"CLIENT", "ID", "x"},
            {"CONFIG"},
            {"CONFIG", "foo"},
            {"CONFIG", "GET"},
            {"CONFIG", "GET", "appendonly"},
            {"CONFIG", "GET", "nosuch"},
            {"CONFIG", "GET", "Save"},
            {"COMMAND", "COUNT", "x"},
            {"COMMAND", "GETKEYS", "get"},
            {"COMMAND", "GETKEYS", "get", "a"},
            {"COMMAND", "GETKEYS", "get", "a", "b"},
            {"COMMAND", "GETKEYS", "mset", "a", "b", "c", "d"},
            {"COMMAND", "GETKEYS", "ping", "x"},
            {"COMMAND", "GETKEYS", "nosuch", "a"},
            {"COMMAND", "foo"},
            {"INFO", "nosuch"},
            {"INFO", "cluster"},
            {"CLUSTER", "INFO"},
        };
        RespClient r(redis.port), k(kv.port);
        check_same_replies(r, k, script);
        CHECK(stops_cleanly(kv));
    }

    SECTION("CLUSTER subcommand errors (cluster mode on both)") {
        RedisServer redis(tmp.path(), pick_port(), true);
        KvServer kv(tmp.path(), pick_port());
        const std::vector<std::vector<std::string>> script{
            {"CLUSTER"},
            {"CLUSTER", "FOO"},
            {"CLUSTER", "meet"},
            {"CLUSTER", "meet", "1.2.3.4"},
            {"CLUSTER", "meet", "127.0.0.1", "notaport"},
            {"CLUSTER", "meet", "127.0.0.1", "0"},
            {"CLUSTER", "meet", "127.0.0.1", "70000"},
            {"CLUSTER", "meet", "127.0.0.1", "-1"},
            {"CLUSTER", "meet", "127.0.0.1", "007"},
            {"CLUSTER", "meet", "127.0.0.1", "6379", "notaport"},
            {"CLUSTER", "meet", "127.0.0.1", "6379", "0"},
            {"CLUSTER", "MEET", "127.0.0.1", "1", "2", "3"},
            {"CLUSTER", "meet", "nothost", "6379"},
            {"CLUSTER", "meet", "127.0.0.01", "6379"},
            {"CLUSTER", "myid", "x"},
            {"CLUSTER", "nodes", "x"},
            {"CLUSTER", "info", "x"},
            {"CLUSTER", "forget"},
            {"CLUSTER", "forget", "abc"},
            {"CLUSTER", "keyslot"},
            {"CLUSTER", "keyslot", "a3729"},
            {"CLUSTER", "keyslot", "{user1000}.following"},
            {"CLUSTER", "count-failure-reports"},
            {"CLUSTER", "count-failure-reports", "abc"},
            {"CLUSTER", "help", "x"},
            {"SELECT", "1"},
            {"SELECT", "0"},
            {"INFO", "cluster"},
        };
        RespClient r(redis.port), k(kv.port);
        check_same_replies(r, k, script);
        // Fresh nodes: the same CLUSTER INFO text, but for cluster_size, which redis-server
        // reports as 1 until its first cluster state update, about two seconds after start.
        auto without_size = [](RespValue v) {
            const auto at = v.text.find("cluster_size:");
            if (at != std::string::npos) v.text.erase(at, v.text.find("\r\n", at) + 2 - at);
            return v;
        };
        CHECK(without_size(k.call({"CLUSTER", "INFO"})) ==
              without_size(r.call({"CLUSTER", "INFO"})));
        CHECK(k.call({"CLUSTER", "INFO"}).text.find("cluster_size:0\r\n") != std::string::npos);
        auto my_id = k.call({"CLUSTER", "MYID"});
        REQUIRE(my_id.kind == RespKind::kBulk);
        CHECK(k.call({"CLUSTER", "FORGET", my_id.text}) ==
              RespValue::error("ERR I tried hard but I can't forget myself..."));
        CHECK(k.call({"CLUSTER", "COUNT-FAILURE-REPORTS", my_id.text}) == RespValue::number(0));
        CHECK(stops_cleanly(kv));
    }
}

TEST_CASE("[kvserver] CLUSTER KEYSLOT agrees with redis-server for 1000 keys",
          "[interop][kvserver]") {
    TempDir tmp("gossipcluster-kvserver");
    RedisServer redis(tmp.path(), pick_port(), true);
    KvServer kv(tmp.path(), pick_port());

    std::mt19937 rng(12345);
    std::vector<std::string> keys;
    const std::string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789{}{}:._-";
    for (int i = 0; i < 1000; ++i) {
        std::string key;
        const std::size_t len = rng() % 24;
        for (std::size_t j = 0; j < len; ++j) {
            // Mostly readable keys with many braces, some arbitrary bytes.
            key += (rng() % 8 == 0) ? static_cast<char>(rng() % 256)
                                    : alphabet[rng() % alphabet.size()];
        }
        keys.push_back(std::move(key));
    }
    RespClient r(redis.port), k(kv.port);
    // Pipelined: all requests first, then all replies.
    std::string batch;
    for (const auto& key : keys)
        batch += encode_command({"CLUSTER", "KEYSLOT", key});
    r.send_raw(batch);
    k.send_raw(batch);
    std::size_t agreed = 0;
    for (const auto& key : keys) {
        RespValue expected = r.read_reply();
        RespValue got = k.read_reply();
        REQUIRE(expected.kind == RespKind::kInteger);
        CAPTURE(key);
        CHECK(got == expected);
        agreed += got == expected ? 1 : 0;
    }
    CHECK(agreed == keys.size());
    CHECK(stops_cleanly(kv));
}

TEST_CASE("[kvserver] pipelining, inline requests, protocol errors and limits",
          "[interop][kvserver]") {
    TempDir tmp("gossipcluster-kvserver");
    // Standalone: these requests use keys of every slot.
    KvServer kv(tmp.path(), pick_port(), {"--client-query-buffer-limit", "1mb"}, false);

    SECTION("a thousand pipelined requests get a thousand replies in order") {
        RespClient c(kv.port);
        std::string batch;
        for (int i = 0; i < 1000; ++i)
            batch += encode_command({"SET", fmt::format("key:{}", i), std::to_string(i)});
        for (int i = 0; i < 1000; ++i)
            batch += encode_command({"GET", fmt::format("key:{}", i)});
        c.send_raw(batch);
        for (int i = 0; i < 1000; ++i)
            REQUIRE(c.read_reply() == RespValue::ok());
        for (int i = 0; i < 1000; ++i)
            REQUIRE(c.read_reply() == RespValue::bulk(std::to_string(i)));
        CHECK(c.call({"DBSIZE"}) == RespValue::number(1000));
    }
    SECTION("inline requests, with quotes") {
        RespClient c(kv.port);
        c.send_raw("PING\r\n\r\nset k \"a b\\x41\"\r\nGET k\n");
        CHECK(c.read_reply() == RespValue::simple("PONG"));
        CHECK(c.read_reply() == RespValue::ok());
        CHECK(c.read_reply() == RespValue::bulk("a bA"));
    }
    SECTION("QUIT answers and closes") {
        RespClient c(kv.port);
        c.send_raw(encode_command({"QUIT"}) + encode_command({"PING"}));
        CHECK(c.read_reply() == RespValue::ok());
        CHECK(c.closed_by_peer());
    }
    SECTION("protocol errors are answered, then the connection is closed") {
        const std::vector<std::pair<std::string, std::string>> cases{
            {"*1\r\n$x\r\n", "ERR Protocol error: invalid bulk length"},
            {"*x\r\n", "ERR Protocol error: invalid multibulk length"},
            {"*1\r\n+foo\r\n", "ERR Protocol error: expected '$', got '+'"},
            {"*2\r\n$3\r\nget\r\n$536870913\r\n", "ERR Protocol error: invalid bulk length"},
            {"*1048577\r\n", "ERR Protocol error: invalid multibulk length"},
            {"GET a \"b\r\n", "ERR Protocol error: unbalanced quotes in request"},
        };
        for (const auto& [bytes, error] : cases) {
            CAPTURE(bytes);
            RespClient c(kv.port);
            c.send_raw(bytes);
            CHECK(c.read_reply() == RespValue::error(error));
            CHECK(c.closed_by_peer());
        }
    }
    SECTION("a request beyond the query buffer limit closes that client only") {
        RespClient big(kv.port);
        RespClient other(kv.port);
        // Announces 2 MB against a 1 MB limit, then sends it.
        std::string request = "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$2097152\r\n";
        big.try_send_raw(request);
        big.try_send_raw(std::string(std::size_t{2} << 20, 'x') + "\r\n");
        CHECK(big.closed_by_peer());
        // An inline request without an end of line is bounded too.
        RespClient endless(kv.port);
        endless.try_send_raw(std::string(std::size_t{128} << 10, 'a'));
        CHECK(endless.read_reply() ==
              RespValue::error("ERR Protocol error: too big inline request"));
        CHECK(other.call({"PING"}) == RespValue::simple("PONG"));
        CHECK(other.call({"EXISTS", "big"}) == RespValue::number(0));
        CHECK(kv.log().find("Closing client that reached max query buffer length") !=
              std::string::npos);
    }
    SECTION("values up to the limit are fine") {
        RespClient c(kv.port);
        const std::string value(std::size_t{900} << 10, 'v');
        CHECK(c.call({"SET", "large", value}) == RespValue::ok());
        CHECK(c.call({"GET", "large"}) == RespValue::bulk(value));
    }
    CHECK(stops_cleanly(kv));
}

TEST_CASE("[kvserver] keys expire lazily and in the background", "[interop][kvserver]") {
    TempDir tmp("gossipcluster-kvserver");
    KvServer kv(tmp.path(), pick_port(), {}, false);
    RespClient c(kv.port);
    // The expiry cycle runs every 100 ms once a key has a TTL: every TTL here outlasts the 203
    // round trips up to the INFO below many times over, even on a loaded machine under a
    // sanitizer.
    CHECK(c.call({"SET", "short", "v", "PX", "2000"}) == RespValue::ok());
    CHECK(c.call({"SET", "long", "v", "EX", "1000"}) == RespValue::ok());
    CHECK(c.call({"GET", "short"}) == RespValue::bulk("v"));
    for (int i = 0; i < 200; ++i)
        CHECK(c.call({"SET", fmt::format("bulk:{}", i), "v", "PX", "3000"}) == RespValue::ok());
    auto info = c.call({"INFO", "keyspace"});
    CHECK(info.text.find("db0:keys=202,expires=202,avg_ttl=0\r\n") != std::string::npos);

    // Nobody reads the bulk keys again: the periodic cycle must remove them. The wait (200 polls
    // of at least 50 ms: 10 s or more) is bounded well past their 3 s TTL.
    bool drained = false;
    for (int i = 0; i < 200 && !drained; ++i) {
        std::this_thread::sleep_for(50ms);
        drained = c.call({"DBSIZE"}) == RespValue::number(1);
    }
    CHECK(drained);
    CHECK(c.call({"GET", "short"}) == RespValue::null());
    CHECK(c.call({"GET", "long"}) == RespValue::bulk("v"));
    CHECK(c.call({"INFO", "keyspace"}).text == "# Keyspace\r\ndb0:keys=1,expires=1,avg_ttl=0\r\n");
    CHECK(c.call({"DEL", "long"}) == RespValue::number(1));
    CHECK(c.call({"INFO", "keyspace"}).text == "# Keyspace\r\n");
    CHECK(stops_cleanly(kv));
}

TEST_CASE("[kvserver] options: errors name the option, config files work", "[interop][kvserver]") {
    TempDir tmp("gossipcluster-kvserver");
    int runs = 0;
    auto run = [&](std::vector<std::string> args) {
        args.insert(args.begin(), kKvServer);
        // A new output file each run: the harness appends.
        const fs::path out = tmp.path() / fmt::format("run-{}.log", ++runs);
        Process p(args, out);
        auto status = p.wait(kWaitLimit);
        REQUIRE(status);
        return std::pair<int, std::string>{*status, read_file(out)};
    };

    SECTION("unknown and malformed options exit 1 naming the option") {
        auto [status, log] = run({"--port", "21000", "--no-such-option", "1"});
        CHECK(exited_with(status, 1));
        CHECK(log.find("unknown option 'no-such-option'") != std::string::npos);

        std::tie(status, log) = run({"--port", "notaport"});
        CHECK(exited_with(status, 1));
        CHECK(log.find("'port'") != std::string::npos);

        std::tie(status, log) = run({"--daemonize", "yes"});
        CHECK(exited_with(status, 1));
        CHECK(log.find("'daemonize'") != std::string::npos);

        std::tie(status, log) = run({"--cluster-enabled", "maybe"});
        CHECK(exited_with(status, 1));
        CHECK(log.find("'cluster-enabled'") != std::string::npos);

        std::tie(status, log) = run({"/nonexistent/kv.conf"});
        CHECK(exited_with(status, 1));
        CHECK(log.find("cannot open config file") != std::string::npos);
    }
    SECTION("a bad line in a config file is reported with its line number") {
        const fs::path conf = tmp.path() / "bad.conf";
        std::ofstream(conf) << "# comment\nport 21000\n\nbogus-directive yes\n";
        auto [status, log] = run({conf.string()});
        CHECK(exited_with(status, 1));
        CHECK(log.find(conf.string() + ":4: unknown option 'bogus-directive'") !=
              std::string::npos);
    }
    SECTION("a config file plus command-line overrides") {
        const std::uint16_t port = pick_port();
        const fs::path dir = tmp.path() / "node";
        fs::create_directories(dir);
        const fs::path conf = tmp.path() / "kv.conf";
        std::ofstream(conf) << "# a node\nport 1\nbind 127.0.0.1\ncluster-enabled yes\n"
                            << "cluster-config-file \"my nodes.conf\"\n"
                            << "cluster-node-timeout 3000\nsave \"\"\nappendonly no\n"
                            << "logfile kv.log\ndir " << dir.string() << "\n";
        Process p({kKvServer, conf.string(), "--port", std::to_string(port)},
                  tmp.path() / "stdout.log");
        REQUIRE(wait_ready(p, port));
        RespClient c(port);
        CHECK(c.call({"CONFIG", "GET", "cluster-node-timeout"}) ==
              RespValue::array({RespValue::bulk("cluster-node-timeout"), RespValue::bulk("3000")}));
        CHECK(c.call({"CONFIG", "GET", "port"}) ==
              RespValue::array({RespValue::bulk("port"), RespValue::bulk(std::to_string(port))}));
        CHECK(exited_with(p.stop(), 0));
        // Relative paths land in --dir; the log went to the file, not to stdout.
        CHECK(fs::exists(dir / "my nodes.conf"));
        const std::string log = read_file(dir / "kv.log");
        CHECK(log.find("Ready to accept connections") != std::string::npos);
        CHECK(log.find("bye bye") != std::string::npos);
        CHECK(read_file(tmp.path() / "stdout.log").empty());
    }
    SECTION("a node table in use by another process is refused") {
        KvServer first(tmp.path(), pick_port());
        const std::uint16_t port = pick_port();
        auto [status, log] = run({"--port", std::to_string(port), "--cluster-enabled", "yes",
                                  "--dir", first.dir.string()});
        CHECK(exited_with(status, 1));
        CHECK(log.find("in use") != std::string::npos);
        CHECK(stops_cleanly(first));
    }
}

TEST_CASE("[kvserver] two nodes MEET and list each other as connected", "[interop][kvserver]") {
    TempDir tmp("gossipcluster-kvserver");
    KvServer a(tmp.path(), pick_port(), {"--cluster-node-timeout", "5000"});
    KvServer b(tmp.path(), pick_port(), {"--cluster-node-timeout", "5000"});
    const std::string id_a = trim(redis_cli(tmp.path(), a.port, {"CLUSTER", "MYID"}));
    const std::string id_b = trim(redis_cli(tmp.path(), b.port, {"CLUSTER", "MYID"}));
    REQUIRE(id_a != id_b);

    // As redis-cli --cluster does it: two arguments, the bus port implied.
    CHECK(trim(redis_cli(tmp.path(), b.port,
                         {"cluster", "meet", "127.0.0.1", std::to_string(a.port)})) == "OK");

    auto both_connected = [&](const KvServer& kv) {
        auto lines = parse_nodes(redis_cli(tmp.path(), kv.port, {"CLUSTER", "NODES"}));
        if (lines.size() != 2) return false;
        for (const auto& l : lines)
            if (l.link != "connected" || l.flags.find("handshake") != std::string::npos)
                return false;
        return true;
    };
    bool joined = false;
    const auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
    while (!joined && std::chrono::steady_clock::now() < deadline) {
        joined = both_connected(a) && both_connected(b);
        if (!joined) std::this_thread::sleep_for(100ms);
    }
    INFO(a.log());
    INFO(b.log());
    REQUIRE(joined);

    for (const KvServer* kv : {&a, &b}) {
        const std::string text = redis_cli(tmp.path(), kv->port, {"CLUSTER", "NODES"});
        CAPTURE(text);
        auto lines = parse_nodes(text);
        REQUIRE(lines.size() == 2);
        for (const auto& l : lines) {
            CHECK(l.fields == 8);  // no slots: id addr flags master ping pong epoch link
            CHECK(l.master == "-");
            CHECK(l.link == "connected");
            const bool self = l.id == (kv == &a ? id_a : id_b);
            CHECK((l.id == id_a || l.id == id_b));
            const std::uint16_t port = l.id == id_a ? a.port : b.port;
            CHECK(l.flags == (self ? "myself,master" : "master"));
            CHECK(l.address == fmt::format("127.0.0.1:{}@{}", port, port + 10000));
        }
        const std::string info = redis_cli(tmp.path(), kv->port, {"CLUSTER", "INFO"});
        CHECK(info.find("cluster_known_nodes:2\r\n") != std::string::npos);
        CHECK(info.find("cluster_stats_messages_ping_sent:") != std::string::npos);
        CHECK(info.find("cluster_stats_messages_pong_received:") != std::string::npos);
    }
    // Each side logged the join.
    CHECK(a.log().find("Handshake completed") != std::string::npos);
    CHECK(b.log().find("Handshake completed") != std::string::npos);

    // b goes away: a logs the broken link; both exit cleanly and keep each other on disk.
    CHECK(exited_with(b.process->stop(), 0));
    bool logged = false;
    for (int i = 0; i < 100 && !logged; ++i) {
        logged = a.log().find("Cluster bus link with " + id_b + " closed") != std::string::npos;
        if (!logged) std::this_thread::sleep_for(50ms);
    }
    CHECK(logged);
    CHECK(exited_with(a.process->stop(), 0));
    CHECK(read_file(a.dir / "nodes.conf").find(id_b + " 127.0.0.1:" + std::to_string(b.port)) !=
          std::string::npos);
    CHECK(read_file(b.dir / "nodes.conf").find(id_a + " 127.0.0.1:" + std::to_string(a.port)) !=
          std::string::npos);
}

}  // namespace interop_kvserver_test
