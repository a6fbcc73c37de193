// What a node keeps across restarts: its node table, currentEpoch and lastVoteEpoch (nodes.conf).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gossipcluster/types.hpp"

namespace gossipcluster {

// An open slot of the local node: MIGRATING to `peer` or IMPORTING from `peer`.
struct OpenSlot {
    std::uint16_t slot = 0;
    NodeId peer;
    friend bool operator==(const OpenSlot&, const OpenSlot&) = default;
};

// One line of nodes.conf / CLUSTER NODES.
struct NodeRecord {
    NodeId id;
    std::string ip;  // empty while the node does not know its own address
    std::uint16_t port = 0;
    std::uint16_t cport = 0;
    std::string hostname;     // empty: none announced
    std::uint16_t flags = 0;  // node_flag bits; HANDSHAKE nodes are never persisted
    std::optional<NodeId> master;
    std::uint64_t ping_sent_ms = 0;      // unix milliseconds, 0 when no ping is pending
    std::uint64_t pong_received_ms = 0;  // unix milliseconds
    Epoch config_epoch = 0;              // replicas show their master's
    bool connected = false;
    SlotBitmap slots;
    std::vector<OpenSlot> migrating;  // myself only
    std::vector<OpenSlot> importing;  // myself only

    friend bool operator==(const NodeRecord&, const NodeRecord&) = default;
};

struct PersistedState {
    std::vector<NodeRecord> nodes;  // exactly one carries node_flag::kMyself
    Epoch current_epoch = 0;
    Epoch last_vote_epoch = 0;

    const NodeRecord* myself() const {
        for (const auto& n : nodes)
            if (n.flags & node_flag::kMyself) return &n;
        return nullptr;
    }
    friend bool operator==(const PersistedState&, const PersistedState&) = default;
};

}  // namespace gossipcluster
