// ClusterNode: the cluster half of the server, the library's cluster node plus its log lines.
#pragma once

#include <asio.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "cluster_events.hpp"
#include "gossipcluster/commands/cluster_command.hpp"
#include "gossipcluster/commands/resp_value.hpp"
#include "gossipcluster/config.hpp"
#include "gossipcluster/storage/file_storage.hpp"
#include "gossipcluster/transport/asio_cluster_node.hpp"
#include "gossipcluster/transport/asio_tcp_or_tls.hpp"
#include "logger.hpp"
#include "options.hpp"

namespace kvserver {

// Everything cluster-related the server does goes through here: it owns the library's
// AsioClusterNode (core, bus listener and links; over TLS with tls-cluster) on the server's
// io_context, and turns CLUSTER commands into calls on the core. The core runs on the same single
// thread as the clients, so handlers call it directly.
class ClusterNode {
  public:
    // Plain TCP, or TLS with tls-cluster: the transport picks from its options.
    using Node = gossipcluster::TcpOrTlsClusterNode;
    using Core = Node::Core;

    // Called when the cluster side cannot go on (its config file cannot be saved, say); the
    // server then shuts down with a failure status, as redis-server exits.
    using FatalHandler = std::function<void(const std::string& why)>;

    // Loads (or creates) the cluster config file and builds the core. Throws on a bad config,
    // an unreadable or locked file. Nothing listens before start().
    ClusterNode(asio::io_context& io, const ServerOptions& options, Logger& log, FatalHandler fatal)
        : log_(log), fatal_(std::move(fatal)), tls_cluster_(options.tls_cluster) {
        gossipcluster::Config config;
        config.seed = random_seed();
        // In a TLS cluster the node is known by its TLS port, the plaintext one rides as pport.
        config.port = options.cluster_client_port();
        config.pport = options.tls_cluster ? options.port : std::uint16_t{0};
        config.cport = options.cluster_port;
        config.announce_ip = options.cluster_announce_ip;
        config.announce_hostname = options.cluster_announce_hostname;
        config.node_timeout = gossipcluster::Duration{options.cluster_node_timeout_ms};

        gossipcluster::AsioTcpOrTlsTransport::Options bus;
        bus.bind_addresses = options.bind;
        bus.port = options.bus_port();
        // Inbound bus links leave the clients their share of the open files limit (raised at
        // startup towards maxclients plus room for the bus): at most half of it, so that a low
        // hard limit still leaves the bus room for its peers.
        rlimit lim{};
        if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
            bus.reserved_fds =
                32 + std::min<std::size_t>(options.maxclients,
                                           static_cast<std::size_t>(lim.rlim_cur) / 2);
        if (options.tls_cluster) {
            bus.context = gossipcluster::make_tls_context(
                {options.tls_cert_file, options.tls_key_file, options.tls_ca_cert_file});
            bus.bind_node_id = options.tls_cluster_bind_node_id;
        }
        const auto context = bus.context;

        const bool had_file = std::filesystem::exists(options.cluster_config_file);
        node_ = std::make_unique<Node>(io, std::move(config),
                                       gossipcluster::FileStorage(options.cluster_config_file),
                                       std::move(bus));
        node_->core().set_event_handler([this](const gossipcluster::Event& e) { on_event(e); });
        node_->set_error_handler([this](std::exception_ptr e) { fail(e); });

        const std::string_view id = core().state().myself_id().view();
        if (had_file)
            log_.notice("Node configuration loaded, I'm {}", id);
        else
            log_.notice("No cluster configuration found, I'm {}", id);
        if (options.tls_cluster_bind_node_id && context) warn_unless_certified(*context, id);
    }

    ClusterNode(const ClusterNode&) = delete;
    ClusterNode& operator=(const ClusterNode&) = delete;
    ~ClusterNode() { stop(); }

    // Binds the bus port on every bind address (throws std::system_error if it cannot).
    void start() {
        node_->start();
        for (const auto& ep : node_->listen_endpoints())
            log_.verbose("Cluster bus listening on {}:{}{}", ep.address().to_string(), ep.port(),
                         node_->transport().tls() ? " (TLS)" : "");
    }

    // Closes the bus and saves the node table one last time, so that what was learnt since the
    // last change (pong times, say) survives the restart.
    void stop() {
        if (!node_ || node_->stopped()) return;
        const bool was_running = node_->started();
        node_->stop();
        // A halted core failed to save: the file keeps the last state that was saved, which is
        // what the restarted node must start from.
        if (!was_running || node_->core().halted()) return;
        try {
            auto& core = node_->core();
            core.storage().save(core.state().snapshot(core.now()), true);
            log_.notice("Cluster configuration saved");
        } catch (const std::exception& e) {
            log_.warning("Cannot save the cluster configuration on exit: {}", e.what());
        }
    }

    // Peers that bind node ids refuse a certificate that does not name this node's id; the node
    // would start but never join them, so say why at once.
    void warn_unless_certified(asio::ssl::context& context, std::string_view id) {
        const auto named =
            gossipcluster::certificate_node_id(SSL_CTX_get0_certificate(context.native_handle()));
        if (named && named->view() == id) return;
        log_.warning(
            "tls-cluster-bind-node-id: the TLS certificate names {}, not this node's id "
            "{}: peers that bind node ids will refuse it (issue a certificate naming the "
            "id, as CN or DNS alternative name)",
            named ? named->str() : std::string("no node id"), id);
    }

    // CLUSTER <args...>, args[0] being the subcommand.
    gossipcluster::RespValue command(std::span<const std::string_view> args) {
        gossipcluster::ClusterInfoExtras extras;
        extras.links_buffer_limit_exceeded = node_->transport().stats().links_dropped_send_buffer;
        // Clients are served on the plaintext port only.
        extras.tls_cluster = tls_cluster_;
        extras.plaintext_client = true;
        try {
            auto reply = gossipcluster::cluster_command(node_->core(), args, extras, keys_);
            // A MEET wants its connection now, not at the next timer tick.
            node_->rearm();
            return reply;
        } catch (...) {
            fail(std::current_exception());
            return gossipcluster::RespValue::error("ERR the cluster configuration cannot be saved");
        }
    }

    // Sees every event after it is logged. Called while the core is applying a step: a
    // listener that wants to call the core again must post that work to the io_context.
    using EventListener = std::function<void(const gossipcluster::Event&)>;
    void add_event_listener(EventListener listener) { listeners_.push_back(std::move(listener)); }

    // The host's key counts, for the CLUSTER subcommands that depend on them.
    void set_host_keys(gossipcluster::ClusterHostKeys keys) { keys_ = std::move(keys); }

    Core& core() { return node_->core(); }
    const gossipcluster::ClusterState& state() const { return node_->core().state(); }
    std::size_t bus_link_count() { return node_->transport().link_count(); }

  private:
    static std::uint64_t random_seed() {
        // The seed picks the node's name: it must differ between processes.
        std::random_device rd;
        return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    }

    // One line per event, except that a link failing again and again for the same reason (a
    // peer that is down, retried with backoff) is logged once a minute, with a repeat count.
    void on_event(const gossipcluster::Event& e) {
        EventLine line = describe_event(e);
        if (const auto* err = std::get_if<gossipcluster::event::LinkError>(&e)) {
            const auto now = std::chrono::steady_clock::now();
            auto& seen = link_errors_[err->node];
            const bool same = seen.reason == err->reason;
            if (same && now - seen.logged < kRepeatWindow) {
                ++seen.repeats;
                line.level = LogLevel::kVerbose;
            } else {
                if (same && seen.repeats > 0)
                    line.text += fmt::format(" (and {} time(s) more since the last such line)",
                                             seen.repeats);
                seen = LinkErrorSeen{err->reason, now, 0};
            }
            if (link_errors_.size() > kMaxTrackedLinks) link_errors_.clear();
        } else if (const auto* gone = std::get_if<gossipcluster::event::NodeForgotten>(&e)) {
            link_errors_.erase(gone->node);
        }
        log_.log(line.level, line.text);
        for (const auto& listener : listeners_)
            listener(e);
    }

    void fail(std::exception_ptr e) {
        std::string why = "unknown error";
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            why = ex.what();
        } catch (...) {
        }
        log_.warning("Cluster failure: {}", why);
        if (fatal_) fatal_(why);
    }

    struct LinkErrorSeen {
        std::string reason;
        std::chrono::steady_clock::time_point logged;
        std::uint64_t repeats = 0;
    };
    static constexpr std::chrono::seconds kRepeatWindow{60};
    static constexpr std::size_t kMaxTrackedLinks = 4096;

    Logger& log_;
    FatalHandler fatal_;
    bool tls_cluster_;
    std::map<gossipcluster::NodeId, LinkErrorSeen> link_errors_;
    std::vector<EventListener> listeners_;
    gossipcluster::ClusterHostKeys keys_;
    std::unique_ptr<Node> node_;
};

}  // namespace kvserver
