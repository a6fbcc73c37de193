// GossipSelection: which nodes one PING, PONG or MEET names in its gossip section, and in what
// order.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gossipcluster/detail/node.hpp"
#include "gossipcluster/detail/node_index.hpp"
#include "gossipcluster/detail/prng.hpp"
#include "gossipcluster/types.hpp"

namespace gossipcluster {

// How many entries a PING/PONG's gossip section holds, besides the suspects that always ride
// along: the usual max(gossip_min_entries, N / gossip_divisor), the whole view (for a newcomer),
// or no more than `cap` (and never fewer than gossip_min_entries).
struct GossipSize {
    bool whole_view = false;
    std::size_t cap = static_cast<std::size_t>(-1);

    static GossipSize usual() { return {}; }
    static GossipSize everything() { return {true}; }
    static GossipSize at_most(std::size_t n) { return {false, n}; }
};

namespace detail {

// The entries wanted from a view of `view_size` nodes (ourselves and the receiver never count).
inline std::size_t gossip_entries_wanted(std::size_t view_size, GossipSize size,
                                         std::size_t min_entries, std::size_t divisor) {
    const std::size_t others = view_size >= 2 ? view_size - 2 : 0;
    std::size_t wanted = size.whole_view ? others : std::max(min_entries, view_size / divisor);
    return std::min({wanted, others, std::max(min_entries, size.cap)});
}

// One section's request: who sends and receives it, how many entries it wants, whether it names
// the whole view, and how many suspects (PFAIL nodes) may ride along beyond the entries wanted.
struct GossipRequest {
    const Node* self = nullptr;
    const Node* target = nullptr;
    std::size_t wanted = 0;
    bool whole_view = false;
    std::size_t max_suspects = 0;
};

// The section is filled in four passes over the view's name order, each node named at most once:
//  1. news (a join, a flag change), so it spreads in about log2(N) rounds; each node carries news
//     for a number of sections, counted down here;
//  2. for a newcomer, everyone else;
//  3. random picks up to the entries wanted, skipping nodes we cannot reach that own nothing;
//  4. every suspect, up to max_suspects, so failure reports reach a quorum quickly.
// Handshakes, nodes without an address, suspects (outside pass 4), the sender and the receiver are
// never picked in passes 1-3. Draws come from the caller's Prng only, so a run replays from its
// seed.
class GossipSelection {
  public:
    // Calls append(node) for each node picked. `nodes_with_news` counts the nodes whose news
    // counter is not zero; it is kept in step as counters reach zero.
    template <typename Append>
    std::size_t select(const std::vector<Node*>& order, const GossipRequest& r,
                       std::size_t& nodes_with_news, Prng& prng, Append&& append) {
        ++round_;
        const std::size_t n = order.size();
        std::size_t taken = 0;
        const auto eligible = [&](const Node& node) {
            if (&node == r.self || &node == r.target) return false;
            if (node.flags & (node_flag::kHandshake | node_flag::kNoAddr | node_flag::kPfail))
                return false;
            return node.gossip_round != round_;
        };
        const auto take = [&](Node& node) {
            node.gossip_round = round_;
            ++taken;
            append(node);
        };

        for (std::size_t k = 0; nodes_with_news > 0 && k < n; ++k) {
            Node& node = *order[k];
            if (taken >= r.wanted) break;
            if (node.news == 0 || !eligible(node)) continue;
            take(node);
            if (--node.news == 0) --nodes_with_news;
        }
        if (r.whole_view) {
            for (Node* node : order)
                if (eligible(*node)) take(*node);
        }
        // Each pick touches a random node, a cache miss in a large view, so picks are drawn a
        // batch at a time and their nodes fetched together. A batch never holds more picks than
        // entries still wanted, so the draws (and the result) are those of one at a time.
        std::size_t iterations = r.wanted * 3;
        constexpr std::size_t kPickBatch = 16;
        Node* picks[kPickBatch];
        while (taken < r.wanted && iterations > 0 && n > 0) {
            const std::size_t batch = std::min({kPickBatch, r.wanted - taken, iterations});
            for (std::size_t b = 0; b < batch; ++b) {
                picks[b] = order[prng.below(n)];
                NodeIndex::prefetch_lines(picks[b], 3);
            }
            iterations -= batch;
            for (std::size_t b = 0; b < batch; ++b) {
                Node& node = *picks[b];
                if (!eligible(node)) continue;
                if (!node.link.valid() && node.slot_count == 0) continue;
                take(node);
            }
        }
        std::size_t suspects = 0;
        for (std::size_t k = 0; r.max_suspects > 0 && k < n; ++k) {
            Node& node = *order[k];
            if (suspects >= r.max_suspects) break;
            if (!node.timed_out() || node.in_handshake() || node.has(node_flag::kNoAddr)) continue;
            if (r.target && node.id == r.target->id) continue;
            take(node);
            ++suspects;
        }
        return taken;
    }

  private:
    std::uint64_t round_ = 0;  // marks the nodes one section already names
};

}  // namespace detail
}  // namespace gossipcluster
