// AsioTcpOrTlsTransport: the cluster bus over plain TCP or TLS, as its options say at run time.
#pragma once

// Link with gossipcluster::asio_tls. A host that lets its operator choose (Redis's
// tls-cluster yes|no) needs one transport type for AsioClusterNode whichever was chosen: this
// one holds an AsioTcpTransport or an AsioTlsTransport, picked when it is made, and forwards to
// it. Same interface, threading rules and counters as both.

#include <asio.hpp>

#include <cstddef>
#include <optional>
#include <utility>
#include <variant>
#include <vector>

#include "gossipcluster/link.hpp"
#include "gossipcluster/message.hpp"
#include "gossipcluster/transport/asio_cluster_node.hpp"
#include "gossipcluster/transport/asio_tcp.hpp"
#include "gossipcluster/transport/asio_tls.hpp"
#include "gossipcluster/types.hpp"

namespace gossipcluster {

class AsioTcpOrTlsTransport {
  public:
    // TLS when `context` is set (the TLS fields are then used as AsioTlsTransport uses them),
    // plain TCP when it is null (they are ignored).
    using Options = AsioTlsOptions;

    explicit AsioTcpOrTlsTransport(asio::any_io_executor executor, Options options = {})
        : impl_(make(std::move(executor), std::move(options))) {}

    bool tls() const { return std::holds_alternative<AsioTlsTransport>(impl_); }

    // The Transport concept.
    void connect(LinkId link, const Endpoint& to) {
        std::visit([&](auto& t) { t.connect(link, to); }, impl_);
    }
    void send(LinkId link, const Message& msg) {
        std::visit([&](auto& t) { t.send(link, msg); }, impl_);
    }
    void close(LinkId link) {
        std::visit([&](auto& t) { t.close(link); }, impl_);
    }

    // As AsioStreamTransport's.
    void set_handler(AsioTcpHandler handler) {
        std::visit([&](auto& t) { t.set_handler(std::move(handler)); }, impl_);
    }
    void listen() {
        std::visit([](auto& t) { t.listen(); }, impl_);
    }
    void stop() {
        std::visit([](auto& t) { t.stop(); }, impl_);
    }
    bool stopped() const {
        return std::visit([](const auto& t) { return t.stopped(); }, impl_);
    }
    const std::vector<asio::ip::tcp::endpoint>& listen_endpoints() const {
        return std::visit(
            [](const auto& t) -> const std::vector<asio::ip::tcp::endpoint>& {
                return t.listen_endpoints();
            },
            impl_);
    }
    const AsioTcpStats& stats() const {
        return std::visit([](const auto& t) -> const AsioTcpStats& { return t.stats(); }, impl_);
    }
    const AsioLinkStats* link_stats(LinkId link) const {
        return std::visit([&](const auto& t) { return t.link_stats(link); }, impl_);
    }
    std::size_t queued_bytes(LinkId link) const {
        return std::visit([&](const auto& t) { return t.queued_bytes(link); }, impl_);
    }
    std::optional<NodeId> certified_node_id(LinkId link) const {
        return std::visit([&](const auto& t) { return t.certified_node_id(link); }, impl_);
    }
    std::size_t link_count() const {
        return std::visit([](const auto& t) { return t.link_count(); }, impl_);
    }
    std::size_t inbound_link_count() const {
        return std::visit([](const auto& t) { return t.inbound_link_count(); }, impl_);
    }
    std::size_t inbound_buffered_bytes() const {
        return std::visit([](const auto& t) { return t.inbound_buffered_bytes(); }, impl_);
    }
    const asio::any_io_executor& get_executor() const {
        return std::visit(
            [](const auto& t) -> const asio::any_io_executor& { return t.get_executor(); }, impl_);
    }

  private:
    using Impl = std::variant<AsioTcpTransport, AsioTlsTransport>;

    static Impl make(asio::any_io_executor executor, Options options) {
        if (options.context)
            return Impl(std::in_place_type<AsioTlsTransport>, std::move(executor),
                        std::move(options));
        return Impl(std::in_place_type<AsioTcpTransport>, std::move(executor),
                    static_cast<AsioTcpOptions>(std::move(options)));
    }

    // Both alternatives are handles to a shared implementation, so copies act on one transport.
    Impl impl_;
};

static_assert(AsioBusTransport<AsioTcpOrTlsTransport>);

using TcpOrTlsClusterNode = AsioClusterNode<SteadyClock, FileStorage, AsioTcpOrTlsTransport>;

}  // namespace gossipcluster
