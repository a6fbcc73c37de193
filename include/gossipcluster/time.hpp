// Time as the core sees it: a monotonic Instant for timers, plus unix wall time for the wire.
#pragma once

#include <chrono>
#include <cstdint>

namespace gossipcluster {

using Duration = std::chrono::milliseconds;

// A point on a monotonic millisecond timeline. The core requires it to be positive: zero is
// reserved internally to mean "never".
struct Instant {
    std::int64_t ms = 0;

    friend constexpr auto operator<=>(Instant, Instant) = default;
    friend constexpr Instant operator+(Instant a, Duration d) { return {a.ms + d.count()}; }
    friend constexpr Instant operator-(Instant a, Duration d) { return {a.ms - d.count()}; }
    friend constexpr Duration operator-(Instant a, Instant b) { return Duration{a.ms - b.ms}; }
};

// Everything the core needs to know about "now". The wall clock is only used where the wire or
// nodes.conf carry wall time (gossip pong times in seconds, nodes.conf milliseconds).
struct Now {
    Instant mono;
    std::uint64_t unix_ms = 0;
};

}  // namespace gossipcluster
