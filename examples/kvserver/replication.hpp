// Replication: a replica copies its master's keys over the client port and follows its writes.
#pragma once

#include <asio.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "cluster_node.hpp"
#include "command_table.hpp"
#include "gossipcluster/commands/arguments.hpp"
#include "resp_parser.hpp"
#include "server_context.hpp"

namespace kvserver {

namespace detail {

inline std::string encode_request(std::initializer_list<std::string_view> args) {
    std::string out = fmt::format("*{}\r\n", args.size());
    for (auto a : args)
        fmt::format_to(std::back_inserter(out), "${}\r\n{}\r\n", a.size(), a);
    return out;
}

inline bool command_is_write(const CommandSpec& spec) {
    return std::find(spec.flags.begin(), spec.flags.end(), "write") != spec.flags.end();
}

}  // namespace detail

// The protocol (see README.md, "Replication"), all of it RESP arrays on the master's client port:
//   replica -> master  GCSYNC <offset> <listening-port>, then GCACK <offset> now and then
//   master -> replica  GCFULLSYNC <offset>, SET ... for every key, GCSYNCDONE, then the stream:
//                      SET key value [PXAT unix-ms] / DEL key, one per key a write changed,
//                      and GCPING every second, so that a replica knows an idle link is alive.
// The offset counts the stream's bytes after GCSYNCDONE, GCPING aside; a replica starts at the
// master's offset. A replica tells the cluster core how fresh its data is (the link up and when
// the master last sent something, or since when it is down), and elections refuse stale data.
// Writes travel as their effect on each key, so expiry times are absolute and INCR replays
// exactly.
class Replication {
  public:
    static constexpr std::chrono::milliseconds kAckPeriod{100};
    static constexpr std::chrono::milliseconds kRetryDelay{500};
    static constexpr std::chrono::milliseconds kKeepalivePeriod{1000};
    // A replica that does not read its stream is dropped past this many pending bytes.
    static constexpr std::size_t kMaxReplicaBacklog = std::size_t{256} << 20;
    // Longest WAIT deadline kept (about 100 years); longer ones wait this long.
    static constexpr std::chrono::milliseconds kMaxWait{std::int64_t{100} * 365 * 24 * 3600 * 1000};

    Replication(asio::io_context& io, ServerContext& ctx)
        : io_(io),
          ctx_(ctx),
          ack_timer_(io),
          retry_timer_(io),
          pause_timer_(io),
          keepalive_timer_(io) {}
    Replication(const Replication&) = delete;
    Replication& operator=(const Replication&) = delete;

    // Installs the server hooks; a node whose table says it is a replica starts to sync.
    void start() {
        ctx_.before_command = [this](std::weak_ptr<ClientLink> link, ClientInfo& client,
                                     const std::vector<std::string>& args) {
            return before_command(std::move(link), client, args);
        };
        ctx_.after_command = [this](ClientInfo& client, const std::vector<std::string>& args,
                                    const RespValue& reply) { after_command(client, args, reply); };
        ctx_.replication_info = [this](std::string& out) { info(out); };
        if (!ctx_.cluster) return;
        ctx_.cluster->add_event_listener([this](const gossipcluster::Event& e) { on_event(e); });
        if (auto master = my_master()) follow(*master);
        schedule_keepalive();
    }

    void stop() {
        stopped_ = true;
        ack_timer_.cancel();
        retry_timer_.cancel();
        pause_timer_.cancel();
        keepalive_timer_.cancel();
        close_master_link();
        release_paused();
    }

  private:
    struct ReplicaLink {
        std::weak_ptr<ClientLink> link;
        std::string ip;
        std::uint16_t port = 0;
        std::uint64_t ack = 0;
        std::int64_t ack_ms = 0;
    };
    struct Waiter {
        std::weak_ptr<ClientLink> link;
        std::uint64_t target = 0;
        std::size_t wanted = 0;
        std::optional<std::chrono::steady_clock::time_point> deadline;
    };
    enum class LinkState { kNone, kConnecting, kSyncing, kOnline };

    // ---- role -------------------------------------------------------------------------------

    std::optional<gossipcluster::NodeId> my_master() const {
        if (!ctx_.cluster) return std::nullopt;
        const gossipcluster::NodeView me = ctx_.cluster->state().myself();
        if (me.is_replica() && me.master()) return *me.master();
        return std::nullopt;
    }
    bool is_master() const { return !my_master(); }

    // Called while the core applies a step: anything that calls the core again is posted.
    void on_event(const gossipcluster::Event& e) {
        namespace ev = gossipcluster::event;
        if (const auto* role = std::get_if<ev::RoleChanged>(&e)) {
            asio::post(io_, [this, r = *role] { on_role(r); });
        } else if (const auto* pause = std::get_if<ev::PauseWrites>(&e)) {
            const std::int64_t left = pause->until_ms - ctx_.cluster->core().now().mono.ms;
            pause_writes(std::chrono::milliseconds(std::max<std::int64_t>(left, 0)));
        } else if (std::holds_alternative<ev::ResumeWrites>(e) ||
                   std::holds_alternative<ev::ManualFailoverTimedOut>(e)) {
            asio::post(io_, [this] { release_paused(); });
        }
    }

    void on_role(const gossipcluster::event::RoleChanged& r) {
        if (stopped_) return;
        if (r.is_master) {
            if (link_state_ != LinkState::kNone)
                ctx_.log.notice("Replication: promoted to master at offset {}, stopping sync",
                                offset_);
            following_.reset();
            close_master_link();
            report_offset();
        } else {
            // Replicas of ours must now follow someone else; dropping them makes them notice.
            drop_replicas();
            follow(r.master);
        }
        release_paused();
    }

    // ---- replica side -----------------------------------------------------------------------

    void follow(const gossipcluster::NodeId& master) {
        if (following_ && *following_ == master && link_state_ != LinkState::kNone) return;
        if (!following_ || *following_ != master) ever_synced_ = false;
        following_ = master;
        close_master_link();
        report_link();
        connect_master();
    }

    void connect_master() {
        if (stopped_ || !following_ || !ctx_.cluster) return;
        const auto node = ctx_.cluster->state().find(*following_);
        if (!node || node->port() == 0) {
            retry_later();
            return;
        }
        std::error_code ec;
        const auto address =
            asio::ip::make_address(node->ip().empty() ? "127.0.0.1" : node->ip(), ec);
        if (ec) {
            retry_later();
            return;
        }
        master_ip_ = address.to_string();
        // Replication runs on the client port, the plaintext one in a TLS cluster.
        master_port_ = node->pport() != 0 ? node->pport() : node->port();
        link_state_ = LinkState::kConnecting;
        socket_ = std::make_shared<asio::ip::tcp::socket>(io_);
        input_.clear();
        parser_ = RequestParser{};
        partial_bytes_ = 0;
        auto sock = socket_;
        sock->async_connect({address, master_port_}, [this, sock](std::error_code error) {
            if (sock != socket_) return;
            if (error) {
                ctx_.log.verbose("Replication: cannot connect to master {}:{}: {}", master_ip_,
                                 master_port_, error.message());
                lost_master();
                return;
            }
            std::error_code ignored;
            sock->set_option(asio::ip::tcp::no_delay(true), ignored);
            link_state_ = LinkState::kSyncing;
            ctx_.log.notice("Replication: connected to master {}:{}, asking for a full sync",
                            master_ip_, master_port_);
            // A master with requirepass serves GCSYNC only after AUTH.
            if (!ctx_.options.masterauth.empty())
                send_to_master(ctx_.options.masteruser.empty()
                                   ? detail::encode_request({"AUTH", ctx_.options.masterauth})
                                   : detail::encode_request({"AUTH", ctx_.options.masteruser,
                                                             ctx_.options.masterauth}));
            send_to_master(detail::encode_request(
                {"GCSYNC", std::to_string(offset_), std::to_string(ctx_.options.port)}));
            read_master();
        });
    }

    void read_master() {
        auto sock = socket_;
        sock->async_read_some(
            asio::buffer(chunk_), [this, sock](std::error_code ec, std::size_t n) {
                if (sock != socket_) return;
                if (ec) {
                    ctx_.log.notice("Replication: link with master {}:{} lost: {}", master_ip_,
                                    master_port_, ec.message());
                    lost_master();
                    return;
                }
                input_.append(chunk_.data(), n);
                last_master_read_ = steady_ms();
                if (!apply_input()) {
                    lost_master();
                    return;
                }
                send_ack();
                read_master();
            });
    }

    // Applies every complete request; false on a protocol error.
    bool apply_input() {
        std::size_t pos = 0;
        bool changed = false;
        while (true) {
            const std::size_t before = pos;
            const auto result = parser_.parse(input_, pos);
            // The parser consumes a request split across reads piece by piece: those bytes
            // count once the request is whole.
            if (result == RequestParser::Result::kNeedMore) {
                partial_bytes_ += pos - before;
                break;
            }
            if (result == RequestParser::Result::kError) {
                ctx_.log.warning("Replication: bad stream from master: {}", parser_.error());
                return false;
            }
            const std::size_t request_bytes = partial_bytes_ + (pos - before);
            partial_bytes_ = 0;
            const auto& args = parser_.args();
            if (link_state_ == LinkState::kOnline) {
                if (gossipcluster::equals_ignore_case(args[0], "gcping")) continue;
                apply(args);
                offset_ += request_bytes;
                changed = true;
                continue;
            }
            // Full sync: not counted in the offset.
            if (gossipcluster::equals_ignore_case(args[0], "gcfullsync") && args.size() == 2) {
                auto start = gossipcluster::parse_int64_strict(args[1]);
                if (!start || *start < 0) return false;
                ctx_.keyspace.clear();
                sync_start_ = static_cast<std::uint64_t>(*start);
                // The old offset no longer says what this replica holds: until the sync is
                // done it must not rank as the most up-to-date replica.
                offset_ = 0;
                changed = true;
            } else if (gossipcluster::equals_ignore_case(args[0], "gcsyncdone")) {
                offset_ = sync_start_;
                link_state_ = LinkState::kOnline;
                ever_synced_ = true;
                schedule_ack();
                link_up_since_ = ServerContext::now_ms();
                changed = true;
                report_link();
                ctx_.log.notice("Replication: in sync with master {}:{} ({} keys, offset {})",
                                master_ip_, master_port_, ctx_.keyspace.size(), offset_);
            } else if (args[0].starts_with('-')) {
                // -ERR (no sync here), or the master's reply to AUTH or GCSYNC (NOAUTH,
                // WRONGPASS), which arrives as an inline line.
                std::string why;
                for (const auto& a : args)
                    why += (why.empty() ? "" : " ") + a;
                ctx_.log.warning("Replication: master refused to sync: {:.200}", why.substr(1));
                return false;
            } else if (args[0] == "+OK") {
                // The master's reply to AUTH.
            } else {
                apply(args);
            }
        }
        input_.erase(0, pos);
        if (input_.size() > ctx_.options.client_query_buffer_limit) return false;
        if (changed) report_offset();
        return true;
    }

    // The stream holds only what the master writes: SET key value [PXAT ms] and DEL key...
    void apply(const std::vector<std::string>& args) {
        if (gossipcluster::equals_ignore_case(args[0], "set") &&
            (args.size() == 3 || args.size() == 5)) {
            std::int64_t at = Keyspace::kNoExpiry;
            if (args.size() == 5) {
                auto t = gossipcluster::parse_int64_strict(args[4]);
                if (!gossipcluster::equals_ignore_case(args[3], "pxat") || !t || *t <= 0) return;
                at = *t;
            }
            ctx_.keyspace.set(args[1], args[2], at);
        } else if (gossipcluster::equals_ignore_case(args[0], "del")) {
            const std::int64_t now = ServerContext::now_ms();
            for (std::size_t i = 1; i < args.size(); ++i)
                ctx_.keyspace.erase(args[i], now);
        } else {
            ctx_.log.verbose("Replication: ignoring '{:.64}' in the stream", args[0]);
        }
    }

    void send_ack() {
        if (link_state_ != LinkState::kOnline) return;
        send_to_master(detail::encode_request({"GCACK", std::to_string(offset_)}));
    }

    // Acks are tiny and rare: a write still queued is simply followed by the next one.
    void send_to_master(std::string bytes) {
        if (!socket_) return;
        auto data = std::make_shared<std::string>(std::move(bytes));
        auto sock = socket_;
        asio::async_write(*sock, asio::buffer(*data),
                          [data, sock](std::error_code, std::size_t) {});
    }

    void lost_master() {
        close_master_link();
        retry_later();
    }

    void close_master_link() {
        if (socket_) {
            std::error_code ec;
            socket_->close(ec);
            socket_.reset();
        }
        if (link_state_ == LinkState::kOnline) {
            link_down_since_ = ServerContext::now_ms();
            down_since_steady_ = steady_ms();
        }
        link_state_ = LinkState::kNone;
        report_link();
    }

    void retry_later() {
        if (stopped_) return;
        retry_timer_.expires_after(kRetryDelay);
        retry_timer_.async_wait([this](std::error_code ec) {
            if (ec || stopped_) return;
            if (auto master = my_master();
                master && following_ && *master == *following_ && link_state_ == LinkState::kNone)
                connect_master();
        });
    }

    // ---- master side ------------------------------------------------------------------------

    HoldResult before_command(std::weak_ptr<ClientLink> link, ClientInfo& client,
                              const std::vector<std::string>& args) {
        const std::string_view name = args[0];
        if (gossipcluster::equals_ignore_case(name, "gcsync"))
            return start_replica(link, client, args);
        if (gossipcluster::equals_ignore_case(name, "gcack")) {
            if (auto it = replicas_.find(client.id); it != replicas_.end() && args.size() == 2) {
                if (auto n = gossipcluster::parse_int64_strict(args[1]); n && *n >= 0) {
                    // A replica cannot have applied more than it was sent: a larger ack would
                    // satisfy WAIT for writes it never saw.
                    const auto acked = std::min(static_cast<std::uint64_t>(*n), offset_);
                    it->second.ack = std::max(it->second.ack, acked);
                    it->second.ack_ms = ServerContext::now_ms();
                    check_waiters();
                }
            }
            return HoldResult::kNoReply;
        }
        if (gossipcluster::equals_ignore_case(name, "wait")) return start_wait(link, client, args);
        if (paused_ && is_master()) {
            const CommandSpec* spec = find_command(name);
            if (spec && detail::command_is_write(*spec)) {
                paused_clients_.push_back(std::move(link));
                return HoldResult::kHeld;
            }
        }
        return HoldResult::kRun;
    }

    HoldResult start_replica(const std::weak_ptr<ClientLink>& weak, ClientInfo& client,
                             const std::vector<std::string>& args) {
        auto link = weak.lock();
        if (!link) return HoldResult::kNoReply;
        auto port = args.size() == 3 ? gossipcluster::parse_int64_strict(args[2]) : std::nullopt;
        // The client session refuses GCSYNC before AUTH; checked here too, as the stream
        // carries every key.
        if (!ctx_.cluster || !is_master() || !port || *port <= 0 || *port > 65535 ||
            !client.authenticated) {
            link->send_raw("*1\r\n$4\r\n-ERR\r\n");
            link->close();
            return HoldResult::kNoReply;
        }
        ReplicaLink r;
        r.link = weak;
        r.ip = client.addr.substr(0, client.addr.rfind(':'));
        if (r.ip.size() > 2 && r.ip.front() == '[') r.ip = r.ip.substr(1, r.ip.size() - 2);
        r.port = static_cast<std::uint16_t>(*port);
        r.ack_ms = ServerContext::now_ms();
        r.ack = 0;
        client.replica = true;
        std::string snapshot = detail::encode_request({"GCFULLSYNC", std::to_string(offset_)});
        std::size_t keys = 0;
        ctx_.keyspace.for_each_live(ServerContext::now_ms(), [&](std::string_view key,
                                                                 const std::string& value,
                                                                 std::int64_t at) {
            ++keys;
            if (at == Keyspace::kNoExpiry)
                snapshot += detail::encode_request({"SET", key, value});
            else
                snapshot += detail::encode_request({"SET", key, value, "PXAT", std::to_string(at)});
        });
        snapshot += detail::encode_request({"GCSYNCDONE"});
        link->send_raw(snapshot);
        ctx_.log.notice("Replication: replica {}:{} (client {}) synced with {} keys at offset {}",
                        r.ip, r.port, client.addr, keys, offset_);
        replicas_[client.id] = std::move(r);
        return HoldResult::kNoReply;
    }

    void after_command(ClientInfo& client, const std::vector<std::string>& args,
                       const RespValue& reply) {
        if (reply.is_error()) return;
        const CommandSpec* spec = find_command(args[0]);
        if (!spec || !detail::command_is_write(*spec) || !is_master()) return;
        const std::int64_t now = ServerContext::now_ms();
        std::string out;
        for (const std::string* key : written_keys(*spec, args)) {
            if (const std::string* v = ctx_.keyspace.peek(*key, now)) {
                const std::int64_t at = ctx_.keyspace.expiry(*key, now);
                out += at == Keyspace::kNoExpiry
                           ? detail::encode_request({"SET", *key, *v})
                           : detail::encode_request({"SET", *key, *v, "PXAT", std::to_string(at)});
            } else {
                out += detail::encode_request({"DEL", *key});
            }
        }
        if (out.empty()) return;
        offset_ += out.size();
        client.repl_write_offset = offset_;
        for (auto it = replicas_.begin(); it != replicas_.end();) {
            auto link = it->second.link.lock();
            if (!link || !link->is_open()) {
                it = replicas_.erase(it);
                continue;
            }
            if (link->pending_output() > kMaxReplicaBacklog) {
                ctx_.log.warning("Replication: dropping replica {}:{}, it does not keep up",
                                 it->second.ip, it->second.port);
                link->close();
                it = replicas_.erase(it);
                continue;
            }
            link->send_raw(out);
            ++it;
        }
        report_offset();
    }

    // The keys a write may have changed: the table's key positions, or MIGRATE's own layout
    // (its key, or the list after KEYS), whose moved keys are gone from here.
    static std::vector<const std::string*> written_keys(const CommandSpec& spec,
                                                        const std::vector<std::string>& args) {
        std::vector<const std::string*> keys;
        if (spec.name == "migrate") {
            if (args.size() > 3 && !args[3].empty()) keys.push_back(&args[3]);
            for (std::size_t i = 6; i < args.size(); ++i) {
                if (!gossipcluster::equals_ignore_case(args[i], "keys")) continue;
                for (std::size_t k = i + 1; k < args.size(); ++k)
                    keys.push_back(&args[k]);
                break;
            }
            return keys;
        }
        if (spec.first_key <= 0) return keys;
        const std::size_t words = args.size();
        const std::size_t last = spec.last_key >= 0
                                     ? static_cast<std::size_t>(spec.last_key)
                                     : words - static_cast<std::size_t>(-spec.last_key);
        for (std::size_t i = static_cast<std::size_t>(spec.first_key); i <= last && i < words;
             i += static_cast<std::size_t>(std::max(spec.key_step, 1)))
            keys.push_back(&args[i]);
        return keys;
    }

    void drop_replicas() {
        for (auto& [id, r] : replicas_)
            if (auto link = r.link.lock()) link->close();
        replicas_.clear();
    }

    // ---- WAIT -------------------------------------------------------------------------------

    HoldResult start_wait(const std::weak_ptr<ClientLink>& link, ClientInfo& client,
                          const std::vector<std::string>& args) {
        std::optional<RespValue> now;
        auto wanted = args.size() == 3 ? gossipcluster::parse_int64_strict(args[1]) : std::nullopt;
        auto timeout = args.size() == 3 ? gossipcluster::parse_int64_strict(args[2]) : std::nullopt;
        // Redis's checks, in its order. A deadline past the end of time is refused; one that
        // fits is clamped to kMaxWait, far beyond any real wait, so that it cannot overflow the
        // steady clock.
        if (args.size() != 3) {
            now = wrong_arity("wait");
        } else if (!is_master()) {
            now = RespValue::error(
                "ERR WAIT cannot be used with replica instances. Please also "
                "note that since Redis 4.0 if a replica is configured to be "
                "writable (which is not the default) writes to replicas are "
                "just local and are not propagated.");
        } else if (!wanted) {
            now = not_an_integer();
        } else if (!timeout) {
            now = RespValue::error("ERR timeout is not an integer or out of range");
        } else if (*timeout < 0) {
            now = RespValue::error("ERR timeout is negative");
        } else if (*timeout > INT64_MAX - ServerContext::now_ms()) {
            now = RespValue::error("ERR timeout is out of range");
        }
        client.last_command = "wait";
        if (now) {
            finish_later(link, std::move(*now));
            return HoldResult::kHeld;
        }
        Waiter w;
        w.link = link;
        w.target = client.repl_write_offset;
        w.wanted = static_cast<std::size_t>(std::max<std::int64_t>(*wanted, 0));
        if (*timeout > 0)
            w.deadline =
                std::chrono::steady_clock::now() +
                std::min<std::chrono::milliseconds>(std::chrono::milliseconds(*timeout), kMaxWait);
        waiters_.push_back(std::move(w));
        schedule_ack();
        asio::post(io_, [this] { check_waiters(); });
        return HoldResult::kHeld;
    }

    std::size_t acked(std::uint64_t target) {
        std::size_t n = 0;
        for (const auto& [id, r] : replicas_) {
            auto link = r.link.lock();
            if (link && link->is_open() && r.ack >= target) ++n;
        }
        return n;
    }

    void check_waiters() {
        const auto now = std::chrono::steady_clock::now();
        for (auto it = waiters_.begin(); it != waiters_.end();) {
            const std::size_t n = acked(it->target);
            const bool expired = it->deadline && *it->deadline <= now;
            if (it->link.expired()) {
                it = waiters_.erase(it);
            } else if (n >= it->wanted || expired || stopped_) {
                finish_later(it->link, RespValue::number(static_cast<std::int64_t>(n)));
                it = waiters_.erase(it);
            } else {
                ++it;
            }
        }
    }

    void finish_later(std::weak_ptr<ClientLink> link, std::optional<RespValue> reply) {
        asio::post(io_, [link = std::move(link), reply = std::move(reply)]() mutable {
            if (auto l = link.lock()) l->finish(std::move(reply));
        });
    }

    // ---- manual failover pause --------------------------------------------------------------

    void pause_writes(std::chrono::milliseconds length) {
        paused_ = true;
        ctx_.log.notice("Manual failover: client writes paused for up to {} ms", length.count());
        pause_timer_.expires_after(length);
        pause_timer_.async_wait([this](std::error_code ec) {
            if (!ec) release_paused();
        });
    }

    void release_paused() {
        if (!paused_) return;
        paused_ = false;
        pause_timer_.cancel();
        ctx_.log.notice("Manual failover: client writes resume ({} held)", paused_clients_.size());
        auto held = std::move(paused_clients_);
        paused_clients_.clear();
        for (auto& link : held)
            finish_later(std::move(link), std::nullopt);
    }

    // ---- timers, offsets, INFO --------------------------------------------------------------

    // The timer runs only while it has work: a replica online with its master acks, and a master
    // with WAIT clients checks them. An idle master thus never wakes for it.
    void schedule_ack() {
        if (ack_running_ || stopped_) return;
        ack_running_ = true;
        ack_timer_.expires_after(kAckPeriod);
        ack_timer_.async_wait([this](std::error_code ec) {
            ack_running_ = false;
            if (ec || stopped_) return;
            send_ack();
            if (link_state_ == LinkState::kOnline) report_link();
            check_waiters();
            if (link_state_ == LinkState::kOnline || !waiters_.empty()) schedule_ack();
        });
    }

    // The core puts the offset in every header it sends, for replica ranks and manual failover.
    // Set at once, never posted: a master that pauses for a manual failover puts its offset in
    // the header it sends in that same step, and the replica waits for exactly that offset; a
    // stale one (writes done but not yet reported) is one the replica has already passed.
    // Callers run outside the core's steps (client and replication handlers, posted role
    // changes).
    void report_offset() {
        if (!ctx_.cluster || stopped_) return;
        const std::uint64_t value = offset_;
        ctx_.cluster->core().set_replication_offset(value);
    }

    static std::int64_t steady_ms() {
        using namespace std::chrono;
        return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
    }

    // How fresh this replica's data is, for the core's elections: the link up and how long the
    // master has been silent on it, or down and for how long. A replica that never finished a
    // sync with its current master has nothing to offer and reports a link down for ever.
    void report_link() {
        if (!ctx_.cluster || stopped_ || is_master()) return;
        gossipcluster::ReplicationLink link;
        link.up = link_state_ == LinkState::kOnline;
        const std::int64_t now = steady_ms();
        if (link.up)
            link.idle = std::chrono::milliseconds(now - last_master_read_);
        else if (ever_synced_)
            link.idle = std::chrono::milliseconds(now - down_since_steady_);
        else
            link.idle = std::chrono::hours(24 * 365);
        ctx_.cluster->core().set_replication_link(link);
    }

    // Masters: a GCPING on every replica link each second, outside the offset.
    void schedule_keepalive() {
        keepalive_timer_.expires_after(kKeepalivePeriod);
        keepalive_timer_.async_wait([this](std::error_code ec) {
            if (ec || stopped_) return;
            if (is_master() && !replicas_.empty()) {
                const std::string ping = detail::encode_request({"GCPING"});
                for (auto& [id, r] : replicas_)
                    if (auto link = r.link.lock(); link && link->is_open()) link->send_raw(ping);
            }
            schedule_keepalive();
        });
    }

    void info(std::string& out) {
        auto it = std::back_inserter(out);
        const std::int64_t now = ServerContext::now_ms();
        if (is_master()) {
            std::size_t live = 0;
            std::string lines;
            for (const auto& [id, r] : replicas_) {
                auto link = r.link.lock();
                if (!link || !link->is_open()) continue;
                fmt::format_to(std::back_inserter(lines),
                               "slave{}:ip={},port={},state=online,offset={},lag={}\r\n", live,
                               r.ip, r.port, r.ack, (now - r.ack_ms) / 1000);
                ++live;
            }
            fmt::format_to(it, "role:master\r\nconnected_slaves:{}\r\n{}", live, lines);
        } else {
            const bool up = link_state_ == LinkState::kOnline;
            fmt::format_to(it,
                           "role:slave\r\n"
                           "master_host:{}\r\n"
                           "master_port:{}\r\n"
                           "master_link_status:{}\r\n"
                           "master_last_io_seconds_ago:{}\r\n"
                           "master_sync_in_progress:{}\r\n"
                           "slave_read_repl_offset:{}\r\n"
                           "slave_repl_offset:{}\r\n",
                           master_ip_, master_port_, up ? "up" : "down", up ? 0 : -1,
                           link_state_ == LinkState::kSyncing ? 1 : 0, offset_, offset_);
            if (!up && link_down_since_ != 0)
                fmt::format_to(it, "master_link_down_since_seconds:{}\r\n",
                               (now - link_down_since_) / 1000);
            fmt::format_to(it, "slave_priority:100\r\nslave_read_only:1\r\nconnected_slaves:0\r\n");
        }
        fmt::format_to(it,
                       "master_failover_state:no-failover\r\n"
                       "master_replid:{}\r\n"
                       "master_replid2:0000000000000000000000000000000000000000\r\n"
                       "master_repl_offset:{}\r\n"
                       "second_repl_offset:-1\r\n"
                       "repl_backlog_active:0\r\n"
                       "repl_backlog_size:1048576\r\n"
                       "repl_backlog_first_byte_offset:0\r\n"
                       "repl_backlog_histlen:0\r\n",
                       ctx_.replid, offset_);
    }

    asio::io_context& io_;
    ServerContext& ctx_;
    bool stopped_ = false;
    std::uint64_t offset_ = 0;

    // Replica side.
    std::optional<gossipcluster::NodeId> following_;
    LinkState link_state_ = LinkState::kNone;
    std::shared_ptr<asio::ip::tcp::socket> socket_;
    std::array<char, 16384> chunk_{};
    std::string input_;
    RequestParser parser_;
    std::size_t partial_bytes_ = 0;  // of the stream request being read, consumed so far
    std::uint64_t sync_start_ = 0;
    std::string master_ip_;
    std::uint16_t master_port_ = 0;
    std::int64_t link_up_since_ = 0;
    std::int64_t link_down_since_ = 0;
    // Steady-clock ms: the last read from the master, and when the link last went down.
    std::int64_t last_master_read_ = 0;
    std::int64_t down_since_steady_ = 0;
    bool ever_synced_ = false;  // with the master followed now

    // Master side.
    std::map<std::uint64_t, ReplicaLink> replicas_;  // by client id
    std::list<Waiter> waiters_;
    bool paused_ = false;
    std::vector<std::weak_ptr<ClientLink>> paused_clients_;

    asio::steady_timer ack_timer_;
    bool ack_running_ = false;
    asio::steady_timer retry_timer_;
    asio::steady_timer pause_timer_;
    asio::steady_timer keepalive_timer_;
};

}  // namespace kvserver
