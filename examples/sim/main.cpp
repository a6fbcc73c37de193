// gossipcluster-sim: runs production cores on a simulated network from one seed and reports.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>

#include <fmt/format.h>

#include <gossipcluster/testing/cluster_setup.hpp>
#include <gossipcluster/testing/sim_cluster.hpp>
#include <gossipcluster/testing/swarm.hpp>

#include "bytes_svg.hpp"
#include "options.hpp"
#include "scale_table.hpp"
#include "svg_plot.hpp"
#include "timeline_svg.hpp"

using namespace gossipcluster;
using namespace gossipcluster::testing;

namespace {

struct Report {
    std::int64_t form_ms = -1;       // cluster formed (every node knows every node)
    std::int64_t converged_ms = -1;  // scenario's own convergence figure
    double msgs_per_node_s = 0;
    double bytes_per_node_s = 0;
    double redis_model_bytes_per_node_s = 0;
    std::vector<std::pair<double, double>> known_fraction;  // (ms since MEET, fraction)
    std::int64_t fail_all_ms = -1;                          // crash -> FAIL on every live node
    std::vector<std::int64_t> failover_ms;  // crash -> every live node ok with the new owner
    std::uint64_t trace_hash = 0;
    std::size_t codec_errors = 0;
};

using sim::redis_model_bytes;

Config node_config(const sim::Options& o) {
    Config c;
    c.node_timeout = Duration{o.node_timeout_ms};
    return c;
}

std::int64_t form(SimCluster& s, const sim::Options& o, bool chain) {
    for (std::size_t i = 0; i < o.nodes; ++i)
        s.add_node(node_config(o));
    const auto start = s.now();
    for (std::size_t i = 1; i < o.nodes; ++i)
        (void)s.meet(chain ? i - 1 : 0, i);
    if (!s.run_until([&] { return membership_converged(s); }, std::chrono::minutes(30))) return -1;
    return (s.now() - start).count();
}

void measure_idle(SimCluster& s, const sim::Options& o, Report& r) {
    std::uint64_t msgs0 = 0, bytes0 = 0, msgs1 = 0, bytes1 = 0;
    for (std::size_t i = 0; i < s.size(); ++i)
        msgs0 += s.stats(i).messages_sent, bytes0 += s.stats(i).bytes_sent;
    s.run_for(std::chrono::seconds(o.duration_s));
    for (std::size_t i = 0; i < s.size(); ++i)
        msgs1 += s.stats(i).messages_sent, bytes1 += s.stats(i).bytes_sent;
    const double node_seconds = double(s.size()) * double(o.duration_s);
    r.msgs_per_node_s = double(msgs1 - msgs0) / node_seconds;
    r.bytes_per_node_s = double(bytes1 - bytes0) / node_seconds;
    r.redis_model_bytes_per_node_s = redis_model_bytes(s.size(), o.node_timeout_ms);
}

Report run_scenario(SimCluster& s, const sim::Options& o,
                    sim::FailoverRecorder* timeline = nullptr) {
    Report r;
    if (o.scenario == "meet-chain" || o.scenario == "meet-star") {
        r.form_ms = form(s, o, o.scenario == "meet-chain");
        r.converged_ms = r.form_ms;
        if (r.form_ms >= 0) measure_idle(s, o, r);
        return r;
    }
    if (o.scenario == "join-one") {
        r.form_ms = form(s, o, false);
        if (r.form_ms < 0) return r;
        // Let the first round of pings after the formation settle, then measure the idle cost.
        s.run_for(Duration{o.node_timeout_ms});
        measure_idle(s, o, r);
        std::size_t newcomer = s.add_node(node_config(o));
        const NodeId id = s.core(newcomer).state().myself_id();
        std::size_t contact = static_cast<std::size_t>(o.seed % o.nodes);
        const auto start = s.now();
        (void)s.meet(contact, newcomer);
        std::size_t last = 0;
        r.known_fraction.push_back({0, 0});
        bool ok = s.run_until(
            [&] {
                std::size_t k = known_by(s, id);
                if (k != last) {
                    last = k;
                    r.known_fraction.push_back(
                        {double((s.now() - start).count()), double(k) / double(s.size())});
                }
                return membership_converged(s);
            },
            std::chrono::minutes(10));
        if (ok) r.converged_ms = (s.now() - start).count();
        return r;
    }
    if (o.scenario == "kill-master" || o.scenario == "failover") {
        ClusterShape shape;
        shape.masters = std::max<std::size_t>(1, o.nodes / 2);
        shape.replicas_per_master = 1;
        shape.config = node_config(o);
        const bool failover = o.scenario == "failover";
        if (!failover) shape.config.replica_no_failover = true;
        const auto t0 = s.now();
        if (!form_cluster(s, shape, std::chrono::minutes(10))) return r;
        r.form_ms = (s.now() - t0).count();
        s.run_for(Duration{o.node_timeout_ms});
        measure_idle(s, o, r);
        for (std::size_t run = 0; run < o.runs; ++run) {
            // Crash a different master each run; it restarts as a replica before the next one.
            std::size_t victim = 0;
            for (std::size_t i = 0; i < s.size(); ++i) {
                const NodeView me = s.core(i).state().myself();
                if (me.is_master() && me.slot_count() > 0 &&
                    i % shape.masters == run % shape.masters) {
                    victim = i;
                    break;
                }
            }
            const NodeId id = s.core(victim).state().myself_id();
            const auto crash = s.now();
            if (timeline) timeline->crashed(s, victim);
            s.crash(victim);
            if (!s.run_until([&] { return failed_by(s, id) == live_count(s); },
                             Duration{o.node_timeout_ms * 10}))
                return r;
            if (r.fail_all_ms < 0) r.fail_all_ms = (s.now() - crash).count();
            if (!failover) {
                r.converged_ms = r.fail_all_ms;
                return r;
            }
            const bool ok = s.run_until(
                [&] {
                    for (std::size_t i = 0; i < s.size(); ++i) {
                        if (!s.alive(i)) continue;
                        for (std::size_t sl = 0; sl < kSlotCount; sl += 97) {
                            const auto owner = s.core(i).state().slot_owner(sl);
                            if (!owner || owner->id() == id) return false;
                        }
                    }
                    return cluster_converged(s);
                },
                Duration{o.node_timeout_ms * 20});
            if (!ok) return r;
            if (timeline) timeline->ended(s.now());
            r.failover_ms.push_back((s.now() - crash).count());
            s.restart(victim);
            if (!s.run_until([&] { return cluster_converged(s); },
                             Duration{o.node_timeout_ms * 20}))
                return r;
            s.run_for(Duration{o.node_timeout_ms * 3});
        }
        std::sort(r.failover_ms.begin(), r.failover_ms.end());
        r.converged_ms = r.failover_ms.empty() ? -1 : r.failover_ms[r.failover_ms.size() / 2];
        return r;
    }
    throw std::invalid_argument(fmt::format("unknown scenario {}", o.scenario));
}

std::int64_t percentile(const std::vector<std::int64_t>& sorted, int p) {
    if (sorted.empty()) return -1;
    std::size_t i = (sorted.size() - 1) * static_cast<std::size_t>(p) / 100;
    return sorted[i];
}

// Swarm: every fault knob drawn from the seed; prints PASSED or the violation.
int run_swarm_seeds(const sim::Options& o) {
    std::size_t passed = 0;
    for (std::size_t k = 0; k < o.runs; ++k) {
        const std::uint64_t seed = o.seed + k;
        const SwarmResult r = run_swarm(seed);
        if (o.json) {
            fmt::print(
                "{{\"seed\":{},\"scenario\":\"swarm\",\"params\":\"{}\",\"actions\":{},"
                "\"converge_ms\":{},\"violations\":{},\"trace_hash\":\"{:016x}\",\"passed\":{}}}\n",
                seed, r.params.describe(), r.actions, r.converge_ms, r.passed ? 0 : 1, r.trace_hash,
                r.passed ? "true" : "false");
        } else if (!r.passed) {
            fmt::print(
                "seed {}: {}\n  {}\n  reproduce with: gossipcluster-sim --scenario=swarm "
                "--seed={}\n",
                seed, r.failure, r.params.describe(), seed);
        }
        passed += r.passed ? 1 : 0;
    }
    if (!o.json)
        fmt::print("swarm: {} of {} seeds passed\n{}\n", passed, o.runs,
                   passed == o.runs ? "PASSED" : "FAILED");
    return passed == o.runs ? 0 : 1;
}

Report run(const sim::Options& o) {
    SimCluster s({.seed = o.seed});
    sim::FailoverRecorder timeline;
    if (!o.timeline_svg.empty()) s.set_observer(timeline.observer());
    Report r = run_scenario(s, o, o.timeline_svg.empty() ? nullptr : &timeline);
    if (!o.timeline_svg.empty()) {
        if (!timeline.complete())
            throw std::runtime_error("--timeline-svg needs --scenario=failover to complete");
        std::ofstream(o.timeline_svg) << sim::timeline_svg(
            fmt::format("Failover after kill -9 of a master: {} nodes, node timeout {} ms, seed {}",
                        o.nodes, o.node_timeout_ms, o.seed),
            timeline.rows(),
            {{timeline.end_ms(), fmt::format("every node ok: {:.0f} ms", timeline.end_ms())}});
    }
    r.trace_hash = s.trace_hash();
    r.codec_errors = s.codec_errors().size();
    return r;
}

// Idle bytes per node for each of --sizes at node timeouts 15000 and 3000 ms, as a table and SVG.
int write_bytes_svg(const sim::Options& o) {
    std::vector<sim::BytesCurve> curves{{15000, "#1f77b4", {}}, {3000, "#d62728", {}}};
    fmt::print(
        "| N | timeout | bytes/node/s (simulated) | Redis model bytes/node/s | ratio |\n"
        "|---:|---:|---:|---:|---:|\n");
    for (auto& c : curves)
        for (std::size_t n : o.sizes) {
            const double ours = sim::measure_idle_bytes(n, c.node_timeout_ms, o.seed,
                                                        std::chrono::seconds(o.duration_s));
            if (ours < 0) {
                fmt::print(stderr, "gossipcluster-sim: {} nodes did not converge\n", n);
                return 1;
            }
            const double model = redis_model_bytes(n, c.node_timeout_ms);
            c.points.push_back({n, ours, model});
            fmt::print("| {} | {} | {:.0f} | {:.0f} | {:.2f} |\n", n, c.node_timeout_ms, ours,
                       model, ours / model);
            std::fflush(stdout);
        }
    std::ofstream(o.bytes_svg) << sim::bytes_svg(
        fmt::format("Idle bus bytes per node vs N ({} s per point, seed {})", o.duration_s, o.seed),
        curves);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    sim::Options o;
    try {
        o = sim::parse_options(argc, argv);
    } catch (const std::invalid_argument& e) {
        if (*e.what()) fmt::print(stderr, "gossipcluster-sim: {}\n", e.what());
        fmt::print(stderr, "{}", sim::usage());
        return 2;
    }
    if (o.scenario == "swarm") return run_swarm_seeds(o);
    if (o.scenario == "scale" || o.scenario == "scale-table") return sim::run_scale(o);
    if (!o.bytes_svg.empty()) return write_bytes_svg(o);
    Report r;
    try {
        r = run(o);
    } catch (const std::exception& e) {
        fmt::print(stderr,
                   "gossipcluster-sim: {}\nreproduce with: gossipcluster-sim --seed={} --nodes={} "
                   "--scenario={}\n",
                   e.what(), o.seed, o.nodes, o.scenario);
        return 1;
    }
    const bool passed = r.converged_ms >= 0 && r.codec_errors == 0;
    if (o.json) {
        fmt::print(
            "{{\"seed\":{},\"nodes\":{},\"scenario\":\"{}\",\"node_timeout_ms\":{},\"form_ms\":{},"
            "\"converged_ms\":{},\"msgs_per_node_s\":{:.3f},\"bytes_per_node_s\":{:.1f},"
            "\"redis_model_bytes_per_node_s\":{:.1f},\"fail_all_ms\":{},\"failover_runs\":{},"
            "\"failover_median_ms\":{},\"failover_p99_ms\":{},\"trace_hash\":\"{:016x}\","
            "\"passed\":{}}}\n",
            o.seed, o.nodes, o.scenario, o.node_timeout_ms, r.form_ms, r.converged_ms,
            r.msgs_per_node_s, r.bytes_per_node_s, r.redis_model_bytes_per_node_s, r.fail_all_ms,
            r.failover_ms.size(), percentile(r.failover_ms, 50), percentile(r.failover_ms, 99),
            r.trace_hash, passed ? "true" : "false");
    } else {
        fmt::print("scenario {}  nodes {}  seed {}  node-timeout {} ms\n", o.scenario, o.nodes,
                   o.seed, o.node_timeout_ms);
        fmt::print("  cluster formed in      {} ms\n", r.form_ms);
        fmt::print("  converged in           {} ms\n", r.converged_ms);
        fmt::print("  idle msgs/node/s       {:.2f}\n", r.msgs_per_node_s);
        fmt::print("  idle bytes/node/s      {:.0f}  (Redis wire model {:.0f})\n",
                   r.bytes_per_node_s, r.redis_model_bytes_per_node_s);
        if (r.fail_all_ms >= 0) fmt::print("  crash -> FAIL on all   {} ms\n", r.fail_all_ms);
        if (!r.failover_ms.empty())
            fmt::print("  crash -> all ok        median {} ms, p99 {} ms over {} runs\n",
                       percentile(r.failover_ms, 50), percentile(r.failover_ms, 99),
                       r.failover_ms.size());
        fmt::print("  trace hash             {:016x}\n", r.trace_hash);
        fmt::print("{}\n", passed ? "PASSED" : "FAILED");
    }
    if (!o.csv.empty()) {
        std::ofstream f(o.csv);
        f << "ms_since_meet,fraction_knowing\n";
        for (auto [t, frac] : r.known_fraction)
            f << t << ',' << frac << '\n';
    }
    if (!o.svg.empty()) {
        double log2n = std::log2(double(o.nodes + 1));
        // Epidemic spreading needs about log2(N) rounds. Our rounds are message round trips
        // (pushes on news), so the mark is log2(N) x one round trip of the simulated network
        // (2 x the 2 ms mean delay); Redis's rounds are its 1 s random pings (log2(N) s).
        const double rtt_ms = 4.0;
        std::vector<sim::VerticalMark> marks{
            {log2n * rtt_ms,
             fmt::format("log2(N) round trips = {:.0f} ms (Redis: log2(N) s = {:.0f} ms)",
                         log2n * rtt_ms, log2n * 1000)}};
        std::string svg = sim::svg_plot(
            fmt::format("Nodes that know a newcomer, N={}", o.nodes + 1), "ms since MEET",
            "fraction of nodes", {{"gossipcluster", "#1f77b4", r.known_fraction}}, marks, 1.0);
        std::ofstream(o.svg) << svg;
    }
    if (!passed)
        fmt::print(stderr,
                   "reproduce with: gossipcluster-sim --seed={} --nodes={} --scenario={} "
                   "--node-timeout={}\n",
                   o.seed, o.nodes, o.scenario, o.node_timeout_ms);
    return passed ? 0 : 1;
}
