// ClusterState, part 6: slot ownership from claims and UPDATE, the slot and epoch commands.
#pragma once

#include <algorithm>

namespace gossipcluster {

// Every header repeats its sender's claim, and walking the slot table for it costs a cache miss
// per owned slot in a large view: a claim found equal once is recognised by its hash until the
// slot table changes.
GOSSIPCLUSTER_INLINE bool ClusterState::claim_matches(detail::Node& node,
                                                      const SlotBitmap& claimed) {
    const std::uint64_t hash = detail::SlotTable::claim_hash(claimed);
    if (slots_.remembered_match(node, hash)) return true;
    if (!slots_.owns_exactly(node, claimed)) return false;
    // It claims every slot we credit to it again (an earlier claim arrived late).
    if (slots_.any_disowned()) note_disowned_slots(node, node.config_epoch, claimed);
    slots_.remember_match(node, hash);
    return true;
}

GOSSIPCLUSTER_INLINE void ClusterState::set_role_master(detail::Node& node) {
    if (node.is_master() && !node.master) return;
    node.flags = static_cast<std::uint16_t>((node.flags & ~node_flag::kSlave) | node_flag::kMaster);
    node.master.reset();
    note_news(node);
    mark_dirty(false);
}

// The rule that keeps one owner per slot: a claim wins a slot only with a greater configEpoch than
// the current owner's, or when the owner itself stopped claiming it (see note_disowned_slots).
// When we, or our master, lose every slot to the claimant, we follow it.
GOSSIPCLUSTER_INLINE void ClusterState::update_slots_from_claim(Now now, detail::Node& claimant,
                                                                Epoch claim_epoch,
                                                                const SlotBitmap& claimed,
                                                                Output& out) {
    if (claimant.id == my_id()) return;
    detail::Node& me = me_node();
    detail::Node* my_master = me.is_master() ? &me : (me.master ? lookup(*me.master) : nullptr);
    bool followed_changed = false;
    std::size_t taken_from_us = 0;  // slots of our side of the shard the claim took
    event::SlotsChanged change{claimant.id, {}, {}};
    for (std::size_t s = 0; s < kSlotCount; ++s) {
        if (!claimed.test(s)) continue;
        detail::Node* owner = slots_.owner(s);
        if (owner == &claimant) continue;
        if (slots_.importing().contains(static_cast<std::uint16_t>(s)))
            continue;  // an import in progress is settled by SETSLOT, not gossip
        if (owner && owner->config_epoch >= claim_epoch && !slots_.disowned(s)) continue;
        if (owner == &me) change.lost_by_me.push_back(static_cast<std::uint16_t>(s));
        if (owner && owner == my_master) {
            followed_changed = true;
            ++taken_from_us;
        }
        slots_.assign(s, claimant);
        change.moved.push_back(static_cast<std::uint16_t>(s));
        mark_dirty(true);
    }
    if (change.moved.empty()) return;
    out.events.push_back(std::move(change));
    update_cluster_state(now);
    if (!followed_changed || !my_master || my_master->slot_count != 0) return;
    // Our side of the shard lost every slot to the claimant. When the claim holds nothing but our
    // slots, the claimant took over our shard (a failover we missed) and we follow it. When it
    // holds others too, our slots were migrated to another master: following it is a replica
    // migration, which cluster-allow-replica-migration no forbids, as in Redis 7.0; a master
    // then stays a master without slots.
    if (!config_.allow_replica_migration && taken_from_us != claimed.count()) return;
    if (my_master == &me || (me.master && *me.master != claimant.id)) {
        become_replica_of(now, claimant, out);
    }
}

// Redis keeps a replica in its master's shard; the id is not saved (Redis 7.0's nodes.conf has no
// place for it), a restarted replica takes it again from its master's next ping.
GOSSIPCLUSTER_INLINE void ClusterState::adopt_shard_id(const NodeId& id) {
    if (!id.is_null()) shard_id_ = id;
}

GOSSIPCLUSTER_INLINE void ClusterState::become_replica_of(Now now, detail::Node& master,
                                                          Output& out) {
    detail::Node& me = me_node();
    const bool was_master = me.is_master();
    slots_.release(me);
    slots_.importing().clear();
    slots_.migrating().clear();
    reset_manual_failover(out);  // while still master: releases paused writes
    me.flags = static_cast<std::uint16_t>((me.flags & ~node_flag::kMaster) | node_flag::kSlave);
    // A report about the link to another master says nothing about this one.
    if (!me.master || *me.master != master.id) repl_link_.reset();
    me.master = master.id;
    if (!master.shard_id.is_null()) adopt_shard_id(master.shard_id);
    master.flags |= node_flag::kMigrateTo;
    reset_election();
    out.events.push_back(event::RoleChanged{false, master.id, was_master});
    update_cluster_state(now);
    mark_dirty(true);
    // Tell everybody at once; they would otherwise learn it from our next pings.
    broadcast_pong(now, out);
}

// A master's claim is the whole truth about its own slots at its epoch: a slot we still credit to
// it but that it leaves out has gone elsewhere (a failover or a migration we have not heard of
// yet) or was deleted. The owner's epoch cannot settle who has it now: the epoch belongs to the
// node and may have grown since the slot was won (a later election for other slots), so the
// rightful new owner's older epoch would lose against it forever. The slot stays routed to its
// old owner (which redirects) until some claim, of any epoch, arrives for it.
GOSSIPCLUSTER_INLINE void ClusterState::note_disowned_slots(const detail::Node& master,
                                                            Epoch claim_epoch,
                                                            const SlotBitmap& claimed) {
    if (master.id == my_id() || !master.is_master() || claim_epoch < master.config_epoch) return;
    slots_.note_claim_of_owner(master, claimed);
}

GOSSIPCLUSTER_INLINE void ClusterState::check_stale_claim(Now now, LinkId link,
                                                          const detail::Node& sender,
                                                          Epoch claim_epoch,
                                                          const SlotBitmap& claimed, Output& out) {
    for (std::size_t s = 0; s < kSlotCount; ++s) {
        if (!claimed.test(s)) continue;
        const detail::Node* owner = slots_.owner(s);
        if (!owner || owner == &sender) continue;
        if (owner->config_epoch <= claim_epoch || slots_.disowned(s)) continue;
        // The sender claims a slot a newer configuration gave to someone else: tell it. Slots
        // the owner itself stopped claiming are left out, as Redis 7.0 does: the receiver must
        // not bind them to the owner's epoch, or the slot's next claimant (often with an older
        // epoch) could never take them.
        Message update;
        update.header = build_header(MessageType::Update);
        update.body = UpdateBody{owner->config_epoch, owner->id, slots_.claimed_slots_of(*owner)};
        send_on_link(link, std::move(update), out);
        (void)now;
        return;
    }
}

GOSSIPCLUSTER_INLINE void ClusterState::process_update(Now now, detail::Node* sender,
                                                       const UpdateBody& body, Output& out) {
    if (!sender) {
        ++counters_.dropped_unknown_sender;
        return;
    }
    detail::Node* node = lookup(body.node);
    if (!node || node->in_handshake()) return;
    // We are the authority on our own configuration: an UPDATE about us (Redis discards its slot
    // part too) would set our configEpoch past our currentEpoch.
    if (node->id == my_id()) return;
    // Adopting such an epoch would leave its owner no room for a later one; see kEpochLimit.
    if (body.config_epoch >= kEpochLimit) return;
    if (node->config_epoch >= body.config_epoch) return;
    if (node->is_replica()) set_role_master(*node);
    node->config_epoch = body.config_epoch;
    mark_dirty(true);
    update_slots_from_claim(now, *node, body.config_epoch, body.slots, out);
}

// ADDSLOTS and DELSLOTS refuse the whole list if any slot is out of range, repeated, or (for
// ADDSLOTS) already owned / (for DELSLOTS) not owned.
GOSSIPCLUSTER_INLINE std::optional<CommandResult> ClusterState::check_slot_list(
    const std::vector<std::uint16_t>& slots, bool must_be_free) const {
    std::vector<bool> seen(kSlotCount, false);
    for (auto s : slots) {
        if (s >= kSlotCount) return CommandResult::failure(CommandError::InvalidSlot);
        if (seen[s]) return CommandResult::failure_slot(CommandError::SlotRepeated, s);
        seen[s] = true;
        if (must_be_free && slots_.owner(s))
            return CommandResult::failure_slot(CommandError::SlotBusy, s);
        if (!must_be_free && !slots_.owner(s))
            return CommandResult::failure_slot(CommandError::SlotUnassigned, s);
    }
    return std::nullopt;
}

GOSSIPCLUSTER_INLINE CommandResult ClusterState::add_slots(Now now,
                                                           const std::vector<std::uint16_t>& slots,
                                                           Output& out) {
    if (auto refused = check_slot_list(slots, true)) return *refused;
    detail::Node& me = me_node();
    for (auto s : slots) {
        slots_.importing().erase(s);
        slots_.assign(s, me);
    }
    update_cluster_state(now);
    mark_dirty(true);
    finish(now, out);
    return CommandResult::success();
}

GOSSIPCLUSTER_INLINE CommandResult ClusterState::del_slots(Now now,
                                                           const std::vector<std::uint16_t>& slots,
                                                           Output& out) {
    if (auto refused = check_slot_list(slots, false)) return *refused;
    for (auto s : slots) {
        slots_.unassign(s);
        slots_.importing().erase(s);
        slots_.migrating().erase(s);
    }
    update_cluster_state(now);
    mark_dirty(true);
    finish(now, out);
    return CommandResult::success();
}

GOSSIPCLUSTER_INLINE CommandResult ClusterState::flush_slots(Now now, Output& out) {
    slots_.release(me_node());
    update_cluster_state(now);
    mark_dirty(true);
    finish(now, out);
    return CommandResult::success();
}

GOSSIPCLUSTER_INLINE CommandResult ClusterState::set_slot(Now now, std::uint16_t slot,
                                                          SetSlotMode mode,
                                                          std::string_view node_id,
                                                          std::size_t keys_in_slot, Output& out) {
    detail::Node& me = me_node();
    if (me.is_replica()) return CommandResult::failure(CommandError::SetSlotOnReplica);
    if (slot >= kSlotCount) return CommandResult::failure(CommandError::InvalidSlot);
    detail::Node* target = nullptr;
    if (mode != SetSlotMode::Stable) {
        auto id = NodeId::parse(node_id);
        target = id ? lookup(*id) : nullptr;
        if (!target || target->in_handshake())
            return CommandResult::failure_node(CommandError::SetSlotUnknownNode, node_id);
        if (target->is_replica())
            return CommandResult::failure(CommandError::SetSlotTargetNotMaster);
    }
    switch (mode) {
        case SetSlotMode::Migrating:
            if (slots_.owner(slot) != &me)
                return CommandResult::failure_slot(CommandError::NotSlotOwner, slot);
            slots_.migrating()[slot] = target->id;
            break;
        case SetSlotMode::Importing:
            if (slots_.owner(slot) == &me)
                return CommandResult::failure_slot(CommandError::AlreadySlotOwner, slot);
            slots_.importing()[slot] = target->id;
            break;
        case SetSlotMode::Stable:
            slots_.importing().erase(slot);
            slots_.migrating().erase(slot);
            break;
        case SetSlotMode::Node: {
            if (slots_.owner(slot) == &me && target != &me && keys_in_slot != 0)
                return CommandResult::failure_slot(CommandError::SlotHasKeys, slot);
            if (keys_in_slot == 0) slots_.migrating().erase(slot);
            const bool closing_import = slots_.importing().contains(slot) && target == &me;
            if (slots_.owner(slot) == &me && target != &me)
                out.events.push_back(event::SlotsChanged{target->id, {slot}, {slot}});
            slots_.unassign(slot);
            slots_.assign(slot, *target);
            if (closing_import) {
                slots_.importing().erase(slot);
                // The import is ours without a vote; a fresh epoch makes the claim win everywhere.
                if (bump_epoch_without_consensus()) {
                    broadcast_pong(now, out);
                }
            }
            break;
        }
    }
    update_cluster_state(now);
    mark_dirty(true);
    finish(now, out);
    return CommandResult::success();
}

GOSSIPCLUSTER_INLINE bool ClusterState::bump_epoch_without_consensus() {
    detail::Node& me = me_node();
    Epoch max_epoch = current_epoch_;
    for (const auto& [id, n] : nodes_)
        max_epoch = std::max(max_epoch, n.config_epoch);
    if (me.config_epoch != 0 && me.config_epoch == max_epoch) {
        // Already the greatest; still unique unless someone shares it.
        bool shared = std::any_of(nodes_.begin(), nodes_.end(), [&](const auto& kv) {
            return kv.first != my_id() && kv.second.is_master() &&
                   kv.second.config_epoch == max_epoch;
        });
        if (!shared) return false;
    }
    if (!advance_current_epoch()) return false;
    me.config_epoch = current_epoch_;
    mark_dirty(true);
    return true;
}

GOSSIPCLUSTER_INLINE bool ClusterState::advance_current_epoch() {
    if (current_epoch_ >= kEpochLimit - 1) return false;
    ++current_epoch_;
    return true;
}

GOSSIPCLUSTER_INLINE CommandResult ClusterState::bump_epoch(Now now, Output& out, bool& bumped) {
    bumped = bump_epoch_without_consensus();
    finish(now, out);
    return CommandResult::success();
}

GOSSIPCLUSTER_INLINE CommandResult ClusterState::set_config_epoch(Now now, std::int64_t epoch,
                                                                  Output& out) {
    if (epoch < 0 || static_cast<Epoch>(epoch) >= kEpochLimit)
        return CommandResult::failure_epoch(CommandError::InvalidConfigEpoch, epoch);
    if (nodes_.size() > 1) return CommandResult::failure(CommandError::ConfigEpochNotAlone);
    detail::Node& me = me_node();
    if (me.config_epoch != 0) return CommandResult::failure(CommandError::ConfigEpochNonZero);
    me.config_epoch = static_cast<Epoch>(epoch);
    current_epoch_ = std::max(current_epoch_, me.config_epoch);
    mark_dirty(true);
    finish(now, out);
    return CommandResult::success();
}

GOSSIPCLUSTER_INLINE CommandResult ClusterState::replicate(Now now, std::string_view node_id,
                                                           bool host_empty, Output& out) {
    auto id = NodeId::parse(node_id);
    detail::Node* target = id ? lookup(*id) : nullptr;
    if (!target || target->in_handshake())
        return CommandResult::failure_node(CommandError::UnknownNode, node_id);
    if (target->id == my_id()) return CommandResult::failure(CommandError::ReplicateMyself);
    if (target->is_replica()) return CommandResult::failure(CommandError::ReplicateReplica);
    detail::Node& me = me_node();
    if (me.is_master() && (me.slot_count != 0 || !host_empty))
        return CommandResult::failure(CommandError::ReplicateNotEmpty);
    if (me.is_replica() && me.master && *me.master == target->id) {
        finish(now, out);
        return CommandResult::success();
    }
    become_replica_of(now, *target, out);
    finish(now, out);
    return CommandResult::success();
}

}  // namespace gossipcluster
