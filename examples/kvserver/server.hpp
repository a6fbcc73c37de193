// Server: the client listeners, the connected sessions and the expiry timer, on one io_context.
#pragma once

#include <asio.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "client_session.hpp"
#include "server_context.hpp"

namespace kvserver {

class Server {
  public:
    // Keys the expiry timer may delete per tick, so that a mass expiry cannot stall clients.
    static constexpr std::size_t kExpireBudget = 1000;
    static constexpr std::chrono::milliseconds kExpirePeriod{100};
    // With no key carrying a TTL the timer only looks again once a second: an idle server wakes
    // up less, and a key given a TTL meanwhile is still expired lazily on access.
    static constexpr std::chrono::milliseconds kIdleExpirePeriod{1000};
    static constexpr std::chrono::milliseconds kAcceptRetry{100};
    static constexpr std::chrono::milliseconds kIdlePeriod{1000};

    Server(asio::io_context& io, ServerContext& context)
        : io_(io), ctx_(context), expire_timer_(io), idle_timer_(io) {}

    // Listens on every bind address (a leading '-' marks one that may be missing). Throws
    // std::system_error naming the address when a required one cannot be bound.
    void start() {
        for (const auto& spec : ctx_.options.bind) {
            const bool optional = !spec.empty() && spec.front() == '-';
            const std::string text = optional ? spec.substr(1) : spec;
            std::error_code ec;
            const auto address = asio::ip::make_address(text, ec);
            if (ec) throw std::system_error(ec, fmt::format("invalid bind address '{}'", text));
            asio::ip::tcp::endpoint endpoint(address, ctx_.options.port);
            asio::ip::tcp::acceptor acceptor(io_);
            if (!open_listener(acceptor, endpoint, ec)) {
                if (optional) {
                    ctx_.log.verbose("Skipping optional bind address {}: {}", text, ec.message());
                    continue;
                }
                throw std::system_error(
                    ec, fmt::format("could not create server TCP listening socket {}",
                                    endpoint_text(endpoint)));
            }
            acceptors_.push_back(std::make_unique<asio::ip::tcp::acceptor>(std::move(acceptor)));
        }
        if (acceptors_.empty())
            throw std::runtime_error("no bind address could be used (see --bind)");
        for (auto& a : acceptors_)
            accept_next(*a);
        schedule_expiry();
        schedule_idle_check();
    }

    // Stops accepting, closes every client and the timer. Pending handlers then find nothing
    // to do, so io_context::run() returns once the cluster side has stopped as well.
    void stop() {
        std::error_code ec;
        for (auto& a : acceptors_)
            a->close(ec);
        expire_timer_.cancel();
        idle_timer_.cancel();
        auto sessions = std::move(sessions_);
        sessions_.clear();
        for (auto& [id, s] : sessions)
            s->close();
    }

    std::vector<asio::ip::tcp::endpoint> endpoints() const {
        std::vector<asio::ip::tcp::endpoint> out;
        std::error_code ec;
        for (const auto& a : acceptors_)
            out.push_back(a->local_endpoint(ec));
        return out;
    }

  private:
    static bool open_listener(asio::ip::tcp::acceptor& acceptor,
                              const asio::ip::tcp::endpoint& endpoint, std::error_code& ec) {
        acceptor.open(endpoint.protocol(), ec);
        if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
        // An IPv6 listener takes only IPv6, so that 127.0.0.1 and ::1 can both be bound.
        if (!ec && endpoint.address().is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
        if (!ec) acceptor.bind(endpoint, ec);
        if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) acceptor.close();
        return !ec;
    }

    void accept_next(asio::ip::tcp::acceptor& acceptor) {
        acceptor.async_accept([this, &acceptor](std::error_code ec, asio::ip::tcp::socket socket) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
            if (!ec) {
                on_accept(std::move(socket));
                accept_next(acceptor);
                return;
            }
            // Out of descriptors, say: accepting again at once would fail again at full CPU, so
            // the next attempt waits a little, as the bus acceptor does.
            auto retry = std::make_shared<asio::steady_timer>(io_, kAcceptRetry);
            retry->async_wait([this, &acceptor, retry](std::error_code e) {
                if (e || !acceptor.is_open()) return;
                accept_next(acceptor);
            });
        });
    }

    void on_accept(asio::ip::tcp::socket socket) {
        ++ctx_.stats.connections_received;
        if (ctx_.clients.size() >= ctx_.options.maxclients) {
            ++ctx_.stats.rejected_connections;
            // Best effort, like redis-server: a non-blocking write of the error, then close.
            static constexpr std::string_view kFull = "-ERR max number of clients reached\r\n";
            std::error_code ec;
            socket.non_blocking(true, ec);
            socket.write_some(asio::buffer(kFull.data(), kFull.size()), ec);
            socket.close(ec);
            return;
        }
        const std::uint64_t id = next_client_id_++;
        auto session = std::make_shared<ClientSession>(
            std::move(socket), ctx_, id, [this](std::uint64_t gone) { sessions_.erase(gone); });
        ctx_.log.verbose("Accepted {} (id={})", session->info().addr, id);
        sessions_.emplace(id, session);
        session->start();
    }

    void schedule_expiry() {
        expire_timer_.expires_after(ctx_.keyspace.expires_count() == 0 ? kIdleExpirePeriod
                                                                       : kExpirePeriod);
        expire_timer_.async_wait([this](std::error_code ec) {
            if (ec) return;
            ctx_.keyspace.expire_some(ServerContext::now_ms(), kExpireBudget);
            schedule_expiry();
        });
    }

    // The timeout option: once a second, as redis-server checks its clients, idle ones are
    // closed. Without it the timer never runs.
    void schedule_idle_check() {
        if (ctx_.options.timeout_seconds <= 0) return;
        idle_timer_.expires_after(kIdlePeriod);
        idle_timer_.async_wait([this](std::error_code ec) {
            if (ec) return;
            const std::int64_t cutoff =
                ServerContext::now_ms() - ctx_.options.timeout_seconds * std::int64_t{1000};
            std::vector<std::shared_ptr<ClientSession>> idle;
            for (const auto& [id, s] : sessions_)
                if (s->idle_since(cutoff)) idle.push_back(s);
            for (auto& s : idle) {
                ctx_.log.verbose("Closing idle client id={} addr={}", s->info().id, s->info().addr);
                s->close();
            }
            schedule_idle_check();
        });
    }

    asio::io_context& io_;
    ServerContext& ctx_;
    std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors_;
    std::map<std::uint64_t, std::shared_ptr<ClientSession>> sessions_;
    std::uint64_t next_client_id_ = 1;
    asio::steady_timer expire_timer_;
    asio::steady_timer idle_timer_;
};

}  // namespace kvserver
