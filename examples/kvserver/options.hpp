// Server options from redis-server-style arguments and config files, strictly validated.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "gossipcluster/commands/arguments.hpp"
#include "output_limit.hpp"
#include "split_args.hpp"

namespace kvserver {

enum class LogLevel { kDebug, kVerbose, kNotice, kWarning };

struct ServerOptions {
    std::string config_file;  // as given; empty when none
    std::uint16_t port = 6379;
    // Unlike redis-server (every interface), only loopback unless told otherwise: by default this
    // server asks no password (see requirepass). A leading '-' marks an address that may be missing
    // (no IPv6 on the host, say).
    std::vector<std::string> bind{"127.0.0.1", "-::1"};
    bool cluster_enabled = false;
    std::string cluster_config_file = "nodes.conf";
    std::int64_t cluster_node_timeout_ms = 15000;
    std::uint16_t cluster_port = 0;  // 0: port + 10000
    std::string cluster_announce_ip;
    std::string cluster_announce_hostname;
    // TLS, as redis-server names it. With tls-cluster the bus runs TLS with mutual
    // authentication and the cluster knows the node by tls_port (its bus port is tls_port +
    // 10000), with `port` as the plaintext port beside it. Clients are served in plaintext on
    // `port` only: this server has no TLS client listener.
    std::uint16_t tls_port = 0;
    bool tls_cluster = false;
    std::string tls_cert_file;
    std::string tls_key_file;
    std::string tls_ca_cert_file;
    // tls-cluster-bind-node-id (ours, not redis-server's): a bus peer may speak only for the
    // node id its certificate names (AsioTlsOptions::bind_node_id). Needs tls-cluster.
    bool tls_cluster_bind_node_id = false;
    std::string dir;      // empty: stay in the current directory
    std::string logfile;  // empty: standard output
    LogLevel loglevel = LogLevel::kNotice;
    std::size_t maxclients = 10000;
    // Bytes of one request a client may have pending, unparsed or parsed but not yet run (a
    // request's arguments wait in memory until its last one arrives); redis-server allows 1 GB.
    std::size_t client_query_buffer_limit = std::size_t{64} << 20;
    OutputBufferLimit pubsub_output_limit;  // client-output-buffer-limit pubsub ...
    // The default user's password (AUTH password, AUTH default password); empty: none, every
    // connection is authenticated from the start, as with redis-server.
    std::string requirepass;
    // What a replica sends as AUTH on its replication connection; masteruser empty: AUTH
    // masterauth alone. The master's requirepass decides whether it is needed.
    std::string masteruser;
    std::string masterauth;
    // Seconds a client may stay idle before it is closed; 0: never. Replicas, clients in
    // Pub/Sub mode and clients waiting in WAIT are never closed for idleness, as in Redis.
    std::int64_t timeout_seconds = 0;
    // Options accepted for compatibility but without effect, as "name value" for the startup log.
    std::vector<std::string> ignored;

    // The port the cluster knows the node by: the TLS port in a TLS cluster, as redis-server.
    std::uint16_t cluster_client_port() const { return tls_cluster ? tls_port : port; }
    std::uint16_t bus_port() const {
        return cluster_port != 0 ? cluster_port
                                 : static_cast<std::uint16_t>(cluster_client_port() + 10000);
    }
};

struct OptionsError {
    std::string message;
};

namespace detail {

// redis-server options that change nothing here: persistence (this server keeps data in memory
// only), and settings for features it does not have.
inline constexpr std::array<std::string_view, 15> kIgnoredOptions{
    "appendfilename", "appendfsync",    "appendonly", "always-show-logo",
    "databases",      "dbfilename",     "hz",         "lazyfree-lazy-eviction",
    "protected-mode", "save",           "supervised", "tcp-backlog",
    "tcp-keepalive",  "set-proc-title", "io-threads",
};

inline std::optional<bool> parse_yes_no(std::string_view v) {
    if (gossipcluster::equals_ignore_case(v, "yes")) return true;
    if (gossipcluster::equals_ignore_case(v, "no")) return false;
    return std::nullopt;
}

// A byte count with Redis's units: k/m/g are powers of 1000, kb/mb/gb powers of 1024.
inline std::optional<std::size_t> parse_memory(std::string_view v) {
    struct Unit {
        std::string_view suffix;
        std::uint64_t factor;
    };
    static constexpr std::array<Unit, 7> kUnits{{{"kb", 1024},
                                                 {"mb", 1024 * 1024},
                                                 {"gb", 1024 * 1024 * 1024},
                                                 {"k", 1000},
                                                 {"m", 1000 * 1000},
                                                 {"g", 1000 * 1000 * 1000},
                                                 {"b", 1}}};
    std::uint64_t factor = 1;
    for (const auto& u : kUnits) {
        if (v.size() > u.suffix.size() &&
            gossipcluster::equals_ignore_case(v.substr(v.size() - u.suffix.size()), u.suffix)) {
            factor = u.factor;
            v.remove_suffix(u.suffix.size());
            break;
        }
    }
    auto n = gossipcluster::parse_int64_strict(v);
    if (!n || *n < 0) return std::nullopt;
    const auto value = static_cast<std::uint64_t>(*n);
    if (value > UINT64_MAX / factor) return std::nullopt;
    return static_cast<std::size_t>(value * factor);
}

inline std::string join(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) {
        if (!out.empty()) out += ' ';
        out += w.empty() ? std::string("''") : w;
    }
    return out;
}

// Applies one option. `where` says where it came from, for the error message.
inline std::optional<OptionsError> apply_option(ServerOptions& o, const std::string& raw_name,
                                                const std::vector<std::string>& values,
                                                std::string_view where) {
    const std::string name = gossipcluster::to_lower_ascii(raw_name);
    auto fail = [&](std::string_view why) {
        return OptionsError{fmt::format("{}: option '{}' {}", where, raw_name, why)};
    };
    auto one = [&]() -> const std::string* { return values.size() == 1 ? &values[0] : nullptr; };
    auto integer = [&](std::int64_t min, std::int64_t max) -> std::optional<std::int64_t> {
        const std::string* v = one();
        if (!v) return std::nullopt;
        auto n = gossipcluster::parse_int64_strict(*v);
        if (!n || *n < min || *n > max) return std::nullopt;
        return n;
    };

    if (name == "port") {
        auto n = integer(1, 65535);
        if (!n) return fail("needs one port number, 1-65535");
        o.port = static_cast<std::uint16_t>(*n);
    } else if (name == "bind") {
        if (values.empty()) return fail("needs at least one address");
        // redis.conf spells the wildcards "*" (IPv4) and "::*" (IPv6).
        o.bind.clear();
        for (const auto& v : values) {
            const bool optional = v.starts_with('-');
            const std::string_view addr = std::string_view(v).substr(optional ? 1 : 0);
            const std::string_view real = addr == "*" ? "0.0.0.0" : addr == "::*" ? "::" : addr;
            o.bind.push_back((optional ? "-" : "") + std::string(real));
        }
    } else if (name == "cluster-enabled") {
        auto yes = one() ? parse_yes_no(*one()) : std::nullopt;
        if (!yes) return fail("needs yes or no");
        o.cluster_enabled = *yes;
    } else if (name == "cluster-config-file") {
        if (!one() || one()->empty()) return fail("needs one file name");
        o.cluster_config_file = *one();
    } else if (name == "cluster-node-timeout") {
        // The cluster cron runs every 100 ms and a node timeout spans at least two runs.
        auto n = integer(200, INT64_MAX / 4);
        if (!n) return fail("needs a number of milliseconds, at least 200");
        o.cluster_node_timeout_ms = *n;
    } else if (name == "cluster-port") {
        auto n = integer(0, 65535);
        if (!n) return fail("needs one port number, 0-65535 (0: port + 10000)");
        o.cluster_port = static_cast<std::uint16_t>(*n);
    } else if (name == "cluster-announce-ip") {
        if (!one()) return fail("needs one address (or '' for none)");
        o.cluster_announce_ip = *one();
    } else if (name == "cluster-announce-hostname") {
        if (!one()) return fail("needs one host name (or '' for none)");
        o.cluster_announce_hostname = *one();
    } else if (name == "dir") {
        if (!one() || one()->empty()) return fail("needs one directory");
        o.dir = *one();
    } else if (name == "logfile") {
        if (!one()) return fail("needs one file name ('' for standard output)");
        o.logfile = *one();
    } else if (name == "daemonize") {
        auto yes = one() ? parse_yes_no(*one()) : std::nullopt;
        if (!yes) return fail("needs yes or no");
        if (*yes) return fail("'yes' is not supported: the server always runs in the foreground");
    } else if (name == "loglevel") {
        static constexpr std::array<std::pair<std::string_view, LogLevel>, 4> kLevels{{
            {"debug", LogLevel::kDebug},
            {"verbose", LogLevel::kVerbose},
            {"notice", LogLevel::kNotice},
            {"warning", LogLevel::kWarning},
        }};
        auto it = one()
                      ? std::find_if(kLevels.begin(), kLevels.end(),
                                     [&](const auto& l) {
                                         return gossipcluster::equals_ignore_case(l.first, *one());
                                     })
                      : kLevels.end();
        if (it == kLevels.end()) return fail("needs debug, verbose, notice or warning");
        o.loglevel = it->second;
    } else if (name == "maxclients") {
        auto n = integer(1, 1000000);
        if (!n) return fail("needs a number of clients, 1-1000000");
        o.maxclients = static_cast<std::size_t>(*n);
    } else if (name == "client-query-buffer-limit") {
        auto bytes = one() ? parse_memory(*one()) : std::nullopt;
        // Below 1 MB even a modest MSET would be refused; redis-server has the same floor.
        if (!bytes || *bytes < (std::size_t{1} << 20) || *bytes > (std::size_t{1} << 30))
            return fail("needs a size from 1mb to 1gb");
        o.client_query_buffer_limit = *bytes;
    } else if (name == "requirepass" || name == "masteruser" || name == "masterauth") {
        if (!one()) return fail("needs one value ('' for none)");
        (name == "requirepass"  ? o.requirepass
         : name == "masteruser" ? o.masteruser
                                : o.masterauth) = *one();
    } else if (name == "timeout") {
        auto n = integer(0, INT32_MAX);
        if (!n) return fail("needs a number of seconds (0: never)");
        o.timeout_seconds = *n;
    } else if (name == "tls-port") {
        auto n = integer(0, 65535);
        if (!n) return fail("needs one port number, 0-65535 (0: none)");
        o.tls_port = static_cast<std::uint16_t>(*n);
    } else if (name == "tls-cluster") {
        auto yes = one() ? parse_yes_no(*one()) : std::nullopt;
        if (!yes) return fail("needs yes or no");
        o.tls_cluster = *yes;
    } else if (name == "tls-cluster-bind-node-id") {
        auto yes = one() ? parse_yes_no(*one()) : std::nullopt;
        if (!yes) return fail("needs yes or no");
        o.tls_cluster_bind_node_id = *yes;
    } else if (name == "tls-cert-file" || name == "tls-key-file" || name == "tls-ca-cert-file") {
        if (!one()) return fail("needs one file name");
        (name == "tls-cert-file"  ? o.tls_cert_file
         : name == "tls-key-file" ? o.tls_key_file
                                  : o.tls_ca_cert_file) = *one();
    } else if (name == "tls-replication") {
        auto yes = one() ? parse_yes_no(*one()) : std::nullopt;
        if (!yes) return fail("needs yes or no");
        if (*yes) return fail("'yes' is not supported: replication runs on the plaintext port");
        o.ignored.push_back(fmt::format("{} {}", name, join(values)));
    } else if (name == "tls-auth-clients") {
        // Without a TLS client listener there is nothing to authenticate.
        const bool ok = one() && (parse_yes_no(*one()) ||
                                  gossipcluster::equals_ignore_case(*one(), "optional"));
        if (!ok) return fail("needs yes, no or optional");
        o.ignored.push_back(fmt::format("{} {}", name, join(values)));
    } else if (name == "client-output-buffer-limit") {
        if (auto why = parse_output_buffer_limits(values, parse_memory, o.pubsub_output_limit))
            return fail(*why);
    } else if (std::find(kIgnoredOptions.begin(), kIgnoredOptions.end(), name) !=
               kIgnoredOptions.end()) {
        o.ignored.push_back(fmt::format("{} {}", name, join(values)));
    } else {
        return OptionsError{fmt::format("{}: unknown option '{}'", where, raw_name)};
    }
    return std::nullopt;
}

}  // namespace detail

// `name value...` lines; blank lines and lines starting with '#' are skipped.
inline std::optional<OptionsError> apply_config_text(ServerOptions& o, std::string_view text,
                                                     std::string_view file_name) {
    std::size_t line_no = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        ++line_no;
        std::size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) nl = text.size();
        std::string_view line = text.substr(pos, nl - pos);
        pos = nl + 1;
        const std::string where = fmt::format("{}:{}", file_name, line_no);
        const auto first = line.find_first_not_of(" \t\r");
        if (first == std::string_view::npos || line[first] == '#') continue;
        auto words = split_args(line);
        if (!words) return OptionsError{fmt::format("{}: unbalanced quotes", where)};
        if (words->empty()) continue;
        std::vector<std::string> values(words->begin() + 1, words->end());
        if (auto err = detail::apply_option(o, words->front(), values, where)) return err;
    }
    return std::nullopt;
}

// Largest config file read; a redis.conf is a few tens of kilobytes.
inline constexpr std::size_t kMaxConfigFileBytes = std::size_t{1} << 20;

// `[config-file] [--name value...]...`: the file first, then the command line on top of it, as
// redis-server does. Returns the options or the first error.
inline std::variant<ServerOptions, OptionsError> parse_command_line(
    const std::vector<std::string>& args) {
    ServerOptions o;
    std::size_t i = 0;
    if (i < args.size() && !args[i].starts_with("--")) {
        o.config_file = args[i++];
        std::ifstream in(o.config_file, std::ios::binary);
        if (!in) return OptionsError{fmt::format("cannot open config file '{}'", o.config_file)};
        std::string text;
        text.resize(kMaxConfigFileBytes + 1);
        in.read(text.data(), static_cast<std::streamsize>(text.size()));
        text.resize(static_cast<std::size_t>(in.gcount()));
        if (text.size() > kMaxConfigFileBytes)
            return OptionsError{fmt::format("config file '{}' is larger than {} bytes",
                                            o.config_file, kMaxConfigFileBytes)};
        if (auto err = apply_config_text(o, text, o.config_file)) return *err;
    }
    while (i < args.size()) {
        const std::string& flag = args[i++];
        if (!flag.starts_with("--") || flag.size() == 2)
            return OptionsError{
                fmt::format("command line: expected an option like --port, got '{}'", flag)};
        std::vector<std::string> values;
        while (i < args.size() && !args[i].starts_with("--"))
            values.push_back(args[i++]);
        if (auto err = detail::apply_option(o, flag.substr(2), values, "command line")) return *err;
    }
    // Without TLS on the bus no certificate names anything: the option would protect nothing.
    if (o.tls_cluster_bind_node_id && !o.tls_cluster)
        return OptionsError{"tls-cluster-bind-node-id yes needs tls-cluster yes"};
    if (o.tls_cluster) {
        if (o.tls_port == 0) return OptionsError{"tls-cluster yes needs a tls-port"};
        if (o.tls_cert_file.empty() || o.tls_key_file.empty() || o.tls_ca_cert_file.empty())
            return OptionsError{
                "tls-cluster yes needs tls-cert-file, tls-key-file and tls-ca-cert-file"};
    }
    if (o.cluster_enabled && o.cluster_port == 0 && o.cluster_client_port() > 55535)
        return OptionsError{fmt::format(
            "port {} leaves no room for the bus port (port + 10000); set --cluster-port",
            o.cluster_client_port())};
    return o;
}

}  // namespace kvserver
