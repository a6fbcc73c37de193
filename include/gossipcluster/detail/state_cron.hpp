// ClusterState, part 5: the periodic work (connects, pings, timeouts, PFAIL) and its deadlines.
#pragma once

#include <algorithm>
#include <limits>

namespace gossipcluster {

inline void ClusterState::tick(Now now, Output& out) {
    if (now.mono.ms >= next_deadline_) cron(now, out);
    finish(now, out);
}

inline void ClusterState::cron(Now now, Output& out) {
    const std::int64_t t = now.mono.ms;
    const std::int64_t timeout = config_.node_timeout.count();
    const std::int64_t handshake_timeout = config_.effective_handshake_timeout().count();
    std::int64_t earliest = std::numeric_limits<std::int64_t>::max();
    const bool periodic = t - last_cron_ >= config_.cron_period.count();
    if (periodic) last_cron_ = t;

    // Handshakes that never completed go away.
    std::vector<NodeId> expired;
    refresh_order();
    for (const detail::Node* node : order_)
        if (node->in_handshake() && t - node->ctime > handshake_timeout)
            expired.push_back(node->id);
    for (const auto& id : expired) {
        const detail::Node& n = nodes_.at(id);
        out.events.push_back(event::HandshakeTimedOut{id, n.ip, n.port});
        delete_node(id, out);
    }

    // Every reachable-looking node gets an outbound link.
    refresh_order();
    for (detail::Node* np : order_) {
        detail::Node& node = *np;
        const NodeId& id = node.id;
        if (id == myself_ || node.has(node_flag::kNoAddr) || node.link.valid()) continue;
        if (node.ip.empty() || node.cport == 0) continue;
        // A refused reconnect is retried on the periodic tick, not on every early deadline.
        if (!periodic && node.link_lost) continue;
        connect_node(now, node, out);
    }

    if (t - last_random_ping_ >= config_.random_ping_period.count()) {
        last_random_ping_ = t;
        random_ping(now, out);
    }

    std::size_t pfail_seen = 0;
    refresh_order();
    for (detail::Node* np : order_) {
        detail::Node& node = *np;
        const NodeId& id = node.id;
        if (node.timed_out()) ++pfail_seen;
        if (id == myself_ || (node.flags & (node_flag::kNoAddr | node_flag::kHandshake))) continue;

        // A link that stopped answering is rebuilt rather than trusted.
        if (node.link.valid() && t - node.link_ctime > timeout && node.ping_sent != 0 &&
            t - node.ping_sent > timeout / 2 && t - node.data_received > timeout / 2) {
            free_outbound_link(node, out);
        }
        // Ping whoever we have not heard from for half the timeout. Any message counts, not
        // only a PONG: a peer that pings us proves it is alive, so the pair needs one exchange
        // per half timeout instead of two, which halves the idle traffic of Redis's rule.
        const std::int64_t heard = std::max(node.pong_received, node.data_received);
        if (node.link.valid() && node.ping_sent == 0 && t - heard > timeout / 2) {
            send_ping(now, node, MessageType::Ping, out);
        }
        if (node.ping_sent == 0 && node.link.valid() && !node.failing()) {
            earliest = std::min(earliest, heard + timeout / 2 + 1);
        }

        // PFAIL: a pending ping unanswered for the timeout (Redis's rule), or - when the node's
        // connection broke or was refused since we last heard from it, as a crashed process's
        // does - nothing received for the timeout. A paused node keeps its connection open, so
        // it is still judged by the ping rule and a pause shorter than the timeout is survived.
        if (node.timed_out() || node.failing()) continue;
        const std::int64_t last_heard = node.data_received != 0 ? node.data_received : node.ctime;
        const bool ping_overdue =
            node.ping_sent != 0 && t - std::max(node.ping_sent, node.data_received) > timeout;
        const bool lost_overdue = node.link_lost && t - last_heard > timeout;
        if (ping_overdue || lost_overdue) {
            node.flags |= node_flag::kPfail;
            ++pfail_seen;
            out.events.push_back(event::NodePfail{node.id});
            note_news(node);
            mark_failing_if_needed(now, node, out);
        } else {
            if (node.ping_sent != 0)
                earliest =
                    std::min(earliest, std::max(node.ping_sent, node.data_received) + timeout + 1);
            if (node.link_lost) earliest = std::min(earliest, last_heard + timeout + 1);
        }
    }
    pfail_nodes_ = pfail_seen;
    update_cluster_state(now);

    next_deadline_ = std::min(last_cron_ + config_.cron_period.count(), std::max(earliest, t + 1));
    manual_failover_cron(now, out);
    if (myself().is_replica()) {
        handle_replica_failover(now, out);
        replica_migration_cron(now, out);
    }
}

inline void ClusterState::random_ping(Now now, Output& out) {
    refresh_order();
    if (order_.empty()) return;
    detail::Node* best = nullptr;
    for (std::size_t i = 0; i < config_.random_ping_samples; ++i) {
        detail::Node& node = *order_[prng_.below(order_.size())];
        if (!node.link.valid() || node.ping_sent != 0) continue;
        if (node.id == myself_ || node.in_handshake()) continue;
        if (!best || node.pong_received < best->pong_received) best = &node;
    }
    if (best) send_ping(now, *best, MessageType::Ping, out);
}

}  // namespace gossipcluster
