// gossipcluster-sim's figure writers: well-formed SVG with every series, legend and axis label.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include <gossipcluster/testing/cluster_setup.hpp>

#include "../../examples/sim/bytes_svg.hpp"
#include "../../examples/sim/dissemination_svg.hpp"
#include "../../examples/sim/scale_table.hpp"
#include "../../examples/sim/timeline_svg.hpp"

namespace unit_sim_svg_test {

using namespace gossipcluster;
using namespace gossipcluster::testing;

namespace {

// A minimal XML check: every tag closes in order, attributes are quoted, one <svg> root, and no
// number came out as nan or inf. Returns an empty string or what is wrong.
std::string xml_problem(const std::string& doc) {
    std::vector<std::string> open;
    std::size_t roots = 0;
    for (std::size_t i = 0; i < doc.size();) {
        if (doc[i] != '<') {
            if (doc[i] == '>') return "stray '>' at " + std::to_string(i);
            ++i;
            continue;
        }
        bool quoted = false;
        std::size_t end = i + 1;
        while (end < doc.size() && (quoted || doc[end] != '>')) {
            if (doc[end] == '"') quoted = !quoted;
            if (!quoted && doc[end] == '<') return "'<' inside a tag at " + std::to_string(end);
            ++end;
        }
        if (end >= doc.size()) return "unterminated tag at " + std::to_string(i);
        const std::string tag = doc.substr(i + 1, end - i - 1);
        i = end + 1;
        if (tag.empty()) return "empty tag";
        if (tag[0] == '/') {
            if (open.empty() || open.back() != tag.substr(1))
                return "</" + tag.substr(1) + "> closes " +
                       (open.empty() ? "nothing" : open.back());
            open.pop_back();
            continue;
        }
        const std::string name = tag.substr(0, tag.find_first_of(" \n/"));
        if (open.empty()) {
            if (name != "svg") return "root element is <" + name + ">";
            ++roots;
        }
        if (tag.back() != '/') open.push_back(name);
    }
    if (!open.empty()) return "<" + open.back() + "> never closed";
    if (roots != 1) return "expected one <svg> root, found " + std::to_string(roots);
    for (const char* bad : {"nan", "inf"})
        if (doc.find(std::string("\"") + bad) != std::string::npos ||
            doc.find(std::string(",") + bad) != std::string::npos)
            return std::string("a coordinate is ") + bad;
    return {};
}

std::size_t count(const std::string& doc, const std::string& what) {
    std::size_t n = 0;
    for (auto at = doc.find(what); at != std::string::npos; at = doc.find(what, at + 1))
        ++n;
    return n;
}

}  // namespace

TEST_CASE("[sim-svg] the XML check rejects broken documents", "[unit]") {
    CHECK(xml_problem("<svg><g></g></svg>").empty());
    CHECK_FALSE(xml_problem("<svg><g></svg>").empty());
    CHECK_FALSE(xml_problem("<svg><text x=\"1>2</text></svg>").empty());
    CHECK_FALSE(xml_problem("<svg/><svg/>").empty());
    CHECK_FALSE(xml_problem("<svg><line x1=\"nan\"/></svg>").empty());
}

TEST_CASE("[sim-svg] the Redis wire model matches its formula", "[unit]") {
    // 29 peers pinged per 7.5 s, PING and PONG of 2256 + 3 x 104 bytes: 19,859 bytes/s.
    CHECK(sim::redis_model_bytes(30, 15000) == Approx(2.0 * 29.0 / 7.5 * 2568.0));
    // 300 nodes carry 30 entries: 2256 + 30 x 104 = 5376 bytes, 299 peers per 1.5 s.
    CHECK(sim::redis_model_bytes(300, 3000) == Approx(2.0 * 299.0 / 1.5 * 5376.0));
}

TEST_CASE("[sim-svg] bytes-vs-N plot has both series per timeout and labelled axes", "[unit]") {
    std::vector<sim::BytesCurve> curves{
        {15000, "#1f77b4", {{10, 5300, 6163}, {30, 11100, 19859}, {100, 33000, 87014}}},
        {3000, "#d62728", {{10, 20400, 30816}, {30, 61800, 99296}, {100, 281000, 435072}}}};
    const std::string svg = sim::bytes_svg("Idle bus bytes per node vs N", curves);
    INFO(svg);
    CHECK(xml_problem(svg).empty());
    CHECK(count(svg, "<polyline") == 4);
    CHECK(count(svg, "stroke-dasharray") >= 4);  // two dashed model lines and their legend keys
    CHECK(count(svg, "<circle") == 6);           // measured points
    CHECK(count(svg, "gossipcluster (simulated), node timeout 15000 ms") == 1);
    CHECK(count(svg, "Redis 7.0 wire model, node timeout 3000 ms") == 1);
    CHECK(count(svg, "nodes in the cluster (N)") == 1);
    CHECK(count(svg, "idle bus bytes sent per node and second") == 1);
    CHECK(count(svg, ">1 MB/s<") == 1);  // the y axis reaches the decade above 435 kB/s
}

TEST_CASE("[sim-svg] failover timeline of a simulated kill shows every node's events", "[unit]") {
    SimCluster s({.seed = 7});
    ClusterShape shape;
    shape.masters = 3;
    shape.replicas_per_master = 1;
    shape.config.node_timeout = Duration{1000};
    sim::FailoverRecorder rec;
    s.set_observer(rec.observer());
    REQUIRE(form_cluster(s, shape, std::chrono::minutes(2)));
    s.run_for(Duration{2000});
    std::size_t victim = 0;
    while (!s.core(victim).state().myself().is_master())
        ++victim;
    const NodeId id = s.core(victim).state().myself_id();
    rec.crashed(s, victim);
    s.crash(victim);
    REQUIRE(s.run_until(
        [&] {
            for (std::size_t i = 0; i < s.size(); ++i)
                if (s.alive(i) && (!s.core(i).state().slot_owner(0) ||
                                   s.core(i).state().slot_owner(0)->id() == id))
                    return false;
            return cluster_converged(s);
        },
        Duration{30000}));
    rec.ended(s.now());
    REQUIRE(rec.complete());
    REQUIRE(rec.rows().size() == 6);

    std::size_t fails = 0, votes = 0, won = 0, owners = 0;
    for (std::size_t i = 0; i < 6; ++i) {
        const auto& marks = rec.rows()[i].marks;
        auto has = [&](sim::TimelineMark m) {
            for (const auto& [t, k] : marks)
                if (k == m) return true;
            return false;
        };
        for (const auto& [t, k] : marks) {
            CHECK(t >= 0);
            CHECK(t <= rec.end_ms());
        }
        if (i == victim) {
            CHECK(rec.rows()[i].label.find("(killed)") != std::string::npos);
            continue;
        }
        fails += has(sim::TimelineMark::fail_quorum) || has(sim::TimelineMark::fail_message);
        votes += has(sim::TimelineMark::vote);
        won += has(sim::TimelineMark::won);
        owners += has(sim::TimelineMark::owner);
    }
    CHECK(fails == 5);   // every survivor flagged the victim FAIL
    CHECK(votes >= 2);   // a majority of the 3 masters voted
    CHECK(won == 1);     // exactly one replica took over
    CHECK(owners == 5);  // and every survivor learnt it

    const std::string svg =
        sim::timeline_svg("Failover", rec.rows(), {{rec.end_ms(), "every node ok"}});
    INFO(svg);
    CHECK(xml_problem(svg).empty());
    for (const auto& row : rec.rows())
        CHECK(count(svg, ">" + row.label + "<") == 1);
    for (const char* legend :
         {"PFAIL (own timeout)", "FAIL (own quorum)", "FAIL (from a FAIL message)", "voted",
          "won the election", "learnt the new owner", "cluster state ok", "ms since the kill"})
        CHECK(count(svg, legend) == 1);
}

TEST_CASE("[sim-svg] dissemination plot has a curve and a log2 mark per N", "[unit]") {
    std::vector<sim::DisseminationCurve> curves{{10, {{0, 0}, {5, 0.5}, {9, 1.0}}},
                                                {1000, {{0, 0}, {12, 0.3}, {30, 1.0}}}};
    const std::string svg = sim::dissemination_svg(curves, 4.0);
    INFO(svg);
    CHECK(xml_problem(svg).empty());
    CHECK(count(svg, "<polyline") == 2);
    CHECK(count(svg, "N = 10<") == 1);
    CHECK(count(svg, "N = 1000<") == 1);
    CHECK(count(svg, "log2(10) = 3.3 round trips") == 1);
    CHECK(count(svg, "log2(1000) = 10.0 round trips") == 1);
    CHECK(count(svg, "stroke-dasharray") == 2);
}

TEST_CASE("[sim-svg] a scale row records the join curve from 0 to every node, either start",
          "[unit]") {
    for (const char* start : {"meet", "restart"}) {
        INFO(start);
        sim::Options o;
        o.node_timeout_ms = 2000;
        o.duration_s = 2;
        o.start = start;
        const sim::ScaleRow row = sim::run_scale_row(12, o);
        REQUIRE(row.ok);
        CHECK(row.form_ms >= 0);
        // FAIL waits for the node timeout (2000 ms) counted from the last message heard.
        CHECK(row.fail_all_ms > 1000);
        CHECK(row.failover_ms >= row.fail_all_ms);
        REQUIRE(row.join_points >= 2);
        CHECK(row.join_curve[0].ms == 0);
        CHECK(row.join_curve[0].fraction == 0.0f);
        for (std::size_t k = 1; k < row.join_points; ++k) {
            CHECK(row.join_curve[k].ms >= row.join_curve[k - 1].ms);
            CHECK(row.join_curve[k].fraction > row.join_curve[k - 1].fraction);
        }
        CHECK(row.join_curve[row.join_points - 1].fraction == 1.0f);
        CHECK(row.join_curve[row.join_points - 1].ms <= row.join_ms);
    }
}

}  // namespace unit_sim_svg_test
