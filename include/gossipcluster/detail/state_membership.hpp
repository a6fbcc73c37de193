// ClusterState, part 1: construction, the node table, MEET/FORGET, links and snapshots.
#pragma once

#include <algorithm>
#include <cmath>

#include "gossipcluster/detail/address.hpp"

namespace gossipcluster {

GOSSIPCLUSTER_INLINE ClusterState::ClusterState(Config config, Now now,
                                                std::optional<PersistedState> loaded)
    : config_((config.validate(), std::move(config))), prng_(config_.seed) {
    if (now.mono.ms <= 0) throw std::invalid_argument("monotonic time must be positive");
    if (loaded && loaded->myself()) {
        last_vote_epoch_ = loaded->last_vote_epoch;
        // A vote is only ever given in our current epoch, so a file whose vote is newer than its
        // currentEpoch was edited or damaged: the vote's epoch, the later one, is the one kept.
        current_epoch_ = std::max(loaded->current_epoch, loaded->last_vote_epoch);
        for (const auto& rec : loaded->nodes) {
            detail::Node n;
            n.id = rec.id;
            n.flags =
                rec.flags & static_cast<std::uint16_t>(
                                ~(node_flag::kHandshake | node_flag::kMeet | node_flag::kPfail));
            n.ctime = now.mono.ms;
            n.ip = rec.ip;
            n.port = rec.port;
            n.cport = rec.cport;
            n.hostname = rec.hostname;
            n.master = rec.master;
            // A damaged file may say both master and replica, or name a node its own master:
            // one role is kept, the replica's when it names another node as its master.
            if (n.master && *n.master == n.id) n.master.reset();
            if (n.is_master() && n.is_replica())
                n.flags &=
                    static_cast<std::uint16_t>(n.master ? ~node_flag::kMaster : ~node_flag::kSlave);
            n.config_epoch = rec.config_epoch;
            // A node that was pinged or answered before the restart counts as "just now", so that
            // failure detection starts from the restart rather than from stale wall times.
            if (rec.ping_sent_ms != 0) n.ping_sent = now.mono.ms;
            if (rec.pong_received_ms != 0) n.pong_received = now.mono.ms;
            if (n.has(node_flag::kFail)) n.fail_time = now.mono.ms;
            if (n.has(node_flag::kMyself)) {
                nodes_.set_myself(n.id);
            }
            current_epoch_ = std::max(current_epoch_, n.config_epoch);
            detail::Node& stored = nodes_.insert(std::move(n));
            rec.slots.for_each_range([&](std::size_t a, std::size_t b) {
                for (std::size_t s = a; s <= b; ++s)
                    slots_.assign(s, stored);
            });
            if (stored.has(node_flag::kMyself)) {
                for (const auto& o : rec.migrating)
                    slots_.migrating()[o.slot] = o.peer;
                for (const auto& o : rec.importing)
                    slots_.importing()[o.slot] = o.peer;
            }
        }
        // Replicas persist their master's epoch; only masters own one.
        for (auto& [id, n] : nodes_)
            if (n.is_replica()) n.config_epoch = 0;
    } else {
        detail::Node me;
        me.id = random_name();
        me.flags = node_flag::kMyself | node_flag::kMaster;
        me.ctime = now.mono.ms;
        nodes_.set_myself(me.id);
        nodes_.insert(std::move(me));
    }
    auto& me = me_node();
    me.port = config_.port;
    me.cport = config_.bus_port();
    me.pport = config_.pport;
    me.hostname = config_.announce_hostname;
    me.human_nodename = config_.human_nodename;
    if (!config_.announce_ip.empty()) me.ip = config_.announce_ip;
    if (config_.replica_no_failover) me.flags |= node_flag::kNoFailover;
    shard_id_ = random_name();
    last_cron_ = now.mono.ms;
    start_time_ = now.mono.ms;
    wall_offset_ = static_cast<std::int64_t>(now.unix_ms) - now.mono.ms;
    last_random_ping_ = now.mono.ms;
    // The first cron run scans every node.
    timers_.set(detail::Timer::Scan, now.mono.ms + config_.cron_period.count());
    timers_.set(detail::Timer::Periodic, now.mono.ms + config_.cron_period.count());
}

GOSSIPCLUSTER_INLINE NodeId ClusterState::random_name() {
    static constexpr char kHex[] = "0123456789abcdef";
    std::array<char, kNodeNameLen> raw{};
    for (auto& c : raw)
        c = kHex[prng_.below(16)];
    return NodeId::from_raw(raw.data());
}

GOSSIPCLUSTER_INLINE void ClusterState::note_news(detail::Node& node) {
    std::size_t sends = config_.news_sends;
    if (sends == 0)
        sends = static_cast<std::size_t>(std::ceil(
                    std::log2(static_cast<double>(std::max<std::size_t>(nodes_.size(), 2))))) +
                1;
    ++view_version_;
    if (node.news == 0) ++nodes_with_news_;
    node.news = static_cast<std::uint32_t>(sends);
    news_pending_ = true;
}

GOSSIPCLUSTER_INLINE detail::Node& ClusterState::add_node(detail::Node node, Output& out) {
    out.events.push_back(event::NodeAdded{node.id, node.ip, node.port, node.in_handshake()});
    detail::Node& added = nodes_.insert(std::move(node));
    connect_soon(added);
    if (added.in_handshake())
        wake_node_at(added, added.ctime + config_.effective_handshake_timeout().count() + 1);
    else
        mark_dirty(false);
    return added;
}

GOSSIPCLUSTER_INLINE void ClusterState::close_link(LinkId link, Output& out) {
    if (!link.valid()) return;
    if (links_.erase(link)) out.actions.push_back(action::Close{link});
}

GOSSIPCLUSTER_INLINE void ClusterState::free_outbound_link(detail::Node& node, Output& out) {
    close_link(node.link, out);
    node.link = {};
    node.link_up = false;
    connect_soon(node);
}

GOSSIPCLUSTER_INLINE void ClusterState::delete_node(const NodeId& id, Output& out) {
    detail::Node* found = nodes_.find(id);
    if (!found) return;
    detail::Node& node = *found;
    free_outbound_link(node, out);
    if (node.inbound_link.valid()) {
        // The peer's inbound link stays open at the transport level in Redis; we close it so a
        // forgotten node cannot keep feeding us through it.
        close_link(node.inbound_link, out);
    }
    slots_.release(node);
    for (auto& [oid, other] : nodes_) {
        if (oid == id) continue;
        other.fail_reports.remove(id);
        if (other.master && *other.master == id) other.master.reset();
    }
    if (node.news != 0) --nodes_with_news_;
    nodes_.erase(id);
    mark_dirty(false);
}

GOSSIPCLUSTER_INLINE void ClusterState::rename_node(const NodeId& from, const NodeId& to) {
    detail::Node& node = nodes_.rename(from, to);
    if (node.link.valid()) links_[node.link].node = to;
    if (node.inbound_link.valid()) links_[node.inbound_link].node = to;
    slots_.names_changed();  // the slot runs are ordered by name
}

GOSSIPCLUSTER_INLINE bool ClusterState::handshake_in_progress(const std::string& ip,
                                                              std::uint16_t port,
                                                              std::uint16_t cport) const {
    return std::any_of(nodes_.begin(), nodes_.end(), [&](const auto& kv) {
        const auto& n = kv.second;
        return n.in_handshake() && n.ip == ip && n.port == port && n.cport == cport;
    });
}

GOSSIPCLUSTER_INLINE void ClusterState::blacklist_add(Now now, const NodeId& id, Duration ttl) {
    if (blacklist_.size() >= config_.max_blacklist && !blacklist_.contains(id)) return;
    blacklist_[id] = now.mono.ms + ttl.count();
}

GOSSIPCLUSTER_INLINE bool ClusterState::blacklisted(Now now, const NodeId& id) {
    std::erase_if(blacklist_, [&](const auto& kv) { return kv.second <= now.mono.ms; });
    return blacklist_.contains(id);
}

GOSSIPCLUSTER_INLINE CommandResult ClusterState::meet(Now now, std::string_view ip,
                                                      std::uint16_t port, std::uint16_t cport,
                                                      Output& out) {
    auto norm = detail::normalize_ip(ip);
    if (!norm || port == 0 || cport == 0 || handshake_in_progress(*norm, port, cport) ||
        nodes_.size() >= config_.max_nodes) {
        return CommandResult::failure_address(CommandError::InvalidNodeAddress, ip, port);
    }
    detail::Node n;
    n.id = random_name();
    n.flags = node_flag::kHandshake | node_flag::kMeet;
    n.ctime = now.mono.ms;
    n.ip = *norm;
    n.port = port;
    n.cport = cport;
    add_node(std::move(n), out);
    // Connect at once rather than at the next cron tick: a MEET is an explicit request.
    timers_.lower(detail::Timer::Wake, now.mono.ms);
    return CommandResult::success();
}

GOSSIPCLUSTER_INLINE CommandResult ClusterState::forget(Now now, std::string_view node_id,
                                                        Output& out) {
    auto id = NodeId::parse(node_id);
    detail::Node* node = id ? lookup(*id) : nullptr;
    if (!node) return CommandResult::failure_node(CommandError::UnknownNode, node_id);
    if (*id == my_id()) return CommandResult::failure(CommandError::ForgetMyself);
    const auto& me = own_node();
    if (me.is_replica() && me.master && *me.master == *id)
        return CommandResult::failure(CommandError::ForgetMyMaster);
    blacklist_add(now, *id, config_.blacklist_ttl);
    delete_node(*id, out);
    out.events.push_back(event::NodeForgotten{*id, false});
    mark_dirty(true);
    return CommandResult::success();
}

GOSSIPCLUSTER_INLINE std::uint64_t ClusterState::to_unix(Now now, std::int64_t mono) {
    if (mono == 0) return 0;
    std::int64_t delta = now.mono.ms - mono;
    auto unix_ms = static_cast<std::int64_t>(now.unix_ms) - delta;
    return unix_ms > 0 ? static_cast<std::uint64_t>(unix_ms) : 1;
}

GOSSIPCLUSTER_INLINE std::int64_t ClusterState::from_unix(Now now, std::uint64_t unix_ms) {
    std::int64_t delta =
        static_cast<std::int64_t>(now.unix_ms) - static_cast<std::int64_t>(unix_ms);
    std::int64_t mono = now.mono.ms - delta;
    return mono > 0 ? mono : 1;
}

template <typename Record>
void ClusterState::fill_record(Now now, const detail::Node& n, bool is_me, Record& r) const {
    r.id = n.id;
    r.ip = n.ip;
    r.port = n.port;
    r.cport = n.cport;
    r.hostname = n.hostname;
    r.flags = n.flags & static_cast<std::uint16_t>(~(node_flag::kMeet | node_flag::kMigrateTo |
                                                     node_flag::kExtensionsSupported));
    r.master = n.is_replica() ? n.master : std::nullopt;
    r.ping_sent_ms = to_unix(now, n.ping_sent);
    if (is_me) {
        r.pong_received_ms = now.unix_ms / 1000 * 1000;
        r.connected = true;
    } else {
        r.pong_received_ms = to_unix(now, n.pong_received);
        r.connected = n.link.valid() && n.link_up;
    }
    r.config_epoch = n.config_epoch;
    if (n.is_replica() && n.master) {
        if (const auto* m = nodes_.find(*n.master)) r.config_epoch = m->config_epoch;
    }
    // Records may be reused (the compact store refills them in place).
    r.migrating.clear();
    r.importing.clear();
    if (is_me) {
        for (const auto& [slot, peer] : slots_.migrating())
            r.migrating.push_back({slot, peer});
        for (const auto& [slot, peer] : slots_.importing())
            r.importing.push_back({slot, peer});
    }
}

GOSSIPCLUSTER_INLINE std::vector<NodeRecord> ClusterState::node_records(
    Now now, bool include_handshake) const {
    std::vector<NodeRecord> out;
    out.reserve(nodes_.size());
    const detail::Node* me = nodes_.find(my_id());
    const auto& runs = slots_.runs();
    std::size_t run = 0;
    for (const auto& [id, n] : nodes_) {
        // Runs are in node order: this node's come next.
        const std::size_t first_run = run;
        while (run < runs.size() && runs[run].owner == &n)
            ++run;
        if (n.in_handshake() && !include_handshake) continue;
        NodeRecord r;
        fill_record(now, n, &n == me, r);
        for (std::size_t k = first_run; k < run; ++k)
            r.slots.set_range(runs[k].first, runs[k].last);
        out.push_back(std::move(r));
    }
    return out;
}

GOSSIPCLUSTER_INLINE PersistedState ClusterState::snapshot(Now now) const {
    PersistedState s;
    s.nodes = node_records(now, false);
    s.current_epoch = current_epoch_;
    s.last_vote_epoch = last_vote_epoch_;
    return s;
}

// Field for field what snapshot() says, but assigned over the previous contents of `c` so that a
// save in steady state allocates nothing.
GOSSIPCLUSTER_INLINE void ClusterState::snapshot_into(Now now, CompactState& c) const {
    c.current_epoch = current_epoch_;
    c.last_vote_epoch = last_vote_epoch_;
    c.slots.clear();
    const detail::Node* me = nodes_.find(my_id());
    const auto& runs = slots_.runs();
    std::size_t run = 0;
    std::size_t count = 0;
    nodes_.visit_in_order([&](const detail::Node& n) {
        const std::size_t first_run = run;
        while (run < runs.size() && runs[run].owner == &n)
            ++run;
        if (n.in_handshake()) return;
        if (count == c.nodes.size()) c.nodes.emplace_back();
        const auto index = static_cast<std::uint32_t>(count);
        CompactRecord& r = c.nodes[count++];
        fill_record(now, n, &n == me, r);
        for (std::size_t k = first_run; k < run; ++k)
            c.slots.push_back({index, runs[k].first, runs[k].last});
    });
    c.nodes.resize(count);
}

GOSSIPCLUSTER_INLINE void ClusterState::connect_node(Now now, detail::Node& node, Output& out) {
    LinkId link{next_link_++};
    links_[link] = LinkInfo{node.id, false, node.ip, {}};
    node.link = link;
    node.link_up = false;
    node.link_ctime = now.mono.ms;
    out.actions.push_back(action::Connect{link, Endpoint{node.ip, node.cport}});
    // Queue the first ping behind the connect; keep an older pending ping time so that a node
    // that never answers still times out from the first unanswered ping.
    std::int64_t old_ping_sent = node.ping_sent;
    // To a node we already know, the first ping on a new link asks whether it is there; it is
    // not a gossip round. A restart opens a link to every node at once, and full sections would
    // make that N x N x N/10 entries (100 million at 1000 nodes), most of them telling the
    // receiver what it knows. A MEET or a handshake ping still carries the usual section: the
    // other end is new and learns the cluster from it.
    const bool meet = node.has(node_flag::kMeet);
    const bool known = !meet && !node.in_handshake();
    send_ping(now, node, meet ? MessageType::Meet : MessageType::Ping, out,
              known ? GossipSize::at_most(config_.gossip_min_entries) : GossipSize::usual());
    if (old_ping_sent != 0) node.ping_sent = old_ping_sent;
    wake_node_at(node,
                 std::max(node.ping_sent, node.data_received) + config_.node_timeout.count() + 1);
}

GOSSIPCLUSTER_INLINE void ClusterState::on_link_up(Now, LinkId link, Output&) {
    const LinkInfo* info = links_.find(link);
    if (!info || info->inbound) return;
    if (auto* node = lookup(info->node); node && node->link == link) {
        node->link_up = true;
        // The MEET queued behind this connect goes out now. Until a connect succeeds every
        // retry must send MEET again (a PING from a stranger is answered but never adds it), so
        // that a MEET issued before the target's bus port listens still forms the pair once it
        // does, within the handshake timeout, as Redis 7.0 does.
        node->flags &= static_cast<std::uint16_t>(~node_flag::kMeet);
    }
}

GOSSIPCLUSTER_INLINE void ClusterState::on_link_down(Now now, LinkId link, std::string_view reason,
                                                     Output& out) {
    const LinkInfo* found = links_.find(link);
    if (!found) return;
    LinkInfo info = *found;
    links_.erase(link);
    detail::Node* node = info.node.is_null() ? nullptr : lookup(info.node);
    if (node && !info.inbound && node->link == link) {
        node->link = {};
        node->link_up = false;
        // The first loss counts: refused reconnects after it do not move the time on.
        if (!node->link_lost) node->link_lost_at = now.mono.ms;
        node->link_lost = true;
        // The reconnect waits for the next periodic tick rather than spinning here.
        reconnects_.push_back(node->id);
        wake_node_at(*node, detail::unreachable_since(*node) + config_.node_timeout.count() + 1);
    }
    if (node && info.inbound && node->inbound_link == link) node->inbound_link = {};
    out.events.push_back(event::LinkError{node ? node->id : NodeId{}, std::string(reason)});
}

GOSSIPCLUSTER_INLINE void ClusterState::on_inbound_link(Now, LinkId link, std::string peer_ip,
                                                        std::string local_ip, Output&) {
    if (!link.valid()) return;  // id 0 means "no link" throughout
    auto norm = detail::normalize_ip(peer_ip);
    links_[link] = LinkInfo{NodeId{}, true, norm ? *norm : std::move(peer_ip), std::move(local_ip)};
}

}  // namespace gossipcluster
