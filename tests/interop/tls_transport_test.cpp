// Interop: AsioTlsTransport and AsioClusterNode over TLS on loopback, in one process.
#ifdef GOSSIPCLUSTER_TEST_TLS

#include <catch2/catch.hpp>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "../common/temp_dir.hpp"
#include "asio_pump.hpp"
#include "gossipcluster/storage/memory_storage.hpp"
#include "gossipcluster/transport/asio_tls.hpp"
#include "process_harness.hpp"
#include "tls_certs.hpp"

using namespace gossipcluster;
using namespace std::chrono_literals;
using asio::ip::tcp;
using interop_test::CertFiles;
using interop_test::pump;
using interop_test::run_until;
using interop_test::TestCertificates;

namespace {

using TlsNode = AsioClusterNode<SteadyClock, MemoryStorage, AsioTlsTransport>;

const std::string kLoopback = "127.0.0.1";

std::uint16_t free_port() {
    asio::io_context io;
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address(kLoopback), 0));
    return probe.local_endpoint().port();
}

AsioTlsOptions tls_options(const CertFiles& files, const std::filesystem::path& ca) {
    AsioTlsOptions o;
    o.bind_addresses = {kLoopback};
    o.context = make_tls_context({files.cert.string(), files.key.string(), ca.string()});
    o.handshake_timeout = 2000ms;
    return o;
}

std::unique_ptr<TlsNode> start_node(asio::io_context& io, std::uint64_t seed,
                                    const AsioTlsOptions& options) {
    for (int attempt = 0; attempt < 5; ++attempt) {
        Config c;
        c.seed = seed;
        c.port = static_cast<std::uint16_t>(6000 + seed);
        c.cport = free_port();
        auto node = std::make_unique<TlsNode>(io, c, MemoryStorage{}, options);
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

std::uint16_t bus_port(const TlsNode& n) {
    return n.listen_endpoints().at(0).port();
}

void meet(TlsNode& from, const TlsNode& to) {
    REQUIRE(from.core().meet(kLoopback, to.core().state().config().port, bus_port(to)).ok);
    from.rearm();
}

bool sees_all_connected(const ClusterState& st, std::size_t expected) {
    if (st.node_count() != expected) return false;
    bool ok = true;
    st.for_each_node([&](const detail::Node& n) {
        if (n.id == st.myself_id()) return;
        if (n.in_handshake() || !n.link_up || n.has(node_flag::kNoAddr)) ok = false;
    });
    return ok;
}

// A captured MEET from redis-server, as a stranger would send it.
std::vector<std::uint8_t> meet_frame() {
    const std::string text =
        interop_test::read_file(GOSSIPCLUSTER_VECTORS_DIR "/bin/pair-meet-ping-pong-0-MEET.bin");
    return {text.begin(), text.end()};
}

}  // namespace

TEST_CASE("[tls] two nodes meet over TLS and list each other connected", "[interop][tls]") {
    test_common::TempDir dir("gc-tls-pair");
    TestCertificates certs(dir.path());
    const auto ca = certs.ca();
    asio::io_context io;
    auto a = start_node(io, 1, tls_options(certs.issue("a"), ca));
    auto b = start_node(io, 2, tls_options(certs.issue("b"), ca));

    meet(*a, *b);
    REQUIRE(run_until(io, [&] {
        return sees_all_connected(a->core().state(), 2) && sees_all_connected(b->core().state(), 2);
    }));
    // Both directions went through a handshake, and frames flowed on them.
    CHECK(a->transport().stats().handshakes_succeeded >= 2);
    CHECK(b->transport().stats().handshakes_succeeded >= 2);
    CHECK(a->transport().stats().handshakes_failed == 0);
    CHECK(a->transport().stats().messages_received > 0);
    CHECK(b->core().state().find(a->core().state().myself_id()) != nullptr);
    a->stop();
    b->stop();
}

TEST_CASE("[tls] peers without a certificate from the CA never reach the core", "[interop][tls]") {
    test_common::TempDir dir("gc-tls-strangers");
    TestCertificates certs(dir.path());
    asio::io_context io;
    auto good = start_node(io, 1, tls_options(certs.issue("good"), certs.ca()));
    // A node whose certificate comes from another CA (and which trusts only that CA).
    auto stranger = start_node(io, 2, tls_options(certs.issue("stranger", true), certs.wrong_ca()));
    // A node that trusts our CA but presents a certificate of the wrong one.
    auto impostor = start_node(io, 3, tls_options(certs.issue("impostor", true), certs.ca()));
    const tcp::endpoint target(asio::ip::make_address(kLoopback), bus_port(*good));
    const auto frame = meet_frame();

    meet(*stranger, *good);
    meet(*impostor, *good);

    // Plain TCP speaking the bus protocol at a TLS port.
    tcp::socket plain(io);
    plain.connect(target);
    asio::write(plain, asio::buffer(frame));

    // TLS that trusts nothing and offers no certificate, then a MEET if it gets that far (with
    // TLS 1.3 the client may think it is done before the server has refused it).
    asio::ssl::context bare(asio::ssl::context::tls_client);
    bare.set_verify_mode(asio::ssl::verify_none);
    asio::ssl::stream<tcp::socket> anonymous(io, bare);
    anonymous.next_layer().connect(target);
    bool anonymous_done = false;
    anonymous.async_handshake(asio::ssl::stream_base::client, [&](const asio::error_code& ec) {
        if (!ec) asio::async_write(anonymous, asio::buffer(frame), [](auto, auto) {});
        anonymous_done = true;
    });

    // Four handshakes fail on the good node (the impostor's at the good node's end; the
    // stranger's outbound ones fail at its own end as well, and are retried with backoff).
    REQUIRE(run_until(
        io, [&] { return good->transport().stats().handshakes_failed >= 4 && anonymous_done; }));
    pump(io, 500ms);
    const ClusterState& st = good->core().state();
    CHECK(st.node_count() == 1);
    CHECK(good->transport().stats().messages_received == 0);
    // The stranger and the impostor keep retrying with backoff, so a link may be in its
    // handshake at any moment (under load, at the moment of a single look): what matters is that
    // none stays, and that nothing reached the core.
    CHECK(run_until(io, [&] { return good->transport().inbound_link_count() == 0; }));
    CHECK(good->transport().stats().messages_received == 0);
    CHECK(stranger->transport().stats().handshakes_failed >= 1);
    CHECK(stranger->core().state().find(st.myself_id()) == nullptr);

    // The good node still serves nodes with the right certificate.
    auto friend_node = start_node(io, 4, tls_options(certs.issue("friend"), certs.ca()));
    meet(*friend_node, *good);
    REQUIRE(run_until(io, [&] {
        return sees_all_connected(st, 2) && sees_all_connected(friend_node->core().state(), 2);
    }));
    asio::error_code ignored;
    plain.close(ignored);
    anonymous.next_layer().close(ignored);
    for (auto* n : {good.get(), stranger.get(), impostor.get(), friend_node.get()})
        n->stop();
}

TEST_CASE("[tls] a peer that stalls in the handshake is closed at the handshake timeout",
          "[interop][tls]") {
    test_common::TempDir dir("gc-tls-stall");
    TestCertificates certs(dir.path());
    asio::io_context io;
    auto options = tls_options(certs.issue("a"), certs.ca());
    options.handshake_timeout = 300ms;
    options.max_inbound_links = 2;
    auto a = start_node(io, 1, options);
    const tcp::endpoint target(asio::ip::make_address(kLoopback), bus_port(*a));

    // Two silent connections fill the inbound slots; a third is refused at once.
    tcp::socket s1(io), s2(io), s3(io);
    s1.connect(target);
    s2.connect(target);
    REQUIRE(run_until(io, [&] { return a->transport().inbound_link_count() == 2; }));
    s3.connect(target);
    REQUIRE(run_until(io, [&] { return a->transport().stats().inbound_refused == 1; }));

    // The timeout frees both slots: the server closes the sockets.
    const auto started = std::chrono::steady_clock::now();
    REQUIRE(run_until(io, [&] { return a->transport().stats().handshakes_timed_out == 2; }));
    const auto waited = std::chrono::steady_clock::now() - started;
    CHECK(waited < 2s);
    CHECK(a->transport().inbound_link_count() == 0);
    CHECK(a->core().state().node_count() == 1);
    std::array<char, 16> buf{};
    asio::error_code ec;
    s1.read_some(asio::buffer(buf), ec);
    CHECK(ec == asio::error::eof);
    a->stop();
}

TEST_CASE("[tls] make_tls_context names the file it cannot use", "[interop][tls]") {
    test_common::TempDir dir("gc-tls-files");
    TestCertificates certs(dir.path());
    const auto a = certs.issue("a");
    const auto b = certs.issue("b");
    const std::string missing = (dir.path() / "missing.pem").string();

    auto error_of = [](const AsioTlsFiles& f) -> std::string {
        try {
            make_tls_context(f);
        } catch (const std::system_error& e) {
            return e.what();
        }
        return {};
    };
    CHECK_THAT(error_of({missing, a.key.string(), certs.ca().string()}),
               Catch::Contains("certificate file") && Catch::Contains("missing.pem"));
    CHECK_THAT(error_of({a.cert.string(), missing, certs.ca().string()}),
               Catch::Contains("key file") && Catch::Contains("missing.pem"));
    CHECK_THAT(error_of({a.cert.string(), a.key.string(), missing}),
               Catch::Contains("CA certificate file") && Catch::Contains("missing.pem"));
    CHECK_THAT(error_of({a.cert.string(), b.key.string(), certs.ca().string()}),
               Catch::Contains("key file") && Catch::Contains("b.key"));
    CHECK(error_of({a.cert.string(), a.key.string(), certs.ca().string()}).empty());

    // Options without a context, or with no handshake bound, are refused.
    asio::io_context io;
    CHECK_THROWS_AS(AsioTlsTransport(io.get_executor(), AsioTlsOptions{}), std::invalid_argument);
    AsioTlsOptions unbounded;
    unbounded.context = make_tls_context({a.cert.string(), a.key.string(), certs.ca().string()});
    unbounded.handshake_timeout = 0ms;
    CHECK_THROWS_AS(AsioTlsTransport(io.get_executor(), unbounded), std::invalid_argument);
}

#endif  // GOSSIPCLUSTER_TEST_TLS
