// ClusterState, memory accounting: what one node's view of the cluster costs, by container.
#pragma once

#include <string>

namespace gossipcluster {

namespace detail {

// Heap bytes behind a string: none while it fits the small-string buffer.
inline std::size_t heap_bytes(const std::string& s) {
    return s.capacity() >= sizeof(std::string) ? s.capacity() + 1 : 0;
}

// A red-black tree node carries a colour and three pointers besides its value.
inline constexpr std::size_t kTreeNodeOverhead = 4 * sizeof(void*);

}  // namespace detail

// An estimate from sizes and capacities (the allocator's own rounding is not counted): enough to
// see how a view grows with the number of nodes it lists.
GOSSIPCLUSTER_INLINE std::size_t ClusterState::memory_bytes() const {
    using detail::heap_bytes;
    std::size_t b = sizeof(*this);
    for (const auto& [id, n] : nodes_) {
        b += detail::kTreeNodeOverhead + sizeof(std::pair<const NodeId, detail::Node>);
        b += heap_bytes(n.ip) + heap_bytes(n.hostname) + heap_bytes(n.human_nodename);
        b += n.fail_reports.capacity() * sizeof(detail::FailureReport);
    }
    b += order_.capacity() * sizeof(detail::Node*);
    b += node_due_.capacity() * sizeof(std::int64_t) + visit_.capacity() * sizeof(std::uint32_t);
    b += index_.memory_bytes();
    b += links_.memory_bytes();
    links_.for_each([&](LinkId, const LinkInfo& info) {
        b += heap_bytes(info.peer_ip) + heap_bytes(info.local_ip);
    });
    b += blacklist_.size() * (detail::kTreeNodeOverhead + sizeof(std::pair<NodeId, std::int64_t>));
    b += forgotten_turns_.size() * (detail::kTreeNodeOverhead + sizeof(std::pair<NodeId, NodeId>));
    b += (importing_.size() + migrating_.size()) *
         (detail::kTreeNodeOverhead + sizeof(std::pair<std::uint16_t, NodeId>));
    b += slot_owner_.capacity() * sizeof(detail::Node*);
    b += runs_.capacity() * sizeof(OwnedRun);
    b += election_.voters_capacity() * sizeof(NodeId);
    return b;
}

}  // namespace gossipcluster
