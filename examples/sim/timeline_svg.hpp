// The failover timeline figure: what each node saw after a master was killed, from core events.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <gossipcluster/event.hpp>
#include <gossipcluster/testing/sim_cluster.hpp>

#include "svg_plot.hpp"

namespace sim {

enum class TimelineMark {
    killed,
    pfail,
    fail_quorum,
    fail_message,
    election,
    vote,
    won,
    owner,
    ok
};

struct TimelineRow {
    std::string label;
    std::vector<std::pair<double, TimelineMark>> marks;  // (ms since the kill, what)
};

namespace detail {

struct MarkStyle {
    const char* legend;
    const char* color;
    int lane;  // 0 (top) to 5: each kind its own lane, so events at the same time stay visible
};

inline MarkStyle mark_style(TimelineMark m) {
    switch (m) {
        case TimelineMark::killed:
            return {"killed (kill -9)", "#000000", 2};
        case TimelineMark::pfail:
            return {"PFAIL (own timeout)", "#ff7f0e", 0};
        case TimelineMark::fail_quorum:
            return {"FAIL (own quorum)", "#d62728", 1};
        case TimelineMark::fail_message:
            return {"FAIL (from a FAIL message)", "#d62728", 1};
        case TimelineMark::election:
            return {"asked for votes", "#9467bd", 2};
        case TimelineMark::vote:
            return {"voted", "#2ca02c", 2};
        case TimelineMark::won:
            return {"won the election", "#9467bd", 3};
        case TimelineMark::owner:
            return {"learnt the new owner", "#1f77b4", 4};
        case TimelineMark::ok:
            return {"cluster state ok", "#17becf", 5};
    }
    return {"?", "#888888", 0};
}

// One marker centred on (x, y); shapes differ as well as colours so the figure reads in grey.
inline std::string marker(TimelineMark m, double x, double y) {
    const MarkStyle s = mark_style(m);
    switch (m) {
        case TimelineMark::killed:
            return fmt::format(
                "<path d=\"M{0:.1f},{1:.1f} l10,10 m0,-10 l-10,10\" stroke=\"{2}\" "
                "stroke-width=\"2.5\"/>\n",
                x - 5, y - 5, s.color);
        case TimelineMark::pfail:
            return fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"5\" fill=\"{}\"/>\n", x, y,
                               s.color);
        case TimelineMark::fail_quorum:
            return fmt::format(
                "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"10\" height=\"10\" fill=\"{}\"/>\n", x - 5,
                y - 5, s.color);
        case TimelineMark::fail_message:
            return fmt::format(
                "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"9\" height=\"9\" fill=\"white\" "
                "stroke=\"{}\" stroke-width=\"2\"/>\n",
                x - 4.5, y - 4.5, s.color);
        case TimelineMark::election:
            return fmt::format(
                "<path d=\"M{:.1f},{:.1f} l6,10 h-12 z\" fill=\"white\" stroke=\"{}\" "
                "stroke-width=\"2\"/>\n",
                x, y - 6, s.color);
        case TimelineMark::vote:
            return fmt::format("<path d=\"M{:.1f},{:.1f} l6,6 l-6,6 l-6,-6 z\" fill=\"{}\"/>\n", x,
                               y - 6, s.color);
        case TimelineMark::won:
            return fmt::format("<path d=\"M{:.1f},{:.1f} l7,12 h-14 z\" fill=\"{}\"/>\n", x, y - 7,
                               s.color);
        case TimelineMark::owner:
            return fmt::format(
                "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"4\" height=\"14\" fill=\"{}\"/>\n", x - 2,
                y - 7, s.color);
        case TimelineMark::ok:
            return fmt::format(
                "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"5\" fill=\"white\" stroke=\"{}\" "
                "stroke-width=\"2\"/>\n",
                x, y, s.color);
    }
    return {};
}

// A round tick step giving about `want` ticks over [0, span].
inline double nice_step(double span, int want) {
    const double raw = span / want;
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    for (double f : {1.0, 2.0, 5.0, 10.0})
        if (raw <= f * mag) return f * mag;
    return 10 * mag;
}

}  // namespace detail

// One row per node, markers on a shared "ms since the kill" axis, dashed lines for `lines`.
inline std::string timeline_svg(const std::string& title, const std::vector<TimelineRow>& rows,
                                const std::vector<VerticalMark>& lines) {
    const double w = 1000, left = 230, right = 30, top = 50, lane_h = 11, row_h = 6 * lane_h + 12;
    const double plot_h = row_h * double(std::max<std::size_t>(rows.size(), 1));
    const double legend_top = top + plot_h + 50;
    const double h = legend_top + 3 * 22 + 10;
    double x_max = 1;
    for (const auto& r : rows)
        for (const auto& m : r.marks)
            x_max = std::max(x_max, m.first);
    for (const auto& l : lines)
        x_max = std::max(x_max, l.x);
    const double step = detail::nice_step(x_max * 1.05, 8);
    x_max = std::ceil(x_max * 1.05 / step) * step;
    auto px = [&](double x) { return left + 12 + x / x_max * (w - left - right - 12); };

    std::string out = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
        "font-family=\"sans-serif\" font-size=\"12\">\n"
        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        "<text x=\"{}\" y=\"24\" font-size=\"15\" text-anchor=\"middle\">{}</text>\n",
        w, h, w / 2, title);
    // Row bands first, then the grid over them, then the markers on top.
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const double y0 = top + row_h * double(i);
        out += fmt::format(
            "<rect x=\"{}\" y=\"{:.1f}\" width=\"{}\" height=\"{:.1f}\" fill=\"{}\"/>\n"
            "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n",
            left, y0, w - left - right, row_h, i % 2 ? "#ffffff" : "#f2f2f2", left - 8,
            y0 + row_h / 2 + 4, rows[i].label);
    }
    for (double x = 0; x <= x_max + step / 2; x += step) {
        out += fmt::format(
            "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#dddddd\"/>\n"
            "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4:.0f}</text>\n",
            px(x), top, top + plot_h, top + plot_h + 18, x);
    }
    out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n", left,
                       top + plot_h, w - right, top + plot_h);
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">ms since the kill</text>\n",
                       (left + w - right) / 2, top + plot_h + 38);
    for (const auto& l : lines) {
        const bool on_left = px(l.x) > (left + w) / 2;
        out += fmt::format(
            "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#555555\" "
            "stroke-dasharray=\"5,4\"/>\n<text x=\"{3:.1f}\" y=\"{4}\" fill=\"#555555\" "
            "text-anchor=\"{5}\">{6}</text>\n",
            px(l.x), top - 6, top + plot_h, on_left ? px(l.x) - 4 : px(l.x) + 4, top - 10,
            on_left ? "end" : "start", l.label);
    }
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const double y0 = top + row_h * double(i);
        for (const auto& [t, m] : rows[i].marks)
            out += detail::marker(m, px(t), y0 + 6 + lane_h * (0.5 + detail::mark_style(m).lane));
    }
    const TimelineMark kinds[] = {
        TimelineMark::killed,       TimelineMark::pfail,    TimelineMark::fail_quorum,
        TimelineMark::fail_message, TimelineMark::election, TimelineMark::vote,
        TimelineMark::won,          TimelineMark::owner,    TimelineMark::ok};
    for (std::size_t k = 0; k < std::size(kinds); ++k) {
        const double x = 40 + 280 * double(k % 3), y = legend_top + 22 * double(k / 3);
        out += detail::marker(kinds[k], x, y);
        out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", x + 14, y + 4,
                           detail::mark_style(kinds[k]).legend);
    }
    out += "</svg>\n";
    return out;
}

// Collects the events of the first failover of a simulator run (install observer() before the
// run, call crashed() just before the kill and ended() once every node is ok again).
class FailoverRecorder {
  public:
    gossipcluster::testing::SimCluster::Observer observer() {
        return [this](std::size_t node, gossipcluster::Instant at, const gossipcluster::Event& e) {
            on_event(node, at, e);
        };
    }

    void crashed(gossipcluster::testing::SimCluster& s, std::size_t victim) {
        if (armed_) return;
        armed_ = true;
        crash_ms_ = s.now().ms;
        victim_ = s.core(victim).state().myself_id();
        rows_.assign(s.size(), {});
        for (std::size_t i = 0; i < s.size(); ++i) {
            if (!s.alive(i)) {
                rows_[i].label = fmt::format("node {}: down", i);
                continue;
            }
            const gossipcluster::NodeView me = s.core(i).state().myself();
            if (i == victim) {
                rows_[i].label = fmt::format("node {}: master (killed)", i);
                rows_[i].marks.push_back({0.0, TimelineMark::killed});
            } else if (me.is_master()) {
                rows_[i].label = fmt::format("node {}: master", i);
            } else if (me.master() && *me.master() == victim_) {
                rows_[i].label = fmt::format("node {}: replica of node {}", i, victim);
            } else {
                rows_[i].label = fmt::format("node {}: replica", i);
            }
        }
        seen_owner_.assign(s.size(), false);
        seen_ok_.assign(s.size(), false);
    }

    void ended(gossipcluster::Instant at) {
        if (armed_ && end_ms_ < 0) end_ms_ = at.ms;
    }

    bool complete() const { return armed_ && end_ms_ >= 0; }
    double end_ms() const { return double(end_ms_ - crash_ms_); }
    const std::vector<TimelineRow>& rows() const { return rows_; }

  private:
    void on_event(std::size_t node, gossipcluster::Instant at, const gossipcluster::Event& e) {
        namespace ev = gossipcluster::event;
        if (!armed_ || node >= rows_.size() || (end_ms_ >= 0 && at.ms > end_ms_)) return;
        const double t = double(at.ms - crash_ms_);
        auto add = [&](TimelineMark m) {
            // A failover has a handful of events per node; the bound only guards odd runs.
            if (rows_[node].marks.size() < 64) rows_[node].marks.push_back({t, m});
        };
        if (const auto* p = std::get_if<ev::NodePfail>(&e); p && p->node == victim_) {
            add(TimelineMark::pfail);
        } else if (const auto* f = std::get_if<ev::NodeFailed>(&e); f && f->node == victim_) {
            add(f->by_message ? TimelineMark::fail_message : TimelineMark::fail_quorum);
        } else if (const auto* es = std::get_if<ev::ElectionStarted>(&e);
                   es && es->failed_master == victim_) {
            add(TimelineMark::election);
        } else if (const auto* v = std::get_if<ev::VoteGranted>(&e);
                   v && v->failed_master == victim_) {
            add(TimelineMark::vote);
        } else if (std::get_if<ev::ElectionWon>(&e)) {
            add(TimelineMark::won);
            learnt_owner(node, add);
        } else if (const auto* sc = std::get_if<ev::SlotsChanged>(&e);
                   sc && sc->owner != victim_ && !sc->moved.empty()) {
            learnt_owner(node, add);
        } else if (const auto* rc = std::get_if<ev::RoleChanged>(&e);
                   rc && rc->is_master && !rc->was_master) {
            learnt_owner(node, add);
        } else if (const auto* cs = std::get_if<ev::ClusterStateChanged>(&e);
                   cs && cs->ok && !seen_ok_[node]) {
            seen_ok_[node] = true;
            add(TimelineMark::ok);
        }
    }

    template <class Add>
    void learnt_owner(std::size_t node, Add& add) {
        if (seen_owner_[node]) return;
        seen_owner_[node] = true;
        add(TimelineMark::owner);
    }

    bool armed_ = false;
    std::int64_t crash_ms_ = 0;
    std::int64_t end_ms_ = -1;
    gossipcluster::NodeId victim_;
    std::vector<TimelineRow> rows_;
    std::vector<bool> seen_owner_;
    std::vector<bool> seen_ok_;
};

}  // namespace sim
