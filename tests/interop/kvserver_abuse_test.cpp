// Interop: a kvserver stays bounded under abusive clients: parsed arguments count against
// client-query-buffer-limit.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "process_harness.hpp"

using namespace gossipcluster::interop_test;
using namespace std::chrono_literals;

namespace {

long rss_kb(pid_t pid) {
    std::ifstream in(fmt::format("/proc/{}/status", pid));
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

// A kvserver on a port of its own, started with `extra` options. Ready once it answers PING,
// with PONG or, when it has a password, with NOAUTH. Stopped by the destructor.
class Kv {
  public:
    Kv(const fs::path& dir, bool cluster, std::vector<std::string> extra) {
        for (int attempt = 0; attempt < 4; ++attempt) {
            port_ = pick_port();
            REQUIRE(port_ != 0);
            auto args = server_arguments(kKvServerPath, port_, dir, cluster);
            args.insert(args.end(),
                        {"--logfile", (dir / fmt::format("kv-{}.log", port_)).string()});
            if (cluster)
                args.insert(args.end(),
                            {"--cluster-config-file", fmt::format("nodes-{}.conf", port_),
                             "--cluster-node-timeout", "3000"});
            args.insert(args.end(), extra.begin(), extra.end());
            process_.emplace(args, dir / fmt::format("kv-{}.stdout", port_));
            const bool up = wait_until(kStartLimit, 20ms, [&] {
                if (!process_->running()) return true;
                RespConnection probe(port_);
                auto r = probe.call({"PING"}, 1000ms);
                return r && (r->text == "PONG" || r->text.rfind("NOAUTH", 0) == 0);
            });
            if (up && process_->running()) return;
            log_ = read_tail(dir / fmt::format("kv-{}.log", port_), 20) +
                   read_tail(dir / fmt::format("kv-{}.stdout", port_), 20);
            process_.reset();
        }
        INFO(log_);
        FAIL("the kvserver did not start");
    }

    std::uint16_t port() const { return port_; }
    pid_t pid() const { return process_->pid(); }
    bool running() { return process_ && process_->running(); }

  private:
    std::optional<Process> process_;
    std::uint16_t port_ = 0;
    std::string log_;
};

}  // namespace

TEST_CASE("[kvserver-abuse] parsed arguments count against client-query-buffer-limit",
          "[interop][kvserver-abuse]") {
    TempDir tmp("gossipcluster-abuse");
    Kv kv(tmp.path(), false, {"--client-query-buffer-limit", "4mb"});
    const long rss_before = rss_kb(kv.pid());
    RespConnection c(kv.port());
    // 100 arguments announced, then 512 KB ones one after the other: never more than one of
    // them is unparsed, but together they pass the 4 MB limit after 8.
    REQUIRE(c.send_raw("*100\r\n"));
    const std::string bulk = fmt::format("$524288\r\n{}\r\n", std::string(524288, 'x'));
    int sent = 0;
    for (; sent < 40 && c.send_raw(bulk); ++sent) {
    }
    const auto start = std::chrono::steady_clock::now();
    const bool closed = c.closed_by_peer(5s);
    const long rss_after = rss_kb(kv.pid());
    fmt::print(
        "kvserver-abuse [arguments]: {} bulks of 512 KB sent, closed: {} after {} ms; VmRSS {} kB "
        "-> {} kB\n",
        sent, closed,
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                              start)
            .count(),
        rss_before, rss_after);
    CHECK(closed);
    CHECK(rss_after - rss_before < 24 * 1024);
    // A request within the limit still runs: two 1.5 MB values.
    RespConnection ok(kv.port());
    auto r =
        ok.call({"MSET", "a", std::string(1536 * 1024, 'a'), "b", std::string(1536 * 1024, 'b')});
    REQUIRE(r);
    CHECK(r->is_ok());
    CHECK(kv.running());
}
