// Swarm testing: every fault parameter drawn from one seed, a safety phase, then a liveness phase.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "gossipcluster/detail/prng.hpp"
#include "gossipcluster/testing/checker.hpp"
#include "gossipcluster/testing/cluster_setup.hpp"

namespace gossipcluster::testing {

struct SwarmParams {
    std::size_t masters = 3;
    std::size_t replicas = 1;
    std::int64_t node_timeout_ms = 1000;
    std::int64_t max_delay_ms = 3;
    double loss = 0;
    double duplicate = 0;
    std::int64_t fault_phase_ms = 60000;
    std::int64_t action_every_ms = 3000;

    std::string describe() const {
        return fmt::format(
            "masters={} replicas={} node_timeout={}ms max_delay={}ms loss={:.3f} duplicate={:.3f} "
            "fault_phase={}ms action_every={}ms",
            masters, replicas, node_timeout_ms, max_delay_ms, loss, duplicate, fault_phase_ms,
            action_every_ms);
    }
};

// Draws every knob from the seed, so "reproduce with --seed=N" needs nothing else.
inline SwarmParams draw_swarm_params(std::uint64_t seed) {
    detail::Prng p(seed ^ 0x5eed5eed5eed5eedull);
    SwarmParams s;
    s.masters = static_cast<std::size_t>(p.between(3, 5));
    s.replicas = static_cast<std::size_t>(p.between(0, 2));
    const std::int64_t timeouts[] = {1000, 2000, 3000};
    s.node_timeout_ms = timeouts[p.below(3)];
    s.max_delay_ms = p.between(1, 40);
    s.loss = static_cast<double>(p.below(60)) / 1000.0;
    s.duplicate = static_cast<double>(p.below(20)) / 1000.0;
    s.fault_phase_ms = p.between(20, 60) * 1000;
    s.action_every_ms = p.between(500, 5000);
    return s;
}

struct SwarmResult {
    bool passed = false;
    std::string failure;  // first violation or the liveness failure
    std::int64_t converge_ms = -1;
    std::size_t actions = 0;
    std::uint64_t trace_hash = 0;
    SwarmParams params;
};

inline SwarmResult run_swarm(std::uint64_t seed) {
    SwarmResult r;
    r.params = draw_swarm_params(seed);
    const SwarmParams& p = r.params;
    SimCluster sim({.seed = seed, .min_delay = Duration{1}, .max_delay = Duration{p.max_delay_ms}});
    Checker checker(sim);
    ClusterShape shape;
    shape.masters = p.masters;
    shape.replicas_per_master = p.replicas;
    shape.config.node_timeout = Duration{p.node_timeout_ms};
    if (!form_cluster(sim, shape, std::chrono::minutes(5))) {
        r.failure = "the cluster did not form on a clean network";
        return r;
    }
    detail::Prng rng(seed * 31 + 7);
    sim.options().loss = p.loss;
    sim.options().duplicate = p.duplicate;

    // Safety phase: faults at random; the checker runs after every step.
    const std::int64_t end = sim.now().ms + p.fault_phase_ms;
    while (sim.now().ms < end && checker.ok()) {
        sim.run_for(Duration{rng.between(p.action_every_ms / 2, p.action_every_ms)});
        ++r.actions;
        const std::size_t n = sim.size();
        const auto victim = static_cast<std::size_t>(rng.below(n));
        switch (rng.below(6)) {
            case 0:  // crash, keeping a majority of processes alive
                if (live_count(sim) * 2 > n + 2) sim.crash(victim);
                break;
            case 1:  // restart someone
                for (std::size_t i = 0; i < n; ++i)
                    if (!sim.alive((victim + i) % n)) {
                        sim.restart((victim + i) % n);
                        break;
                    }
                break;
            case 2: {  // symmetric partition into two random sides
                std::vector<std::size_t> a, b;
                for (std::size_t i = 0; i < n; ++i)
                    (rng.chance(0.5) ? a : b).push_back(i);
                sim.partition(a, b);
                break;
            }
            case 3: {  // one-way loss between two nodes
                const auto other = static_cast<std::size_t>(rng.below(n));
                if (other != victim) sim.block(victim, other);
                break;
            }
            case 4:  // a pause shorter or longer than the timeout
                if (sim.alive(victim))
                    sim.pause(victim, Duration{rng.between(100, 2 * p.node_timeout_ms)});
                break;
            default:
                sim.heal();
                break;
        }
        // An idle cluster may not step for a while: the checker notes the fault when it begins.
        checker.check_step();
    }
    if (!checker.ok()) {
        r.failure = checker.violations().front();
        r.trace_hash = sim.trace_hash();
        return r;
    }

    // Liveness phase: the network heals and everyone comes back; one view must emerge.
    sim.heal();
    sim.options().loss = 0;
    sim.options().duplicate = 0;
    for (std::size_t i = 0; i < sim.size(); ++i)
        sim.restart(i);
    const auto healed = sim.now();
    const Duration bound{60000 + 30 * p.node_timeout_ms};
    if (!sim.run_until([&] { return cluster_converged(sim); }, bound)) {
        r.failure = fmt::format("no converged view within {} ms of healing: {}", bound.count(),
                                why_not_converged(sim));
    } else {
        r.converge_ms = (sim.now() - healed).count();
        checker.check_converged();
        if (!checker.ok()) r.failure = checker.violations().front();
    }
    if (r.failure.empty() && !checker.ok()) r.failure = checker.violations().front();
    if (r.failure.empty() && !sim.codec_errors().empty()) r.failure = sim.codec_errors().front();
    r.passed = r.failure.empty();
    r.trace_hash = sim.trace_hash();
    return r;
}

}  // namespace gossipcluster::testing
