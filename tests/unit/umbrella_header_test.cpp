// The umbrella header alone is enough to run nodes over a host's own transport, clock and storage.
#include <catch2/catch.hpp>

// Nothing else from the library: this file proves gossipcluster.hpp stands for all of it.
#include "gossipcluster/gossipcluster.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace unit_umbrella_header_test {

namespace gc = gossipcluster;

namespace {

// An in-memory network: a connect reaches the node listening on that bus port, and everything a
// transport reports waits in one queue, since a transport must not call its core back at once.
struct Network {
    enum class Kind { Up, Down, Inbound, Message };
    struct Delivery {
        std::size_t node;
        Kind kind;
        gc::LinkId link;
        gc::Message message;
    };
    using End = std::pair<std::size_t, std::uint64_t>;  // node, link

    std::deque<Delivery> pending;
    std::map<std::uint16_t, std::size_t> listeners;  // bus port -> node
    std::map<End, End> wires;
    std::uint64_t next_inbound = 1;
};

struct MemoryTransport {
    std::shared_ptr<Network> net;
    std::size_t self;

    void connect(gc::LinkId link, const gc::Endpoint& to) {
        auto it = net->listeners.find(to.port);
        if (it == net->listeners.end()) {
            net->pending.push_back({self, Network::Kind::Down, link, {}});
            return;
        }
        const gc::LinkId accepted = gc::LinkId::inbound(net->next_inbound++);
        net->wires[{self, link.value}] = {it->second, accepted.value};
        net->wires[{it->second, accepted.value}] = {self, link.value};
        net->pending.push_back({it->second, Network::Kind::Inbound, accepted, {}});
        net->pending.push_back({self, Network::Kind::Up, link, {}});
    }
    void send(gc::LinkId link, const gc::Message& msg) {
        auto it = net->wires.find({self, link.value});
        if (it == net->wires.end()) return;
        // Through the codec, as a real transport would carry it.
        gc::Message copy;
        REQUIRE(gc::decode(gc::encode(msg), copy) == gc::DecodeError::None);
        net->pending.push_back(
            {it->second.first, Network::Kind::Message, gc::LinkId{it->second.second}, copy});
    }
    void close(gc::LinkId link) {
        auto it = net->wires.find({self, link.value});
        if (it == net->wires.end()) return;
        const auto far = it->second;
        net->wires.erase(it);
        net->wires.erase(far);
        net->pending.push_back({far.first, Network::Kind::Down, gc::LinkId{far.second}, {}});
    }
};

// Every node reads one shared simulated time.
struct SharedClock {
    std::shared_ptr<std::int64_t> ms;
    gc::Instant now() const { return gc::Instant{*ms}; }
    std::uint64_t unix_ms() const { return 1'800'000'000'000ull + static_cast<std::uint64_t>(*ms); }
};

// Keeps the last save, as a disk would.
struct VariableStorage {
    std::shared_ptr<std::optional<gc::PersistedState>> disk;
    std::optional<gc::PersistedState> load() { return *disk; }
    void save(const gc::PersistedState& state, bool) { *disk = state; }
};

using Core = gc::ClusterCore<MemoryTransport, SharedClock, VariableStorage>;
static_assert(gc::Transport<MemoryTransport>);
static_assert(gc::Clock<SharedClock>);
static_assert(gc::Storage<VariableStorage>);

struct TwoNodes {
    std::shared_ptr<Network> net = std::make_shared<Network>();
    std::shared_ptr<std::int64_t> ms = std::make_shared<std::int64_t>(1000);
    std::vector<std::shared_ptr<std::optional<gc::PersistedState>>> disks;
    std::vector<std::unique_ptr<Core>> cores;

    TwoNodes() {
        for (std::size_t i = 0; i < 2; ++i) {
            gc::Config config;
            config.seed = 11 + i;
            config.port = static_cast<std::uint16_t>(7000 + i);
            net->listeners[config.bus_port()] = i;
            disks.push_back(std::make_shared<std::optional<gc::PersistedState>>());
            cores.push_back(std::make_unique<Core>(config, MemoryTransport{net, i}, SharedClock{ms},
                                                   VariableStorage{disks[i]}));
        }
    }

    void deliver() {
        while (!net->pending.empty()) {
            auto d = std::move(net->pending.front());
            net->pending.pop_front();
            Core& core = *cores[d.node];
            switch (d.kind) {
                case Network::Kind::Up:
                    core.on_link_up(d.link);
                    break;
                case Network::Kind::Down:
                    core.on_link_down(d.link, "closed");
                    break;
                case Network::Kind::Inbound:
                    core.on_inbound_link(d.link, "127.0.0.1", "127.0.0.1");
                    break;
                case Network::Kind::Message:
                    core.on_message(d.link, d.message);
                    break;
            }
        }
    }

    // Runs the network in 10 ms steps until `done` or `limit` simulated ms.
    template <typename F>
    bool run_until(F&& done, std::int64_t limit) {
        for (std::int64_t waited = 0; waited <= limit; waited += 10) {
            deliver();
            if (done()) return true;
            *ms += 10;
            for (auto& core : cores)
                if (core->now().mono >= core->next_deadline()) core->tick();
        }
        return false;
    }

    bool know_each_other() const {
        for (const auto& core : cores) {
            if (core->state().node_count() != 2) return false;
            bool handshake = false;
            core->state().for_each_node(
                [&](gc::NodeView n) { handshake = handshake || n.in_handshake(); });
            if (handshake) return false;
        }
        return true;
    }
};

}  // namespace

TEST_CASE("[umbrella] two cores meet and share slots over a host's own in-memory policies",
          "[unit][umbrella]") {
    TwoNodes nodes;
    Core& a = *nodes.cores[0];
    Core& b = *nodes.cores[1];
    a.queue_events(64);

    REQUIRE(a.add_slots({0, 1, 2}).ok);
    REQUIRE(a.meet("127.0.0.1", 7001, 17001).ok);
    REQUIRE(nodes.run_until([&] { return nodes.know_each_other(); }, 10000));

    // b learnt a's slots from its gossip, and both saved what they know.
    const gc::NodeId a_id = a.state().myself_id();
    REQUIRE(nodes.run_until(
        [&] {
            const auto owner = b.state().slot_owner(1);
            return owner && owner->id() == a_id;
        },
        10000));
    REQUIRE(nodes.disks[0]->has_value());
    CHECK((*nodes.disks[1])->nodes.size() == 2);

    // The handshake, as polled events: a node added during the handshake, then named.
    bool added = false;
    bool completed = false;
    for (const auto& e : a.take_events()) {
        added = added || std::holds_alternative<gc::event::NodeAdded>(e);
        if (const auto* c = std::get_if<gc::event::HandshakeCompleted>(&e))
            completed = c->node == b.state().myself_id();
    }
    CHECK(added);
    CHECK(completed);
    CHECK(a.dropped_events() == 0);

    // The CLUSTER command layer comes with it.
    const std::string_view args[] = {"keyslot", "foo"};
    CHECK(gc::cluster_command(a, args).integer == 12182);
}

}  // namespace unit_umbrella_header_test
