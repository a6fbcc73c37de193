// AsioPlainStream: the stream policy of AsioTcpTransport, a bare TCP socket with no handshake.
#pragma once

// Part of gossipcluster/transport/asio_tcp.hpp (it needs AsioTcpOptions): include that header.

#include <asio.hpp>

#include <optional>
#include <string>
#include <utility>

#include "gossipcluster/time.hpp"
#include "gossipcluster/types.hpp"

namespace gossipcluster::detail {

// What AsioStreamImpl asks of a stream policy: the options type, the socket type, how to make
// one for an outbound link and how to wrap an accepted one, its TCP layer (for connecting,
// closing and socket options), whether a handshake must finish before the link is up, whether
// (and to which node id) the handshake binds the link, and how to read an error.
struct AsioPlainStream {
    using Options = AsioTcpOptions;
    using Socket = asio::ip::tcp::socket;
    static constexpr bool kHandshake = false;
    // Frames may be handed to the socket directly (AsioStreamImpl::write_now).
    static constexpr bool kDirectWrite = true;

    explicit AsioPlainStream(const Options&) {}

    Socket make(const asio::any_io_executor& executor) const { return Socket(executor); }
    Socket adopt(asio::ip::tcp::socket socket) const { return socket; }
    static asio::ip::tcp::socket& tcp_layer(Socket& socket) { return socket; }

    // Never called: there is no handshake.
    Duration handshake_timeout() const { return Duration{0}; }
    template <typename Handler>
    void async_handshake(Socket&, bool, Handler&&) const {}
    // Nothing authenticates a plain peer, so no link is bound to a node id.
    bool binds_node_id() const { return false; }
    static std::optional<NodeId> peer_node_id(Socket&) { return std::nullopt; }

    static bool closed_by_peer(const asio::error_code& ec) { return ec == asio::error::eof; }
    static std::string describe(const asio::error_code& ec) { return ec.message(); }
};

}  // namespace gossipcluster::detail
