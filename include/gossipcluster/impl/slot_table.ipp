// The definitions of detail/slot_table.hpp (compiled once, or included in header-only mode).
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "gossipcluster/detail/heap_size.hpp"
#include "gossipcluster/detail/slot_table.hpp"

namespace gossipcluster::detail {

GOSSIPCLUSTER_INLINE void SlotTable::release(const Node& node) {
    for (std::size_t s = 0; s < kSlotCount && node.slot_count > 0; ++s)
        if (owners_[s] == &node) unassign(s);
}

GOSSIPCLUSTER_INLINE void SlotTable::transfer(const Node& from, Node& to) {
    for (std::size_t s = 0; s < kSlotCount && from.slot_count > 0; ++s)
        if (owners_[s] == &from) assign(s, to);
}

GOSSIPCLUSTER_INLINE void SlotTable::clear() {
    importing_.clear();
    migrating_.clear();
    for (std::size_t s = 0; s < kSlotCount; ++s)
        unassign(s);
}

GOSSIPCLUSTER_INLINE SlotBitmap SlotTable::slots_of(const Node& node) const {
    SlotBitmap bits;
    for (std::size_t s = 0; s < kSlotCount && node.slot_count > 0; ++s)
        if (owners_[s] == &node) bits.set(s);
    return bits;
}

GOSSIPCLUSTER_INLINE SlotBitmap SlotTable::claimed_slots_of(const Node& node) const {
    SlotBitmap bits = slots_of(node);
    if (any_disowned()) bits.clear_all_of(disowned_);
    return bits;
}

GOSSIPCLUSTER_INLINE const std::vector<OwnedRun>& SlotTable::runs() const {
    if (runs_version_ == version_) return runs_;
    runs_.clear();
    for (std::size_t s = 0; s < kSlotCount;) {
        const Node* owner = owners_[s];
        std::size_t e = s;
        while (e + 1 < kSlotCount && owners_[e + 1] == owner)
            ++e;
        if (owner)
            runs_.push_back({owner, static_cast<std::uint16_t>(s), static_cast<std::uint16_t>(e)});
        s = e + 1;
    }
    // Stable: one owner's runs stay in slot order.
    std::stable_sort(runs_.begin(), runs_.end(), [](const OwnedRun& a, const OwnedRun& b) {
        return a.owner != b.owner && a.owner->id < b.owner->id;
    });
    runs_version_ = version_;
    return runs_;
}

GOSSIPCLUSTER_INLINE const SlotBitmap& SlotTable::claim_of(const Node& owner) const {
    if (claim_owner_ != &owner || claim_version_ != version_) {
        claim_bits_ = slots_of(owner);
        claim_owner_ = &owner;
        claim_version_ = version_;
    }
    return claim_bits_;
}

GOSSIPCLUSTER_INLINE bool SlotTable::owns_exactly(const Node& node,
                                                  const SlotBitmap& claimed) const {
    // Skips the claim eight zero bytes at a time: a claim is mostly zero bytes.
    const auto& bytes = claimed.bytes();
    std::size_t count = 0;
    for (std::size_t w = 0; w < kSlotBitmapBytes; w += 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, bytes.data() + w, sizeof word);
        if (word == 0) continue;
        for (std::size_t b = w; b < w + 8; ++b) {
            unsigned bits = bytes[b];
            while (bits != 0) {
                const std::size_t slot = b * 8 + static_cast<std::size_t>(__builtin_ctz(bits));
                if (owners_[slot] != &node) return false;
                ++count;
                bits &= bits - 1;
            }
        }
    }
    return count == node.slot_count;
}

GOSSIPCLUSTER_INLINE std::uint64_t SlotTable::claim_hash(const SlotBitmap& claimed) {
    const auto& bytes = claimed.bytes();
    std::uint64_t h = 0x9e3779b97f4a7c15ull;
    for (std::size_t w = 0; w < kSlotBitmapBytes; w += 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, bytes.data() + w, sizeof word);
        if (word == 0) continue;
        h = (h ^ word ^ (static_cast<std::uint64_t>(w) << 52)) * 0xff51afd7ed558ccdull;
        h ^= h >> 31;
    }
    return h;
}

GOSSIPCLUSTER_INLINE void SlotTable::note_claim_of_owner(const Node& master,
                                                         const SlotBitmap& claimed) {
    bool newly = false;
    for (std::size_t s = 0; s < kSlotCount && master.slot_count > 0; ++s) {
        if (owners_[s] != &master) continue;
        if (claimed.test(s)) {
            disowned_.clear(s);
        } else if (!disowned_.test(s)) {
            disowned_.set(s);
            newly = true;
        }
    }
    if (newly) ++version_;
}

GOSSIPCLUSTER_INLINE bool SlotTable::still_claims_some(const Node& node) const {
    for (std::size_t s = 0; s < kSlotCount && node.slot_count > 0; ++s)
        if (owners_[s] == &node && !disowned_.test(s)) return true;
    return false;
}

GOSSIPCLUSTER_INLINE std::string SlotTable::check(const std::map<NodeId, Node>& nodes) const {
    if (checked_version_ == version_) return {};
    std::map<const Node*, std::size_t> owned;
    std::size_t unassigned = 0;
    for (const Node* owner : owners_) {
        if (owner)
            ++owned[owner];
        else
            ++unassigned;
    }
    if (unassigned != unassigned_)
        return fmt::format("{} slots have no owner but {} are counted", unassigned, unassigned_);
    for (const auto& [id, n] : nodes) {
        const auto it = owned.find(&n);
        const std::size_t count = it == owned.end() ? 0 : it->second;
        if (count != n.slot_count)
            return fmt::format("node {} owns {} slots but counts {}", id.view(), count,
                               n.slot_count);
        if (count != 0) owned.erase(it);
    }
    if (!owned.empty()) return "a slot is owned by a node outside the view";
    checked_version_ = version_;
    return {};
}

GOSSIPCLUSTER_INLINE std::size_t SlotTable::memory_bytes() const {
    std::size_t b = owners_.capacity() * sizeof(Node*) + runs_.capacity() * sizeof(OwnedRun);
    b += (importing_.size() + migrating_.size()) *
         (kTreeNodeOverhead + sizeof(std::pair<std::uint16_t, NodeId>));
    return b;
}

}  // namespace gossipcluster::detail
