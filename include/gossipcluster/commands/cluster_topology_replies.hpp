// CLUSTER SLOTS, CLUSTER SHARDS and CLUSTER REPLICAS replies rendered from a ClusterState.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gossipcluster/cluster_state.hpp"
#include "gossipcluster/commands/resp_value.hpp"
#include "gossipcluster/node_view.hpp"
#include "gossipcluster/storage/nodes_conf.hpp"

namespace gossipcluster {

namespace detail {

// The client port shown for `n`: its plaintext port (pport) when the asking client of a TLS
// cluster came in on the plaintext port and the node has one, as Redis 7.0 shows it.
inline std::uint16_t shown_port(NodeView n, bool show_pport) {
    return show_pport && n.pport() != 0 ? n.pport() : n.port();
}

// A record as a plaintext client of a TLS cluster sees it.
inline void show_plaintext_port(const ClusterState& state, NodeRecord& record) {
    if (const auto n = state.find(record.id)) record.port = shown_port(*n, true);
}

// Contiguous runs [first, last] of the slots set in `slots`, in slot order.
inline std::vector<std::pair<std::size_t, std::size_t>> slot_ranges(const SlotBitmap& slots) {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    slots.for_each_range(
        [&](std::size_t first, std::size_t last) { out.emplace_back(first, last); });
    return out;
}

// A node as CLUSTER SLOTS lists it: [ip, port, id, metadata], the metadata naming the announced
// hostname when there is one.
inline RespValue slots_node_entry(NodeView n, bool show_pport) {
    std::vector<RespValue> metadata;
    if (!n.hostname().empty()) {
        metadata.push_back(RespValue::bulk("hostname"));
        metadata.push_back(RespValue::bulk(n.hostname()));
    }
    return RespValue::array({RespValue::bulk(n.ip()), RespValue::number(shown_port(n, show_pport)),
                             RespValue::bulk(n.id().str()), RespValue::array(std::move(metadata))});
}

}  // namespace detail

// CLUSTER SLOTS: one entry per contiguous range of one owner, in slot order: [first, last,
// master, replica...]. Like Redis 7.0 it leaves out replicas that are failed or have not
// replicated anything yet (offset 0): clients could not read from them.
inline RespValue cluster_slots_reply(const ClusterState& state, bool show_pport = false) {
    std::vector<RespValue> out;
    for (std::size_t s = 0; s < kSlotCount; ++s) {
        const std::optional<NodeView> owner = state.slot_owner(s);
        if (!owner) continue;
        std::size_t last = s;
        while (last + 1 < kSlotCount && state.slot_owner(last + 1) == owner)
            ++last;
        std::vector<RespValue> entry{RespValue::number(static_cast<std::int64_t>(s)),
                                     RespValue::number(static_cast<std::int64_t>(last)),
                                     detail::slots_node_entry(*owner, show_pport)};
        for (const NodeView r : state.replicas_of(owner->id()))
            if (!r.failing() && r.repl_offset() != 0)
                entry.push_back(detail::slots_node_entry(r, show_pport));
        out.push_back(RespValue::array(std::move(entry)));
        s = last;
    }
    return RespValue::array(std::move(out));
}

namespace detail {

// One node of a CLUSTER SHARDS entry, as a flat RESP2 map. A replica that has not applied
// anything yet (offset 0) reports "loading", as Redis does.
inline RespValue shard_node_map(NodeView n, bool tls_cluster) {
    std::vector<RespValue> m;
    auto field = [&](std::string name, RespValue value) {
        m.push_back(RespValue::bulk(std::move(name)));
        m.push_back(std::move(value));
    };
    field("id", RespValue::bulk(n.id().str()));
    if (!tls_cluster) {
        field("port", RespValue::number(n.port()));
    } else {
        // With TLS on the bus every client sees both ports, whichever port it came in on.
        if (n.pport() != 0) field("port", RespValue::number(n.pport()));
        field("tls-port", RespValue::number(n.port()));
    }
    field("ip", RespValue::bulk(n.ip()));
    field("endpoint", RespValue::bulk(n.ip()));
    if (!n.hostname().empty()) field("hostname", RespValue::bulk(n.hostname()));
    field("role", RespValue::bulk(n.is_replica() ? "replica" : "master"));
    field("replication-offset", RespValue::number(static_cast<std::int64_t>(n.repl_offset())));
    const char* health = n.failing()                              ? "failed"
                         : n.is_replica() && n.repl_offset() == 0 ? "loading"
                                                                  : "online";
    field("health", RespValue::bulk(health));
    return RespValue::array(std::move(m));
}

}  // namespace detail

// CLUSTER SHARDS: one entry per master (in id order), with or without slots: ["slots",
// [first, last, ...], "nodes", [master, replicas...]].
inline RespValue cluster_shards_reply(const ClusterState& state, bool tls_cluster = false) {
    std::vector<RespValue> out;
    state.for_each_node([&](NodeView n) {
        if (!n.is_master() || n.in_handshake()) return;
        std::vector<RespValue> ranges;
        for (auto [first, last] : detail::slot_ranges(state.slots_of(n))) {
            ranges.push_back(RespValue::number(static_cast<std::int64_t>(first)));
            ranges.push_back(RespValue::number(static_cast<std::int64_t>(last)));
        }
        std::vector<RespValue> nodes{detail::shard_node_map(n, tls_cluster)};
        for (const NodeView r : state.replicas_of(n.id()))
            nodes.push_back(detail::shard_node_map(r, tls_cluster));
        out.push_back(
            RespValue::array({RespValue::bulk("slots"), RespValue::array(std::move(ranges)),
                              RespValue::bulk("nodes"), RespValue::array(std::move(nodes))}));
    });
    return RespValue::array(std::move(out));
}

// CLUSTER REPLICAS <master>: the CLUSTER NODES line of each replica, one bulk string each.
inline RespValue cluster_replicas_reply(const ClusterState& state, Now now, const NodeId& master,
                                        bool show_pport = false) {
    std::vector<RespValue> out;
    const NodeLineOptions options{NodeLineTarget::kClusterNodes};
    for (NodeRecord& record : state.node_records(now, false)) {
        if ((record.flags & node_flag::kSlave) == 0 || !record.master || *record.master != master)
            continue;
        if (show_pport) detail::show_plaintext_port(state, record);
        out.push_back(RespValue::bulk(render_node_line(record, options)));
    }
    return RespValue::array(std::move(out));
}

}  // namespace gossipcluster
