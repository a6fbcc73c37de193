// Interop test helpers: CLUSTER NODES replies of either kind of server, split into lines and
// fields.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "process_harness.hpp"

namespace gossipcluster::interop_test {

// One CLUSTER NODES line, split on spaces (8 fields or more).
struct Line {
    std::vector<std::string> f;

    const std::string& id() const { return f[0]; }
    bool has_flag(std::string_view flag) const {
        for (const auto& w : split(f[2], ','))
            if (w == flag) return true;
        return false;
    }
    bool connected() const { return f[7] == "connected" && !has_flag("handshake"); }
    // Connected, out of handshake, and suspected of nothing.
    bool healthy() const {
        return connected() && !has_flag("fail?") && !has_flag("fail") && !has_flag("noaddr");
    }
    bool owns(std::size_t slot) const {
        for (std::size_t i = 8; i < f.size(); ++i) {
            if (f[i].empty() || f[i][0] == '[') continue;  // open slots
            const auto range = split(f[i], '-');
            const std::size_t lo = std::stoul(range[0]);
            const std::size_t hi = range.size() == 2 ? std::stoul(range[1]) : lo;
            if (slot >= lo && slot <= hi) return true;
        }
        return false;
    }
};

// The lines of `s`'s CLUSTER NODES, or nullopt when it does not answer.
inline std::optional<std::vector<Line>> nodes_of(ClusterServer& s) {
    auto r = s.call({"CLUSTER", "NODES"}, std::chrono::milliseconds(2000));
    if (!r || !r->is_bulk()) return std::nullopt;
    std::vector<Line> out;
    for (const auto& l : split(r->text, '\n')) {
        Line line{split(l, ' ')};
        if (line.f.size() >= 8) out.push_back(std::move(line));
    }
    return out;
}

inline const Line* find(const std::vector<Line>& lines, std::string_view id) {
    for (const auto& l : lines)
        if (l.id() == id) return &l;
    return nullptr;
}

}  // namespace gossipcluster::interop_test
