// Replica migration: which orphaned master a replica should move to, judged from one view.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <vector>

#include "gossipcluster/detail/node.hpp"
#include "gossipcluster/detail/node_index.hpp"
#include "gossipcluster/types.hpp"

namespace gossipcluster::detail {

// What one survey found. A replica moves to `orphan` only when it is set, the orphan has waited
// the migration delay (the caller's clock), and no candidate has a smaller name than ours: every
// candidate runs the same survey, and only the first by name may move, so one replica moves.
struct MigrationSurvey {
    Node* orphan = nullptr;  // the first master by name that serves slots with no working replica
    // Among the working replicas of the best-served masters (the ones that may give one away),
    // the smallest name; set whenever `orphan` is.
    std::optional<NodeId> first_candidate;
};

// A replica that counts: it names a master and no failure is suspected of it.
inline bool working_replica(const Node& n) {
    return n.is_replica() && n.master && !(n.flags & (node_flag::kFail | node_flag::kPfail));
}

// Redis's rule: an orphaned master (slots, no working replica) gets a replica from a master with
// the most working replicas, when ours is such a master and keeps more than `barrier` after
// giving one. `order` is the view in name order, `index` its name lookup; each node's
// `ok_replicas` is overwritten with its count of working replicas. An orphan is only taken if it
// was marked as a migration target (kMigrateTo: it had replicas once).
inline MigrationSurvey survey_replica_migration(const std::vector<Node*>& order,
                                                const NodeIndex& index, const NodeId& my_master,
                                                std::size_t barrier) {
    // Counted in the flat order with O(1) master lookups, and each node fetched a few ahead of
    // the walk: this runs about once a second on every replica, and in a large view every node
    // is a cache miss.
    constexpr std::size_t kAhead = 8;
    const std::size_t count = order.size();
    const auto fetch_ahead = [&](std::size_t k) {
        if (k + kAhead < count) NodeIndex::prefetch_lines(order[k + kAhead], 4);
    };
    for (std::size_t k = 0; k < count; ++k) {
        fetch_ahead(k);
        order[k]->ok_replicas = 0;
    }
    for (std::size_t k = 0; k < count; ++k) {
        fetch_ahead(k);
        const Node* n = order[k];
        if (working_replica(*n))
            if (Node* m = index.find(*n->master)) ++m->ok_replicas;
    }
    MigrationSurvey found;
    std::size_t max_replicas = 0;
    for (std::size_t k = 0; k < count; ++k) {
        fetch_ahead(k);
        Node* n = order[k];
        if (!n->serves_slots() || n->failing()) continue;
        max_replicas = std::max<std::size_t>(max_replicas, n->ok_replicas);
        if (n->ok_replicas == 0 && n->has(node_flag::kMigrateTo) && !found.orphan) found.orphan = n;
    }
    const Node* master = index.find(my_master);
    const std::size_t mine = master ? master->ok_replicas : 0;
    if (!found.orphan || max_replicas < 2 || mine != max_replicas || mine <= barrier) return {};
    for (const Node* n : order) {
        if (!working_replica(*n)) continue;
        const Node* m = index.find(*n->master);
        if ((m ? m->ok_replicas : 0) != max_replicas) continue;
        found.first_candidate = n->id;  // the order is by name: the first is the smallest
        break;
    }
    return found;
}

}  // namespace gossipcluster::detail
