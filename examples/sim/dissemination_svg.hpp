// The dissemination figure: fraction of nodes that know a newcomer vs time, one curve per N.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "svg_plot.hpp"

namespace sim {

struct DisseminationCurve {
    std::size_t nodes = 0;                          // cluster size before the newcomer joined
    std::vector<std::pair<double, double>> points;  // (ms since MEET, fraction that knows it)
};

// Epidemic spreading takes about log2(N) rounds. A round of ours is a message round trip (news is
// pushed at once), so each curve's mark sits at log2(N) round trips of the simulated network;
// Redis's rounds are its once-a-second random pings, log2(N) seconds, far off this scale.
inline std::string dissemination_svg(const std::vector<DisseminationCurve>& curves,
                                     double round_trip_ms) {
    static const char* const kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                          "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
    std::vector<Series> series;
    std::vector<VerticalMark> marks;
    int row = 0;
    for (const auto& c : curves) {
        const std::string color = kColors[series.size() % std::size(kColors)];
        series.push_back({fmt::format("N = {}", c.nodes), color, c.points});
        const double log2n = std::log2(double(c.nodes));
        marks.push_back({log2n * round_trip_ms,
                         fmt::format("log2({}) = {:.1f} round trips", c.nodes, log2n), color,
                         row++});
    }
    return svg_plot("Nodes that know a newcomer after its MEET", "ms since MEET",
                    "fraction of nodes that know it", series, marks, 1.0);
}

}  // namespace sim
