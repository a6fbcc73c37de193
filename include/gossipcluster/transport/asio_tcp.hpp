// AsioTcpTransport, the default cluster-bus transport on standalone Asio, and AsioClusterNode.
#pragma once

#include <asio.hpp>

#include <array>
#include <chrono>
#include <cstddef>
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
#include "gossipcluster/codec.hpp"
#include "gossipcluster/concepts.hpp"
#include "gossipcluster/config.hpp"
#include "gossipcluster/decode_error.hpp"
#include "gossipcluster/link.hpp"
#include "gossipcluster/message.hpp"
#include "gossipcluster/storage/file_storage.hpp"
#include "gossipcluster/time.hpp"
#include "gossipcluster/types.hpp"

namespace gossipcluster {

// The partial-frame deadline of a transport that no AsioClusterNode configured: 15 s, Redis's
// default node timeout.
inline constexpr Duration kDefaultPartialFrameTimeout{15000};

struct AsioTcpOptions {
    // Addresses to listen on. "0.0.0.0" is every IPv4 address; "::" is every IPv6 address and,
    // unless an IPv4 address is listed too, every IPv4 address as well (dual stack). A leading
    // '-' makes an address optional: it is skipped when the host lacks it or lacks IPv6.
    // Redis's "*" and "::*" mean "0.0.0.0" and "::", so its default "* -::*" works as is.
    std::vector<std::string> bind_addresses{"0.0.0.0"};
    // The bus port to listen on; 0 lets the kernel choose (see listen_endpoints()).
    // AsioClusterNode replaces 0 with the Config's bus port.
    std::uint16_t port = 0;
    int listen_backlog = 511;
    // Source address of outbound connections. Empty: the first bind address of the destination's
    // family that is not a wildcard, else the kernel's choice. Peers learn our address from it.
    std::string source_address;

    // Bytes a link may hold that the socket has not taken yet; a link above it is closed and
    // reported down (Redis's cluster-link-sendbuf-limit). 0: unlimited.
    std::size_t send_buffer_limit = std::size_t{64} << 20;
    // Largest frame accepted; a longer announced totlen closes the link. This bounds the memory
    // a link's reader holds (one partial frame, as many bytes as the peer sent). The default,
    // kDefaultMaxFrameBytes (1 GiB of PUBLISH payload plus headers), takes every PUBLISH a
    // default-configured Redis 7.0 forwards; lower it on hosts that cannot spare that per peer.
    std::size_t max_frame_bytes = kDefaultMaxFrameBytes;
    // Each read takes at most this much from the socket.
    std::size_t read_chunk_bytes = std::size_t{16} << 10;
    // Inbound connections beyond this are closed as soon as accepted. 0: unlimited.
    std::size_t max_inbound_links = 16384;
    // Whatever max_inbound_links says, inbound links stay below the process's open files limit
    // (RLIMIT_NOFILE, read at each accept) minus this many descriptors, kept for everything else
    // the process opens: clients, files, outbound links.
    std::size_t reserved_fds = 64;

    // A frame begun on a link must be whole within this, counted from the read that began it,
    // and an inbound link must bring its first frame within it; a link that does not is closed.
    // A peer dribbling a frame, or connecting and saying nothing, thus holds a socket and a
    // partial frame for this long at most. Unset: AsioClusterNode uses the node timeout (a peer
    // that cannot deliver a frame in that time already looks failed to the failure detector,
    // and the deadline follows the node timeout when it is raised for a slow network); a bare
    // transport uses kDefaultPartialFrameTimeout, Redis's default node timeout. 0: no deadline.
    std::optional<Duration> partial_frame_timeout;
    // Bytes all inbound links together may hold in partial frames. Data that takes the total
    // beyond it closes the link holding the most (the newest among equals), until the total fits
    // again, so peers that each send most of a large frame and stop cannot together exhaust
    // memory. A frame larger than this never arrives over an inbound link: keep it above the
    // largest PUBLISH the cluster carries. 0: unlimited.
    std::size_t inbound_buffer_budget = std::size_t{128} << 20;

    // An outbound connection not established by then fails. 0: only the kernel's own timeout.
    Duration connect_timeout{5000};
    // Real connection attempts to one destination after a failed one are spaced out: the wait
    // doubles from backoff_initial up to backoff_max, each drawn from [wait / 2, wait]. A
    // backoff_initial of 0 disables this.
    Duration backoff_initial{100};
    Duration backoff_max{2000};
    // Seed of the backoff jitter. AsioClusterNode replaces 0 with one derived from Config::seed.
    std::uint64_t seed = 0;
};

// Counters of one link while it is open.
struct AsioLinkStats {
    std::uint64_t bytes_sent = 0;  // written to the socket
    std::uint64_t bytes_received = 0;
    std::uint64_t messages_sent = 0;      // whole frames written to the socket
    std::uint64_t messages_received = 0;  // frames decoded and handed to the core
};

inline constexpr std::size_t kDecodeErrorCount = static_cast<std::size_t>(kLastDecodeError) + 1;

// Counters of the transport since it was made.
struct AsioTcpStats {
    std::uint64_t bytes_sent = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t messages_sent = 0;
    std::uint64_t messages_received = 0;

    // Frames rejected, by reason (index: DecodeError). Reasons of the CloseLink class (bad
    // signature or totlen) also close their link and count in links_closed_bad_stream.
    std::array<std::uint64_t, kDecodeErrorCount> frames_dropped{};
    std::uint64_t frames_dropped_total = 0;
    std::uint64_t links_closed_bad_stream = 0;
    // Links closed because their send buffer went over send_buffer_limit.
    std::uint64_t links_dropped_send_buffer = 0;
    // Messages the core sent on a link that was closed or unknown, or that could not be encoded.
    std::uint64_t messages_dropped = 0;
    std::uint64_t messages_unencodable = 0;

    std::uint64_t connects_requested = 0;  // connect() calls
    std::uint64_t connects_deferred = 0;   // of those, held back by the backoff first
    std::uint64_t connects_attempted = 0;  // real TCP connection attempts
    std::uint64_t connects_succeeded = 0;  // links up (over TLS: once the handshake is done)
    std::uint64_t connects_failed = 0;
    std::uint64_t inbound_accepted = 0;
    std::uint64_t inbound_refused = 0;  // over max_inbound_links or the descriptor budget
    // Links closed because a frame was not whole within partial_frame_timeout (or an inbound
    // link brought no frame within it), and because of inbound_buffer_budget.
    std::uint64_t links_closed_partial_timeout = 0;
    std::uint64_t links_closed_buffer_budget = 0;
    std::uint64_t accept_errors = 0;
    // Stream handshakes (TLS), both directions. A failed inbound one is never reported to the
    // core; a failed outbound one counts in connects_failed as well.
    std::uint64_t handshakes_succeeded = 0;
    std::uint64_t handshakes_failed = 0;
    std::uint64_t handshakes_timed_out = 0;  // of those failed
    // Of those failed: the peer's certificate named no node id, or more than one
    // (AsioTlsOptions::bind_node_id).
    std::uint64_t handshakes_without_node_id = 0;
    // Links closed at a frame whose header named another sender than the node id of the peer's
    // certificate (bind_node_id); that frame and any after it never reached the core.
    std::uint64_t links_closed_sender_mismatch = 0;

    std::uint64_t dropped(DecodeError e) const {
        return frames_dropped[static_cast<std::size_t>(e)];
    }
};

// What the transport reports, called from its executor, never from within connect(), send() or
// close(). on_link_down is not called for links closed with close() or stop().
struct AsioTcpHandler {
    std::function<void(LinkId)> on_link_up;
    std::function<void(LinkId, std::string_view reason)> on_link_down;
    std::function<void(LinkId, std::string peer_ip, std::string local_ip)> on_inbound_link;
    std::function<void(LinkId, const Message&)> on_message;
};

}  // namespace gossipcluster

#include "gossipcluster/transport/detail/asio_plain_stream.hpp"
#include "gossipcluster/transport/detail/asio_tcp_impl.hpp"

namespace gossipcluster {

// The Transport policy over Asio streams: AsioTcpTransport (plain TCP, below) and
// AsioTlsTransport (gossipcluster/transport/asio_tls.hpp) are this template with different
// stream policies. A cheap handle: copies share one implementation, so the copy ClusterCore
// keeps and the one its owner keeps act on the same sockets.
//
// Threading: every call, and every handler call, happens on `executor`, which must not run two
// handlers at once: a strand, or an io_context run by one thread (calls from any handler of that
// io_context are then fine). Completion handlers keep the implementation alive, so a transport
// can be dropped while operations are pending; stop() closes every socket at once.
template <typename Stream>
class AsioStreamTransport {
  public:
    using Options = typename Stream::Options;

    explicit AsioStreamTransport(asio::any_io_executor executor, Options options = {})
        : impl_(std::make_shared<detail::AsioStreamImpl<Stream>>(std::move(executor),
                                                                 std::move(options))) {}

    // The Transport concept. Outcomes are reported later through the handler.
    void connect(LinkId link, const Endpoint& to) { impl_->connect(link, to); }
    void send(LinkId link, const Message& msg) { impl_->send(link, msg); }
    void close(LinkId link) { impl_->close(link); }

    // Set before listen() or connect().
    void set_handler(AsioTcpHandler handler) { impl_->set_handler(std::move(handler)); }
    // Binds every bind address and starts accepting. Throws std::system_error when an address
    // cannot be bound, std::invalid_argument for an address that is not one.
    void listen() { impl_->listen(); }
    // Closes listeners and links without reporting anything; later calls do nothing. Final.
    void stop() { impl_->stop(); }

    bool stopped() const { return impl_->stopped(); }
    const std::vector<asio::ip::tcp::endpoint>& listen_endpoints() const {
        return impl_->listen_endpoints();
    }
    const AsioTcpStats& stats() const { return impl_->stats(); }
    // Counters of an open link (nullptr once it is closed).
    const AsioLinkStats* link_stats(LinkId link) const { return impl_->link_stats(link); }
    // Bytes waiting in a link's send buffer.
    std::size_t queued_bytes(LinkId link) const { return impl_->queued_bytes(link); }
    // The node id an open link speaks for: the one its peer's certificate names, over TLS with
    // AsioTlsOptions::bind_node_id once the handshake is done; nullopt otherwise.
    std::optional<NodeId> certified_node_id(LinkId link) const {
        return impl_->certified_node_id(link);
    }
    std::size_t link_count() const { return impl_->link_count(); }
    std::size_t inbound_link_count() const { return impl_->inbound_link_count(); }
    // Bytes all inbound links hold in partial frames (what inbound_buffer_budget bounds).
    std::size_t inbound_buffered_bytes() const { return impl_->inbound_buffered_bytes(); }
    const Options& options() const { return impl_->options(); }
    const asio::any_io_executor& get_executor() const { return impl_->executor(); }

  private:
    std::shared_ptr<detail::AsioStreamImpl<Stream>> impl_;
};

// The Transport policy over plain TCP.
using AsioTcpTransport = AsioStreamTransport<detail::AsioPlainStream>;

static_assert(Transport<AsioTcpTransport>);

using TcpClusterCore = ClusterCore<AsioTcpTransport, SteadyClock, FileStorage>;

// Runs a ClusterCore over AsioTcpTransport (or another transport with its interface, such as
// AsioTlsTransport: T): the transport's reports become core inputs, one steady_timer fires at
// core.next_deadline() (re-armed after every input), and everything that touches the core runs
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
template <Clock C = SteadyClock, Storage S = FileStorage, Transport T = AsioTcpTransport>
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
