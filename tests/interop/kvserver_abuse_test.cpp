// Interop: a kvserver stays bounded and honest under abusive clients: parsed arguments count
// against client-query-buffer-limit, requirepass guards every command and replication, fake
// replicas cannot satisfy WAIT, timeouts are validated and not cut short, and idle clients are
// closed (timeout).
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "process_harness.hpp"

namespace interop_kvserver_abuse_test {

using namespace gossipcluster::interop_test;
using namespace std::chrono_literals;

namespace {

long rss_kb(pid_t pid) {
    return proc_status_kb(pid, "VmRSS");
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

// Reads replies until one holds `text` (a bulk or simple string), within `limit`.
bool read_until(RespConnection& c, std::string_view text, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        auto r = c.read(std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now()));
        if (!r) return false;
        if (r->text == text) return true;
        if (r->type == Reply::Type::kArray)
            for (const auto& e : r->elements)
                if (e.text == text) return true;
    }
    return false;
}

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

TEST_CASE("[kvserver-abuse] requirepass: NOAUTH before AUTH, Redis's error texts",
          "[interop][kvserver-abuse]") {
    TempDir tmp("gossipcluster-abuse");
    Kv kv(tmp.path(), false, {"--requirepass", "s3cret"});
    RespConnection c(kv.port());
    for (const std::vector<std::string>& cmd : {std::vector<std::string>{"PING"},
                                                {"SET", "k", "v"},
                                                {"GET", "k"},
                                                {"CLIENT", "LIST"},
                                                {"GCSYNC", "0", "7000"},
                                                {"GCACK", "100"},
                                                {"WAIT", "0", "0"}}) {
        CAPTURE(cmd[0]);
        auto r = c.call(cmd);
        REQUIRE(r);
        CHECK(r->is_error());
        CHECK(r->text == "NOAUTH Authentication required.");
    }
    const std::string wrongpass = "WRONGPASS invalid username-password pair or user is disabled.";
    for (const std::vector<std::string>& cmd : {std::vector<std::string>{"AUTH", "nope"},
                                                {"AUTH", "default", "nope"},
                                                {"AUTH", "someone", "s3cret"}}) {
        auto r = c.call(cmd);
        REQUIRE(r);
        CHECK(r->text == wrongpass);
    }
    auto syntax = c.call({"AUTH", "a", "b", "c"});
    REQUIRE(syntax);
    CHECK(syntax->text == "ERR syntax error");
    auto auth = c.call({"AUTH", "s3cret"});
    REQUIRE(auth);
    CHECK(auth->is_ok());
    auto ping = c.call({"PING"});
    REQUIRE(ping);
    CHECK(ping->text == "PONG");
    RespConnection d(kv.port());
    auth = d.call({"AUTH", "default", "s3cret"});
    REQUIRE(auth);
    CHECK(auth->is_ok());
    CHECK(d.call({"SET", "k", "v"})->is_ok());
    CHECK(d.call({"GET", "k"})->text == "v");
}

TEST_CASE("[kvserver-abuse] without requirepass AUTH says so, AUTH default accepts any password",
          "[interop][kvserver-abuse]") {
    TempDir tmp("gossipcluster-abuse");
    Kv kv(tmp.path(), false, {});
    RespConnection c(kv.port());
    auto r = c.call({"AUTH", "x"});
    REQUIRE(r);
    CHECK(r->text ==
          "ERR AUTH <password> called without any password configured for the default user. Are "
          "you sure your configuration is correct?");
    r = c.call({"AUTH", "default", "x"});
    REQUIRE(r);
    CHECK(r->is_ok());
}

TEST_CASE(
    "[kvserver-abuse] an unauthenticated GCSYNC gets no keys; GCACK cannot ack beyond the "
    "stream",
    "[interop][kvserver-abuse]") {
    TempDir tmp("gossipcluster-abuse");
    SECTION("with requirepass, GCSYNC before AUTH is refused") {
        Kv kv(tmp.path(), true, {"--requirepass", "pw"});
        RespConnection admin(kv.port());
        REQUIRE(admin.call({"AUTH", "pw"})->is_ok());
        REQUIRE(admin.call({"CLUSTER", "ADDSLOTSRANGE", "0", "16383"})->is_ok());
        REQUIRE(wait_until(10s, 100ms, [&] {
            auto r = admin.call({"SET", "secret", "value"});
            return r && r->is_ok();
        }));
        RespConnection fake(kv.port());
        REQUIRE(fake.send_raw("*3\r\n$6\r\nGCSYNC\r\n$1\r\n0\r\n$4\r\n7000\r\n"));
        auto raw = fake.read_raw(2s);
        REQUIRE(raw);
        CHECK(*raw == "-NOAUTH Authentication required.\r\n");
        CHECK_FALSE(fake.read_raw(300ms));
        auto info = admin.call({"INFO", "replication"});
        REQUIRE(info);
        CHECK(info->text.find("connected_slaves:0") != std::string::npos);
    }
    SECTION("a replica's GCACK counts up to what was streamed to it, no further") {
        Kv kv(tmp.path(), true, {});
        RespConnection admin(kv.port());
        REQUIRE(admin.call({"CLUSTER", "ADDSLOTSRANGE", "0", "16383"})->is_ok());
        REQUIRE(wait_until(10s, 100ms, [&] {
            auto r = admin.call({"SET", "k", "1"});
            return r && r->is_ok();
        }));
        RespConnection fake(kv.port());
        REQUIRE(fake.send_raw("*3\r\n$6\r\nGCSYNC\r\n$1\r\n0\r\n$4\r\n7000\r\n"));
        REQUIRE(read_until(fake, "GCSYNCDONE", 3s));
        REQUIRE(fake.send_raw("*2\r\n$5\r\nGCACK\r\n$15\r\n999999999999999\r\n"));
        std::this_thread::sleep_for(200ms);
        REQUIRE(admin.call({"SET", "k", "2"})->is_ok());
        auto r = admin.call({"WAIT", "1", "300"}, 3s);
        REQUIRE(r);
        CHECK(r->type == Reply::Type::kInteger);
        CHECK(r->integer == 0);
    }
}

TEST_CASE("[kvserver-abuse] WAIT and MIGRATE timeouts are validated", "[interop][kvserver-abuse]") {
    TempDir tmp("gossipcluster-abuse");
    Kv kv(tmp.path(), true, {});
    RespConnection c(kv.port());
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
        {{"WAIT", "0", "abc"}, "ERR timeout is not an integer or out of range"},
        {{"WAIT", "0", "99999999999999999999"}, "ERR timeout is not an integer or out of range"},
        {{"WAIT", "0", "-1"}, "ERR timeout is negative"},
        {{"WAIT", "0", "9223372036854775807"}, "ERR timeout is out of range"},
        {{"WAIT", "abc", "0"}, "ERR value is not an integer or out of range"},
        {{"MIGRATE", "127.0.0.1", "1", "k", "0", "99999999999999999999"},
         "ERR value is not an integer or out of range"},
    };
    for (const auto& [cmd, error] : cases) {
        CAPTURE(cmd);
        auto r = c.call(cmd);
        REQUIRE(r);
        CHECK(r->text == error);
    }
    // A timeout far above INT_MAX milliseconds is accepted and does not end the wait at once.
    auto r = c.call({"WAIT", "0", "3000000000"});
    REQUIRE(r);
    CHECK(r->integer == 0);
    RespConnection held(kv.port());
    REQUIRE(held.send_raw("*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$10\r\n3000000000\r\n"));
    CHECK_FALSE(held.read(500ms));
    CHECK(kv.running());
}

TEST_CASE("[kvserver-abuse] the timeout option closes idle clients", "[interop][kvserver-abuse]") {
    TempDir tmp("gossipcluster-abuse");
    Kv kv(tmp.path(), false, {"--timeout", "1"});
    RespConnection idle(kv.port());
    RespConnection busy(kv.port());
    REQUIRE(idle.call({"PING"}));
    const auto start = std::chrono::steady_clock::now();
    bool idle_closed = false;
    while (std::chrono::steady_clock::now() - start < 4s) {
        auto r = busy.call({"PING"}, 1s);
        REQUIRE(r);
        REQUIRE(r->text == "PONG");
        if (!idle_closed && idle.closed_by_peer(300ms)) {
            idle_closed = true;
            fmt::print("kvserver-abuse [timeout 1]: idle client closed after {} ms\n",
                       std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count());
        }
    }
    CHECK(idle_closed);
}

TEST_CASE("[kvserver-abuse] a replica authenticates with masterauth and WAIT counts it",
          "[interop][kvserver-abuse]") {
    TempDir tmp("gossipcluster-abuse");
    Kv master(tmp.path(), true, {"--requirepass", "pw"});
    Kv replica(tmp.path(), true,
               {"--requirepass", "pw", "--masteruser", "default", "--masterauth", "pw"});
    RespConnection m(master.port());
    RespConnection r(replica.port());
    REQUIRE(m.call({"AUTH", "pw"})->is_ok());
    REQUIRE(r.call({"AUTH", "pw"})->is_ok());
    REQUIRE(m.call({"CLUSTER", "ADDSLOTSRANGE", "0", "16383"})->is_ok());
    REQUIRE(r.call({"CLUSTER", "MEET", "127.0.0.1", std::to_string(master.port())})->is_ok());
    const std::string master_id = m.call({"CLUSTER", "MYID"})->text;
    REQUIRE(wait_until(15s, 100ms, [&] {
        auto nodes = r.call({"CLUSTER", "NODES"});
        return nodes && nodes->text.find(master_id) != std::string::npos &&
               nodes->text.find("handshake") == std::string::npos;
    }));
    REQUIRE(r.call({"CLUSTER", "REPLICATE", master_id})->is_ok());
    REQUIRE(wait_until(15s, 100ms, [&] {
        auto info = r.call({"INFO", "replication"});
        return info && info->text.find("master_link_status:up") != std::string::npos;
    }));
    // The master serves writes once its cluster state is ok again.
    REQUIRE(wait_until(10s, 100ms, [&] {
        auto set = m.call({"SET", "k", "v"});
        return set && set->is_ok();
    }));
    auto w = m.call({"WAIT", "1", "5000"}, 7s);
    REQUIRE(w);
    CHECK(w->integer == 1);
    REQUIRE(r.call({"READONLY"})->is_ok());
    CHECK(wait_until(5s, 100ms, [&] {
        auto g = r.call({"GET", "k"});
        return g && g->text == "v";
    }));
}

TEST_CASE("[kvserver-abuse] a MIGRATE timeout above INT_MAX milliseconds is not cut short",
          "[interop][kvserver-abuse]") {
    TempDir tmp("gossipcluster-abuse");
    Kv kv(tmp.path(), false, {});
    // A target that takes the connection (the kernel completes it) but never answers.
    const int target = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(target >= 0);
    sockaddr_in addr = loopback(0);
    REQUIRE(::bind(target, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(target, 4) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(target, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    const std::string port = std::to_string(ntohs(addr.sin_port));
    RespConnection c(kv.port());
    REQUIRE(c.call({"SET", "k", "v"})->is_ok());
    // 2^32 + 500 ms: taken as an int it would be 500 ms.
    REQUIRE(c.send_raw(encode_command({"MIGRATE", "127.0.0.1", port, "k", "0", "4294967796"})));
    // MIGRATE blocks the server, as redis-server's does: after 1 s it must still be waiting,
    // so a PING on another connection gets no answer yet.
    std::this_thread::sleep_for(1000ms);
    RespConnection during(kv.port());
    auto early = during.call({"PING"}, 1000ms);
    CHECK((early ? early->show() : std::string("no reply")) == "no reply");
    // Closing the target's side ends the MIGRATE at once.
    const int accepted = ::accept(target, nullptr, nullptr);
    if (accepted >= 0) ::close(accepted);
    ::close(target);
    auto r = c.read(3s);
    REQUIRE(r);
    CHECK(r->text.rfind("IOERR", 0) == 0);
    RespConnection d(kv.port());
    auto ping = d.call({"PING"});
    REQUIRE(ping);
    CHECK(ping->text == "PONG");
}

}  // namespace interop_kvserver_abuse_test
