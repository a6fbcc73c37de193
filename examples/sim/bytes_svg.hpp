// The idle-cost figure: bus bytes per node and second against N, measured vs Redis's wire model.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <gossipcluster/testing/convergence.hpp>
#include <gossipcluster/testing/sim_cluster.hpp>

namespace sim {

// Redis's idle wire cost at N nodes: each node pings every peer once per node_timeout/2 and gets
// a PONG back, each message a 2256-byte header plus max(3, N/10) gossip entries of 104 bytes.
inline double redis_model_bytes(std::size_t n, std::int64_t timeout_ms) {
    double entries =
        std::min<double>(std::max<double>(3, std::floor(double(n) / 10.0)), double(n) - 2);
    double msg = 2256 + 104 * std::max(0.0, entries);
    double pings_per_s = double(n - 1) / (double(timeout_ms) / 2000.0);
    return 2 * pings_per_s * msg;
}

struct BytesPoint {
    std::size_t nodes = 0;
    double ours = 0;         // encoded bus bytes sent per node and second, measured
    double redis_model = 0;  // redis_model_bytes at the same N and timeout
};

struct BytesCurve {
    std::int64_t node_timeout_ms = 0;
    std::string color;
    std::vector<BytesPoint> points;
};

// N nodes MEET one node, converge, idle one node timeout, then count bytes for `duration`.
// Returns -1 when the cluster does not form.
inline double measure_idle_bytes(std::size_t n, std::int64_t timeout_ms, std::uint64_t seed,
                                 std::chrono::seconds duration) {
    using namespace gossipcluster;
    using namespace gossipcluster::testing;
    SimCluster s({.seed = seed});
    Config c;
    c.node_timeout = Duration{timeout_ms};
    for (std::size_t i = 0; i < n; ++i)
        s.add_node(c);
    for (std::size_t i = 1; i < n; ++i)
        (void)s.meet(0, i);
    if (!s.run_until([&] { return membership_converged(s); }, std::chrono::minutes(30))) return -1;
    s.run_for(Duration{timeout_ms});
    std::uint64_t before = 0, after = 0;
    for (std::size_t i = 0; i < n; ++i)
        before += s.stats(i).bytes_sent;
    s.run_for(duration);
    for (std::size_t i = 0; i < n; ++i)
        after += s.stats(i).bytes_sent;
    return double(after - before) / (double(n) * double(duration.count()));
}

namespace detail {

inline std::string bytes_label(double v) {
    if (v >= 1e6) return fmt::format("{:g} MB/s", v / 1e6);
    if (v >= 1e3) return fmt::format("{:g} kB/s", v / 1e3);
    return fmt::format("{:g} B/s", v);
}

}  // namespace detail

// Log-log plot: per timeout, a solid line (ours, measured) and a dashed one (Redis model).
inline std::string bytes_svg(const std::string& title, const std::vector<BytesCurve>& curves) {
    const double w = 760, h = 480, left = 90, right = 30, top = 45, bottom = 60;
    double x_lo = 1e9, x_hi = 1, y_lo = 1e18, y_hi = 1;
    for (const auto& c : curves)
        for (const auto& p : c.points) {
            x_lo = std::min(x_lo, double(p.nodes));
            x_hi = std::max(x_hi, double(p.nodes));
            for (double v : {p.ours, p.redis_model})
                if (v > 0) y_lo = std::min(y_lo, v), y_hi = std::max(y_hi, v);
        }
    if (x_lo > x_hi) x_lo = 1, x_hi = 10;
    if (y_lo > y_hi) y_lo = 1, y_hi = 10;
    // Whole decades on both axes.
    const double dx0 = std::floor(std::log10(x_lo)),
                 dx1 = std::max(dx0 + 1, std::ceil(std::log10(x_hi)));
    const double dy0 = std::floor(std::log10(y_lo)),
                 dy1 = std::max(dy0 + 1, std::ceil(std::log10(y_hi)));
    auto px = [&](double x) {
        return left + (std::log10(x) - dx0) / (dx1 - dx0) * (w - left - right);
    };
    auto py = [&](double y) {
        return h - bottom - (std::log10(y) - dy0) / (dy1 - dy0) * (h - top - bottom);
    };
    std::string out = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
        "font-family=\"sans-serif\" font-size=\"12\">\n"
        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        "<text x=\"{}\" y=\"24\" font-size=\"15\" text-anchor=\"middle\">{}</text>\n",
        w, h, w / 2, title);
    for (double d = dx0; d <= dx1; ++d) {
        for (int m = 1; m < 10; ++m) {
            const double x = std::pow(10.0, d) * m;
            if (d == dx1 && m > 1) break;
            const bool major = m == 1;
            out += fmt::format(
                "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"{3}\"/>\n",
                px(x), top, h - bottom, major ? "#cccccc" : "#f0f0f0");
            if (major || m == 3)
                out +=
                    fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{:g}</text>\n",
                                px(x), h - bottom + 18, x);
        }
    }
    for (double d = dy0; d <= dy1; ++d) {
        for (int m = 1; m < 10; ++m) {
            const double y = std::pow(10.0, d) * m;
            if (d == dy1 && m > 1) break;
            const bool major = m == 1;
            out += fmt::format(
                "<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"{3}\"/>\n",
                left, py(y), w - right, major ? "#cccccc" : "#f0f0f0");
            if (major)
                out += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n",
                                   left - 6, py(y) + 4, detail::bytes_label(y));
        }
    }
    out += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"black\"/>\n",
        left, top, w - left - right, h - top - bottom);
    out += fmt::format(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">nodes in the cluster (N)</text>\n",
        (left + w - right) / 2, h - 18);
    out += fmt::format(
        "<text x=\"18\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {0})\">"
        "idle bus bytes sent per node and second</text>\n",
        (top + h - bottom) / 2);
    out += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"370\" height=\"{}\" fill=\"white\" "
        "stroke=\"#cccccc\"/>\n",
        left + 6, top + 8, 36 * curves.size() + 6);
    int legend = 0;
    for (const auto& c : curves) {
        for (int redis = 0; redis < 2; ++redis) {
            std::string pts, dots;
            for (const auto& p : c.points) {
                const double v = redis ? p.redis_model : p.ours;
                if (v <= 0) continue;
                pts += fmt::format("{:.1f},{:.1f} ", px(double(p.nodes)), py(v));
                dots += redis ? fmt::format(
                                    "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"7\" height=\"7\" "
                                    "fill=\"white\" stroke=\"{}\" stroke-width=\"1.5\"/>\n",
                                    px(double(p.nodes)) - 3.5, py(v) - 3.5, c.color)
                              : fmt::format(
                                    "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"{}\"/>\n",
                                    px(double(p.nodes)), py(v), c.color);
            }
            const char* dash = redis ? " stroke-dasharray=\"7,5\"" : "";
            out += fmt::format(
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} points=\"{}\"/>\n{}",
                c.color, dash, pts, dots);
            const double ly = top + 20 + 18 * legend++;
            out += fmt::format(
                "<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"{}\" "
                "stroke-width=\"2\"{}/>\n<text x=\"{}\" y=\"{:.1f}\">{}, node timeout {} "
                "ms</text>\n",
                left + 12, ly, left + 42, ly, c.color, dash, left + 50, ly + 4,
                redis ? "Redis 7.0 wire model" : "gossipcluster (simulated)", c.node_timeout_ms);
        }
    }
    out += "</svg>\n";
    return out;
}

}  // namespace sim
