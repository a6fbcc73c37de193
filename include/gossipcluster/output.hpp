// The batch a core step hands out: persist first, then link actions and messages, then events.
#pragma once

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

    void clear() {
        save = fsync = false;
        actions.clear();
        events.clear();
    }
    bool empty() const { return !save && actions.empty() && events.empty(); }
};

}  // namespace gossipcluster
