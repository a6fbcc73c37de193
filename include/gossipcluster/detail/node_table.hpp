// NodeTable: the nodes one view knows, by name, with a dense order and the cron's due times.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gossipcluster/detail/invariant.hpp"
#include "gossipcluster/detail/linkage.hpp"
#include "gossipcluster/detail/node.hpp"
#include "gossipcluster/detail/node_index.hpp"
#include "gossipcluster/types.hpp"

namespace gossipcluster::detail {

// The nodes live in a map ordered by name (map nodes never move, so pointers to them stay valid
// until they leave). Beside it the table keeps, for hot paths in large views, a dense array of
// the same nodes in name order, an index for O(1) lookups by name, our own node, and for each
// position when the cron's scan must next look at it. All four are derived from the membership
// and rebuilt at one point, refresh(), after insert, erase or rename left them stale; nothing else
// changes the membership, so no handler can forget to mark them stale.
class NodeTable {
  public:
    using Map = std::map<NodeId, Node>;

    // Membership. insert() keeps an existing node of that name (and returns it).
    Node& insert(Node node) {
        const NodeId id = node.id;
        const auto [it, inserted] = map_.try_emplace(id, std::move(node));
        if (inserted) membership_changed();
        return it->second;
    }
    bool erase(NodeId id) {  // by value: `id` may be the erased node's own name
        membership_changed();
        return map_.erase(id) != 0;
    }
    // The node keeps its place in memory under its new name.
    Node& rename(const NodeId& from, const NodeId& to);
    // Which node is ours (myself() returns it).
    void set_myself(const NodeId& id) {
        myself_ = id;
        membership_changed();
    }
    const NodeId& myself_id() const { return myself_; }
    // Bumped by every change of membership (for stamps of walks over the whole view).
    std::uint64_t version() const { return version_; }

    std::size_t size() const { return map_.size(); }
    bool contains(const NodeId& id) const { return map_.contains(id); }
    // Name order. Nodes may be changed through the iterators, the membership may not.
    Map::iterator begin() { return map_.begin(); }
    Map::iterator end() { return map_.end(); }
    Map::const_iterator begin() const { return map_.begin(); }
    Map::const_iterator end() const { return map_.end(); }
    const Map& map() const { return map_; }
    Node& at(const NodeId& id) { return map_.at(id); }
    const Node& at(const NodeId& id) const { return map_.at(id); }

    // Lookups: through the index while it is current, else through the map.
    const Node* find(const NodeId& id) const {
        if (!stale_) return index_.find(id);
        const auto it = map_.find(id);
        return it == map_.end() ? nullptr : &it->second;
    }
    // The same without rebuilding a stale order (for callers inside a walk over it).
    Node* find(const NodeId& id) { return const_cast<Node*>(std::as_const(*this).find(id)); }
    // Rebuilds a stale order first, so that the lookups after it are O(1).
    Node* lookup(const NodeId& id) {
        refresh();
        return index_.find(id);
    }
    // With the hash already computed (NodeIndex::hash_of); the order must be current.
    Node* lookup(const NodeId& id, std::uint64_t hash) const {
        GOSSIPCLUSTER_INVARIANT(!stale_);
        return index_.find(id, hash);
    }
    const Node& myself() const { return stale_ || !me_ ? map_.at(myself_) : *me_; }
    Node& myself() {
        refresh();
        return me_ ? *me_ : map_.at(myself_);
    }

    // The derived order. refresh() rebuilds it when stale and says whether it did; a rebuild makes
    // every node due at once.
    bool current() const { return !stale_; }
    bool refresh() {
        if (!stale_) return false;
        rebuild();
        return true;
    }
    const std::vector<Node*>& order() const {
        GOSSIPCLUSTER_INVARIANT(!stale_);
        return order_;
    }
    const NodeIndex& index() const { return index_; }
    // f(node) for every node in name order: through the array when current (no tree walk).
    template <typename F>
    void visit_in_order(F&& f) const {
        if (!stale_) {
            for (const Node* n : order_)
                f(*n);
        } else {
            for (const auto& [id, n] : map_)
                f(n);
        }
    }

    // The cron's due times. wake_at() makes a node due no later than `t` (a stale order will make
    // every node due when it is rebuilt anyway).
    void wake_at(const Node& node, std::int64_t t) {
        if (!stale_ && node.order_pos < order_.size() && order_[node.order_pos] == &node) {
            std::int64_t& due = due_[node.order_pos];
            due = std::min(due, t);
        }
    }
    // Whether the order was rebuilt since the last call (every node is due: a full scan).
    bool take_dues_reset() { return std::exchange(dues_reset_, false); }
    // The positions due at `t` (all of them when `all`), in order; valid until the next call.
    const std::vector<std::uint32_t>& due_positions(std::int64_t t, bool all);
    // A visit to position k starts: what it schedules lowers the entry from "never" again.
    void start_visit(std::uint32_t k) {
        GOSSIPCLUSTER_INVARIANT(k < due_.size());
        due_[k] = std::numeric_limits<std::int64_t>::max();
    }
    void lower_due(std::uint32_t k, std::int64_t t) {
        GOSSIPCLUSTER_INVARIANT(k < due_.size());
        due_[k] = std::min(due_[k], t);
    }
    std::int64_t earliest_due() const;

    // The first broken rule of the derived order (when current), or an empty string.
    std::string check() const;
    // The table's own containers; what the nodes hold besides their struct is not counted.
    std::size_t memory_bytes() const;

  private:
    void membership_changed() {
        stale_ = true;
        ++version_;
    }
    void rebuild();

    Map map_;
    NodeId myself_;
    std::vector<Node*> order_;
    NodeIndex index_;
    Node* me_ = nullptr;
    // When the cron's scan must next look at order_[k] (0: at the next scan). Reading this array
    // is a sequential pass; looking at every node would be a cache miss per node.
    std::vector<std::int64_t> due_;
    std::vector<std::uint32_t> visit_;  // the positions one scan visits (kept for its capacity)
    bool dues_reset_ = true;
    bool stale_ = true;
    std::uint64_t version_ = 0;
};

}  // namespace gossipcluster::detail

#ifdef GOSSIPCLUSTER_HEADER_ONLY
#include "gossipcluster/impl/node_table.ipp"
#endif
