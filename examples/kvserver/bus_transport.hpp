// BusTransport: the server's cluster bus, plain TCP or TLS as its options say, chosen at start.
#pragma once

#include <asio.hpp>

#include <cstddef>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "gossipcluster/link.hpp"
#include "gossipcluster/message.hpp"
#include "gossipcluster/transport/asio_tcp.hpp"
#include "gossipcluster/transport/asio_tls.hpp"

namespace kvserver {

// The library's two transports differ in type; the server picks one from its command line, so
// this handle holds either and forwards to it. Same interface as both, so AsioClusterNode can
// run over it.
class BusTransport {
  public:
    // A null context means plain TCP (tls-cluster no).
    using Options = gossipcluster::AsioTlsOptions;

    BusTransport(asio::any_io_executor executor, Options options)
        : impl_(make(std::move(executor), std::move(options))) {}

    bool tls() const { return std::holds_alternative<gossipcluster::AsioTlsTransport>(impl_); }

    void connect(gossipcluster::LinkId link, const gossipcluster::Endpoint& to) {
        std::visit([&](auto& t) { t.connect(link, to); }, impl_);
    }
    void send(gossipcluster::LinkId link, const gossipcluster::Message& msg) {
        std::visit([&](auto& t) { t.send(link, msg); }, impl_);
    }
    void close(gossipcluster::LinkId link) {
        std::visit([&](auto& t) { t.close(link); }, impl_);
    }

    void set_handler(gossipcluster::AsioTcpHandler handler) {
        std::visit([&](auto& t) { t.set_handler(std::move(handler)); }, impl_);
    }
    void listen() {
        std::visit([](auto& t) { t.listen(); }, impl_);
    }
    void stop() {
        std::visit([](auto& t) { t.stop(); }, impl_);
    }
    const std::vector<asio::ip::tcp::endpoint>& listen_endpoints() const {
        return std::visit(
            [](const auto& t) -> const std::vector<asio::ip::tcp::endpoint>& {
                return t.listen_endpoints();
            },
            impl_);
    }
    const gossipcluster::AsioTcpStats& stats() const {
        return std::visit(
            [](const auto& t) -> const gossipcluster::AsioTcpStats& { return t.stats(); }, impl_);
    }
    std::size_t link_count() const {
        return std::visit([](const auto& t) { return t.link_count(); }, impl_);
    }
    std::size_t inbound_link_count() const {
        return std::visit([](const auto& t) { return t.inbound_link_count(); }, impl_);
    }
    std::size_t queued_bytes(gossipcluster::LinkId link) const {
        return std::visit([&](const auto& t) { return t.queued_bytes(link); }, impl_);
    }
    const gossipcluster::AsioLinkStats* link_stats(gossipcluster::LinkId link) const {
        return std::visit([&](const auto& t) { return t.link_stats(link); }, impl_);
    }
    bool stopped() const {
        return std::visit([](const auto& t) { return t.stopped(); }, impl_);
    }
    const asio::any_io_executor& get_executor() const {
        return std::visit(
            [](const auto& t) -> const asio::any_io_executor& { return t.get_executor(); }, impl_);
    }

  private:
    using Impl = std::variant<gossipcluster::AsioTcpTransport, gossipcluster::AsioTlsTransport>;

    static Impl make(asio::any_io_executor executor, Options options) {
        if (options.context)
            return Impl(std::in_place_type<gossipcluster::AsioTlsTransport>, std::move(executor),
                        std::move(options));
        return Impl(std::in_place_type<gossipcluster::AsioTcpTransport>, std::move(executor),
                    static_cast<gossipcluster::AsioTcpOptions>(std::move(options)));
    }

    Impl impl_;
};

static_assert(gossipcluster::Transport<BusTransport>);

}  // namespace kvserver
