// Helpers shared by the redis-cli interop tests: running a tool with a time limit, node queries.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "process_harness.hpp"

namespace gossipcluster::interop_test {

inline constexpr const char* kPython = "/usr/bin/python3";
inline constexpr auto kToolLimit = std::chrono::seconds(120);
inline constexpr auto kConvergeLimit = std::chrono::seconds(30);

struct ToolRun {
    std::optional<int> status;  // nullopt: stopped at the time limit
    std::string output;
    bool ok() const { return status && exited_with(*status, 0); }
    std::string show() const {
        return fmt::format("{}\n{}", status ? describe_status(*status) : "timed out", output);
    }
};

// Runs a tool to its end (stopped at `limit`), its output captured in a file of `dir`.
inline ToolRun run_tool(const std::vector<std::string>& args, const fs::path& dir,
                        std::string_view name, std::chrono::milliseconds limit = kToolLimit) {
    const fs::path out = dir / fmt::format("{}.out", name);
    fs::remove(out);
    Process p(args, out);
    ToolRun run;
    run.status = p.wait(limit);
    run.output = read_file(out);
    return run;
}

inline std::string address(const ClusterServer& s) {
    return fmt::format("127.0.0.1:{}", s.port());
}

inline bool cluster_ok(ClusterServer& s) {
    auto r = s.call({"CLUSTER", "INFO"});
    return r && r->is_bulk() && r->text.find("cluster_state:ok") != std::string::npos;
}

inline std::string node_id(ClusterServer& s) {
    auto r = s.call({"CLUSTER", "MYID"});
    return r && r->is_bulk() ? r->text : std::string();
}

}  // namespace gossipcluster::interop_test
