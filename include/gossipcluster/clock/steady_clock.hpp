// SteadyClock: the production Clock, from std::chrono::steady_clock and system_clock.
#pragma once

#include <chrono>
#include <cstdint>

#include "gossipcluster/time.hpp"

namespace gossipcluster {

class SteadyClock {
  public:
    Instant now() const {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now().time_since_epoch());
        return Instant{ms.count() + 1};  // the core reserves 0 for "never"
    }
    std::uint64_t unix_ms() const {
        return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
    }
};

}  // namespace gossipcluster
