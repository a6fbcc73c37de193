// The scale table: per N, join/FAIL/failover times, idle traffic vs Redis's model, wall and RSS.
#pragma once

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <vector>

#include <fmt/format.h>

#include <gossipcluster/testing/cluster_setup.hpp>
#include <gossipcluster/testing/sim_cluster.hpp>

#include "bytes_svg.hpp"
#include "dissemination_svg.hpp"
#include "options.hpp"

namespace sim {

// A point of the join's dissemination curve.
struct JoinPoint {
    std::int32_t ms = 0;  // since the MEET
    float fraction = 0;   // of the live nodes that know the newcomer
};

// One row; plain data so that a child process can hand it over through a pipe.
struct ScaleRow {
    static constexpr std::size_t kJoinCurvePoints = 256;
    std::size_t nodes = 0;
    std::int64_t duration_s = 0;  // the idle window
    bool ok = false;
    std::int64_t form_ms = -1;      // MEETs (in waves) until every node agrees on the cluster
    std::int64_t join_ms = -1;      // MEET of a newcomer until every node knows it and it them
    std::int64_t fail_all_ms = -1;  // crash of a master until every live node flags it FAIL
    std::int64_t failover_ms = -1;  // crash until every live node has the replica own its slots
    double msgs_per_node_s = 0;     // idle, after formation
    double bytes_per_node_s = 0;
    double redis_model_msgs = 0;
    double redis_model_bytes = 0;
    std::int64_t simulated_ms = 0;  // everything the row simulated
    double wall_s = 0;
    double cpu_s = 0;
    double idle_cpu_s = 0;  // CPU spent simulating the idle window alone
    long peak_rss_kb = 0;
    std::uint64_t peak_in_flight_bytes = 0;
    std::uint64_t trace_hash = 0;
    // Sampled whenever about 1/128 more of the nodes know the newcomer, and at the end.
    JoinPoint join_curve[kJoinCurvePoints];
    std::size_t join_points = 0;
};

namespace scale_detail {

using namespace gossipcluster;
using namespace gossipcluster::testing;

// Nodes [0, k) list exactly each other, connected. Counts first: the pairwise check is O(k^2).
inline bool members_converged(SimCluster& s, std::size_t k) {
    for (std::size_t i = 0; i < k; ++i)
        if (s.core(i).state().node_count() != k) return false;
    for (std::size_t i = 0; i < k; ++i)
        for (std::size_t j = 0; j < k; ++j)
            if (!knows(s, i, s.core(j).state().myself_id())) return false;
    return true;
}

// Every node says ok, lists everyone, and maps each master's first slot to that master.
inline bool shape_converged(SimCluster& s, const std::vector<std::size_t>& first_slots,
                            const std::vector<NodeId>& masters) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto& st = s.core(i).state();
        if (!st.cluster_ok() || st.node_count() != s.size()) return false;
        for (std::size_t m = 0; m < masters.size(); ++m) {
            const auto owner = st.slot_owner(first_slots[m]);
            if (!owner || owner->id() != masters[m]) return false;
        }
    }
    return true;
}

// Node i's nodes.conf in the cluster shape of a scale row.
inline PersistedState stored_view(std::size_t i, const std::vector<NodeId>& ids,
                                  std::size_t masters) {
    return gossipcluster::testing::stored_sim_view(i, ids, masters);
}

inline double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace scale_detail

// N/2 masters with the slots spread evenly and N/2 replicas, default timings except the node
// timeout. The MEETs go out in waves of at most 50 nodes: every join makes the contact ping all
// its peers at once, and a thousand joins at the same instant would put gigabytes in flight.
inline ScaleRow run_scale_row(std::size_t n, const Options& o) {
    using namespace gossipcluster;
    using namespace gossipcluster::testing;
    using namespace scale_detail;
    const auto wall0 = std::chrono::steady_clock::now();
    const double cpu0 = cpu_seconds();
    ScaleRow row;
    row.nodes = n;
    row.duration_s = o.duration_s;
    row.redis_model_bytes = redis_model_bytes(n, o.node_timeout_ms);
    row.redis_model_msgs = 2.0 * double(n - 1) / (double(o.node_timeout_ms) / 2000.0);

    SimCluster s({.seed = o.seed});
    const auto finish = [&] {
        row.simulated_ms = s.now().ms - 1;
        row.wall_s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
        row.cpu_s = cpu_seconds() - cpu0;
        rusage ru{};
        getrusage(RUSAGE_SELF, &ru);
        row.peak_rss_kb = ru.ru_maxrss;
        row.peak_in_flight_bytes = s.peak_in_flight_bytes();
        row.trace_hash = s.trace_hash();
        return row;
    };
    const Duration limit = std::chrono::minutes(10);
    Config config;
    config.node_timeout = Duration{o.node_timeout_ms};
    const std::size_t masters = std::max<std::size_t>(1, n / 2);
    std::vector<std::size_t> first_slots;
    std::vector<NodeId> master_ids;
    for (std::size_t m = 0; m < masters; ++m)
        first_slots.push_back(m * kSlotCount / masters);
    auto t0 = s.now();
    if (o.start == "restart") {
        // One node starts per simulated millisecond, as in a rolling restart: all at once would
        // put N x N first pings in flight together.
        const auto ids = gossipcluster::testing::stored_names(n, o.seed);
        for (std::size_t i = 0; i < n; ++i) {
            (void)s.add_node(config, stored_view(i, ids, masters));
            s.run_for(Duration{1});
        }
        master_ids.assign(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(masters));
    } else {
        for (std::size_t i = 0; i < n; ++i)
            s.add_node(config);
        // Slots and epochs as redis-cli --cluster create assigns them.
        for (std::size_t m = 0; m < masters; ++m) {
            const std::size_t first = first_slots[m];
            const std::size_t last = (m + 1) * kSlotCount / masters - 1;
            std::vector<std::uint16_t> slots;
            for (std::size_t sl = first; sl <= last; ++sl)
                slots.push_back(static_cast<std::uint16_t>(sl));
            auto& core = s.core(m);
            const auto epoch = static_cast<std::int64_t>(m + 1);
            (void)core.add_slots(slots);
            (void)core.set_config_epoch(epoch);
            master_ids.push_back(core.state().myself_id());
        }
        t0 = s.now();
        constexpr std::size_t kWave = 50;
        for (std::size_t start = 1; start < n; start += kWave) {
            const std::size_t end = std::min(n, start + kWave);
            for (std::size_t i = start; i < end; ++i)
                (void)s.meet(i, 0);
            if (!s.run_until([&] { return members_converged(s, end); }, limit)) return finish();
        }
        for (std::size_t r = masters; r < n; ++r) {
            const NodeId master = master_ids[(r - masters) % masters];
            (void)s.core(r).replicate(master.view(), true);
        }
    }
    // The full check costs O(N x masters): look every 10 simulated ms.
    bool formed = false;
    for (auto waited = Duration{0}; waited < limit && !formed; waited += Duration{10}) {
        s.run_for(Duration{10});
        formed = shape_converged(s, first_slots, master_ids);
    }
    if (!formed) return finish();
    row.form_ms = (s.now() - t0).count();

    // Idle traffic, after one node timeout for the first pings to settle.
    s.run_for(Duration{o.node_timeout_ms});
    std::uint64_t msgs0 = 0, bytes0 = 0, msgs1 = 0, bytes1 = 0;
    for (std::size_t i = 0; i < s.size(); ++i)
        msgs0 += s.stats(i).messages_sent, bytes0 += s.stats(i).bytes_sent;
    const double idle_cpu0 = cpu_seconds();
    s.run_for(std::chrono::seconds(o.duration_s));
    row.idle_cpu_s = cpu_seconds() - idle_cpu0;
    for (std::size_t i = 0; i < s.size(); ++i)
        msgs1 += s.stats(i).messages_sent, bytes1 += s.stats(i).bytes_sent;
    const double node_seconds = double(n) * double(o.duration_s);
    row.msgs_per_node_s = double(msgs1 - msgs0) / node_seconds;
    row.bytes_per_node_s = double(bytes1 - bytes0) / node_seconds;

    // A newcomer joins through one node.
    const std::size_t newcomer = s.add_node(config);
    const NodeId newcomer_id = s.core(newcomer).state().myself_id();
    const auto join = s.now();
    (void)s.meet(static_cast<std::size_t>(o.seed % n), newcomer);
    std::size_t last_known = 0, last_bucket = 0;
    const auto sample = [&](std::size_t known, std::size_t live) {
        // The last slot is kept for the final point.
        const std::size_t bucket = known * 128 / live;
        if (known == last_known || (bucket == last_bucket && known != live)) return;
        if (row.join_points + 1 >= ScaleRow::kJoinCurvePoints && known != live) return;
        last_known = known;
        last_bucket = bucket;
        row.join_curve[row.join_points++] = {static_cast<std::int32_t>((s.now() - join).count()),
                                             float(double(known) / double(live))};
    };
    row.join_curve[row.join_points++] = {0, 0.0f};
    const bool joined = s.run_until(
        [&] {
            const std::size_t live = live_count(s);
            const std::size_t known = known_by(s, newcomer_id);
            sample(known, live);
            if (s.core(newcomer).state().node_count() != live) return false;
            if (known != live) return false;
            for (std::size_t j = 0; j < s.size(); ++j)
                if (!knows(s, newcomer, s.core(j).state().myself_id())) return false;
            return true;
        },
        limit);
    if (!joined) return finish();
    row.join_ms = (s.now() - join).count();

    // A master with slots is killed; its replica takes over.
    const std::size_t victim = static_cast<std::size_t>(o.seed % masters);
    const NodeId victim_id = master_ids[victim];
    const std::size_t victim_slot = first_slots[victim];
    const auto crash = s.now();
    s.crash(victim);
    if (!s.run_until([&] { return failed_by(s, victim_id) == live_count(s); }, limit))
        return finish();
    row.fail_all_ms = (s.now() - crash).count();
    const bool failed_over = s.run_until(
        [&] {
            for (std::size_t i = 0; i < s.size(); ++i) {
                if (!s.alive(i)) continue;
                const auto& st = s.core(i).state();
                const auto owner = st.slot_owner(victim_slot);
                if (!owner || owner->id() == victim_id || !st.cluster_ok()) return false;
            }
            return true;
        },
        limit);
    if (!failed_over) return finish();
    row.failover_ms = (s.now() - crash).count();
    row.ok = s.codec_errors().empty();
    return finish();
}

// Runs the row in a child process so that its peak RSS is its own.
inline ScaleRow run_scale_row_isolated(std::size_t n, const Options& o) {
    int fds[2];
    if (pipe(fds) != 0) return run_scale_row(n, o);
    std::fflush(stdout);
    const pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return run_scale_row(n, o);
    }
    if (pid == 0) {
        close(fds[0]);
        ScaleRow row = run_scale_row(n, o);
        const auto* p = reinterpret_cast<const char*>(&row);
        std::size_t done = 0;
        while (done < sizeof row) {
            const ssize_t w = write(fds[1], p + done, sizeof row - done);
            if (w <= 0) break;
            done += static_cast<std::size_t>(w);
        }
        _exit(0);
    }
    close(fds[1]);
    ScaleRow row;
    row.nodes = n;
    row.duration_s = o.duration_s;
    auto* p = reinterpret_cast<char*>(&row);
    std::size_t got = 0;
    while (got < sizeof row) {
        const ssize_t r = read(fds[0], p + got, sizeof row - got);
        if (r <= 0) break;
        got += static_cast<std::size_t>(r);
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got != sizeof row) {
        row = ScaleRow{};
        row.nodes = n;
        row.duration_s = o.duration_s;
    }
    return row;
}

inline std::string scale_ms(std::int64_t ms) {
    return ms < 0 ? "-" : fmt::format("{}", ms);
}

inline void print_scale_header() {
    fmt::print(
        "| N | form ms | join converged ms | crash->FAIL all ms | crash->failover ms | "
        "msgs/node/s | bytes/node/s | Redis model msgs/node/s | Redis model bytes/node/s | "
        "simulated s | wall s | CPU s | x real time | idle CPU s | idle x real time | peak RSS MB "
        "| "
        "peak in flight MB |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
}

inline void print_scale_row(const ScaleRow& r) {
    const double sim_s = double(r.simulated_ms) / 1000.0;
    fmt::print(
        "| {} | {} | {} | {} | {} | {:.1f} | {:.0f} | {:.1f} | {:.0f} | {:.1f} | {:.1f} | {:.1f} | "
        "{:.1f} | {:.1f} | {:.1f} | {:.0f} | {:.0f} |{}\n",
        r.nodes, scale_ms(r.form_ms), scale_ms(r.join_ms), scale_ms(r.fail_all_ms),
        scale_ms(r.failover_ms), r.msgs_per_node_s, r.bytes_per_node_s, r.redis_model_msgs,
        r.redis_model_bytes, sim_s, r.wall_s, r.cpu_s, r.wall_s > 0 ? sim_s / r.wall_s : 0.0,
        r.idle_cpu_s, r.idle_cpu_s > 0 ? double(r.duration_s) / r.idle_cpu_s : 0.0,
        double(r.peak_rss_kb) / 1024.0, double(r.peak_in_flight_bytes) / 1048576.0,
        r.ok ? "" : " FAILED");
    std::fflush(stdout);
}

// --scenario=scale --nodes=N: one row. --scenario=scale-table [--sizes=...]: a row per size,
// each in its own process.
inline int run_scale(const Options& o) {
    fmt::print("node timeout {} ms, idle window {} s, seed {}\n", o.node_timeout_ms, o.duration_s,
               o.seed);
    print_scale_header();
    bool ok = true;
    if (o.scenario == "scale") {
        const ScaleRow r = run_scale_row(o.nodes, o);
        print_scale_row(r);
        ok = r.ok;
    } else {
        std::vector<DisseminationCurve> curves;
        for (std::size_t n : o.sizes) {
            const ScaleRow r = run_scale_row_isolated(n, o);
            print_scale_row(r);
            ok = ok && r.ok;
            DisseminationCurve c{n, {}};
            for (std::size_t k = 0; k < r.join_points; ++k)
                c.points.emplace_back(r.join_curve[k].ms, r.join_curve[k].fraction);
            if (r.join_ms >= 0) curves.push_back(std::move(c));
        }
        if (!o.dissemination_svg.empty()) {
            // One-way delays of the simulated network are 1-3 ms: a round trip is 4 ms on average.
            std::ofstream(o.dissemination_svg) << dissemination_svg(curves, 4.0);
            fmt::print("dissemination figure written to {}\n", o.dissemination_svg);
        }
    }
    return ok ? 0 : 1;
}

}  // namespace sim
