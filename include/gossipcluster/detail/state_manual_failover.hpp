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
    mf_.start_as_replica(now.mono.ms, config_.manual_failover_timeout);
    switch (mode) {
        case FailoverMode::Takeover:
            // No agreement at all: a fresh epoch of our own makes our claim win.
            (void)bump_epoch_without_consensus();
            take_over_master(now, master, out);
            reset_manual_failover(out);
            break;
        case FailoverMode::Force:
            mf_.allow_election();
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
    if (mf_.reset()) out.events.push_back(event::ResumeWrites{});
}

GOSSIPCLUSTER_INLINE void ClusterState::process_mfstart(Now now, detail::Node* sender,
                                                        Output& out) {
    const detail::Node& me = own_node();
    if (!sender || !me.is_master() || !sender->is_replica() || !sender->master ||
        *sender->master != my_id())
        return;
    reset_manual_failover(out);
    mf_.start_as_master(now.mono.ms, config_.manual_failover_timeout, sender->id);
    out.events.push_back(event::PauseWrites{
        sender->id,
        detail::ManualFailover::resume_writes_at(now.mono.ms, config_.manual_failover_timeout)});
    // Our header now carries PAUSED and our final offset: tell the replica at once.
    if (sender->link.valid()) {
        Message ping = build_ping(now, MessageType::Ping, sender, ext_set_for(sender));
        send_on_link(sender->link, std::move(ping), out);
    }
}

GOSSIPCLUSTER_INLINE void ClusterState::manual_failover_cron(Now now, Output& out) {
    if (!mf_.in_progress()) return;
    if (mf_.expired(now.mono.ms)) {
        out.events.push_back(event::ManualFailoverTimedOut{});
        reset_manual_failover(out);
        reset_election();
        return;
    }
    detail::Node& me = me_node();
    if (me.is_master()) {
        // Keep the replica informed of our offset while it catches up.
        if (detail::Node* replica = lookup(mf_.replica()); replica && replica->link.valid()) {
            Message ping = build_ping(now, MessageType::Ping, replica, ext_set_for(replica));
            send_on_link(replica->link, std::move(ping), out);
        }
        return;
    }
    if (mf_.caught_up(me.repl_offset)) {
        // Caught up with the paused master: the election can start, with no delay.
        reset_election();
        timers_.lower(detail::Timer::Wake, now.mono.ms);
    }
}

// An orphaned master gets a replica (detail::survey_replica_migration has the rule) once it has
// waited migration_delay.
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
    const detail::MigrationSurvey survey = detail::survey_replica_migration(
        nodes_.order(), nodes_.index(), *me.master, config_.migration_barrier);
    if (!survey.orphan) {
        orphaned_since_ = 0;
        return;
    }
    if (orphaned_since_ == 0) orphaned_since_ = now.mono.ms;
    if (now.mono.ms - orphaned_since_ < config_.migration_delay.count()) return;
    if (survey.first_candidate && *survey.first_candidate < my_id()) return;
    orphaned_since_ = 0;
    become_replica_of(now, *survey.orphan, out);
}

}  // namespace gossipcluster
