// A peer as the core tracks it: address, role, timers, links and failure reports.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gossipcluster/detail/failure_reports.hpp"
#include "gossipcluster/link.hpp"
#include "gossipcluster/types.hpp"

namespace gossipcluster::detail {

// Times are monotonic milliseconds; 0 means "never".
// The fields are ordered by use, not by topic: a large view touches random nodes for every gossip
// entry it sends or receives, so what those paths read (name, flags, ping and pong times, failure
// reports, link, gossip bookkeeping) fills the first two cache lines and the rest comes after.
struct alignas(64) Node {
    // First line: what a received gossip entry reads.
    NodeId id;
    std::uint16_t flags = 0;
    std::uint16_t port = 0;
    std::uint16_t cport = 0;
    std::uint16_t pport = 0;
    std::int64_t ping_sent = 0;
    std::int64_t pong_received = 0;

    // Second line: the rest of the gossip and timeout paths.
    FailureReports fail_reports;
    std::int64_t data_received = 0;
    std::uint64_t gossip_round = 0;  // last outgoing section that carried it (deduplication)
    LinkId link;                     // outbound, created by us
    // Which slots: the view's SlotTable (owner of each slot, slots_of). A bitmap
    // here cost 2 KB per known node in every view.
    std::size_t slot_count = 0;
    std::uint32_t news = 0;       // gossip sections that should still carry this node first
    std::uint32_t order_pos = 0;  // index in the NodeTable's order while that is current
    // Set when our outbound link broke or was refused after the last data we received: a crashed
    // process closes its sockets, a paused one does not.
    bool link_lost = false;
    bool link_up = false;
    bool supports_ext = false;
    // It reads every extension type, not only Redis 7.0's hostname: it sent another type (Redis
    // 7.2 always sends its shard id) or EXTENSIONS_SUPPORTED in its header flags.
    bool reads_all_ext = false;

    // Third and fourth lines: the address a gossip entry carries, then what the once-a-second
    // replica-migration survey reads.
    std::string ip;
    std::optional<NodeId> master;
    std::uint32_t ok_replicas = 0;  // working count of the replica-migration check
    std::int64_t link_ctime = 0;
    // When link_lost was set: the node is unreachable from then on, not from the last message
    // it sent, which gossip may have spared for much longer than the timeout.
    std::int64_t link_lost_at = 0;
    std::int64_t ctime = 0;
    std::int64_t fail_time = 0;
    std::int64_t voted_time = 0;  // when we last voted for a replica of this master
    LinkId inbound_link;
    Epoch config_epoch = 0;
    std::uint64_t repl_offset = 0;
    // The last slot claim of this node found equal to our view, by hash, and the version of our
    // slot table then (SlotTable::remember_match).
    bool claim_checked = false;
    std::uint64_t claim_hash = 0;
    std::uint64_t claim_version = 0;
    std::string hostname;
    std::string human_nodename;
    NodeId shard_id;  // from its SHARDID extension; null until one arrives (Redis 7.0 sends none)

    bool has(std::uint16_t f) const { return (flags & f) != 0; }
    bool is_master() const { return has(node_flag::kMaster); }
    bool is_replica() const { return has(node_flag::kSlave); }
    // A master that serves slots: the nodes whose failure reports and votes count.
    bool serves_slots() const { return is_master() && slot_count > 0; }
    bool in_handshake() const { return has(node_flag::kHandshake); }
    bool failing() const { return has(node_flag::kFail); }
    bool timed_out() const { return has(node_flag::kPfail); }
};

}  // namespace gossipcluster::detail
