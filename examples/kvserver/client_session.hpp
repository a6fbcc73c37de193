// ClientSession: one client connection: reads requests, runs them in order, writes the replies.
#pragma once

#include <asio.hpp>

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "command_table.hpp"
#include "gossipcluster/commands/resp_value.hpp"
#include "pubsub.hpp"
#include "resp_parser.hpp"
#include "server_context.hpp"

namespace kvserver {

inline std::string endpoint_text(const asio::ip::tcp::endpoint& ep) {
    if (ep.address().is_v6()) return fmt::format("[{}]:{}", ep.address().to_string(), ep.port());
    return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

// Memory stays bounded per client: unparsed input is capped by client-query-buffer-limit (the
// client is closed beyond it), and while more than kOutputHighWater bytes of replies wait for
// the socket, no further request is run or read, so a client that pipelines without reading
// its replies is throttled by TCP rather than by our memory.
class ClientSession : public std::enable_shared_from_this<ClientSession>, public ClientLink {
  public:
    static constexpr std::size_t kOutputHighWater = std::size_t{1} << 20;
    static constexpr std::size_t kReadChunk = std::size_t{16} << 10;

    using ClosedHandler = std::function<void(std::uint64_t id)>;

    ClientSession(asio::ip::tcp::socket socket, ServerContext& server, std::uint64_t id,
                  ClosedHandler on_closed)
        : socket_(std::move(socket)), server_(server), on_closed_(std::move(on_closed)) {
        std::error_code ec;
        info_.id = id;
        info_.fd = socket_.native_handle();
        info_.read_chunk = kReadChunk;
        info_.addr = endpoint_text(socket_.remote_endpoint(ec));
        info_.laddr = endpoint_text(socket_.local_endpoint(ec));
        info_.created_ms = info_.last_interaction_ms = ServerContext::now_ms();
        info_.authenticated = server_.options.requirepass.empty();
        socket_.set_option(asio::ip::tcp::no_delay(true), ec);
        server_.clients[id] = &info_;
    }

    ClientSession(const ClientSession&) = delete;
    ClientSession& operator=(const ClientSession&) = delete;

    void start() {
        info_.link = weak_from_this();
        read_more();
    }

    // Closes at once; replies not yet written are dropped.
    void close() override {
        if (closed_) return;
        closed_ = true;
        std::error_code ec;
        socket_.close(ec);
        server_.clients.erase(info_.id);
        if (server_.pubsub) server_.pubsub->drop_client(info_.id);
        if (on_closed_) on_closed_(info_.id);
    }

    const ClientInfo& info() const { return info_; }

    // Idle for the timeout option: neither a replica nor a client in Pub/Sub mode or waiting for
    // a held request (WAIT, a write paused by a failover), which are idle by design.
    bool idle_since(std::int64_t cutoff_ms) const {
        if (closed_ || held_ || info_.replica) return false;
        if (server_.pubsub && server_.pubsub->in_subscribe_mode(info_.id)) return false;
        return info_.last_interaction_ms < cutoff_ms;
    }

    // A request held by ServerContext::before_command ends: answer it, then run the next ones.
    void finish(std::optional<RespValue> reply) override {
        if (closed_ || !held_) return;
        held_ = false;
        RespValue r = reply ? std::move(*reply) : run_request();
        if (r.is_error()) ++server_.stats.error_replies;
        gossipcluster::write_resp2(r, output_);
        if (info_.close_after_reply) close_after_flush_ = true;
        pump();
    }
    void send_raw(std::string_view bytes) override {
        if (closed_) return;
        output_.append(bytes);
        flush();
    }
    std::size_t pending_output() const override { return output_.size() + in_flight_.size(); }
    bool is_open() const override { return !closed_; }

  private:
    void read_more() {
        if (reading_ || closed_ || close_after_flush_) return;
        reading_ = true;
        socket_.async_read_some(asio::buffer(chunk_),
                                [self = shared_from_this()](std::error_code ec, std::size_t n) {
                                    self->on_read(ec, n);
                                });
    }

    void on_read(std::error_code ec, std::size_t n) {
        reading_ = false;
        if (closed_) return;
        if (ec) {
            if (ec != asio::error::eof && ec != asio::error::connection_reset)
                server_.log.verbose("Client id={} addr={} read error: {}", info_.id, info_.addr,
                                    ec.message());
            close();
            return;
        }
        input_.append(chunk_.data(), n);
        info_.last_interaction_ms = ServerContext::now_ms();
        pump();
    }

    // Runs every complete request while the output backlog allows, then writes and reads on.
    void pump() {
        while (!closed_ && !held_ && !close_after_flush_ && output_.size() < kOutputHighWater) {
            auto result = parser_.parse(input_, consumed_);
            if (result == RequestParser::Result::kNeedMore) break;
            if (result == RequestParser::Result::kError) {
                server_.log.verbose("Protocol error ({}) from client id={} addr={}",
                                    parser_.error(), info_.id, info_.addr);
                gossipcluster::write_resp2(
                    RespValue::error("ERR Protocol error: " + parser_.error()), output_);
                ++server_.stats.error_replies;
                close_after_flush_ = true;
                break;
            }
            // Before replication's hook, which would otherwise answer GCSYNC and WAIT.
            if (auto refused = auth_refusal(info_, parser_.args())) {
                ++server_.stats.error_replies;
                gossipcluster::write_resp2(*refused, output_);
                continue;
            }
            if (server_.before_command) {
                const HoldResult hold =
                    server_.before_command(weak_from_this(), info_, parser_.args());
                if (hold == HoldResult::kHeld) {
                    held_ = true;
                    break;
                }
                if (hold == HoldResult::kNoReply) continue;
            }
            RespValue reply = run_request();
            if (reply.is_error()) ++server_.stats.error_replies;
            gossipcluster::write_resp2(reply, output_);
            if (info_.close_after_reply) close_after_flush_ = true;
        }
        if (consumed_ > 0) {
            input_.erase(0, consumed_);
            consumed_ = 0;
        }
        release_if_idle(input_);
        info_.query_buffer = input_.size();
        // What one request holds before it can run: its parsed arguments, plus the unparsed
        // input or, for a large argument, all the bytes it announced.
        const std::size_t held =
            parser_.parsed_bytes_pending() + std::max(input_.size(), parser_.bulk_bytes_pending());
        if (!closed_ && !close_after_flush_ && held > server_.options.client_query_buffer_limit) {
            server_.log.warning(
                "Closing client that reached max query buffer length: id={} addr={} (qbuf "
                "{} bytes, limit {})",
                info_.id, info_.addr, held, server_.options.client_query_buffer_limit);
            close();
            return;
        }
        flush();
        if (output_.size() < kOutputHighWater) read_more();
    }

    void flush() {
        if (closed_ || writing_) return;
        if (output_.empty()) {
            if (close_after_flush_) close();
            return;
        }
        writing_ = true;
        in_flight_.swap(output_);
        output_.clear();
        info_.output_buffer = in_flight_.size();
        asio::async_write(
            socket_, asio::buffer(in_flight_),
            [self = shared_from_this()](std::error_code ec, std::size_t) { self->on_written(ec); });
    }

    void on_written(std::error_code ec) {
        writing_ = false;
        in_flight_.clear();
        release_if_idle(in_flight_);
        info_.output_buffer = output_.size();
        if (closed_) return;
        if (ec) {
            close();
            return;
        }
        pump();
    }

    RespValue run_request() {
        RespValue reply = execute(server_, info_, parser_.args());
        if (server_.after_command) server_.after_command(info_, parser_.args(), reply);
        return reply;
    }

    // An empty buffer that grew for one large request or reply gives its memory back.
    static void release_if_idle(std::string& buffer) {
        if (buffer.empty() && buffer.capacity() > kOutputHighWater) std::string().swap(buffer);
    }

    asio::ip::tcp::socket socket_;
    ServerContext& server_;
    ClosedHandler on_closed_;
    ClientInfo info_;
    RequestParser parser_;
    std::array<char, kReadChunk> chunk_{};
    std::string input_;
    std::size_t consumed_ = 0;
    std::string output_;     // replies waiting for the write in flight
    std::string in_flight_;  // replies being written
    bool reading_ = false;
    bool writing_ = false;
    bool close_after_flush_ = false;
    bool closed_ = false;
    bool held_ = false;  // a request waits for finish(); nothing more runs until then
};

}  // namespace kvserver
