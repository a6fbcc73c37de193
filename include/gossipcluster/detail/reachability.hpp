// Reachability: when a node has been unreachable for the node timeout and becomes PFAIL.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#include "gossipcluster/detail/node.hpp"

namespace gossipcluster::detail {

// Since when a node whose connection broke or was refused is unreachable: the later of the last
// message it sent (or when we added it, if it never sent one) and the loss of the link. Gossip
// spares direct messages for a timeout and more from about 100 nodes up, so counting from the last
// message alone suspected a node the moment its link broke, and a quick restart or a reset of
// links caused a failover.
inline std::int64_t unreachable_since(const Node& node) {
    const std::int64_t last_heard = node.data_received != 0 ? node.data_received : node.ctime;
    return std::max(last_heard, node.link_lost_at);
}

struct PfailCheck {
    bool due = false;
    // When the answer may change if nothing is heard meanwhile; max() when nothing is pending.
    std::int64_t recheck_at = std::numeric_limits<std::int64_t>::max();
};

// The PFAIL rule at `t`: a ping pending and unanswered for more than the timeout (Redis's rule,
// which judges a paused process that keeps its connection open, so a pause shorter than the
// timeout is survived), or a lost link and nothing heard for more than the timeout since the loss
// (a crashed process closes its sockets). Either way the node sent nothing for more than
// `timeout`: node timeout keeps Redis's meaning.
inline PfailCheck check_pfail(const Node& node, std::int64_t t, std::int64_t timeout) {
    PfailCheck check;
    if (node.ping_sent != 0) {
        const std::int64_t waiting_since = std::max(node.ping_sent, node.data_received);
        if (t - waiting_since > timeout) check.due = true;
        check.recheck_at = std::min(check.recheck_at, waiting_since + timeout + 1);
    }
    if (node.link_lost) {
        const std::int64_t lost_since = unreachable_since(node);
        if (t - lost_since > timeout) check.due = true;
        check.recheck_at = std::min(check.recheck_at, lost_since + timeout + 1);
    }
    return check;
}

}  // namespace gossipcluster::detail
