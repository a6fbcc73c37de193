// ManualClock: a Clock that moves only when the test says so; copies share one timeline.
#pragma once

#include <cstdint>
#include <memory>

#include "gossipcluster/time.hpp"

namespace gossipcluster::testing {

class ManualClock {
  public:
    // Starts at monotonic 1 s (the core reserves 0) and at a fixed, plausible wall time.
    explicit ManualClock(Instant start = Instant{1000},
                         std::uint64_t unix_start_ms = 1'790'000'000'000)
        : t_(std::make_shared<Timeline>(
              Timeline{start, unix_start_ms - static_cast<std::uint64_t>(start.ms)})) {}

    Instant now() const { return t_->mono; }
    std::uint64_t unix_ms() const {
        return static_cast<std::uint64_t>(t_->mono.ms) + t_->unix_offset +
               static_cast<std::uint64_t>(skew_ms_);
    }

    void advance(Duration d) { t_->mono = t_->mono + d; }
    void set(Instant t) { t_->mono = t; }
    // This copy's wall clock runs ahead (or behind, negative) of the shared one.
    void set_wall_skew(std::int64_t ms) { skew_ms_ = ms; }

  private:
    struct Timeline {
        Instant mono;
        std::uint64_t unix_offset;
    };
    std::shared_ptr<Timeline> t_;
    std::int64_t skew_ms_ = 0;
};

}  // namespace gossipcluster::testing
