// Interop test helpers: running an Asio io_context in real time, bounded.
#pragma once

#include <chrono>

#include <asio.hpp>

namespace gossipcluster::interop_test {

// How long run_until waits by default.
inline constexpr std::chrono::milliseconds kPumpWaitLimit{10000};

// Runs `io` for `d` of real time, even when it has nothing to do.
inline void pump(asio::io_context& io, std::chrono::milliseconds d) {
    asio::steady_timer keep(io, d);
    keep.async_wait([](const asio::error_code&) {});
    io.run_for(d);
    if (io.stopped()) io.restart();
}

// Runs `io` until pred() holds or `limit` of real time has passed.
template <typename Pred>
bool run_until(asio::io_context& io, Pred&& pred,
               std::chrono::milliseconds limit = kPumpWaitLimit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= end) return false;
        pump(io, std::chrono::milliseconds(2));
    }
    return true;
}

}  // namespace gossipcluster::interop_test
