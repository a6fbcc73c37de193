// ClusterState, part 3: failure reports, PFAIL to FAIL, FAIL undo and the cluster's health.
#pragma once

#include <algorithm>

namespace gossipcluster {

inline bool ClusterState::add_failure_report(Now now, detail::Node& failing,
                                             const NodeId& reporter) {
    for (auto& r : failing.fail_reports) {
        if (r.reporter == reporter) {
            r.time = now.mono.ms;
            return false;
        }
    }
    failing.fail_reports.push_back({reporter, now.mono.ms});
    return true;
}

inline bool ClusterState::remove_failure_report(detail::Node& failing, const NodeId& reporter) {
    return std::erase_if(failing.fail_reports, [&](const detail::FailureReport& r) {
               return r.reporter == reporter;
           }) != 0;
}

inline void ClusterState::expire_failure_reports(Now now, detail::Node& failing) {
    const std::int64_t validity =
        config_.node_timeout.count() * static_cast<std::int64_t>(config_.fail_report_validity_mult);
    std::erase_if(failing.fail_reports, [&](const detail::FailureReport& r) {
        if (now.mono.ms - r.time > validity) return true;
        // Only masters that own slots may vote a node down; a reporter that lost its slots or
        // left since its report no longer counts.
        const detail::Node* rep = find(r.reporter);
        return !rep || !rep->is_master() || rep->slot_count == 0;
    });
}

inline std::size_t ClusterState::failure_report_count(Now now, const NodeId& id) {
    detail::Node* node = lookup(id);
    if (!node) return 0;
    expire_failure_reports(now, *node);
    return node->fail_reports.size();
}

inline std::size_t ClusterState::valid_failure_reports(Now now, const NodeId& id) const {
    const detail::Node* node = find(id);
    if (!node) return 0;
    const std::int64_t validity =
        config_.node_timeout.count() * static_cast<std::int64_t>(config_.fail_report_validity_mult);
    std::size_t count = 0;
    for (const auto& r : node->fail_reports) {
        const detail::Node* rep = find(r.reporter);
        if (now.mono.ms - r.time <= validity && rep && rep->is_master() && rep->slot_count > 0)
            ++count;
    }
    return count;
}

inline std::size_t ClusterState::cluster_size() const {
    std::size_t size = 0;
    for (const auto& [id, n] : nodes_)
        if (n.is_master() && n.slot_count > 0) ++size;
    return size;
}

inline void ClusterState::mark_failing_if_needed(Now now, detail::Node& node, Output& out) {
    if (!node.timed_out() || node.failing()) return;
    expire_failure_reports(now, node);
    const detail::Node& me = myself();
    std::size_t failures = node.fail_reports.size();
    if (me.is_master() && me.slot_count > 0) ++failures;
    const std::size_t needed = cluster_size() / 2 + 1;
    if (failures < needed) return;
    node.flags &= static_cast<std::uint16_t>(~node_flag::kPfail);
    node.flags |= node_flag::kFail;
    node.fail_time = now.mono.ms;
    out.events.push_back(event::NodeFailed{node.id, false});
    Message fail;
    fail.header = build_header(MessageType::Fail);
    fail.body = FailBody{node.id};
    broadcast(fail, out);
    note_news(node);
    update_cluster_state(now);
    mark_dirty(true);
}

inline void ClusterState::clear_failure_if_needed(Now now, detail::Node& node, Output& out) {
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
    rescan_soon();  // watched for PFAIL again
    out.events.push_back(event::NodeRecovered{node.id});
    note_news(node);
    update_cluster_state(now);
    mark_dirty(false);
}

inline void ClusterState::update_cluster_state(Now now) {
    // Coverage: every slot assigned, and no owner FAIL (counted per master, not per slot).
    bool ok = !(config_.require_full_coverage && unassigned_slots_ != 0);
    std::size_t size = 0, reachable = 0;
    refresh_order();
    for (const detail::Node* np : order_) {
        const detail::Node& n = *np;
        if (!n.is_master() || n.slot_count == 0) continue;
        ++size;
        if (!(n.flags & (node_flag::kFail | node_flag::kPfail))) ++reachable;
        if (config_.require_full_coverage && n.failing()) ok = false;
    }
    health_ok_ = ok;
    health_minority_ = reachable < size / 2 + 1;
    last_health_pass_ = now.mono.ms;
    apply_cluster_state(now);
}

// The verdict of the last pass over the masters, with the rules that depend on time alone.
inline void ClusterState::apply_cluster_state(Now now) {
    const detail::Node& me = myself();
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
