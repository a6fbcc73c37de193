// Membership at scale: hundreds of nodes converge, and a newcomer spreads within the goal.
#include <catch2/catch.hpp>

#include <gossipcluster/testing/convergence.hpp>

using namespace gossipcluster;
using namespace gossipcluster::testing;
using namespace std::chrono_literals;

TEST_CASE("[scale] 200 nodes converge from MEETs through one node", "[sim]") {
    SimCluster sim({.seed = 200});
    for (int i = 0; i < 200; ++i)
        sim.add_node();
    for (std::size_t i = 1; i < 200; ++i)
        REQUIRE(sim.meet(i, 0).ok);
    REQUIRE(sim.run_until([&] { return membership_converged(sim); }, 120s));
    CHECK(sim.codec_errors().empty());
}

TEST_CASE("[scale] a node MEETed into 30 nodes is known by all within 1000 ms", "[sim]") {
    auto seed = GENERATE(1, 2, 3, 4, 5);
    CAPTURE(seed);
    SimCluster sim({.seed = static_cast<std::uint64_t>(seed)});
    for (int i = 0; i < 30; ++i)
        sim.add_node();
    for (std::size_t i = 1; i < 30; ++i)
        REQUIRE(sim.meet(i, 0).ok);
    REQUIRE(sim.run_until([&] { return membership_converged(sim); }, 60s));
    sim.run_for(20s);
    const std::size_t newcomer = sim.add_node();
    const Instant start = sim.now();
    REQUIRE(sim.meet(static_cast<std::size_t>(seed) % 30, newcomer).ok);
    REQUIRE(sim.run_until([&] { return membership_converged(sim); }, 60s));
    CHECK((sim.now() - start).count() <= 1000);
}
