// ClusterState, part 9: CLUSTER FAILOVER (default, FORCE, TAKEOVER) and replica migration.
#pragma once

#include <algorithm>

namespace gossipcluster {

GOSSIPCLUSTER_INLINE CommandResult ClusterState::failover(Now now, FailoverMode mode, Output& out) {
    detail::Node& me = me_node();
    if (me.is_master()) return CommandResult::failure(CommandError::FailoverOnMaster);
    detail::Node* master = me.master ? lookup(*me.master) : nullptr;
    if (!master) return CommandResult::failure(CommandError::FailoverMasterUnknown);
    if (mode == FailoverMode::Default && (master->failing() || !master->link.valid()))
        return CommandResult::failure(CommandError::FailoverMasterDown);
    reset_manual_failover(out);
    mf_end_ = now.mono.ms + config_.manual_failover_timeout.count();
    switch (mode) {
        case FailoverMode::Takeover:
            // No agreement at all: a fresh epoch of our own makes our claim win.
            (void)bump_epoch_without_consensus();
            take_over_master(now, master, out);
            reset_manual_failover(out);
            break;
        case FailoverMode::Force:
            manual_failover_can_start_ = true;
            reset_election();
            timers_.lower(detail::Timer::Wake, now.mono.ms);
            break;
        case FailoverMode::Default: {
            Message start;
            start.header = build_header(MessageType::MfStart);
            send_on_link(master->link, std::move(start), out);
            break;
        }
    }
    finish(now, out);
    return CommandResult::success();
}

GOSSIPCLUSTER_INLINE void ClusterState::reset_manual_failover(Output& out) {
    // Only the master that paused its writes for a replica's request resumes them; a replica that
    // took over (a master now) never paused anything.
    if (!mf_replica_.is_null() && mf_end_ != 0) out.events.push_back(event::ResumeWrites{});
    mf_end_ = 0;
    mf_replica_ = NodeId{};
    mf_master_offset_.reset();
    manual_failover_can_start_ = false;
}

GOSSIPCLUSTER_INLINE void ClusterState::process_mfstart(Now now, detail::Node* sender,
                                                        Output& out) {
    const detail::Node& me = std::as_const(nodes_).myself();
    if (!sender || !me.is_master() || !sender->is_replica() || !sender->master ||
        *sender->master != myself_)
        return;
    reset_manual_failover(out);
    mf_end_ = now.mono.ms + config_.manual_failover_timeout.count();
    mf_replica_ = sender->id;
    // Writes stop for twice the failover timeout, as in Redis, so the replica can catch up.
    out.events.push_back(
        event::PauseWrites{sender->id, now.mono.ms + 2 * config_.manual_failover_timeout.count()});
    // Our header now carries PAUSED and our final offset: tell the replica at once.
    if (sender->link.valid()) {
        Message ping = build_ping(now, MessageType::Ping, sender, ext_set_for(sender));
        send_on_link(sender->link, std::move(ping), out);
    }
}

GOSSIPCLUSTER_INLINE void ClusterState::manual_failover_cron(Now now, Output& out) {
    if (mf_end_ == 0) return;
    if (mf_end_ < now.mono.ms) {
        out.events.push_back(event::ManualFailoverTimedOut{});
        reset_manual_failover(out);
        reset_election();
        return;
    }
    detail::Node& me = me_node();
    if (me.is_master()) {
        // Keep the replica informed of our offset while it catches up.
        if (detail::Node* replica = lookup(mf_replica_); replica && replica->link.valid()) {
            Message ping = build_ping(now, MessageType::Ping, replica, ext_set_for(replica));
            send_on_link(replica->link, std::move(ping), out);
        }
        return;
    }
    if (!manual_failover_can_start_ && mf_master_offset_ && *mf_master_offset_ == me.repl_offset) {
        // Caught up with the paused master: the election can start, with no delay.
        manual_failover_can_start_ = true;
        reset_election();
        timers_.lower(detail::Timer::Wake, now.mono.ms);
    }
}

// An orphaned master (slots, no working replica) gets a replica from the master with the most:
// the replica with the smallest name among those masters' replicas moves, once the orphan has
// waited migration_delay and if our master keeps more than migration_barrier working replicas.
GOSSIPCLUSTER_INLINE void ClusterState::replica_migration_cron(Now now, Output& out) {
    detail::Node& me = me_node();
    if (!config_.allow_replica_migration || !me.is_replica() || !me.master || !cluster_ok_) {
        orphaned_since_ = 0;
        return;
    }
    // A survey that found no orphan finds none again while nothing it reads has changed; one
    // runs anyway every ten housekeeping periods, which bounds what a change that was not
    // counted in the view's stamp could delay.
    nodes_.refresh();
    if (orphaned_since_ == 0 && view_unchanged_since(surveyed_) &&
        now.mono.ms - surveyed_at_ < 10 * config_.random_ping_period.count())
        return;
    surveyed_ = view_stamp();
    surveyed_at_ = now.mono.ms;
    const std::vector<detail::Node*>& order = nodes_.order();
    const detail::NodeIndex& index = nodes_.index();
    // Counted in the flat order with O(1) master lookups: this runs on every periodic tick of
    // every replica, and a tree walk per tick was most of an idle large cluster's cost.
    const auto ok_replica = [](const detail::Node& n) {
        return n.is_replica() && n.master && !(n.flags & (node_flag::kFail | node_flag::kPfail));
    };
    // Nodes are fetched a few ahead of each walk: in a large view each one is a cache miss.
    constexpr std::size_t kAhead = 8;
    const std::size_t count = order.size();
    const auto fetch_ahead = [&](std::size_t k) {
        if (k + kAhead < count) detail::NodeIndex::prefetch_lines(order[k + kAhead], 4);
    };
    for (std::size_t k = 0; k < count; ++k) {
        fetch_ahead(k);
        order[k]->ok_replicas = 0;
    }
    for (std::size_t k = 0; k < count; ++k) {
        fetch_ahead(k);
        const detail::Node* n = order[k];
        if (ok_replica(*n))
            if (detail::Node* m = index.find(*n->master)) ++m->ok_replicas;
    }
    detail::Node* orphan = nullptr;
    std::size_t max_replicas = 0;
    for (std::size_t k = 0; k < count; ++k) {
        fetch_ahead(k);
        detail::Node* n = order[k];
        if (!n->serves_slots() || n->failing()) continue;
        max_replicas = std::max<std::size_t>(max_replicas, n->ok_replicas);
        if (n->ok_replicas == 0 && n->has(node_flag::kMigrateTo) && !orphan) orphan = n;
    }
    const detail::Node* my_master = index.find(*me.master);
    const std::size_t mine = my_master ? my_master->ok_replicas : 0;
    if (!orphan || max_replicas < 2 || mine != max_replicas || mine <= config_.migration_barrier) {
        orphaned_since_ = 0;
        return;
    }
    if (orphaned_since_ == 0) orphaned_since_ = now.mono.ms;
    if (now.mono.ms - orphaned_since_ < config_.migration_delay.count()) return;
    // Only the smallest name among the replicas of the best-served masters moves.
    for (const detail::Node* n : order) {
        if (!ok_replica(*n)) continue;
        const detail::Node* m = index.find(*n->master);
        if ((m ? m->ok_replicas : 0) != max_replicas) continue;
        if (n->id < myself_) return;
    }
    orphaned_since_ = 0;
    become_replica_of(now, *orphan, out);
}

}  // namespace gossipcluster
