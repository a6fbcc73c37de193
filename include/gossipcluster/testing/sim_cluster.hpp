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
    std::size_t add_node(Config config, std::optional<PersistedState> stored) {
        std::size_t i = nodes_.size();
        auto slot = std::make_unique<SimNode>();
        slot->ip = ip_for(i);
        config.port = kClientPort;
        config.cport = 0;
        slot->config = std::move(config);
        slot->clock = clock_;
        nodes_.push_back(std::move(slot));
        deadline_.push_back(kNever);
        paused_until_.push_back(0);
        stale_.push_back(0);
        endpoints_[endpoint_key(nodes_[i]->ip, nodes_[i]->config.bus_port())] = i;
        if (stored)
            start(i, MemoryStorage(std::move(stored)));
        else
            start(i, std::nullopt);
        return i;
    }
    static constexpr std::uint16_t kClientPort = 7000;  // every node's; the bus port is +10000
    static std::string ip_for(std::size_t i) {
        return fmt::format("127.0.{}.{}", i / 200, i % 200 + 1);
    }

    // Fault knobs may change while the simulation runs.
    SimOptions& options() { return options_; }
    std::size_t size() const { return nodes_.size(); }
    bool paused(std::size_t i) const { return paused_until_.at(i) > now().ms; }
    bool alive(std::size_t i) const { return nodes_.at(i)->core != nullptr; }
    // The caller may run commands on it: its deadline is read again before the next step.
    SimCore& core(std::size_t i) {
        if (!alive(i)) throw std::logic_error(fmt::format("sim node {} is down", i));
        mark_stale(i);
        return *nodes_[i]->core;
    }
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
    void crash(std::size_t i) {
        SimNode& n = *nodes_.at(i);
        if (!n.core) return;
        n.storage = n.core->storage();
        n.core.reset();
        deadline_[i] = kNever;
        ++n.incarnation;
        reset_connections_of(i, "connection reset by peer");
        trace(0xC1, i, 0, 0, 0);
    }
    void restart(std::size_t i) {
        SimNode& n = *nodes_.at(i);
        if (n.core) return;
        start(i, n.storage);
        trace(0xC2, i, 0, 0, 0);
    }
    // A network blip: every connection of node i is reset and both ends see it close; the
    // process keeps running and connects again.
    void reset_links(std::size_t i) {
        for (auto& c : connections_) {
            if (!c.open || (c.a != i && c.b != i)) continue;
            c.open = false;
            ends_.erase(c.a, c.a_link);
            ends_.erase(c.b, c.b_link);
            schedule(now().ms + delay(), Kind::LinkDown, c.a, c.a_link,
                     text_payload("connection reset by peer"));
            schedule(now().ms + delay(), Kind::LinkDown, c.b, c.b_link,
                     text_payload("connection reset by peer"));
        }
        trace(0xC3, i, 0, 0, 0);
    }
    // The process stops running (SIGSTOP) for `d`: its sockets stay open and the kernel still
    // accepts connections, but nothing is processed until it resumes.
    void pause(std::size_t i, Duration d) { paused_until_.at(i) = now().ms + d.count(); }

    // Messages and connects from `from` to `to` are lost (one direction).
    void block(std::size_t from, std::size_t to) { blocked_.insert({from, to}); }
    void unblock(std::size_t from, std::size_t to) { blocked_.erase({from, to}); }
    void partition(const std::vector<std::size_t>& side_a, const std::vector<std::size_t>& side_b) {
        for (auto a : side_a)
            for (auto b : side_b) {
                block(a, b);
                block(b, a);
            }
    }
    void heal() { blocked_.clear(); }
    // Whether a blocked direction starts or ends at node i.
    bool blocked_involving(std::size_t i) const {
        for (const auto& [from, to] : blocked_)
            if (from == i || to == i) return true;
        return false;
    }
    // The longest delay a message may take on this network.
    Duration max_delay() const { return options_.max_delay; }

    // Advances simulated time to the next event or deadline and processes everything due then.
    void step() { step_at(next_time()); }

    void run_for(Duration d) {
        const std::int64_t end = now().ms + d.count();
        while (now().ms < end) {
            std::int64_t before = now().ms;
            step_until(end);
            if (now().ms == before && queue_.empty() && !any_deadline_before(end)) break;
        }
        if (now().ms < end) clock_.set(Instant{end});
    }

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

    void start(std::size_t i, std::optional<MemoryStorage> storage) {
        SimNode& n = *nodes_[i];
        Config cfg = n.config;
        cfg.seed = options_.seed * 1000003u + i * 7919u + n.incarnation * 104729u + 1;
        MemoryStorage st = storage ? *storage : MemoryStorage{};
        n.core = std::make_unique<SimCore>(cfg, SimTransport(this, i), n.clock, std::move(st));
        n.core->set_event_handler([this, i](const Event& e) {
            if (observer_) observer_(i, now(), e);
        });
        deadline_[i] = n.core->next_deadline().ms;
    }

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
    void refresh_stale() {
        for (std::size_t i : stale_list_) {
            stale_[i] = 0;
            refresh_deadline(i);
        }
        stale_list_.clear();
    }
    std::int64_t effective_deadline(std::size_t i) const {
        if (deadline_[i] == kNever) return kNever;
        return paused_until_[i] > now().ms ? paused_until_[i] : deadline_[i];
    }
    // The earliest event or deadline.
    std::int64_t next_time() {
        refresh_stale();
        std::int64_t next = queue_.empty() ? kNever : queue_.top().time;
        for (std::size_t i = 0; i < deadline_.size(); ++i)
            next = std::min(next, effective_deadline(i));
        return next;
    }

    // Moves the clock to `next` and processes everything due then: events in time and sequence
    // order, then the ticks of due nodes in index order.
    void step_at(std::int64_t next) {
        if (next == kNever) return;
        if (next > now().ms) clock_.set(Instant{next});
        ++steps_;
        while (!queue_.empty() && queue_.top().time <= now().ms) {
            QueuedEvent ev = queue_.top();
            queue_.pop();
            dispatch(ev);
        }
        for (std::size_t i = 0; i < nodes_.size(); ++i) {
            if (stale_[i]) {
                stale_[i] = 0;
                refresh_deadline(i);
            }
            if (deadline_[i] > now().ms || paused_until_[i] > now().ms) continue;
            SimNode& n = *nodes_[i];
            ++n.stats.ticks;
            note_busy(n);
            n.core->tick();
            refresh_deadline(i);
        }
        std::erase_if(stale_list_, [&](std::size_t i) { return !stale_[i]; });
        if (step_hook_) step_hook_();
    }

    static std::string endpoint_key(const std::string& ip, std::uint16_t port) {
        return fmt::format("{}:{}", ip, port);
    }

    std::int64_t delay() {
        return prng_.between(options_.min_delay.count(), options_.max_delay.count());
    }

    // Payloads live in a pool whose entries keep their buffers: a message in flight costs no
    // allocation once the pool has grown to the peak.
    std::uint64_t new_payload() {
        if (free_payloads_.empty()) {
            payloads_.emplace_back();
            return payloads_.size();
        }
        std::uint64_t key = free_payloads_.back();
        free_payloads_.pop_back();
        Payload& p = payloads_[key - 1];
        pooled_bytes_ -= p.bytes.capacity();
        p.bytes.clear();
        p.message.reset();
        p.text.clear();
        p.size = 0;
        return key;
    }
    std::uint64_t text_payload(std::string text) {
        std::uint64_t key = new_payload();
        payloads_[key - 1].text = std::move(text);
        return key;
    }
    void release_payload(std::uint64_t key) {
        if (key == 0) return;
        Payload& p = payloads_[key - 1];
        in_flight_bytes_ -= p.size;
        p.size = 0;
        // Keep buffers for steady traffic only: a formation burst can put hundreds of thousands
        // of messages in flight at once, and their buffers must not stay allocated after it.
        static constexpr std::size_t kKeptBytes = 32u << 20;
        if (pooled_bytes_ + p.bytes.capacity() > kKeptBytes)
            std::vector<std::uint8_t>().swap(p.bytes);
        else
            pooled_bytes_ += p.bytes.capacity();
        p.message.reset();
        free_payloads_.push_back(key);
    }

    void schedule(std::int64_t time, Kind kind, std::size_t node, LinkId link,
                  std::uint64_t payload) {
        if (payload != 0) {
            const std::size_t size = payloads_[payload - 1].size;
            in_flight_bytes_ += size;
            peak_in_flight_bytes_ = std::max(peak_in_flight_bytes_, in_flight_bytes_);
        }
        queue_.push(
            QueuedEvent{time, ++seq_, kind, node, nodes_[node]->incarnation, link, payload});
    }

    bool is_blocked(std::size_t from, std::size_t to) const {
        return blocked_.contains({from, to});
    }

    void do_connect(std::size_t a, LinkId link, const Endpoint& to) {
        auto it = endpoints_.find(endpoint_key(to.ip, to.port));
        const std::int64_t t = now().ms;
        if (it == endpoints_.end() || !nodes_[it->second]->core) {
            schedule(t + delay(), Kind::LinkDown, a, link, text_payload("connection refused"));
            return;
        }
        std::size_t b = it->second;
        if (is_blocked(a, b) || is_blocked(b, a)) {
            schedule(t + options_.connect_timeout.count(), Kind::LinkDown, a, link,
                     text_payload("connect timeout"));
            return;
        }
        Connection c;
        c.a = a;
        c.b = b;
        c.a_link = link;
        c.b_link = LinkId::inbound(++inbound_seq_);
        const std::int64_t accept_at = t + delay();
        const std::int64_t up_at = accept_at + delay();
        c.last_to_b = accept_at;
        c.last_to_a = accept_at;
        std::size_t idx = connections_.size();
        connections_.push_back(c);
        ends_.set(a, link, idx);
        ends_.set(b, c.b_link, idx);
        schedule(accept_at, Kind::Accept, b, c.b_link, text_payload(nodes_[a]->ip));
        schedule(up_at, Kind::LinkUp, a, link, 0);
    }

    void do_send(std::size_t from, LinkId link, const Message& msg) {
        const std::size_t conn = ends_.find(from, link);
        if (conn == EndTable::kNone) return;
        Connection& c = connections_[conn];
        if (!c.open) return;
        const bool forward = c.a == from;
        const std::size_t to = forward ? c.b : c.a;
        const LinkId to_link = forward ? c.b_link : c.a_link;
        SimNodeStats& st = nodes_[from]->stats;
        ++st.messages_sent;
        // Sizes are counted for every message sent, even one the network then loses; it is
        // encoded only when it will be delivered.
        const std::size_t size = encoded_size(msg);
        st.bytes_sent += size;
        const bool lost =
            is_blocked(from, to) || (options_.loss > 0 && prng_.chance(options_.loss));
        if (send_observer_) send_observer_(from, to, msg, lost);
        if (lost) return;
        std::size_t& in_flight = forward ? c.in_flight_to_b : c.in_flight_to_a;
        if (in_flight >= options_.link_capacity) {
            ++dropped_full_;
            return;
        }
        std::int64_t at = now().ms + delay();
        std::int64_t& watermark = forward ? c.last_to_b : c.last_to_a;
        if (!options_.reorder) at = std::max(at, watermark);
        watermark = at;
        const bool dup = options_.duplicate > 0 && prng_.chance(options_.duplicate);
        const int copies = dup ? 2 : 1;
        for (int k = 0; k < copies; ++k) {
            const std::uint64_t key = new_payload();
            Payload& p = payloads_[key - 1];
            if (options_.codec_roundtrip)
                encode(msg, p.bytes);
            else
                p.message = std::make_unique<Message>(msg);
            p.size = size;
            ++in_flight;
            schedule(at, Kind::Deliver, to, to_link, key);
        }
    }

    void do_close(std::size_t from, LinkId link) {
        const std::size_t conn = ends_.find(from, link);
        if (conn == EndTable::kNone) return;
        Connection& c = connections_[conn];
        ends_.erase(from, link);
        if (!c.open) return;
        c.open = false;
        const bool forward = c.a == from;
        const std::size_t to = forward ? c.b : c.a;
        const LinkId to_link = forward ? c.b_link : c.a_link;
        std::int64_t& watermark = forward ? c.last_to_b : c.last_to_a;
        const std::int64_t at = std::max(now().ms + delay(), watermark);
        schedule(at, Kind::LinkDown, to, to_link, text_payload("connection closed by peer"));
    }

    void reset_connections_of(std::size_t i, const char* reason) {
        for (auto& c : connections_) {
            if (!c.open || (c.a != i && c.b != i)) continue;
            c.open = false;
            const bool i_is_a = c.a == i;
            const std::size_t other = i_is_a ? c.b : c.a;
            const LinkId other_link = i_is_a ? c.b_link : c.a_link;
            ends_.erase(c.a, c.a_link);
            ends_.erase(c.b, c.b_link);
            schedule(now().ms + delay(), Kind::LinkDown, other, other_link, text_payload(reason));
        }
    }

    void dispatch(const QueuedEvent& ev) {
        SimNode& n = *nodes_[ev.node];
        if (!n.core || ev.incarnation != n.incarnation) {
            release_payload(ev.payload);
            return;
        }
        if (paused_until_[ev.node] > now().ms) {
            // The kernel holds it until the process runs again.
            if (ev.payload != 0) in_flight_bytes_ -= payloads_[ev.payload - 1].size;
            schedule(paused_until_[ev.node], ev.kind, ev.node, ev.link, ev.payload);
            return;
        }
        note_busy(n);
        deliver(ev, n);
        release_payload(ev.payload);
        if (n.core) refresh_deadline(ev.node);
    }

    void note_busy(SimNode& n) {
        if (n.last_busy_ms == now().ms) return;
        n.last_busy_ms = now().ms;
        ++n.stats.wakeups;
    }

    void deliver(const QueuedEvent& ev, SimNode& n) {
        // The pool is a deque: entries stay put while the core's sends add new ones.
        Payload* payload = ev.payload != 0 ? &payloads_[ev.payload - 1] : nullptr;
        switch (ev.kind) {
            case Kind::Accept:
                trace(0xA1, ev.node, ev.link.value, 0, 0);
                n.core->on_inbound_link(ev.link, payload ? payload->text : std::string{}, n.ip);
                break;
            case Kind::LinkUp:
                if (!ends_.contains(ev.node, ev.link)) return;
                trace(0xA2, ev.node, ev.link.value, 0, 0);
                n.core->on_link_up(ev.link);
                break;
            case Kind::LinkDown:
                ends_.erase(ev.node, ev.link);
                trace(0xA3, ev.node, ev.link.value, 0, 0);
                n.core->on_link_down(ev.link, payload ? payload->text : std::string{});
                break;
            case Kind::Deliver: {
                if (const std::size_t conn = ends_.find(ev.node, ev.link);
                    conn != EndTable::kNone) {
                    Connection& c = connections_[conn];
                    std::size_t& in_flight =
                        c.b == ev.node && c.b_link == ev.link ? c.in_flight_to_b : c.in_flight_to_a;
                    if (in_flight > 0) --in_flight;
                }
                if (!ends_.contains(ev.node, ev.link) || !payload) return;
                ++n.stats.messages_received;
                if (payload->message) {
                    trace(0xD1, ev.node, ev.link.value,
                          static_cast<std::uint64_t>(payload->message->header.type),
                          encoded_size(*payload->message));
                    n.core->on_message(ev.link, *payload->message);
                } else {
                    DecodeError err = decode(payload->bytes, scratch_);
                    if (err != DecodeError::None) {
                        codec_errors_.push_back(fmt::format("node {}: {}", ev.node, describe(err)));
                        return;
                    }
                    trace(0xD1, ev.node, ev.link.value,
                          static_cast<std::uint64_t>(scratch_.header.type), payload->bytes.size());
                    n.core->on_message(ev.link, scratch_);
                }
                break;
            }
        }
    }

    void step_until(std::int64_t end) {
        const std::int64_t next = next_time();
        if (next > end) {
            clock_.set(Instant{end});
            return;
        }
        step_at(next);
    }

    bool any_deadline_before(std::int64_t end) {
        refresh_stale();
        return std::any_of(deadline_.begin(), deadline_.end(),
                           [&](std::int64_t d) { return d <= end; });
    }

    void trace(std::uint64_t kind, std::size_t node, std::uint64_t link, std::uint64_t a,
               std::uint64_t b) {
        for (std::uint64_t v : {static_cast<std::uint64_t>(now().ms), kind,
                                static_cast<std::uint64_t>(node), link, a, b}) {
            for (int s = 0; s < 64; s += 8) {
                trace_ ^= (v >> s) & 0xffu;
                trace_ *= 1099511628211ull;
            }
        }
    }

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
        std::size_t* locate(std::size_t node, LinkId link, bool grow) {
            const std::uint64_t n = link.value & ~LinkId::kInboundBit;
            std::vector<std::size_t>* table = &inbound_;
            if (!link.is_inbound()) {
                if (node >= outbound_.size()) {
                    if (!grow) return nullptr;
                    outbound_.resize(node + 1);
                }
                table = &outbound_[node];
            }
            if (n >= table->size()) {
                if (!grow) return nullptr;
                table->resize(std::max<std::size_t>(n + 1, 2 * table->size()), kNone);
            }
            return &(*table)[n];
        }

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

inline void SimTransport::connect(LinkId link, const Endpoint& to) {
    sim_->do_connect(node_, link, to);
}
inline void SimTransport::send(LinkId link, const Message& msg) {
    sim_->do_send(node_, link, msg);
}
inline void SimTransport::close(LinkId link) {
    sim_->do_close(node_, link);
}

}  // namespace gossipcluster::testing
