// CLUSTER INFO, CLUSTER NODES and CLUSTER MYID texts rendered from a ClusterState, as Redis 7.0.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "gossipcluster/cluster_state.hpp"
#include "gossipcluster/commands/cluster_topology_replies.hpp"
#include "gossipcluster/storage/nodes_conf.hpp"

namespace gossipcluster {

// Names of the message types in CLUSTER INFO's per-type counters, indexed by type number.
inline constexpr std::array<std::string_view, kMessageTypeCount> kClusterInfoMessageNames{
    "ping",     "pong",   "meet",    "fail",   "publish",      "auth-req",
    "auth-ack", "update", "mfstart", "module", "publishshard",
};

// Figures CLUSTER INFO reports that the state machine does not know: the transport's count of
// links closed for exceeding their send buffer limit.
struct ClusterInfoExtras {
    std::uint64_t links_buffer_limit_exceeded = 0;
    // The bus runs TLS, so a node's port is its TLS client port and pport its plaintext one.
    bool tls_cluster = false;
    // The asking client came in on the plaintext port: with tls_cluster, NODES, SLOTS and REPLICAS
    // show it the plaintext ports, as Redis 7.0 does.
    bool plaintext_client = false;
    bool show_pport() const { return tls_cluster && plaintext_client; }
};

// The CLUSTER INFO bulk text: `key:value\r\n` lines in Redis's order. Per-type message counters
// appear only once non-zero, sent types before the sent total, then received likewise.
inline std::string cluster_info_text(const ClusterState& state,
                                     const ClusterInfoExtras& extras = {}) {
    std::size_t assigned = 0, ok = 0, pfail = 0, fail = 0, size = 0;
    state.for_each_node([&](NodeView n) {
        if (n.slot_count() == 0) return;
        if (n.is_master()) ++size;
        assigned += n.slot_count();
        if (n.failing())
            fail += n.slot_count();
        else if (n.timed_out())
            pfail += n.slot_count();
        else
            ok += n.slot_count();
    });
    // A replica reports its master's epoch as its own.
    const NodeView me = state.myself();
    Epoch my_epoch = me.config_epoch();
    if (me.is_replica() && me.master())
        if (const auto m = state.find(*me.master())) my_epoch = m->config_epoch();

    std::string out;
    auto it = std::back_inserter(out);
    fmt::format_to(it, "cluster_state:{}\r\n", state.cluster_ok() ? "ok" : "fail");
    fmt::format_to(it, "cluster_slots_assigned:{}\r\n", assigned);
    fmt::format_to(it, "cluster_slots_ok:{}\r\n", ok);
    fmt::format_to(it, "cluster_slots_pfail:{}\r\n", pfail);
    fmt::format_to(it, "cluster_slots_fail:{}\r\n", fail);
    fmt::format_to(it, "cluster_known_nodes:{}\r\n", state.node_count());
    fmt::format_to(it, "cluster_size:{}\r\n", size);
    fmt::format_to(it, "cluster_current_epoch:{}\r\n", state.current_epoch());
    fmt::format_to(it, "cluster_my_epoch:{}\r\n", my_epoch);

    const MessageCounters& counters = state.counters();
    auto per_type = [&](const auto& counts, std::string_view direction) {
        std::uint64_t total = 0;
        for (std::size_t type = 0; type < counts.size(); ++type) {
            if (counts[type] == 0) continue;
            total += counts[type];
            fmt::format_to(it, "cluster_stats_messages_{}_{}:{}\r\n",
                           kClusterInfoMessageNames[type], direction, counts[type]);
        }
        fmt::format_to(it, "cluster_stats_messages_{}:{}\r\n", direction, total);
    };
    per_type(counters.sent, "sent");
    per_type(counters.received, "received");
    fmt::format_to(it, "total_cluster_links_buffer_limit_exceeded:{}\r\n",
                   extras.links_buffer_limit_exceeded);
    return out;
}

// The CLUSTER NODES bulk text: one line per known node, handshakes included, each ending in '\n'.
inline std::string cluster_nodes_text(const ClusterState& state, Now now, bool show_pport = false) {
    std::string out;
    const NodeLineOptions options{NodeLineTarget::kClusterNodes};
    for (NodeRecord& record : state.node_records(now, true)) {
        if (show_pport) detail::show_plaintext_port(state, record);
        out += render_node_line(record, options);
        out += '\n';
    }
    return out;
}

inline std::string cluster_myid(const ClusterState& state) {
    return state.myself_id().str();
}

}  // namespace gossipcluster
