// ClusterState: the cluster-bus protocol as a pure state machine (inputs in, one Output batch out).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gossipcluster/command_error.hpp"
#include "gossipcluster/compact_state.hpp"
#include "gossipcluster/config.hpp"
#include "gossipcluster/detail/election.hpp"
#include "gossipcluster/detail/gossip_selection.hpp"
#include "gossipcluster/detail/invariant.hpp"
#include "gossipcluster/detail/link_table.hpp"
#include "gossipcluster/detail/linkage.hpp"
#include "gossipcluster/detail/manual_failover.hpp"
#include "gossipcluster/detail/node.hpp"
#include "gossipcluster/detail/node_table.hpp"
#include "gossipcluster/detail/prng.hpp"
#include "gossipcluster/detail/quorum.hpp"
#include "gossipcluster/detail/reachability.hpp"
#include "gossipcluster/detail/replica_migration.hpp"
#include "gossipcluster/detail/slot_table.hpp"
#include "gossipcluster/detail/timer_table.hpp"
#include "gossipcluster/link.hpp"
#include "gossipcluster/message.hpp"
#include "gossipcluster/node_view.hpp"
#include "gossipcluster/output.hpp"
#include "gossipcluster/persisted_state.hpp"
#include "gossipcluster/time.hpp"

namespace gossipcluster {

enum class SetSlotMode : std::uint8_t { Importing, Migrating, Stable, Node };

struct MessageCounters {
    std::array<std::uint64_t, kMessageTypeCount> sent{};
    std::array<std::uint64_t, kMessageTypeCount> received{};
    std::uint64_t dropped_unknown_sender = 0;
    // Messages whose header claims an epoch at or above kEpochLimit (not processed at all).
    std::uint64_t dropped_epoch_limit = 0;
};

// What the periodic work cost: how often the cron scanned its view, and how many nodes it looked
// at (an idle node should look at few more than those due for a ping).
struct ScanCounters {
    std::uint64_t scans = 0;
    std::uint64_t full_scans = 0;  // walks of the whole view
    std::uint64_t node_visits = 0;
};

// What a replica's host knows of its replication link to the master: whether it is up, and how
// long ago the master last sent anything on it (up) or since when it is down (down). Elections
// judge the age of the replica's data by it, as Redis does with its replication link.
// Which ping extensions a PING, PONG or MEET carries. Redis 7.0 reads only the hostname (type 0):
// it logs a warning for every other record, on every message, and forgets a sender's hostname
// when a PING or PONG comes without one.
enum class ExtSet : std::uint8_t {
    None,      // no extension (pre-7.0 peers reject frames with any)
    Hostname,  // the hostname alone, when we announce one: what a Redis 7.0 node sends
    All,       // hostname, human node name, forgotten nodes, shard id: Redis 7.2 and later
};

struct ReplicationLink {
    bool up = false;
    Duration idle{0};
};

// No I/O, no clock, no global randomness: every input carries the time, every effect is appended
// to the caller's Output. Containers that are iterated are ordered, so runs replay from the seed.
class ClusterState {
  public:
    // `loaded` is what Storage returned; nullopt starts a fresh node with a random name.
    ClusterState(Config config, Now now, std::optional<PersistedState> loaded);

    // Transport events.
    void on_link_up(Now now, LinkId link, Output& out);
    void on_link_down(Now now, LinkId link, std::string_view reason, Output& out);
    void on_inbound_link(Now now, LinkId link, std::string peer_ip, std::string local_ip,
                         Output& out);
    void on_message(Now now, LinkId link, const Message& msg, Output& out);
    void tick(Now now, Output& out);
    // The earliest of the named deadlines (detail::TimerTable): when tick() next has work.
    Instant next_deadline() const { return Instant{timers_.next()}; }

    // Operator commands.
    CommandResult meet(Now now, std::string_view ip, std::uint16_t port, std::uint16_t cport,
                       Output& out);
    CommandResult forget(Now now, std::string_view node_id, Output& out);
    CommandResult add_slots(Now now, const std::vector<std::uint16_t>& slots, Output& out);
    CommandResult del_slots(Now now, const std::vector<std::uint16_t>& slots, Output& out);
    CommandResult flush_slots(Now now, Output& out);
    // `keys_in_slot`: how many keys the host still holds in `slot` (SETSLOT NODE refuses to give
    // away a slot that still has keys here).
    CommandResult set_slot(Now now, std::uint16_t slot, SetSlotMode mode, std::string_view node_id,
                           std::size_t keys_in_slot, Output& out);
    CommandResult set_config_epoch(Now now, std::int64_t epoch, Output& out);
    CommandResult bump_epoch(Now now, Output& out, bool& bumped);
    // Pub/Sub over the bus: to every node, or (shard) to the nodes of our own shard.
    CommandResult publish(Now now, std::string_view channel, std::string_view message, bool shard,
                          Output& out);
    // A module message to one node, or to all when `target` is empty.
    CommandResult send_module_message(Now now, std::uint64_t module_id, std::uint8_t type,
                                      std::string_view payload, std::optional<NodeId> target,
                                      Output& out);
    enum class FailoverMode : std::uint8_t { Default, Force, Takeover };
    // CLUSTER FAILOVER [FORCE|TAKEOVER], on a replica.
    CommandResult failover(Now now, FailoverMode mode, Output& out);
    bool manual_failover_in_progress() const { return mf_.in_progress(); }
    // The host's replication offset (masters: what they produced; replicas: what they applied).
    // A replica in the middle of a full sync reports 0: its old offset no longer says what it
    // holds.
    void set_replication_offset(std::uint64_t offset);
    // The replica's replication link, reported by the host whenever it changes and now and then
    // while it is up. Until a host reports one (and again after each change of master), the age
    // of the data is judged from the bus: the last message from the master.
    void set_replication_link(Now now, ReplicationLink link);
    // `host_empty`: the host holds no keys (a master must be empty to become a replica).
    CommandResult replicate(Now now, std::string_view node_id, bool host_empty, Output& out);
    // CLUSTER RESET [SOFT|HARD]: become a master with no slots that knows no other node; `hard`
    // also takes a new name and zeroes the epochs. A host refuses it on a master holding keys.
    CommandResult reset(Now now, bool hard, Output& out);

    // Queries.
    const NodeId& myself_id() const { return nodes_.myself_id(); }
    // The shard id we announce to peers that read it: our master's when we are a replica.
    const NodeId& shard_id() const { return shard_id_; }
    Epoch current_epoch() const { return current_epoch_; }
    Epoch last_vote_epoch() const { return last_vote_epoch_; }
    const Config& config() const { return config_; }
    const MessageCounters& counters() const { return counters_; }
    const ScanCounters& scan_counters() const { return scan_counters_; }
    // The first broken rule of this view's own consistency (slot counts, the node order and
    // index, epochs, news counts), or an empty string: for simulations and tests, which run it
    // after every step (detail/state_invariants.hpp lists the rules).
    std::string check_invariants() const;
    // Approximate bytes this view occupies (the object and the containers it owns).
    std::size_t memory_bytes() const;
    std::size_t node_count() const { return nodes_.size(); }
    // find, myself, slot_owner, for_each_node and replicas_of hand out NodeViews: read-only, and
    // valid until the next input to this state.
    std::optional<NodeView> find(const NodeId& id) const {
        if (const auto* n = nodes_.find(id)) return NodeView(*n);
        return std::nullopt;
    }
    NodeView myself() const { return NodeView(nodes_.myself()); }
    // Every node, handshakes included, in id order (CLUSTER NODES).
    std::vector<NodeRecord> node_records(Now now, bool include_handshake) const;
    // What must survive a restart (nodes.conf).
    PersistedState snapshot(Now now) const;
    // The same in compact form, overwriting `out` in place (reuses its buffers).
    void snapshot_into(Now now, CompactState& out) const;
    // Number of valid failure reports about `id` (CLUSTER COUNT-FAILURE-REPORTS).
    std::size_t failure_report_count(Now now, const NodeId& id);
    // The peers this node would send its reports about `id` to (send_reports_to_collectors).
    std::vector<NodeId> failure_report_collectors(const NodeId& id) const;
    // The same count without expiring anything (for observers).
    std::size_t valid_failure_reports(Now now, const NodeId& id) const;
    bool cluster_ok() const { return cluster_ok_; }
    // The node serving `slot`, if any.
    std::optional<NodeView> slot_owner(std::size_t slot) const {
        if (const auto* n = slots_.owner(slot)) return NodeView(*n);
        return std::nullopt;
    }
    // The slots `node` (a view of this state) owns in this view.
    SlotBitmap slots_of(NodeView node) const { return slots_.slots_of(*node.node_); }
    const std::map<std::uint16_t, NodeId>& importing() const { return slots_.importing(); }
    const std::map<std::uint16_t, NodeId>& migrating() const { return slots_.migrating(); }
    // f(NodeView) for every node, handshakes included, in id order.
    template <typename F>
    void for_each_node(F&& f) const {
        for (const auto& [id, node] : nodes_)
            f(NodeView(node));
    }
    // The replicas of `master` in id order, handshakes left out.
    std::vector<NodeView> replicas_of(const NodeId& master) const {
        std::vector<NodeView> out;
        for (const auto& [id, n] : nodes_)
            if (n.is_replica() && n.master && *n.master == master && !n.in_handshake())
                out.push_back(NodeView(n));
        return out;
    }

  private:
    struct LinkInfo {
        NodeId node;  // null while an inbound link is not bound to a node
        bool inbound = false;
        std::string peer_ip;
        std::string local_ip;
    };

    // Membership.
    NodeId random_name();
    detail::Node* lookup(const NodeId& id) { return nodes_.lookup(id); }
    // Our own node without a tree walk (hot paths ask for it on every message).
    detail::Node& me_node() { return nodes_.myself(); }
    // The same read-only, without rebuilding a stale order (which would make every node due).
    const detail::Node& own_node() const { return nodes_.myself(); }
    const NodeId& my_id() const { return nodes_.myself_id(); }
    detail::Node& add_node(detail::Node node, Output& out);
    void delete_node(const NodeId& id, Output& out);
    void rename_node(const NodeId& from, const NodeId& to);
    bool handshake_in_progress(const std::string& ip, std::uint16_t port,
                               std::uint16_t cport) const;
    void blacklist_add(Now now, const NodeId& id, Duration ttl);
    bool blacklisted(Now now, const NodeId& id);
    void note_news(detail::Node& node);
    void mark_dirty(bool fsync) {
        ++view_version_;
        dirty_ = true;
        dirty_fsync_ = dirty_fsync_ || fsync;
    }
    // Ends every input: pushes pending news and moves the dirty flags into the Output.
    void finish(Now now, Output& out);

    // Links.
    void close_link(LinkId link, Output& out);
    void free_outbound_link(detail::Node& node, Output& out);
    void connect_node(Now now, detail::Node& node, Output& out);

    // Receiving.
    void process_gossip_message(Now now, LinkId link, LinkInfo& info, detail::Node* sender,
                                const Message& msg, Output& out);
    detail::Node* identify_sender(LinkId link, LinkInfo& info, const Header& h, Output& out);
    void note_heard_from(Now now, detail::Node& sender, const Message& msg, Output& out);
    // The steps of a PING, PONG or MEET, in the order process_gossip_message takes them.
    void learn_own_address(detail::Node& me, const LinkInfo& info, const Header& h);
    void add_met_stranger(Now now, const LinkInfo& info, const Header& h, Output& out);
    void answer_ping(Now now, LinkId link, const detail::Node* sender, const Message& msg,
                     Output& out);
    detail::Node* complete_handshake(Now now, detail::Node& linked, const LinkInfo& info,
                                     const Message& msg, Output& out);
    void forget_moved_address(detail::Node& linked, Output& out);
    void note_pong(Now now, const LinkInfo& info, const detail::Node* sender, Output& out);
    void process_header_claim(Now now, LinkId link, detail::Node& sender, const Header& h,
                              Output& out);
    void process_gossip_section(Now now, detail::Node* sender, const GossipBody& body, Output& out);
    void process_extensions(Now now, detail::Node& sender, const GossipBody& body, Output& out);
    void update_epochs_from_header(const Header& h, detail::Node& sender);
    void update_role_from_header(const Header& h, detail::Node& sender);
    bool update_address_if_needed(detail::Node& node, LinkId link, const LinkInfo& info,
                                  const Header& h, Output& out);
    void handle_epoch_collision(detail::Node& sender);
    void process_fail(Now now, detail::Node* sender, const FailBody& body, Output& out);
    void process_update(Now now, detail::Node* sender, const UpdateBody& body, Output& out);

    // Slots.
    bool claim_matches(detail::Node& node, const SlotBitmap& claimed);
    std::optional<CommandResult> check_slot_list(const std::vector<std::uint16_t>& slots,
                                                 bool must_be_free) const;
    void set_role_master(detail::Node& node);
    void update_slots_from_claim(Now now, detail::Node& claimant, Epoch claim_epoch,
                                 const SlotBitmap& claimed, Output& out);
    void check_stale_claim(Now now, LinkId link, const detail::Node& sender, Epoch claim_epoch,
                           const SlotBitmap& claimed, Output& out);
    void note_disowned_slots(const detail::Node& master, Epoch claim_epoch,
                             const SlotBitmap& claimed);
    void become_replica_of(Now now, detail::Node& master, Output& out);
    void send_reports_to_collectors(Now now, const NodeId& suspect, Output& out);
    bool bump_epoch_without_consensus();
    void append_forgotten_nodes(Now now, GossipBody& body, const detail::Node* target);
    // currentEpoch + 1, unless that would reach kEpochLimit: then false and nothing changes.
    bool advance_current_epoch();

    // Failover.
    std::size_t replica_rank() const;
    void reset_election();
    bool election_due() const;
    void note_rival_election(const detail::Node& sender, const Header& h);
    void retry_contested_election(std::int64_t t);
    std::int64_t replica_data_age(Now now, const detail::Node& master) const;
    void tell_sibling_replicas(Now now, Output& out);
    void handle_replica_failover(Now now, Output& out);
    void process_auth_request(Now now, detail::Node* sender, const Header& h, Output& out);
    void process_auth_ack(Now now, detail::Node* sender, const Header& h, Output& out);
    void win_election(Now now, Output& out);
    void take_over_master(Now now, detail::Node* old_master, Output& out);
    void reset_manual_failover(Output& out);
    void manual_failover_cron(Now now, Output& out);
    void process_mfstart(Now now, detail::Node* sender, Output& out);
    void replica_migration_cron(Now now, Output& out);
    void process_publish(const Message& msg, detail::Node* sender, Output& out);
    void process_module(const Message& msg, detail::Node* sender, Output& out);

    // Failure detection.
    void expire_failure_reports(Now now, detail::Node& failing);
    std::int64_t report_validity() const;
    bool is_voter(const NodeId& id) const;
    void mark_failing_if_needed(Now now, detail::Node& node, Output& out);
    void clear_failure_if_needed(Now now, detail::Node& node, Output& out);
    std::size_t cluster_size() const;
    void update_cluster_state(Now now);
    void apply_cluster_state(Now now);

    // Sending.
    Header build_header(MessageType type) const;
    void fill_header(MessageType type, Header& h) const;
    Message build_ping(Now now, MessageType type, const detail::Node* target, ExtSet exts,
                       GossipSize size = GossipSize::usual());
    void fill_ping(Message& msg, Now now, MessageType type, const detail::Node* target, ExtSet exts,
                   GossipSize size = GossipSize::usual());
    ExtSet ext_set_for(const detail::Node* peer, const Message* received = nullptr) const;
    static bool reads_all_extensions(const Message& msg);
    void broadcast_pong(Now now, Output& out);
    void adopt_shard_id(const NodeId& id);
    Message& queue_send(LinkId link, MessageType type, Output& out);
    void count_sent(MessageType type) {
        const auto type_index = static_cast<std::size_t>(type);
        if (type_index < kMessageTypeCount) ++counters_.sent[type_index];
    }
    void send_ping(Now now, detail::Node& node, MessageType type, Output& out,
                   GossipSize size = GossipSize::usual());
    void send_on_link(LinkId link, Message msg, Output& out);
    void broadcast(const Message& msg, Output& out);
    void push_news(Now now, Output& out);

    // Cron.
    void cron(Now now, Output& out);
    struct ScanPass;
    bool scan_nodes(Now now, bool periodic, bool full, Output& out);
    std::int64_t scan_node(Now now, detail::Node& node, ScanPass& pass, Output& out);
    void connect_listed(Now now, const std::vector<NodeId>& ids, Output& out);
    void connect_soon(const detail::Node& node);
    bool ticking_needed() const;
    // The cron's scan looks at `node` again at `t` (or sooner, if it was due sooner).
    void wake_node_at(const detail::Node& node, std::int64_t t) {
        nodes_.wake_at(node, t);
        timers_.lower(detail::Timer::Scan, t);
    }
    std::int64_t on_ping_grid(std::int64_t t) const;
    void rescan_soon(const detail::Node& node);
    void random_ping(Now now, Output& out);

    // Time conversions between monotonic ms and unix ms.
    static std::uint64_t to_unix(Now now, std::int64_t mono);
    // What a saved record (NodeRecord or CompactRecord, which share field names) takes from `n`,
    // slots aside: one place, so nodes.conf and the compact store cannot drift apart.
    template <typename Record>
    void fill_record(Now now, const detail::Node& n, bool is_me, Record& r) const;
    static std::int64_t from_unix(Now now, std::uint64_t unix_ms);

    Config config_;
    detail::Prng prng_;
    // Every node of the view, with its name order, name index and the cron's due times.
    detail::NodeTable nodes_;
    // Looked up for every message received (see detail::LinkTable).
    detail::LinkTable<LinkInfo> links_;
    std::uint64_t next_link_ = 1;
    std::map<NodeId, std::int64_t> blacklist_;  // id -> expiry (monotonic ms)
    // While the blacklist is longer than one message holds: per receiver (a null id for a PONG to
    // a sender we do not know), the last name sent to it, where its next turn starts. Empty
    // otherwise, so that the usual case costs no memory per node.
    std::map<NodeId, NodeId> forgotten_turns_;
    Epoch current_epoch_ = 0;
    Epoch last_vote_epoch_ = 0;
    NodeId shard_id_;
    bool cluster_ok_ = false;
    bool reported_ok_ = false;  // the state last announced with ClusterStateChanged
    std::int64_t start_time_ = 0;
    std::int64_t wall_offset_ = 0;  // unix ms minus monotonic ms, for the ping grid
    std::int64_t among_minority_time_ = 0;
    // Slot owners, the slots' derived caches, disowned slots, imports and migrations.
    detail::SlotTable slots_;
    std::size_t nodes_with_news_ = 0;  // nodes whose news counter is not zero
    std::size_t pfail_nodes_ = 0;      // PFAIL nodes seen by the last cron run
    detail::Election election_;        // this replica's election, when its master failed
    // The replication link as last reported: up, and since when silent (up) or down (down), in
    // monotonic ms; nullopt while the host has reported nothing for the current master.
    struct ReportedLink {
        bool up = false;
        std::int64_t since = 0;
    };
    std::optional<ReportedLink> repl_link_;
    bool failed_since_failover_step_ = false;  // a node became FAIL since the step last ran
    bool stale_reported_ = false;
    detail::ManualFailover mf_;  // a CLUSTER FAILOVER under way, on either side
    std::int64_t orphaned_since_ = 0;
    std::int64_t last_migration_survey_ = 0;
    // Bumped by every change the walks over the whole view read besides membership and slots (a
    // node's news, a saved change, a master marked as a migration target): with the node and slot
    // tables' versions it stamps a view, and a walk made at a stamp that still holds would find
    // what it found then.
    std::uint64_t view_version_ = 0;
    struct ViewStamp {
        std::uint64_t view = ~std::uint64_t{0};
        std::uint64_t nodes = ~std::uint64_t{0};
        std::uint64_t slots = ~std::uint64_t{0};
    };
    ViewStamp view_stamp() const { return {view_version_, nodes_.version(), slots_.version()}; }
    bool view_unchanged_since(const ViewStamp& s) const {
        return s.view == view_version_ && s.nodes == nodes_.version() &&
               s.slots == slots_.version();
    }
    ViewStamp surveyed_;  // the replica-migration survey's last walk
    std::int64_t surveyed_at_ = 0;
    ViewStamp health_stamp_;  // the cron's last health pass
    // Cron's node scan (its next work is timers_' Scan): when it last walked the whole view, and
    // who waits for a periodic reconnect meanwhile.
    std::int64_t last_full_scan_ = 0;
    std::vector<NodeId> reconnects_;
    std::vector<NodeId> connects_;  // wanted before the next scan: new nodes, dropped links
    // The last pass over the masters: coverage verdict and whether too few are reachable.
    bool health_ok_ = false;
    bool health_minority_ = true;
    std::int64_t last_health_pass_ = 0;
    bool state_change_pending_ = false;  // the verdict differs from cluster_ok_ (a delay runs)
    std::int64_t last_cron_ = 0;
    std::int64_t last_random_ping_ = 0;
    std::int64_t last_ping_exchange_ = 0;  // a PING or MEET sent or received
    detail::TimerTable timers_;       // one deadline per purpose; next_deadline() is the earliest
    detail::GossipSelection gossip_;  // picks each section's entries
    bool news_pending_ = false;
    bool dirty_ = false;
    bool dirty_fsync_ = false;
    MessageCounters counters_;
    ScanCounters scan_counters_;
};

}  // namespace gossipcluster

// The member definitions: compiled once into the library (src/state_*.cpp), or included here
// in header-only mode.
#ifdef GOSSIPCLUSTER_HEADER_ONLY
#include "gossipcluster/detail/state_cron.hpp"
#include "gossipcluster/detail/state_failover.hpp"
#include "gossipcluster/detail/state_failure.hpp"
#include "gossipcluster/detail/state_invariants.hpp"
#include "gossipcluster/detail/state_manual_failover.hpp"
#include "gossipcluster/detail/state_membership.hpp"
#include "gossipcluster/detail/state_memory.hpp"
#include "gossipcluster/detail/state_pubsub.hpp"
#include "gossipcluster/detail/state_receive.hpp"
#include "gossipcluster/detail/state_reset.hpp"
#include "gossipcluster/detail/state_send.hpp"
#include "gossipcluster/detail/state_slots.hpp"
#endif
