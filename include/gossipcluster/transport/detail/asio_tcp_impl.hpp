// AsioStreamImpl: the listeners, links, buffers and counters shared by copies of a transport.
#pragma once

// Part of gossipcluster/transport/asio_tcp.hpp, which declares the option, statistics and handler
// types used here: include that header, not this one. The implementation is generic over a stream
// policy (detail/asio_plain_stream.hpp, detail/asio_tls_stream.hpp) so that plain TCP and TLS
// share the framing, the buffers, the backoff and the counters; the policy only says how a socket
// is made, whether it needs a handshake before the link counts as up, and how it is closed.

#include <asio.hpp>

#include <sys/resource.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "gossipcluster/codec.hpp"
#include "gossipcluster/decode_error.hpp"
#include "gossipcluster/frame_splitter.hpp"
#include "gossipcluster/link.hpp"
#include "gossipcluster/message.hpp"
#include "gossipcluster/transport/detail/asio_backoff.hpp"
#include "gossipcluster/types.hpp"

namespace gossipcluster::detail {

// An address as the core wants to see it: a dual-stack listener sees IPv4 peers as IPv4-mapped
// IPv6 addresses (::ffff:a.b.c.d), which would never match the IPv4 address gossip carries.
inline std::string asio_ip_text(const asio::ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
    return a.to_string();
}

inline std::string asio_endpoint_text(const asio::ip::tcp::endpoint& ep) {
    if (ep.address().is_v6()) return fmt::format("[{}]:{}", ep.address().to_string(), ep.port());
    return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

// One bus connection. Shared by the link table and the completion handlers of its operations,
// so that a handler that runs after the link was closed still finds valid memory (and `closed`).
template <typename Socket>
struct AsioStreamLink {
    enum class State : std::uint8_t {
        Waiting,      // outbound, held back by the connect backoff
        Connecting,   // outbound, TCP handshake under way
        Handshaking,  // the stream's own handshake (TLS) under way; the core knows nothing yet
        Up,           // established: reading and writing
        Failed,       // closed by the transport; the report to the core is on its way
    };

    AsioStreamLink(LinkId link, Socket s, std::size_t max_frame, bool is_inbound)
        : id(link),
          inbound(is_inbound),
          socket(std::move(s)),
          timer(socket.get_executor()),
          splitter(max_frame) {}

    LinkId id;
    bool inbound;
    State state = State::Waiting;
    bool closed = false;     // the socket is closed: handlers must leave the link alone
    bool timed_out = false;  // the connect or handshake timer fired before it finished
    asio::ip::tcp::endpoint remote;
    asio::ip::tcp::endpoint local;  // of an inbound link, reported once it is up
    std::string remote_key;         // backoff key of an outbound link's destination
    Socket socket;
    asio::steady_timer timer;  // backoff wait, then connect timeout, then handshake timeout
    std::vector<std::uint8_t> read_buf;
    FrameSplitter splitter;
    // Encoded frames not yet handed to the socket, and those the write under way holds.
    std::vector<std::uint8_t> pending;
    std::vector<std::uint8_t> inflight;
    std::uint64_t pending_messages = 0;
    std::uint64_t inflight_messages = 0;
    bool writing = false;
    AsioLinkStats stats;
    // The partial-frame deadline: armed on `timer` while a frame is begun but not whole (or an
    // inbound link has brought none yet); the generation tells a stale expiry from a live one.
    bool frame_seen = false;
    bool deadline_armed = false;
    std::uint64_t deadline_generation = 0;
    std::size_t accounted = 0;  // of an inbound link: its partial bytes in the transport's total
    // The node id the peer's certificate names, when the stream binds links to one: every frame
    // read must name it as its sender.
    std::optional<NodeId> certified_id;

    std::size_t queued_bytes() const { return pending.size() + inflight.size(); }
};

template <typename Stream>
class AsioStreamImpl : public std::enable_shared_from_this<AsioStreamImpl<Stream>> {
  public:
    using tcp = asio::ip::tcp;
    using Options = typename Stream::Options;
    using Socket = typename Stream::Socket;
    using Link = AsioStreamLink<Socket>;
    using LinkPtr = std::shared_ptr<Link>;

    AsioStreamImpl(asio::any_io_executor executor, Options options)
        : executor_(std::move(executor)),
          options_(std::move(options)),
          stream_(options_),
          backoff_(options_.backoff_initial, options_.backoff_max, options_.seed) {
        if (options_.read_chunk_bytes == 0)
            throw std::invalid_argument("AsioTcpOptions: read_chunk_bytes must be at least 1");
        if (options_.max_frame_bytes < kHeaderSize)
            throw std::invalid_argument(fmt::format(
                "AsioTcpOptions: max_frame_bytes must be at least {} (one header)", kHeaderSize));
        if (options_.connect_timeout.count() < 0 || options_.backoff_initial.count() < 0 ||
            options_.backoff_max.count() < 0)
            throw std::invalid_argument("AsioTcpOptions: durations must not be negative");
        if (options_.partial_frame_timeout && options_.partial_frame_timeout->count() < 0)
            throw std::invalid_argument("AsioTcpOptions: durations must not be negative");
        limits_.max_frame_bytes = options_.max_frame_bytes;
        partial_timeout_ = options_.partial_frame_timeout.value_or(kDefaultPartialFrameTimeout);
    }

    AsioStreamImpl(const AsioStreamImpl&) = delete;
    AsioStreamImpl& operator=(const AsioStreamImpl&) = delete;

    void set_handler(AsioTcpHandler handler) { handler_ = std::move(handler); }

    void listen() {
        if (stopped_) throw std::logic_error("AsioTcpTransport: listen() after stop()");
        if (!acceptors_.empty()) throw std::logic_error("AsioTcpTransport: already listening");
        std::vector<BindSpec> specs;
        bool any_v4 = false;
        for (std::string_view text : options_.bind_addresses) {
            const bool optional = !text.empty() && text.front() == '-';
            if (optional) text.remove_prefix(1);
            // Redis's spellings of the wildcards.
            if (text == "*") text = "0.0.0.0";
            if (text == "::*") text = "::";
            asio::error_code ec;
            auto address = asio::ip::make_address(text, ec);
            if (ec)
                throw std::invalid_argument(
                    fmt::format("AsioTcpOptions: invalid bind address '{}'", text));
            any_v4 = any_v4 || address.is_v4();
            specs.push_back({address, optional});
        }
        if (specs.empty()) throw std::invalid_argument("AsioTcpOptions: bind_addresses is empty");

        // With port 0 every address listens on the port the kernel picked for the first; that
        // port may be taken on another address, so a few fresh picks are tried.
        std::vector<std::shared_ptr<Acceptor>> opened;
        for (int attempt = 1;; ++attempt) {
            asio::error_code ec;
            tcp::endpoint failed;
            opened = bind_all(specs, any_v4, ec, failed);
            if (!ec) break;
            const bool retry = options_.port == 0 && attempt < kPortPicks && !opened.empty() &&
                               ec == asio::error::address_in_use;
            asio::error_code ignored;
            for (auto& o : opened)
                o->acceptor.close(ignored);
            if (!retry)
                throw std::system_error(ec, fmt::format("cannot listen on the cluster bus at {}",
                                                        asio_endpoint_text(failed)));
        }
        if (opened.empty())
            throw std::system_error(std::make_error_code(std::errc::address_not_available),
                                    "cannot listen on the cluster bus: no bind address is "
                                    "available");
        acceptors_ = std::move(opened);
        for (auto& a : acceptors_) {
            listen_endpoints_.push_back(a->acceptor.local_endpoint());
            start_accept(a);
        }
    }

    void connect(LinkId id, const Endpoint& to) {
        if (stopped_) return;
        if (auto it = links_.find(id); it != links_.end()) {
            shutdown(*it->second);
            erase(it);
        }
        ++stats_.connects_requested;
        auto link =
            std::make_shared<Link>(id, stream_.make(executor_), options_.max_frame_bytes, false);
        links_.emplace(id, link);
        asio::error_code ec;
        const auto address = asio::ip::make_address(to.ip, ec);
        if (ec || to.port == 0) {
            ++stats_.connects_failed;
            fail(link, fmt::format("invalid address {}:{}", to.ip, to.port));
            return;
        }
        link->remote = tcp::endpoint(address, to.port);
        link->remote_key = asio_endpoint_text(link->remote);
        const auto wait = backoff_.wait(link->remote_key, std::chrono::steady_clock::now());
        if (wait.count() == 0) {
            start_connect(link);
            return;
        }
        ++stats_.connects_deferred;
        link->timer.expires_after(wait);
        link->timer.async_wait([self = this->shared_from_this(), link](const asio::error_code& e) {
            if (e || link->closed || self->stopped_) return;
            self->start_connect(link);
        });
    }

    void send(LinkId id, const Message& msg) {
        if (stopped_) return;
        auto it = links_.find(id);
        if (it == links_.end() || it->second->closed) {
            ++stats_.messages_dropped;
            return;
        }
        const LinkPtr& link = it->second;
        try {
            encode(msg, link->pending);
        } catch (const std::invalid_argument&) {
            ++stats_.messages_unencodable;
            return;
        }
        ++link->pending_messages;
        const std::size_t limit = options_.send_buffer_limit;
        if (limit != 0 && link->queued_bytes() > limit) {
            ++stats_.links_dropped_send_buffer;
            fail(link, fmt::format("send buffer limit of {} bytes exceeded", limit));
            return;
        }
        if (link->state == Link::State::Up && !link->writing) start_write(link);
    }

    void close(LinkId id) {
        auto it = links_.find(id);
        if (it == links_.end()) return;
        shutdown(*it->second);
        erase(it);
    }

    void stop() {
        if (stopped_) return;
        stopped_ = true;
        asio::error_code ignored;
        for (auto& a : acceptors_) {
            a->acceptor.close(ignored);
            a->retry.cancel();
        }
        acceptors_.clear();
        for (auto& [id, link] : links_)
            shutdown(*link);
        links_.clear();
        inbound_links_ = 0;
        inbound_buffered_ = 0;
    }

    bool stopped() const { return stopped_; }
    const Options& options() const { return options_; }
    const AsioTcpStats& stats() const { return stats_; }
    const std::vector<tcp::endpoint>& listen_endpoints() const { return listen_endpoints_; }
    const asio::any_io_executor& executor() const { return executor_; }
    std::size_t link_count() const { return links_.size(); }
    std::size_t inbound_link_count() const { return inbound_links_; }
    std::size_t inbound_buffered_bytes() const { return inbound_buffered_; }
    const AsioLinkStats* link_stats(LinkId id) const {
        auto it = links_.find(id);
        return it == links_.end() ? nullptr : &it->second->stats;
    }
    std::size_t queued_bytes(LinkId id) const {
        auto it = links_.find(id);
        return it == links_.end() ? 0 : it->second->queued_bytes();
    }
    std::optional<NodeId> certified_node_id(LinkId id) const {
        auto it = links_.find(id);
        if (it == links_.end() || it->second->closed) return std::nullopt;
        return it->second->certified_id;
    }
    const ConnectBackoff& backoff() const { return backoff_; }

  private:
    struct BindSpec {
        asio::ip::address address;
        bool optional;
    };

    struct Acceptor {
        explicit Acceptor(const asio::any_io_executor& ex) : acceptor(ex), retry(ex) {}
        tcp::acceptor acceptor;
        asio::steady_timer retry;  // after an accept error such as EMFILE, instead of spinning
    };

    static constexpr std::chrono::milliseconds kAcceptRetry{100};
    static constexpr int kPortPicks = 8;
    // A write buffer that grew past this for a burst is given back once the burst is written.
    static constexpr std::size_t kKeepCapacity = std::size_t{1} << 20;

    // Asio's system category maps no codes to std::errc conditions: compare errno values.
    static bool unavailable(const asio::error_code& ec) {
        if (ec.category() != asio::error::get_system_category()) return false;
        const int v = ec.value();
        return v == EADDRNOTAVAIL || v == EAFNOSUPPORT || v == EPROTONOSUPPORT;
    }

    // Opens a listener per address; on error returns those opened so far, with `ec` and the
    // endpoint that failed set.
    std::vector<std::shared_ptr<Acceptor>> bind_all(const std::vector<BindSpec>& specs, bool any_v4,
                                                    asio::error_code& ec, tcp::endpoint& failed) {
        std::vector<std::shared_ptr<Acceptor>> opened;
        std::uint16_t port = options_.port;
        for (const BindSpec& spec : specs) {
            auto a = std::make_shared<Acceptor>(executor_);
            const tcp::endpoint ep(spec.address, port);
            a->acceptor.open(ep.protocol(), ec);
            if (!ec) a->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
            // "::" alone serves IPv4 too; next to an IPv4 address it must leave IPv4 to that one.
            if (!ec && spec.address.is_v6())
                a->acceptor.set_option(asio::ip::v6_only(!spec.address.is_unspecified() || any_v4),
                                       ec);
            if (!ec) a->acceptor.bind(ep, ec);
            if (!ec) a->acceptor.listen(options_.listen_backlog, ec);
            if (ec) {
                asio::error_code ignored;
                a->acceptor.close(ignored);
                if (spec.optional && unavailable(ec)) {
                    ec.clear();
                    continue;
                }
                failed = ep;
                return opened;
            }
            if (port == 0) port = a->acceptor.local_endpoint().port();
            opened.push_back(std::move(a));
        }
        return opened;
    }

    // --- accepting --------------------------------------------------------------------------

    void start_accept(const std::shared_ptr<Acceptor>& a) {
        a->acceptor.async_accept(
            [self = this->shared_from_this(), a](const asio::error_code& ec, tcp::socket socket) {
                self->on_accept(a, ec, std::move(socket));
            });
    }

    void on_accept(const std::shared_ptr<Acceptor>& a, const asio::error_code& ec,
                   tcp::socket socket) {
        if (stopped_ || !a->acceptor.is_open() || ec == asio::error::operation_aborted) return;
        if (ec) {
            ++stats_.accept_errors;
            a->retry.expires_after(kAcceptRetry);
            a->retry.async_wait([self = this->shared_from_this(), a](const asio::error_code& e) {
                if (e || self->stopped_) return;
                self->start_accept(a);
            });
            return;
        }
        start_accept(a);  // keep accepting, whatever becomes of this connection

        asio::error_code e1, e2, ignored;
        const auto remote = socket.remote_endpoint(e1);
        const auto local = socket.local_endpoint(e2);
        if (e1 || e2) {  // the peer is already gone
            ++stats_.accept_errors;
            return;
        }
        if ((options_.max_inbound_links != 0 && inbound_links_ >= options_.max_inbound_links) ||
            inbound_links_ >= descriptor_budget()) {
            ++stats_.inbound_refused;
            return;  // the socket closes here
        }
        socket.set_option(tcp::no_delay(true), ignored);
        ++stats_.inbound_accepted;
        const LinkId id = LinkId::inbound(++inbound_seq_);
        auto link = std::make_shared<Link>(id, stream_.adopt(std::move(socket)),
                                           options_.max_frame_bytes, true);
        link->remote = remote;
        link->local = local;
        // A link still in its handshake counts against max_inbound_links: peers that never
        // finish one cannot take more sockets than that.
        links_.emplace(id, link);
        ++inbound_links_;
        if constexpr (Stream::kHandshake)
            start_handshake(link);
        else
            inbound_up(link);
    }

    // Inbound links the open files limit leaves room for, beside options_.reserved_fds. Read
    // at each accept: the process may raise its limit after the transport was made.
    std::size_t descriptor_budget() const {
        rlimit lim{};
        if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return SIZE_MAX;
        const auto soft = static_cast<std::size_t>(lim.rlim_cur);
        return soft > options_.reserved_fds ? soft - options_.reserved_fds : 0;
    }

    // The core hears of an inbound link only once it is usable, so a peer that fails the
    // stream's handshake never reaches it.
    void inbound_up(const LinkPtr& link) {
        link->state = Link::State::Up;
        arm_frame_deadline(link);  // for its first frame
        if (handler_.on_inbound_link)
            handler_.on_inbound_link(link->id, asio_ip_text(link->remote.address()),
                                     asio_ip_text(link->local.address()));
        if (link->closed || stopped_) return;
        start_read(link);
    }

    // --- connecting -------------------------------------------------------------------------

    // The source address of outbound connections. Peers learn our address from it, so a node
    // listening on one specific address should also connect from it.
    std::optional<asio::ip::address> source_for(const asio::ip::address& dest) const {
        if (!options_.source_address.empty()) {
            asio::error_code ec;
            auto a = asio::ip::make_address(options_.source_address, ec);
            if (!ec && a.is_v4() == dest.is_v4()) return a;
            return std::nullopt;
        }
        for (const auto& ep : listen_endpoints_) {
            const auto a = ep.address();
            if (a.is_v4() == dest.is_v4() && !a.is_unspecified()) return a;
        }
        return std::nullopt;
    }

    void start_connect(const LinkPtr& link) {
        link->state = Link::State::Connecting;
        ++stats_.connects_attempted;
        asio::error_code ec;
        tcp::socket& socket = Stream::tcp_layer(link->socket);
        socket.open(link->remote.protocol(), ec);
        if (!ec) {
            if (auto source = source_for(link->remote.address()))
                socket.bind(tcp::endpoint(*source, 0), ec);
        }
        if (ec) {
            connect_failed(link, ec.message());
            return;
        }
        if (options_.connect_timeout.count() > 0) {
            link->timer.expires_after(options_.connect_timeout);
            link->timer.async_wait([link](const asio::error_code& e) {
                if (e || link->closed || link->state != Link::State::Connecting) return;
                link->timed_out = true;
                asio::error_code ignored;
                // Completes the connect with operation_aborted.
                Stream::tcp_layer(link->socket).close(ignored);
            });
        }
        socket.async_connect(link->remote,
                             [self = this->shared_from_this(), link](const asio::error_code& e) {
                                 self->on_connect(link, e);
                             });
    }

    void on_connect(const LinkPtr& link, const asio::error_code& ec) {
        if (link->closed || stopped_) return;
        link->timer.cancel();
        if (ec) {
            connect_failed(link, link->timed_out ? std::string("connect timeout") : ec.message());
            return;
        }
        asio::error_code ignored;
        Stream::tcp_layer(link->socket).set_option(tcp::no_delay(true), ignored);
        if constexpr (Stream::kHandshake)
            start_handshake(link);
        else
            outbound_up(link);
    }

    // Frames the core queued while connecting go out only now, after any handshake.
    void outbound_up(const LinkPtr& link) {
        backoff_.success(link->remote_key);
        ++stats_.connects_succeeded;
        link->state = Link::State::Up;
        if (!link->pending.empty()) start_write(link);
        start_read(link);
        if (handler_.on_link_up) handler_.on_link_up(link->id);
    }

    // --- the stream's handshake (TLS) ----------------------------------------------------

    // Bounded by the policy's handshake timeout in both directions, so that a peer that stalls
    // mid-handshake holds a socket (and an inbound slot) for that long at most.
    void start_handshake(const LinkPtr& link) {
        link->state = Link::State::Handshaking;
        link->timed_out = false;
        link->timer.expires_after(stream_.handshake_timeout());
        link->timer.async_wait([link](const asio::error_code& e) {
            if (e || link->closed || link->state != Link::State::Handshaking) return;
            link->timed_out = true;
            asio::error_code ignored;
            Stream::tcp_layer(link->socket).close(ignored);  // fails the handshake
        });
        stream_.async_handshake(link->socket, link->inbound,
                                [self = this->shared_from_this(), link](const asio::error_code& e) {
                                    self->on_handshake(link, e);
                                });
    }

    void on_handshake(const LinkPtr& link, const asio::error_code& ec) {
        if (link->closed || stopped_) return;
        link->timer.cancel();
        if (ec) {
            if (link->timed_out) ++stats_.handshakes_timed_out;
            handshake_failed(link, link->timed_out
                                       ? std::string("handshake timeout")
                                       : fmt::format("handshake failed: {}", Stream::describe(ec)));
            return;
        }
        // A certificate the CA signed but that names no node id cannot be bound: the link fails
        // as if the handshake had, before the core hears of it or a frame is read.
        if (stream_.binds_node_id()) {
            link->certified_id = Stream::peer_node_id(link->socket);
            if (!link->certified_id) {
                ++stats_.handshakes_without_node_id;
                handshake_failed(link,
                                 "handshake failed: the peer's certificate names no node id "
                                 "(or more than one)");
                return;
            }
        }
        ++stats_.handshakes_succeeded;
        if (link->inbound)
            inbound_up(link);
        else
            outbound_up(link);
    }

    // An outbound link is reported down like a failed connect; an inbound one, which the core
    // never heard of, is dropped without a report.
    void handshake_failed(const LinkPtr& link, std::string reason) {
        ++stats_.handshakes_failed;
        if (!link->inbound) {
            connect_failed(link, std::move(reason));
            return;
        }
        auto it = links_.find(link->id);
        shutdown(*link);
        if (it != links_.end() && it->second == link) erase(it);
    }

    void connect_failed(const LinkPtr& link, std::string reason) {
        ++stats_.connects_failed;
        backoff_.failure(link->remote_key, std::chrono::steady_clock::now());
        fail(link, std::move(reason));
    }

    // --- reading ----------------------------------------------------------------------------

    void start_read(const LinkPtr& link) {
        if (link->read_buf.empty()) link->read_buf.resize(options_.read_chunk_bytes);
        link->socket.async_read_some(
            asio::buffer(link->read_buf),
            [self = this->shared_from_this(), link](const asio::error_code& ec, std::size_t n) {
                self->on_read(link, ec, n);
            });
    }

    void on_read(const LinkPtr& link, const asio::error_code& ec, std::size_t n) {
        if (link->closed || stopped_) return;
        if (ec) {
            fail(link, Stream::closed_by_peer(ec) ? std::string("connection closed by peer")
                                                  : Stream::describe(ec));
            return;
        }
        link->stats.bytes_received += n;
        stats_.bytes_received += n;
        const DecodeError stream_error =
            link->splitter.feed(std::span<const std::uint8_t>(link->read_buf.data(), n));
        bool completed = false;
        // Frames completed before a bad prefix are still processed, as Redis does.
        while (auto frame = link->splitter.next()) {
            completed = true;
            link->frame_seen = true;
            if (link->certified_id && !sent_by(*frame, *link->certified_id)) {
                ++stats_.links_closed_sender_mismatch;
                fail(link, fmt::format("a frame names another sender than {}, the node id of the "
                                       "peer's certificate",
                                       link->certified_id->view()));
                return;
            }
            const DecodeError e = decode(*frame, scratch_, limits_);
            switch (action_for(e)) {
                case DecodeAction::Accept:
                    ++link->stats.messages_received;
                    ++stats_.messages_received;
                    if (handler_.on_message) handler_.on_message(link->id, scratch_);
                    if (link->closed || stopped_) return;
                    break;
                case DecodeAction::DropFrame:
                    count_drop(e);
                    break;
                case DecodeAction::CloseLink:
                    bad_stream(link, e);
                    return;
            }
        }
        if (stream_error != DecodeError::None) {
            bad_stream(link, stream_error);
            return;
        }
        // A frame begun in this read gets a deadline of its own; one still unfinished from an
        // earlier read keeps the one it had.
        if (link->splitter.buffered() == 0 && link->frame_seen)
            disarm_frame_deadline(*link);
        else if (completed || !link->deadline_armed)
            arm_frame_deadline(link);
        if (link->inbound && !account_inbound(link)) return;
        start_read(link);
    }

    // Whether a whole frame's header names `id` as its sender: the 40 bytes at their fixed
    // offset, compared before anything is decoded, so that no frame in another node's name
    // reaches the core, whatever its type (a MEET or PING names its real sender too) and
    // whether or not it would decode. A light header (Valkey) has no sender field, and the
    // decoder drops it; the splitter lets no other frame shorter than a full header through.
    static bool sent_by(std::span<const std::uint8_t> frame, const NodeId& id) {
        namespace L = layout;
        if (frame.size() < L::kSender + kNodeNameLen) return true;
        if ((frame[L::kType] & (L::kLightBit >> 8)) != 0) return true;
        return std::memcmp(frame.data() + L::kSender, id.raw().data(), kNodeNameLen) == 0;
    }

    // --- partial frames: deadline and budget --------------------------------------------------

    void arm_frame_deadline(const LinkPtr& link) {
        if (partial_timeout_.count() == 0) return;
        link->deadline_armed = true;
        const std::uint64_t generation = ++link->deadline_generation;
        link->timer.expires_after(partial_timeout_);
        link->timer.async_wait([self = this->shared_from_this(), link,
                                generation](const asio::error_code& e) {
            if (e || link->closed || self->stopped_ || !link->deadline_armed ||
                generation != link->deadline_generation)
                return;
            ++self->stats_.links_closed_partial_timeout;
            self->fail(link,
                       fmt::format("{} within {} ms",
                                   link->frame_seen ? "frame not completed" : "no frame received",
                                   self->partial_timeout_.count()));
        });
    }

    static void disarm_frame_deadline(Link& link) {
        if (!link.deadline_armed) return;
        link.deadline_armed = false;
        ++link.deadline_generation;
        link.timer.cancel();
    }

    // Brings the link's share of the inbound total up to date; over the budget, closes the
    // greediest inbound links (the newest among equals) until the total fits. False when this
    // link was one of them.
    bool account_inbound(const LinkPtr& link) {
        const std::size_t now = link->splitter.buffered();
        inbound_buffered_ = inbound_buffered_ - link->accounted + now;
        link->accounted = now;
        const std::size_t budget = options_.inbound_buffer_budget;
        while (budget != 0 && inbound_buffered_ > budget) {
            LinkPtr greediest;
            for (const auto& [id, l] : links_)
                if (l->inbound && !l->closed &&
                    (!greediest || l->accounted > greediest->accounted ||
                     (l->accounted == greediest->accounted && greediest->id < id)))
                    greediest = l;
            if (!greediest || greediest->accounted == 0) break;
            ++stats_.links_closed_buffer_budget;
            fail(greediest, fmt::format("inbound buffer budget of {} bytes exceeded", budget));
        }
        return !link->closed;
    }

    void count_drop(DecodeError e) {
        ++stats_.frames_dropped[static_cast<std::size_t>(e)];
        ++stats_.frames_dropped_total;
    }

    void bad_stream(const LinkPtr& link, DecodeError e) {
        count_drop(e);
        ++stats_.links_closed_bad_stream;
        fail(link, fmt::format("bad frame: {}", describe(e)));
    }

    // --- writing ----------------------------------------------------------------------------

    void start_write(const LinkPtr& link) {
        if constexpr (Stream::kDirectWrite) {
            if (write_now(link)) return;
        }
        link->writing = true;
        std::swap(link->pending, link->inflight);
        link->inflight_messages = std::exchange(link->pending_messages, 0);
        asio::async_write(
            link->socket, asio::buffer(link->inflight),
            [self = this->shared_from_this(), link](const asio::error_code& ec, std::size_t n) {
                self->on_write(link, ec, n);
            });
    }

    // Hands the queued frames to the kernel at once. A bus frame is a few KB and the socket's
    // buffer is nearly always free, so this saves the asynchronous write: its completion is one
    // more trip through the event loop (an extra epoll_wait) for every message sent, which was
    // a visible part of an idle node's CPU. Returns true when nothing is left to write (or the
    // link failed); whatever the socket did not take goes out asynchronously.
    bool write_now(const LinkPtr& link) {
        auto& socket = Stream::tcp_layer(link->socket);
        asio::error_code ec;
        if (!socket.non_blocking()) {
            socket.non_blocking(true, ec);
            if (ec) return false;
        }
        const std::size_t n = socket.write_some(asio::buffer(link->pending), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) return false;
        if (ec) {
            fail(link, ec.message());
            return true;
        }
        link->stats.bytes_sent += n;
        stats_.bytes_sent += n;
        if (n < link->pending.size()) {
            link->pending.erase(link->pending.begin(),
                                link->pending.begin() + static_cast<std::ptrdiff_t>(n));
            return false;
        }
        link->stats.messages_sent += link->pending_messages;
        stats_.messages_sent += link->pending_messages;
        link->pending_messages = 0;
        link->pending.clear();
        if (link->pending.capacity() > kKeepCapacity)
            std::vector<std::uint8_t>().swap(link->pending);
        return true;
    }

    void on_write(const LinkPtr& link, const asio::error_code& ec, std::size_t n) {
        if (link->closed || stopped_) return;
        if (ec) {
            fail(link, ec.message());
            return;
        }
        link->stats.bytes_sent += n;
        link->stats.messages_sent += link->inflight_messages;
        stats_.bytes_sent += n;
        stats_.messages_sent += link->inflight_messages;
        link->inflight_messages = 0;
        link->inflight.clear();
        if (link->inflight.capacity() > kKeepCapacity)
            std::vector<std::uint8_t>().swap(link->inflight);
        link->writing = false;
        if (!link->pending.empty()) start_write(link);
    }

    // --- closing ----------------------------------------------------------------------------

    // Closes the socket and cancels the timer; handlers still pending see `closed` and return.
    // `inflight` and `read_buf` stay: operations being cancelled may still refer to them.
    void shutdown(Link& link) {
        if (link.closed) return;
        link.closed = true;
        // Its partial frame leaves the inbound total now; the memory goes with the link, once
        // the cancelled operations have let go of it.
        inbound_buffered_ -= link.accounted;
        link.accounted = 0;
        link.deadline_armed = false;
        asio::error_code ignored;
        Stream::tcp_layer(link.socket).close(ignored);
        link.timer.cancel();
        std::vector<std::uint8_t>().swap(link.pending);
        link.pending_messages = 0;
    }

    void erase(typename std::map<LinkId, LinkPtr>::iterator it) {
        if (it->second->inbound) --inbound_links_;
        links_.erase(it);
    }

    // Closes a link the core did not close and reports it down - later, from the executor, so
    // that no call from the core (connect, send) ever calls back into it. The link stays in the
    // table until then: if the core closes it meanwhile, the report is dropped.
    void fail(const LinkPtr& link, std::string reason) {
        if (link->closed) return;
        shutdown(*link);
        link->state = Link::State::Failed;
        asio::post(executor_, [self = this->shared_from_this(), link, reason = std::move(reason)] {
            auto it = self->links_.find(link->id);
            if (it == self->links_.end() || it->second != link) return;
            self->erase(it);
            if (!self->stopped_ && self->handler_.on_link_down)
                self->handler_.on_link_down(link->id, reason);
        });
    }

    asio::any_io_executor executor_;
    Options options_;
    Stream stream_;
    CodecLimits limits_;
    AsioTcpHandler handler_;
    ConnectBackoff backoff_;
    std::vector<std::shared_ptr<Acceptor>> acceptors_;
    std::vector<tcp::endpoint> listen_endpoints_;
    std::map<LinkId, LinkPtr> links_;
    std::uint64_t inbound_seq_ = 0;
    std::size_t inbound_links_ = 0;
    std::size_t inbound_buffered_ = 0;  // partial-frame bytes of the open inbound links
    Duration partial_timeout_{0};
    Message scratch_;  // decode target, reused so that steady-state reading does not allocate
    AsioTcpStats stats_;
    bool stopped_ = false;
};

}  // namespace gossipcluster::detail
