// The definitions of testing/sim_cluster.hpp: compiled once into the gossipcluster library
// (src/sim_cluster.cpp), or included by the header in header-only mode.
#include "gossipcluster/testing/sim_cluster.hpp"

namespace gossipcluster::testing {

GOSSIPCLUSTER_INLINE std::size_t SimCluster::add_node(Config config,
                                                      std::optional<PersistedState> stored) {
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

GOSSIPCLUSTER_INLINE std::string SimCluster::ip_for(std::size_t i) {
    return fmt::format("127.0.{}.{}", i / 200, i % 200 + 1);
}

GOSSIPCLUSTER_INLINE SimCore& SimCluster::core(std::size_t i) {
    if (!alive(i)) throw std::logic_error(fmt::format("sim node {} is down", i));
    mark_stale(i);
    return *nodes_[i]->core;
}

GOSSIPCLUSTER_INLINE void SimCluster::crash(std::size_t i) {
    SimNode& n = *nodes_.at(i);
    if (!n.core) return;
    n.storage = n.core->storage();
    n.core.reset();
    deadline_[i] = kNever;
    ++n.incarnation;
    reset_connections_of(i, "connection reset by peer");
    trace(0xC1, i, 0, 0, 0);
}

GOSSIPCLUSTER_INLINE void SimCluster::restart(std::size_t i) {
    SimNode& n = *nodes_.at(i);
    if (n.core) return;
    start(i, n.storage);
    trace(0xC2, i, 0, 0, 0);
}

GOSSIPCLUSTER_INLINE void SimCluster::reset_links(std::size_t i) {
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

GOSSIPCLUSTER_INLINE void SimCluster::partition(const std::vector<std::size_t>& side_a,
                                                const std::vector<std::size_t>& side_b) {
    for (auto a : side_a)
        for (auto b : side_b) {
            block(a, b);
            block(b, a);
        }
}

GOSSIPCLUSTER_INLINE bool SimCluster::blocked_involving(std::size_t i) const {
    for (const auto& [from, to] : blocked_)
        if (from == i || to == i) return true;
    return false;
}

GOSSIPCLUSTER_INLINE void SimCluster::run_for(Duration d) {
    const std::int64_t end = now().ms + d.count();
    while (now().ms < end) {
        std::int64_t before = now().ms;
        step_until(end);
        if (now().ms == before && queue_.empty() && !any_deadline_before(end)) break;
    }
    if (now().ms < end) clock_.set(Instant{end});
}

GOSSIPCLUSTER_INLINE void SimCluster::start(std::size_t i, std::optional<MemoryStorage> storage) {
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

GOSSIPCLUSTER_INLINE void SimCluster::refresh_stale() {
    for (std::size_t i : stale_list_) {
        stale_[i] = 0;
        refresh_deadline(i);
    }
    stale_list_.clear();
}

GOSSIPCLUSTER_INLINE std::int64_t SimCluster::next_time() {
    refresh_stale();
    std::int64_t next = queue_.empty() ? kNever : queue_.top().time;
    for (std::size_t i = 0; i < deadline_.size(); ++i)
        next = std::min(next, effective_deadline(i));
    return next;
}

GOSSIPCLUSTER_INLINE void SimCluster::step_at(std::int64_t next) {
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

GOSSIPCLUSTER_INLINE std::string SimCluster::endpoint_key(const std::string& ip,
                                                          std::uint16_t port) {
    return fmt::format("{}:{}", ip, port);
}

GOSSIPCLUSTER_INLINE std::uint64_t SimCluster::new_payload() {
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

GOSSIPCLUSTER_INLINE std::uint64_t SimCluster::text_payload(std::string text) {
    std::uint64_t key = new_payload();
    payloads_[key - 1].text = std::move(text);
    return key;
}

GOSSIPCLUSTER_INLINE void SimCluster::release_payload(std::uint64_t key) {
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

GOSSIPCLUSTER_INLINE void SimCluster::schedule(std::int64_t time, Kind kind, std::size_t node,
                                               LinkId link, std::uint64_t payload) {
    if (payload != 0) {
        const std::size_t size = payloads_[payload - 1].size;
        in_flight_bytes_ += size;
        peak_in_flight_bytes_ = std::max(peak_in_flight_bytes_, in_flight_bytes_);
    }
    queue_.push(QueuedEvent{time, ++seq_, kind, node, nodes_[node]->incarnation, link, payload});
}

GOSSIPCLUSTER_INLINE void SimCluster::do_connect(std::size_t a, LinkId link, const Endpoint& to) {
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

GOSSIPCLUSTER_INLINE void SimCluster::do_send(std::size_t from, LinkId link, const Message& msg) {
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
    const bool lost = is_blocked(from, to) || (options_.loss > 0 && prng_.chance(options_.loss));
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

GOSSIPCLUSTER_INLINE void SimCluster::do_close(std::size_t from, LinkId link) {
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

GOSSIPCLUSTER_INLINE void SimCluster::reset_connections_of(std::size_t i, const char* reason) {
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

GOSSIPCLUSTER_INLINE void SimCluster::dispatch(const QueuedEvent& ev) {
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

GOSSIPCLUSTER_INLINE void SimCluster::note_busy(SimNode& n) {
    if (n.last_busy_ms == now().ms) return;
    n.last_busy_ms = now().ms;
    ++n.stats.wakeups;
}

GOSSIPCLUSTER_INLINE void SimCluster::deliver(const QueuedEvent& ev, SimNode& n) {
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
            if (const std::size_t conn = ends_.find(ev.node, ev.link); conn != EndTable::kNone) {
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

GOSSIPCLUSTER_INLINE void SimCluster::step_until(std::int64_t end) {
    const std::int64_t next = next_time();
    if (next > end) {
        clock_.set(Instant{end});
        return;
    }
    step_at(next);
}

GOSSIPCLUSTER_INLINE bool SimCluster::any_deadline_before(std::int64_t end) {
    refresh_stale();
    return std::any_of(deadline_.begin(), deadline_.end(),
                       [&](std::int64_t d) { return d <= end; });
}

GOSSIPCLUSTER_INLINE void SimCluster::trace(std::uint64_t kind, std::size_t node,
                                            std::uint64_t link, std::uint64_t a, std::uint64_t b) {
    for (std::uint64_t v : {static_cast<std::uint64_t>(now().ms), kind,
                            static_cast<std::uint64_t>(node), link, a, b}) {
        for (int s = 0; s < 64; s += 8) {
            trace_ ^= (v >> s) & 0xffu;
            trace_ *= 1099511628211ull;
        }
    }
}

GOSSIPCLUSTER_INLINE std::size_t* SimCluster::EndTable::locate(std::size_t node, LinkId link,
                                                               bool grow) {
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

GOSSIPCLUSTER_INLINE void SimTransport::connect(LinkId link, const Endpoint& to) {
    sim_->do_connect(node_, link, to);
}
GOSSIPCLUSTER_INLINE void SimTransport::send(LinkId link, const Message& msg) {
    sim_->do_send(node_, link, msg);
}
GOSSIPCLUSTER_INLINE void SimTransport::close(LinkId link) {
    sim_->do_close(node_, link);
}

}  // namespace gossipcluster::testing
