// LinkTable: what the core knows of each link, found by link id in one flat probe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <stdexcept>
#include <vector>

#include "gossipcluster/link.hpp"

namespace gossipcluster::detail {

// Every received message starts with a lookup of its link, and a large view holds two links per
// peer. A tree of them cost a dozen cache misses per lookup and a node-based hash map two or three;
// here an open-addressing array of (id, index) pairs leads to the entry. Entries live in a deque
// and never move, so a reference to one stays valid while links are added (handlers hold one
// while they connect to new nodes); erasing an entry invalidates references to it alone.
template <typename Info>
class LinkTable {
  public:
    Info* find(LinkId id) {
        const std::size_t i = slot_of(id);
        return i == kMissing ? nullptr : &infos_[slots_[i].index];
    }
    const Info* find(LinkId id) const {
        const std::size_t i = slot_of(id);
        return i == kMissing ? nullptr : &infos_[slots_[i].index];
    }
    bool contains(LinkId id) const { return slot_of(id) != kMissing; }

    // The entry of `id`, default-constructed if it was missing. `id` must be valid (non-zero).
    Info& operator[](LinkId id) {
        if (!id.valid()) throw std::invalid_argument("LinkTable: link id 0");
        if (Info* existing = find(id)) return *existing;
        if (2 * (size_ + 1) > slots_.size()) grow();
        std::uint32_t index = 0;
        if (!free_.empty()) {
            index = free_.back();
            free_.pop_back();
        } else {
            index = static_cast<std::uint32_t>(infos_.size());
            infos_.emplace_back();
        }
        place(Slot{id, index});
        ++size_;
        return infos_[index];
    }

    // Removes `id`; returns whether it was there.
    bool erase(LinkId id) {
        std::size_t i = slot_of(id);
        if (i == kMissing) return false;
        infos_[slots_[i].index] = Info{};
        free_.push_back(slots_[i].index);
        // Backward-shift deletion: later entries of the same probe run move up, so lookups never
        // meet a hole before their entry and no tombstones pile up.
        for (std::size_t j = (i + 1) & mask_; slots_[j].id.valid(); j = (j + 1) & mask_) {
            const std::size_t home = hash(slots_[j].id) & mask_;
            const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (stays) continue;
            slots_[i] = slots_[j];
            i = j;
        }
        slots_[i] = Slot{};
        --size_;
        return true;
    }

    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }

    // Visits (id, info) in an unspecified order: callers that act on the order sort first.
    template <typename F>
    void for_each(F&& f) const {
        for (const Slot& s : slots_)
            if (s.id.valid()) f(s.id, infos_[s.index]);
    }

    // The table's own arrays, without what the entries hold on the heap.
    std::size_t memory_bytes() const {
        return slots_.capacity() * sizeof(Slot) + infos_.size() * sizeof(Info) +
               free_.capacity() * sizeof(std::uint32_t);
    }

  private:
    static constexpr std::size_t kMissing = ~std::size_t{0};

    struct Slot {
        LinkId id;  // invalid (0) when the slot is empty
        std::uint32_t index = 0;
    };

    static std::uint64_t hash(LinkId id) {
        std::uint64_t h = id.value * 0x9e3779b97f4a7c15ull;
        return h ^ (h >> 29);
    }

    std::size_t slot_of(LinkId id) const {
        if (!id.valid() || slots_.empty()) return kMissing;
        for (std::size_t i = hash(id) & mask_;; i = (i + 1) & mask_) {
            if (!slots_[i].id.valid()) return kMissing;
            if (slots_[i].id == id) return i;
        }
    }

    void place(Slot s) {
        std::size_t i = hash(s.id) & mask_;
        while (slots_[i].id.valid())
            i = (i + 1) & mask_;
        slots_[i] = s;
    }

    void grow() {
        std::vector<Slot> old = std::move(slots_);
        slots_.assign(old.empty() ? 16 : old.size() * 2, Slot{});
        mask_ = slots_.size() - 1;
        for (const Slot& s : old)
            if (s.id.valid()) place(s);
    }

    std::vector<Slot> slots_;
    std::size_t mask_ = 0;
    std::size_t size_ = 0;
    std::deque<Info> infos_;
    std::vector<std::uint32_t> free_;
};

}  // namespace gossipcluster::detail
