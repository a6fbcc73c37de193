// Building a SimCluster of masters with slots and replicas, as `redis-cli --cluster create` does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gossipcluster/testing/convergence.hpp"

namespace gossipcluster::testing {

struct ClusterShape {
    std::size_t masters = 3;
    std::size_t replicas_per_master = 1;
    Config config;  // for every node (the simulator assigns addresses and seeds)
    // Master m's config epoch when given (0 leaves it unset); otherwise m + 1.
    std::vector<Epoch> config_epochs;
};

// Node i < masters is a master with an even share of the slots and config epoch i + 1 (or the
// shape's config_epochs[i]); the replicas follow, replica r of master m at index
// masters + m * replicas_per_master + r.
inline std::size_t replica_index(const ClusterShape& shape, std::size_t master, std::size_t r) {
    return shape.masters + master * shape.replicas_per_master + r;
}

// Every live node knows every live node, agrees with the others on slot owners, roles and
// master epochs, and says the cluster is ok. Crashed nodes may still be listed (as FAIL).
inline bool cluster_converged(SimCluster& sim) {
    for (std::size_t i = 0; i < sim.size(); ++i) {
        if (!sim.alive(i)) continue;
        for (std::size_t j = 0; j < sim.size(); ++j)
            if (sim.alive(j) && !knows(sim, i, sim.core(j).state().myself_id())) return false;
    }
    std::size_t first = sim.size();
    for (std::size_t i = 0; i < sim.size(); ++i)
        if (sim.alive(i)) {
            first = i;
            break;
        }
    if (first == sim.size()) return true;
    const auto& ref = sim.core(first).state();
    for (std::size_t i = 0; i < sim.size(); ++i) {
        if (!sim.alive(i)) continue;
        const auto& st = sim.core(i).state();
        if (!st.cluster_ok()) return false;
        for (std::size_t s = 0; s < kSlotCount; ++s) {
            const auto a = st.slot_owner(s);
            const auto b = ref.slot_owner(s);
            if (a.has_value() != b.has_value() || (a && a->id() != b->id())) return false;
        }
        bool same_roles = true;
        ref.for_each_node([&](NodeView n) {
            const auto m = st.find(n.id());
            if (!m || m->is_master() != n.is_master() || m->master() != n.master() ||
                (n.is_master() && m->config_epoch() != n.config_epoch()))
                same_roles = false;
        });
        if (!same_roles) return false;
    }
    return true;
}

// The first reason cluster_converged() is false, in words (for failure reports).
inline std::string why_not_converged(SimCluster& sim) {
    for (std::size_t i = 0; i < sim.size(); ++i) {
        if (!sim.alive(i)) continue;
        for (std::size_t j = 0; j < sim.size(); ++j)
            if (sim.alive(j) && !knows(sim, i, sim.core(j).state().myself_id()))
                return fmt::format("node {} does not know node {} as a connected member", i, j);
    }
    std::size_t first = 0;
    while (first < sim.size() && !sim.alive(first))
        ++first;
    if (first == sim.size()) return "no live node";
    const auto& ref = sim.core(first).state();
    for (std::size_t i = 0; i < sim.size(); ++i) {
        if (!sim.alive(i)) continue;
        const auto& st = sim.core(i).state();
        if (!st.cluster_ok()) {
            std::size_t unowned = 0, failing = 0;
            for (std::size_t s = 0; s < kSlotCount; ++s) {
                const auto o = st.slot_owner(s);
                if (!o)
                    ++unowned;
                else if (o->failing())
                    ++failing;
            }
            return fmt::format(
                "node {} says the cluster is down ({} slots unowned, {} on FAIL owners)", i,
                unowned, failing);
        }
        for (std::size_t s = 0; s < kSlotCount; ++s) {
            const auto a = st.slot_owner(s);
            const auto b = ref.slot_owner(s);
            if (a.has_value() != b.has_value() || (a && a->id() != b->id()))
                return fmt::format("nodes {} and {} disagree on the owner of slot {}", first, i, s);
        }
        std::string role_diff;
        ref.for_each_node([&](NodeView n) {
            const auto m = st.find(n.id());
            if (role_diff.empty() &&
                (!m || m->is_master() != n.is_master() || m->master() != n.master() ||
                 (n.is_master() && m->config_epoch() != n.config_epoch())))
                role_diff = fmt::format(
                    "nodes {} and {} disagree on {} (master {} / {}, epoch {} / {})", first, i,
                    n.id().view().substr(0, 8), n.is_master(), m ? m->is_master() : false,
                    n.config_epoch(), m ? m->config_epoch() : 0);
        });
        if (!role_diff.empty()) return role_diff;
    }
    return "converged";
}

// Adds the nodes, assigns slots and epochs, meets everyone through node 0, attaches replicas and
// runs until the cluster has converged (or `limit` passes). Returns whether it converged.
inline bool form_cluster(SimCluster& sim, const ClusterShape& shape, Duration limit) {
    const std::size_t total = shape.masters * (1 + shape.replicas_per_master);
    const std::size_t base = sim.size();
    for (std::size_t i = 0; i < total; ++i)
        sim.add_node(shape.config);
    for (std::size_t m = 0; m < shape.masters; ++m) {
        const std::size_t first = m * kSlotCount / shape.masters;
        const std::size_t last = (m + 1) * kSlotCount / shape.masters - 1;
        std::vector<std::uint16_t> slots;
        for (std::size_t s = first; s <= last; ++s)
            slots.push_back(static_cast<std::uint16_t>(s));
        auto& core = sim.core(base + m);
        if (!core.command([&](auto& st, Now n, Output& o) { return st.add_slots(n, slots, o); }).ok)
            return false;
        const auto epoch = static_cast<std::int64_t>(
            m < shape.config_epochs.size() ? shape.config_epochs[m] : m + 1);
        if (epoch == 0) continue;
        if (!core.command(
                     [&](auto& st, Now n, Output& o) { return st.set_config_epoch(n, epoch, o); })
                 .ok)
            return false;
    }
    for (std::size_t i = 1; i < total; ++i)
        if (!sim.meet(base + i, base).ok) return false;
    if (!sim.run_until([&] { return membership_converged(sim); }, limit)) return false;
    for (std::size_t m = 0; m < shape.masters; ++m) {
        const NodeId master = sim.core(base + m).state().myself_id();
        for (std::size_t r = 0; r < shape.replicas_per_master; ++r) {
            auto& core = sim.core(base + replica_index(shape, m, r));
            if (!core.command([&](auto& st, Now n, Output& o) {
                         return st.replicate(n, master.view(), true, o);
                     })
                     .ok)
                return false;
        }
    }
    return sim.run_until([&] { return cluster_converged(sim); }, limit);
}

// The nodes.conf node `self` of a formed cluster holds, for a start from storage (a restart):
// nodes [0, masters) are masters with config epochs 1..masters and the slots split evenly, the
// others replicas spread over them in turn (so `masters` is at least 1). `ip_of(j)` is node j's
// address; all use `port` and `cport`.
template <typename IpOf>
PersistedState stored_cluster_view(std::size_t self, const std::vector<NodeId>& ids,
                                   std::size_t masters, IpOf&& ip_of, std::uint16_t port,
                                   std::uint16_t cport) {
    PersistedState ps;
    ps.current_epoch = static_cast<Epoch>(masters);
    ps.nodes.reserve(ids.size());
    for (std::size_t j = 0; j < ids.size(); ++j) {
        NodeRecord r;
        r.id = ids[j];
        r.ip = ip_of(j);
        r.port = port;
        r.cport = cport;
        const bool master = j < masters;
        const std::size_t m = master ? j : (j - masters) % masters;
        r.flags = static_cast<std::uint16_t>((master ? node_flag::kMaster : node_flag::kSlave) |
                                             (j == self ? node_flag::kMyself : 0));
        if (!master) r.master = ids[m];
        r.config_epoch = static_cast<Epoch>(m + 1);
        if (master) r.slots.set_range(m * kSlotCount / masters, (m + 1) * kSlotCount / masters - 1);
        ps.nodes.push_back(std::move(r));
    }
    return ps;
}

// Distinct node names for a cluster written into nodes.conf files, drawn from the seed.
inline std::vector<NodeId> stored_names(std::size_t n, std::uint64_t seed) {
    detail::Prng prng(seed ^ 0x6e6f6465732e636full);
    std::vector<NodeId> ids;
    ids.reserve(n);
    while (ids.size() < n) {
        std::string hex;
        for (std::size_t k = 0; k < kNodeNameLen; ++k)
            hex.push_back("0123456789abcdef"[prng.below(16)]);
        ids.push_back(*NodeId::parse(hex));
    }
    return ids;
}

// Node `self`'s nodes.conf in a SimCluster whose node j is `ids[j]` at SimCluster::ip_for(j).
inline PersistedState stored_sim_view(std::size_t self, const std::vector<NodeId>& ids,
                                      std::size_t masters) {
    return stored_cluster_view(
        self, ids, masters, [](std::size_t j) { return SimCluster::ip_for(j); },
        SimCluster::kClientPort, static_cast<std::uint16_t>(SimCluster::kClientPort + 10000));
}

// Starts `n` nodes of a formed cluster from their nodes.conf (as stored_cluster_view writes it),
// one per simulated millisecond as in a rolling restart: a whole cluster of hundreds of nodes
// is up in seconds without MEETs. Returns the index of the first node added.
inline std::size_t start_stored_cluster(SimCluster& sim, std::size_t n, std::size_t masters,
                                        const Config& config, std::uint64_t seed) {
    const std::size_t base = sim.size();
    const auto ids = stored_names(n, seed);
    for (std::size_t i = 0; i < n; ++i) {
        (void)sim.add_node(config, stored_sim_view(i, ids, masters));
        sim.run_for(Duration{1});
    }
    return base;
}

// Runs until cluster_converged() holds, looking once every `every` (the check costs
// O(N x slots) per node, too much after every step of a large cluster).
inline bool run_until_converged(SimCluster& sim, Duration limit, Duration every = Duration{100}) {
    for (Duration waited{0}; waited <= limit; waited += every) {
        if (cluster_converged(sim)) return true;
        sim.run_for(every);
    }
    return cluster_converged(sim);
}

// Every live node serves again with slot 0 no longer owned by `old_master`.
inline bool failed_over(SimCluster& sim, const NodeId& old_master) {
    for (std::size_t i = 0; i < sim.size(); ++i) {
        if (!sim.alive(i)) continue;
        const auto owner = sim.core(i).state().slot_owner(0);
        if (!owner || owner->id() == old_master) return false;
    }
    return cluster_converged(sim);
}

// How many live nodes other than `id` itself flag it FAIL.
inline std::size_t failed_by(SimCluster& sim, const NodeId& id) {
    std::size_t count = 0;
    for (std::size_t i = 0; i < sim.size(); ++i) {
        if (!sim.alive(i)) continue;
        const auto n = sim.core(i).state().find(id);
        if (n && n->failing()) ++count;
    }
    return count;
}

inline std::size_t live_count(SimCluster& sim) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < sim.size(); ++i)
        n += sim.alive(i) ? 1 : 0;
    return n;
}

}  // namespace gossipcluster::testing
