// MIGRATE: moves keys to another server over its client port, blocking, with a deadline.
#pragma once

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "command_context.hpp"
#include "dump_payload.hpp"
#include "gossipcluster/commands/arguments.hpp"

namespace kvserver {

namespace detail {

// A blocking connection to the target where every step shares one deadline. Like Redis's
// MIGRATE it holds the server's only thread meanwhile, for at most the given timeout.
class MigrateLink {
  public:
    MigrateLink(std::chrono::milliseconds timeout)
        : deadline_(std::chrono::steady_clock::now() + timeout) {}
    ~MigrateLink() {
        if (fd_ >= 0) ::close(fd_);
    }
    MigrateLink(const MigrateLink&) = delete;
    MigrateLink& operator=(const MigrateLink&) = delete;

    bool connect(const std::string& host, const std::string& port) {
        addrinfo* found = resolve(host, port);
        if (!found) return false;
        bool ok = false;
        for (addrinfo* a = found; a && !ok; a = a->ai_next) {
            fd_ = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                           a->ai_protocol);
            if (fd_ < 0) continue;
            if (::connect(fd_, a->ai_addr, a->ai_addrlen) == 0 ||
                (errno == EINPROGRESS && wait(POLLOUT) && socket_error() == 0)) {
                ok = true;
            } else {
                ::close(fd_);
                fd_ = -1;
            }
        }
        ::freeaddrinfo(found);
        return ok;
    }

    bool send_all(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n > 0) {
                bytes.remove_prefix(static_cast<std::size_t>(n));
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (!wait(POLLOUT)) return false;
            } else {
                return false;
            }
        }
        return true;
    }

    // One reply line without its CRLF. Every reply MIGRATE expects (+OK, -ERR ..., $-1) is a
    // single line; anything longer than kMaxLine is refused.
    std::optional<std::string> read_line() {
        static constexpr std::size_t kMaxLine = 64 * 1024;
        while (true) {
            const auto end = buffer_.find("\r\n");
            if (end != std::string::npos) {
                std::string line = buffer_.substr(0, end);
                buffer_.erase(0, end + 2);
                return line;
            }
            if (buffer_.size() > kMaxLine) return std::nullopt;
            char chunk[4096];
            const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n > 0) {
                buffer_.append(chunk, static_cast<std::size_t>(n));
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (!wait(POLLIN)) return std::nullopt;
            } else {
                return std::nullopt;
            }
        }
    }

  private:
    // A literal address at once; a name on a thread of its own, waited for until the deadline
    // only: getaddrinfo has no timeout, and a DNS server that does not answer would otherwise
    // hold the whole server for as long as the resolver retries. A lookup given up on finishes
    // (and frees its result) on that thread.
    addrinfo* resolve(const std::string& host, const std::string& port) {
        addrinfo hints{};
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
        addrinfo* found = nullptr;
        if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) == 0) return found;
        struct Lookup {
            std::mutex mutex;
            std::condition_variable done_cv;
            bool done = false;
            bool abandoned = false;
            addrinfo* result = nullptr;
        };
        auto lookup = std::make_shared<Lookup>();
        try {
            std::thread([lookup, host, port] {
                addrinfo h{};
                h.ai_socktype = SOCK_STREAM;
                h.ai_flags = AI_NUMERICSERV;
                addrinfo* r = nullptr;
                if (::getaddrinfo(host.c_str(), port.c_str(), &h, &r) != 0) r = nullptr;
                std::lock_guard lock(lookup->mutex);
                if (lookup->abandoned) {
                    if (r) ::freeaddrinfo(r);
                } else {
                    lookup->result = r;
                }
                lookup->done = true;
                lookup->done_cv.notify_all();
            }).detach();
        } catch (const std::system_error&) {
            return nullptr;  // no thread to be had
        }
        std::unique_lock lock(lookup->mutex);
        if (!lookup->done_cv.wait_until(lock, deadline_, [&] { return lookup->done; })) {
            lookup->abandoned = true;
            return nullptr;
        }
        return lookup->result;
    }

    bool wait(short events) {
        while (true) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline_ - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, events, 0};
            // poll() takes an int: a longer wait is taken in several.
            const int r =
                ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), INT_MAX)));
            if (r == 0 && left.count() > INT_MAX) continue;
            if (r < 0 && errno == EINTR) continue;
            return r > 0;
        }
    }
    int socket_error() const {
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
        return err;
    }

    std::chrono::steady_clock::time_point deadline_;
    int fd_ = -1;
    std::string buffer_;
};

inline void append_command(std::string& out, const std::vector<std::string_view>& words) {
    out += fmt::format("*{}\r\n", words.size());
    for (auto w : words)
        out += fmt::format("${}\r\n{}\r\n", w.size(), w);
}

}  // namespace detail

inline constexpr std::int64_t kMaxMigrateTimeout = INT_MAX;

// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH pw] [AUTH2 user pw]
// [KEYS key...]. Each key travels as redis-server sends it: RESTORE-ASKING (RESTORE outside a
// cluster) with its remaining time to live and its DUMP payload, REPLACE when asked, so the target
// accepts it while its slot is importing and answers BUSYKEY for a key it already has.
inline RespValue cmd_migrate(CommandContext& c) {
    const auto& a = c.args;
    bool copy = false, replace = false;
    std::vector<std::string_view> auth;  // AUTH password or AUTH username password, for the target
    std::size_t first_key = 3, key_count = 1;
    for (std::size_t j = 6; j < a.size(); ++j) {
        const std::string opt = gossipcluster::to_lower_ascii(a[j]);
        const std::size_t more = a.size() - j - 1;
        if (opt == "copy") {
            copy = true;
        } else if (opt == "replace") {
            replace = true;
        } else if (opt == "auth" && more >= 1) {
            auth = {"AUTH", a[j + 1]};
            j += 1;
        } else if (opt == "auth2" && more >= 2) {
            auth = {"AUTH", a[j + 1], a[j + 2]};
            j += 2;
        } else if (opt == "keys") {
            if (!a[3].empty())
                return RespValue::error(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the "
                    "empty string");
            first_key = j + 1;
            key_count = more;
            break;
        } else {
            return syntax_error();
        }
    }
    auto timeout = gossipcluster::parse_int64_strict(a[5]);
    auto db = gossipcluster::parse_int64_strict(a[4]);
    if (!timeout || !db) return not_an_integer();
    // As redis-server: no positive timeout means a second. The whole server waits meanwhile, so
    // the longest wait is kMaxMigrateTimeout, about 24 days, the longest poll() can take at once.
    if (*timeout <= 0) timeout = 1000;
    timeout = std::min(*timeout, kMaxMigrateTimeout);

    struct Item {
        std::string_view key;
        std::string value;
        std::int64_t ttl_ms;  // 0: none
    };
    const std::int64_t now = ServerContext::now_ms();
    std::vector<Item> items;
    for (std::size_t i = first_key; i < first_key + key_count && i < a.size(); ++i) {
        const std::string* v = c.server.keyspace.peek(a[i], now);
        if (!v) continue;
        const std::int64_t at = c.server.keyspace.expiry(a[i], now);
        items.push_back(
            {a[i], *v, at == Keyspace::kNoExpiry ? 0 : std::max<std::int64_t>(1, at - now)});
    }
    if (items.empty()) return RespValue::simple("NOKEY");

    std::string request;
    const std::string db_text = std::to_string(*db);
    if (!auth.empty()) detail::append_command(request, auth);
    if (*db != 0) detail::append_command(request, {"SELECT", db_text});
    const std::string_view restore = c.server.cluster ? "RESTORE-ASKING" : "RESTORE";
    for (const auto& item : items) {
        const std::string ttl = std::to_string(item.ttl_ms);
        const std::string payload = encode_dump_payload(item.value);
        std::vector<std::string_view> words{restore, item.key, ttl, payload};
        if (replace) words.push_back("REPLACE");
        detail::append_command(request, words);
    }

    detail::MigrateLink link{std::chrono::milliseconds(*timeout)};
    if (!link.connect(a[1], a[2]))
        return RespValue::error("IOERR error or timeout connecting to the client");
    if (!link.send_all(request))
        return RespValue::error("IOERR error or timeout writing to target instance");
    // The replies to AUTH and SELECT come first.
    for (int preamble = (auth.empty() ? 0 : 1) + (*db != 0 ? 1 : 0); preamble > 0; --preamble) {
        auto line = link.read_line();
        if (!line) return RespValue::error("IOERR error or timeout reading to target instance");
        if (!line->empty() && line->front() == '-')
            return RespValue::error("ERR Target instance replied with error: " + line->substr(1));
    }
    std::optional<RespValue> error;
    for (const auto& item : items) {
        auto reply = link.read_line();
        if (!reply) return RespValue::error("IOERR error or timeout reading to target instance");
        if (*reply == "+OK") {
            if (!copy) c.server.keyspace.erase(item.key, now);
        } else if (!error) {
            error = RespValue::error("ERR Target instance replied with error: " +
                                     (reply->empty() ? std::string() : reply->substr(1)));
        }
    }
    return error ? *error : RespValue::ok();
}

}  // namespace kvserver
