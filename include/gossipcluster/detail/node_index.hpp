// NodeIndex: node name -> Node*, an open-addressing table rebuilt whenever membership changes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "gossipcluster/detail/node.hpp"
#include "gossipcluster/types.hpp"

namespace gossipcluster::detail {

// Every gossip entry is looked up by name, so lookups dominate a large view's work. One flat
// array probed linearly costs one cache miss before the node itself; a node-based hash map
// costs a bucket, a chain node and rehashing while walking the chain.
class NodeIndex {
  public:
    // Empties the table and sizes it for `n` entries at most half full.
    void reset(std::size_t n) {
        std::size_t cap = 16;
        while (cap < 2 * n)
            cap *= 2;
        slots_.assign(cap, Slot{});
        mask_ = cap - 1;
        size_ = 0;
    }

    // `node->id` must not be in the table yet.
    void insert(Node* node) {
        if (2 * (size_ + 1) > slots_.size()) grow();
        place(hash(node->id), node);
        ++size_;
    }

    Node* find(const NodeId& id) const { return find(id, hash(id)); }
    // With the hash already computed (hash_of).
    Node* find(const NodeId& id, std::uint64_t h) const {
        if (slots_.empty()) return nullptr;
        for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
            const Slot& s = slots_[i];
            if (!s.node) return nullptr;
            if (s.hash == h && s.node->id == id) return s.node;
        }
    }

    // Lookups of a whole gossip section, one after the other, would wait for two cache misses at a
    // time: the slot, then the node it names. A pipeline overlaps them: the slot of an entry a few
    // places ahead is fetched first, and once it has arrived, the node it names (prefetch_node,
    // which does not wait for anything that is not there yet). Hints only.
    static std::uint64_t hash_of(const NodeId& id) { return hash(id); }
    void prefetch_slot(std::uint64_t h) const {
        if (!slots_.empty()) __builtin_prefetch(&slots_[h & mask_]);
    }
    void prefetch_node(std::uint64_t h) const {
        if (slots_.empty()) return;
        const Slot& s = slots_[h & mask_];
        if (s.node && s.hash == h) prefetch_lines(s.node);
    }
    // A node's first two cache lines hold what the gossip paths read; the next two, the address
    // and what the replica-migration survey reads.
    static void prefetch_lines(const Node* node, std::size_t lines = 2) {
        const char* at = reinterpret_cast<const char*>(node);
        for (std::size_t line = 0; line < lines; ++line)
            __builtin_prefetch(at + 64 * line);
    }

    std::size_t size() const { return size_; }
    std::size_t memory_bytes() const { return slots_.capacity() * sizeof(Slot); }

  private:
    struct Slot {
        std::uint64_t hash = 0;
        Node* node = nullptr;
    };

    static std::uint64_t hash(const NodeId& id) { return std::hash<NodeId>{}(id); }

    void place(std::uint64_t h, Node* node) {
        std::size_t i = h & mask_;
        while (slots_[i].node)
            i = (i + 1) & mask_;
        slots_[i] = Slot{h, node};
    }

    void grow() {
        std::vector<Slot> old = std::move(slots_);
        slots_.assign(old.empty() ? 16 : old.size() * 2, Slot{});
        mask_ = slots_.size() - 1;
        for (const Slot& s : old)
            if (s.node) place(s.hash, s.node);
    }

    std::vector<Slot> slots_;
    std::size_t mask_ = 0;
    std::size_t size_ = 0;
};

}  // namespace gossipcluster::detail
