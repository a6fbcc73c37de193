// An idle cluster's messages are built, sent and received without a heap allocation each.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "gossipcluster/testing/cluster_setup.hpp"
#include "gossipcluster/testing/sim_cluster.hpp"

namespace scenario_allocation_test {

namespace {

std::atomic<bool> counting{false};
std::atomic<std::uint64_t> allocations{0};

// Every global allocation function of this test binary is replaced, all on malloc and free, so
// that no pair ever mixes ours with the library's (or a sanitizer's); only counted while a test
// asks. Out of line, so that no compiler pairs an inlined free() with a `new` it can see.
[[gnu::noinline]] void* allocate(std::size_t size, std::size_t alignment, bool nothrow) {
    if (counting.load(std::memory_order_relaxed))
        allocations.fetch_add(1, std::memory_order_relaxed);
    if (size == 0) size = 1;
    void* p = nullptr;
    if (alignment <= alignof(std::max_align_t))
        p = std::malloc(size);
    else
        p = std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
    if (!p && !nothrow) throw std::bad_alloc();
    return p;
}

[[gnu::noinline]] void release(void* p) noexcept {
    std::free(p);
}

std::size_t align_of(std::align_val_t a) {
    return static_cast<std::size_t>(a);
}

}  // namespace

}  // namespace scenario_allocation_test

// The replacements must be global; they call into this file's namespace.
using scenario_allocation_test::align_of;
using scenario_allocation_test::allocate;
using scenario_allocation_test::release;

void* operator new(std::size_t n) {
    return allocate(n, 0, false);
}
void* operator new[](std::size_t n) {
    return allocate(n, 0, false);
}
void* operator new(std::size_t n, std::align_val_t a) {
    return allocate(n, align_of(a), false);
}
void* operator new[](std::size_t n, std::align_val_t a) {
    return allocate(n, align_of(a), false);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    return allocate(n, 0, true);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    return allocate(n, 0, true);
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return allocate(n, align_of(a), true);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return allocate(n, align_of(a), true);
}
void operator delete(void* p) noexcept {
    release(p);
}
void operator delete[](void* p) noexcept {
    release(p);
}
void operator delete(void* p, std::size_t) noexcept {
    release(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    release(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
    release(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
    release(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    release(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
    release(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
    release(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    release(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    release(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    release(p);
}

namespace scenario_allocation_test {

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

}  // namespace scenario_allocation_test
