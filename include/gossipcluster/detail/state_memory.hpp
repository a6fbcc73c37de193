// ClusterState, memory accounting: what one node's view of the cluster costs, by container.
#pragma once

#include <string>

#include "gossipcluster/detail/heap_size.hpp"

namespace gossipcluster {

// An estimate from sizes and capacities (the allocator's own rounding is not counted): enough to
// see how a view grows with the number of nodes it lists.
GOSSIPCLUSTER_INLINE std::size_t ClusterState::memory_bytes() const {
    using detail::heap_bytes;
    std::size_t b = sizeof(*this);
    b += nodes_.memory_bytes();
    for (const auto& [id, n] : nodes_) {
        b += heap_bytes(n.ip) + heap_bytes(n.hostname) + heap_bytes(n.human_nodename);
        b += n.fail_reports.capacity() * sizeof(detail::FailureReport);
    }
    b += links_.memory_bytes();
    links_.for_each([&](LinkId, const LinkInfo& info) {
        b += heap_bytes(info.peer_ip) + heap_bytes(info.local_ip);
    });
    b += blacklist_.size() * (detail::kTreeNodeOverhead + sizeof(std::pair<NodeId, std::int64_t>));
    b += forgotten_turns_.size() * (detail::kTreeNodeOverhead + sizeof(std::pair<NodeId, NodeId>));
    b += slots_.memory_bytes();
    b += election_.voters_capacity() * sizeof(NodeId);
    return b;
}

}  // namespace gossipcluster
