// The CLUSTER command of a host server: argument checks, dispatch to a core, replies as RespValue.
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "gossipcluster/cluster_state.hpp"
#include "gossipcluster/commands/arguments.hpp"
#include "gossipcluster/commands/cluster_replies.hpp"
#include "gossipcluster/commands/cluster_slot_commands.hpp"
#include "gossipcluster/commands/cluster_topology_replies.hpp"
#include "gossipcluster/commands/command_error_text.hpp"
#include "gossipcluster/commands/resp_value.hpp"
#include "gossipcluster/detail/address.hpp"
#include "gossipcluster/keyslot.hpp"

namespace gossipcluster {

// What cluster_command needs from the node: ClusterCore's operator commands.
template <typename C>
concept ClusterCommandTarget = requires(C& c, std::string_view text, std::uint16_t port,
                                        const std::vector<std::uint16_t>& slots, bool flag,
                                        const NodeId& id) {
    { std::as_const(c).state() } -> std::convertible_to<const ClusterState&>;
    { c.now() } -> std::same_as<Now>;
    { c.meet(text, port, port) } -> std::same_as<CommandResult>;
    { c.forget(text) } -> std::same_as<CommandResult>;
    { c.add_slots(slots) } -> std::same_as<CommandResult>;
    { c.del_slots(slots) } -> std::same_as<CommandResult>;
    { c.flush_slots() } -> std::same_as<CommandResult>;
    { c.set_slot(port, SetSlotMode::Stable, text, std::size_t{0}) } -> std::same_as<CommandResult>;
    { c.set_config_epoch(std::int64_t{0}) } -> std::same_as<CommandResult>;
    { c.bump_epoch(flag) } -> std::same_as<CommandResult>;
    { c.failover(ClusterState::FailoverMode::Default) } -> std::same_as<CommandResult>;
    { c.replicate(text, flag) } -> std::same_as<CommandResult>;
    { c.reset(flag) } -> std::same_as<CommandResult>;
    { c.failure_report_count(id) } -> std::same_as<std::size_t>;
};

struct ClusterSubcommand {
    std::string_view name;  // lower case
    // Redis's arity convention over the whole command line, "CLUSTER" included: N means exactly
    // N words, -N at least N.
    int arity;
    std::string_view synopsis;
    std::string_view summary;
};

inline constexpr std::array<ClusterSubcommand, 25> kClusterSubcommands{{
    {"addslots", -3, "ADDSLOTS <slot> [<slot> ...]", "Assign slots to this node."},
    {"addslotsrange", -4, "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
     "Assign slot ranges to this node."},
    {"bumpepoch", 2, "BUMPEPOCH", "Advance this node's config epoch if it is not already unique."},
    {"count-failure-reports", 3, "COUNT-FAILURE-REPORTS <node-id>",
     "Number of live failure reports this node holds about <node-id>."},
    {"countkeysinslot", 3, "COUNTKEYSINSLOT <slot>", "Number of keys this node holds in <slot>."},
    {"delslots", -3, "DELSLOTS <slot> [<slot> ...]", "Unassign slots from this node."},
    {"delslotsrange", -4, "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
     "Unassign slot ranges from this node."},
    {"failover", -2, "FAILOVER [FORCE|TAKEOVER]",
     "On a replica: take over from its master, with its agreement unless FORCE or TAKEOVER."},
    {"flushslots", 2, "FLUSHSLOTS",
     "Unassign every slot of this node (its keyspace must be empty)."},
    {"forget", 3, "FORGET <node-id>",
     "Remove a node from this node's table and refuse to re-add it for 60 seconds."},
    {"getkeysinslot", 4, "GETKEYSINSLOT <slot> <count>", "Up to <count> key names in <slot>."},
    {"help", 2, "HELP", "Print this help."},
    {"info", 2, "INFO", "Cluster state, sizes, epochs and bus message counters."},
    {"keyslot", 3, "KEYSLOT <key>", "The hash slot of <key>."},
    {"meet", -4, "MEET <ip> <port> [<bus-port>]",
     "Start a handshake with the node at <ip>:<port> (bus port <port>+10000 unless given)."},
    {"myid", 2, "MYID", "This node's id."},
    {"nodes", 2, "NODES",
     "Every known node, one line each: <id> <ip:port@cport> <flags> <master> <ping-sent> "
     "<pong-received> <epoch> <link-state> <slot> ..."},
    {"replicas", 3, "REPLICAS <node-id>", "The CLUSTER NODES lines of the replicas of <node-id>."},
    {"replicate", 3, "REPLICATE <node-id>", "Make this node a replica of the master <node-id>."},
    {"reset", -2, "RESET [HARD|SOFT]",
     "Forget every other node and every slot and become an empty master (default: soft); HARD "
     "also takes a new node id and sets the epochs to 0."},
    {"set-config-epoch", 3, "SET-CONFIG-EPOCH <epoch>",
     "Set this node's config epoch (only while it knows no other node)."},
    {"setslot", -4,
     "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
     "Open a slot for migration, close it, or hand it to a node."},
    {"shards", 2, "SHARDS", "Every shard: its slot ranges and its nodes."},
    {"slaves", 3, "SLAVES <node-id>", "Same as REPLICAS."},
    {"slots", 2, "SLOTS", "Slot ranges with their master and replica addresses."},
}};

inline const ClusterSubcommand* find_cluster_subcommand(std::string_view name) {
    auto it =
        std::find_if(kClusterSubcommands.begin(), kClusterSubcommands.end(),
                     [&](const ClusterSubcommand& s) { return equals_ignore_case(s.name, name); });
    return it == kClusterSubcommands.end() ? nullptr : &*it;
}

// CLUSTER HELP: simple-string lines, a synopsis then its indented summary for each subcommand.
inline RespValue cluster_help_reply() {
    std::vector<RespValue> lines;
    lines.push_back(
        RespValue::simple("CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
    for (const auto& s : kClusterSubcommands) {
        lines.push_back(RespValue::simple(std::string(s.synopsis)));
        lines.push_back(RespValue::simple(fmt::format("    {}", s.summary)));
    }
    return RespValue::array(std::move(lines));
}

namespace detail {

inline RespValue wrong_arity(std::string_view subcommand) {
    return RespValue::error(fmt::format("ERR wrong number of arguments for 'cluster|{}' command",
                                        to_lower_ascii(subcommand)));
}

inline bool arity_ok(int arity, std::size_t words) {
    return arity >= 0 ? words == static_cast<std::size_t>(arity)
                      : words >= static_cast<std::size_t>(-arity);
}

// MEET <ip> <port> [<bus-port>]: ports are parsed as Redis integers first (their own error),
// then checked for range together with the address (the address error).
template <typename Core>
RespValue cluster_meet(Core& core, std::span<const std::string_view> args) {
    if (args.size() > 4)
        return RespValue::error(fmt::format(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLUSTER HELP.",
            args[0]));
    const std::string_view ip = args[1];
    auto port = parse_int64_strict(args[2]);
    if (!port)
        return RespValue::error(fmt::format("ERR Invalid TCP base port specified: {}", args[2]));
    auto in_range = [](std::int64_t p) { return p > 0 && p <= 65535; };
    // Checked before the addition, which could otherwise overflow for a huge port.
    std::optional<std::int64_t> cport = in_range(*port) ? *port + kBusPortIncrement : 0;
    if (args.size() == 4) {
        cport = parse_int64_strict(args[3]);
        if (!cport)
            return RespValue::error(fmt::format("ERR Invalid TCP bus port specified: {}", args[3]));
    }
    if (!in_range(*port) || !in_range(*cport))
        return RespValue::error(
            fmt::format("ERR Invalid node address specified: {}:{}", ip, *port));
    const auto p = static_cast<std::uint16_t>(*port);
    const auto c = static_cast<std::uint16_t>(*cport);
    // Redis answers OK to a repeated MEET while the first handshake is still running.
    if (auto norm = normalize_ip(ip)) {
        bool pending = false;
        core.state().for_each_node([&](NodeView n) {
            pending =
                pending || (n.in_handshake() && n.ip() == *norm && n.port() == p && n.cport() == c);
        });
        if (pending) return RespValue::ok();
    }
    CommandResult result = core.meet(ip, p, c);
    return result.ok ? RespValue::ok() : RespValue::error(error_text(result));
}

}  // namespace detail

// Runs `CLUSTER <args...>`; args[0] is the subcommand, in any case. Every reply and error text is
// Redis 7.0's for the same input.
template <ClusterCommandTarget Core>
RespValue cluster_command(Core& core, std::span<const std::string_view> args,
                          const ClusterInfoExtras& extras = {}, const ClusterHostKeys& keys = {}) {
    if (args.empty())
        return RespValue::error("ERR wrong number of arguments for 'cluster' command");
    const ClusterSubcommand* sub = find_cluster_subcommand(args[0]);
    if (!sub)
        return RespValue::error(
            fmt::format("ERR unknown subcommand '{:.128}'. Try CLUSTER HELP.", args[0]));
    if (!detail::arity_ok(sub->arity, args.size() + 1)) return detail::wrong_arity(sub->name);

    const ClusterState& state = core.state();
    const std::string_view name = sub->name;
    if (name == "meet") return detail::cluster_meet(core, args);
    if (name == "nodes")
        return RespValue::bulk(cluster_nodes_text(state, core.now(), extras.show_pport()));
    if (name == "info") return RespValue::bulk(cluster_info_text(state, extras));
    if (name == "myid") return RespValue::bulk(cluster_myid(state));
    if (name == "help") return cluster_help_reply();
    if (name == "keyslot") return RespValue::number(key_hash_slot(args[1]));
    if (name == "forget") {
        CommandResult result = core.forget(args[1]);
        return result.ok ? RespValue::ok() : RespValue::error(error_text(result));
    }
    if (name == "slots") return cluster_slots_reply(state, extras.show_pport());
    if (name == "shards") return cluster_shards_reply(state, extras.tls_cluster);
    if (name == "replicas" || name == "slaves") {
        auto master = NodeId::parse(args[1]);
        const std::optional<NodeView> n = master ? state.find(*master) : std::nullopt;
        if (!n || n->in_handshake())
            return RespValue::error(fmt::format("ERR Unknown node {}", args[1]));
        if (n->is_replica()) return RespValue::error("ERR The specified node is not a master");
        return cluster_replicas_reply(state, core.now(), *master, extras.show_pport());
    }
    if (auto reply = detail::cluster_slot_subcommand(core, name, args, keys)) return *reply;
    // count-failure-reports: counting also drops the reports that expired, as Redis does.
    auto id = NodeId::parse(args[1]);
    if (!id || !state.find(*id))
        return RespValue::error(fmt::format("ERR Unknown node {}", args[1]));
    const std::size_t reports = core.failure_report_count(*id);
    return RespValue::number(static_cast<std::int64_t>(reports));
}

}  // namespace gossipcluster
