// The batch a core step hands out: persist first, then link actions and messages, then events.
#pragma once

#include <cstddef>
#include <utility>
#include <variant>
#include <vector>

#include "gossipcluster/event.hpp"
#include "gossipcluster/link.hpp"
#include "gossipcluster/message.hpp"

namespace gossipcluster {

namespace action {
struct Connect {
    LinkId link;
    Endpoint to;
};
struct Send {
    LinkId link;
    Message message;
};
struct Close {
    LinkId link;
};
}  // namespace action

// Actions keep the order they were produced in: a Send may follow the Connect of its link (the
// transport queues it until the connection is up) and precede a Close.
using Action = std::variant<action::Connect, action::Send, action::Close>;

struct Output {
    bool save = false;   // the persisted state changed
    bool fsync = false;  // ...and must be durable before any action below leaves
    std::vector<Action> actions;
    std::vector<Event> events;

    // Empties the batch. The gossip sections of the messages it held are kept, with their
    // room, for the next messages: an idle node sends a PING or PONG every few milliseconds of
    // simulated time, and each would otherwise allocate two vectors.
    void clear() noexcept {
        save = fsync = false;
        // Room for every spare section is made once, so keeping one never allocates (a clear
        // that cannot allocate may run while an exception unwinds).
        if (spare_bodies_.capacity() < kMaxSpareBodies) {
            try {
                spare_bodies_.reserve(kMaxSpareBodies);
            } catch (...) {
            }
        }
        for (Action& a : actions) {
            auto* send = std::get_if<action::Send>(&a);
            if (!send || spare_bodies_.size() >= spare_bodies_.capacity()) continue;
            auto* body = std::get_if<GossipBody>(&send->message.body);
            // A section as large as a whole view is rare (a newcomer's welcome): let it go.
            if (body && body->gossip.capacity() <= kMaxSpareEntries)
                spare_bodies_.push_back(std::move(*body));
        }
        actions.clear();
        events.clear();
    }
    bool empty() const { return !save && actions.empty() && events.empty(); }

    // An empty gossip section, with room left by an earlier message when there is one.
    GossipBody take_gossip_body() {
        if (spare_bodies_.empty()) return {};
        GossipBody body = std::move(spare_bodies_.back());
        spare_bodies_.pop_back();
        body.gossip.clear();
        body.extensions.clear();
        return body;
    }

    // Trades the reusable buffers (actions and spare sections) with another Output: a host that
    // runs many cores on one thread passes one set from core to core, which stays in the cache.
    void swap_buffers(Output& other) noexcept {
        actions.swap(other.actions);
        spare_bodies_.swap(other.spare_bodies_);
    }

  private:
    static constexpr std::size_t kMaxSpareBodies = 64;
    static constexpr std::size_t kMaxSpareEntries = 256;
    std::vector<GossipBody> spare_bodies_;
};

}  // namespace gossipcluster
