// ClusterCore<Transport, Clock, Storage>: drives ClusterState with the host's policies.
#pragma once

#include <functional>
#include <utility>

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

    // Operator commands.
    CommandResult meet(std::string_view ip, std::uint16_t port, std::uint16_t cport) {
        return run([&](Now n, Output& o) { return state_.meet(n, ip, port, cport, o); });
    }
    CommandResult forget(std::string_view node_id) {
        return run([&](Now n, Output& o) { return state_.forget(n, node_id, o); });
    }

    // Any other command: runs f(state, now, output) and applies the output like every input,
    // e.g. core.command([&](auto& s, Now n, Output& o) { return s.add_slots(n, slots, o); }).
    template <typename F>
    auto command(F&& f) {
        return run([&](Now n, Output& o) { return f(state_, n, o); });
    }

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
    }

    T transport_;
    C clock_;
    S storage_;
    ClusterState state_;
    Output out_;
    EventHandler on_event_;
    bool halted_ = false;
};

}  // namespace gossipcluster
