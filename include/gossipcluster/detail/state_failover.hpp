// ClusterState, part 7: replica elections (asking for votes, voting, taking over a failed master).
#pragma once

#include <algorithm>

#include "gossipcluster/detail/election.hpp"

namespace gossipcluster {

// Rank among the replicas of the same master: how many of them are ahead of us (greater
// replication offset, or the same offset and a smaller name). NOFAILOVER replicas never compete.
// Unique ranks keep two replicas of one master from asking for votes at the same time.
GOSSIPCLUSTER_INLINE std::size_t ClusterState::replica_rank() const {
    const detail::Node& me = nodes_.myself();
    if (!me.master) return 0;
    std::size_t rank = 0;
    for (const auto& [id, n] : nodes_) {
        if (id == my_id() || !n.is_replica() || !n.master || *n.master != *me.master) continue;
        if (n.has(node_flag::kNoFailover) || n.failing()) continue;
        if (detail::ranks_ahead(n.repl_offset, id, me.repl_offset, my_id())) ++rank;
    }
    return rank;
}

GOSSIPCLUSTER_INLINE void ClusterState::set_replication_offset(std::uint64_t offset) {
    me_node().repl_offset = offset;
}

GOSSIPCLUSTER_INLINE void ClusterState::set_replication_link(Now now, ReplicationLink link) {
    repl_link_ = ReportedLink{link.up, now.mono.ms - std::max<std::int64_t>(0, link.idle.count())};
}

// Whether this replica has an election to consider that the failover step has not looked at
// yet: a node became FAIL since the step last ran, and it is our master, which serves slots.
// Checked at the end of every input, so that the step runs at once whichever path marked the
// master FAIL (once: a refused election is looked at again with the periodic ticks).
GOSSIPCLUSTER_INLINE bool ClusterState::election_due() const {
    if (!failed_since_failover_step_) return false;
    const detail::Node& me = nodes_.myself();
    if (!me.is_replica() || !me.master || me.has(node_flag::kNoFailover)) return false;
    const detail::Node* master = nodes_.find(*me.master);
    return master && master->failing() && master->slot_count != 0;
}

// How old this replica's copy of the data may be, in ms: from the replication link when the host
// reports it (the time since the master last sent something on it, or since it went down), else
// from the last message the master sent on the bus.
GOSSIPCLUSTER_INLINE std::int64_t ClusterState::replica_data_age(Now now,
                                                                 const detail::Node& master) const {
    const std::int64_t t = now.mono.ms;
    if (repl_link_) return t - repl_link_->since;
    return t - std::max(master.data_received, master.pong_received);
}

// Before ranking, the other replicas of our master must know our offset, and we theirs: a PONG
// to each carries ours in its header, and theirs come back in the PONGs they send when their own
// elections are scheduled. Without it a rank could rest on offsets from the last idle ping,
// half a timeout old.
GOSSIPCLUSTER_INLINE void ClusterState::tell_sibling_replicas(Now now, Output& out) {
    const detail::Node& me = own_node();
    if (!me.master) return;
    const NodeId master = *me.master;
    nodes_.refresh();
    for (detail::Node* n : nodes_.order()) {
        if (n->id == my_id() || !n->is_replica() || !n->master || *n->master != master) continue;
        if (n->in_handshake() || !n->link.valid()) continue;
        send_ping(now, *n, MessageType::Pong, out, GossipSize::at_most(config_.gossip_min_entries));
    }
}

GOSSIPCLUSTER_INLINE void ClusterState::reset_election() {
    election_.reset();
    timers_.cancel(detail::Timer::Election);
    timers_.cancel(detail::Timer::ElectionRetry);
}

// Requests are broadcast, so a candidate sees its rivals'. When several masters fail together,
// their replicas' elections can overlap: a master refuses a request whose epoch is older than
// one it has already seen, so of two requests sent within a network delay the older epoch loses
// the masters that got the newer one first, and may fall short of a majority. Redis then waits
// for the retry time (four node timeouts), and the next replica of the same master, starting a
// rank delay later at a newer epoch, wins with less data. So a contested candidate asks again,
// at a new epoch, before that replica may start. Safety is the usual one: each master votes once
// per epoch and once per failed master within the debounce, so the masters that voted for the
// first request do not vote again, and the new request can win only with the others.
GOSSIPCLUSTER_INLINE void ClusterState::note_rival_election(const detail::Node& sender,
                                                            const Header& h) {
    if (sender.id == my_id() || mf_.election_allowed()) return;
    if (election_.note_rival(h.current_epoch))
        timers_.lower(detail::Timer::ElectionRetry,
                      election_.retry_at(config_.election_rank_delay));
}

// A contested election that is due to ask again is set to send its request now, at a new epoch;
// one not due yet keeps a wake-up for it.
GOSSIPCLUSTER_INLINE void ClusterState::retry_contested_election(std::int64_t t) {
    if (!election_.sent() || !election_.contested()) return;
    if (!election_.take_retry(t, config_.election_rank_delay))
        timers_.lower(detail::Timer::ElectionRetry,
                      election_.retry_at(config_.election_rank_delay));
}

GOSSIPCLUSTER_INLINE void ClusterState::handle_replica_failover(Now now, Output& out) {
    failed_since_failover_step_ = false;
    detail::Node& me = me_node();
    const std::int64_t t = now.mono.ms;
    const std::int64_t timeout = config_.node_timeout.count();
    detail::Node* master = (me.is_replica() && me.master) ? lookup(*me.master) : nullptr;
    const bool manual = mf_.election_allowed();
    if (!master || master->slot_count == 0 || (!master->failing() && !manual) ||
        (me.has(node_flag::kNoFailover) && !manual)) {
        if (election_.scheduled() && !election_.sent()) reset_election();
        return;
    }

    // A replica that lost touch with its master long before the failure may miss writes:
    // refuse, unless an operator asked. The node timeout is forgiven: the master may have been
    // failing for that long before it was found out.
    std::int64_t data_age = replica_data_age(now, *master);
    if (data_age > timeout) data_age -= timeout;
    if (!manual && config_.replica_validity_factor != 0 &&
        data_age > config_.repl_ping_period.count() +
                       timeout * static_cast<std::int64_t>(config_.replica_validity_factor)) {
        if (!stale_reported_) {
            stale_reported_ = true;
            out.events.push_back(event::ElectionRefused{master->id, "replica data is too old"});
        }
        return;
    }

    const std::int64_t auth_timeout = detail::election_auth_timeout(timeout);
    const std::int64_t auth_retry = 2 * auth_timeout;
    if (!election_.scheduled() || t - election_.time() > auth_retry) {
        // Schedule: the best replica first, the next one a rank delay later.
        const std::size_t rank = manual ? 0 : replica_rank();
        std::int64_t delay = 0;
        if (!manual)
            delay = detail::election_delay(config_.election_base_delay,
                                           prng_.between(0, config_.election_jitter.count()), rank,
                                           config_.election_rank_delay);
        election_.schedule(t + delay, rank);
        timers_.cancel(detail::Timer::ElectionRetry);
        timers_.set(detail::Timer::Election, election_.time());
        if (!manual) tell_sibling_replicas(now, out);
        return;
    }
    if (t - election_.time() > auth_timeout) {
        // Over: reported once, and votes that still arrive no longer count (as in Redis, which
        // never wins an expired election). A new attempt is scheduled after the retry time.
        if (election_.sent()) {
            out.events.push_back(event::ElectionFailed{election_.epoch(), election_.votes()});
            election_.expire();
        }
        return;
    }
    if (!manual) retry_contested_election(t);  // then the request below goes out again
    // Others may have reported a better offset since we scheduled: step back if so.
    if (!election_.sent() && !manual)
        election_.step_back(replica_rank(), config_.election_rank_delay);
    if (t < election_.time()) {
        timers_.set(detail::Timer::Election, election_.time());
        return;
    }
    if (!election_.sent()) {
        if (!advance_current_epoch()) return;  // at kEpochLimit no election can be won
        election_.mark_sent(current_epoch_);
        mark_dirty(true);  // the epoch is on disk before the request that carries it leaves
        GOSSIPCLUSTER_INVARIANT(dirty_fsync_);
        Message req;
        req.header = build_header(MessageType::FailoverAuthRequest);
        if (manual) req.header.mflags[0] |= message_flag::kForceAck;
        broadcast(req, out);
        out.events.push_back(
            event::ElectionStarted{election_.epoch(), election_.rank(), master->id});
    }
}

GOSSIPCLUSTER_INLINE void ClusterState::process_auth_request(Now now, detail::Node* sender,
                                                             const Header& h, Output& out) {
    if (!sender) return;
    note_rival_election(*sender, h);
    const detail::Node& me = own_node();
    detail::VoteRequestView request;
    request.voter_serves_slots = me.serves_slots();
    request.request_epoch = h.current_epoch;
    request.current_epoch = current_epoch_;
    request.last_vote_epoch = last_vote_epoch_;
    detail::Node* master =
        sender->is_replica() && sender->master ? lookup(*sender->master) : nullptr;
    request.requester_is_replica = master != nullptr;
    if (master) {
        request.master_failing = master->failing();
        request.forced = (h.mflags[0] & message_flag::kForceAck) != 0;
        // One failover per master at a time: do not vote for another replica of it too soon.
        const std::int64_t debounce =
            config_.node_timeout.count() * static_cast<std::int64_t>(config_.vote_debounce_mult);
        request.voted_for_master_recently =
            master->voted_time != 0 && now.mono.ms - master->voted_time < debounce;
    }
    // The requester may only claim slots whose owners' epochs are not newer than its claim
    // (looked at only when every cheaper rule passed).
    if (detail::vote_refusal(request) == detail::VoteRefusal::None) {
        for (std::size_t s = 0; s < kSlotCount && !request.claims_newer_slots; ++s) {
            if (!h.myslots.test(s)) continue;
            const detail::Node* owner = slots_.owner(s);
            request.claims_newer_slots = owner && owner->config_epoch > h.config_epoch;
        }
    }
    if (detail::vote_refusal(request) != detail::VoteRefusal::None) return;
    last_vote_epoch_ = current_epoch_;
    master->voted_time = now.mono.ms;
    mark_dirty(true);  // the vote is on disk before the ACK leaves (Output order)
    GOSSIPCLUSTER_INVARIANT(dirty_fsync_ && last_vote_epoch_ == current_epoch_);
    Message ack;
    ack.header = build_header(MessageType::FailoverAuthAck);
    const LinkId to = sender->link.valid() ? sender->link : sender->inbound_link;
    if (to.valid()) send_on_link(to, std::move(ack), out);
    out.events.push_back(event::VoteGranted{sender->id, master->id, current_epoch_});
}

GOSSIPCLUSTER_INLINE void ClusterState::process_auth_ack(Now now, detail::Node* sender,
                                                         const Header& h, Output& out) {
    if (!sender || !election_.sent()) return;
    // Expired, even if the election step has not noticed yet.
    if (now.mono.ms - election_.time() >
        detail::election_auth_timeout(config_.node_timeout.count()))
        return;
    if (!sender->serves_slots()) return;
    if (h.current_epoch < election_.epoch()) return;
    // A duplicated or replayed ACK must not count twice.
    if (!election_.add_vote(sender->id)) return;
    if (election_.won(cluster_size())) win_election(now, out);
}

GOSSIPCLUSTER_INLINE void ClusterState::win_election(Now now, Output& out) {
    GOSSIPCLUSTER_INVARIANT(election_.sent() && election_.won(cluster_size()));
    detail::Node& me = me_node();
    detail::Node* old_master = me.master ? lookup(*me.master) : nullptr;
    if (me.config_epoch < election_.epoch()) me.config_epoch = election_.epoch();
    // As a Raft candidate votes for itself: the new master gives no vote in the epoch it won, so
    // no second replica can win that epoch with its help (Redis lets it vote).
    last_vote_epoch_ = std::max(last_vote_epoch_, election_.epoch());
    take_over_master(now, old_master, out);
    reset_manual_failover(out);
    out.events.push_back(event::ElectionWon{election_.epoch(), election_.votes(),
                                            old_master ? old_master->id : NodeId{}});
    reset_election();
}

// Becomes master in place of `old_master`, claims its slots and tells everyone.
GOSSIPCLUSTER_INLINE void ClusterState::take_over_master(Now now, detail::Node* old_master,
                                                         Output& out) {
    detail::Node& me = me_node();
    me.flags = static_cast<std::uint16_t>((me.flags & ~node_flag::kSlave) | node_flag::kMaster);
    me.master.reset();
    repl_link_.reset();
    if (old_master) slots_.transfer(*old_master, me);
    mf_.election_done();
    out.events.push_back(event::RoleChanged{true, NodeId{}, false});
    update_cluster_state(now);
    mark_dirty(true);
    broadcast_pong(now, out);
}

}  // namespace gossipcluster
