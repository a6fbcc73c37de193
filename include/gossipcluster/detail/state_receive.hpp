// ClusterState, part 2: processing received messages (handshake, gossip, extensions, epochs).
#pragma once

#include <algorithm>

#include "gossipcluster/detail/address.hpp"

namespace gossipcluster {

GOSSIPCLUSTER_INLINE void ClusterState::on_message(Now now, LinkId link, const Message& msg,
                                                   Output& out) {
    LinkInfo* found = links_.find(link);
    if (!found) return;  // closed meanwhile
    LinkInfo& info = *found;
    const Header& h = msg.header;
    auto type_index = static_cast<std::size_t>(h.type);
    if (type_index < kMessageTypeCount) ++counters_.received[type_index];
    // Such an epoch comes from a corrupt or hostile peer (see kEpochLimit). Its claims cannot be
    // weighed against real epochs either, so nothing of the message is used.
    if (h.current_epoch >= kEpochLimit || h.config_epoch >= kEpochLimit) {
        ++counters_.dropped_epoch_limit;
        return;
    }

    detail::Node* sender = identify_sender(link, info, h, out);
    // A node can only be myself through a bug or a forged frame: ignore such messages.
    if (sender && sender->id == my_id()) return;
    if (sender) note_heard_from(now, *sender, msg, out);

    switch (h.type) {
        case MessageType::Ping:
        case MessageType::Pong:
        case MessageType::Meet:
            process_gossip_message(now, link, info, sender, msg, out);
            break;
        case MessageType::Fail:
            process_fail(now, sender, std::get<FailBody>(msg.body), out);
            break;
        case MessageType::Update:
            process_update(now, sender, std::get<UpdateBody>(msg.body), out);
            break;
        case MessageType::FailoverAuthRequest:
            process_auth_request(now, sender, h, out);
            break;
        case MessageType::FailoverAuthAck:
            process_auth_ack(now, sender, h, out);
            break;
        case MessageType::MfStart:
            process_mfstart(now, sender, out);
            break;
        case MessageType::Publish:
        case MessageType::PublishShard:
            process_publish(msg, sender, out);
            break;
        case MessageType::Module:
            process_module(msg, sender, out);
            break;
        default:
            // PUBLISH, votes, UPDATE, MFSTART and MODULE are handled by the later layers; from an
            // unknown sender they are ignored as Redis does.
            if (!sender) ++counters_.dropped_unknown_sender;
            break;
    }
    finish(now, out);
}

// Who sent a message: the node bound to the link unless that one is still a handshake, else the
// node the header names. An inbound link is bound to its sender on the first message.
GOSSIPCLUSTER_INLINE detail::Node* ClusterState::identify_sender(LinkId link, LinkInfo& info,
                                                                 const Header& h, Output& out) {
    detail::Node* sender = nullptr;
    if (!info.node.is_null()) {
        detail::Node* bound = lookup(info.node);
        if (bound && !bound->in_handshake()) sender = bound;
    }
    if (!sender) {
        detail::Node* named = lookup(h.sender);
        if (named && !named->in_handshake()) sender = named;
    }
    if (!sender || sender->id == my_id()) return sender;
    if (info.inbound && info.node.is_null()) {
        if (sender->inbound_link.valid() && sender->inbound_link != link)
            close_link(sender->inbound_link, out);
        sender->inbound_link = link;
        info.node = sender->id;
    }
    return sender;
}

// What any message from a known node tells: it is alive now, its offset, what it reads, its
// epochs, and (for a replica in a manual failover) the paused master's final offset.
GOSSIPCLUSTER_INLINE void ClusterState::note_heard_from(Now now, detail::Node& sender,
                                                        const Message& msg, Output& out) {
    const Header& h = msg.header;
    if (mf_.in_progress() && (h.mflags[0] & message_flag::kPaused)) {
        const detail::Node& me = own_node();
        if (me.is_replica() && me.master && *me.master == sender.id)
            mf_.note_paused_master(h.offset);
    }
    sender.data_received = now.mono.ms;
    sender.link_lost = false;
    sender.repl_offset = h.offset;
    if (h.mflags[0] & message_flag::kExtData) sender.supports_ext = true;
    if (reads_all_extensions(msg)) sender.reads_all_ext = true;
    update_epochs_from_header(h, sender);
    // Any message is an answer. Since a peer that talks to us is not pinged (its messages already
    // prove it alive), waiting for a PONG could leave a PFAIL or FAIL in place for good after a
    // partition heals.
    if (sender.timed_out()) {
        sender.flags &= static_cast<std::uint16_t>(~node_flag::kPfail);
        rescan_soon(sender);  // watched for PFAIL again
        out.events.push_back(event::NodeRecovered{sender.id});
        note_news(sender);
        update_cluster_state(now);
    } else if (sender.failing()) {
        clear_failure_if_needed(now, sender, out);
    }
}

GOSSIPCLUSTER_INLINE void ClusterState::update_epochs_from_header(const Header& h,
                                                                  detail::Node& sender) {
    // on_message already drops headers at or above kEpochLimit; checked again so that this
    // function keeps the bound whoever calls it.
    if (h.current_epoch > current_epoch_ && h.current_epoch < kEpochLimit) {
        current_epoch_ = h.current_epoch;
        mark_dirty(true);
    }
    // A replica's header carries its master's epoch; only a master's claim is its own.
    if (h.slaveof.is_null() && h.config_epoch > sender.config_epoch &&
        h.config_epoch < kEpochLimit) {
        sender.config_epoch = h.config_epoch;
        mark_dirty(true);
    }
}

GOSSIPCLUSTER_INLINE void ClusterState::process_gossip_message(Now now, LinkId link, LinkInfo& info,
                                                               detail::Node* sender,
                                                               const Message& msg, Output& out) {
    const Header& h = msg.header;
    const auto& body = std::get<GossipBody>(msg.body);
    detail::Node& me = me_node();
    learn_own_address(me, info, h);
    if (!sender && h.type == MessageType::Meet && info.inbound) add_met_stranger(now, info, h, out);
    // Any PING or MEET is answered, even from an unknown sender: that is how handshakes finish.
    if (h.type == MessageType::Ping || h.type == MessageType::Meet)
        answer_ping(now, link, sender, msg, out);

    // On our own links, the answer tells us who is at the address we connected to.
    if (!info.inbound) {
        detail::Node* linked = lookup(info.node);
        if (!linked) return;
        if (linked->in_handshake()) {
            if (h.type != MessageType::Pong) return;
            sender = complete_handshake(now, *linked, info, msg, out);
            if (!sender) return;
        } else if (linked->id != h.sender) {
            forget_moved_address(*linked, out);
            return;
        }
    }
    if (sender && h.type == MessageType::Ping && info.inbound &&
        update_address_if_needed(*sender, link, info, h, out)) {
        out.events.push_back(
            event::NodeAddressChanged{sender->id, sender->ip, sender->port, sender->cport});
        note_news(*sender);
    }
    if (!info.inbound && h.type == MessageType::Pong) note_pong(now, info, sender, out);

    if (!sender) return;
    // The sender's own word on NOFAILOVER, in every header: gossip only carries it to nodes that
    // learn of the sender, and the setting may change while it runs.
    const auto nofailover = static_cast<std::uint16_t>(h.flags & node_flag::kNoFailover);
    if ((sender->flags & node_flag::kNoFailover) != nofailover) {
        sender->flags =
            static_cast<std::uint16_t>((sender->flags & ~node_flag::kNoFailover) | nofailover);
        mark_dirty(false);
    }
    update_role_from_header(h, *sender);
    process_header_claim(now, link, *sender, h, out);
    // Equal epochs, zero included, are a collision: fresh masters spread out as in Redis.
    if (h.slaveof.is_null() && me.is_master() && sender->is_master() &&
        sender->config_epoch == me.config_epoch)
        handle_epoch_collision(*sender);
    process_gossip_section(now, sender, body, out);
    process_extensions(now, *sender, body, out);
}

// Learns our own address from the socket a peer reached us on, unless one is announced.
GOSSIPCLUSTER_INLINE void ClusterState::learn_own_address(detail::Node& me, const LinkInfo& info,
                                                          const Header& h) {
    if (info.inbound && (h.type == MessageType::Meet || me.ip.empty()) &&
        config_.announce_ip.empty() && !info.local_ip.empty() && me.ip != info.local_ip) {
        me.ip = info.local_ip;
        mark_dirty(false);
    }
}

// A MEET from a stranger: it becomes a handshake node, and we connect back to ask its name.
GOSSIPCLUSTER_INLINE void ClusterState::add_met_stranger(Now now, const LinkInfo& info,
                                                         const Header& h, Output& out) {
    std::string ip(h.myip.view());
    if (ip.empty()) ip = info.peer_ip;
    const auto norm = detail::normalize_ip(ip);
    if (!norm || nodes_.size() >= config_.max_nodes ||
        handshake_in_progress(*norm, h.port, h.cport))
        return;
    detail::Node n;
    n.id = random_name();
    n.flags = node_flag::kHandshake;
    n.ctime = now.mono.ms;
    n.ip = *norm;
    n.port = h.port;
    n.cport = h.cport;
    n.pport = h.pport;
    // Connect back at once instead of at the next cron tick: the handshake ends sooner.
    connect_node(now, add_node(std::move(n), out), out);
}

GOSSIPCLUSTER_INLINE void ClusterState::answer_ping(Now now, LinkId link,
                                                    const detail::Node* sender, const Message& msg,
                                                    Output& out) {
    const ExtSet exts = ext_set_for(sender, &msg);
    // The answer is no bigger than the question: a small first ping on a new link gets a small
    // PONG, and a peer's usual PING (Redis's too) gets the usual section.
    const std::size_t asked = std::get<GossipBody>(msg.body).gossip.size();
    fill_ping(queue_send(link, MessageType::Pong, out), now, MessageType::Pong, sender, exts,
              GossipSize::at_most(asked));
    last_ping_exchange_ = now.mono.ms;
}

// The first PONG on our link to a handshake node names it. Returns the named node, or null when
// the handshake entry was dropped instead (a node we already knew, or ourselves).
GOSSIPCLUSTER_INLINE detail::Node* ClusterState::complete_handshake(Now now, detail::Node& linked,
                                                                    const LinkInfo& info,
                                                                    const Message& msg,
                                                                    Output& out) {
    const Header& h = msg.header;
    if (detail::Node* known = lookup(h.sender); known && !known->in_handshake()) {
        // We already knew that node under its real name: keep that entry, drop ours.
        if (update_address_if_needed(*known, LinkId{}, info, h, out))
            out.events.push_back(
                event::NodeAddressChanged{known->id, known->ip, known->port, known->cport});
        NodeId temp = linked.id;
        delete_node(temp, out);
        return nullptr;
    }
    if (h.sender == my_id()) {
        // We met ourselves (a MEET to our own address).
        delete_node(linked.id, out);
        return nullptr;
    }
    NodeId temp = linked.id;
    rename_node(temp, h.sender);
    detail::Node* named = lookup(h.sender);
    named->flags &= static_cast<std::uint16_t>(~node_flag::kHandshake);
    rescan_soon(*named);
    named->flags |= h.slaveof.is_null() ? node_flag::kMaster : node_flag::kSlave;
    named->data_received = now.mono.ms;
    if (h.mflags[0] & message_flag::kExtData) named->supports_ext = true;
    if (reads_all_extensions(msg)) named->reads_all_ext = true;
    update_epochs_from_header(h, *named);
    out.events.push_back(event::HandshakeCompleted{temp, named->id});
    note_news(*named);
    mark_dirty(false);
    // Welcome the newcomer with our whole view in one PING, once per handshake, instead of
    // letting it learn the cluster three random entries at a time.
    send_ping(now, *named, MessageType::Ping, out, GossipSize::everything());
    // And tell every peer at once (the news rides first in each PING): a join is rare, and one
    // message per peer beats waiting for gossip rounds.
    named->news += static_cast<std::uint32_t>(nodes_.size());
    for (auto& [oid, other] : nodes_) {
        if (oid == my_id() || oid == named->id || other.in_handshake() || !other.link.valid())
            continue;
        send_ping(now, other, MessageType::Ping, out);
    }
    news_pending_ = false;
    return named;
}

// The address we connected to answers with another name: the node we knew there moved away.
GOSSIPCLUSTER_INLINE void ClusterState::forget_moved_address(detail::Node& linked, Output& out) {
    linked.flags |= node_flag::kNoAddr;
    linked.ip.clear();
    linked.port = linked.cport = linked.pport = 0;
    free_outbound_link(linked, out);
    out.events.push_back(event::NodeNoAddr{linked.id});
    note_news(linked);
    mark_dirty(false);
}

// A PONG on our own link: the node answers, so it is reachable and no longer suspected by us.
GOSSIPCLUSTER_INLINE void ClusterState::note_pong(Now now, const LinkInfo& info,
                                                  const detail::Node* sender, Output& out) {
    detail::Node* linked = lookup(info.node);
    if (!linked || linked != sender) return;
    linked->pong_received = now.mono.ms;
    linked->ping_sent = 0;
    linked->link_up = true;
    wake_node_at(*linked, on_ping_grid(now.mono.ms + config_.node_timeout.count() / 2 + 1));
    if (linked->timed_out()) {
        linked->flags &= static_cast<std::uint16_t>(~node_flag::kPfail);
        rescan_soon(*linked);
        out.events.push_back(event::NodeRecovered{linked->id});
        note_news(*linked);
    } else if (linked->failing()) {
        clear_failure_if_needed(now, *linked, out);
    }
}

// The slots in a header: a master's own claim, or (a replica's header) its master's.
GOSSIPCLUSTER_INLINE void ClusterState::process_header_claim(Now now, LinkId link,
                                                             detail::Node& sender, const Header& h,
                                                             Output& out) {
    detail::Node* claimant = h.slaveof.is_null() ? &sender : lookup(h.slaveof);
    if (!claimant || claimant->in_handshake() || claim_matches(*claimant, h.myslots)) return;
    if (claimant == &sender) {
        note_disowned_slots(sender, h.config_epoch, h.myslots);
        update_slots_from_claim(now, sender, h.config_epoch, h.myslots, out);
    }
    const LinkId reply = sender.link.valid() ? sender.link : link;
    check_stale_claim(now, reply, *claimant, h.config_epoch, h.myslots, out);
}

GOSSIPCLUSTER_INLINE void ClusterState::update_role_from_header(const Header& h,
                                                                detail::Node& sender) {
    if (h.slaveof.is_null()) {
        if (!sender.is_master()) {
            // A promoted replica starts without replicas: an orphaned master that replica
            // migration may refill, as Redis marks it.
            const bool promoted = sender.is_replica() && sender.master.has_value();
            sender.flags = static_cast<std::uint16_t>((sender.flags & ~node_flag::kSlave) |
                                                      node_flag::kMaster);
            if (promoted) {
                sender.flags |= node_flag::kMigrateTo;
                ++view_version_;
            }
            sender.master.reset();
            note_news(sender);
            mark_dirty(false);
        }
        return;
    }
    // A header that names its own sender as its master is malformed: its role is ignored (Redis
    // would record the node as its own replica).
    if (h.slaveof == sender.id) return;
    if (!sender.is_replica()) {
        // A replica's header carries its master's epoch. One older than the sender's own epoch,
        // while the sender still claims slots here, is a message it wrote before its promotion
        // and that arrived after the promotion on its other link: a master with slots becomes a
        // replica only when they go to a newer epoch (a failover) or when it stopped claiming
        // them (disowned). Taken as news, it left the slots without an owner here until the
        // sender's next message to us, at 600 nodes over a minute later.
        if (h.config_epoch < sender.config_epoch && slots_.still_claims_some(sender)) return;
        sender.flags =
            static_cast<std::uint16_t>((sender.flags & ~node_flag::kMaster) | node_flag::kSlave);
        // A master turned replica owns nothing any more.
        slots_.release(sender);
        note_news(sender);
        mark_dirty(false);
    }
    if (detail::Node* master = lookup(h.slaveof)) {
        // Masters that have had replicas are the ones replica migration may refill.
        if (!master->has(node_flag::kMigrateTo)) {
            master->flags |= node_flag::kMigrateTo;
            ++view_version_;
        }
        if (!sender.master || *sender.master != h.slaveof) {
            sender.master = h.slaveof;
            mark_dirty(false);
        }
    }
}

GOSSIPCLUSTER_INLINE bool ClusterState::update_address_if_needed(detail::Node& node, LinkId link,
                                                                 const LinkInfo& info,
                                                                 const Header& h, Output& out) {
    // Never trust an address learnt over our own outbound link to that node.
    if (link.valid() && link == node.link) return false;
    std::string_view ip = h.myip.view();
    if (ip.empty()) ip = info.peer_ip;
    // Normalising parses and prints the address; the one we hold is already normal, and almost
    // every PING brings it unchanged.
    if (node.ip == ip && node.port == h.port && node.cport == h.cport && node.pport == h.pport)
        return false;
    auto norm = detail::normalize_ip(ip);
    if (!norm) return false;
    if (node.ip == *norm && node.port == h.port && node.cport == h.cport && node.pport == h.pport)
        return false;
    node.ip = *norm;
    node.port = h.port;
    node.cport = h.cport;
    node.pport = h.pport;
    node.flags &= static_cast<std::uint16_t>(~node_flag::kNoAddr);
    free_outbound_link(node, out);
    mark_dirty(false);
    return true;
}

GOSSIPCLUSTER_INLINE void ClusterState::handle_epoch_collision(detail::Node& sender) {
    // The node with the smaller name moves to a fresh epoch; the greatest name never moves.
    if (sender.id <= my_id()) return;
    if (!advance_current_epoch()) return;
    me_node().config_epoch = current_epoch_;
    mark_dirty(true);
}

GOSSIPCLUSTER_INLINE void ClusterState::process_gossip_section(Now now, detail::Node* sender,
                                                               const GossipBody& body,
                                                               Output& out) {
    const bool reporter_counts = sender && sender->serves_slots();
    // A large view misses the cache twice on every entry; see NodeIndex::prefetch_slot.
    constexpr std::size_t kSlotAhead = 8;
    constexpr std::size_t kNodeAhead = 4;
    constexpr std::size_t kRing = 16;  // a power of two above kSlotAhead
    std::uint64_t hashes[kRing];
    const std::size_t count = body.gossip.size();
    nodes_.refresh();
    for (std::size_t j = 0; j < std::min(count, kSlotAhead); ++j) {
        hashes[j % kRing] = detail::NodeIndex::hash_of(body.gossip[j].node);
        nodes_.index().prefetch_slot(hashes[j % kRing]);
    }
    for (std::size_t k = 0; k < count; ++k) {
        nodes_.refresh();  // a stranger added below changed the membership
        if (const std::size_t j = k + kSlotAhead; j < count) {
            hashes[j % kRing] = detail::NodeIndex::hash_of(body.gossip[j].node);
            nodes_.index().prefetch_slot(hashes[j % kRing]);
        }
        if (k + kNodeAhead < count) nodes_.index().prefetch_node(hashes[(k + kNodeAhead) % kRing]);
        const GossipEntry& g = body.gossip[k];
        if (g.node == my_id()) continue;
        detail::Node* node = nodes_.lookup(g.node, hashes[k % kRing]);
        const std::uint16_t gflags = g.flags;
        if (node) {
            if (node->in_handshake()) continue;
            if (reporter_counts && sender != node) {
                if (gflags & (node_flag::kFail | node_flag::kPfail)) {
                    // Checked on a refreshed report too, as Redis does: the quorum may have been
                    // reached since the report first came (fewer masters with slots, or we
                    // became one), and nothing else looks again at a node already suspected.
                    node->fail_reports.add(sender->id, now.mono.ms);
                    mark_failing_if_needed(now, *node, out);
                } else {
                    node->fail_reports.remove(sender->id);
                }
            }
            // Someone heard from this node recently: no need for us to ping it as early.
            if (!(gflags & (node_flag::kFail | node_flag::kPfail)) && node->ping_sent == 0 &&
                node->fail_reports.empty()) {
                std::uint64_t pong_unix = static_cast<std::uint64_t>(g.pong_received) * 1000;
                if (pong_unix <= now.unix_ms + 500 && pong_unix > to_unix(now, node->pong_received))
                    node->pong_received = std::min(from_unix(now, pong_unix), now.mono.ms);
            }
            // A node we cannot reach is reachable at another address according to someone who can.
            if ((node->flags & (node_flag::kFail | node_flag::kPfail | node_flag::kNoAddr)) &&
                !(gflags & (node_flag::kNoAddr | node_flag::kFail | node_flag::kPfail))) {
                auto norm = detail::normalize_ip(g.ip.view());
                if (norm && (node->ip != *norm || node->port != g.port || node->cport != g.cport)) {
                    node->ip = *norm;
                    node->port = g.port;
                    node->cport = g.cport;
                    node->pport = g.pport;
                    node->flags &= static_cast<std::uint16_t>(~node_flag::kNoAddr);
                    free_outbound_link(*node, out);
                    out.events.push_back(
                        event::NodeAddressChanged{node->id, node->ip, node->port, node->cport});
                    mark_dirty(false);
                }
            }
            continue;
        }
        // A stranger vouched for by a known node joins under its real name, unless forgotten.
        if (!sender || (gflags & node_flag::kNoAddr) || blacklisted(now, g.node)) continue;
        if (nodes_.size() >= config_.max_nodes) continue;
        auto norm = detail::normalize_ip(g.ip.view());
        if (!norm || g.port == 0 || g.cport == 0) continue;
        detail::Node n;
        n.id = g.node;
        n.flags = gflags & (node_flag::kMaster | node_flag::kSlave | node_flag::kNoFailover);
        if (!(n.flags & (node_flag::kMaster | node_flag::kSlave))) n.flags |= node_flag::kMaster;
        n.ctime = now.mono.ms;
        n.ip = *norm;
        n.port = g.port;
        n.cport = g.cport;
        n.pport = g.pport;
        detail::Node& added = add_node(std::move(n), out);
        note_news(added);
        // Connect on this step so the newcomer sees us without waiting for the next cron tick.
        connect_node(now, added, out);
    }
}

GOSSIPCLUSTER_INLINE void ClusterState::process_extensions(Now now, detail::Node& sender,
                                                           const GossipBody& body, Output& out) {
    bool saw_hostname = false;
    for (const auto& ext : body.extensions) {
        if (const auto* hn = std::get_if<HostnameExt>(&ext)) {
            // One that nodes.conf cannot carry would make the next save fail: ignored, as if
            // the sender had announced none.
            if (!valid_hostname(hn->hostname)) continue;
            saw_hostname = true;
            if (sender.hostname != hn->hostname) {
                sender.hostname = hn->hostname;
                mark_dirty(false);
            }
        } else if (const auto* shard = std::get_if<ShardIdExt>(&ext)) {
            sender.shard_id = shard->shard_id;
            // A replica belongs to its master's shard, whatever id it drew at start.
            const auto& me = own_node();
            if (me.is_replica() && me.master && *me.master == sender.id)
                adopt_shard_id(shard->shard_id);
        } else if (const auto* human = std::get_if<HumanNodenameExt>(&ext)) {
            if (valid_human_nodename(human->name)) sender.human_nodename = human->name;
        } else if (const auto* fg = std::get_if<ForgottenNodeExt>(&ext)) {
            // A sender asking to forget itself is hostile: `sender` is still in use below.
            if (fg->node == my_id() || fg->node == sender.id) continue;
            const auto& me = own_node();
            if (me.master && *me.master == fg->node) continue;
            if (!lookup(fg->node)) continue;
            std::uint64_t ttl_ms = std::min<std::uint64_t>(fg->ttl_seconds, 3600) * 1000;
            blacklist_add(now, fg->node, Duration{static_cast<std::int64_t>(ttl_ms)});
            delete_node(fg->node, out);
            out.events.push_back(event::NodeForgotten{fg->node, true});
            mark_dirty(false);
        }
    }
    if (!saw_hostname && !sender.hostname.empty()) {
        sender.hostname.clear();
        mark_dirty(false);
    }
}

GOSSIPCLUSTER_INLINE void ClusterState::process_fail(Now now, detail::Node* sender,
                                                     const FailBody& body, Output& out) {
    if (!sender) {
        ++counters_.dropped_unknown_sender;
        return;
    }
    detail::Node* failing = lookup(body.node);
    if (!failing || failing->id == my_id() || failing->failing() || failing->in_handshake()) return;
    failing->flags |= node_flag::kFail;
    failing->flags &= static_cast<std::uint16_t>(~node_flag::kPfail);
    failing->fail_time = now.mono.ms;
    failed_since_failover_step_ = true;
    out.events.push_back(event::NodeFailed{failing->id, true});
    note_news(*failing);
    update_cluster_state(now);
    mark_dirty(false);
}

}  // namespace gossipcluster
