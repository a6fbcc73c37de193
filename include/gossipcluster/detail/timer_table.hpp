// TimerTable: one named deadline per purpose; the core's next wake-up is the earliest of them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace gossipcluster::detail {

// Why the core wants to be woken. Each purpose owns one deadline and only its owner moves it, so
// arming one can never cancel another (with a single shared deadline, the cron's overwrite once
// dropped an election's wake-up).
enum class Timer : std::uint8_t {
    Wake,           // as soon as the host ticks: a command or an event wants the cron to run now
    Scan,           // the first node due in the cron's scan (a ping, a PFAIL, a handshake expiry)
    Housekeeping,   // the once-a-second work: random ping, health pass, migration survey
    Periodic,       // every cron period while something time-driven is under way
    Election,       // this replica's election may send its request
    ElectionRetry,  // a contested election asks again at a new epoch
};

inline constexpr std::size_t kTimerCount = 6;

class TimerTable {
  public:
    static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

    // Arms (or moves) the timer to `at`.
    void set(Timer timer, std::int64_t at) { at_[index(timer)] = at; }
    // Brings the timer forward to `at` if it is armed later or not at all.
    void lower(Timer timer, std::int64_t at) {
        std::int64_t& slot = at_[index(timer)];
        if (at < slot) slot = at;
    }
    void cancel(Timer timer) { at_[index(timer)] = kNever; }
    std::int64_t at(Timer timer) const { return at_[index(timer)]; }
    bool armed(Timer timer) const { return at(timer) != kNever; }
    bool expired(Timer timer, std::int64_t now) const { return at(timer) <= now; }

    // The earliest armed deadline (kNever when none is).
    std::int64_t next() const {
        std::int64_t earliest = kNever;
        for (const std::int64_t t : at_)
            if (t < earliest) earliest = t;
        return earliest;
    }

    // Disarms every timer due at `now`: the cron that runs now does their work, and what is
    // still pending afterwards is armed again by its owner.
    void cancel_expired(std::int64_t now) {
        for (std::int64_t& t : at_)
            if (t <= now) t = kNever;
    }

  private:
    static std::size_t index(Timer timer) { return static_cast<std::size_t>(timer); }

    std::array<std::int64_t, kTimerCount> at_ = filled();

    static constexpr std::array<std::int64_t, kTimerCount> filled() {
        std::array<std::int64_t, kTimerCount> a{};
        for (auto& t : a)
            t = kNever;
        return a;
    }
};

}  // namespace gossipcluster::detail
