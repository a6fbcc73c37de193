// Cluster routing of key commands as Redis does it: CROSSSLOT, MOVED, ASK, TRYAGAIN, CLUSTERDOWN.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "cluster_node.hpp"
#include "gossipcluster/commands/resp_value.hpp"
#include "gossipcluster/keyslot.hpp"
#include "server_context.hpp"

namespace kvserver {

// The ip part of an "ip:port" or "[ip]:port" text.
inline std::string_view address_ip(std::string_view addr) {
    const auto colon = addr.rfind(':');
    std::string_view ip = colon == std::string_view::npos ? addr : addr.substr(0, colon);
    if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
    return ip;
}

// The port a plaintext client reaches `node` on. In a TLS cluster a node is known by its TLS port
// and carries its plaintext one as pport (0 otherwise); redis-server 7.0 redirects plaintext
// clients there, and this server's clients are all plaintext.
inline std::uint16_t plaintext_port(gossipcluster::NodeView node) {
    return node.pport() != 0 ? node.pport() : node.port();
}

// Where clients reach `node`: its announced address, or, while it does not know its own (a node
// nobody has met yet), the address this client connected to, as Redis answers then.
inline std::string client_endpoint(gossipcluster::NodeView node, const ClientInfo& client) {
    const std::string_view ip = node.ip().empty() ? address_ip(client.laddr) : node.ip();
    return fmt::format("{}:{}", ip, plaintext_port(node));
}

// The keys of a request, by the command table's key positions (first, last, step).
inline std::vector<std::string_view> request_keys(const std::vector<std::string>& args,
                                                  int first_key, int last_key, int step) {
    std::vector<std::string_view> keys;
    if (first_key <= 0 || step <= 0) return keys;
    const std::size_t n = args.size();
    const std::size_t last = last_key >= 0 ? static_cast<std::size_t>(last_key)
                                           : n - static_cast<std::size_t>(-last_key);
    for (std::size_t i = static_cast<std::size_t>(first_key); i <= last && i < n;
         i += static_cast<std::size_t>(step))
        keys.push_back(args[i]);
    return keys;
}

// nullopt when this node serves the request; otherwise the redirection or error to answer.
// `readonly_command`: the command only reads (a READONLY replica may serve it).
inline std::optional<gossipcluster::RespValue> route_request(
    ServerContext& server, ClientInfo& client, const std::vector<std::string_view>& keys,
    bool readonly_command) {
    using gossipcluster::RespValue;
    if (!server.cluster || keys.empty()) return std::nullopt;
    const auto& state = server.cluster->state();
    const std::uint16_t slot = gossipcluster::key_hash_slot(keys.front());
    for (std::size_t i = 1; i < keys.size(); ++i)
        if (gossipcluster::key_hash_slot(keys[i]) != slot)
            return RespValue::error("CROSSSLOT Keys in request don't hash to the same slot");
    if (!state.cluster_ok()) return RespValue::error("CLUSTERDOWN The cluster is down");
    const std::optional<gossipcluster::NodeView> owner = state.slot_owner(slot);
    if (!owner) return RespValue::error(fmt::format("CLUSTERDOWN Hash slot not served"));
    const gossipcluster::NodeView me = state.myself();

    const std::int64_t now = ServerContext::now_ms();
    std::size_t missing = 0;
    for (auto k : keys)
        missing += server.keyspace.exists(k, now) ? 0 : 1;

    if (*owner == me) {
        auto migrating = state.migrating().find(slot);
        if (migrating == state.migrating().end() || missing == 0) return std::nullopt;
        if (missing < keys.size())
            return RespValue::error("TRYAGAIN Multiple keys request during rehashing of slot");
        const auto target = state.find(migrating->second);
        if (!target) return std::nullopt;
        return RespValue::error(fmt::format("ASK {} {}", slot, client_endpoint(*target, client)));
    }
    if (client.asking && state.importing().contains(slot)) {
        if (keys.size() > 1 && missing > 0)
            return RespValue::error("TRYAGAIN Multiple keys request during rehashing of slot");
        return std::nullopt;
    }
    if (readonly_command && client.readonly && me.is_replica() && me.master() &&
        *me.master() == owner->id())
        return std::nullopt;
    return RespValue::error(fmt::format("MOVED {} {}", slot, client_endpoint(*owner, client)));
}

}  // namespace kvserver
