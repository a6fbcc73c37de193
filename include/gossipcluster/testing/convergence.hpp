// Predicates over a SimCluster's views: who knows whom, and whether every view agrees.
#pragma once

#include <cstddef>

#include "gossipcluster/testing/sim_cluster.hpp"

namespace gossipcluster::testing {

// `observer` knows `id` as a full member: real name, no handshake, connected link.
inline bool knows(SimCluster& sim, std::size_t observer, const NodeId& id) {
    if (!sim.alive(observer)) return false;
    const auto& st = sim.core(observer).state();
    if (st.myself_id() == id) return true;
    const auto n = st.find(id);
    return n && !n->in_handshake() && n->link_up() && !n->has(node_flag::kNoAddr);
}

// How many live nodes know `id`.
inline std::size_t known_by(SimCluster& sim, const NodeId& id) {
    std::size_t count = 0;
    for (std::size_t i = 0; i < sim.size(); ++i)
        if (sim.alive(i) && knows(sim, i, id)) ++count;
    return count;
}

// Every live node lists exactly the live nodes, all connected and out of handshake.
inline bool membership_converged(SimCluster& sim) {
    std::size_t live = 0;
    for (std::size_t i = 0; i < sim.size(); ++i)
        live += sim.alive(i) ? 1 : 0;
    for (std::size_t i = 0; i < sim.size(); ++i) {
        if (!sim.alive(i)) continue;
        const auto& st = sim.core(i).state();
        if (st.node_count() != live) return false;
        for (std::size_t j = 0; j < sim.size(); ++j) {
            if (!sim.alive(j)) continue;
            if (!knows(sim, i, sim.core(j).state().myself_id())) return false;
        }
    }
    return true;
}

}  // namespace gossipcluster::testing
