// The definitions of detail/node_table.hpp (compiled once, or included in header-only mode).
#pragma once

#include <algorithm>
#include <limits>

#include "gossipcluster/detail/heap_size.hpp"
#include "gossipcluster/detail/node_table.hpp"

namespace gossipcluster::detail {

GOSSIPCLUSTER_INLINE Node& NodeTable::rename(const NodeId& from, const NodeId& to) {
    auto handle = map_.extract(from);
    GOSSIPCLUSTER_INVARIANT(!handle.empty());
    handle.key() = to;
    handle.mapped().id = to;
    if (myself_ == from) myself_ = to;
    membership_changed();
    return map_.insert(std::move(handle)).position->second;
}

GOSSIPCLUSTER_INLINE void NodeTable::rebuild() {
    order_.clear();
    index_.reset(map_.size());
    for (auto& [id, n] : map_) {
        n.order_pos = static_cast<std::uint32_t>(order_.size());
        order_.push_back(&n);
        index_.insert(&n);
    }
    due_.assign(order_.size(), 0);
    dues_reset_ = true;
    me_ = index_.find(myself_);
    stale_ = false;
}

GOSSIPCLUSTER_INLINE const std::vector<std::uint32_t>& NodeTable::due_positions(std::int64_t t,
                                                                                bool all) {
    GOSSIPCLUSTER_INVARIANT(!stale_);
    visit_.clear();
    for (std::size_t k = 0; k < order_.size(); ++k)
        if (all || due_[k] <= t) visit_.push_back(static_cast<std::uint32_t>(k));
    return visit_;
}

GOSSIPCLUSTER_INLINE std::int64_t NodeTable::earliest_due() const {
    std::int64_t earliest = std::numeric_limits<std::int64_t>::max();
    for (const std::int64_t due : due_)
        earliest = std::min(earliest, due);
    return earliest;
}

GOSSIPCLUSTER_INLINE std::string NodeTable::check() const {
    if (stale_) return {};
    if (order_.size() != map_.size() || due_.size() != order_.size())
        return "the node order does not list every node";
    for (std::size_t k = 0; k < order_.size(); ++k) {
        if (order_[k]->order_pos != k) return "a node's position in the order is wrong";
        if (k > 0 && !(order_[k - 1]->id < order_[k]->id)) return "the node order is unsorted";
        if (index_.find(order_[k]->id) != order_[k]) return "the name index lost a node";
    }
    const auto mine = map_.find(myself_);
    if (me_ != (mine == map_.end() ? nullptr : &mine->second))
        return "the cached own node is not ours";
    return {};
}

GOSSIPCLUSTER_INLINE std::size_t NodeTable::memory_bytes() const {
    std::size_t b = map_.size() * (kTreeNodeOverhead + sizeof(Map::value_type));
    b += order_.capacity() * sizeof(Node*);
    b += due_.capacity() * sizeof(std::int64_t) + visit_.capacity() * sizeof(std::uint32_t);
    b += index_.memory_bytes();
    return b;
}

}  // namespace gossipcluster::detail
