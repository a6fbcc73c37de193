// AsioTlsStream: the stream policy of AsioTlsTransport, TCP under asio::ssl with a handshake.
#pragma once

// Part of gossipcluster/transport/asio_tls.hpp (it needs AsioTlsOptions): include that header.

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "gossipcluster/time.hpp"
#include "gossipcluster/types.hpp"

namespace gossipcluster::detail {

struct AsioTlsStream {
    using Options = AsioTlsOptions;
    using Socket = asio::ssl::stream<asio::ip::tcp::socket>;
    static constexpr bool kHandshake = true;
    // Writes go through the TLS engine, asynchronously.
    static constexpr bool kDirectWrite = false;

    explicit AsioTlsStream(const Options& options)
        : context_(options.context),
          timeout_(options.handshake_timeout),
          bind_node_id_(options.bind_node_id) {
        if (!context_)
            throw std::invalid_argument(
                "AsioTlsOptions: context is not set (see make_tls_context)");
        // An unbounded handshake would let a peer that stalls in it hold a socket for good.
        if (timeout_.count() <= 0)
            throw std::invalid_argument("AsioTlsOptions: handshake_timeout must be positive");
    }

    Socket make(const asio::any_io_executor& executor) const { return Socket(executor, *context_); }
    Socket adopt(asio::ip::tcp::socket socket) const {
        return Socket(std::move(socket), *context_);
    }
    static asio::ip::tcp::socket& tcp_layer(Socket& socket) { return socket.next_layer(); }

    Duration handshake_timeout() const { return timeout_; }

    // The accepting side is the TLS server; both sides present and verify certificates, as the
    // context says.
    template <typename Handler>
    void async_handshake(Socket& socket, bool accepted, Handler&& handler) const {
        socket.async_handshake(
            accepted ? asio::ssl::stream_base::server : asio::ssl::stream_base::client,
            std::forward<Handler>(handler));
    }

    bool binds_node_id() const { return bind_node_id_; }

    // After a successful handshake: the node id the peer's certificate names. Only a certificate
    // that passed verification counts, whatever verify mode a hand-made context has set.
    static std::optional<NodeId> peer_node_id(Socket& socket) {
        SSL* ssl = socket.native_handle();
        if (SSL_get_verify_result(ssl) != X509_V_OK) return std::nullopt;
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
        X509* cert = SSL_get1_peer_certificate(ssl);
#else
        X509* cert = SSL_get_peer_certificate(ssl);
#endif
        auto id = certificate_node_id(cert);
        X509_free(cert);  // takes nullptr
        return id;
    }

    // A peer that closes its socket without a TLS close_notify (as redis-server does) ends the
    // stream with stream_truncated; for the bus that is an ordinary close.
    static bool closed_by_peer(const asio::error_code& ec) {
        return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
    }

    // OpenSSL's messages name the failing step ("certificate verify failed"); its error codes
    // alone say little.
    static std::string describe(const asio::error_code& ec) {
        if (ec.category() == asio::error::get_ssl_category()) {
            std::string text = ec.message();
            if (text.empty()) text = fmt::format("TLS error {}", ec.value());
            return "TLS: " + text;
        }
        return ec.message();
    }

  private:
    std::shared_ptr<asio::ssl::context> context_;
    Duration timeout_;
    bool bind_node_id_;
};

}  // namespace gossipcluster::detail
