// Interop chaos: 12 real processes (3 redis-server shards and 3 gossipcluster-kvserver shards, a
// master and a replica each) through rounds of random kill -9, SIGSTOP / SIGCONT and restarts.
// After every round, within a bound, every node must say cluster_state:ok, see one owner per
// slot, and agree with the others on the slot owners, their config epochs and the replica pairs.
//
// The rounds are drawn from a seed that the test prints; to replay one:
//   GOSSIPCLUSTER_CHAOS_SEED=<seed> build/bin/gossipcluster_interop_tests "[chaos] ..."
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "failover_support.hpp"
#include "process_harness.hpp"

namespace interop_chaos_test {

using namespace gossipcluster::interop_test;
using namespace std::chrono_literals;

namespace {

constexpr int kNodeTimeoutMs = 1000;
// How long a round's recovery may take before the round counts as diverged.
constexpr auto kRecoveryLimit = 30s;

std::uint64_t chaos_seed() {
    if (const char* s = std::getenv("GOSSIPCLUSTER_CHAOS_SEED"); s != nullptr && *s != '\0')
        return std::strtoull(s, nullptr, 10);
    return std::random_device{}();
}

// The role `s` gives itself, for the round log.
std::string role_of(ClusterServer& s) {
    auto nodes = cluster_nodes(s);
    const NodeEntry* me = nodes ? myself_entry(*nodes) : nullptr;
    if (!me) return "?";
    return me->is_master() ? fmt::format("master of {} slots", me->slot_count()) : "replica";
}

// Also required after a round: no running node is flagged fail or fail? by another.
std::string failure_flags(const std::vector<ClusterServer*>& servers,
                          const std::set<std::string>& ids) {
    std::string out;
    for (auto* s : servers) {
        auto nodes = cluster_nodes(*s);
        if (!nodes) {
            out += fmt::format("{}: no CLUSTER NODES reply\n", s->name());
            continue;
        }
        for (const auto& e : *nodes) {
            if (ids.count(e.id) == 0) continue;
            if (e.failing() || e.link != "connected")
                out += fmt::format("{} shows {} as {} ({})\n", s->name(), e.id.substr(0, 8),
                                   fmt::join(e.flags, ","), e.link);
        }
    }
    return out;
}

struct ChaosResult {
    int rounds = 0;
    std::vector<std::string> divergences;
};

class Chaos {
  public:
    explicit Chaos(std::uint64_t seed)
        : seed_(seed),
          rng_(seed),
          cluster_("gossipcluster-chaos",
                   {ServerKind::kRedis, ServerKind::kRedis, ServerKind::kRedis, ServerKind::kKv,
                    ServerKind::kKv, ServerKind::kKv},
                   kNodeTimeoutMs) {
        for (auto* s : cluster_.all())
            ids_.insert(cluster_.id(*s));
    }

    // One round: a fault drawn from the seed, the processes brought back, then a bounded wait
    // for agreement. Returns false (and records why) when the cluster did not recover in time.
    bool round(int n) {
        const auto servers = cluster_.all();
        const std::size_t victim = pick(servers.size());
        ClusterServer& a = *servers[victim];
        const int kind = static_cast<int>(pick(4));
        // How long the fault lasts: from nothing to well past the node timeout (a failover).
        const int down_ms = static_cast<int>(pick(static_cast<std::size_t>(kNodeTimeoutMs) * 3));
        std::string what;
        const std::string role = role_of(a);
        switch (kind) {
            case 0:
            case 1: {
                what =
                    fmt::format("kill -9 {} ({}), restarted after {} ms", a.name(), role, down_ms);
                a.kill();
                std::this_thread::sleep_for(std::chrono::milliseconds(down_ms));
                a.start();
                break;
            }
            case 2: {
                what = fmt::format("SIGSTOP {} ({}), SIGCONT after {} ms", a.name(), role, down_ms);
                cluster_.pause(a);
                std::this_thread::sleep_for(std::chrono::milliseconds(down_ms));
                cluster_.resume(a);
                break;
            }
            default: {
                std::size_t other = pick(servers.size() - 1);
                if (other >= victim) ++other;
                ClusterServer& b = *servers[other];
                what = fmt::format("kill -9 {} ({}) and SIGSTOP {} ({}), both back after {} ms",
                                   a.name(), role, b.name(), role_of(b), down_ms);
                a.kill();
                cluster_.pause(b);
                std::this_thread::sleep_for(std::chrono::milliseconds(down_ms));
                cluster_.resume(b);
                a.start();
                break;
            }
        }
        const auto t0 = std::chrono::steady_clock::now();
        std::string last;
        const bool agreed = wait_until(kRecoveryLimit, 100ms, [&] {
            last = topology_disagreement(servers);
            if (last.empty()) last = failure_flags(servers, ids_);
            return last.empty();
        });
        const double took = ms_since(t0);
        log_ += fmt::format("round {:>2}: {}; {} after {:.0f} ms\n", n, what,
                            agreed ? "agreement" : "NO agreement", took);
        if (!agreed)
            result_.divergences.push_back(fmt::format("round {} ({}): after {:.0f} ms:\n{}{}", n,
                                                      what, took, last, cluster_.dump()));
        ++result_.rounds;
        return agreed;
    }

    const ChaosResult& result() const { return result_; }
    const std::string& log() const { return log_; }
    std::uint64_t seed() const { return seed_; }

  private:
    std::size_t pick(std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
    }

    std::uint64_t seed_;
    std::mt19937_64 rng_;
    ShardedCluster cluster_;
    std::set<std::string> ids_;
    ChaosResult result_;
    std::string log_;
};

// Runs rounds until `max_rounds` or until `budget` has been used (at least one), stopping at the
// first round that does not recover; prints the seed, every round and any divergence.
void run_chaos(int max_rounds, std::chrono::seconds budget) {
    const std::uint64_t seed = chaos_seed();
    WARN(fmt::format("chaos seed {} (replay: GOSSIPCLUSTER_CHAOS_SEED={})", seed, seed));
    const auto t0 = std::chrono::steady_clock::now();
    Chaos chaos(seed);
    const double formed_ms = ms_since(t0);
    for (int n = 1; n <= max_rounds; ++n) {
        if (n > 1 && std::chrono::steady_clock::now() - t0 > budget) break;
        if (!chaos.round(n)) break;
    }
    const auto& r = chaos.result();
    WARN(fmt::format(
        "chaos seed {}: cluster formed in {:.0f} ms, {} round(s) run, {} "
        "divergence(s), {:.1f} s in all\n{}",
        seed, formed_ms, r.rounds, r.divergences.size(), ms_since(t0) / 1000, chaos.log()));
    for (const auto& d : r.divergences)
        FAIL_CHECK("divergence (seed " << seed << "), " << d);
    CHECK(r.divergences.empty());
    CHECK(r.rounds >= 1);
}

}  // namespace

TEST_CASE("[chaos] 6 redis-server and 6 kvserver processes recover from kill -9 and SIGSTOP rounds",
          "[interop][chaos]") {
    // As many rounds as fit in the CI budget: a new round starts only in the first 14 s.
    run_chaos(50, 14s);
}

TEST_CASE("[chaos] 50 rounds of kill -9 and SIGSTOP on 6 redis-server and 6 kvserver processes",
          "[interop][chaos][.long]") {
    run_chaos(50, std::chrono::seconds(3600));
}

}  // namespace interop_chaos_test
