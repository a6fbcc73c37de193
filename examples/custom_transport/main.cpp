// gossipcluster-example-custom-transport: four cores on a hand-written socket transport meet and
// converge in one process, driven by a small poll() event loop on the real clock.
//
// Exit status: 0 when every node lists every node, connected and out of handshake, within the
// time limit; 1 otherwise.
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include <gossipcluster/gossipcluster.hpp>

#include "socket_transport.hpp"

namespace gc = gossipcluster;
using custom_transport::SocketTransport;
using custom_transport::Switchboard;

namespace {

using Core = gc::ClusterCore<SocketTransport, gc::SteadyClock, gc::MemoryStorage>;

constexpr std::size_t kNodes = 4;
constexpr std::uint16_t kFirstPort = 7001;
// Generous for a loaded test machine: the cluster normally converges in a few milliseconds.
constexpr auto kTimeLimit = std::chrono::milliseconds(10000);
constexpr auto kSettle = std::chrono::milliseconds(1500);

std::string short_id(const gc::NodeId& id) {
    return std::string(id.view().substr(0, 8));
}

std::string describe(const gc::Event& e) {
    return std::visit(
        [](const auto& ev) -> std::string {
            namespace event = gc::event;
            using E = std::decay_t<decltype(ev)>;
            if constexpr (std::is_same_v<E, event::NodeAdded>)
                return fmt::format("added {} at {}:{}{}", short_id(ev.node), ev.ip, ev.port,
                                   ev.handshake ? " (handshake, real name not known yet)" : "");
            else if constexpr (std::is_same_v<E, event::HandshakeCompleted>)
                return fmt::format("handshake done: {} is really {}", short_id(ev.temporary),
                                   short_id(ev.node));
            else if constexpr (std::is_same_v<E, event::LinkError>)
                return fmt::format("link to {} down: {}",
                                   ev.node.is_null() ? "an unknown peer" : short_id(ev.node),
                                   ev.reason);
            else if constexpr (std::is_same_v<E, event::ClusterStateChanged>)
                return fmt::format("cluster state {}", ev.ok ? "ok" : "fail");
            else if constexpr (std::is_same_v<E, event::NodePfail>)
                return fmt::format("suspects {} (PFAIL)", short_id(ev.node));
            else if constexpr (std::is_same_v<E, event::NodeFailed>)
                return fmt::format("{} FAILED", short_id(ev.node));
            else
                return "another event";  // slots, roles, failover: not part of this example
        },
        e);
}

// The criterion of gossipcluster::testing::membership_converged, for cores that are not in a
// SimCluster: every node lists exactly kNodes nodes, each known by its real name, with an
// outbound link that is up and an address.
bool converged(const std::vector<std::unique_ptr<Core>>& cores) {
    for (const auto& core : cores) {
        const gc::ClusterState& st = core->state();
        if (st.node_count() != cores.size()) return false;
        for (const auto& other : cores) {
            const gc::NodeId& id = other->state().myself_id();
            if (id == st.myself_id()) continue;
            const std::optional<gc::NodeView> n = st.find(id);
            if (!n || n->in_handshake() || !n->link_up() || n->has(gc::node_flag::kNoAddr))
                return false;
        }
    }
    return true;
}

// One round of the event loop: accept, poll the sockets, hand what arrived to the cores, then
// run the timers that are due. Returns when `stop()` holds or `limit` has passed.
template <typename Stop>
bool run_loop(std::vector<std::unique_ptr<Core>>& cores, Stop&& stop,
              std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    std::vector<pollfd> fds;
    std::vector<std::size_t> owner;  // fds[k] belongs to cores[owner[k]] ...
    std::vector<gc::LinkId> links;   // ... and to its link links[k]
    while (std::chrono::steady_clock::now() < end) {
        fds.clear();
        owner.clear();
        links.clear();
        bool busy = false;
        gc::Instant wake = cores[0]->next_deadline();
        for (std::size_t i = 0; i < cores.size(); ++i) {
            SocketTransport& t = cores[i]->transport();
            t.accept_pending();
            t.poll_fds(fds, links);
            owner.resize(fds.size(), i);
            busy = busy || t.has_inputs();
            wake = std::min(wake, cores[i]->next_deadline());
        }

        // Sleep until a socket is ready or the earliest core deadline (capped, so the time limit
        // is checked), and not at all while inputs are waiting to be delivered.
        const auto until_deadline = wake - gc::SteadyClock{}.now();
        const int timeout =
            busy ? 0 : static_cast<int>(std::clamp<std::int64_t>(until_deadline.count(), 0, 100));
        if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) {
            std::perror("poll");
            return false;
        }
        for (std::size_t k = 0; k < fds.size(); ++k)
            if (fds[k].revents != 0)
                cores[owner[k]]->transport().on_ready(links[k], fds[k].revents);

        // Inputs first, then timers: a core's tick() then sees everything that arrived.
        for (auto& core : cores)
            core->transport().deliver(*core);
        for (auto& core : cores)
            if (core->next_deadline() <= core->now().mono) core->tick();

        if (stop()) return true;
    }
    return false;
}

}  // namespace

int main() {
    // The switchboard outlives the cores: their transports point into it.
    Switchboard board;
    std::vector<std::unique_ptr<Core>> cores;
    const auto start = std::chrono::steady_clock::now();
    auto elapsed_ms = [&] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - start)
            .count();
    };

    for (std::size_t i = 0; i < kNodes; ++i) {
        gc::Config config;
        config.port = static_cast<std::uint16_t>(kFirstPort + i);
        // Node names come from the seed: every node needs its own, or all would share one name.
        config.seed = 1000 + i;
        auto core =
            std::make_unique<Core>(config, SocketTransport(board, "127.0.0.1", config.bus_port()),
                                   gc::SteadyClock{}, gc::MemoryStorage{});
        core->set_event_handler([&elapsed_ms, i](const gc::Event& e) {
            fmt::print("[{:5} ms] node {}: {}\n", elapsed_ms(), i, describe(e));
        });
        fmt::print("node {} is {} on bus port {}\n", i, core->state().myself_id().view(),
                   config.bus_port());
        cores.push_back(std::move(core));
    }

    // Like redis-cli --cluster create: everyone meets the first node, gossip does the rest.
    for (std::size_t i = 1; i < kNodes; ++i) {
        const auto result =
            cores[i]->meet("127.0.0.1", kFirstPort, kFirstPort + gc::kBusPortIncrement);
        if (!result.ok) {
            fmt::print(stderr, "MEET from node {} failed: {}\n", i, gc::error_text(result));
            return 1;
        }
    }

    const bool done = run_loop(
        cores, [&] { return converged(cores); }, kTimeLimit);
    const auto converged_ms = elapsed_ms();
    if (!done) {
        fmt::print("NOT converged after {} ms\n", converged_ms);
        for (std::size_t i = 0; i < kNodes; ++i)
            fmt::print("  node {} lists {} nodes\n", i, cores[i]->state().node_count());
        return 1;
    }
    fmt::print("converged after {} ms: each of the {} nodes lists all {}, connected\n",
               converged_ms, kNodes, kNodes);

    // Convergence must also last: run the idle cluster a little longer (its first periodic
    // pings and random gossip) and check that no link was torn down meanwhile.
    bool broke = false;
    run_loop(
        cores, [&] { return broke = !converged(cores); }, kSettle);
    if (broke) {
        fmt::print("the cluster fell apart after {} ms\n", elapsed_ms());
        return 1;
    }
    fmt::print("still converged after {} more ms of idle gossip\n", kSettle.count());
    for (std::size_t i = 0; i < kNodes; ++i) {
        const auto& counters = cores[i]->state().counters();
        std::uint64_t sent = 0, received = 0;
        for (std::size_t t = 0; t < counters.sent.size(); ++t) {
            sent += counters.sent[t];
            received += counters.received[t];
        }
        fmt::print("  node {} ({}): {} messages sent, {} received\n", i,
                   short_id(cores[i]->state().myself_id()), sent, received);
    }
    return 0;
}
