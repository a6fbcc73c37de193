// Connection and server commands: PING, ECHO, QUIT, SELECT, DBSIZE, INFO, CLIENT, CONFIG, CLUSTER.
#pragma once

#include <fnmatch.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "cluster_node.hpp"
#include "command_context.hpp"
#include "gossipcluster/commands/arguments.hpp"
#include "info.hpp"

namespace kvserver {

inline RespValue cmd_ping(CommandContext& c) {
    if (c.args.size() > 2) return wrong_arity("ping");
    return c.args.size() == 2 ? RespValue::bulk(c.args[1]) : RespValue::simple("PONG");
}

inline RespValue cmd_echo(CommandContext& c) {
    return RespValue::bulk(c.args[1]);
}

inline RespValue cmd_quit(CommandContext& c) {
    c.client.close_after_reply = true;
    return RespValue::ok();
}

namespace detail {

// Compares every byte whatever the first difference, so that the time taken does not tell an
// attacker how much of a guessed password was right.
inline bool same_secret(std::string_view a, std::string_view b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ (b.empty() ? 0 : b[i % b.size()]));
    return diff == 0;
}

}  // namespace detail

// AUTH password | AUTH username password. There is one user, "default", whose password is
// requirepass; without requirepass it takes any password, as redis-server's nopass user does.
inline RespValue cmd_auth(CommandContext& c) {
    if (c.args.size() > 3) return syntax_error();
    const std::string& required = c.server.options.requirepass;
    if (c.args.size() == 2 && required.empty())
        return RespValue::error(
            "ERR AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?");
    const bool default_user = c.args.size() == 2 || c.args[1] == "default";
    const std::string& given = c.args.back();
    if (!default_user || (!required.empty() && !detail::same_secret(given, required))) {
        c.server.log.verbose("AUTH failed for client id={} addr={}", c.client.id, c.client.addr);
        return RespValue::error("WRONGPASS invalid username-password pair or user is disabled.");
    }
    c.client.authenticated = true;
    return RespValue::ok();
}

// There is one database. Redis forbids SELECT in cluster mode, and database 0 always works.
inline RespValue cmd_select(CommandContext& c) {
    auto db = gossipcluster::parse_int64_strict(c.args[1]);
    if (!db) return not_an_integer();
    if (*db == 0) return RespValue::ok();
    if (c.server.cluster) return RespValue::error("ERR SELECT is not allowed in cluster mode");
    return RespValue::error("ERR DB index is out of range");
}

inline RespValue cmd_dbsize(CommandContext& c) {
    return RespValue::number(static_cast<std::int64_t>(c.server.keyspace.size()));
}

inline RespValue cmd_info(CommandContext& c) {
    std::vector<std::string> sections(c.args.begin() + 1, c.args.end());
    return RespValue::bulk(render_info(c.server, sections));
}

namespace detail {

// One CLIENT LIST / CLIENT INFO line with Redis 7.0's fields in its order (clients such as
// redis-py parse them all); memory figures are this server's buffer sizes.
inline std::string client_line(const ClientInfo& ci, std::int64_t now_ms) {
    return fmt::format(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags=N db=0 sub=0 psub=0 ssub=0 "
        "multi=-1 qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs={} rbp=0 obl={} oll=0 omem=0 "
        "tot-mem={} events=r cmd={} user=default redir=-1 resp=2\n",
        ci.id, ci.addr, ci.laddr, ci.fd, ci.name, (now_ms - ci.created_ms) / 1000,
        (now_ms - ci.last_interaction_ms) / 1000, ci.query_buffer, ci.read_chunk, ci.output_buffer,
        ci.query_buffer + ci.output_buffer + ci.read_chunk,
        ci.last_command.empty() ? "NULL" : ci.last_command);
}

}  // namespace detail

inline RespValue cmd_client(CommandContext& c) {
    const std::string sub = gossipcluster::to_lower_ascii(c.args[1]);
    const std::size_t n = c.args.size();
    const std::int64_t now = ServerContext::now_ms();
    if (sub == "id") {
        if (n != 2) return wrong_arity("client|id");
        return RespValue::number(static_cast<std::int64_t>(c.client.id));
    }
    if (sub == "getname") {
        if (n != 2) return wrong_arity("client|getname");
        return c.client.name.empty() ? RespValue::null() : RespValue::bulk(c.client.name);
    }
    if (sub == "setname") {
        if (n != 3) return wrong_arity("client|setname");
        for (char ch : c.args[2])
            if (ch < '!' || ch > '~')
                return RespValue::error(
                    "ERR Client names cannot contain spaces, newlines or special characters.");
        c.client.name = c.args[2];
        return RespValue::ok();
    }
    if (sub == "info") {
        if (n != 2) return wrong_arity("client|info");
        return RespValue::bulk(detail::client_line(c.client, now));
    }
    if (sub == "list") {
        if (n != 2) return syntax_error();
        std::string out;
        for (const auto& [id, ci] : c.server.clients)
            out += detail::client_line(*ci, now);
        return RespValue::bulk(std::move(out));
    }
    if (sub == "help") {
        if (n != 2) return wrong_arity("client|help");
        return help_lines({"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                           "GETNAME", "    Return the name of the current connection.", "ID",
                           "    Return the ID of the current connection.", "INFO",
                           "    Return information about the current client connection.", "LIST",
                           "    Return information about client connections.", "SETNAME <name>",
                           "    Assign the name <name> to the current connection.", "HELP",
                           "    Print this help."});
    }
    return unknown_subcommand(c.args[1], "CLIENT");
}

namespace detail {

struct ConfigParameter {
    std::string_view name;
    std::function<std::string(const ServerContext&)> value;
};

// What CONFIG GET can read. Persistence is reported off because there is none.
inline const std::vector<ConfigParameter>& config_parameters() {
    static const std::vector<ConfigParameter> params{
        {"bind",
         [](const ServerContext& s) {
             std::string out;
             for (const auto& b : s.options.bind)
                 out += (out.empty() ? "" : " ") + b;
             return out;
         }},
        {"port", [](const ServerContext& s) { return std::to_string(s.options.port); }},
        {"timeout",
         [](const ServerContext& s) { return std::to_string(s.options.timeout_seconds); }},
        {"dir",
         [](const ServerContext&) {
             std::error_code ec;
             return std::filesystem::current_path(ec).string();
         }},
        {"logfile", [](const ServerContext& s) { return s.options.logfile; }},
        {"daemonize", [](const ServerContext&) { return std::string("no"); }},
        {"databases", [](const ServerContext&) { return std::string("1"); }},
        {"maxclients", [](const ServerContext& s) { return std::to_string(s.options.maxclients); }},
        {"client-query-buffer-limit",
         [](const ServerContext& s) {
             return std::to_string(s.options.client_query_buffer_limit);
         }},
        {"save", [](const ServerContext&) { return std::string(); }},
        {"appendonly", [](const ServerContext&) { return std::string("no"); }},
        {"cluster-enabled",
         [](const ServerContext& s) {
             return std::string(s.options.cluster_enabled ? "yes" : "no");
         }},
        {"cluster-config-file",
         [](const ServerContext& s) { return s.options.cluster_config_file; }},
        {"cluster-node-timeout",
         [](const ServerContext& s) { return std::to_string(s.options.cluster_node_timeout_ms); }},
        {"cluster-port",
         [](const ServerContext& s) { return std::to_string(s.options.cluster_port); }},
        {"cluster-announce-ip",
         [](const ServerContext& s) { return s.options.cluster_announce_ip; }},
        {"cluster-announce-hostname",
         [](const ServerContext& s) { return s.options.cluster_announce_hostname; }},
    };
    return params;
}

inline bool has_glob(std::string_view p) {
    return p.find_first_of("*?[") != std::string_view::npos;
}

}  // namespace detail

// CONFIG GET pattern [pattern...]: [name, value] pairs. A plain name is echoed as the client
// spelt it, a glob lists canonical names, and each parameter appears once, as in Redis 7.0.
inline RespValue cmd_config(CommandContext& c) {
    const std::string sub = gossipcluster::to_lower_ascii(c.args[1]);
    if (sub == "help") {
        if (c.args.size() != 2) return wrong_arity("config|help");
        return help_lines(
            {"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "GET <pattern>",
             "    Return parameters matching the glob-like <pattern> and their values.", "HELP",
             "    Print this help."});
    }
    if (sub != "get") return unknown_subcommand(c.args[1], "CONFIG");
    if (c.args.size() < 3) return wrong_arity("config|get");
    std::vector<RespValue> out;
    std::set<std::string_view> seen;
    for (std::size_t i = 2; i < c.args.size(); ++i) {
        const std::string& pattern = c.args[i];
        for (const auto& p : detail::config_parameters()) {
            const bool match =
                detail::has_glob(pattern)
                    ? ::fnmatch(pattern.c_str(), std::string(p.name).c_str(), FNM_CASEFOLD) == 0
                    : gossipcluster::equals_ignore_case(pattern, p.name);
            if (!match || !seen.insert(p.name).second) continue;
            out.push_back(
                RespValue::bulk(detail::has_glob(pattern) ? std::string(p.name) : pattern));
            out.push_back(RespValue::bulk(p.value(c.server)));
        }
    }
    return RespValue::array(std::move(out));
}

inline RespValue cmd_cluster(CommandContext& c) {
    if (!c.server.cluster)
        return RespValue::error("ERR This instance has cluster support disabled");
    std::vector<std::string_view> words(c.args.begin() + 1, c.args.end());
    return c.server.cluster->command(words);
}

}  // namespace kvserver
