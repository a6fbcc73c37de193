// Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB, and their rules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "cluster_node.hpp"
#include "cluster_routing.hpp"
#include "command_context.hpp"
#include "gossipcluster/commands/command_error_text.hpp"
#include "gossipcluster/keyslot.hpp"
#include "pubsub.hpp"

namespace kvserver {

namespace detail {

inline RespValue pubsub_unavailable() {
    return RespValue::error("ERR Pub/Sub is not available on this server");
}

// One command, several replies: all but the last go out at once on the client's connection, the
// last is the command's own reply, so they reach the client in order.
inline RespValue several_replies(CommandContext& c, std::vector<RespValue> replies) {
    if (replies.empty()) return RespValue::array();
    if (auto link = c.client.link.lock()) {
        std::string bytes;
        for (std::size_t i = 0; i + 1 < replies.size(); ++i)
            gossipcluster::write_resp2(replies[i], bytes);
        if (!bytes.empty()) link->send_raw(bytes);
    }
    return std::move(replies.back());
}

enum class SubKind { kChannel, kPattern, kShard };

inline std::string_view unsubscribe_word(SubKind kind) {
    return kind == SubKind::kChannel   ? "unsubscribe"
           : kind == SubKind::kPattern ? "punsubscribe"
                                       : "sunsubscribe";
}

inline RespValue subscribe_to(CommandContext& c, SubKind kind) {
    PubSub* ps = c.server.pubsub;
    if (!ps) return pubsub_unavailable();
    static constexpr std::string_view kWords[] = {"subscribe", "psubscribe", "ssubscribe"};
    std::vector<RespValue> replies;
    for (std::size_t i = 1; i < c.args.size(); ++i) {
        const std::size_t count = kind == SubKind::kChannel   ? ps->subscribe(c.client, c.args[i])
                                  : kind == SubKind::kPattern ? ps->psubscribe(c.client, c.args[i])
                                                              : ps->ssubscribe(c.client, c.args[i]);
        replies.push_back(PubSub::count_reply(kWords[static_cast<int>(kind)],
                                              std::string_view(c.args[i]), count));
    }
    return several_replies(c, std::move(replies));
}

inline RespValue unsubscribe_from(CommandContext& c, SubKind kind) {
    PubSub* ps = c.server.pubsub;
    if (!ps) return pubsub_unavailable();
    const std::uint64_t id = c.client.id;
    std::vector<std::string> names(c.args.begin() + 1, c.args.end());
    if (names.empty()) {
        names = kind == SubKind::kChannel   ? ps->channels_of(id)
                : kind == SubKind::kPattern ? ps->patterns_of(id)
                                            : ps->shard_channels_of(id);
        if (names.empty()) return PubSub::count_reply(unsubscribe_word(kind), std::nullopt, 0);
    }
    std::vector<RespValue> replies;
    for (const auto& name : names) {
        const std::size_t left = kind == SubKind::kChannel   ? ps->unsubscribe(id, name)
                                 : kind == SubKind::kPattern ? ps->punsubscribe(id, name)
                                                             : ps->sunsubscribe(id, name);
        replies.push_back(
            PubSub::count_reply(unsubscribe_word(kind), std::string_view(name), left));
    }
    return several_replies(c, std::move(replies));
}

// The bus refuses messages over its size limit; Redis has none, so the client hears why.
inline std::optional<RespValue> publish_to_cluster(CommandContext& c, bool shard) {
    if (!c.server.cluster) return std::nullopt;
    auto result = c.server.cluster->core().publish(c.args[1], c.args[2], shard);
    if (!result.ok) return RespValue::error(gossipcluster::error_text(result));
    return std::nullopt;
}

}  // namespace detail

inline RespValue cmd_subscribe(CommandContext& c) {
    return detail::subscribe_to(c, detail::SubKind::kChannel);
}
inline RespValue cmd_psubscribe(CommandContext& c) {
    return detail::subscribe_to(c, detail::SubKind::kPattern);
}
inline RespValue cmd_ssubscribe(CommandContext& c) {
    return detail::subscribe_to(c, detail::SubKind::kShard);
}
inline RespValue cmd_unsubscribe(CommandContext& c) {
    return detail::unsubscribe_from(c, detail::SubKind::kChannel);
}
inline RespValue cmd_punsubscribe(CommandContext& c) {
    return detail::unsubscribe_from(c, detail::SubKind::kPattern);
}
inline RespValue cmd_sunsubscribe(CommandContext& c) {
    return detail::unsubscribe_from(c, detail::SubKind::kShard);
}

// PUBLISH answers the subscribers reached on this node; in a cluster every other node gets the
// message over the bus for its own subscribers.
inline RespValue cmd_publish(CommandContext& c) {
    if (!c.server.pubsub) return detail::pubsub_unavailable();
    if (auto error = detail::publish_to_cluster(c, false)) return *error;
    return RespValue::number(
        static_cast<std::int64_t>(c.server.pubsub->publish(c.args[1], c.args[2])));
}

// SPUBLISH reaches the nodes of this shard only (routing has checked that the shard serves the
// channel's slot).
inline RespValue cmd_spublish(CommandContext& c) {
    if (!c.server.pubsub) return detail::pubsub_unavailable();
    if (auto error = detail::publish_to_cluster(c, true)) return *error;
    return RespValue::number(
        static_cast<std::int64_t>(c.server.pubsub->publish_shard(c.args[1], c.args[2])));
}

// PUBSUB CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB|HELP
inline RespValue cmd_pubsub(CommandContext& c) {
    PubSub* ps = c.server.pubsub;
    if (!ps) return detail::pubsub_unavailable();
    const std::string sub = gossipcluster::to_lower_ascii(c.args[1]);
    const std::size_t n = c.args.size();
    auto list = [&](bool shard) {
        if (n > 3)
            return RespValue::error(fmt::format(
                "ERR unknown subcommand or wrong number of arguments for '{:.128}'. Try PUBSUB "
                "HELP.",
                c.args[1]));
        std::optional<std::string_view> pattern;
        if (n == 3) pattern = c.args[2];
        std::vector<RespValue> out;
        for (auto& name : ps->active_channels(pattern, shard))
            out.push_back(RespValue::bulk(std::move(name)));
        return RespValue::array(std::move(out));
    };
    auto numsub = [&](bool shard) {
        std::vector<RespValue> out;
        for (std::size_t i = 2; i < n; ++i) {
            out.push_back(RespValue::bulk(c.args[i]));
            out.push_back(RespValue::number(
                static_cast<std::int64_t>(ps->subscriber_count(c.args[i], shard))));
        }
        return RespValue::array(std::move(out));
    };
    if (sub == "channels") return list(false);
    if (sub == "shardchannels") return list(true);
    if (sub == "numsub") return numsub(false);
    if (sub == "shardnumsub") return numsub(true);
    if (sub == "numpat") {
        if (n != 2) return wrong_arity("pubsub|numpat");
        return RespValue::number(static_cast<std::int64_t>(ps->pattern_count()));
    }
    if (sub == "help") {
        if (n != 2) return wrong_arity("pubsub|help");
        return help_lines({
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: "
            "'*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
            "HELP",
            "    Prints this help.",
        });
    }
    return unknown_subcommand(c.args[1], "PUBSUB");
}

// Shard channel routing, Redis's rules for them: one slot per command (CROSSSLOT), served by
// this node's shard (its master or itself; a replica serves its master's slots without
// READONLY), otherwise MOVED. Channels are not keys: a migrating slot is served here whatever the
// keyspace holds, an importing one only after ASKING; a failed cluster still serves them.
inline std::optional<RespValue> route_shard_channels(
    ServerContext& server, ClientInfo& client, const std::vector<std::string_view>& channels) {
    if (!server.cluster || channels.empty()) return std::nullopt;
    const auto& state = server.cluster->state();
    const std::uint16_t slot = gossipcluster::key_hash_slot(channels.front());
    for (std::size_t i = 1; i < channels.size(); ++i)
        if (gossipcluster::key_hash_slot(channels[i]) != slot)
            return RespValue::error("CROSSSLOT Keys in request don't hash to the same slot");
    const std::optional<gossipcluster::NodeView> owner = state.slot_owner(slot);
    if (!owner) return RespValue::error("CLUSTERDOWN Hash slot not served");
    const gossipcluster::NodeView me = state.myself();
    if (*owner == me) return std::nullopt;
    if (client.asking && state.importing().contains(slot)) return std::nullopt;
    if (me.is_replica() && me.master() && *me.master() == owner->id()) return std::nullopt;
    return RespValue::error(fmt::format("MOVED {} {}", slot, client_endpoint(*owner, client)));
}

// True when this node's shard serves `slot` (shard channels of other slots are dropped).
inline bool shard_serves(const ClusterNode& cluster, std::uint16_t slot) {
    const auto& state = cluster.state();
    const std::optional<gossipcluster::NodeView> owner = state.slot_owner(slot);
    if (!owner) return false;
    const gossipcluster::NodeView me = state.myself();
    return *owner == me || (me.is_replica() && me.master() && *me.master() == owner->id());
}

// Shard channels of slots this shard no longer serves are dropped, their subscribers told.
inline void drop_unserved_shard_channels(ServerContext& server) {
    if (!server.cluster || !server.pubsub) return;
    ClusterNode& cluster = *server.cluster;
    server.pubsub->drop_shard_channels(
        [&cluster](std::uint16_t slot) { return shard_serves(cluster, slot); });
}

// In RESP2 a subscribed client may only (un)subscribe, PING and QUIT: the error Redis gives for
// anything else, nullopt when the command may run. A subscribed PING gets ["pong", message].
inline std::optional<RespValue> pubsub_mode_check(ServerContext& server, const ClientInfo& client,
                                                  std::string_view name,
                                                  const std::vector<std::string>& args) {
    if (!server.pubsub || !server.pubsub->in_subscribe_mode(client.id)) return std::nullopt;
    static constexpr std::string_view kAllowed[] = {"subscribe",   "psubscribe",   "ssubscribe",
                                                    "unsubscribe", "punsubscribe", "sunsubscribe",
                                                    "quit",        "reset"};
    for (auto allowed : kAllowed)
        if (name == allowed) return std::nullopt;
    if (name == "ping" && args.size() <= 2)
        return RespValue::array(
            {RespValue::bulk("pong"), RespValue::bulk(args.size() == 2 ? args[1] : std::string())});
    if (name == "ping") return std::nullopt;
    return RespValue::error(fmt::format(
        "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "
        "allowed in this context",
        client.last_command));
}

// Connects Pub/Sub to the cluster: messages published on other nodes reach the subscribers
// here, and shard channels of slots this shard no longer serves are dropped.
inline void connect_cluster_pubsub(PubSub& pubsub, ClusterNode& cluster) {
    cluster.add_event_listener([&pubsub, &cluster](const gossipcluster::Event& e) {
        namespace ev = gossipcluster::event;
        if (const auto* m = std::get_if<ev::PublishReceived>(&e)) {
            if (m->shard)
                pubsub.publish_shard(m->channel, m->message);
            else
                pubsub.publish(m->channel, m->message);
        } else if (std::holds_alternative<ev::SlotsChanged>(e) ||
                   std::holds_alternative<ev::RoleChanged>(e)) {
            pubsub.drop_shard_channels(
                [&cluster](std::uint16_t slot) { return shard_serves(cluster, slot); });
        }
    });
}

}  // namespace kvserver
