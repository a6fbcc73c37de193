// ClusterState, invariants: the whole-state consistency check the simulator runs after each step.
#pragma once

#include <string>

#include <fmt/format.h>

namespace gossipcluster {

// Returns the first broken rule, or an empty string. The slot table is recounted only when it
// changed since the last check, so a simulation can afford the check after every step.
GOSSIPCLUSTER_INLINE std::string ClusterState::check_invariants() const {
    if (!nodes_.contains(my_id())) return "our own node is missing from the view";
    if (last_vote_epoch_ > current_epoch_)
        return fmt::format("lastVoteEpoch {} is ahead of currentEpoch {}", last_vote_epoch_,
                           current_epoch_);
    const detail::Node& me = nodes_.at(my_id());
    if (me.config_epoch > current_epoch_)
        return fmt::format("our configEpoch {} is ahead of currentEpoch {}", me.config_epoch,
                           current_epoch_);
    if (timers_.next() == detail::TimerTable::kNever) return "no timer is armed";
    if (election_.sent() && !election_.scheduled()) return "an election was sent unscheduled";
    if (election_.sent() && election_.epoch() > current_epoch_)
        return "the election's epoch is ahead of currentEpoch";

    std::size_t with_news = 0;
    for (const auto& [id, n] : nodes_) {
        if (n.id != id) return fmt::format("node {} is filed under {}", n.id.view(), id.view());
        if (n.has(node_flag::kPfail) && n.has(node_flag::kFail))
            return fmt::format("node {} is both PFAIL and FAIL", id.view());
        if (n.is_master() && n.is_replica())
            return fmt::format("node {} is both master and replica", id.view());
        if (n.master && *n.master == id) return fmt::format("node {} replicates itself", id.view());
        if (n.news != 0) ++with_news;
        for (auto a = n.fail_reports.begin(); a != n.fail_reports.end(); ++a)
            for (auto b = std::next(a); b != n.fail_reports.end(); ++b)
                if (a->reporter == b->reporter)
                    return fmt::format("two reports by {} about {}", a->reporter.view(), id.view());
    }
    if (with_news != nodes_with_news_)
        return fmt::format("{} nodes have news but {} are counted", with_news, nodes_with_news_);

    if (std::string broken = nodes_.check(); !broken.empty()) return broken;
    return slots_.check(nodes_.map());
}

}  // namespace gossipcluster
