// Raising the open files limit at startup, so that maxclients and the bus links fit in it.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <cstddef>
#include <string>

#include <fmt/format.h>

namespace kvserver {

// Descriptors kept beside the clients: listeners, log and config files, and the cluster bus
// links (a peer may open several while it reconnects).
inline constexpr std::size_t kReservedFds = 32 + 1024;

// Raises the soft RLIMIT_NOFILE towards maxclients + kReservedFds, up to the hard limit, as
// redis-server does at startup. Returns a line for the log when it changed or falls short.
inline std::string raise_open_files_limit(std::size_t maxclients) {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return "Cannot read the open files limit";
    const rlim_t wanted = static_cast<rlim_t>(maxclients + kReservedFds);
    if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur >= wanted) return {};
    const rlim_t old = lim.rlim_cur;
    const rlim_t target = lim.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, lim.rlim_max);
    if (target <= old) {
        return fmt::format(
            "Open files limit {} is below the {} wanted for maxclients {}; the hard limit "
            "does not allow more",
            old, wanted, maxclients);
    }
    lim.rlim_cur = target;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0)
        return fmt::format("Cannot raise the open files limit from {} to {}", old, target);
    return fmt::format(
        "Increased maximum number of open files to {} (it was originally set to {}).", target, old);
}

}  // namespace kvserver
