// Interop: AsioTcpOrTlsTransport runs TLS or plain TCP as its options say, under AsioClusterNode.
#ifdef GOSSIPCLUSTER_TEST_TLS

#include <catch2/catch.hpp>

#include <asio.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

#include "../common/temp_dir.hpp"
#include "asio_pump.hpp"
#include "gossipcluster/storage/memory_storage.hpp"
#include "gossipcluster/transport/asio_cluster_node.hpp"
#include "gossipcluster/transport/asio_tcp_or_tls.hpp"
#include "loopback_port.hpp"
#include "tls_certs.hpp"

namespace interop_tcp_or_tls_transport_test {

using namespace gossipcluster;
using namespace std::chrono_literals;
using asio::ip::tcp;
using interop_test::run_until;
using interop_test::TestCertificates;

namespace {

using Node = AsioClusterNode<SteadyClock, MemoryStorage, AsioTcpOrTlsTransport>;

const std::string kLoopback = "127.0.0.1";

std::unique_ptr<Node> start_node(asio::io_context& io, std::uint64_t seed,
                                 AsioTcpOrTlsTransport::Options options) {
    options.bind_addresses = {kLoopback};
    for (int attempt = 0; attempt < 5; ++attempt) {
        Config c;
        c.seed = seed;
        c.port = static_cast<std::uint16_t>(6100 + seed);
        c.cport = interop_test::free_loopback_port();
        auto node = std::make_unique<Node>(io, c, MemoryStorage{}, options);
        try {
            node->start();
            return node;
        } catch (const std::system_error& e) {
            WARN("bus port taken, trying another: " << e.what());
        }
    }
    FAIL("no free bus port");
    return nullptr;
}

// a meets b, and each then lists the other with its links up.
bool pair_up(asio::io_context& io, Node& a, Node& b) {
    REQUIRE(a.core()
                .meet(kLoopback, b.core().state().config().port, b.listen_endpoints().at(0).port())
                .ok);
    a.rearm();
    auto connected = [](const ClusterState& st) {
        if (st.node_count() != 2) return false;
        bool ok = true;
        st.for_each_node([&](NodeView n) {
            if (n.id() != st.myself_id() && (n.in_handshake() || !n.link_up())) ok = false;
        });
        return ok;
    };
    return run_until(io,
                     [&] { return connected(a.core().state()) && connected(b.core().state()); });
}

}  // namespace

TEST_CASE("[tls] AsioTcpOrTlsTransport speaks TLS when its options carry a context",
          "[interop][tls]") {
    test_common::TempDir dir("gc-tcp-or-tls");
    TestCertificates certs(dir.path());
    auto options_for = [&](const std::string& name) {
        const auto files = certs.issue(name);
        AsioTcpOrTlsTransport::Options o;
        o.context =
            make_tls_context({files.cert.string(), files.key.string(), certs.ca().string()});
        o.handshake_timeout = 2000ms;
        return o;
    };
    asio::io_context io;
    auto a = start_node(io, 1, options_for("a"));
    auto b = start_node(io, 2, options_for("b"));
    CHECK(a->transport().tls());
    REQUIRE(pair_up(io, *a, *b));
    CHECK(a->transport().stats().handshakes_succeeded >= 2);
    CHECK(b->transport().stats().handshakes_succeeded >= 2);
    CHECK(a->transport().stats().messages_received > 0);
    a->stop();
    b->stop();
}

TEST_CASE("[tls] AsioTcpOrTlsTransport runs plain TCP without a context", "[interop][tls]") {
    asio::io_context io;
    auto a = start_node(io, 3, {});
    auto b = start_node(io, 4, {});
    CHECK_FALSE(a->transport().tls());
    REQUIRE(pair_up(io, *a, *b));
    CHECK(a->transport().stats().handshakes_succeeded == 0);
    CHECK(a->transport().stats().messages_received > 0);
    CHECK(b->transport().stats().messages_received > 0);
    a->stop();
    b->stop();
}

}  // namespace interop_tcp_or_tls_transport_test
#endif  // GOSSIPCLUSTER_TEST_TLS
