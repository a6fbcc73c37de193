// The keyspace as the cluster sees it: keys per slot for CLUSTER, and keys of lost slots dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cluster_node.hpp"
#include "gossipcluster/commands/cluster_slot_commands.hpp"
#include "gossipcluster/event.hpp"
#include "gossipcluster/keyslot.hpp"
#include "server_context.hpp"

namespace kvserver {

// The keyspace has no per-slot index: these walk every key. That keeps the store simple; a
// resharding tool asks once or twice per slot it moves, which stays cheap for the key counts
// this server is meant for.
inline std::size_t count_keys_in_slot(ServerContext& server, std::uint16_t slot) {
    std::size_t n = 0;
    server.keyspace.for_each_live(ServerContext::now_ms(),
                                  [&](std::string_view key, const std::string&, std::int64_t) {
                                      if (gossipcluster::key_hash_slot(key) == slot) ++n;
                                  });
    return n;
}

inline std::vector<std::string> keys_in_slot(ServerContext& server, std::uint16_t slot,
                                             std::size_t limit) {
    std::vector<std::string> out;
    server.keyspace.for_each_live(
        ServerContext::now_ms(), [&](std::string_view key, const std::string&, std::int64_t) {
            if (out.size() < limit && gossipcluster::key_hash_slot(key) == slot)
                out.emplace_back(key);
        });
    return out;
}

// Deletes every key in `slots` (slots another master took from us); returns how many.
inline std::size_t drop_keys_in_slots(ServerContext& server,
                                      const std::vector<std::uint16_t>& slots) {
    std::vector<bool> lost(gossipcluster::kSlotCount, false);
    for (auto s : slots)
        if (s < gossipcluster::kSlotCount) lost[s] = true;
    const std::int64_t now = ServerContext::now_ms();
    std::vector<std::string> doomed;
    server.keyspace.for_each_live(now, [&](std::string_view key, const std::string&, std::int64_t) {
        if (lost[gossipcluster::key_hash_slot(key)]) doomed.emplace_back(key);
    });
    for (const auto& key : doomed)
        server.keyspace.erase(key, now);
    return doomed.size();
}

// A replica reset to a master drops its copy of the old master's keys: now, and once more after
// the posted role change has closed the replication link, since a chunk of the stream read
// before that would otherwise be applied to the new, empty master.
inline void flush_replica_keys(ServerContext& server, ClusterNode& cluster) {
    const std::size_t dropped = server.keyspace.size();
    server.keyspace.clear();
    server.log.notice("Deleted {} keys of the former master (CLUSTER RESET)", dropped);
    asio::post(cluster.core().transport().get_executor(), [&server] { server.keyspace.clear(); });
}

// Wires the keyspace into the cluster node: key counts for CLUSTER, and keys dropped when
// their slots go to another master.
inline void connect_cluster_keyspace(ServerContext& server, ClusterNode& cluster) {
    gossipcluster::ClusterHostKeys keys;
    keys.total = [&server] { return server.keyspace.size(); };
    keys.count_in_slot = [&server](std::uint16_t slot) { return count_keys_in_slot(server, slot); };
    keys.keys_in_slot = [&server](std::uint16_t slot, std::size_t limit) {
        return keys_in_slot(server, slot, limit);
    };
    keys.flush = [&server, &cluster] { flush_replica_keys(server, cluster); };
    cluster.set_host_keys(std::move(keys));
    cluster.add_event_listener([&server](const gossipcluster::Event& e) {
        const auto* changed = std::get_if<gossipcluster::event::SlotsChanged>(&e);
        if (!changed || changed->lost_by_me.empty()) return;
        const std::size_t dropped = drop_keys_in_slots(server, changed->lost_by_me);
        if (dropped > 0)
            server.log.notice("Deleted {} keys of {} slots now served by {}", dropped,
                              changed->lost_by_me.size(), changed->owner.view());
    });
}

}  // namespace kvserver
