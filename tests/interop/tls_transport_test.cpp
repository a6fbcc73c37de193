// Interop: AsioTlsTransport and AsioClusterNode over TLS on loopback, in one process.
#ifdef GOSSIPCLUSTER_TEST_TLS

#include <catch2/catch.hpp>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "../common/temp_dir.hpp"
#include "asio_pump.hpp"
#include "gossipcluster/codec.hpp"
#include "gossipcluster/message.hpp"
#include "gossipcluster/persisted_state.hpp"
#include "gossipcluster/storage/memory_storage.hpp"
#include "gossipcluster/transport/asio_tls.hpp"
#include "loopback_port.hpp"
#include "process_harness.hpp"
#include "tls_certs.hpp"

namespace interop_tls_transport_test {

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

AsioTlsOptions tls_options(const CertFiles& files, const std::filesystem::path& ca) {
    AsioTlsOptions o;
    o.bind_addresses = {kLoopback};
    o.context = make_tls_context({files.cert.string(), files.key.string(), ca.string()});
    o.handshake_timeout = 2000ms;
    return o;
}

AsioTlsOptions bound(AsioTlsOptions o) {
    o.bind_node_id = true;
    return o;
}

// A node id of the test's choosing: with bind_node_id, ids are fixed before certificates.
NodeId test_id(std::uint64_t n) {
    return NodeId::parse(fmt::format("{:040x}", n * 0x9e3779b97f4a7c15ull)).value();
}

std::string upper(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return text;
}

// A node table naming only this node, as `id`: what nodes.conf gives a node that has one.
MemoryStorage storage_for(const NodeId& id) {
    NodeRecord me;
    me.id = id;
    me.flags = node_flag::kMyself | node_flag::kMaster;
    PersistedState st;
    st.nodes.push_back(me);
    return MemoryStorage(st);
}

std::unique_ptr<TlsNode> start_node(asio::io_context& io, std::uint64_t seed,
                                    const AsioTlsOptions& options,
                                    const MemoryStorage& storage = {}) {
    for (int attempt = 0; attempt < 5; ++attempt) {
        Config c;
        c.seed = seed;
        c.port = static_cast<std::uint16_t>(6000 + seed);
        c.cport = interop_test::free_loopback_port();
        auto node = std::make_unique<TlsNode>(io, c, storage, options);
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
    st.for_each_node([&](NodeView n) {
        if (n.id() == st.myself_id()) return;
        if (n.in_handshake() || !n.link_up() || n.has(node_flag::kNoAddr)) ok = false;
    });
    return ok;
}

// The open link of `n` to `peer` in each direction is bound to `peer`'s id.
bool bound_both_ways(TlsNode& n, const NodeId& peer) {
    const auto p = n.core().state().find(peer);
    return p.has_value() && n.transport().certified_node_id(p->link()) == peer &&
           n.transport().certified_node_id(p->inbound_link()) == peer;
}

// An encoded PING in `sender`'s name, with nothing to gossip.
std::vector<std::uint8_t> ping_from(const NodeId& sender) {
    Message m;
    m.header.type = MessageType::Ping;
    m.header.sender = sender;
    m.header.port = 6379;
    m.header.cport = 16379;
    m.header.flags = node_flag::kMaster;
    m.body = GossipBody{};
    std::vector<std::uint8_t> out;
    encode(m, out);
    return out;
}

// The node id certificate_node_id reads from a PEM certificate file.
std::optional<NodeId> id_in_file(const std::filesystem::path& pem) {
    BIO* bio = BIO_new_file(pem.c_str(), "r");
    REQUIRE(bio != nullptr);
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    REQUIRE(cert != nullptr);
    auto id = certificate_node_id(cert);
    X509_free(cert);
    return id;
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
    CHECK(b->core().state().find(a->core().state().myself_id()) != std::nullopt);
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
    CHECK(stranger->core().state().find(st.myself_id()) == std::nullopt);

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

TEST_CASE("[tls] certificate_node_id reads one node id from the CN or a DNS alternative name",
          "[interop][tls]") {
    test_common::TempDir dir("gc-tls-certid");
    TestCertificates certs(dir.path());
    const NodeId a = test_id(1);
    const NodeId b = test_id(2);
    CHECK(id_in_file(certs.issue_named("cn", a.str(), {}).cert) == a);
    CHECK(id_in_file(certs.issue_named("cn-upper", upper(a.str()), {}).cert) == a);
    CHECK(id_in_file(certs.issue_named("san", "host.example", {"host.example", a.str()}).cert) ==
          a);
    CHECK(id_in_file(certs.issue_named("both-same", a.str(), {upper(a.str())}).cert) == a);
    // Names that are not node ids: a host name, 39 or 41 characters, a character outside [0-9a-z].
    CHECK(id_in_file(certs.issue_named("host", "host.example", {"host.example"}).cert) ==
          std::nullopt);
    CHECK(id_in_file(certs.issue_named("short", a.str().substr(1), {}).cert) == std::nullopt);
    CHECK(id_in_file(certs.issue_named("long", a.str() + "0", {}).cert) == std::nullopt);
    CHECK(id_in_file(certs.issue_named("dash", "-" + a.str().substr(1), {}).cert) == std::nullopt);
    // A certificate speaks for one node.
    CHECK(id_in_file(certs.issue_named("two", a.str(), {b.str()}).cert) == std::nullopt);
    CHECK(id_in_file(certs.issue_named("two-san", "x", {a.str(), b.str()}).cert) == std::nullopt);
    CHECK(certificate_node_id(nullptr) == std::nullopt);
}

TEST_CASE("[tls] bind_node_id: nodes whose certificates name their ids meet, links bound",
          "[interop][tls]") {
    test_common::TempDir dir("gc-tls-bound");
    TestCertificates certs(dir.path());
    const auto ca = certs.ca();
    const NodeId ida = test_id(1);
    const NodeId idb = test_id(2);
    // One id as the CN, upper-cased; the other as a DNS alternative name beside a host name.
    const auto a_files = certs.issue_named("a", upper(ida.str()), {});
    const auto b_files = certs.issue_named("b", "b.example", {"b.example", idb.str()});
    asio::io_context io;
    auto a = start_node(io, 1, bound(tls_options(a_files, ca)), storage_for(ida));
    auto b = start_node(io, 2, bound(tls_options(b_files, ca)), storage_for(idb));
    REQUIRE(a->core().state().myself_id() == ida);
    REQUIRE(b->core().state().myself_id() == idb);

    meet(*a, *b);
    REQUIRE(run_until(io, [&] {
        return sees_all_connected(a->core().state(), 2) &&
               sees_all_connected(b->core().state(), 2) && bound_both_ways(*a, idb) &&
               bound_both_ways(*b, ida);
    }));
    for (auto* n : {a.get(), b.get()}) {
        const auto& st = n->transport().stats();
        CHECK(st.handshakes_failed == 0);
        CHECK(st.handshakes_without_node_id == 0);
        CHECK(st.links_closed_sender_mismatch == 0);
        CHECK(st.messages_received > 0);
    }
    a->stop();
    b->stop();
}

TEST_CASE("[tls] bind_node_id: frames in another node's name are cut off before the core",
          "[interop][tls]") {
    test_common::TempDir dir("gc-tls-forged");
    TestCertificates certs(dir.path());
    const auto ca = certs.ca();
    const NodeId idg = test_id(1);
    const NodeId ida = test_id(2);
    const NodeId idb = test_id(3);
    const auto a_files = certs.issue_named("a", ida.str(), {});
    asio::io_context io;
    auto good = start_node(io, 1, bound(tls_options(certs.issue_named("g", idg.str(), {}), ca)),
                           storage_for(idg));
    const ClusterState& st = good->core().state();
    const auto& stats = good->transport().stats();
    const tcp::endpoint target(asio::ip::make_address(kLoopback), bus_port(*good));

    // A client holding A's certificate: a PING in A's name is taken, then one in B's name cuts
    // the link, and neither it nor what follows it on the link reaches the core.
    auto client_ctx = make_tls_context({a_files.cert.string(), a_files.key.string(), ca.string()});
    asio::ssl::stream<tcp::socket> client(io, *client_ctx);
    client.next_layer().connect(target);
    std::optional<asio::error_code> handshake;
    client.async_handshake(asio::ssl::stream_base::client,
                           [&](const asio::error_code& ec) { handshake = ec; });
    REQUIRE(
        run_until(io, [&] { return handshake.has_value() && stats.handshakes_succeeded == 1; }));
    REQUIRE(!*handshake);
    // Drains the node's answers until the link closes.
    std::array<std::uint8_t, 4096> sink{};
    bool client_closed = false;
    std::function<void()> read_on = [&] {
        client.async_read_some(asio::buffer(sink), [&](const asio::error_code& ec, std::size_t) {
            if (ec) {
                client_closed = true;
                return;
            }
            read_on();
        });
    };
    read_on();
    const auto own = ping_from(ida);
    asio::async_write(client, asio::buffer(own), [](const asio::error_code&, std::size_t) {});
    REQUIRE(run_until(io, [&] { return stats.messages_received == 1; }));
    std::vector<std::uint8_t> forged = ping_from(idb);
    const auto more = ping_from(ida);
    forged.insert(forged.end(), more.begin(), more.end());  // after the forged one: never read
    asio::async_write(client, asio::buffer(forged), [](const asio::error_code&, std::size_t) {});
    REQUIRE(
        run_until(io, [&] { return stats.links_closed_sender_mismatch == 1 && client_closed; }));
    CHECK(stats.messages_received == 1);
    CHECK(st.find(idb) == std::nullopt);
    CHECK(st.node_count() == 1);
    CHECK(run_until(io, [&] { return good->transport().inbound_link_count() == 0; }));

    // A node whose certificate names A but whose node id is B: its MEET, in B's name, is cut off
    // at every attempt, and neither node ever learns the other's id.
    auto impostor = start_node(io, 2, bound(tls_options(a_files, ca)), storage_for(idb));
    meet(*impostor, *good);
    REQUIRE(run_until(io, [&] { return stats.links_closed_sender_mismatch >= 3; }));
    pump(io, 300ms);
    CHECK(stats.messages_received == 1);
    CHECK(st.find(idb) == std::nullopt);
    CHECK(st.node_count() == 1);
    CHECK(impostor->core().state().find(idg) == std::nullopt);

    asio::error_code ignored;
    client.next_layer().close(ignored);
    good->stop();
    impostor->stop();
}

TEST_CASE("[tls] bind_node_id: a certificate from the CA that names no node id is refused",
          "[interop][tls]") {
    test_common::TempDir dir("gc-tls-noid");
    TestCertificates certs(dir.path());
    const auto ca = certs.ca();
    const NodeId idg = test_id(1);
    const auto g_files = certs.issue_named("g", idg.str(), {});
    const auto anon_files = certs.issue_named("anon", "anon.example", {"anon.example"});
    asio::io_context io;

    SECTION("binding on: refused at the handshake, before the core hears of it") {
        auto good = start_node(io, 1, bound(tls_options(g_files, ca)), storage_for(idg));
        // The id-less node binds nothing itself: the refusal is the good node's.
        auto anon = start_node(io, 2, tls_options(anon_files, ca));
        meet(*anon, *good);
        const auto& stats = good->transport().stats();
        REQUIRE(run_until(io, [&] { return stats.handshakes_without_node_id >= 2; }));
        pump(io, 300ms);
        CHECK(stats.handshakes_failed >= stats.handshakes_without_node_id);
        CHECK(stats.handshakes_succeeded == 0);
        CHECK(stats.messages_received == 0);
        CHECK(good->core().state().node_count() == 1);
        CHECK(anon->core().state().find(idg) == std::nullopt);

        // An outbound link to it fails too, reported down like a failed connect.
        const auto failed_before = stats.connects_failed;
        meet(*good, *anon);
        REQUIRE(run_until(io, [&] { return stats.connects_failed > failed_before; }));
        CHECK(stats.connects_succeeded == 0);
        CHECK(stats.messages_received == 0);
        CHECK(anon->core().state().find(idg) == std::nullopt);
        good->stop();
        anon->stop();
    }
    SECTION("binding off: the same certificate is accepted") {
        auto good = start_node(io, 1, tls_options(g_files, ca), storage_for(idg));
        auto anon = start_node(io, 2, tls_options(anon_files, ca));
        meet(*anon, *good);
        REQUIRE(run_until(io, [&] {
            return sees_all_connected(good->core().state(), 2) &&
                   sees_all_connected(anon->core().state(), 2);
        }));
        CHECK(good->transport().stats().handshakes_without_node_id == 0);
        CHECK(good->transport().stats().handshakes_failed == 0);
        good->stop();
        anon->stop();
    }
}

}  // namespace interop_tls_transport_test
#endif  // GOSSIPCLUSTER_TEST_TLS
