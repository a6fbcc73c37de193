// AsioTcpTransport: the default cluster-bus transport on standalone Asio (plain TCP).
#pragma once

#include <asio.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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

}  // namespace gossipcluster
