// Command-line options of gossipcluster-sim.
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace sim {

struct Options {
    std::uint64_t seed = 1;
    std::size_t nodes = 10;
    std::string scenario = "join-one";
    std::int64_t node_timeout_ms = 15000;
    std::int64_t duration_s = 60;
    std::size_t runs = 1;
    bool json = false;
    std::string csv;
    std::string svg;
    std::string timeline_svg;       // failover: the first failover, per node
    std::string bytes_svg;          // idle bytes per node vs N (runs its own sims)
    std::string dissemination_svg;  // scale-table: who knows a newcomer vs time, per N
    std::vector<std::size_t> sizes{10, 30, 100, 300};  // N values of --bytes-svg
    // How a scale row forms its cluster: "meet" (CLUSTER MEET in waves, then REPLICATE) or
    // "restart" (every node starts from a nodes.conf listing the whole cluster).
    std::string start = "meet";
};

inline std::string usage() {
    return "usage: gossipcluster-sim [--seed=N] [--nodes=N] "
           "[--scenario=meet-chain|meet-star|join-one|kill-master|failover|swarm|scale|\n"
           "                                     scale-table (one row per --sizes)]\n"
           "                         [--node-timeout=MS] [--duration=S] [--runs=K] [--json] "
           "[--csv=FILE] "
           "[--svg=FILE]\n"
           "                         [--timeline-svg=FILE (with --scenario=failover)]\n"
           "                         [--start=meet|restart (scale rows: MEET waves, or a restart "
           "from a full nodes.conf)]\n"
           "                         [--bytes-svg=FILE [--sizes=10,30,100,300]] (idle bytes vs N "
           "at timeouts 15000 and 3000 ms, --duration s each)\n"
           "                         [--dissemination-svg=FILE (with --scenario=scale-table: "
           "who knows a newcomer vs time, per N)]\n";
}

// Accepts both --name=value and --name value.
inline Options parse_options(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        std::string value;
        bool has_value = false;
        if (auto eq = arg.find('='); eq != std::string::npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
            has_value = true;
        }
        auto need = [&]() -> const std::string& {
            if (!has_value) {
                if (i + 1 >= argc)
                    throw std::invalid_argument(fmt::format("{} needs a value", arg));
                value = argv[++i];
                has_value = true;
            }
            return value;
        };
        auto number = [&](std::int64_t lo, std::int64_t hi) {
            const std::string& v = need();
            std::size_t used = 0;
            long long n = 0;
            try {
                n = std::stoll(v, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used != v.size() || n < lo || n > hi)
                throw std::invalid_argument(
                    fmt::format("{} must be a number in {}..{}", arg, lo, hi));
            return static_cast<std::int64_t>(n);
        };
        if (arg == "--seed")
            o.seed = static_cast<std::uint64_t>(number(0, INT64_MAX));
        else if (arg == "--nodes")
            o.nodes = static_cast<std::size_t>(number(2, 5000));
        else if (arg == "--scenario")
            o.scenario = need();
        else if (arg == "--node-timeout")
            o.node_timeout_ms = number(100, 3'600'000);
        else if (arg == "--duration")
            o.duration_s = number(1, 86'400);
        else if (arg == "--runs")
            o.runs = static_cast<std::size_t>(number(1, 100000));
        else if (arg == "--json")
            o.json = true;
        else if (arg == "--csv")
            o.csv = need();
        else if (arg == "--svg")
            o.svg = need();
        else if (arg == "--timeline-svg")
            o.timeline_svg = need();
        else if (arg == "--dissemination-svg")
            o.dissemination_svg = need();
        else if (arg == "--bytes-svg")
            o.bytes_svg = need();
        else if (arg == "--start") {
            o.start = need();
            if (o.start != "meet" && o.start != "restart")
                throw std::invalid_argument("--start must be meet or restart");
        } else if (arg == "--sizes") {
            o.sizes.clear();
            std::string list = need();
            for (std::size_t at = 0; at <= list.size();) {
                std::size_t comma = std::min(list.find(',', at), list.size());
                value = list.substr(at, comma - at);
                o.sizes.push_back(static_cast<std::size_t>(number(2, 5000)));
                at = comma + 1;
            }
            if (o.sizes.size() > 20) throw std::invalid_argument("--sizes takes at most 20 values");
        } else if (arg == "--help" || arg == "-h")
            throw std::invalid_argument("");
        else
            throw std::invalid_argument(fmt::format("unknown option {}", arg));
    }
    if (!o.dissemination_svg.empty() && o.scenario != "scale-table")
        throw std::invalid_argument("--dissemination-svg needs --scenario=scale-table");
    return o;
}

}  // namespace sim
