// ClusterState, part 9: CLUSTER FAILOVER (default, FORCE, TAKEOVER) and replica migration.
#pragma once

#include <algorithm>

namespace gossipcluster {

inline CommandResult ClusterState::failover(Now now, FailoverMode mode, Output& out) {
    detail::Node& me = nodes_.at(myself_);
    if (me.is_master())
        return CommandResult::failure("ERR You should send CLUSTER FAILOVER to a replica");
    detail::Node* master = me.master ? lookup(*me.master) : nullptr;
    if (!master) return CommandResult::failure("ERR I'm a replica but my master is unknown to me");
    if (mode == FailoverMode::Default && (master->failing() || !master->link.valid()))
        return CommandResult::failure(
            "ERR Master is down or failed, please use CLUSTER FAILOVER FORCE");
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
            next_deadline_ = now.mono.ms;
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

inline void ClusterState::reset_manual_failover(Output& out) {
    const detail::Node& me = myself();
    if (me.is_master() && mf_end_ != 0) out.events.push_back(event::ResumeWrites{});
    mf_end_ = 0;
    mf_replica_ = NodeId{};
    mf_master_offset_.reset();
    manual_failover_can_start_ = false;
}

inline void ClusterState::process_mfstart(Now now, detail::Node* sender, Output& out) {
    const detail::Node& me = myself();
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
        Message ping = build_ping(now, MessageType::Ping, sender, sender->supports_ext);
        send_on_link(sender->link, std::move(ping), out);
    }
}

inline void ClusterState::manual_failover_cron(Now now, Output& out) {
    if (mf_end_ == 0) return;
    if (mf_end_ < now.mono.ms) {
        out.events.push_back(event::ManualFailoverTimedOut{});
        reset_manual_failover(out);
        reset_election();
        return;
    }
    detail::Node& me = nodes_.at(myself_);
    if (me.is_master()) {
        // Keep the replica informed of our offset while it catches up.
        if (detail::Node* replica = lookup(mf_replica_); replica && replica->link.valid()) {
            Message ping = build_ping(now, MessageType::Ping, replica, replica->supports_ext);
            send_on_link(replica->link, std::move(ping), out);
        }
        return;
    }
    if (!manual_failover_can_start_ && mf_master_offset_ && *mf_master_offset_ == me.repl_offset) {
        // Caught up with the paused master: the election can start, with no delay.
        manual_failover_can_start_ = true;
        reset_election();
        next_deadline_ = now.mono.ms;
    }
}

// An orphaned master (slots, no working replica) gets a replica from the master with the most:
// the replica with the smallest name among those masters' replicas moves, once the orphan has
// waited migration_delay and if our master keeps more than migration_barrier working replicas.
inline void ClusterState::replica_migration_cron(Now now, Output& out) {
    detail::Node& me = nodes_.at(myself_);
    if (!config_.allow_replica_migration || !me.is_replica() || !me.master || !cluster_ok_) {
        orphaned_since_ = 0;
        return;
    }
    std::map<NodeId, std::size_t> ok_replicas;
    for (const auto& [id, n] : nodes_) {
        if (!n.is_replica() || !n.master || (n.flags & (node_flag::kFail | node_flag::kPfail)))
            continue;
        ++ok_replicas[*n.master];
    }
    detail::Node* orphan = nullptr;
    std::size_t max_replicas = 0;
    for (auto& [id, n] : nodes_) {
        if (!n.is_master() || n.slot_count == 0 || n.failing()) continue;
        const std::size_t count = ok_replicas.contains(id) ? ok_replicas[id] : 0;
        max_replicas = std::max(max_replicas, count);
        if (count == 0 && n.has(node_flag::kMigrateTo) && !orphan) orphan = &n;
    }
    const std::size_t mine = ok_replicas.contains(*me.master) ? ok_replicas[*me.master] : 0;
    if (!orphan || max_replicas < 2 || mine != max_replicas || mine <= config_.migration_barrier) {
        orphaned_since_ = 0;
        return;
    }
    if (orphaned_since_ == 0) orphaned_since_ = now.mono.ms;
    if (now.mono.ms - orphaned_since_ < config_.migration_delay.count()) return;
    // Only the smallest name among the replicas of the best-served masters moves.
    for (const auto& [id, n] : nodes_) {
        if (!n.is_replica() || !n.master || (n.flags & (node_flag::kFail | node_flag::kPfail)))
            continue;
        if (ok_replicas[*n.master] != max_replicas) continue;
        if (id < myself_) return;
    }
    orphaned_since_ = 0;
    become_replica_of(now, *orphan, out);
}

}  // namespace gossipcluster
