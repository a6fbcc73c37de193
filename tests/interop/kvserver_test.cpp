// Interop: gossipcluster-kvserver against redis-cli and a real redis-server 7.0: commands, error
// texts, key slots, limits, option handling, and two nodes joining over the cluster bus.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "gossipcluster/commands/resp_value.hpp"

extern char** environ;

using gossipcluster::RespKind;
using gossipcluster::RespValue;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Failed comparisons show the RESP bytes, control characters escaped.
template <>
struct Catch::StringMaker<RespValue> {
    static std::string convert(const RespValue& v) {
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

namespace {

constexpr const char* kKvServer = GOSSIPCLUSTER_BIN_DIR "/gossipcluster-kvserver";
constexpr const char* kRedisServer = "/usr/bin/redis-server";
constexpr const char* kRedisCli = "/usr/bin/redis-cli";
constexpr auto kWaitLimit = 10s;

class TempDir {
  public:
    TempDir() {
        std::random_device rd;
        path_ = fs::temp_directory_path() /
                fmt::format("gossipcluster-kvserver-{}-{:08x}", ::getpid(), rd());
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool port_free(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

// Client ports 20000-22767 keep the bus port (+10000) below the ephemeral range. Ports handed
// out once are not handed out again in this process.
std::uint16_t pick_port() {
    static std::mt19937 rng(std::random_device{}());
    static std::set<std::uint16_t> used;
    for (int attempt = 0; attempt < 500; ++attempt) {
        auto port = static_cast<std::uint16_t>(20000 + rng() % 2768);
        if (used.count(port) || !port_free(port) ||
            !port_free(static_cast<std::uint16_t>(port + 10000)))
            continue;
        used.insert(port);
        return port;
    }
    FAIL("no free port pair found in 20000-22767");
    return 0;
}

std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (true) {
        int status = 0;
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0 && errno != EINTR) return -1;
        if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
        std::this_thread::sleep_for(10ms);
    }
}

// A child process with stdout and stderr in `log`; stopped (TERM, then KILL) when destroyed.
class Process {
  public:
    Process(const std::vector<std::string>& args, fs::path log) : log_(std::move(log)) {
        std::vector<char*> argv;
        for (const auto& a : args)
            argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                         0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) pid_ = -1;
        INFO("cannot start " << args[0]);
        REQUIRE(rc == 0);
    }
    ~Process() { stop(); }
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }
    bool running() {
        if (pid_ < 0) return false;
        if (auto status = wait_for_exit(pid_, 0ms)) {
            status_ = *status;
            pid_ = -1;
            return false;
        }
        return true;
    }
    // SIGTERM, a bounded wait, then SIGKILL. Returns the wait status.
    int stop() {
        if (pid_ < 0) return status_;
        ::kill(pid_, SIGTERM);
        auto status = wait_for_exit(pid_, kWaitLimit);
        if (!status) {
            ::kill(pid_, SIGKILL);
            status = wait_for_exit(pid_, kWaitLimit);
        }
        status_ = status.value_or(-1);
        pid_ = -1;
        return status_;
    }
    // For a process expected to end by itself; killed at the limit.
    std::optional<int> wait(std::chrono::milliseconds limit) {
        if (pid_ < 0) return status_;
        auto status = wait_for_exit(pid_, limit);
        if (!status) {
            stop();
            return std::nullopt;
        }
        status_ = *status;
        pid_ = -1;
        return status;
    }
    std::string log() const { return read_file(log_); }

  private:
    pid_t pid_ = -1;
    int status_ = -1;
    fs::path log_;
};

std::string encode_command(const std::vector<std::string>& args) {
    std::string out = fmt::format("*{}\r\n", args.size());
    for (const auto& a : args)
        out += fmt::format("${}\r\n{}\r\n", a.size(), a);
    return out;
}

// A blocking RESP2 client with a deadline on every read.
class RespClient {
  public:
    explicit RespClient(std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    ~RespClient() {
        if (fd_ >= 0) ::close(fd_);
    }
    RespClient(const RespClient&) = delete;
    RespClient& operator=(const RespClient&) = delete;

    void send_raw(std::string_view bytes) {
        while (!bytes.empty()) {
            ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            REQUIRE(n > 0);
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    // Sends until done or the peer closes; false when it closed.
    bool try_send_raw(std::string_view bytes) {
        while (!bytes.empty()) {
            ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }
    void send(const std::vector<std::string>& args) { send_raw(encode_command(args)); }

    RespValue call(const std::vector<std::string>& args) {
        send(args);
        return read_reply();
    }

    // The next reply, parsed.
    RespValue read_reply() {
        auto v = parse_value();
        REQUIRE(v.has_value());
        return *v;
    }

    // The exact bytes of the next reply.
    std::string read_raw_reply() {
        const std::size_t start = pos_;
        REQUIRE(parse_value().has_value());
        std::string raw = buffer_.substr(start, pos_ - start);
        return raw;
    }

    // True once the server has closed the connection (EOF) within the limit.
    bool closed_by_peer(std::chrono::milliseconds limit = kWaitLimit) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        char buf[4096];
        while (std::chrono::steady_clock::now() < deadline) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
            if (n > 0) buffer_.append(buf, static_cast<std::size_t>(n));
        }
        return false;
    }

  private:
    bool fill(std::size_t need) {
        const auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
        char buf[65536];
        while (buffer_.size() - pos_ < need) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) return false;
            buffer_.append(buf, static_cast<std::size_t>(n));
        }
        return true;
    }

    std::optional<std::string> line() {
        while (true) {
            auto end = buffer_.find("\r\n", pos_);
            if (end != std::string::npos) {
                std::string l = buffer_.substr(pos_, end - pos_);
                pos_ = end + 2;
                return l;
            }
            if (!fill(buffer_.size() - pos_ + 1)) return std::nullopt;
        }
    }

    std::optional<RespValue> parse_value(int depth = 0) {
        if (depth > 8) return std::nullopt;
        auto l = line();
        if (!l || l->empty()) return std::nullopt;
        const char type = (*l)[0];
        const std::string rest = l->substr(1);
        switch (type) {
            case '+':
                return RespValue::simple(rest);
            case '-':
                return RespValue::error(rest);
            case ':':
                return RespValue::number(std::stoll(rest));
            case '$': {
                const long long len = std::stoll(rest);
                if (len < 0) return RespValue::null();
                const auto n = static_cast<std::size_t>(len);
                if (!fill(n + 2)) return std::nullopt;
                std::string data = buffer_.substr(pos_, n);
                pos_ += n + 2;
                return RespValue::bulk(std::move(data));
            }
            case '*': {
                const long long count = std::stoll(rest);
                if (count < 0) return RespValue::null_array();
                std::vector<RespValue> items;
                for (long long i = 0; i < count; ++i) {
                    auto item = parse_value(depth + 1);
                    if (!item) return std::nullopt;
                    items.push_back(std::move(*item));
                }
                return RespValue::array(std::move(items));
            }
            default:
                return std::nullopt;
        }
    }

    int fd_ = -1;
    std::string buffer_;
    std::size_t pos_ = 0;
};

// Waits until `port` answers PING, or the process died, or the limit passed.
bool wait_ready(Process& p, std::uint16_t port) {
    const auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (!p.running()) return false;
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        const bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        ::close(fd);
        if (up) {
            RespClient c(port);
            if (c.call({"PING"}) == RespValue::simple("PONG")) return true;
        }
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

// A running kvserver in its own directory.
struct KvServer {
    KvServer(const fs::path& root, std::uint16_t p, std::vector<std::string> extra = {},
             bool cluster = true)
        : port(p), dir(root / fmt::format("kv-{}", p)) {
        INFO("the gossipcluster-kvserver example must be built: " << kKvServer);
        REQUIRE(::access(kKvServer, X_OK) == 0);
        fs::create_directories(dir);
        std::vector<std::string> args{kKvServer,
                                      "--port",
                                      std::to_string(p),
                                      "--bind",
                                      "127.0.0.1",
                                      "--cluster-enabled",
                                      cluster ? "yes" : "no",
                                      "--dir",
                                      dir.string(),
                                      "--save",
                                      "",
                                      "--appendonly",
                                      "no",
                                      "--protected-mode",
                                      "no",
                                      "--daemonize",
                                      "no"};
        args.insert(args.end(), extra.begin(), extra.end());
        process.emplace(args, root / fmt::format("kv-{}.log", p));
        INFO(process->log());
        REQUIRE(wait_ready(*process, port));
    }
    std::uint16_t port;
    fs::path dir;
    std::optional<Process> process;
};

struct RedisServer {
    RedisServer(const fs::path& root, std::uint16_t p, bool cluster) : port(p) {
        INFO("redis-server 7.0 must be installed at " << kRedisServer);
        REQUIRE(::access(kRedisServer, X_OK) == 0);
        const fs::path dir = root / fmt::format("redis-{}", p);
        fs::create_directories(dir);
        process.emplace(
            std::vector<std::string>{kRedisServer, "--port", std::to_string(p), "--bind",
                                     "127.0.0.1", "--save", "", "--appendonly", "no",
                                     "--cluster-enabled", cluster ? "yes" : "no", "--dir",
                                     dir.string(), "--daemonize", "no"},
            root / fmt::format("redis-{}.log", p));
        INFO(process->log());
        REQUIRE(wait_ready(*process, port));
    }
    std::uint16_t port;
    std::optional<Process> process;
};

// One redis-cli call; returns its output (stdout of a non-terminal: raw replies).
std::string redis_cli(const fs::path& dir, std::uint16_t port, std::vector<std::string> args) {
    REQUIRE(::access(kRedisCli, X_OK) == 0);
    std::vector<std::string> argv{kRedisCli, "-h", "127.0.0.1", "-p", std::to_string(port)};
    argv.insert(argv.end(), args.begin(), args.end());
    const fs::path out = dir / "cli.out";
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

std::vector<std::string> split(std::string_view text, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        auto end = text.find(sep, start);
        if (end == std::string_view::npos) end = text.size();
        out.emplace_back(text.substr(start, end - start));
        start = end + 1;
    }
    return out;
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

bool exited_with(int status, int code) {
    return WIFEXITED(status) && WEXITSTATUS(status) == code;
}

// SIGTERM, then status 0: a clean shutdown, and no sanitizer report (those make it exit 1).
bool stops_cleanly(KvServer& kv) {
    const int status = kv.process->stop();
    INFO(kv.process->log());
    return exited_with(status, 0);
}

}  // namespace

TEST_CASE("[kvserver] serves redis-cli: strings, INFO, CLUSTER MYID", "[interop][kvserver]") {
    TempDir tmp;
    KvServer kv(tmp.path(), pick_port());
    const auto cli = [&](std::vector<std::string> args) {
        return trim(redis_cli(tmp.path(), kv.port, std::move(args)));
    };

    CHECK(cli({"PING"}) == "PONG");
    CHECK(cli({"SET", "greeting", "hello"}) == "OK");
    CHECK(cli({"GET", "greeting"}) == "hello");
    CHECK(cli({"INCR", "counter"}) == "1");
    CHECK(cli({"INCR", "counter"}) == "2");
    CHECK(cli({"MGET", "greeting", "missing", "counter"}) == "hello\n\n2");
    CHECK(cli({"DEL", "greeting", "missing"}) == "1");
    CHECK(cli({"EXISTS", "greeting", "counter"}) == "1");
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
    CHECK(kv.process->log().find(fmt::format("Ready to accept connections: pid={} port={} "
                                             "cluster_bus_port={}",
                                             kv.process->pid(), kv.port, kv.port + 10000)) !=
          std::string::npos);
    CHECK(kv.process->log().find("Ignoring option 'save ''") != std::string::npos);

    // SIGTERM: clean exit, the node table saved in --dir.
    CHECK(exited_with(kv.process->stop(), 0));
    const std::string conf = read_file(kv.dir / "nodes.conf");
    CHECK(conf.find(myid + " :" + std::to_string(kv.port)) == 0);
}

TEST_CASE("[kvserver] replies byte for byte as redis-server 7.0", "[interop][kvserver]") {
    TempDir tmp;

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
        for (const auto& cmd : script) {
            std::string shown;
            for (const auto& a : cmd)
                shown += " '" + a + "'";
            CAPTURE(shown);
            r.send(cmd);
            k.send(cmd);
            CHECK(k.read_raw_reply() == r.read_raw_reply());
        }
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
        for (const auto& cmd : script) {
            std::string shown;
            for (const auto& a : cmd)
                shown += " '" + a + "'";
            CAPTURE(shown);
            r.send(cmd);
            k.send(cmd);
            CHECK(k.read_raw_reply() == r.read_raw_reply());
        }
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
    TempDir tmp;
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
    TempDir tmp;
    KvServer kv(tmp.path(), pick_port(), {"--client-query-buffer-limit", "1mb"});

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
        CHECK(kv.process->log().find("Closing client that reached max query buffer length") !=
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
    TempDir tmp;
    KvServer kv(tmp.path(), pick_port());
    RespClient c(kv.port);
    CHECK(c.call({"SET", "short", "v", "PX", "100"}) == RespValue::ok());
    CHECK(c.call({"SET", "long", "v", "EX", "1000"}) == RespValue::ok());
    CHECK(c.call({"GET", "short"}) == RespValue::bulk("v"));
    for (int i = 0; i < 200; ++i)
        CHECK(c.call({"SET", fmt::format("bulk:{}", i), "v", "PX", "1500"}) == RespValue::ok());
    auto info = c.call({"INFO", "keyspace"});
    CHECK(info.text.find("db0:keys=202,expires=202,avg_ttl=0\r\n") != std::string::npos);

    // Nobody reads the bulk keys again: the periodic cycle must remove them.
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
    TempDir tmp;
    auto run = [&](std::vector<std::string> args) {
        args.insert(args.begin(), kKvServer);
        Process p(args, tmp.path() / "run.log");
        auto status = p.wait(kWaitLimit);
        REQUIRE(status);
        return std::pair<int, std::string>{*status, p.log()};
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
    TempDir tmp;
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
    INFO(a.process->log());
    INFO(b.process->log());
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
    CHECK(a.process->log().find("Handshake completed") != std::string::npos);
    CHECK(b.process->log().find("Handshake completed") != std::string::npos);

    // b goes away: a logs the broken link; both exit cleanly and keep each other on disk.
    CHECK(exited_with(b.process->stop(), 0));
    bool logged = false;
    for (int i = 0; i < 100 && !logged; ++i) {
        logged =
            a.process->log().find("Cluster bus link with " + id_b + " closed") != std::string::npos;
        if (!logged) std::this_thread::sleep_for(50ms);
    }
    CHECK(logged);
    CHECK(exited_with(a.process->stop(), 0));
    CHECK(read_file(a.dir / "nodes.conf").find(id_b + " 127.0.0.1:" + std::to_string(b.port)) !=
          std::string::npos);
    CHECK(read_file(b.dir / "nodes.conf").find(id_a + " 127.0.0.1:" + std::to_string(a.port)) !=
          std::string::npos);
}
