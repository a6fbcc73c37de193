// Interop: nodes.conf files written by redis-server 7.0 load here, and files written here load
// there.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "gossipcluster/storage/file_storage.hpp"
#include "gossipcluster/storage/nodes_conf.hpp"

extern char** environ;

using namespace gossipcluster;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* kRedisServer = "/usr/bin/redis-server";
constexpr const char* kRedisCli = "/usr/bin/redis-cli";
constexpr auto kWaitLimit = 10s;

void require_redis() {
    INFO("redis-server 7.0 must be installed at "
         << kRedisServer << " (Debian package redis-server; CI installs it)");
    REQUIRE(::access(kRedisServer, X_OK) == 0);
    REQUIRE(::access(kRedisCli, X_OK) == 0);
}

class TempDir {
  public:
    TempDir() {
        std::random_device rd;
        path_ = fs::temp_directory_path() /
                fmt::format("gossipcluster-interop-{}-{:08x}", ::getpid(), rd());
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

// Free when both the client port and its bus port can be bound on loopback right now.
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

// Client ports 20000-22767 keep the bus port (+10000) below the ephemeral range.
std::uint16_t pick_port(std::mt19937& rng, std::uint16_t avoid = 0) {
    for (int attempt = 0; attempt < 500; ++attempt) {
        auto port = static_cast<std::uint16_t>(20000 + rng() % 2768);
        if (port != avoid && port_free(port) && port_free(static_cast<std::uint16_t>(port + 10000)))
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
    Process(const std::vector<std::string>& args, const fs::path& log) : log_(log) {
        std::vector<char*> argv;
        for (const auto& a : args)
            argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
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
    // Graceful stop within the wait limit, else SIGKILL. Returns the wait status.
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
    // Waits for a process expected to end by itself; kills it at the limit.
    std::optional<int> wait(std::chrono::milliseconds limit) {
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

// One redis-cli call; returns its raw output (the stdout of a non-terminal).
std::string redis_cli(const fs::path& dir, std::uint16_t port, std::vector<std::string> args) {
    std::vector<std::string> argv{kRedisCli, "-h", "127.0.0.1", "-p", std::to_string(port)};
    argv.insert(argv.end(), args.begin(), args.end());
    const fs::path out = dir / "cli.out";
    Process cli(argv, out);
    auto status = cli.wait(kWaitLimit);
    std::string shown = "redis-cli";
    for (const auto& a : args)
        shown += " " + a;
    INFO(shown);
    REQUIRE(status);
    return read_file(out);
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
        s.pop_back();
    return s;
}

class RedisServer {
  public:
    RedisServer(const fs::path& dir, std::uint16_t port, const fs::path& conf)
        : dir_(dir),
          port_(port),
          process_({kRedisServer, "--port", std::to_string(port), "--bind", "127.0.0.1",
                    "--cluster-enabled", "yes", "--cluster-config-file", conf.string(), "--dir",
                    dir.string(), "--save", "", "--appendonly", "no", "--daemonize", "no"},
                   dir / "redis.log") {
        auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
        while (true) {
            INFO("redis-server log:\n" << process_.log());
            REQUIRE(process_.running());
            if (trim(cli({"PING"})) == "PONG") break;
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            std::this_thread::sleep_for(50ms);
        }
    }
    std::string cli(std::vector<std::string> args) { return redis_cli(dir_, port_, args); }
    int stop() { return process_.stop(); }
    std::string log() const { return process_.log(); }

  private:
    fs::path dir_;
    std::uint16_t port_;
    Process process_;
};

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
    auto r = parse_nodes_conf(reply);
    INFO("CLUSTER NODES reply:\n" << reply);
    INFO((r.error ? r.error->describe() : std::string()));
    REQUIRE(r.ok());
    auto lines = nonempty_lines(reply);
    REQUIRE(lines.size() == r.state->nodes.size());
    for (std::size_t i = 0; i < lines.size(); ++i)
        CHECK(render_node_line(r.state->nodes[i], {NodeLineTarget::kClusterNodes}) == lines[i]);
    return *r.state;
}

SlotBitmap slots_of(std::initializer_list<std::pair<std::size_t, std::size_t>> ranges) {
    SlotBitmap b;
    for (auto [a, z] : ranges)
        b.set_range(a, z);
    return b;
}

}  // namespace

TEST_CASE("[nodes-conf] a nodes.conf written by redis-server 7.0 parses and re-renders exactly",
          "[interop][nodes-conf]") {
    require_redis();
    TempDir dir;
    std::mt19937 rng(std::random_device{}());
    const std::uint16_t port = pick_port(rng);
    const fs::path conf = dir.path() / "nodes.conf";

    std::string myid, nodes_reply, info;
    {
        RedisServer server(dir.path(), port, conf);
        CHECK(trim(server.cli({"CLUSTER", "ADDSLOTSRANGE", "0", "99", "1000", "1000", "5000",
                               "5460", "16383", "16383"})) == "OK");
        CHECK(trim(server.cli({"cluster", "set-config-epoch", "5"})) == "OK");
        myid = trim(server.cli({"CLUSTER", "MYID"}));
        nodes_reply = server.cli({"CLUSTER", "NODES"});
        info = server.cli({"CLUSTER", "INFO"});

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
        INFO("redis-server log:\n" << server.log());
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
    CHECK(me->slots == slots_of({{0, 99}, {1000, 1000}, {5000, 5460}, {16383, 16383}}));
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
    std::mt19937 rng(std::random_device{}());
    const std::uint16_t port = pick_port(rng);
    const std::uint16_t other_port = pick_port(rng, port);  // nobody listens there
    const fs::path conf = dir.path() / "nodes.conf";

    const NodeId my_id = *NodeId::parse("4a1f0e9c2b7d4e8f9a0b1c2d3e4f5a6b7c8d9e0f");
    const NodeId other_id = *NodeId::parse("91c3e5a7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9");
    PersistedState st;
    NodeRecord me;
    me.id = my_id;
    me.ip = "127.0.0.1";
    me.port = port;
    me.cport = static_cast<std::uint16_t>(port + 10000);
    me.flags = node_flag::kMyself | node_flag::kMaster;
    me.config_epoch = 3;
    me.connected = true;
    me.slots = slots_of({{0, 999}, {5000, 5000}});
    NodeRecord other;
    other.id = other_id;
    other.ip = "127.0.0.1";
    other.port = other_port;
    other.cport = static_cast<std::uint16_t>(other_port + 10000);
    other.flags = node_flag::kMaster;
    other.config_epoch = 4;
    other.slots = slots_of({{1000, 1999}});
    st.nodes = {me, other};
    st.current_epoch = 7;
    st.last_vote_epoch = 2;
    {
        FileStorage storage(conf);
        storage.save(st, true);
    }
    REQUIRE(read_file(conf) == render_nodes_conf(st));

    std::string myid, nodes_reply, info;
    {
        RedisServer server(dir.path(), port, conf);
        myid = trim(server.cli({"CLUSTER", "MYID"}));
        nodes_reply = server.cli({"CLUSTER", "NODES"});
        info = server.cli({"CLUSTER", "INFO"});
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
