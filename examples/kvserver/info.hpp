// INFO: server, clients, stats, replication, cluster and keyspace sections in Redis's layout.
#pragma once

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "cluster_node.hpp"
#include "gossipcluster/commands/arguments.hpp"
#include "server_context.hpp"

namespace kvserver {

// The Redis version whose replies this server reproduces; clients gate features on it.
inline constexpr std::string_view kRedisCompatVersion = "7.0.15";
inline constexpr std::string_view kServerVersion = "0.1.0";

namespace detail {

inline std::string os_name() {
    utsname u{};
    if (::uname(&u) != 0) return "unknown";
    return fmt::format("{} {} {}", u.sysname, u.release, u.machine);
}

// What Asio's reactor uses underneath.
inline std::string_view multiplexing_api() {
#if defined(__linux__)
    return "epoll";
#elif defined(__APPLE__) || defined(__FreeBSD__)
    return "kqueue";
#else
    return "select";
#endif
}

inline std::string compiler_version() {
#if defined(__clang__)
    return fmt::format("clang-{}.{}.{}", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
    return fmt::format("{}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#else
    return "0.0.0";
#endif
}

inline void info_server(ServerContext& s, std::string& out) {
    auto it = std::back_inserter(out);
    const std::int64_t uptime = s.uptime_seconds();
    fmt::format_to(it,
                   "# Server\r\n"
                   "redis_version:{}\r\n"
                   "redis_git_sha1:00000000\r\n"
                   "redis_git_dirty:0\r\n"
                   "redis_build_id:0\r\n"
                   "redis_mode:{}\r\n"
                   "gossipcluster_version:{}\r\n"
                   "os:{}\r\n"
                   "arch_bits:{}\r\n"
                   "multiplexing_api:{}\r\n"
                   "gcc_version:{}\r\n"
                   "process_id:{}\r\n"
                   "process_supervised:no\r\n"
                   "run_id:{}\r\n"
                   "tcp_port:{}\r\n"
                   "server_time_usec:{}\r\n"
                   "uptime_in_seconds:{}\r\n"
                   "uptime_in_days:{}\r\n"
                   "hz:10\r\n"
                   "configured_hz:10\r\n"
                   "executable:{}\r\n"
                   "config_file:{}\r\n"
                   "io_threads_active:0\r\n",
                   kRedisCompatVersion, s.cluster ? "cluster" : "standalone", kServerVersion,
                   os_name(), sizeof(void*) * 8, multiplexing_api(), compiler_version(), ::getpid(),
                   s.run_id, s.options.port, ServerContext::now_ms() * 1000, uptime, uptime / 86400,
                   s.executable, s.config_file);
}

inline void info_clients(ServerContext& s, std::string& out) {
    fmt::format_to(std::back_inserter(out),
                   "# Clients\r\n"
                   "connected_clients:{}\r\n"
                   "cluster_connections:{}\r\n"
                   "maxclients:{}\r\n"
                   "blocked_clients:0\r\n"
                   "tracking_clients:0\r\n",
                   s.clients.size(), s.cluster ? s.cluster->bus_link_count() : 0,
                   s.options.maxclients);
}

inline void info_stats(ServerContext& s, std::string& out) {
    const Keyspace::Stats& ks = s.keyspace.stats();
    fmt::format_to(std::back_inserter(out),
                   "# Stats\r\n"
                   "total_connections_received:{}\r\n"
                   "total_commands_processed:{}\r\n"
                   "rejected_connections:{}\r\n"
                   "expired_keys:{}\r\n"
                   "evicted_keys:0\r\n"
                   "keyspace_hits:{}\r\n"
                   "keyspace_misses:{}\r\n"
                   "total_error_replies:{}\r\n",
                   s.stats.connections_received, s.stats.commands_processed,
                   s.stats.rejected_connections, ks.expired_keys, ks.hits, ks.misses,
                   s.stats.error_replies);
}

// Without the replication side: a master without replicas.
inline void info_replication(ServerContext& s, std::string& out) {
    if (s.replication_info) {
        out += "# Replication\r\n";
        s.replication_info(out);
        return;
    }
    fmt::format_to(std::back_inserter(out),
                   "# Replication\r\n"
                   "role:master\r\n"
                   "connected_slaves:0\r\n"
                   "master_failover_state:no-failover\r\n"
                   "master_replid:{}\r\n"
                   "master_replid2:0000000000000000000000000000000000000000\r\n"
                   "master_repl_offset:0\r\n"
                   "second_repl_offset:-1\r\n"
                   "repl_backlog_active:0\r\n"
                   "repl_backlog_size:1048576\r\n"
                   "repl_backlog_first_byte_offset:0\r\n"
                   "repl_backlog_histlen:0\r\n",
                   s.replid);
}

inline void info_cluster(ServerContext& s, std::string& out) {
    fmt::format_to(std::back_inserter(out), "# Cluster\r\ncluster_enabled:{}\r\n",
                   s.cluster ? 1 : 0);
}

// redis-cli --cluster looks for a db0 line to tell an empty node, so there is none when empty.
inline void info_keyspace(ServerContext& s, std::string& out) {
    out += "# Keyspace\r\n";
    if (s.keyspace.size() > 0)
        fmt::format_to(std::back_inserter(out), "db0:keys={},expires={},avg_ttl=0\r\n",
                       s.keyspace.size(), s.keyspace.expires_count());
}

struct InfoSection {
    std::string_view name;
    void (*render)(ServerContext&, std::string&);
};

inline constexpr std::array<InfoSection, 6> kInfoSections{{
    {"server", info_server},
    {"clients", info_clients},
    {"stats", info_stats},
    {"replication", info_replication},
    {"cluster", info_cluster},
    {"keyspace", info_keyspace},
}};

}  // namespace detail

// INFO [section...]: no section, "default", "all" or "everything" give every section. Each
// section is a `# Name` line and `field:value\r\n` lines; sections are separated by an empty
// line. Unknown names are skipped, so INFO of only unknown sections is empty, as in Redis.
inline std::string render_info(ServerContext& s, const std::vector<std::string>& requested) {
    auto wanted = [&](std::string_view name) {
        if (requested.empty()) return true;
        return std::any_of(requested.begin(), requested.end(), [&](const std::string& r) {
            return gossipcluster::equals_ignore_case(r, name) ||
                   gossipcluster::equals_ignore_case(r, "default") ||
                   gossipcluster::equals_ignore_case(r, "all") ||
                   gossipcluster::equals_ignore_case(r, "everything");
        });
    };
    std::string out;
    for (const auto& section : detail::kInfoSections) {
        if (!wanted(section.name)) continue;
        if (!out.empty()) out += "\r\n";
        section.render(s, out);
    }
    return out;
}

}  // namespace kvserver
