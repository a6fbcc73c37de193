// SimCluster: many production ClusterCores on one simulated network and one fake clock.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <algorithm>

#include <fmt/format.h>

#include "gossipcluster/cluster_core.hpp"
#include "gossipcluster/codec.hpp"
#include "gossipcluster/detail/linkage.hpp"
#include "gossipcluster/detail/prng.hpp"
#include "gossipcluster/storage/memory_storage.hpp"
#include "gossipcluster/testing/manual_clock.hpp"

namespace gossipcluster::testing {

struct SimOptions {
    std::uint64_t seed = 1;
    // One-way delay of every message and connection step, uniform in [min, max] ms.
    Duration min_delay{1};
    Duration max_delay{3};
    double loss = 0.0;       // probability a message is dropped
    double duplicate = 0.0;  // probability a message is delivered twice
    bool reorder = false;    // when false each link delivers in order, as TCP does
    // Encode every message to bytes and decode it at the receiver, as a real transport would.
    bool codec_roundtrip = true;
    // Messages in flight per link direction; beyond it new ones are dropped (a full socket).
    std::size_t link_capacity = 100000;
    Duration connect_timeout{1000};  // how long a connect into a partition hangs before failing
};

class SimCluster;

// The Transport policy of simulated nodes: forwards to the SimCluster that owns the node.
class SimTransport {
  public:
    SimTransport(SimCluster* sim, std::size_t node) : sim_(sim), node_(node) {}
    void connect(LinkId link, const Endpoint& to);
    void send(LinkId link, const Message& msg);
    void close(LinkId link);

  private:
    SimCluster* sim_;
    std::size_t node_;
};

using SimCore = ClusterCore<SimTransport, ManualClock, MemoryStorage>;

struct SimNodeStats {
    std::uint64_t messages_sent = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t messages_received = 0;
    std::uint64_t ticks = 0;  // times the core was woken for its deadline
    // Simulated milliseconds in which the node had anything to do (a message, a link event or
    // its deadline): a process's wake-ups, counting what arrives together as one.
    std::uint64_t wakeups = 0;
};

class SimCluster {
  public:
    using Observer = std::function<void(std::size_t node, Instant at, const Event&)>;
    // Sees every message a node puts on an open link; `lost` when the network then drops it.
    using SendObserver =
        std::function<void(std::size_t from, std::size_t to, const Message&, bool lost)>;

    explicit SimCluster(SimOptions options = {}) : options_(options), prng_(options.seed) {
        if (options_.min_delay.count() < 1 || options_.max_delay < options_.min_delay)
            throw std::invalid_argument("SimOptions: need 1 <= min_delay <= max_delay");
    }
    SimCluster(const SimCluster&) = delete;
    SimCluster& operator=(const SimCluster&) = delete;

    // Adds and starts a node. The simulator assigns its address (127.0.x.y, port 7000, bus
    // 17000) and its seed; everything else comes from `config`.
    std::size_t add_node(Config config = {}) { return add_node(std::move(config), std::nullopt); }

    // The same, starting from `stored` as if the process restarted with that nodes.conf; the
    // addresses in it are the simulator's (ip_for(i), port 7000, bus port 17000).
    std::size_t add_node(Config config, std::optional<PersistedState> stored);
    static constexpr std::uint16_t kClientPort = 7000;  // every node's; the bus port is +10000
    static std::string ip_for(std::size_t i);

    // Fault knobs may change while the simulation runs.
    SimOptions& options() { return options_; }
    std::size_t size() const { return nodes_.size(); }
    bool paused(std::size_t i) const { return paused_until_.at(i) > now().ms; }
    bool alive(std::size_t i) const { return nodes_.at(i)->core != nullptr; }
    // The caller may run commands on it: its deadline is read again before the next step.
    SimCore& core(std::size_t i);
    const std::string& ip(std::size_t i) const { return nodes_.at(i)->ip; }
    // The node's configuration; changes apply at its next restart (address fields are the
    // simulator's and are overwritten).
    Config& node_config(std::size_t i) { return nodes_.at(i)->config; }
    std::uint16_t port(std::size_t i) const { return nodes_.at(i)->config.port; }
    std::uint16_t bus_port(std::size_t i) const { return nodes_.at(i)->config.bus_port(); }
    const SimNodeStats& stats(std::size_t i) const { return nodes_.at(i)->stats; }
    Instant now() const { return clock_.now(); }
    ManualClock& clock() { return clock_; }
    std::uint64_t trace_hash() const { return trace_; }
    std::uint64_t steps() const { return steps_; }
    void set_observer(Observer observer) { observer_ = std::move(observer); }
    const Observer& observer() const { return observer_; }
    void set_send_observer(SendObserver observer) { send_observer_ = std::move(observer); }
    // Called after every step (the invariant checker hooks in here).
    void set_step_hook(std::function<void()> hook) { step_hook_ = std::move(hook); }
    // Codec failures seen on delivery; always empty unless the codec or core is broken.
    const std::vector<std::string>& codec_errors() const { return codec_errors_; }
    // Messages dropped because their link already had link_capacity messages in flight.
    std::uint64_t dropped_full() const { return dropped_full_; }
    // Bytes of messages on the simulated wire now, and the most there ever were at once.
    std::uint64_t in_flight_bytes() const { return in_flight_bytes_; }
    std::uint64_t peak_in_flight_bytes() const { return peak_in_flight_bytes_; }

    // Node i meets node j (CLUSTER MEET j's address on i).
    CommandResult meet(std::size_t i, std::size_t j) {
        return core(i).meet(ip(j), port(j), bus_port(j));
    }

    // Process crash: the object is destroyed, peers see their connections reset, connects are
    // refused; only what it had saved survives.
    void crash(std::size_t i);
    void restart(std::size_t i);
    // A network blip: every connection of node i is reset and both ends see it close; the
    // process keeps running and connects again.
    void reset_links(std::size_t i);
    // The process stops running (SIGSTOP) for `d`: its sockets stay open and the kernel still
    // accepts connections, but nothing is processed until it resumes.
    void pause(std::size_t i, Duration d) { paused_until_.at(i) = now().ms + d.count(); }

    // Messages and connects from `from` to `to` are lost (one direction).
    void block(std::size_t from, std::size_t to) { blocked_.insert({from, to}); }
    void unblock(std::size_t from, std::size_t to) { blocked_.erase({from, to}); }
    void partition(const std::vector<std::size_t>& side_a, const std::vector<std::size_t>& side_b);
    void heal() { blocked_.clear(); }
    // Whether a blocked direction starts or ends at node i.
    bool blocked_involving(std::size_t i) const;
    // The longest delay a message may take on this network.
    Duration max_delay() const { return options_.max_delay; }

    // Advances simulated time to the next event or deadline and processes everything due then.
    void step() { step_at(next_time()); }

    void run_for(Duration d);

    // Runs until pred() holds (checked after every step) or `limit` of simulated time passes.
    // Returns whether pred() held.
    template <typename Pred>
    bool run_until(Pred&& pred, Duration limit) {
        const std::int64_t end = now().ms + limit.count();
        if (pred()) return true;
        while (now().ms < end) {
            step_until(end);
            if (pred()) return true;
        }
        return false;
    }

  private:
    friend class SimTransport;

    static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

    struct SimNode {
        std::string ip;
        Config config;
        ManualClock clock;
        std::optional<MemoryStorage> storage;
        std::unique_ptr<SimCore> core;
        std::uint64_t incarnation = 0;
        SimNodeStats stats;
        std::int64_t last_busy_ms = -1;  // for stats.wakeups
    };

    enum class Kind : std::uint8_t { Deliver, Accept, LinkUp, LinkDown };

    struct QueuedEvent {
        std::int64_t time;
        std::uint64_t seq;
        Kind kind;
        std::size_t node;
        std::uint64_t incarnation;
        LinkId link;
        std::uint64_t payload;  // 1 + index into payloads_ for Deliver / Accept / LinkDown
        friend bool operator<(const QueuedEvent& a, const QueuedEvent& b) {
            // priority_queue pops the largest: invert for earliest time, then lowest sequence.
            return a.time != b.time ? a.time > b.time : a.seq > b.seq;
        }
    };

    struct Payload {
        std::vector<std::uint8_t> bytes;   // codec round trip
        std::unique_ptr<Message> message;  // without round trip (a Message is 2.4 KB)
        std::string text;                  // peer ip for Accept, reason for LinkDown
        std::size_t size = 0;              // wire bytes, for in_flight_bytes()
    };

    struct Connection {
        std::size_t a = 0, b = 0;  // a connected to b
        LinkId a_link, b_link;
        bool open = true;
        std::int64_t last_to_b = 0, last_to_a = 0;  // FIFO watermarks
        std::size_t in_flight_to_b = 0, in_flight_to_a = 0;
    };

    void start(std::size_t i, std::optional<MemoryStorage> storage);

    // Deadlines are kept in a flat array so that finding the next one does not visit every
    // core. Each core call made here refreshes its entry; core(i) marks it stale because the
    // caller may run a command that moves it.
    void mark_stale(std::size_t i) {
        if (stale_[i]) return;
        stale_[i] = 1;
        stale_list_.push_back(i);
    }
    void refresh_deadline(std::size_t i) {
        const SimNode& n = *nodes_[i];
        deadline_[i] = n.core ? n.core->next_deadline().ms : kNever;
    }
    void refresh_stale();
    std::int64_t effective_deadline(std::size_t i) const {
        if (deadline_[i] == kNever) return kNever;
        return paused_until_[i] > now().ms ? paused_until_[i] : deadline_[i];
    }
    // The earliest event or deadline.
    std::int64_t next_time();

    // Moves the clock to `next` and processes everything due then: events in time and sequence
    // order, then the ticks of due nodes in index order.
    void step_at(std::int64_t next);

    static std::string endpoint_key(const std::string& ip, std::uint16_t port);

    std::int64_t delay() {
        return prng_.between(options_.min_delay.count(), options_.max_delay.count());
    }

    // Payloads live in a pool whose entries keep their buffers: a message in flight costs no
    // allocation once the pool has grown to the peak.
    std::uint64_t new_payload();
    std::uint64_t text_payload(std::string text);
    void release_payload(std::uint64_t key);

    void schedule(std::int64_t time, Kind kind, std::size_t node, LinkId link,
                  std::uint64_t payload);

    bool is_blocked(std::size_t from, std::size_t to) const {
        return blocked_.contains({from, to});
    }

    // What the nodes' transports ask of the network (SimTransport forwards here).
    void do_connect(std::size_t a, LinkId link, const Endpoint& to);
    void do_send(std::size_t from, LinkId link, const Message& msg);
    void do_close(std::size_t from, LinkId link);
    void reset_connections_of(std::size_t i, const char* reason);

    // Hands a due event to its node: dropped if the node died or restarted since, held back
    // while it is paused.
    void dispatch(const QueuedEvent& ev);
    void note_busy(SimNode& n);
    void deliver(const QueuedEvent& ev, SimNode& n);

    void step_until(std::int64_t end);
    bool any_deadline_before(std::int64_t end);

    // Folds what happened into trace_hash(), so that two runs of one seed can be compared.
    void trace(std::uint64_t kind, std::size_t node, std::uint64_t link, std::uint64_t a,
               std::uint64_t b);

    SimOptions options_;
    detail::Prng prng_;
    ManualClock clock_;
    std::vector<std::unique_ptr<SimNode>> nodes_;
    std::map<std::string, std::size_t> endpoints_;
    std::vector<Connection> connections_;
    // Which connection a (node, link) end belongs to; looked up on every send and delivery.
    // Both kinds of link id are small counters - outbound ones count per core, inbound ones are
    // numbered here - so plain arrays indexed by them replace a hash map and its cache misses.
    class EndTable {
      public:
        static constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();

        void set(std::size_t node, LinkId link, std::size_t conn) {
            *locate(node, link, true) = conn;
        }
        std::size_t find(std::size_t node, LinkId link) {
            const std::size_t* at = locate(node, link, false);
            return at ? *at : kNone;
        }
        bool contains(std::size_t node, LinkId link) { return find(node, link) != kNone; }
        void erase(std::size_t node, LinkId link) {
            if (std::size_t* at = locate(node, link, false)) *at = kNone;
        }

      private:
        // Inbound ids are numbered across the whole simulation, so one names its end alone;
        // outbound ids restart with every core, so they are kept per node.
        std::size_t* locate(std::size_t node, LinkId link, bool grow);

        std::vector<std::vector<std::size_t>> outbound_;  // [node][link id]
        std::vector<std::size_t> inbound_;                // [inbound sequence number]
    };
    EndTable ends_;
    std::set<std::pair<std::size_t, std::size_t>> blocked_;
    std::priority_queue<QueuedEvent> queue_;
    std::deque<Payload> payloads_;
    std::vector<std::uint64_t> free_payloads_;
    std::size_t pooled_bytes_ = 0;  // buffer capacity held by free pool entries
    std::uint64_t in_flight_bytes_ = 0;
    std::uint64_t peak_in_flight_bytes_ = 0;
    std::vector<std::int64_t> deadline_;      // kNever while the node is down
    std::vector<std::int64_t> paused_until_;  // monotonic ms
    std::vector<std::uint8_t> stale_;
    std::vector<std::size_t> stale_list_;
    std::uint64_t seq_ = 0;
    std::uint64_t inbound_seq_ = 0;
    std::uint64_t steps_ = 0;
    std::uint64_t trace_ = 1469598103934665603ull;
    Message scratch_;
    Observer observer_;
    SendObserver send_observer_;
    std::function<void()> step_hook_;
    std::vector<std::string> codec_errors_;
    std::uint64_t dropped_full_ = 0;
};

}  // namespace gossipcluster::testing

#ifdef GOSSIPCLUSTER_HEADER_ONLY
#include "gossipcluster/impl/sim_cluster.ipp"
#else
// Compiled once, in src/sim_cluster.cpp, with the simulator's node type.
extern template class gossipcluster::ClusterCore<gossipcluster::testing::SimTransport,
                                                 gossipcluster::testing::ManualClock,
                                                 gossipcluster::MemoryStorage>;
#endif
