// client-output-buffer-limit: how much unsent output a Pub/Sub subscriber may hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gossipcluster/commands/arguments.hpp"

namespace kvserver {

// A subscriber is closed when its pending output exceeds `hard` bytes, or stays above `soft`
// bytes for more than `soft_seconds`; 0 disables either limit. The defaults are redis-server's
// for the pubsub class.
struct OutputBufferLimit {
    std::size_t hard = std::size_t{32} << 20;
    std::size_t soft = std::size_t{8} << 20;
    std::int64_t soft_seconds = 60;
};

// Parses "client-output-buffer-limit <class> <hard> <soft> <seconds> [<class> ...]" values
// into the pubsub class's limit (the normal and replica classes are accepted and have no effect
// here). `parse_size` is the server's size parser (k, kb, mb, ... units). Returns the error text.
template <typename SizeParser>
std::optional<std::string> parse_output_buffer_limits(const std::vector<std::string>& values,
                                                      SizeParser parse_size,
                                                      OutputBufferLimit& pubsub) {
    if (values.empty() || values.size() % 4 != 0)
        return "needs <class> <hard limit> <soft limit> <soft seconds>, repeated per class";
    OutputBufferLimit parsed = pubsub;
    for (std::size_t i = 0; i < values.size(); i += 4) {
        const std::string cls = gossipcluster::to_lower_ascii(values[i]);
        if (cls != "normal" && cls != "replica" && cls != "slave" && cls != "pubsub")
            return "needs a class of normal, replica or pubsub";
        const auto hard = parse_size(values[i + 1]);
        const auto soft = parse_size(values[i + 2]);
        const auto seconds = gossipcluster::parse_int64_strict(values[i + 3]);
        if (!hard || !soft || !seconds || *seconds < 0)
            return "needs sizes and a number of seconds";
        if (cls == "pubsub") parsed = OutputBufferLimit{*hard, *soft, *seconds};
    }
    pubsub = parsed;
    return std::nullopt;
}

}  // namespace kvserver
