// ConnectBackoff: per-destination exponential backoff with jitter for outbound connection attempts.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "gossipcluster/detail/prng.hpp"

namespace gossipcluster::detail {

// The core asks for a connection to a peer it lost on every cron tick (100 ms by default). A dead
// peer would then see ten SYNs a second from every node; this table spaces real attempts out
// instead: after a failed attempt the next one may start no earlier than `delay` later, where
// `delay` doubles from `initial` up to `max` with each failure and is drawn uniformly from
// [delay / 2, delay] so that nodes that lost the same peer together do not retry in lockstep. A
// connection that succeeds forgets the destination's history. An `initial` of zero disables it.
//
// Memory is bounded by the number of destinations that failed within the last `max`: entries
// whose window has passed are swept once the table has doubled since the last sweep.
class ConnectBackoff {
  public:
    using TimePoint = std::chrono::steady_clock::time_point;
    using Ms = std::chrono::milliseconds;

    ConnectBackoff(Ms initial, Ms max, std::uint64_t seed)
        : initial_(std::max(initial, Ms{0})), max_(std::max(max, initial_)), prng_(seed) {}

    // How long an attempt to `key` must still wait at `now`; zero when it may start at once.
    Ms wait(const std::string& key, TimePoint now) const {
        auto it = entries_.find(key);
        if (it == entries_.end() || it->second.not_before <= now) return Ms{0};
        return std::chrono::ceil<Ms>(it->second.not_before - now);
    }

    // An attempt to `key` failed at `now`: widen its window. Returns the wait just chosen.
    Ms failure(const std::string& key, TimePoint now) {
        sweep(now);
        Entry& e = entries_[key];
        e.delay = e.delay.count() == 0 ? initial_ : std::min(e.delay * 2, max_);
        const std::int64_t full = e.delay.count();
        const Ms chosen{full - static_cast<std::int64_t>(
                                   prng_.below(static_cast<std::uint64_t>(full / 2) + 1))};
        e.not_before = now + chosen;
        return chosen;
    }

    // An attempt to `key` succeeded: the next failure starts again from `initial`.
    void success(const std::string& key) { entries_.erase(key); }

    std::size_t size() const { return entries_.size(); }
    // The delay the last failure to `key` doubled to (zero when it has no history).
    Ms current_delay(const std::string& key) const {
        auto it = entries_.find(key);
        return it == entries_.end() ? Ms{0} : it->second.delay;
    }

  private:
    struct Entry {
        Ms delay{0};
        TimePoint not_before{};
    };

    // An entry nobody retried within `max` after its window closed is no longer being backed
    // off; dropping it only means that the destination's next failure starts from `initial`.
    void sweep(TimePoint now) {
        if (entries_.size() < sweep_at_) return;
        std::erase_if(entries_, [&](const auto& kv) { return kv.second.not_before + max_ < now; });
        sweep_at_ = std::max<std::size_t>(kMinSweep, entries_.size() * 2);
    }

    static constexpr std::size_t kMinSweep = 64;

    Ms initial_;
    Ms max_;
    Prng prng_;
    std::map<std::string, Entry> entries_;
    std::size_t sweep_at_ = kMinSweep;
};

}  // namespace gossipcluster::detail
