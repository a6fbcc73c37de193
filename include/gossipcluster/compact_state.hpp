// CompactState: the persisted state with slot ranges instead of a 2 KB bitmap per node.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gossipcluster/persisted_state.hpp"

namespace gossipcluster {

// A NodeRecord without its slot bitmap; the slots live in CompactState::slots.
struct CompactRecord {
    NodeId id;
    std::string ip;
    std::uint16_t port = 0;
    std::uint16_t cport = 0;
    std::string hostname;
    std::uint16_t flags = 0;
    std::optional<NodeId> master;
    std::uint64_t ping_sent_ms = 0;
    std::uint64_t pong_received_ms = 0;
    Epoch config_epoch = 0;
    bool connected = false;
    std::vector<OpenSlot> migrating;
    std::vector<OpenSlot> importing;
};

// Slots first..last belong to nodes[record].
struct RecordSlotRange {
    std::uint32_t record = 0;
    std::uint16_t first = 0;
    std::uint16_t last = 0;
};

// A store that keeps many states (a simulator keeps one per node) holds this form: about 250
// bytes per known node instead of 2.3 KB, and a core can refill it in place on every save.
struct CompactState {
    std::vector<CompactRecord> nodes;
    std::vector<RecordSlotRange> slots;
    Epoch current_epoch = 0;
    Epoch last_vote_epoch = 0;

    static CompactState from(const PersistedState& s) {
        CompactState c;
        c.current_epoch = s.current_epoch;
        c.last_vote_epoch = s.last_vote_epoch;
        c.nodes.reserve(s.nodes.size());
        for (const NodeRecord& r : s.nodes) {
            const auto index = static_cast<std::uint32_t>(c.nodes.size());
            c.nodes.push_back(CompactRecord{r.id, r.ip, r.port, r.cport, r.hostname, r.flags,
                                            r.master, r.ping_sent_ms, r.pong_received_ms,
                                            r.config_epoch, r.connected, r.migrating, r.importing});
            r.slots.for_each_range([&](std::size_t first, std::size_t last) {
                c.slots.push_back(
                    {index, static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(last)});
            });
        }
        return c;
    }

    PersistedState expand() const {
        PersistedState s;
        s.current_epoch = current_epoch;
        s.last_vote_epoch = last_vote_epoch;
        s.nodes.reserve(nodes.size());
        for (const CompactRecord& r : nodes) {
            NodeRecord n;
            n.id = r.id;
            n.ip = r.ip;
            n.port = r.port;
            n.cport = r.cport;
            n.hostname = r.hostname;
            n.flags = r.flags;
            n.master = r.master;
            n.ping_sent_ms = r.ping_sent_ms;
            n.pong_received_ms = r.pong_received_ms;
            n.config_epoch = r.config_epoch;
            n.connected = r.connected;
            n.migrating = r.migrating;
            n.importing = r.importing;
            s.nodes.push_back(std::move(n));
        }
        for (const RecordSlotRange& range : slots)
            if (range.record < s.nodes.size() && range.first <= range.last &&
                range.last < kSlotCount)
                s.nodes[range.record].slots.set_range(range.first, range.last);
        return s;
    }
};

}  // namespace gossipcluster
