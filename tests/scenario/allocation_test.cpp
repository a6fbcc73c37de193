// An idle cluster's messages are built, sent and received without a heap allocation each.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

#include "gossipcluster/testing/cluster_setup.hpp"
#include "gossipcluster/testing/sim_cluster.hpp"

namespace {
std::atomic<bool> counting{false};
std::atomic<std::uint64_t> allocations{0};
}  // namespace

// Every plain `new` of this test binary goes through here; only counted while a test asks.
void* operator new(std::size_t size) {
    if (counting.load(std::memory_order_relaxed))
        allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

using namespace gossipcluster;
using namespace gossipcluster::testing;
using namespace std::chrono_literals;

TEST_CASE("[simulator] an idle cluster sends its messages without an allocation each",
          "[scenario]") {
    SimCluster sim({.seed = 59});
    ClusterShape shape;
    shape.masters = 15;
    shape.replicas_per_master = 1;
    REQUIRE(form_cluster(sim, shape, 120s));
    sim.run_for(20s);  // buffers grow to their working size

    std::uint64_t sent0 = 0;
    for (std::size_t i = 0; i < sim.size(); ++i)
        sent0 += sim.stats(i).messages_sent;
    allocations = 0;
    counting = true;
    sim.run_for(30s);
    counting = false;
    std::uint64_t sent = 0;
    for (std::size_t i = 0; i < sim.size(); ++i)
        sent += sim.stats(i).messages_sent;
    sent -= sent0;

    INFO(sent << " messages, " << allocations.load() << " allocations");
    REQUIRE(sent > 1000);
    // Encoding, delivery, decoding, the gossip sections and the batch of actions all reuse
    // their buffers; what allocates is rare (a timer queue growing, an event).
    CHECK(allocations.load() * 50 < sent);
}
