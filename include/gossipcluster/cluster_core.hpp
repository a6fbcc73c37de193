// ClusterCore<Transport, Clock, Storage>: drives ClusterState with the host's policies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "gossipcluster/cluster_state.hpp"
#include "gossipcluster/concepts.hpp"
#include "gossipcluster/storage/storage_error.hpp"

namespace gossipcluster {

// Each input reads the clock once, runs the state machine, then applies its Output in a fixed
// order: save (with fsync when asked) before any message leaves, then link actions and
// messages in the order they were produced, then events to the host. If save throws, nothing
// is sent: no peer ever sees an epoch or a vote we could forget in a crash. The core then halts:
// its memory holds what the disk lacks, and any later message (a PING carries currentEpoch)
// would announce it, so every later input throws StorageError and sends nothing.
template <Transport T, Clock C, Storage S>
class ClusterCore {
  public:
    using EventHandler = std::function<void(const Event&)>;

    ClusterCore(Config config, T transport, C clock, S storage)
        : transport_(std::move(transport)),
          clock_(std::move(clock)),
          storage_(std::move(storage)),
          state_(std::move(config), now(), storage_.load()) {
        // A fresh node writes its name down before it talks to anyone.
        save(now(), true);
    }

    ClusterCore(const ClusterCore&) = delete;
    ClusterCore& operator=(const ClusterCore&) = delete;

    void set_event_handler(EventHandler handler) { on_event_ = std::move(handler); }

    // Inputs from the transport.
    void on_link_up(LinkId link) {
        run([&](Now n, Output& o) { state_.on_link_up(n, link, o); });
    }
    void on_link_down(LinkId link, std::string_view reason) {
        run([&](Now n, Output& o) { state_.on_link_down(n, link, reason, o); });
    }
    void on_inbound_link(LinkId link, std::string peer_ip, std::string local_ip) {
        run([&](Now n, Output& o) {
            state_.on_inbound_link(n, link, std::move(peer_ip), std::move(local_ip), o);
        });
    }
    void on_message(LinkId link, const Message& msg) {
        run([&](Now n, Output& o) { state_.on_message(n, link, msg, o); });
    }
    // Call at next_deadline() (or later); extra calls are harmless.
    void tick() {
        run([&](Now n, Output& o) { state_.tick(n, o); });
    }
    Instant next_deadline() const { return state_.next_deadline(); }

    // Operator commands: each runs like every other input (the state is saved before anything
    // it caused is sent). Failures come back as a CommandResult with Redis's error text.
    CommandResult meet(std::string_view ip, std::uint16_t port, std::uint16_t cport) {
        return run([&](Now n, Output& o) { return state_.meet(n, ip, port, cport, o); });
    }
    CommandResult forget(std::string_view node_id) {
        return run([&](Now n, Output& o) { return state_.forget(n, node_id, o); });
    }
    CommandResult add_slots(const std::vector<std::uint16_t>& slots) {
        return run([&](Now n, Output& o) { return state_.add_slots(n, slots, o); });
    }
    CommandResult del_slots(const std::vector<std::uint16_t>& slots) {
        return run([&](Now n, Output& o) { return state_.del_slots(n, slots, o); });
    }
    CommandResult flush_slots() {
        return run([&](Now n, Output& o) { return state_.flush_slots(n, o); });
    }
    // `keys_in_slot`: keys the host still holds in `slot` (SETSLOT NODE refuses to give away a
    // slot that has some here). `node_id` is ignored for SetSlotMode::Stable.
    CommandResult set_slot(std::uint16_t slot, SetSlotMode mode, std::string_view node_id = {},
                           std::size_t keys_in_slot = 0) {
        return run([&](Now n, Output& o) {
            return state_.set_slot(n, slot, mode, node_id, keys_in_slot, o);
        });
    }
    CommandResult set_config_epoch(std::int64_t epoch) {
        return run([&](Now n, Output& o) { return state_.set_config_epoch(n, epoch, o); });
    }
    // `bumped` says whether the config epoch changed (CLUSTER BUMPEPOCH's BUMPED or STILL).
    CommandResult bump_epoch(bool& bumped) {
        return run([&](Now n, Output& o) { return state_.bump_epoch(n, o, bumped); });
    }
    CommandResult bump_epoch() {
        bool bumped = false;
        return bump_epoch(bumped);
    }
    CommandResult publish(std::string_view channel, std::string_view message, bool shard = false) {
        return run([&](Now n, Output& o) { return state_.publish(n, channel, message, shard, o); });
    }
    // To one node, or to every node when `target` is empty.
    CommandResult send_module_message(std::uint64_t module_id, std::uint8_t type,
                                      std::string_view payload,
                                      std::optional<NodeId> target = std::nullopt) {
        return run([&](Now n, Output& o) {
            return state_.send_module_message(n, module_id, type, payload, target, o);
        });
    }
    CommandResult failover(ClusterState::FailoverMode mode = ClusterState::FailoverMode::Default) {
        return run([&](Now n, Output& o) { return state_.failover(n, mode, o); });
    }
    // `host_empty`: the host holds no keys (a master must be empty to become a replica).
    CommandResult replicate(std::string_view node_id, bool host_empty) {
        return run([&](Now n, Output& o) { return state_.replicate(n, node_id, host_empty, o); });
    }
    CommandResult reset(bool hard) {
        return run([&](Now n, Output& o) { return state_.reset(n, hard, o); });
    }
    // Reports from the host's replication (see ClusterState); they produce no output today but
    // go through the same path, so a future one that does is applied like any other.
    void set_replication_offset(std::uint64_t offset) {
        run([&](Now, Output&) { state_.set_replication_offset(offset); });
    }
    void set_replication_link(ReplicationLink link) {
        run([&](Now n, Output&) { state_.set_replication_link(n, link); });
    }
    // CLUSTER COUNT-FAILURE-REPORTS: counting drops the reports that expired.
    std::size_t failure_report_count(const NodeId& node) {
        return run([&](Now n, Output&) { return state_.failure_report_count(n, node); });
    }

    // Any other command: runs f(state, now, output) and applies the output like every input,
    // e.g. core.command([&](auto& s, Now n, Output& o) { return s.add_slots(n, slots, o); }).
    template <typename F>
    auto command(F&& f) {
        return run([&](Now n, Output& o) { return f(state_, n, o); });
    }

    // Polling instead of (or beside) the event handler, which runs while a step is applied and
    // so must not call the core. Off until the host opts in: queue_events(limit) keeps up to
    // `limit` events for take_events(); the events past it are dropped and counted, so memory
    // stays bounded when the host polls late. A host that sees dropped_events() grow has missed
    // some changes after the events it got and should read state() afresh. queue_events(0)
    // stops queueing and discards what is queued.
    void queue_events(std::size_t limit) {
        event_limit_ = limit;
        if (limit == 0) {
            queued_.clear();
            queued_.shrink_to_fit();
        }
    }
    // The events of the inputs since the last call, oldest first.
    std::vector<Event> take_events() { return std::exchange(queued_, {}); }
    std::uint64_t dropped_events() const { return dropped_events_; }

    Now now() { return Now{clock_.now(), static_cast<std::uint64_t>(clock_.unix_ms())}; }
    const ClusterState& state() const { return state_; }
    T& transport() { return transport_; }
    C& clock() { return clock_; }
    S& storage() { return storage_; }
    // True once a save has failed; the host should stop the node, as Redis exits then.
    bool halted() const { return halted_; }

  private:
    // A store that keeps the compact form is refilled in place: no 2 KB bitmap per node and no
    // allocation per save once its buffers have grown.
    void save(Now n, bool fsync) {
        struct HaltUnlessDone {
            bool& halted;
            bool done = false;
            ~HaltUnlessDone() {
                if (!done) halted = true;
            }
        } guard{halted_};
        if constexpr (requires { S::kSavesCompactState; })
            storage_.save_compact([&](CompactState& c) { state_.snapshot_into(n, c); }, fsync);
        else
            storage_.save(state_.snapshot(n), fsync);
        guard.done = true;
    }

    template <typename F>
    auto run(F&& step) {
        if (halted_)
            throw StorageError(
                "cluster node halted: an earlier save of its state failed, so its memory holds "
                "epochs or votes the disk lacks");
        // Messages are about 2.3 KB each, so a core holds the buffers that carry them only while
        // it runs: they belong to the thread and pass from core to core. A batch that greeted
        // every peer of a large cluster then does not stay allocated in every node until its
        // next input, and where many cores share a thread (a simulation), the next input's
        // messages are written into memory that was just used, still in the cache, rather than
        // into this core's own buffer, gone cold meanwhile (at 200 simulated nodes, about a
        // tenth of the CPU), and without an allocation per message.
        struct Lend {
            Output& out;
            Output& spare;
            Lend(Output& o, Output& s) : out(o), spare(s) { out.swap_buffers(spare); }
            ~Lend() {
                out.clear();
                out.swap_buffers(spare);
            }
        } lend(out_, thread_spare());
        out_.clear();
        const Now n = now();
        if constexpr (std::is_void_v<decltype(step(n, out_))>) {
            step(n, out_);
            apply(n);
        } else {
            auto result = step(n, out_);
            apply(n);
            return result;
        }
    }

    static Output& thread_spare() {
        static thread_local Output spare;
        return spare;
    }

    void apply(Now n) {
        if (out_.save) save(n, out_.fsync);
        for (auto& a : out_.actions) {
            if (auto* c = std::get_if<action::Connect>(&a))
                transport_.connect(c->link, c->to);
            else if (auto* s = std::get_if<action::Send>(&a))
                transport_.send(s->link, s->message);
            else
                transport_.close(std::get<action::Close>(a).link);
        }
        if (on_event_)
            for (const auto& e : out_.events)
                on_event_(e);
        if (event_limit_ != 0) queue(out_.events);
    }

    void queue(const std::vector<Event>& events) {
        for (const auto& e : events) {
            if (queued_.size() < event_limit_)
                queued_.push_back(e);
            else
                ++dropped_events_;
        }
    }

    T transport_;
    C clock_;
    S storage_;
    ClusterState state_;
    Output out_;
    EventHandler on_event_;
    std::vector<Event> queued_;
    std::size_t event_limit_ = 0;  // 0: not queueing
    std::uint64_t dropped_events_ = 0;
    bool halted_ = false;
};

}  // namespace gossipcluster
