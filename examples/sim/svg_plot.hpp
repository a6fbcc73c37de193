// A tiny SVG line plot writer for the simulator's figures (no dependencies).
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace sim {

struct Series {
    std::string label;
    std::string color;
    std::vector<std::pair<double, double>> points;  // (x, y)
};

struct VerticalMark {
    double x;
    std::string label;
    std::string color = "#c33";
    int row = 0;  // labels of marks close together go on separate rows, 16 px apart
};

inline std::string svg_plot(const std::string& title, const std::string& x_label,
                            const std::string& y_label, const std::vector<Series>& series,
                            const std::vector<VerticalMark>& marks, double y_max) {
    const double w = 720, h = 420, left = 70, right = 20, top = 40, bottom = 60;
    double x_max = 1;
    for (const auto& s : series)
        for (const auto& p : s.points)
            x_max = std::max(x_max, p.first);
    for (const auto& m : marks)
        x_max = std::max(x_max, m.x);
    x_max *= 1.05;
    auto px = [&](double x) { return left + x / x_max * (w - left - right); };
    auto py = [&](double y) { return h - bottom - y / y_max * (h - top - bottom); };
    std::string out = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
        "font-family=\"sans-serif\" "
        "font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        "<text x=\"{}\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">{}</text>\n",
        w, h, w / 2, title);
    out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n", left,
                       h - bottom, w - right, h - bottom);
    out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n", left,
                       top, left, h - bottom);
    for (int i = 0; i <= 5; ++i) {
        double xv = x_max * i / 5, yv = y_max * i / 5;
        out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{:.0f}</text>\n",
                           px(xv), h - bottom + 18, xv);
        out += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:.2g}</text>\n",
                           left - 6, py(yv) + 4, yv);
        out +=
            fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n",
                        left, py(yv), w - right, py(yv));
    }
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                       (left + w - right) / 2, h - 15, x_label);
    out += fmt::format(
        "<text x=\"18\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 18 "
        "{})\">{}</text>\n",
        (top + h - bottom) / 2, (top + h - bottom) / 2, y_label);
    for (const auto& m : marks) {
        // Labels near the right edge go to the left of their line so they stay inside the plot.
        const bool on_left = px(m.x) > w / 2;
        out += fmt::format(
            "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"{7}\" "
            "stroke-dasharray=\"5,4\"/>\n<text x=\"{3:.1f}\" y=\"{4}\" fill=\"{7}\" "
            "text-anchor=\"{5}\">{6}</text>\n",
            px(m.x), top, h - bottom, on_left ? px(m.x) - 4 : px(m.x) + 4,
            h - bottom - 10 - 16 * m.row, on_left ? "end" : "start", m.label, m.color);
    }
    int legend = 0;
    for (const auto& s : series) {
        std::string pts;
        for (const auto& p : s.points)
            pts += fmt::format("{:.1f},{:.1f} ", px(p.first), py(p.second));
        out += fmt::format(
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n", s.color,
            pts);
        out += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"{}\">{}</text>\n", w - right - 200,
                           top + 30 + 16 * legend++, s.color, s.label);
    }
    out += "</svg>\n";
    return out;
}

}  // namespace sim
