// Helpers shared by the unit tests that drive one ClusterState by hand: clock readings, a config.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "gossipcluster/cluster_state.hpp"

namespace gossipcluster::test_support {

// The wall clock when the monotonic clock reads 0.
inline constexpr std::uint64_t kUnixAtZero = 1'790'000'000'000ull;

inline Now at(std::int64_t ms) {
    return Now{Instant{ms}, kUnixAtZero + static_cast<std::uint64_t>(ms)};
}

// A node on ports 7000 / 17000 that announces `ip`.
inline Config config_announcing(std::string ip) {
    Config c;
    c.port = 7000;
    c.cport = 17000;
    c.announce_ip = std::move(ip);
    return c;
}

}  // namespace gossipcluster::test_support
