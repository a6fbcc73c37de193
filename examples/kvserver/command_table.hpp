// The command table (names, arities, flags, key positions, handlers), COMMAND, and dispatch.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "cluster_routing.hpp"
#include "command_context.hpp"
#include "commands_cluster.hpp"
#include "commands_dump.hpp"
#include "commands_pubsub.hpp"
#include "commands_server.hpp"
#include "commands_strings.hpp"
#include "gossipcluster/commands/arguments.hpp"
#include "migrate.hpp"

namespace kvserver {

// Arity is Redis's: N means exactly N words including the name, -N at least N. Key positions
// (first, last, step; last -1 meaning the final word) are what COMMAND reports, so cluster
// clients such as redis-py can find a command's keys without asking.
struct CommandSpec {
    std::string_view name;
    int arity;
    std::vector<std::string_view> flags;
    int first_key;
    int last_key;
    int key_step;
    CommandHandler handler;
};

inline RespValue cmd_command(CommandContext& c);

inline const std::vector<CommandSpec>& command_table() {
    static const std::vector<CommandSpec> table{
        {"get", 2, {"readonly", "fast"}, 1, 1, 1, cmd_get},
        {"set", -3, {"write", "denyoom"}, 1, 1, 1, cmd_set},
        {"del", -2, {"write"}, 1, -1, 1, cmd_del},
        {"exists", -2, {"readonly", "fast"}, 1, -1, 1, cmd_exists},
        {"incr", 2, {"write", "denyoom", "fast"}, 1, 1, 1, cmd_incr},
        {"incrby", 3, {"write", "denyoom", "fast"}, 1, 1, 1, cmd_incrby},
        {"decr", 2, {"write", "denyoom", "fast"}, 1, 1, 1, cmd_decr},
        {"decrby", 3, {"write", "denyoom", "fast"}, 1, 1, 1, cmd_decrby},
        {"mget", -2, {"readonly", "fast"}, 1, -1, 1, cmd_mget},
        {"mset", -3, {"write", "denyoom"}, 1, -1, 2, cmd_mset},
        {"ping", -1, {"fast"}, 0, 0, 0, cmd_ping},
        {"echo", 2, {"fast"}, 0, 0, 0, cmd_echo},
        {"quit", -1, {"noscript", "loading", "stale", "fast", "no_auth"}, 0, 0, 0, cmd_quit},
        {"auth", -2, {"noscript", "loading", "stale", "fast", "no_auth"}, 0, 0, 0, cmd_auth},
        {"select", 2, {"loading", "stale", "fast"}, 0, 0, 0, cmd_select},
        {"dbsize", 1, {"readonly", "fast"}, 0, 0, 0, cmd_dbsize},
        {"info", -1, {"loading", "stale"}, 0, 0, 0, cmd_info},
        {"client", -2, {}, 0, 0, 0, cmd_client},
        {"command", -1, {"loading", "stale"}, 0, 0, 0, cmd_command},
        {"config", -2, {}, 0, 0, 0, cmd_config},
        {"cluster", -2, {}, 0, 0, 0, cmd_cluster},
        {"asking", 1, {"fast"}, 0, 0, 0, cmd_asking},
        {"readonly", 1, {"loading", "stale", "fast"}, 0, 0, 0, cmd_readonly},
        {"readwrite", 1, {"loading", "stale", "fast"}, 0, 0, 0, cmd_readwrite},
        // Its keys are found by the command itself (KEYS form), never routed.
        {"migrate", -6, {"write", "movablekeys"}, 0, 0, 0, cmd_migrate},
        {"dump", 2, {"readonly", "random"}, 1, 1, 1, cmd_dump},
        {"restore", -4, {"write", "denyoom"}, 1, 1, 1, cmd_restore},
        // MIGRATE's form: counts as ASKING + RESTORE for routing.
        {"restore-asking", -4, {"write", "denyoom", "asking"}, 1, 1, 1, cmd_restore},
        // Shard channels are routed like keys, by the routing Redis gives channels.
        {"subscribe", -2, {"pubsub", "noscript", "loading", "stale"}, 0, 0, 0, cmd_subscribe},
        {"unsubscribe", -1, {"pubsub", "noscript", "loading", "stale"}, 0, 0, 0, cmd_unsubscribe},
        {"psubscribe", -2, {"pubsub", "noscript", "loading", "stale"}, 0, 0, 0, cmd_psubscribe},
        {"punsubscribe", -1, {"pubsub", "noscript", "loading", "stale"}, 0, 0, 0, cmd_punsubscribe},
        {"ssubscribe", -2, {"pubsub", "noscript", "loading", "stale"}, 1, -1, 1, cmd_ssubscribe},
        {"sunsubscribe",
         -1,
         {"pubsub", "noscript", "loading", "stale"},
         1,
         -1,
         1,
         cmd_sunsubscribe},
        {"publish",
         3,
         {"pubsub", "loading", "stale", "fast", "may_replicate"},
         0,
         0,
         0,
         cmd_publish},
        {"spublish",
         3,
         {"pubsub", "loading", "stale", "fast", "may_replicate"},
         1,
         1,
         1,
         cmd_spublish},
        {"pubsub", -2, {}, 0, 0, 0, cmd_pubsub},
    };
    return table;
}

inline const CommandSpec* find_command(std::string_view name) {
    const auto& table = command_table();
    auto it = std::find_if(table.begin(), table.end(), [&](const CommandSpec& s) {
        return gossipcluster::equals_ignore_case(s.name, name);
    });
    return it == table.end() ? nullptr : &*it;
}

inline bool arity_ok(int arity, std::size_t words) {
    return arity >= 0 ? words == static_cast<std::size_t>(arity)
                      : words >= static_cast<std::size_t>(-arity);
}

namespace detail {

// COMMAND's descriptor: [name, arity, [flags...], first key, last key, step].
inline RespValue describe_command(const CommandSpec& spec) {
    std::vector<RespValue> flags;
    for (auto f : spec.flags)
        flags.push_back(RespValue::simple(std::string(f)));
    return RespValue::array({RespValue::bulk(std::string(spec.name)), RespValue::number(spec.arity),
                             RespValue::array(std::move(flags)), RespValue::number(spec.first_key),
                             RespValue::number(spec.last_key), RespValue::number(spec.key_step)});
}

// COMMAND GETKEYS <command> <args...>
inline RespValue command_getkeys(const std::vector<std::string>& args) {
    const CommandSpec* spec = find_command(args[2]);
    if (!spec) return RespValue::error("ERR Invalid command specified");
    if (spec->first_key == 0) return RespValue::error("ERR The command has no key arguments");
    const std::size_t words = args.size() - 2;
    if (!arity_ok(spec->arity, words))
        return RespValue::error("ERR Invalid number of arguments specified for command");
    const auto last = spec->last_key >= 0 ? static_cast<std::size_t>(spec->last_key)
                                          : words - static_cast<std::size_t>(-spec->last_key);
    std::vector<RespValue> keys;
    for (std::size_t i = static_cast<std::size_t>(spec->first_key); i <= last && i < words;
         i += static_cast<std::size_t>(spec->key_step))
        keys.push_back(RespValue::bulk(args[2 + i]));
    return RespValue::array(std::move(keys));
}

}  // namespace detail

// COMMAND [COUNT | INFO name... | LIST | GETKEYS command args... | DOCS | HELP]
inline RespValue cmd_command(CommandContext& c) {
    const auto& table = command_table();
    if (c.args.size() == 1) {
        std::vector<RespValue> all;
        for (const auto& spec : table)
            all.push_back(detail::describe_command(spec));
        return RespValue::array(std::move(all));
    }
    const std::string sub = gossipcluster::to_lower_ascii(c.args[1]);
    const std::size_t n = c.args.size();
    if (sub == "count") {
        if (n != 2) return wrong_arity("command|count");
        return RespValue::number(static_cast<std::int64_t>(table.size()));
    }
    if (sub == "list") {
        std::vector<RespValue> names;
        for (const auto& spec : table)
            names.push_back(RespValue::bulk(std::string(spec.name)));
        return RespValue::array(std::move(names));
    }
    if (sub == "info") {
        std::vector<RespValue> out;
        for (std::size_t i = 2; i < n; ++i) {
            const CommandSpec* spec = find_command(c.args[i]);
            out.push_back(spec ? detail::describe_command(*spec) : RespValue::null());
        }
        return RespValue::array(std::move(out));
    }
    if (sub == "getkeys") {
        if (n < 4) return wrong_arity("command|getkeys");
        return detail::command_getkeys(c.args);
    }
    // No documentation is served; an empty map lets interactive redis-cli start without hints.
    if (sub == "docs") return RespValue::array();
    if (sub == "help") {
        if (n != 2) return wrong_arity("command|help");
        return help_lines(
            {"COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "(no subcommand)",
             "    Return details about all commands.", "COUNT",
             "    Return the total number of commands in this server.", "GETKEYS <full-command>",
             "    Return the keys from a full command.", "INFO [<command-name> ...]",
             "    Return details about the named commands.", "LIST",
             "    Return the names of all commands.", "HELP", "    Print this help."});
    }
    return unknown_subcommand(c.args[1], "COMMAND");
}

// Before AUTH (with requirepass set) only commands flagged no_auth run; any other known command,
// and replication's own (GCSYNC, GCACK, WAIT), is refused. An unknown command or a wrong arity
// is reported as such first, as redis-server does.
inline std::optional<RespValue> auth_refusal(const ClientInfo& client,
                                             const std::vector<std::string>& args) {
    if (client.authenticated) return std::nullopt;
    const RespValue noauth = RespValue::error("NOAUTH Authentication required.");
    for (std::string_view replication : {"gcsync", "gcack", "wait"})
        if (gossipcluster::equals_ignore_case(args[0], replication)) return noauth;
    const CommandSpec* spec = find_command(args[0]);
    if (!spec || !arity_ok(spec->arity, args.size())) return std::nullopt;
    if (std::find(spec->flags.begin(), spec->flags.end(), "no_auth") != spec->flags.end())
        return std::nullopt;
    return noauth;
}

// Looks the command up, checks its arity and runs it. Every request gets exactly one reply.
inline RespValue execute(ServerContext& server, ClientInfo& client,
                         const std::vector<std::string>& args) {
    const CommandSpec* spec = find_command(args[0]);
    if (!spec) {
        std::string shown;
        for (std::size_t i = 1; i < args.size() && shown.size() < 128; ++i)
            shown += fmt::format("'{:.{}}' ", args[i], 128 - shown.size());
        return RespValue::error(fmt::format(
            "ERR unknown command '{:.128}', with args beginning with: {}", args[0], shown));
    }
    client.last_command = spec->name;
    // Container commands are named with their subcommand, as CLIENT INFO shows them.
    if ((spec->name == "client" || spec->name == "config" || spec->name == "cluster" ||
         spec->name == "command" || spec->name == "pubsub") &&
        args.size() > 1 && args[1].size() <= 32 &&
        std::all_of(args[1].begin(), args[1].end(), [](char ch) {
            return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-';
        }))
        client.last_command += "|" + gossipcluster::to_lower_ascii(args[1]);
    if (!arity_ok(spec->arity, args.size())) return wrong_arity(spec->name);
    ++server.stats.commands_processed;
    if (server.cluster) {
        const bool reads_only =
            std::find(spec->flags.begin(), spec->flags.end(), "readonly") != spec->flags.end();
        const auto keys = request_keys(args, spec->first_key, spec->last_key, spec->key_step);
        if (std::find(spec->flags.begin(), spec->flags.end(), "asking") != spec->flags.end())
            client.asking = true;
        const bool channels =
            std::find(spec->flags.begin(), spec->flags.end(), "pubsub") != spec->flags.end();
        auto redirect = channels ? route_shard_channels(server, client, keys)
                                 : route_request(server, client, keys, reads_only);
        client.asking = false;  // ASKING covers one command
        if (redirect) return *redirect;
    }
    if (auto refused = pubsub_mode_check(server, client, spec->name, args)) return *refused;
    CommandContext ctx{server, client, args};
    RespValue reply = spec->handler(ctx);
    // CLUSTER DELSLOTS and the like take slots away without any cluster event.
    if (spec->name == "cluster") drop_unserved_shard_channels(server);
    return reply;
}

}  // namespace kvserver
