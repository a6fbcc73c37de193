// ClusterState, part 3: failure reports, PFAIL to FAIL, FAIL undo and the cluster's health.
#pragma once

#include <algorithm>
#include <utility>

namespace gossipcluster {

// How long a failure report counts (Redis: twice the node timeout).
GOSSIPCLUSTER_INLINE std::int64_t ClusterState::report_validity() const {
    return config_.node_timeout.count() *
           static_cast<std::int64_t>(config_.fail_report_validity_mult);
}

// Only masters that own slots may vote a node down or elect a replica.
GOSSIPCLUSTER_INLINE bool ClusterState::is_voter(const NodeId& id) const {
    const detail::Node* n = nodes_.find(id);
    return n && n->serves_slots();
}

GOSSIPCLUSTER_INLINE void ClusterState::expire_failure_reports(Now now, detail::Node& failing) {
    failing.fail_reports.expire(now.mono.ms, report_validity(),
                                [&](const NodeId& id) { return is_voter(id); });
}

GOSSIPCLUSTER_INLINE std::size_t ClusterState::failure_report_count(Now now, const NodeId& id) {
    detail::Node* node = lookup(id);
    if (!node) return 0;
    expire_failure_reports(now, *node);
    return node->fail_reports.size();
}

GOSSIPCLUSTER_INLINE std::size_t ClusterState::valid_failure_reports(Now now,
                                                                     const NodeId& id) const {
    const detail::Node* node = nodes_.find(id);
    if (!node) return 0;
    return node->fail_reports.count_valid(now.mono.ms, report_validity(),
                                          [&](const NodeId& rid) { return is_voter(rid); });
}

GOSSIPCLUSTER_INLINE std::size_t ClusterState::cluster_size() const {
    std::size_t size = 0;
    for (const auto& [id, n] : nodes_)
        if (n.serves_slots()) ++size;
    return size;
}

GOSSIPCLUSTER_INLINE void ClusterState::mark_failing_if_needed(Now now, detail::Node& node,
                                                               Output& out) {
    if (!node.timed_out() || node.failing()) return;
    expire_failure_reports(now, node);
    const detail::Node& me = own_node();
    const bool self_is_voter = me.serves_slots();
    if (!detail::reaches_fail_quorum(node.fail_reports.size(), self_is_voter, cluster_size()))
        return;
    node.flags &= static_cast<std::uint16_t>(~node_flag::kPfail);
    node.flags |= node_flag::kFail;
    node.fail_time = now.mono.ms;
    failed_since_failover_step_ = true;
    out.events.push_back(event::NodeFailed{node.id, false});
    Message fail;
    fail.header = build_header(MessageType::Fail);
    fail.body = FailBody{node.id};
    broadcast(fail, out);
    note_news(node);
    update_cluster_state(now);
    mark_dirty(true);
}

// FAIL needs the reports of a majority of masters at one node, and a report travels only in the
// reporter's own gossip. Redis's pings are frequent enough for random gossip to gather them; with
// the fewer pings sent here (one exchange per pair per half timeout), a 1000-node cluster took
// seconds longer than the timeout to collect a quorum anywhere. So each master that starts to
// suspect a node also pings a few collectors: the peers whose names hash closest to the suspect's
// (rendezvous hashing), which every node picks alike from its own view. Their reports meet there,
// and the first collector that also suspects the node has its quorum at once and broadcasts FAIL.
GOSSIPCLUSTER_INLINE std::vector<NodeId> ClusterState::failure_report_collectors(
    const NodeId& id) const {
    const std::size_t wanted = config_.failure_report_collectors;
    if (wanted == 0) return {};
    // Defined on the names' characters alone (FNV-1a, then a final mix), so that nodes built for
    // any platform pick the same collectors.
    auto name_hash = [](const NodeId& n) {
        std::uint64_t h = 0xcbf29ce484222325ull;
        for (char c : n.view())
            h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
        return h;
    };
    const std::uint64_t key = name_hash(id);
    auto score = [&](const NodeId& n) {
        std::uint64_t x = name_hash(n) ^ key;
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdull;
        x ^= x >> 33;
        return x;
    };
    // (score, name) pairs, best first; a suspicion is rare, so the walk is the plain one.
    std::vector<std::pair<std::uint64_t, NodeId>> best;
    best.reserve(wanted + 1);
    for (const auto& [nid, n] : nodes_) {
        if (nid == my_id() || nid == id || !n.link.valid()) continue;
        if (n.flags &
            (node_flag::kHandshake | node_flag::kNoAddr | node_flag::kPfail | node_flag::kFail))
            continue;
        std::pair<std::uint64_t, NodeId> entry{score(nid), nid};
        if (best.size() == wanted && !(entry < best.back())) continue;
        best.insert(std::upper_bound(best.begin(), best.end(), entry), entry);
        if (best.size() > wanted) best.pop_back();
    }
    std::vector<NodeId> ids;
    for (const auto& entry : best)
        ids.push_back(entry.second);
    return ids;
}

GOSSIPCLUSTER_INLINE void ClusterState::send_reports_to_collectors(Now now, const NodeId& suspect,
                                                                   Output& out) {
    const detail::Node& me = own_node();
    if (!me.serves_slots()) return;
    for (const NodeId& id : failure_report_collectors(suspect))
        if (detail::Node* collector = lookup(id))
            send_ping(now, *collector, MessageType::Ping, out);
}

GOSSIPCLUSTER_INLINE void ClusterState::clear_failure_if_needed(Now now, detail::Node& node,
                                                                Output& out) {
    if (!node.failing()) return;
    bool clear = false;
    if (node.is_replica() || node.slot_count == 0) {
        clear = true;
    } else {
        // A master with slots comes back only if nobody took them over in the meantime.
        const std::int64_t undo =
            config_.node_timeout.count() * static_cast<std::int64_t>(config_.fail_undo_time_mult);
        clear = now.mono.ms - node.fail_time > undo;
    }
    if (!clear) return;
    node.flags &= static_cast<std::uint16_t>(~node_flag::kFail);
    rescan_soon(node);  // watched for PFAIL again
    out.events.push_back(event::NodeRecovered{node.id});
    note_news(node);
    update_cluster_state(now);
    mark_dirty(false);
}

GOSSIPCLUSTER_INLINE void ClusterState::update_cluster_state(Now now) {
    // Coverage: every slot assigned, and no owner FAIL (counted per master, not per slot).
    bool ok = !(config_.require_full_coverage && slots_.unassigned() != 0);
    std::size_t size = 0, reachable = 0;
    nodes_.refresh();
    for (const detail::Node* np : nodes_.order()) {
        const detail::Node& n = *np;
        if (!n.serves_slots()) continue;
        ++size;
        if (!(n.flags & (node_flag::kFail | node_flag::kPfail))) ++reachable;
        if (config_.require_full_coverage && n.failing()) ok = false;
    }
    health_ok_ = ok;
    health_minority_ = reachable < detail::majority(size);
    last_health_pass_ = now.mono.ms;
    apply_cluster_state(now);
}

// The verdict of the last pass over the masters, with the rules that depend on time alone.
GOSSIPCLUSTER_INLINE void ClusterState::apply_cluster_state(Now now) {
    const detail::Node& me = own_node();
    bool ok = health_ok_;
    if (health_minority_) ok = false;
    state_change_pending_ = ok != cluster_ok_;
    // A master that just started waits a little, so that it does not accept writes before it
    // has heard about a configuration that may have moved its slots away.
    if (me.is_master() && !cluster_ok_ &&
        now.mono.ms - start_time_ < config_.writable_delay.count())
        return;
    if (health_minority_) among_minority_time_ = now.mono.ms;
    if (ok == cluster_ok_) return;
    // A master back from a minority partition waits before serving again, so that the majority
    // side has time to tell it about failovers that happened meanwhile.
    const std::int64_t rejoin_delay =
        std::clamp<std::int64_t>(config_.node_timeout.count(), 500, 5000);
    if (ok && me.is_master() && among_minority_time_ != 0 &&
        now.mono.ms - among_minority_time_ < rejoin_delay)
        return;
    cluster_ok_ = ok;
    state_change_pending_ = false;
}

}  // namespace gossipcluster
