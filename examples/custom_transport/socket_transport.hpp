// SocketTransport: a user-written Transport over UNIX stream socketpairs, for nodes in one process.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gossipcluster/gossipcluster.hpp>

namespace custom_transport {

namespace gc = gossipcluster;

// Stands in for the kernel's listening sockets: which node serves which bus endpoint, and the
// connections waiting there to be accepted. A TCP transport would have listen() and accept()
// instead; everything after the accept is the same as here.
class Switchboard {
  public:
    struct PendingAccept {
        int fd;
        std::string peer_ip;  // what getpeername() would say
    };
    struct Listener {
        std::string ip;
        std::deque<PendingAccept> backlog;
    };

    Switchboard() = default;
    Switchboard(const Switchboard&) = delete;
    Switchboard& operator=(const Switchboard&) = delete;
    ~Switchboard() {
        for (auto& [endpoint, listener] : listeners_)
            for (auto& pending : listener.backlog)
                ::close(pending.fd);
    }

    // std::map never moves its elements, so a transport may keep the returned reference.
    Listener& listen(const std::string& ip, std::uint16_t bus_port) {
        Listener& l = listeners_[{ip, bus_port}];
        l.ip = ip;
        return l;
    }
    Listener* find(const gc::Endpoint& to) {
        auto it = listeners_.find({to.ip, to.port});
        return it == listeners_.end() ? nullptr : &it->second;
    }

  private:
    std::map<std::pair<std::string, std::uint16_t>, Listener> listeners_;
};

// One node's bus connections. The core calls connect/send/close while it applies an Output; the
// event loop calls accept_pending/poll_fds/on_ready/deliver. Nothing that happens on a socket is
// reported to the core from inside connect/send/close: the contract forbids re-entering the core,
// so every outcome is queued as an Input and handed over by deliver(), from the loop.
class SocketTransport {
  public:
    // A peer that stops reading cannot make us buffer without bound: past this we drop the link,
    // and the core reconnects later (the protocol tolerates the loss).
    static constexpr std::size_t kMaxQueuedBytes = std::size_t{8} << 20;

    SocketTransport(Switchboard& board, std::string ip, std::uint16_t bus_port)
        : board_(&board), ip_(std::move(ip)), listener_(&board.listen(ip_, bus_port)) {}

    // ClusterCore takes its transport by value, so it must move. The moved-from object is left
    // without links, so its destructor closes nothing the new one owns.
    SocketTransport(SocketTransport&& other) noexcept
        : board_(other.board_),
          ip_(std::move(other.ip_)),
          listener_(other.listener_),
          links_(std::exchange(other.links_, {})),
          inputs_(std::exchange(other.inputs_, {})),
          accepted_(other.accepted_) {}
    SocketTransport& operator=(SocketTransport&&) = delete;
    SocketTransport(const SocketTransport&) = delete;
    ~SocketTransport() {
        for (auto& [link, conn] : links_)
            if (conn.fd >= 0) ::close(conn.fd);
    }

    // --- The Transport concept: called by the core. ---

    void connect(gc::LinkId link, const gc::Endpoint& to) {
        Conn& conn = links_[link];
        Switchboard::Listener* listener = board_->find(to);
        if (!listener) return fail(link, conn, "connection refused");
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
            return fail(link, conn, std::strerror(errno));
        conn.fd = fds[0];
        listener->backlog.push_back({fds[1], ip_});
        // A socketpair is connected at once, but the core hears of it only from the loop.
        inputs_.push_back({Input::Kind::Up, link, {}, {}});
    }

    void send(gc::LinkId link, const gc::Message& msg) {
        auto it = links_.find(link);
        if (it == links_.end() || it->second.fd < 0) return;  // broken: dropping is allowed
        Conn& conn = it->second;
        gc::encode(msg, conn.out);  // throws only for a message no core produces
        if (conn.out.size() - conn.sent > kMaxQueuedBytes)
            return fail(link, conn, "peer does not read: send queue full");
        flush(link, conn);
    }

    void close(gc::LinkId link) {
        auto it = links_.find(link);
        if (it == links_.end()) return;
        if (it->second.fd >= 0) ::close(it->second.fd);
        links_.erase(it);
        // The core closed it, so it expects nothing more about it: no frames, no link-down.
        std::erase_if(inputs_, [&](const Input& in) { return in.link == link; });
    }

    // --- The event loop's side. ---

    // Takes the connections other nodes opened to us, as accept() would.
    void accept_pending() {
        while (!listener_->backlog.empty()) {
            Switchboard::PendingAccept p = std::move(listener_->backlog.front());
            listener_->backlog.pop_front();
            const gc::LinkId link = gc::LinkId::inbound(++accepted_);
            links_[link].fd = p.fd;
            inputs_.push_back({Input::Kind::Accepted, link, std::move(p.peer_ip), {}});
        }
    }

    // Adds one pollfd per open socket, and the link it belongs to.
    void poll_fds(std::vector<pollfd>& fds, std::vector<gc::LinkId>& links) const {
        for (const auto& [link, conn] : links_) {
            if (conn.fd < 0) continue;
            const short want = conn.sent < conn.out.size() ? (POLLIN | POLLOUT) : POLLIN;
            fds.push_back(pollfd{conn.fd, want, 0});
            links.push_back(link);
        }
    }

    // poll() flagged this link's socket.
    void on_ready(gc::LinkId link, short revents) {
        auto it = links_.find(link);
        if (it == links_.end() || it->second.fd < 0) return;
        if (revents & POLLOUT) flush(link, it->second);
        if (it->second.fd >= 0 && (revents & (POLLIN | POLLHUP | POLLERR)))
            read_from(link, it->second);
    }

    // Whether deliver() has something to hand over (then the loop must not sleep in poll()).
    bool has_inputs() const { return !inputs_.empty() || !listener_->backlog.empty(); }

    // Hands everything that happened, in order, to the core. The core may call back into
    // send/close while it handles an input; that only queues new inputs for the next round.
    template <typename Core>
    void deliver(Core& core) {
        std::vector<Input> batch;
        batch.swap(inputs_);
        for (Input& in : batch) {
            auto it = links_.find(in.link);
            if (it == links_.end()) continue;  // the core closed the link while we were busy
            switch (in.kind) {
                case Input::Kind::Accepted:
                    core.on_inbound_link(in.link, std::move(in.text), ip_);
                    break;
                case Input::Kind::Up:
                    core.on_link_up(in.link);
                    break;
                case Input::Kind::Frame:
                    core.on_message(in.link, in.message);
                    break;
                case Input::Kind::Down:
                    links_.erase(it);  // the core forgets the link when told it is down
                    core.on_link_down(in.link, in.text);
                    break;
            }
        }
    }

    const std::string& ip() const { return ip_; }

  private:
    struct Conn {
        int fd = -1;                    // -1 once broken (a Down input is then queued)
        std::vector<std::uint8_t> out;  // encoded frames not yet taken by the kernel
        std::size_t sent = 0;           // bytes of `out` already written
        gc::FrameSplitter splitter;     // a stream has no message boundaries: this finds them
    };

    struct Input {
        enum class Kind { Accepted, Up, Frame, Down };
        Kind kind;
        gc::LinkId link;
        std::string text;     // Accepted: the peer's ip; Down: the reason
        gc::Message message;  // Frame
    };

    void fail(gc::LinkId link, Conn& conn, std::string_view reason) {
        if (conn.fd >= 0) ::close(conn.fd);
        conn.fd = -1;
        conn.out.clear();
        conn.sent = 0;
        inputs_.push_back({Input::Kind::Down, link, std::string(reason), {}});
    }

    void flush(gc::LinkId link, Conn& conn) {
        while (conn.sent < conn.out.size()) {
            // MSG_NOSIGNAL: a peer that went away is an error to handle, not a SIGPIPE.
            const ssize_t n = ::send(conn.fd, conn.out.data() + conn.sent,
                                     conn.out.size() - conn.sent, MSG_NOSIGNAL);
            if (n > 0) {
                conn.sent += static_cast<std::size_t>(n);
            } else if (errno == EINTR) {
                continue;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return;  // the kernel buffer is full: poll() tells us when to go on
            } else {
                return fail(link, conn, std::strerror(errno));
            }
        }
        conn.out.clear();
        conn.sent = 0;
    }

    void read_from(gc::LinkId link, Conn& conn) {
        // A small buffer on purpose: a 2 KB+ frame then arrives in pieces, as it would over TCP,
        // and the FrameSplitter puts it back together. The round limit keeps one chatty peer
        // from starving the others in this single-threaded loop.
        std::array<std::uint8_t, 1500> buf;
        for (int round = 0; round < 64; ++round) {
            const ssize_t n = ::recv(conn.fd, buf.data(), buf.size(), 0);
            if (n == 0) return fail(link, conn, "connection closed by peer");
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;
                return fail(link, conn, std::strerror(errno));
            }
            const gc::DecodeError framing =
                conn.splitter.feed({buf.data(), static_cast<std::size_t>(n)});
            // Frames completed before a bad length prefix are still good: hand them over first.
            while (auto frame = conn.splitter.next()) {
                Input in{Input::Kind::Frame, link, {}, {}};
                const gc::DecodeError e = gc::decode(*frame, in.message);
                // A well-delimited frame with a bad body is skipped, as Redis skips it; the
                // stream itself is still in step.
                if (gc::action_for(e) == gc::DecodeAction::Accept) inputs_.push_back(std::move(in));
            }
            // A bad length prefix leaves no way to find the next frame: close the link, as
            // Redis does; the core reconnects.
            if (framing != gc::DecodeError::None) return fail(link, conn, gc::describe(framing));
        }
    }

    Switchboard* board_;
    std::string ip_;
    Switchboard::Listener* listener_;
    std::map<gc::LinkId, Conn> links_;
    std::vector<Input> inputs_;
    std::uint64_t accepted_ = 0;
};

static_assert(gc::Transport<SocketTransport>);

}  // namespace custom_transport
