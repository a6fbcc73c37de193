// AsioClusterNode: a ClusterCore run on an Asio io_context over an Asio bus transport.
#pragma once

#include <asio.hpp>

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "gossipcluster/clock/steady_clock.hpp"
#include "gossipcluster/cluster_core.hpp"
#include "gossipcluster/concepts.hpp"
#include "gossipcluster/config.hpp"
#include "gossipcluster/link.hpp"
#include "gossipcluster/storage/file_storage.hpp"
#include "gossipcluster/time.hpp"
#include "gossipcluster/transport/asio_tcp.hpp"

namespace gossipcluster {

// What AsioClusterNode needs of its transport, beyond the core's Transport concept: it builds
// the transport from its strand and options, keeps one handle and gives a copy to the core (so
// copies must share one implementation), routes the transport's reports through set_handler,
// starts it with listen() and ends it with stop(). It fills the options' bus port, backoff seed
// and partial-frame deadline from the Config when the host left them unset.
template <typename T>
concept AsioBusTransport = Transport<T> && std::copy_constructible<T> &&
    std::constructible_from<T, asio::any_io_executor, typename T::Options> &&
    requires(T& t, const T& ct, AsioTcpHandler handler, typename T::Options& options) {
    { t.set_handler(std::move(handler)) } -> std::same_as<void>;
    { t.listen() } -> std::same_as<void>;
    { t.stop() } -> std::same_as<void>;
    { ct.listen_endpoints() } -> std::convertible_to<const std::vector<asio::ip::tcp::endpoint>&>;
    { ct.stats() } -> std::convertible_to<const AsioTcpStats&>;
    { options.port } -> std::convertible_to<std::uint16_t>;
    { options.seed } -> std::convertible_to<std::uint64_t>;
    { options.partial_frame_timeout } -> std::convertible_to<std::optional<Duration>>;
};

static_assert(AsioBusTransport<AsioTcpTransport>);

// Runs a ClusterCore over an AsioBusTransport (AsioTcpTransport by default; AsioTlsTransport or
// AsioTcpOrTlsTransport as T): the transport's reports become core inputs, one steady_timer fires
// at core.next_deadline() (re-armed after every input), and everything that touches the core runs
// on one strand.
//
// Two ways to run it:
// - On the application's io_context: AsioClusterNode(io, ...). The application runs the
//   io_context. When one thread runs it, code in any of its handlers may use core() directly
//   (call rearm() after a command such as meet() that may want to act at once); with several
//   threads, go through post().
// - On an io_context of its own: AsioClusterNode(config, ...). start() spawns the thread that
//   runs it and stop() joins it; other threads use post() or call().
//
// start() and stop() are called from the io_context's thread or while it is not running (in
// the own-thread mode: from any thread but the node's). Do not destroy a node from its own
// handlers.
template <Clock C = SteadyClock, Storage S = FileStorage, AsioBusTransport T = AsioTcpTransport>
class AsioClusterNode {
  public:
    using Core = ClusterCore<T, C, S>;
    using Options = typename T::Options;
    using Strand = asio::strand<asio::io_context::executor_type>;
    using ErrorHandler = std::function<void(std::exception_ptr)>;

    // On the application's io_context. Loads the storage and builds the core (may throw);
    // nothing touches the network before start().
    AsioClusterNode(asio::io_context& io, Config config, S storage, Options options = {},
                    C clock = C{})
        : AsioClusterNode(nullptr, &io, std::move(config), std::move(storage), std::move(options),
                          std::move(clock)) {}

    // On an io_context of its own, run by a thread that start() spawns.
    AsioClusterNode(Config config, S storage, Options options = {}, C clock = C{})
        : AsioClusterNode(std::make_unique<asio::io_context>(1), nullptr, std::move(config),
                          std::move(storage), std::move(options), std::move(clock)) {}

    AsioClusterNode(const AsioClusterNode&) = delete;
    AsioClusterNode& operator=(const AsioClusterNode&) = delete;

    ~AsioClusterNode() { stop(); }

    // Listens (throws std::system_error when the bus port cannot be bound) and arms the timer.
    void start() {
        if (started_) return;
        transport_.listen();
        started_ = true;
        rearm();
        if (own_io_) {
            work_.emplace(own_io_->get_executor());
            thread_ = std::thread([this] { run_own_io(); });
        }
    }

    // Cancels the timer and closes every socket (listeners and links) before it returns; no core
    // input happens afterwards. Idempotent; a stopped node cannot be started again.
    void stop() {
        const bool on_own_thread =
            thread_.joinable() && std::this_thread::get_id() == thread_.get_id();
        if (!stop_requested_) {
            stop_requested_ = true;
            if (thread_.joinable() && !on_own_thread)
                asio::post(strand_, [this] { do_stop(); });
            else
                do_stop();  // nothing else runs the node's handlers now
            work_.reset();
        }
        if (thread_.joinable() && !on_own_thread) thread_.join();
    }

    // The core, for code that runs on the node's strand or on the io_context's only thread.
    Core& core() { return *core_; }
    const Core& core() const { return *core_; }

    // Runs f(core) on the strand, from any thread, then re-arms the timer. Dropped after stop().
    template <typename F>
    void post(F&& f) {
        asio::post(strand_, [this, life = life_, f = std::forward<F>(f)]() mutable {
            if (life->stopped) return;
            guarded([&] { f(*core_); });
        });
    }

    // Runs f(core) on the strand and returns its result (exceptions included). For threads that
    // do not run the io_context; on the strand itself, or once an own-thread node has stopped,
    // f runs at once.
    template <typename F>
    auto call(F&& f) -> std::invoke_result_t<F&, Core&> {
        using R = std::invoke_result_t<F&, Core&>;
        if (strand_.running_in_this_thread() || (own_io_ && !thread_.joinable())) {
            struct Rearm {
                AsioClusterNode* node;
                ~Rearm() {
                    node->stop_if_halted();
                    node->rearm();
                }
            } rearm_after{this};
            return f(*core_);
        }
        std::promise<R> done;
        auto result = done.get_future();
        asio::post(strand_, [this, &f, &done] {
            try {
                if constexpr (std::is_void_v<R>) {
                    f(*core_);
                    done.set_value();
                } else {
                    done.set_value(f(*core_));
                }
            } catch (...) {
                stop_if_halted();
                done.set_exception(std::current_exception());
            }
            rearm();
        });
        return result.get();
    }

    // Re-arms the timer if the core's next deadline moved earlier; call after using core()
    // directly for a command. Cheap.
    void rearm() {
        if (!started_ || life_->stopped) return;
        const Instant deadline = core_->next_deadline();
        if (armed_ && deadline >= armed_deadline_) return;
        arm(deadline);
    }

    // Where an exception thrown by a core input goes (a storage failure, say). By default it is
    // rethrown from io_context::run() in the application mode, and kept for last_error() in the
    // own-thread mode. The transport stays consistent either way.
    //
    // A failed save halts the core (ClusterCore::halted()): the node then stops at once, as Redis
    // exits when it cannot write nodes.conf, before this handler hears of it. Its memory is ahead
    // of its disk, so no message may leave it any more; restart it from its storage.
    void set_error_handler(ErrorHandler handler) { on_error_ = std::move(handler); }
    std::exception_ptr last_error() const {
        std::lock_guard lock(error_mutex_);
        return last_error_;
    }

    T& transport() { return transport_; }
    const std::vector<asio::ip::tcp::endpoint>& listen_endpoints() const {
        return transport_.listen_endpoints();
    }
    asio::io_context& io_context() { return io_; }
    const Strand& get_executor() const { return strand_; }
    bool started() const { return started_; }
    // Whether stop() was called. A node that stopped itself after a failed save says so through
    // the error handler or last_error(); stop() must still be called to join an own thread (the
    // destructor does).
    bool stopped() const { return stop_requested_; }

  private:
    struct Life {
        bool stopped = false;  // written and read on the strand (or with no handler running)
    };

    AsioClusterNode(std::unique_ptr<asio::io_context> own, asio::io_context* io, Config config,
                    S storage, Options options, C clock)
        : own_io_(std::move(own)),
          io_(own_io_ ? *own_io_ : *io),
          strand_(asio::make_strand(io_)),
          timer_(strand_),
          transport_(strand_, with_node_defaults(std::move(options), config)) {
        transport_.set_handler(AsioTcpHandler{
            .on_link_up = [this](LinkId l) { guarded([&] { core_->on_link_up(l); }); },
            .on_link_down =
                [this](LinkId l, std::string_view reason) {
                    guarded([&] { core_->on_link_down(l, reason); });
                },
            .on_inbound_link =
                [this](LinkId l, std::string peer, std::string local) {
                    guarded([&] { core_->on_inbound_link(l, std::move(peer), std::move(local)); });
                },
            .on_message = [this](LinkId l,
                                 const Message& m) { guarded([&] { core_->on_message(l, m); }); },
        });
        core_ = std::make_unique<Core>(std::move(config), transport_, std::move(clock),
                                       std::move(storage));
    }

    static Options with_node_defaults(Options options, const Config& config) {
        if (options.port == 0) options.port = config.bus_port();
        if (options.seed == 0) options.seed = config.seed * 0x9e3779b97f4a7c15ull + 0x51ed27;
        if (!options.partial_frame_timeout) options.partial_frame_timeout = config.node_timeout;
        return options;
    }

    // Runs one core input, then re-arms. An exception from the core must not unwind through
    // the transport's handlers, which would leave a link half processed.
    template <typename F>
    void guarded(F&& f) {
        try {
            f();
        } catch (...) {
            stop_if_halted();
            report(std::current_exception());
        }
        rearm();
    }

    // On the strand, after a core input threw.
    void stop_if_halted() {
        if (core_->halted()) do_stop();
    }

    void report(std::exception_ptr e) {
        if (on_error_) {
            on_error_(e);
        } else if (own_io_) {
            std::lock_guard lock(error_mutex_);
            if (!last_error_) last_error_ = e;
        } else {
            asio::post(io_, [e] { std::rethrow_exception(e); });
        }
    }

    void arm(Instant deadline) {
        armed_ = true;
        armed_deadline_ = deadline;
        const Duration wait = deadline - core_->clock().now();
        timer_.expires_after(std::max(wait, Duration{0}));
        const std::uint64_t generation = ++timer_generation_;
        timer_.async_wait([this, life = life_, generation](const asio::error_code& ec) {
            if (ec || life->stopped || generation != timer_generation_) return;
            on_timer();
        });
    }

    void on_timer() {
        armed_ = false;
        if (core_->clock().now() >= core_->next_deadline()) {
            try {
                core_->tick();
            } catch (...) {
                stop_if_halted();
                report(std::current_exception());
            }
        }
        if (!life_->stopped && !armed_) arm(core_->next_deadline());
    }

    void do_stop() {
        if (life_->stopped) return;
        life_->stopped = true;
        timer_.cancel();
        transport_.stop();
    }

    void run_own_io() {
        for (;;) {
            try {
                own_io_->run();
                return;
            } catch (...) {
                std::lock_guard lock(error_mutex_);
                if (!last_error_) last_error_ = std::current_exception();
            }
        }
    }

    std::unique_ptr<asio::io_context> own_io_;  // first: destroyed after everything using it
    asio::io_context& io_;
    Strand strand_;
    asio::steady_timer timer_;
    T transport_;
    std::unique_ptr<Core> core_;
    std::shared_ptr<Life> life_ = std::make_shared<Life>();
    ErrorHandler on_error_;
    mutable std::mutex error_mutex_;
    std::exception_ptr last_error_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
    std::thread thread_;
    bool started_ = false;
    bool stop_requested_ = false;
    bool armed_ = false;
    Instant armed_deadline_{};
    std::uint64_t timer_generation_ = 0;
};

using TcpClusterNode = AsioClusterNode<SteadyClock, FileStorage>;

}  // namespace gossipcluster
