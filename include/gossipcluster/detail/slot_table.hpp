// SlotTable: which node serves each of the 16384 slots in one view, and what is derived from it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gossipcluster/detail/invariant.hpp"
#include "gossipcluster/detail/linkage.hpp"
#include "gossipcluster/detail/node.hpp"
#include "gossipcluster/types.hpp"

namespace gossipcluster::detail {

// Consecutive slots with one owner.
struct OwnedRun {
    const Node* owner;
    std::uint16_t first;
    std::uint16_t last;
};

// The slot table keeps three things consistent that every handler used to keep by hand: the owner
// of each slot, each node's `slot_count`, and the number of slots nobody serves. Its version
// changes with every change of ownership (and when names change, which reorders runs), and the
// caches built on the table (runs, our own claim, claims remembered as matching) are valid for one
// version only, so no handler has to remember to drop them.
//
// It also holds the slots whose owner stopped claiming them ("disowned": the next claimant takes
// them whatever its epoch) and the slots this node imports or migrates (SETSLOT).
class SlotTable {
  public:
    SlotTable() : owners_(kSlotCount, nullptr) {}

    Node* owner(std::size_t slot) const { return slot < kSlotCount ? owners_[slot] : nullptr; }
    std::size_t unassigned() const { return unassigned_; }
    std::uint64_t version() const { return version_; }

    // Gives `slot` to `node` (from its owner, if any).
    void assign(std::size_t slot, Node& node) {
        GOSSIPCLUSTER_INVARIANT(slot < kSlotCount);
        Node*& owner = owners_[slot];
        if (owner == &node) return;
        if (owner)
            --owner->slot_count;
        else
            --unassigned_;
        owner = &node;
        ++node.slot_count;
        ++version_;
        disowned_.clear(slot);
    }
    void unassign(std::size_t slot) {
        GOSSIPCLUSTER_INVARIANT(slot < kSlotCount);
        Node*& owner = owners_[slot];
        if (!owner) return;
        --owner->slot_count;
        owner = nullptr;
        ++unassigned_;
        ++version_;
        disowned_.clear(slot);
    }
    // Unassigns every slot `node` owns (it left, or turned replica).
    void release(const Node& node);
    // Gives every slot of `from` to `to` (a failover).
    void transfer(const Node& from, Node& to);
    // Unassigns every slot and forgets imports and migrations (CLUSTER RESET).
    void clear();
    // Node names changed: the runs, ordered by name, must be rebuilt.
    void names_changed() { ++version_; }

    SlotBitmap slots_of(const Node& node) const;
    // The slots of `node` that it has not stopped claiming (what an UPDATE about it carries).
    SlotBitmap claimed_slots_of(const Node& node) const;
    // Runs of consecutive slots with one owner, ordered by owner name then slot (the order in
    // which nodes.conf lists them); rebuilt when the version changed.
    const std::vector<OwnedRun>& runs() const;
    // slots_of(owner), kept for the version: every header we send carries it.
    const SlotBitmap& claim_of(const Node& owner) const;

    // Whether `claimed` is exactly the set of slots `node` owns here.
    bool owns_exactly(const Node& node, const SlotBitmap& claimed) const;
    // A claim found equal under the current version is recognised again by a hash of its non-zero
    // words and their positions, without walking the table (every header repeats its claim).
    static std::uint64_t claim_hash(const SlotBitmap& claimed);
    bool remembered_match(const Node& node, std::uint64_t hash) const {
        return node.claim_checked && node.claim_version == version_ && node.claim_hash == hash;
    }
    void remember_match(Node& node, std::uint64_t hash) const {
        node.claim_checked = true;
        node.claim_hash = hash;
        node.claim_version = version_;
    }

    // Disowned slots.
    bool disowned(std::size_t slot) const { return disowned_.test(slot); }
    bool any_disowned() const { return !disowned_.empty(); }
    // `master`'s own claim: the slots it owns here but left out become disowned, the ones it
    // claims are not. Claims remembered as matching are looked at again if anything was new.
    void note_claim_of_owner(const Node& master, const SlotBitmap& claimed);
    // Whether `node` owns a slot here that it has not stopped claiming.
    bool still_claims_some(const Node& node) const;

    // Slots in transfer (SETSLOT IMPORTING / MIGRATING): slot -> the other node.
    std::map<std::uint16_t, NodeId>& importing() { return importing_; }
    const std::map<std::uint16_t, NodeId>& importing() const { return importing_; }
    std::map<std::uint16_t, NodeId>& migrating() { return migrating_; }
    const std::map<std::uint16_t, NodeId>& migrating() const { return migrating_; }

    // The first broken rule (an owner outside `nodes`, a slot count or the unassigned count that
    // differs from the table), or an empty string. Checked again only when the version changed.
    std::string check(const std::map<NodeId, Node>& nodes) const;
    std::size_t memory_bytes() const;

  private:
    std::vector<Node*> owners_;
    std::size_t unassigned_ = kSlotCount;
    std::uint64_t version_ = 0;
    SlotBitmap disowned_;
    std::map<std::uint16_t, NodeId> importing_;
    std::map<std::uint16_t, NodeId> migrating_;
    mutable std::vector<OwnedRun> runs_;
    mutable std::uint64_t runs_version_ = ~std::uint64_t{0};
    mutable SlotBitmap claim_bits_;
    mutable const Node* claim_owner_ = nullptr;
    mutable std::uint64_t claim_version_ = ~std::uint64_t{0};
    mutable std::uint64_t checked_version_ = ~std::uint64_t{0};
};

}  // namespace gossipcluster::detail

#ifdef GOSSIPCLUSTER_HEADER_ONLY
#include "gossipcluster/impl/slot_table.ipp"
#endif
