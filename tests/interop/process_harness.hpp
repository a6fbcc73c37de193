// Interop test harness: temp dirs, free loopback ports, child servers stopped by pid, a RESP
// client, cluster servers of both kinds.
#pragma once

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

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "../common/temp_dir.hpp"

extern char** environ;

namespace gossipcluster::interop_test {

namespace fs = std::filesystem;
using SteadyTime = std::chrono::steady_clock::time_point;
using std::chrono::milliseconds;

inline constexpr const char* kRedisServerPath = "/usr/bin/redis-server";
inline constexpr const char* kRedisCliPath = "/usr/bin/redis-cli";
#ifdef GOSSIPCLUSTER_BIN_DIR
inline constexpr const char* kKvServerPath = GOSSIPCLUSTER_BIN_DIR "/gossipcluster-kvserver";
#endif

// How long a stopped server gets between SIGTERM and SIGKILL, and again after SIGKILL.
inline constexpr milliseconds kStopLimit{10000};
// How long a started server gets to answer PING.
inline constexpr milliseconds kStartLimit{10000};

using test_common::read_file;
using test_common::TempDir;

// A kB figure from /proc/PID/status ("VmRSS", "VmHWM", ...); -1 when the process is gone.
inline long proc_status_kb(pid_t pid, std::string_view field) {
    std::ifstream in(fmt::format("/proc/{}/status", pid));
    std::string line;
    while (std::getline(in, line))
        if (line.size() > field.size() && line.compare(0, field.size(), field) == 0 &&
            line[field.size()] == ':')
            return std::stol(line.substr(field.size() + 1));
    return -1;
}

// The last `lines` lines of a file, for failure messages.
inline std::string read_tail(const fs::path& p, std::size_t lines = 40) {
    const std::string text = read_file(p);
    std::size_t at = text.size();
    for (std::size_t n = 0; n <= lines && at > 0; ++n) {
        const auto nl = text.rfind('\n', at - 1);
        if (nl == std::string::npos) return text;
        at = nl;
    }
    return text.substr(at == 0 ? 0 : at + 1);
}

// `text` cut at every `sep`: n separators give n + 1 pieces, empty ones included.
inline std::vector<std::string> split(std::string_view text, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (true) {
        const auto end = text.find(sep, start);
        if (end == std::string_view::npos) {
            out.emplace_back(text.substr(start));
            return out;
        }
        out.emplace_back(text.substr(start, end - start));
        start = end + 1;
    }
}

inline sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
}

inline bool port_free(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const sockaddr_in addr = loopback(port);
    const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

// A client port in 20000-22767 whose bus port (+10000) is free too: both stay below the kernel's
// ephemeral range, where an outgoing connection could hold the bus port. A port is handed out
// once per process, so a server being restarted keeps its port to itself. 0 when none is free.
inline std::uint16_t pick_port() {
    static std::mt19937 rng(std::random_device{}());
    static std::set<std::uint16_t> handed_out;
    for (int attempt = 0; attempt < 1000; ++attempt) {
        const auto port = static_cast<std::uint16_t>(20000 + rng() % 2768);
        if (handed_out.count(port) != 0) continue;
        if (!port_free(port) || !port_free(static_cast<std::uint16_t>(port + 10000))) continue;
        handed_out.insert(port);
        return port;
    }
    return 0;
}

// The wait status once `pid` has exited, nullopt if it still runs after `limit`.
inline std::optional<int> wait_for_exit(pid_t pid, milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (true) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0 && errno != EINTR) return -1;
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(milliseconds(5));
    }
}

inline bool exited_with(int status, int code) {
    return WIFEXITED(status) && WEXITSTATUS(status) == code;
}

inline std::string describe_status(int status) {
    if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
    return fmt::format("wait status {}", status);
}

// A child started with posix_spawn, stdin from /dev/null, stdout and stderr to `output`. The
// destructor stops it by its pid: SIGTERM, a bounded wait, then SIGKILL; so a failed assertion
// that unwinds the test never leaves a process behind.
class Process {
  public:
    Process(const std::vector<std::string>& args, const fs::path& output) {
        if (args.empty()) throw std::invalid_argument("Process: no program");
        std::vector<char*> argv;
        for (const auto& a : args)
            argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, output.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                         0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        const int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) {
            pid_ = -1;
            throw std::runtime_error(
                fmt::format("cannot start {}: {}", args[0], std::strerror(rc)));
        }
    }
    ~Process() { stop(); }
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }

    bool running() {
        if (pid_ < 0) return false;
        if (auto status = wait_for_exit(pid_, milliseconds(0))) {
            status_ = *status;
            pid_ = -1;
            return false;
        }
        return true;
    }

    // Stops the process (if still running) and returns its wait status.
    int stop(int signal = SIGTERM) {
        if (pid_ < 0) return status_;
        ::kill(pid_, signal);
        auto status = wait_for_exit(pid_, kStopLimit);
        if (!status) {
            ::kill(pid_, SIGKILL);
            status = wait_for_exit(pid_, kStopLimit);
        }
        status_ = status.value_or(-1);
        pid_ = -1;
        return status_;
    }

    // For a process that ends by itself: its status, or nullopt (and it is stopped) at the limit.
    std::optional<int> wait(milliseconds limit) {
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

  private:
    pid_t pid_ = -1;
    int status_ = -1;
};

// One RESP2 reply.
struct Reply {
    enum class Type { kSimple, kError, kInteger, kBulk, kNull, kArray, kNullArray };
    Type type = Type::kNull;
    std::string text;  // simple string, error or bulk
    long long integer = 0;
    std::vector<Reply> elements;

    bool is_ok() const { return type == Type::kSimple && text == "OK"; }
    bool is_bulk() const { return type == Type::kBulk; }
    bool is_error() const { return type == Type::kError; }
    // The reply as redis-cli would print it, for messages.
    std::string show() const {
        switch (type) {
            case Type::kSimple:
                return text;
            case Type::kError:
                return "(error) " + text;
            case Type::kInteger:
                return fmt::format("(integer) {}", integer);
            case Type::kBulk:
                return '"' + text + '"';
            case Type::kNull:
            case Type::kNullArray:
                return "(nil)";
            case Type::kArray: {
                std::string out = "[";
                for (const auto& e : elements)
                    out += (out.size() > 1 ? ", " : "") + e.show();
                return out + "]";
            }
        }
        return {};
    }
};

namespace detail {

enum class Parse { kDone, kIncomplete, kBad };

// Bounds on what a test reads from a server: nothing legitimate comes close.
inline constexpr std::size_t kMaxBulk = std::size_t{64} << 20;
inline constexpr long long kMaxElements = 1 << 20;
inline constexpr int kMaxDepth = 8;

// A signed 64-bit decimal, the whole range of a RESP integer included.
inline std::optional<long long> parse_decimal(std::string_view s) {
    bool negative = false;
    if (!s.empty() && s[0] == '-') {
        negative = true;
        s.remove_prefix(1);
    }
    if (s.empty() || s.size() > 19) return std::nullopt;
    constexpr unsigned long long kMaxMagnitude = 9223372036854775808ull;  // 2^63
    unsigned long long v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<unsigned long long>(c - '0');
    }
    if (v > kMaxMagnitude || (!negative && v == kMaxMagnitude)) return std::nullopt;
    if (negative)
        return v == kMaxMagnitude ? std::numeric_limits<long long>::min()
                                  : -static_cast<long long>(v);
    return static_cast<long long>(v);
}

// Parses one reply from `buf` at `pos`; `pos` moves past it only when the reply is complete.
inline Parse parse_reply(std::string_view buf, std::size_t& pos, Reply& out, int depth = 0) {
    if (depth > kMaxDepth) return Parse::kBad;
    const auto eol = buf.find("\r\n", pos);
    if (eol == std::string_view::npos) return Parse::kIncomplete;
    if (eol == pos) return Parse::kBad;
    const char type = buf[pos];
    const std::string_view rest = buf.substr(pos + 1, eol - pos - 1);
    std::size_t next = eol + 2;
    Reply r;
    switch (type) {
        case '+':
            r.type = Reply::Type::kSimple;
            r.text = rest;
            break;
        case '-':
            r.type = Reply::Type::kError;
            r.text = rest;
            break;
        case ':': {
            auto v = parse_decimal(rest);
            if (!v) return Parse::kBad;
            r.type = Reply::Type::kInteger;
            r.integer = *v;
            break;
        }
        case '$': {
            auto len = parse_decimal(rest);
            if (!len || *len < -1 || *len > static_cast<long long>(kMaxBulk)) return Parse::kBad;
            if (*len == -1) {
                r.type = Reply::Type::kNull;
                break;
            }
            const auto n = static_cast<std::size_t>(*len);
            if (buf.size() < next + n + 2) return Parse::kIncomplete;
            if (buf.substr(next + n, 2) != "\r\n") return Parse::kBad;
            r.type = Reply::Type::kBulk;
            r.text = buf.substr(next, n);
            next += n + 2;
            break;
        }
        case '*': {
            auto count = parse_decimal(rest);
            if (!count || *count < -1 || *count > kMaxElements) return Parse::kBad;
            if (*count == -1) {
                r.type = Reply::Type::kNullArray;
                break;
            }
            r.type = Reply::Type::kArray;
            for (long long i = 0; i < *count; ++i) {
                Reply element;
                const Parse p = parse_reply(buf, next, element, depth + 1);
                if (p != Parse::kDone) return p;
                r.elements.push_back(std::move(element));
            }
            break;
        }
        default:
            return Parse::kBad;
    }
    out = std::move(r);
    pos = next;
    return Parse::kDone;
}

}  // namespace detail

inline std::string encode_command(const std::vector<std::string>& args) {
    std::string out = fmt::format("*{}\r\n", args.size());
    for (const auto& a : args)
        out += fmt::format("${}\r\n{}\r\n", a.size(), a);
    return out;
}

// A blocking RESP2 connection to 127.0.0.1:port. Every call has a deadline; after any I/O error,
// timeout or malformed reply the connection is closed and later calls fail until reconnect().
class RespConnection {
  public:
    explicit RespConnection(std::uint16_t port) : port_(port) {}
    ~RespConnection() { close(); }
    RespConnection(const RespConnection&) = delete;
    RespConnection& operator=(const RespConnection&) = delete;

    bool connected() const { return fd_ >= 0; }

    bool reconnect() {
        close();
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) return false;
        const sockaddr_in addr = loopback(port_);
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
            close();
            return false;
        }
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return true;
    }

    // Sends one command and reads its reply; connects first if needed.
    std::optional<Reply> call(const std::vector<std::string>& args,
                              milliseconds limit = milliseconds(5000)) {
        if (!connected() && !reconnect()) return std::nullopt;
        if (!send_all(encode_command(args))) return fail();
        return read(limit);
    }

    // Sends bytes as they are (pipelines, inline requests, malformed input); connects first if
    // needed. A failed send leaves the connection open, so that what the server said before it
    // closed can still be read.
    bool send_raw(std::string_view bytes) {
        if (!connected() && !reconnect()) return false;
        return send_all(bytes);
    }

    // The next reply, parsed.
    std::optional<Reply> read(milliseconds limit = milliseconds(5000)) {
        Reply r;
        if (!next_reply(limit, r)) return std::nullopt;
        return r;
    }

    // The exact bytes of the next reply.
    std::optional<std::string> read_raw(milliseconds limit = milliseconds(5000)) {
        Reply r;
        std::string raw;
        if (!next_reply(limit, r, &raw)) return std::nullopt;
        return raw;
    }

    // True once the server has closed the connection (end of file or reset) within `limit`;
    // anything it sends before that is kept for read().
    bool closed_by_peer(milliseconds limit = milliseconds(5000)) {
        if (!connected()) return false;
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            if (buffer_.size() > detail::kMaxBulk + 4096) return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            char chunk[4096];
            const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
            if (n > 0) buffer_.append(chunk, static_cast<std::size_t>(n));
        }
        return false;
    }

  private:
    bool next_reply(milliseconds limit, Reply& out, std::string* raw = nullptr) {
        if (!connected()) return false;
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (true) {
            std::size_t pos = 0;
            const auto p = detail::parse_reply(buffer_, pos, out);
            if (p == detail::Parse::kDone) {
                if (raw) *raw = buffer_.substr(0, pos);
                buffer_.erase(0, pos);
                return true;
            }
            if (p == detail::Parse::kBad || !receive_some(deadline)) {
                close();
                return false;
            }
        }
    }

    std::nullopt_t fail() {
        close();
        return std::nullopt;
    }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        buffer_.clear();
    }
    bool send_all(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }
    bool receive_some(SteadyTime deadline) {
        if (buffer_.size() > detail::kMaxBulk + 4096) return false;
        while (true) {
            const auto left = std::chrono::duration_cast<milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
            if (ready < 0 && errno == EINTR) continue;
            if (ready <= 0) return false;
            char chunk[65536];
            const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            buffer_.append(chunk, static_cast<std::size_t>(n));
            return true;
        }
    }

    std::uint16_t port_;
    int fd_ = -1;
    std::string buffer_;
};

// Polls `pred` every `every` until it holds or `limit` has passed; true when it held.
template <typename Pred>
bool wait_until(milliseconds limit, milliseconds every, Pred&& pred) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (true) {
        if (pred()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(every);
    }
}

// Waits (bounded) until a server started as `process` answers PING on `port`; false when it
// exited first or did not answer in time.
inline bool wait_ready(Process& process, std::uint16_t port, milliseconds limit = kStartLimit) {
    const bool done = wait_until(limit, milliseconds(20), [&] {
        if (!process.running()) return true;
        RespConnection probe(port);
        auto r = probe.call({"PING"}, milliseconds(1000));
        return r && r->type == Reply::Type::kSimple && r->text == "PONG";
    });
    return done && process.running();
}

// The options every test server starts with: loopback only, `dir` as its working directory, no
// saved keys, in the foreground. Tests add their own after these.
inline std::vector<std::string> server_arguments(const std::string& program, std::uint16_t port,
                                                 const fs::path& dir, bool cluster) {
    return {program,
            "--port",
            std::to_string(port),
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
            "--daemonize",
            "no",
            "--protected-mode",
            "no"};
}

enum class ServerKind { kRedis, kKv };

inline std::string_view kind_name(ServerKind k) {
    return k == ServerKind::kRedis ? "redis-server" : "gossipcluster-kvserver";
}

// A cluster-enabled redis-server or gossipcluster-kvserver on 127.0.0.1, started with the same
// redis-server options: its node table is `dir`/nodes-<port>.conf and its log
// `dir`/<kind>-<port>.log. Stopping and starting again reuses the port, the directory and the node
// table. `before_first_start`, when given, runs once the port is known and before the first
// start (again if a taken port forces a new pick): to write a node table for it, for instance.
class ClusterServer {
  public:
    using Prepare = std::function<void(const ClusterServer&)>;

    ClusterServer(ServerKind kind, fs::path dir, std::vector<std::string> extra = {},
                  int node_timeout_ms = 3000, const Prepare& before_first_start = {})
        : kind_(kind),
          dir_(std::move(dir)),
          extra_(std::move(extra)),
          node_timeout_ms_(node_timeout_ms) {
        // Another program may take a picked port before the server binds it: a few new picks.
        for (int attempt = 0;; ++attempt) {
            port_ = pick_port();
            if (port_ == 0) throw std::runtime_error("no free port pair in 20000-22767");
            if (before_first_start) before_first_start(*this);
            if (try_start()) return;
            const std::string log = read_file(log_path());
            const bool port_taken = log.find("already in use") != std::string::npos ||
                                    log.find("Failed listening") != std::string::npos;
            if (!port_taken || attempt == 3)
                throw std::runtime_error(fmt::format("{} did not start: {}", name(), log_tail()));
        }
    }
    ClusterServer(const ClusterServer&) = delete;
    ClusterServer& operator=(const ClusterServer&) = delete;
    ~ClusterServer() { stop(); }

    ServerKind kind() const { return kind_; }
    std::uint16_t port() const { return port_; }
    std::uint16_t bus_port() const { return static_cast<std::uint16_t>(port_ + 10000); }
    const fs::path& dir() const { return dir_; }
    fs::path config_path() const { return dir_ / fmt::format("nodes-{}.conf", port_); }
    fs::path log_path() const {
        return dir_ / fmt::format("{}-{}.log", kind_ == ServerKind::kRedis ? "redis" : "kv", port_);
    }
    std::string name() const {
        return fmt::format("{}:{}", kind_ == ServerKind::kRedis ? "redis" : "kv", port_);
    }
    std::string log_tail(std::size_t lines = 40) const {
        return fmt::format("--- {} ({}) ---\n{}", name(), log_path().string(),
                           read_tail(log_path(), lines));
    }
    pid_t pid() const { return process_ ? process_->pid() : -1; }
    bool running() { return process_ && process_->running(); }

    // Starts again after stop(), on the same port and node table; throws if it does not come up.
    void start() {
        if (running()) return;
        if (!try_start())
            throw std::runtime_error(fmt::format("{} did not restart: {}", name(), log_tail()));
    }

    // SIGTERM, a bounded wait, SIGKILL; the wait status.
    int stop() {
        conn_.reset();
        if (!process_) return -1;
        const int status = process_->stop();
        process_.reset();
        return status;
    }

    // SIGKILL, as a crash: nothing is saved on the way out; the wait status.
    int kill() {
        conn_.reset();
        if (!process_) return -1;
        const int status = process_->stop(SIGKILL);
        process_.reset();
        return status;
    }

    // One command on this server's persistent connection (reconnects after an error).
    std::optional<Reply> call(const std::vector<std::string>& args,
                              milliseconds limit = milliseconds(5000)) {
        if (!conn_) conn_.emplace(port_);
        return conn_->call(args, limit);
    }

  private:
    std::vector<std::string> arguments() const {
        const char* program = kind_ == ServerKind::kRedis ? kRedisServerPath : kv_path();
        auto args = server_arguments(program, port_, dir_, true);
        args.insert(args.end(), {"--cluster-config-file", fmt::format("nodes-{}.conf", port_),
                                 "--cluster-node-timeout", std::to_string(node_timeout_ms_),
                                 "--logfile", log_path().string()});
        args.insert(args.end(), extra_.begin(), extra_.end());
        return args;
    }

    static const char* kv_path() {
#ifdef GOSSIPCLUSTER_BIN_DIR
        return kKvServerPath;
#else
        throw std::runtime_error("GOSSIPCLUSTER_BIN_DIR is not defined: no kvserver path");
#endif
    }

    // Starts the process and waits until it answers PING; false (process stopped) otherwise.
    bool try_start() {
        const auto args = arguments();
        if (::access(args[0].c_str(), X_OK) != 0)
            throw std::runtime_error(fmt::format("{} is not there: build or install it", args[0]));
        conn_.reset();
        process_.emplace(args, dir_ / fmt::format("{}.stdout", name()));
        if (wait_ready(*process_, port_)) return true;
        process_.reset();
        return false;
    }

    ServerKind kind_;
    fs::path dir_;
    std::vector<std::string> extra_;
    int node_timeout_ms_;
    std::uint16_t port_ = 0;
    std::optional<Process> process_;
    std::optional<RespConnection> conn_;
};

}  // namespace gossipcluster::interop_test
