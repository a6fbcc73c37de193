// ClusterState, part 10: CLUSTER RESET, soft and hard.
#pragma once

#include <algorithm>
#include <vector>

namespace gossipcluster {

// Redis 7.0's reset: a replica turns master (the host stops replicating on RoleChanged), open
// migrations, the manual failover and every slot are dropped, and every other node is forgotten
// with its links. HARD also renames the node and zeroes currentEpoch, configEpoch and
// lastVoteEpoch, so it can join another cluster as a stranger. The blacklist is kept, as in
// Redis: a node forgotten on purpose must not come back through this one's gossip.
GOSSIPCLUSTER_INLINE CommandResult ClusterState::reset(Now now, bool hard, Output& out) {
    // While still in the old role: a master releases writes a manual failover paused.
    reset_manual_failover(out);
    reset_election();
    repl_link_.reset();
    stale_reported_ = false;
    orphaned_since_ = 0;

    detail::Node& me = me_node();
    if (me.is_replica()) {
        set_role_master(me);
        out.events.push_back(event::RoleChanged{true, NodeId{}, false});
    }
    slots_.clear();

    std::vector<NodeId> others;
    for (const auto& [id, node] : nodes_)
        if (id != my_id()) others.push_back(id);
    for (const auto& id : others) {
        delete_node(id, out);
        out.events.push_back(event::NodeForgotten{id, false});
    }
    // Inbound links no node claimed yet belong to peers we no longer know either.
    std::vector<LinkId> unbound;
    links_.for_each([&](LinkId link, const LinkInfo&) { unbound.push_back(link); });
    std::sort(unbound.begin(), unbound.end());
    for (auto link : unbound)
        close_link(link, out);
    pfail_nodes_ = 0;

    if (hard) {
        current_epoch_ = 0;
        last_vote_epoch_ = 0;
        me.config_epoch = 0;
        const NodeId fresh = random_name();
        const NodeId old = my_id();
        rename_node(old, fresh);  // the node table follows our own node to its new name
        shard_id_ = random_name();
    }
    update_cluster_state(now);
    mark_dirty(true);
    finish(now, out);
    return CommandResult::success();
}

}  // namespace gossipcluster
