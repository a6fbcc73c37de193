// NodeView: a read-only handle on one node of a ClusterState's view, what its queries return.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "gossipcluster/detail/node.hpp"
#include "gossipcluster/link.hpp"
#include "gossipcluster/types.hpp"

namespace gossipcluster {

class ClusterState;

// One pointer, cheap to copy. It reads the node as the state holds it at the time of the read,
// and is valid until the next input to the ClusterState that produced it (a message, a tick, a
// command or a link event may forget or rename the node): keep the NodeId to find it again.
// Two views are equal when they show the same node of the same state.
class NodeView {
  public:
    const NodeId& id() const { return node_->id; }
    std::uint16_t flags() const { return node_->flags; }
    bool has(std::uint16_t flag) const { return node_->has(flag); }
    bool is_master() const { return node_->is_master(); }
    bool is_replica() const { return node_->is_replica(); }
    // A master that serves slots: the nodes whose failure reports and votes count.
    bool serves_slots() const { return node_->serves_slots(); }
    bool in_handshake() const { return node_->in_handshake(); }
    bool failing() const { return node_->failing(); }      // FAIL
    bool timed_out() const { return node_->timed_out(); }  // PFAIL
    // The master of a replica, as this view knows it.
    const std::optional<NodeId>& master() const { return node_->master; }

    // Where it is: address, client port, bus port, plaintext port (0 if none).
    const std::string& ip() const { return node_->ip; }
    std::uint16_t port() const { return node_->port; }
    std::uint16_t cport() const { return node_->cport; }
    std::uint16_t pport() const { return node_->pport; }
    // What it announces of itself in ping extensions (empty, or null, until it does).
    const std::string& hostname() const { return node_->hostname; }
    const std::string& human_nodename() const { return node_->human_nodename; }
    const NodeId& shard_id() const { return node_->shard_id; }

    Epoch config_epoch() const { return node_->config_epoch; }
    std::uint64_t repl_offset() const { return node_->repl_offset; }
    // How many slots it serves in this view.
    std::size_t slot_count() const { return node_->slot_count; }

    // Monotonic milliseconds; 0 means never.
    std::int64_t ping_sent() const { return node_->ping_sent; }
    std::int64_t pong_received() const { return node_->pong_received; }
    std::int64_t ctime() const { return node_->ctime; }          // when this view added it
    std::int64_t fail_time() const { return node_->fail_time; }  // when it was marked FAIL

    // Our outbound link to it (created by us) and its inbound link to us; not valid() when there
    // is none.
    LinkId link() const { return node_->link; }
    LinkId inbound_link() const { return node_->inbound_link; }
    bool link_up() const { return node_->link_up; }

    friend bool operator==(NodeView a, NodeView b) { return a.node_ == b.node_; }

  private:
    friend class ClusterState;
    explicit NodeView(const detail::Node& node) : node_(&node) {}

    const detail::Node* node_;
};

}  // namespace gossipcluster
