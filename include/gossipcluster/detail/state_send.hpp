// ClusterState, part 4: building headers, PING/PONG/MEET with their gossip sections, sending.
#pragma once

#include <algorithm>

namespace gossipcluster {

GOSSIPCLUSTER_INLINE Header ClusterState::build_header(MessageType type) const {
    Header h;
    fill_header(type, h);
    return h;
}

// Every field is set, so a header reused from an earlier message comes out the same as a new one.
GOSSIPCLUSTER_INLINE void ClusterState::fill_header(MessageType type, Header& h) const {
    const detail::Node& me = nodes_.myself();
    const detail::Node* master = (me.is_replica() && me.master) ? nodes_.find(*me.master) : nullptr;
    h.type = type;
    h.port = config_.port;
    h.current_epoch = current_epoch_;
    h.config_epoch = master ? master->config_epoch : me.config_epoch;
    h.offset = me.repl_offset;
    h.sender = my_id();
    h.myslots = slots_.claim_of(master ? *master : me);
    h.slaveof = (me.is_replica() && me.master) ? *me.master : NodeId{};
    h.myip.assign(config_.announce_ip);
    h.pport = config_.pport;
    h.cport = config_.bus_port();
    // We read every extension type; Redis 8 and Valkey 8 say so with this bit too. Redis 7.0
    // ignores it, and it tells another node of ours apart from a 7.0 node that sends its
    // hostname alone.
    h.flags = me.flags | node_flag::kExtensionsSupported;
    h.state = cluster_ok_ ? BusClusterState::Ok : BusClusterState::Fail;
    h.mflags = {};
    // A master paused for a manual failover says so in every header, with its final offset.
    if (me.is_master() && mf_.in_progress()) h.mflags[0] |= message_flag::kPaused;
}

GOSSIPCLUSTER_INLINE Message ClusterState::build_ping(Now now, MessageType type,
                                                      const detail::Node* target, ExtSet exts,
                                                      GossipSize size) {
    Message msg;
    fill_ping(msg, now, type, target, exts, size);
    return msg;
}

// The extensions a peer gets. A peer known to read them all (or whose message `received` shows
// it does) gets them all. Any other may be Redis 7.0, which warns about every type but the
// hostname and forgets our hostname if a PING or PONG lacks it: it gets the hostname alone, sent
// to every peer as 7.0 sends it; only extensions_only_to_advertisers spares a peer that never set
// EXT_DATA (pre-7.0 nodes drop frames with extensions).
GOSSIPCLUSTER_INLINE ExtSet ClusterState::ext_set_for(const detail::Node* peer,
                                                      const Message* received) const {
    if ((peer && peer->reads_all_ext) || (received && reads_all_extensions(*received)))
        return ExtSet::All;
    const bool advertised = (peer && peer->supports_ext) ||
                            (received && (received->header.mflags[0] & message_flag::kExtData));
    if (config_.extensions_only_to_advertisers && !advertised) return ExtSet::None;
    return ExtSet::Hostname;
}

// A message from a node that reads every extension: one with EXTENSIONS_SUPPORTED, or one
// carrying a type Redis 7.0 does not know (7.0 sends the hostname and nothing else).
GOSSIPCLUSTER_INLINE bool ClusterState::reads_all_extensions(const Message& msg) {
    if (msg.header.flags & node_flag::kExtensionsSupported) return true;
    const auto* body = std::get_if<GossipBody>(&msg.body);
    if (!body || !(msg.header.mflags[0] & message_flag::kExtData)) return false;
    return std::any_of(
        body->extensions.begin(), body->extensions.end(),
        [](const PingExtension& e) { return !std::holds_alternative<HostnameExt>(e); });
}

// Fills msg in place: a ping is about 2.3 KB, and building it where it is sent from saves copying
// it twice on the way into the output.
GOSSIPCLUSTER_INLINE void ClusterState::fill_ping(Message& msg, Now now, MessageType type,
                                                  const detail::Node* target, ExtSet exts,
                                                  GossipSize size) {
    fill_header(type, msg.header);
    // We can always parse extensions; saying so lets peers send us theirs.
    msg.header.mflags[0] |= message_flag::kExtData;
    // queue_send may have put in an empty section with room from an earlier message.
    auto* reused = std::get_if<GossipBody>(&msg.body);
    GossipBody& body = reused ? *reused : msg.body.emplace<GossipBody>();

    nodes_.refresh();
    const std::vector<detail::Node*>& order = nodes_.order();
    detail::GossipRequest request;
    request.self = &own_node();
    request.target = target;
    request.wanted = detail::gossip_entries_wanted(order.size(), size, config_.gossip_min_entries,
                                                   config_.gossip_divisor);
    request.whole_view = size.whole_view;
    request.max_suspects = pfail_nodes_ > 0 ? config_.max_pfail_gossip : 0;
    body.gossip.reserve(std::min(order.size(), request.wanted + request.max_suspects));
    gossip_.select(order, request, nodes_with_news_, prng_, [&](const detail::Node& node) {
        GossipEntry& e = body.gossip.emplace_back();
        e.node = node.id;
        e.ping_sent = static_cast<std::uint32_t>(to_unix(now, node.ping_sent) / 1000);
        // The last time we heard from the node at all: a PING it sent us proves it alive as well
        // as a PONG does, and a fresher time spares the receivers a ping of their own.
        const std::int64_t heard = std::max(node.pong_received, node.data_received);
        e.pong_received = static_cast<std::uint32_t>(to_unix(now, heard) / 1000);
        e.ip.assign(node.ip);
        e.port = node.port;
        e.cport = node.cport;
        e.flags = node.flags;
        e.pport = node.pport;
    });

    const detail::Node& me = own_node();
    if (exts != ExtSet::None && !me.hostname.empty())
        body.extensions.push_back(HostnameExt{me.hostname});
    if (exts == ExtSet::All) {
        if (!me.human_nodename.empty())
            body.extensions.push_back(HumanNodenameExt{me.human_nodename});
        append_forgotten_nodes(now, body, target);
        body.extensions.push_back(ShardIdExt{shard_id_});
    }
}

// Redis 7.2 sends one FORGOTTEN_NODE per blacklisted name in every PING, however many there are;
// past kMaxExtensions records the receivers' decoders (ours among them) drop the PING, and the
// sender ends up FAILed. At most kMaxForgottenPerMessage go out here: a longer blacklist is sent
// in turns, each message continuing after the last name the previous one to the same receiver
// carried, so every name reaches every peer within a few pings of it.
GOSSIPCLUSTER_INLINE void ClusterState::append_forgotten_nodes(Now now, GossipBody& body,
                                                               const detail::Node* target) {
    std::size_t room = kMaxForgottenPerMessage;
    NodeId* cursor = nullptr;
    auto append = [&](auto first, auto last) {
        for (; first != last && room > 0; ++first) {
            const auto& [id, expiry] = *first;
            if (expiry <= now.mono.ms) continue;
            auto ttl = static_cast<std::uint64_t>((expiry - now.mono.ms + 999) / 1000);
            body.extensions.push_back(ForgottenNodeExt{id, ttl});
            if (cursor) *cursor = id;
            --room;
        }
    };
    if (blacklist_.size() <= room) {
        forgotten_turns_.clear();
        append(blacklist_.begin(), blacklist_.end());
        return;
    }
    // Receivers deleted meanwhile leave entries behind: drop them before they outnumber the view.
    if (forgotten_turns_.size() > nodes_.size())
        std::erase_if(forgotten_turns_, [&](const auto& kv) {
            return !kv.first.is_null() && !nodes_.contains(kv.first);
        });
    cursor = &forgotten_turns_[target ? target->id : NodeId{}];
    const auto from = blacklist_.upper_bound(*cursor);
    append(from, blacklist_.end());
    append(blacklist_.begin(), from);
}

GOSSIPCLUSTER_INLINE void ClusterState::send_on_link(LinkId link, Message msg, Output& out) {
    count_sent(msg.header.type);
    out.actions.emplace_back(action::Send{link, std::move(msg)});
}

// A Send action for `link`, counted as a message of `type`, whose message the caller fills in
// place (a PING, PONG or MEET finds a gossip section with room in it). The reference lasts until
// the next action is added.
GOSSIPCLUSTER_INLINE Message& ClusterState::queue_send(LinkId link, MessageType type, Output& out) {
    count_sent(type);
    auto& send = std::get<action::Send>(out.actions.emplace_back(std::in_place_type<action::Send>));
    send.link = link;
    if (type == MessageType::Ping || type == MessageType::Pong || type == MessageType::Meet)
        send.message.body = out.take_gossip_body();
    return send.message;
}

GOSSIPCLUSTER_INLINE void ClusterState::send_ping(Now now, detail::Node& node, MessageType type,
                                                  Output& out, GossipSize size) {
    if (!node.link.valid()) return;
    fill_ping(queue_send(node.link, type, out), now, type, &node, ext_set_for(&node), size);
    if (type == MessageType::Ping || type == MessageType::Meet) {
        last_ping_exchange_ = now.mono.ms;
        if (node.ping_sent == 0) {
            node.ping_sent = now.mono.ms;
            // A pending ping makes the node due for the stale-link and PFAIL checks.
            wake_node_at(node, on_ping_grid(node.ping_sent + config_.node_timeout.count() / 4 + 1));
        }
    }
}

GOSSIPCLUSTER_INLINE void ClusterState::broadcast(const Message& msg, Output& out) {
    for (auto& [id, node] : nodes_) {
        if (id == my_id() || node.in_handshake() || !node.link.valid()) continue;
        send_on_link(node.link, msg, out);
    }
}

// One PONG to every linked peer (after a change of role or slots). It carries our hostname: a
// PONG without it would make Redis 7.0 (and us) forget it until the next ping. A peer that must
// get no extension at all gets a copy without.
GOSSIPCLUSTER_INLINE void ClusterState::broadcast_pong(Now now, Output& out) {
    const Message pong = build_ping(now, MessageType::Pong, nullptr, ExtSet::Hostname);
    const auto* body = std::get_if<GossipBody>(&pong.body);
    for (auto& [id, node] : nodes_) {
        if (id == my_id() || node.in_handshake() || !node.link.valid()) continue;
        if (body && !body->extensions.empty() && ext_set_for(&node) == ExtSet::None) {
            Message bare = pong;
            std::get<GossipBody>(bare.body).extensions.clear();
            send_on_link(node.link, std::move(bare), out);
        } else {
            send_on_link(node.link, pong, out);
        }
    }
}

GOSSIPCLUSTER_INLINE void ClusterState::push_news(Now now, Output& out) {
    news_pending_ = false;
    if (config_.news_push_fanout == 0) return;
    nodes_.refresh();
    std::vector<detail::Node*> candidates;
    for (detail::Node* node : nodes_.order()) {
        if (node->id == my_id() || node->in_handshake() || !node->link.valid()) continue;
        if (node->flags & (node_flag::kNoAddr | node_flag::kFail | node_flag::kPfail)) continue;
        candidates.push_back(node);
    }
    std::size_t pushes = std::min(config_.news_push_fanout, candidates.size());
    for (std::size_t i = 0; i < pushes; ++i) {
        // Partial Fisher-Yates: distinct random peers.
        std::size_t j = i + prng_.below(candidates.size() - i);
        std::swap(candidates[i], candidates[j]);
        send_ping(now, *candidates[i], MessageType::Ping, out);
    }
}

GOSSIPCLUSTER_INLINE void ClusterState::finish(Now now, Output& out) {
    GOSSIPCLUSTER_INVARIANT(last_vote_epoch_ <= current_epoch_);
    if (news_pending_) push_news(now, out);
    // Whatever marked our master FAIL (our own quorum, a FAIL message, a header), the election
    // is scheduled now rather than at the next planned wake-up, up to a second away.
    if (!election_.scheduled() && election_due())
        timers_.lower(detail::Timer::Election, now.mono.ms);
    if (reported_ok_ != cluster_ok_) {
        reported_ok_ = cluster_ok_;
        out.events.push_back(event::ClusterStateChanged{cluster_ok_});
    }
    if (dirty_) {
        out.save = true;
        out.fsync = out.fsync || dirty_fsync_;
        dirty_ = dirty_fsync_ = false;
    }
}

}  // namespace gossipcluster
