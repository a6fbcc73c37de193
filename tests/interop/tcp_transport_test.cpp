// Interop: AsioTcpTransport and AsioClusterNode over real loopback sockets.
#include <catch2/catch.hpp>

#include <asio.hpp>

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "asio_pump.hpp"
#include "gossipcluster/codec.hpp"
#include "gossipcluster/frame_splitter.hpp"
#include "gossipcluster/storage/file_storage.hpp"
#include "gossipcluster/storage/memory_storage.hpp"
#include "gossipcluster/transport/asio_cluster_node.hpp"
#include "gossipcluster/transport/asio_tcp.hpp"

namespace interop_tcp_transport_test {

using namespace gossipcluster;
using namespace std::chrono_literals;
using asio::ip::tcp;
using interop_test::pump;
using interop_test::run_until;

namespace {

using Node = AsioClusterNode<SteadyClock, MemoryStorage>;

constexpr auto kWaitLimit = 10s;

// A port that was free on `ip` a moment ago (the kernel's pick for port 0).
std::uint16_t free_port(const std::string& ip) {
    asio::io_context io;
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address(ip), 0));
    return probe.local_endpoint().port();
}

bool can_bind(const std::string& ip) {
    asio::io_context io;
    tcp::acceptor probe(io);
    asio::error_code ec;
    const tcp::endpoint ep(asio::ip::make_address(ip), 0);
    probe.open(ep.protocol(), ec);
    if (!ec) probe.bind(ep, ec);
    return !ec;
}

Config node_config(std::uint64_t seed, std::uint16_t bus_port) {
    Config c;
    c.seed = seed;
    c.port = static_cast<std::uint16_t>(6000 + seed);
    c.cport = bus_port;
    return c;
}

AsioTcpOptions bind_to(const std::string& ip) {
    AsioTcpOptions o;
    o.bind_addresses = {ip};
    return o;
}

// A started node on `ip`; retries with another port if the one picked was taken meanwhile.
std::unique_ptr<Node> start_node(asio::io_context& io, const std::string& ip, std::uint64_t seed) {
    for (int attempt = 0; attempt < 5; ++attempt) {
        auto node = std::make_unique<Node>(io, node_config(seed, free_port(ip)), MemoryStorage{},
                                           bind_to(ip));
        try {
            node->start();
            return node;
        } catch (const std::system_error& e) {
            WARN("bus port taken, trying another: " << e.what());
        }
    }
    FAIL("no free bus port on " << ip);
    return nullptr;
}

std::uint16_t bus_port(const Node& n) {
    return n.listen_endpoints().at(0).port();
}

CommandResult meet(Node& from, const Node& to, const std::string& ip) {
    auto r = from.core().meet(ip, to.core().state().config().port, bus_port(to));
    from.rearm();
    return r;
}

// `st` lists `expected` nodes, every other one out of handshake with its outbound link up.
bool sees_all_connected(const ClusterState& st, std::size_t expected) {
    if (st.node_count() != expected) return false;
    bool ok = true;
    st.for_each_node([&](NodeView n) {
        if (n.id() == st.myself_id()) return;
        if (n.in_handshake() || !n.link_up() || n.has(node_flag::kNoAddr)) ok = false;
    });
    return ok;
}

bool converged(const std::vector<std::unique_ptr<Node>>& nodes) {
    for (const auto& n : nodes)
        if (!sees_all_connected(n->core().state(), nodes.size())) return false;
    return true;
}

std::set<std::string> known_ids(const Node& n) {
    std::set<std::string> ids;
    n.core().state().for_each_node([&](NodeView node) { ids.insert(node.id().str()); });
    return ids;
}

std::size_t open_fds() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
        ++n;
    return n;
}

NodeId some_node_id(char c) {
    return *NodeId::parse(std::string(kNodeNameLen, c));
}

Message publish(std::size_t payload_bytes) {
    Message m;
    m.header.type = MessageType::Publish;
    m.header.sender = some_node_id('a');
    m.body = PublishBody{"news", std::string(payload_bytes, 'x')};
    return m;
}

enum class PeerState { Open, Closed };

// Whether the peer closed `s`, without blocking (s must be non-blocking).
PeerState peer_state(tcp::socket& s) {
    std::array<char, 256> buf{};
    asio::error_code ec;
    s.read_some(asio::buffer(buf), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again || !ec)
        return PeerState::Open;
    return PeerState::Closed;
}

tcp::socket raw_client(asio::io_context& io, const tcp::endpoint& to) {
    tcp::socket s(io);
    s.connect(to);
    s.non_blocking(true);
    return s;
}

void write_all(tcp::socket& s, const std::vector<std::uint8_t>& bytes) {
    std::size_t done = 0;
    const auto end = std::chrono::steady_clock::now() + kWaitLimit;
    while (done < bytes.size() && std::chrono::steady_clock::now() < end) {
        asio::error_code ec;
        done += s.write_some(asio::buffer(bytes.data() + done, bytes.size() - done), ec);
        if (ec && ec != asio::error::would_block && ec != asio::error::try_again) break;
    }
    REQUIRE(done == bytes.size());
}

// Records what a bare transport reports.
struct Recorder {
    std::vector<LinkId> up;
    std::vector<std::pair<LinkId, std::string>> down;
    std::vector<std::chrono::steady_clock::time_point> down_at;  // when each was reported
    std::vector<Message> messages;

    AsioTcpHandler handler() {
        return AsioTcpHandler{
            .on_link_up = [this](LinkId l) { up.push_back(l); },
            .on_link_down =
                [this](LinkId l, std::string_view r) {
                    down.emplace_back(l, std::string(r));
                    down_at.push_back(std::chrono::steady_clock::now());
                },
            .on_inbound_link = nullptr,
            .on_message = [this](LinkId, const Message& m) { messages.push_back(m); },
        };
    }
};

}  // namespace

TEST_CASE("[tcp] two nodes on 127.0.0.1 meet and list each other connected", "[interop][tcp]") {
    asio::io_context io;
    std::vector<std::unique_ptr<Node>> nodes;
    nodes.push_back(start_node(io, "127.0.0.1", 11));
    nodes.push_back(start_node(io, "127.0.0.1", 22));
    Node& a = *nodes[0];
    Node& b = *nodes[1];

    REQUIRE(meet(a, b, "127.0.0.1").ok);
    REQUIRE(run_until(io, [&] { return converged(nodes); }));

    const NodeId id_a = a.core().state().myself_id();
    const NodeId id_b = b.core().state().myself_id();
    CHECK(a.core().state().find(id_b) != std::nullopt);
    CHECK(b.core().state().find(id_a) != std::nullopt);
    // Each learnt its own address from the local end of a connection the other made.
    CHECK(a.core().state().myself().ip() == "127.0.0.1");
    CHECK(b.core().state().myself().ip() == "127.0.0.1");
    for (const auto& n : nodes) {
        const AsioTcpStats& st = n->transport().stats();
        CHECK(st.messages_received > 0);
        CHECK(st.messages_sent > 0);
        CHECK(st.bytes_sent > 0);
        CHECK(st.bytes_received > 0);
        CHECK(st.frames_dropped_total == 0);
        CHECK(st.messages_unencodable == 0);
        CHECK(st.links_dropped_send_buffer == 0);
    }
    // The outbound link to the peer carries our PINGs and its PONGs.
    const LinkId a_to_b = a.core().state().find(id_b)->link();
    const AsioLinkStats* ls = a.transport().link_stats(a_to_b);
    REQUIRE(ls != nullptr);
    CHECK(ls->messages_sent > 0);
    CHECK(ls->messages_received > 0);

    a.stop();
    b.stop();
}

TEST_CASE("[tcp] three nodes on ::1 converge", "[interop][tcp]") {
    if (!can_bind("::1")) {
        WARN("IPv6 loopback ::1 cannot be bound on this host: the IPv6 test does not run");
        return;
    }
    asio::io_context io;
    std::vector<std::unique_ptr<Node>> nodes;
    for (std::uint64_t seed : {31, 32, 33})
        nodes.push_back(start_node(io, "::1", seed));
    REQUIRE(meet(*nodes[0], *nodes[1], "::1").ok);
    REQUIRE(meet(*nodes[1], *nodes[2], "::1").ok);
    REQUIRE(run_until(io, [&] { return converged(nodes); }));
    for (const auto& n : nodes) {
        CHECK(n->core().state().myself().ip() == "::1");
        CHECK(n->transport().stats().frames_dropped_total == 0);
    }
    for (const auto& n : nodes)
        n->stop();
}

TEST_CASE("[tcp] a bad signature closes the link, a bad frame is dropped and the link kept",
          "[interop][tcp]") {
    asio::io_context io;
    std::vector<std::unique_ptr<Node>> nodes;
    nodes.push_back(start_node(io, "127.0.0.1", 41));
    nodes.push_back(start_node(io, "127.0.0.1", 42));
    Node& a = *nodes[0];
    REQUIRE(meet(a, *nodes[1], "127.0.0.1").ok);
    REQUIRE(run_until(io, [&] { return converged(nodes); }));
    const auto ids_a = known_ids(a);
    const auto ids_b = known_ids(*nodes[1]);
    const tcp::endpoint bus = a.listen_endpoints().at(0);

    SECTION("bad signature") {
        tcp::socket client = raw_client(io, bus);
        std::vector<std::uint8_t> junk = {'X', 'X', 'X', 'X', 0, 0, 0x08, 0xd0};  // totlen 2256
        junk.resize(64, 0);
        write_all(client, junk);
        REQUIRE(run_until(io, [&] { return peer_state(client) == PeerState::Closed; }));
        const AsioTcpStats& st = a.transport().stats();
        CHECK(st.dropped(DecodeError::BadSignature) == 1);
        CHECK(st.links_closed_bad_stream == 1);
    }

    SECTION("a valid prefix with an invalid body") {
        Message ping;
        ping.header.type = MessageType::Ping;
        ping.header.sender = some_node_id('c');
        ping.body = GossipBody{};
        std::vector<std::uint8_t> frame = encode(ping);
        frame[detail::layout::kSender] = 'Z';  // upper case: not a node name
        Message check;
        REQUIRE(decode(frame, check) == DecodeError::InvalidSender);
        REQUIRE(action_for(DecodeError::InvalidSender) == DecodeAction::DropFrame);

        tcp::socket client = raw_client(io, bus);
        for (std::uint64_t sent = 1; sent <= 2; ++sent) {
            write_all(client, frame);
            REQUIRE(run_until(io, [&] {
                return a.transport().stats().dropped(DecodeError::InvalidSender) == sent;
            }));
            // The link survives a dropped frame.
            pump(io, 50ms);
            CHECK(peer_state(client) == PeerState::Open);
        }
        CHECK(a.transport().stats().links_closed_bad_stream == 0);
    }

    // Neither node's view changed: the same members, all still connected.
    pump(io, 200ms);
    CHECK(known_ids(a) == ids_a);
    CHECK(known_ids(*nodes[1]) == ids_b);
    CHECK(converged(nodes));
    for (const auto& n : nodes)
        n->stop();
}

TEST_CASE("[tcp] a link whose peer never reads is dropped at the send-buffer limit",
          "[interop][tcp]") {
    asio::io_context io;
    // A peer that accepts and never reads.
    tcp::acceptor sink(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket accepted(io);
    sink.async_accept(accepted, [](const asio::error_code&) {});

    constexpr std::size_t kLimit = std::size_t{256} << 10;
    AsioTcpOptions options = bind_to("127.0.0.1");
    options.send_buffer_limit = kLimit;
    AsioTcpTransport transport(io.get_executor(), options);
    Recorder rec;
    transport.set_handler(rec.handler());
    const LinkId link{1};
    transport.connect(link, Endpoint{"127.0.0.1", sink.local_endpoint().port()});
    REQUIRE(run_until(io, [&] { return !rec.up.empty() && accepted.is_open(); }));

    // One message at a time, with time for the socket to take it: only a peer that stops
    // reading lets the buffer grow.
    const Message big = publish(60000);
    const std::size_t frame_size = encoded_size(big);
    std::size_t max_queued = 0;
    std::size_t sends = 0;
    const bool dropped = run_until(io, [&] {
        if (!rec.down.empty() || sends >= 2000) return !rec.down.empty();
        transport.send(link, big);
        ++sends;
        max_queued = std::max(max_queued, transport.queued_bytes(link));
        return false;
    });
    REQUIRE(dropped);
    REQUIRE(rec.down.size() == 1);
    CHECK(rec.down[0].first == link);
    CHECK(rec.down[0].second.find("send buffer limit") != std::string::npos);
    const AsioTcpStats& st = transport.stats();
    CHECK(st.links_dropped_send_buffer == 1);
    // Memory stayed bounded: never more than the limit plus the frame that crossed it.
    CHECK(max_queued <= kLimit + frame_size);
    // ...and the kernel had taken what it could before: the limit was not hit by one burst.
    CHECK(st.bytes_sent > kLimit);
    CHECK(transport.link_count() == 0);
    // Later sends on the dropped link go nowhere.
    const auto before = st.messages_dropped;
    transport.send(link, big);
    CHECK(transport.stats().messages_dropped == before + 1);
    transport.stop();
}

TEST_CASE("[tcp] messages sent while connecting arrive in order once the link is up",
          "[interop][tcp]") {
    asio::io_context io;
    tcp::acceptor sink(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    AsioTcpTransport transport(io.get_executor(), bind_to("127.0.0.1"));
    Recorder rec;
    transport.set_handler(rec.handler());
    const LinkId link{7};
    transport.connect(link, Endpoint{"127.0.0.1", sink.local_endpoint().port()});
    std::vector<Message> sent;
    for (std::size_t i = 0; i < 3; ++i) {
        sent.push_back(publish(10 + i));
        transport.send(link, sent.back());
    }
    CHECK(transport.queued_bytes(link) > 0);  // nothing can leave before the connect finishes

    tcp::socket peer(io);
    sink.accept(peer);
    peer.non_blocking(true);
    FrameSplitter splitter;
    std::vector<Message> got;
    REQUIRE(run_until(io, [&] {
        std::array<std::uint8_t, 4096> buf{};
        asio::error_code ec;
        const std::size_t n = peer.read_some(asio::buffer(buf), ec);
        if (n > 0) {
            REQUIRE(splitter.feed(std::span<const std::uint8_t>(buf.data(), n)) ==
                    DecodeError::None);
            while (auto frame = splitter.next()) {
                Message m;
                REQUIRE(decode(*frame, m) == DecodeError::None);
                got.push_back(std::move(m));
            }
        }
        return got.size() >= sent.size();
    }));
    CHECK(got == sent);
    REQUIRE(rec.up.size() == 1);
    CHECK(transport.stats().messages_sent == 3);
    CHECK(transport.link_stats(link)->messages_sent == 3);

    // The peer's replies come back as messages; its close as a link down.
    const Message reply = publish(5);
    write_all(peer, encode(reply));
    REQUIRE(run_until(io, [&] { return !rec.messages.empty(); }));
    CHECK(rec.messages.front() == reply);
    peer.close();
    REQUIRE(run_until(io, [&] { return !rec.down.empty(); }));
    CHECK(rec.down[0].first == link);
    transport.stop();
}

TEST_CASE("[tcp] reconnects to a dead endpoint are spaced out by the backoff", "[interop][tcp]") {
    asio::io_context io;
    AsioTcpOptions options = bind_to("127.0.0.1");
    options.backoff_initial = 200ms;
    options.backoff_max = 400ms;
    AsioTcpTransport transport(io.get_executor(), options);
    Recorder rec;
    transport.set_handler(rec.handler());
    const Endpoint dead{"127.0.0.1", free_port("127.0.0.1")};  // nobody listens there now

    // The first attempt goes out at once and is refused.
    transport.connect(LinkId{1}, dead);
    REQUIRE(run_until(io, [&] { return rec.down.size() == 1; }));
    CHECK(transport.stats().connects_attempted == 1);
    CHECK(transport.stats().connects_deferred == 0);

    // The next one waits at least half the initial backoff before it is tried and refused. Both
    // failures are timed as they are reported (the first report follows the failure that starts
    // the backoff at once), not when the test next looks.
    transport.connect(LinkId{2}, dead);
    CHECK(transport.stats().connects_deferred == 1);
    CHECK(transport.stats().connects_attempted == 1);
    REQUIRE(run_until(io, [&] { return rec.down.size() == 2; }));
    REQUIRE(rec.down_at.size() == 2);
    CHECK(rec.down_at[1] - rec.down_at[0] >= 100ms);
    CHECK(transport.stats().connects_attempted == 2);
    CHECK(rec.down[1].first == LinkId{2});

    // A link the core closes while it waits is neither tried nor reported.
    transport.connect(LinkId{3}, dead);
    CHECK(transport.stats().connects_deferred == 2);
    transport.close(LinkId{3});
    pump(io, 500ms);
    CHECK(rec.down.size() == 2);
    CHECK(transport.stats().connects_attempted == 2);
    transport.stop();
}

TEST_CASE("[tcp] the connect backoff doubles with jitter and resets on success", "[interop][tcp]") {
    using Ms = std::chrono::milliseconds;
    detail::ConnectBackoff backoff(Ms{100}, Ms{2000}, 99);
    const auto t = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
    const std::string key = "127.0.0.1:17000";
    CHECK(backoff.wait(key, t) == Ms{0});
    const std::int64_t ceilings[] = {100, 200, 400, 800, 1600, 2000, 2000};
    for (std::int64_t ceiling : ceilings) {
        CAPTURE(ceiling);
        const Ms chosen = backoff.failure(key, t);
        CHECK(backoff.current_delay(key) == Ms{ceiling});
        CHECK(chosen >= Ms{ceiling / 2});
        CHECK(chosen <= Ms{ceiling});
        CHECK(backoff.wait(key, t) == chosen);
        CHECK(backoff.wait(key, t + chosen) == Ms{0});
    }
    CHECK(backoff.wait("127.0.0.2:17000", t) == Ms{0});  // other destinations are not held back
    backoff.success(key);
    CHECK(backoff.wait(key, t) == Ms{0});
    CHECK(backoff.failure(key, t) <= Ms{100});
}

TEST_CASE("[tcp] stop() closes every socket of both node modes", "[interop][tcp]") {
    asio::io_context io;
    {
        // Make the io_context's reactor descriptors exist before the baseline is taken.
        tcp::acceptor warm(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    }
    const std::size_t baseline = open_fds();

    // An application-mode node and one running its own io_context thread.
    auto app = start_node(io, "127.0.0.1", 51);
    std::unique_ptr<Node> own;
    for (int attempt = 0; attempt < 5 && !own; ++attempt) {
        own = std::make_unique<Node>(node_config(52, free_port("127.0.0.1")), MemoryStorage{},
                                     bind_to("127.0.0.1"));
        try {
            own->start();
        } catch (const std::system_error& e) {
            WARN("bus port taken, trying another: " << e.what());
            own.reset();
        }
    }
    REQUIRE(own);
    const std::uint16_t own_port = own->call([](Node::Core& c) { return c.state().config().port; });
    const std::uint16_t own_bus = bus_port(*own);
    REQUIRE(app->core().meet("127.0.0.1", own_port, own_bus).ok);
    app->rearm();
    REQUIRE(run_until(io, [&] {
        return sees_all_connected(app->core().state(), 2) &&
               own->call([](Node::Core& c) { return sees_all_connected(c.state(), 2); });
    }));
    // An inbound connection that is not a node.
    tcp::socket stray = raw_client(io, app->listen_endpoints().at(0));
    REQUIRE(run_until(io, [&] { return app->transport().stats().inbound_accepted >= 2; }));
    CHECK(open_fds() > baseline);

    own->stop();
    app->stop();
    stray.close();
    CHECK(app->transport().link_count() == 0);
    own.reset();  // its io_context's own descriptors go with it
    CHECK(open_fds() == baseline);
    CHECK_FALSE(app->last_error());

    // The stopped node stays quiet while the io_context drains what was pending.
    pump(io, 100ms);
    CHECK(open_fds() == baseline);
}

TEST_CASE("[tcp] a node whose save fails stops and never announces what it did not save",
          "[interop][tcp][save-failure]") {
    asio::io_context io;
    auto peer = start_node(io, "127.0.0.1", 61);
    std::unique_ptr<Node> own;  // runs its own thread: the mode where a failure went unnoticed
    for (int attempt = 0; attempt < 5 && !own; ++attempt) {
        own = std::make_unique<Node>(node_config(62, free_port("127.0.0.1")), MemoryStorage{},
                                     bind_to("127.0.0.1"));
        try {
            own->start();
        } catch (const std::system_error& e) {
            WARN("bus port taken, trying another: " << e.what());
            own.reset();
        }
    }
    REQUIRE(own);
    const std::uint16_t own_port = own->call([](Node::Core& c) { return c.state().config().port; });
    REQUIRE(peer->core().meet("127.0.0.1", own_port, bus_port(*own)).ok);
    peer->rearm();
    REQUIRE(run_until(io, [&] {
        return sees_all_connected(peer->core().state(), 2) &&
               own->call([](Node::Core& c) { return sees_all_connected(c.state(), 2); });
    }));

    // CLUSTER ADDSLOTS 0 takes the slot in memory, then its fsync save fails. Every PING header
    // would carry the claim.
    own->post([](Node::Core& c) {
        c.storage().fail_next_save();
        c.command([](ClusterState& s, Now n, Output& o) { return s.add_slots(n, {0}, o); });
    });
    REQUIRE(run_until(io, [&] { return own->last_error() != nullptr; }));
    CHECK_THROWS_AS(std::rethrow_exception(own->last_error()), StorageError);
    CHECK(own->call([](Node::Core& c) {
        return c.state().slot_owner(0) == c.state().myself() &&
               !c.storage().saved()->myself()->slots.test(0);
    }));
    // Stopped by default: no timer, no socket, no message after the failed save.
    CHECK(own->call([&](Node::Core& c) { return c.halted() && own->transport().stopped(); }));
    auto sent = [&] {
        return own->call([&](Node::Core&) { return own->transport().stats().messages_sent; });
    };
    const auto sent_at_failure = sent();
    // A running node PINGs its peer about once a second, each header with the claim.
    CHECK_FALSE(run_until(
        io, [&] { return sent() != sent_at_failure || peer->core().state().slot_owner(0); },
        2500ms));
    CHECK(peer->core().state().slot_owner(0) == std::nullopt);

    own->stop();
    peer->stop();
    CHECK_FALSE(peer->last_error());
}

TEST_CASE("[tcp] listeners: several addresses share one port, optional ones may be missing",
          "[interop][tcp]") {
    asio::io_context io;
    AsioTcpOptions options;
    // 192.0.2.1 (TEST-NET-1) is never a local address: binding it fails, and '-' skips it.
    options.bind_addresses = {"127.0.0.1", "-192.0.2.1"};
    const bool v6 = can_bind("::1");
    if (v6) options.bind_addresses.push_back("::1");
    AsioTcpTransport transport(io.get_executor(), options);
    transport.listen();
    const auto& eps = transport.listen_endpoints();
    REQUIRE(eps.size() == (v6 ? 2u : 1u));
    CHECK(eps[0].address().to_string() == "127.0.0.1");
    if (v6) {
        CHECK(eps[1].address().to_string() == "::1");
        CHECK(eps[1].port() == eps[0].port());
    }
    transport.stop();

    AsioTcpOptions strict;
    strict.bind_addresses = {"127.0.0.1", "192.0.2.1"};
    AsioTcpTransport failing(io.get_executor(), strict);
    CHECK_THROWS_AS(failing.listen(), std::system_error);

    // Redis's default bind line: every IPv4 address, and every IPv6 one where there is IPv6.
    AsioTcpOptions redis_default;
    redis_default.bind_addresses = {"*", "-::*"};
    AsioTcpTransport wildcard(io.get_executor(), redis_default);
    wildcard.listen();
    REQUIRE_FALSE(wildcard.listen_endpoints().empty());
    CHECK(wildcard.listen_endpoints()[0].address().to_string() == "0.0.0.0");
    if (wildcard.listen_endpoints().size() == 2)
        CHECK(wildcard.listen_endpoints()[1].address().to_string() == "::");
    wildcard.stop();

    AsioTcpOptions bad;
    bad.bind_addresses = {"not-an-address"};
    AsioTcpTransport invalid(io.get_executor(), bad);
    CHECK_THROWS_AS(invalid.listen(), std::invalid_argument);
}

TEST_CASE("[tcp] a dual-stack listener reports IPv4 peers and local addresses as IPv4",
          "[interop][tcp]") {
    if (!can_bind("::")) {
        WARN("IPv6 is not available on this host: the dual-stack test does not run");
        return;
    }
    asio::io_context io;
    AsioTcpOptions options;
    options.bind_addresses = {"::"};
    AsioTcpTransport transport(io.get_executor(), options);
    struct Inbound {
        LinkId link;
        std::string peer;
        std::string local;
    };
    std::vector<Inbound> inbound;
    AsioTcpHandler handler;
    handler.on_inbound_link = [&](LinkId l, std::string peer, std::string local) {
        inbound.push_back({l, std::move(peer), std::move(local)});
    };
    transport.set_handler(handler);
    transport.listen();

    tcp::socket v4 = raw_client(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                                  transport.listen_endpoints().at(0).port()));
    REQUIRE(run_until(io, [&] { return inbound.size() == 1; }));
    CHECK(inbound[0].link.is_inbound());
    CHECK(inbound[0].peer == "127.0.0.1");
    CHECK(inbound[0].local == "127.0.0.1");
    if (can_bind("::1")) {
        tcp::socket v6 = raw_client(io, tcp::endpoint(asio::ip::make_address("::1"),
                                                      transport.listen_endpoints().at(0).port()));
        REQUIRE(run_until(io, [&] { return inbound.size() == 2; }));
        CHECK(inbound[1].peer == "::1");
        CHECK(inbound[1].local == "::1");
        CHECK(inbound[1].link != inbound[0].link);
    }
    CHECK(transport.inbound_link_count() == inbound.size());
    transport.stop();
    CHECK(transport.link_count() == 0);
}

TEST_CASE("[tcp] a TcpClusterNode keeps its name in nodes.conf across a restart",
          "[interop][tcp]") {
    namespace fs = std::filesystem;
    const fs::path dir =
        fs::temp_directory_path() / fmt::format("gossipcluster-tcp-{}", ::getpid());
    fs::create_directories(dir);
    const fs::path conf = dir / "nodes.conf";
    asio::io_context io;
    std::string first_name;
    for (int run = 0; run < 2; ++run) {
        TcpClusterNode node(io, node_config(61, free_port("127.0.0.1")), FileStorage(conf),
                            bind_to("127.0.0.1"));
        node.start();
        pump(io, 20ms);
        const std::string name = node.core().state().myself_id().str();
        if (run == 0)
            first_name = name;
        else
            CHECK(name == first_name);
        node.stop();
    }
    CHECK(fs::exists(conf));
    std::error_code ec;
    fs::remove_all(dir, ec);
}

}  // namespace interop_tcp_transport_test
