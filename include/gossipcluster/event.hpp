// Events the core hands to the host: what changed in the cluster, for logs and for the server.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "gossipcluster/types.hpp"

namespace gossipcluster {

namespace event {
struct NodeAdded {
    NodeId node;
    std::string ip;
    std::uint16_t port = 0;
    bool handshake = false;  // true while its real name is not known yet
};
struct HandshakeCompleted {
    NodeId temporary;
    NodeId node;
};
struct HandshakeTimedOut {
    NodeId temporary;
    std::string ip;
    std::uint16_t port = 0;
};
struct NodeAddressChanged {
    NodeId node;
    std::string ip;
    std::uint16_t port = 0;
    std::uint16_t cport = 0;
};
struct NodeForgotten {
    NodeId node;
    bool by_peer = false;  // learnt from a FORGOTTEN_NODE extension
};
struct NodeNoAddr {
    NodeId node;
};
struct LinkError {
    NodeId node;  // null when the link is not bound to a node
    std::string reason;
};
struct NodePfail {
    NodeId node;
};
struct NodeFailed {
    NodeId node;
    bool by_message = false;  // from a FAIL message rather than our own quorum
};
struct NodeRecovered {
    NodeId node;
};
// Slots moved to `owner`; `lost_by_me` lists those this node owned (the host drops their keys).
struct SlotsChanged {
    NodeId owner;
    std::vector<std::uint16_t> moved;
    std::vector<std::uint16_t> lost_by_me;
};
// This node's role changed: master, or replica of `master`.
struct RoleChanged {
    bool is_master = false;
    NodeId master;
    bool was_master = false;
};
struct ClusterStateChanged {
    bool ok = false;
};
// This replica asked for votes to replace its failed master.
struct ElectionStarted {
    Epoch epoch = 0;
    std::size_t rank = 0;
    NodeId failed_master;
};
struct ElectionWon {
    Epoch epoch = 0;
    std::size_t votes = 0;
    NodeId old_master;
};
struct ElectionFailed {
    Epoch epoch = 0;
    std::size_t votes = 0;
};
struct ElectionRefused {
    NodeId failed_master;
    std::string reason;
};
// This master voted for `candidate` to replace `failed_master` (saved before the ACK left).
// A PUBLISH or PUBLISHSHARD from another node, for the host's local subscribers.
struct PublishReceived {
    NodeId sender;
    std::string channel;
    std::string message;
    bool shard = false;
};
struct ModuleMessageReceived {
    NodeId sender;
    std::uint64_t module_id = 0;
    std::uint8_t type = 0;
    std::string payload;
};
// Manual failover on a master: stop accepting writes until `until` (monotonic ms) or Resume.
struct PauseWrites {
    NodeId replica;
    std::int64_t until_ms = 0;
};
struct ResumeWrites {};
struct ManualFailoverTimedOut {};
struct VoteGranted {
    NodeId candidate;
    NodeId failed_master;
    Epoch epoch = 0;
};
}  // namespace event

using Event = std::variant<event::NodeAdded, event::HandshakeCompleted, event::HandshakeTimedOut,
                           event::NodeAddressChanged, event::NodeForgotten, event::NodeNoAddr,
                           event::LinkError, event::NodePfail, event::NodeFailed,
                           event::NodeRecovered, event::SlotsChanged, event::RoleChanged,
                           event::ClusterStateChanged, event::ElectionStarted, event::ElectionWon,
                           event::ElectionFailed, event::ElectionRefused, event::VoteGranted,
                           event::PublishReceived, event::ModuleMessageReceived, event::PauseWrites,
                           event::ResumeWrites, event::ManualFailoverTimedOut>;

}  // namespace gossipcluster
