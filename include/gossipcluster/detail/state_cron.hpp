// ClusterState, part 5: the periodic work (connects, pings, timeouts, PFAIL) and its deadlines.
#pragma once

#include <algorithm>
#include <limits>

namespace gossipcluster {

GOSSIPCLUSTER_INLINE void ClusterState::tick(Now now, Output& out) {
    if (now.mono.ms >= timers_.next()) cron(now, out);
    finish(now, out);
}

// The first point of the ping batch grid at or after t. In a small cluster grid points are the
// instants when the wall clock reads a multiple of the window, the same on every node whose clock
// is in sync: all nodes send their due pings together and the answers come back together, so a
// node handles a few messages per wake-up instead of waking once for each (on loopback, a third
// fewer idle wake-ups at 30 nodes). The wall clock's offset is read at every cron run, so the grid
// follows a clock that is set or adjusted. In a large cluster the grid counts from the node's
// start (Config::ping_grid_sync_max_nodes says why).
GOSSIPCLUSTER_INLINE std::int64_t ClusterState::on_ping_grid(std::int64_t t) const {
    const std::int64_t window = config_.effective_ping_batch_window().count();
    if (window <= 1) return t;
    const bool shared = nodes_.size() <= config_.ping_grid_sync_max_nodes;
    const std::int64_t shift = shared ? wall_offset_ : -start_time_;
    const std::int64_t phase = ((t + shift) % window + window) % window;
    return phase == 0 ? t : t + (window - phase);
}

GOSSIPCLUSTER_INLINE void ClusterState::rescan_soon(const detail::Node& node) {
    wake_node_at(node, last_cron_ + config_.cron_period.count());
}

GOSSIPCLUSTER_INLINE void ClusterState::connect_soon(const detail::Node& node) {
    connects_.push_back(node.id);
    timers_.lower(detail::Timer::Wake, 0);  // the next tick, whenever the host calls it
}

// Redis wakes ten times a second and walks every node each time. Here each node visited by a scan
// tells when it next has something to do (a ping to send, a PFAIL to declare, a handshake to
// expire); a scan visits only the nodes whose time has come, and the core asks to be woken only
// when the first of them is due, or for the once-a-second housekeeping (the random ping, the health
// pass, the replica-migration survey). A full walk every quarter timeout bounds the cost of any
// missed wake-up. Due pings wait for the next multiple of the ping batch window, so that one
// wake-up serves every peer due within it; PFAIL deadlines are exact.
// Whatever makes a node due sooner (a ping sent, a PONG, a lost link, a flag cleared, a new node)
// lowers its due time. While something is in motion - an election, a manual failover, a
// reconnect, a pending change of the cluster state, an orphaned master - the core ticks every
// cron_period as Redis does. An idle node thus wakes a few times a second instead of ten, and a
// tick of an idle cluster of N nodes costs O(1) instead of O(N).
GOSSIPCLUSTER_INLINE void ClusterState::cron(Now now, Output& out) {
    const std::int64_t t = now.mono.ms;
    wall_offset_ = static_cast<std::int64_t>(now.unix_ms) - t;
    const std::int64_t period = config_.cron_period.count();
    const bool periodic = t - last_cron_ >= period;
    const bool scan_due = timers_.expired(detail::Timer::Scan, t);
    // What fired is done by this run; whatever is still pending afterwards is armed again by its
    // owner (the scan, the housekeeping and the periodic tick below, an election in its step).
    timers_.cancel_expired(t);
    if (periodic) last_cron_ = t;
    const std::int64_t hk_period = config_.random_ping_period.count();
    const bool housekeeping = t - last_random_ping_ >= hk_period;
    // The schedule advances by whole periods rather than from the wake-up, which waits for the
    // ping grid: counting from it would stretch every period by up to a batch window.
    if (housekeeping)
        last_random_ping_ =
            t - last_random_ping_ < 2 * hk_period ? last_random_ping_ + hk_period : t;
    if (!connects_.empty()) {
        // New nodes and broken links are connected at once, without waiting for a scan.
        std::vector<NodeId> ids;
        ids.swap(connects_);
        connect_listed(now, ids, out);
    }
    if (periodic && !reconnects_.empty()) {
        std::vector<NodeId> ids;
        ids.swap(reconnects_);
        connect_listed(now, ids, out);
    }
    // A scan visits only the nodes due. Every few seconds one walks the whole view instead,
    // which bounds what a missed wake-up could cost to a quarter of the node timeout.
    const std::int64_t full_period = std::max(hk_period, config_.node_timeout.count() / 4);
    const bool full = t - last_full_scan_ >= full_period;
    const bool scan = full || housekeeping || scan_due;
    const bool flags_changed = scan && scan_nodes(now, periodic, full, out);

    if (housekeeping) random_ping(now, out);
    // The health pass walks every master. Every other change of a flag or a slot runs it where it
    // happens; the cron runs it after a scan changed flags, once a second if anything it reads
    // may have changed, and with every full scan whatever happened.
    const bool view_changed = !view_unchanged_since(health_stamp_);
    if (flags_changed || full ||
        (view_changed && (housekeeping || t - last_health_pass_ >= 10 * period))) {
        health_stamp_ = view_stamp();
        update_cluster_state(now);
    } else
        apply_cluster_state(now);

    timers_.set(detail::Timer::Housekeeping,
                on_ping_grid(last_random_ping_ + config_.random_ping_period.count()));
    if (ticking_needed())
        timers_.set(detail::Timer::Periodic, last_cron_ + period);
    else
        timers_.cancel(detail::Timer::Periodic);
    manual_failover_cron(now, out);
    if (own_node().is_replica()) {
        handle_replica_failover(now, out);
        // An O(N) survey, and migration waits seconds anyway: with the housekeeping, or every
        // ten periods while an orphan is being watched.
        if (housekeeping ||
            (periodic && orphaned_since_ != 0 && t - last_migration_survey_ >= 10 * period)) {
            last_migration_survey_ = t;
            replica_migration_cron(now, out);
        }
    }
}

// Whether the cron must run every period: something time-driven is under way.
GOSSIPCLUSTER_INLINE bool ClusterState::ticking_needed() const {
    if (mf_.in_progress() || election_.scheduled() || !reconnects_.empty() || orphaned_since_ != 0)
        return true;
    if (state_change_pending_) return true;
    const detail::Node& me = nodes_.myself();
    // A master in a minority notes the time on every tick: its wait after the partition heals
    // is counted from the last tick it spent there.
    if (health_minority_ && me.is_master()) return true;
    if (me.is_replica() && me.master) {
        const detail::Node* master = nodes_.find(*me.master);
        if (master && master->failing()) return true;  // an election is to be scheduled
    }
    return false;
}

// What one scan gathers from the nodes it visits.
struct ClusterState::ScanPass {
    std::int64_t t = 0;
    bool periodic = false;
    std::int64_t timeout = 0;
    std::int64_t handshake_timeout = 0;
    std::int64_t ping_window = 0;
    std::int64_t next_period = 0;
    std::vector<NodeId> expired;
    std::vector<NodeId> suspected;
    std::size_t pfail_seen = 0;
    std::size_t pfail_marked = 0;
};

// Returns whether a node became PFAIL or went away, which the health verdict depends on.
GOSSIPCLUSTER_INLINE bool ClusterState::scan_nodes(Now now, bool periodic, bool full, Output& out) {
    ScanPass pass;
    pass.t = now.mono.ms;
    pass.periodic = periodic;
    pass.timeout = config_.node_timeout.count();
    pass.handshake_timeout = config_.effective_handshake_timeout().count();
    pass.ping_window = config_.effective_ping_batch_window().count();
    pass.next_period = last_cron_ + config_.cron_period.count();
    nodes_.refresh();
    // A rebuilt order has every node due: that scan is a full one.
    full = nodes_.take_dues_reset() || full;
    if (full) last_full_scan_ = pass.t;

    // Reading the due times is a sequential pass over a small array; visiting a node is a cache
    // miss in a large view, so the nodes to visit are listed first and fetched a few ahead.
    const std::vector<detail::Node*>& order = nodes_.order();
    const std::vector<std::uint32_t>& visit = nodes_.due_positions(pass.t, full);
    ++scan_counters_.scans;
    if (full) ++scan_counters_.full_scans;
    scan_counters_.node_visits += visit.size();
    constexpr std::size_t kAhead = 8;
    for (std::size_t i = 0; i < visit.size(); ++i) {
        if (i + kAhead < visit.size()) detail::NodeIndex::prefetch_lines(order[visit[i + kAhead]]);
        // What the visit itself schedules (a ping sent, a link opened) lowers the entry too.
        const std::uint32_t k = visit[i];
        nodes_.start_visit(k);
        const std::int64_t next = scan_node(now, *order[k], pass, out);
        nodes_.lower_due(k, next);
    }
    const std::int64_t earliest = nodes_.earliest_due();

    for (const auto& id : pass.expired) {
        const detail::Node& n = nodes_.at(id);
        out.events.push_back(event::HandshakeTimedOut{id, n.ip, n.port});
        delete_node(id, out);
    }
    // A full scan counts the suspects anew; a partial one adds those it found. A count left too
    // high by a recovery only costs build_ping a look for suspects until the next full scan.
    pfail_nodes_ = full ? pass.pfail_seen : pfail_nodes_ + pass.pfail_marked;
    // After the walk: the PINGs carry every suspect, which needs pfail_nodes_ counted.
    for (const auto& id : pass.suspected)
        send_reports_to_collectors(now, id, out);
    timers_.set(detail::Timer::Scan, std::max(earliest, pass.t + 1));
    return pass.pfail_marked != 0 || !pass.expired.empty();
}

// Does what is due for one node and returns when it is next due (the maximum when nothing is
// pending: a later event lowers it through wake_node_at).
GOSSIPCLUSTER_INLINE std::int64_t ClusterState::scan_node(Now now, detail::Node& node,
                                                          ScanPass& pass, Output& out) {
    const std::int64_t t = pass.t;
    const std::int64_t timeout = pass.timeout;
    std::int64_t earliest = std::numeric_limits<std::int64_t>::max();
    // Deadlines that wait for the ping grid, rounded once at the end (the grid rounds up, so
    // the earliest of them rounded is the earliest rounded one).
    std::int64_t earliest_gridded = std::numeric_limits<std::int64_t>::max();
    const auto due = [&] {
        if (earliest_gridded != std::numeric_limits<std::int64_t>::max())
            earliest = std::min(earliest, on_ping_grid(earliest_gridded));
        return earliest;
    };

    // Handshakes that never completed go away (after the walk, which must not lose its place
    // in the order).
    if (node.in_handshake()) {
        if (t - node.ctime > pass.handshake_timeout) {
            pass.expired.push_back(node.id);
            return due();
        }
        earliest = std::min(earliest, node.ctime + pass.handshake_timeout + 1);
    }

    // Every reachable-looking node gets an outbound link.
    if (node.id != my_id() && !node.has(node_flag::kNoAddr) && !node.link.valid() &&
        !node.ip.empty() && node.cport != 0) {
        // A refused reconnect is retried on the periodic tick, not on every early deadline.
        if (!pass.periodic && node.link_lost) {
            reconnects_.push_back(node.id);
            earliest = std::min(earliest, pass.next_period);
        } else {
            connect_node(now, node, out);
        }
    }

    if (node.timed_out()) ++pass.pfail_seen;
    if (node.id == my_id() || (node.flags & (node_flag::kNoAddr | node_flag::kHandshake)))
        return due();

    // A link that stopped answering is rebuilt rather than trusted: a ping unanswered for a
    // quarter of the timeout was lost (in a partition that healed, to a peer that restarted,
    // on a lossy network), and each new link asks again while there is still time for an answer
    // before the timeout. Redis rebuilds once, after half the timeout, and only a link older
    // than the timeout whose other direction is silent too; with that rule a ping lost on a
    // young link, or while the peer still spoke to us, was never asked again, and a node
    // reachable for all but a moment of the timeout was suspected. A link is rebuilt at most
    // once per quarter timeout, and only while a ping is pending.
    if (node.link.valid() && node.ping_sent != 0) {
        const std::int64_t stale_at = std::max(node.link_ctime, node.ping_sent) + timeout / 4 + 1;
        if (t >= stale_at) {
            free_outbound_link(node, out);
            earliest = std::min(earliest, t + 1);
        } else {
            earliest_gridded = std::min(earliest_gridded, stale_at);
        }
    }
    // Ping whoever we have not heard from for half the timeout. Any message counts, not only a
    // PONG: a peer that pings us proves it is alive, so the pair needs one exchange per half
    // timeout instead of two, which halves the idle traffic of Redis's rule.
    // The two ends of a pair last heard each other within a round trip, so both would be due in
    // the same batch window and ping each other at once: the end with the larger name waits one
    // window more and normally hears the other's ping first.
    const std::int64_t heard = std::max(node.pong_received, node.data_received);
    const std::int64_t quiet = timeout / 2 + (my_id() > node.id ? pass.ping_window : 0);
    if (node.link.valid() && node.ping_sent == 0) {
        if (t - heard > quiet)
            send_ping(now, node, MessageType::Ping, out);
        else
            earliest_gridded = std::min(earliest_gridded, heard + quiet + 1);
    }

    // PFAIL once unreachable for the timeout: detail::check_pfail has the rule and its reasons.
    if (node.timed_out() || node.failing()) return due();
    const detail::PfailCheck check = detail::check_pfail(node, t, timeout);
    if (check.due) {
        node.flags |= node_flag::kPfail;
        ++pass.pfail_seen;
        ++pass.pfail_marked;
        out.events.push_back(event::NodePfail{node.id});
        note_news(node);
        mark_failing_if_needed(now, node, out);
        if (node.timed_out()) pass.suspected.push_back(node.id);
    } else {
        earliest = std::min(earliest, check.recheck_at);
    }
    return due();
}

GOSSIPCLUSTER_INLINE void ClusterState::connect_listed(Now now, const std::vector<NodeId>& ids,
                                                       Output& out) {
    for (const NodeId& id : ids) {
        detail::Node* node = lookup(id);
        if (!node || node->id == my_id() || node->has(node_flag::kNoAddr) || node->link.valid())
            continue;
        if (node->ip.empty() || node->cport == 0) continue;
        connect_node(now, *node, out);
    }
}

GOSSIPCLUSTER_INLINE void ClusterState::random_ping(Now now, Output& out) {
    if (nodes_.size() <= config_.random_ping_quiet_skip_max_nodes &&
        now.mono.ms - last_ping_exchange_ < config_.random_ping_period.count())
        return;
    nodes_.refresh();
    const std::vector<detail::Node*>& order = nodes_.order();
    if (order.empty()) return;
    detail::Node* best = nullptr;
    for (std::size_t i = 0; i < config_.random_ping_samples; ++i) {
        detail::Node& node = *order[prng_.below(order.size())];
        if (!node.link.valid() || node.ping_sent != 0) continue;
        if (node.id == my_id() || node.in_handshake()) continue;
        if (!best || node.pong_received < best->pong_received) best = &node;
    }
    if (best) send_ping(now, *best, MessageType::Ping, out);
}

}  // namespace gossipcluster
