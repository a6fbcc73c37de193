// AsioTlsTransport: the cluster bus over TLS with mutual authentication (asio::ssl, OpenSSL).
#pragma once

// Link with gossipcluster::asio_tls (it brings OpenSSL::SSL). Everything AsioTcpTransport does
// (framing, buffers, backoff, counters) is shared, and AsioClusterNode runs over either; what TLS
// adds is a handshake after every TCP connection, in which each side must present a certificate
// that the other verifies against its CA. A peer that fails it is closed before the core hears of
// it. With bind_node_id, a link also speaks only for the node id its peer's certificate names.

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "gossipcluster/transport/asio_cluster_node.hpp"
#include "gossipcluster/transport/asio_tcp.hpp"
#include "gossipcluster/types.hpp"

namespace gossipcluster {

struct AsioTlsOptions : AsioTcpOptions {
    // Certificates, key, trusted CAs and verification mode, shared by every link (in both
    // directions: this node is the TLS server on accepted links and the client on its own).
    // make_tls_context() builds one for mutual authentication. Required.
    std::shared_ptr<asio::ssl::context> context;
    // A TLS handshake not finished by then fails: an inbound link is closed unreported, an
    // outbound one reported down like a failed connect. Must be positive.
    Duration handshake_timeout{5000};
    // Binds every link to the node id its peer's certificate names (certificate_node_id). The CA
    // alone lets any certificate it signed speak for any node id: a holder of one node's key
    // could forge failure reports, slot claims or votes in another's name. With this on, a peer
    // whose certificate names no node id fails the handshake, and a frame whose header names
    // another sender closes its link before the core sees it. Every node's certificate must
    // then name that node's id, so ids are fixed before certificates are issued (from the node
    // table: nodes.conf). Off by default: certificates issued per host name name no node id.
    bool bind_node_id = false;
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

namespace detail {

// A name from a certificate as a node id: exactly 40 characters of [0-9a-z], letters in any case
// (a CA may upper-case names it copies). Anything else (a host name, say) is not one.
inline std::optional<NodeId> node_id_in_name(const unsigned char* data, int length) {
    if (data == nullptr || length != static_cast<int>(kNodeNameLen)) return std::nullopt;
    std::array<char, kNodeNameLen> lower{};
    for (std::size_t i = 0; i < kNodeNameLen; ++i) {
        const unsigned char c = data[i];
        lower[i] = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    return NodeId::parse(std::string_view(lower.data(), lower.size()));
}

}  // namespace detail

// The node id a certificate may speak for (AsioTlsOptions::bind_node_id): the one named by its
// subject's common name (CN) or by a DNS entry of its subject alternative names, as 40
// characters of [0-9a-z] in any case. Other names in either place are ignored, so a certificate
// may carry host names beside the id. Nullopt when it names no node id, or more than one: a
// certificate speaks for one node.
inline std::optional<NodeId> certificate_node_id(X509* cert) {
    if (cert == nullptr) return std::nullopt;
    std::optional<NodeId> found;
    bool several = false;
    auto consider = [&](std::optional<NodeId> id) {
        if (!id) return;
        if (found && *found != *id) several = true;
        found = id;
    };
    if (X509_NAME* subject = X509_get_subject_name(cert)) {
        for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
             i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
            // The CN may be any ASN.1 string type (UTF8String, PrintableString, BMPString...).
            unsigned char* text = nullptr;
            const int n = ASN1_STRING_to_UTF8(
                &text, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
            if (n >= 0) consider(detail::node_id_in_name(text, n));
            OPENSSL_free(text);
        }
    }
    auto* names =
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    if (names != nullptr) {
        for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
            const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
            if (name->type != GEN_DNS) continue;
            consider(detail::node_id_in_name(ASN1_STRING_get0_data(name->d.dNSName),
                                             ASN1_STRING_length(name->d.dNSName)));
        }
        GENERAL_NAMES_free(names);
    }
    if (several) return std::nullopt;
    return found;
}

}  // namespace gossipcluster

#include "gossipcluster/transport/detail/asio_tls_stream.hpp"

namespace gossipcluster {

// The Transport policy over TLS. Same interface, threading rules and counters as
// AsioTcpTransport; its options are AsioTlsOptions.
using AsioTlsTransport = AsioStreamTransport<detail::AsioTlsStream>;

static_assert(AsioBusTransport<AsioTlsTransport>);

using TlsClusterCore = ClusterCore<AsioTlsTransport, SteadyClock, FileStorage>;
using TlsClusterNode = AsioClusterNode<SteadyClock, FileStorage, AsioTlsTransport>;

}  // namespace gossipcluster
