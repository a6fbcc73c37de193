// AsioTlsTransport: the cluster bus over TLS with mutual authentication (asio::ssl, OpenSSL).
#pragma once

// Link with gossipcluster::asio_tls (it brings OpenSSL::SSL). Everything AsioTcpTransport does
// (framing, buffers, backoff, counters, AsioClusterNode) is shared; what TLS adds is a handshake
// after every TCP connection, in which each side must present a certificate that the other
// verifies against its CA. A peer that fails it is closed before the core hears of it.

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include "gossipcluster/transport/asio_tcp.hpp"

namespace gossipcluster {

struct AsioTlsOptions : AsioTcpOptions {
    // Certificates, key, trusted CAs and verification mode, shared by every link (in both
    // directions: this node is the TLS server on accepted links and the client on its own).
    // make_tls_context() builds one for mutual authentication. Required.
    std::shared_ptr<asio::ssl::context> context;
    // A TLS handshake not finished by then fails: an inbound link is closed unreported, an
    // outbound one reported down like a failed connect. Must be positive.
    Duration handshake_timeout{5000};
};

// PEM files for make_tls_context, as redis-server names them (tls-cert-file, tls-key-file,
// tls-ca-cert-file).
struct AsioTlsFiles {
    std::string cert_file;     // this node's certificate (a chain: leaf first)
    std::string key_file;      // its private key, unencrypted
    std::string ca_cert_file;  // the CA(s) a peer's certificate must chain to
};

// A context for the bus: TLS 1.2 or later, this node's certificate and key, and peers verified
// against the CA file, a peer without a certificate refused (verify_peer |
// verify_fail_if_no_peer_cert), on accepted and outgoing links alike. Host names are not checked:
// peers are known by address, and the CA is what is trusted. Throws std::system_error naming the
// file that cannot be used.
inline std::shared_ptr<asio::ssl::context> make_tls_context(const AsioTlsFiles& files) {
    namespace ssl = asio::ssl;
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1)
        throw std::system_error(std::make_error_code(std::errc::not_supported),
                                "cannot require TLS 1.2 or later");
    auto check = [](const asio::error_code& ec, std::string_view what, const std::string& file) {
        if (ec) throw std::system_error(ec, fmt::format("cannot load the {} '{}'", what, file));
    };
    asio::error_code ec;
    ctx->use_certificate_chain_file(files.cert_file, ec);
    check(ec, "TLS certificate file", files.cert_file);
    ctx->use_private_key_file(files.key_file, ssl::context::pem, ec);
    check(ec, "TLS key file", files.key_file);
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
        throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                                fmt::format("the TLS key file '{}' does not match the "
                                            "certificate '{}'",
                                            files.key_file, files.cert_file));
    ctx->load_verify_file(files.ca_cert_file, ec);
    check(ec, "TLS CA certificate file", files.ca_cert_file);
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    return ctx;
}

}  // namespace gossipcluster

#include "gossipcluster/transport/detail/asio_tls_stream.hpp"

namespace gossipcluster {

// The Transport policy over TLS. Same interface, threading rules and counters as
// AsioTcpTransport; its options are AsioTlsOptions.
using AsioTlsTransport = AsioStreamTransport<detail::AsioTlsStream>;

static_assert(Transport<AsioTlsTransport>);

using TlsClusterCore = ClusterCore<AsioTlsTransport, SteadyClock, FileStorage>;
using TlsClusterNode = AsioClusterNode<SteadyClock, FileStorage, AsioTlsTransport>;

}  // namespace gossipcluster
