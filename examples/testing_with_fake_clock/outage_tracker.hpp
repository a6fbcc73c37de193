// OutageTracker: host code that follows a core's events and records which nodes are down.
#pragma once

#include <map>
#include <set>
#include <utility>
#include <variant>
#include <vector>

#include <gossipcluster/concepts.hpp>
#include <gossipcluster/event.hpp>

namespace fake_clock_example {

namespace gc = gossipcluster;

// The kind of component an application builds on top of the library: a dashboard's or a client
// router's view of which nodes are unusable. It takes the Clock as a template parameter, like the
// core does, so that a test can hand it the same ManualClock that drives a simulated cluster and
// every duration it measures is simulated time.
template <gc::Clock C>
class OutageTracker {
  public:
    struct Outage {
        gc::NodeId node;
        gc::Instant began;  // when this node heard the node FAILed
        gc::Instant ended;  // when it heard it had recovered
        gc::Duration length() const { return ended - began; }
    };

    explicit OutageTracker(C clock) : clock_(std::move(clock)) {}

    // Give it every event of one core (ClusterCore::set_event_handler, or a SimCluster observer).
    void on_event(const gc::Event& e) {
        if (const auto* pfail = std::get_if<gc::event::NodePfail>(&e)) {
            // PFAIL is one node's opinion; only FAIL, agreed by a majority, counts as down.
            suspected_.insert(pfail->node);
        } else if (const auto* failed = std::get_if<gc::event::NodeFailed>(&e)) {
            suspected_.erase(failed->node);
            down_since_.try_emplace(failed->node, clock_.now());
        } else if (const auto* back = std::get_if<gc::event::NodeRecovered>(&e)) {
            suspected_.erase(back->node);
            if (auto it = down_since_.find(back->node); it != down_since_.end()) {
                history_.push_back({back->node, it->second, clock_.now()});
                down_since_.erase(it);
            }
        } else if (const auto* gone = std::get_if<gc::event::NodeForgotten>(&e)) {
            // Forgotten is not recovered: the outage has no end to record.
            suspected_.erase(gone->node);
            down_since_.erase(gone->node);
        }
    }

    bool is_down(const gc::NodeId& id) const { return down_since_.contains(id); }
    bool is_suspected(const gc::NodeId& id) const { return suspected_.contains(id); }
    std::size_t down_count() const { return down_since_.size(); }

    // How long `id` has been down so far; zero when it is up.
    gc::Duration down_for(const gc::NodeId& id) const {
        auto it = down_since_.find(id);
        return it == down_since_.end() ? gc::Duration{0} : clock_.now() - it->second;
    }

    // Outages that ended, oldest first.
    const std::vector<Outage>& history() const { return history_; }

  private:
    // mutable: a Clock's now() need not be const (the concept calls it on a non-const object).
    mutable C clock_;
    std::map<gc::NodeId, gc::Instant> down_since_;
    std::set<gc::NodeId> suspected_;
    std::vector<Outage> history_;
};

}  // namespace fake_clock_example
