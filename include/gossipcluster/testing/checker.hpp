// Checker: the safety invariants of the protocol, checked on a SimCluster after every step.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "gossipcluster/testing/sim_cluster.hpp"

namespace gossipcluster::testing {

// Invariants:
// - currentEpoch, lastVoteEpoch and a master's own configEpoch never decrease, across restarts;
// - a master grants at most one vote per epoch (across restarts: the vote is durable);
// - at most one election winner per failed master and epoch, each with a majority of the masters
//   it saw;
// - a node marks another FAIL by its own decision only with a majority of slot masters' reports;
// - after convergence (check_converged): masters that own slots have distinct configEpochs.
class Checker {
  public:
    explicit Checker(SimCluster& sim) : sim_(sim) {
        auto previous = sim_.observer();
        sim_.set_observer([this, previous](std::size_t node, Instant at, const Event& e) {
            if (previous) previous(node, at, e);
            on_event(node, at, e);
        });
        sim_.set_step_hook([this] { check_step(); });
    }

    void check_step() {
        for (std::size_t i = 0; i < sim_.size(); ++i) {
            if (!sim_.alive(i)) continue;
            const auto& st = sim_.core(i).state();
            Seen& s = seen_[st.myself_id()];
            monotonic(st.myself_id(), "currentEpoch", s.current, st.current_epoch());
            monotonic(st.myself_id(), "lastVoteEpoch", s.vote, st.last_vote_epoch());
            // A replica's own configEpoch means nothing (it is reloaded as 0); a master's must
            // never go back.
            if (st.myself().is_master())
                monotonic(st.myself_id(), "master configEpoch", s.config, st.myself().config_epoch);
        }
    }

    void check_converged() {
        std::map<Epoch, NodeId> owners;
        for (std::size_t i = 0; i < sim_.size(); ++i) {
            if (!sim_.alive(i)) continue;
            const auto& me = sim_.core(i).state().myself();
            if (!me.is_master() || me.slot_count == 0) continue;
            auto [it, inserted] = owners.emplace(me.config_epoch, me.id);
            if (!inserted)
                violate(fmt::format("masters {} and {} share configEpoch {} after convergence",
                                    it->second.view(), me.id.view(), me.config_epoch));
        }
    }

    const std::vector<std::string>& violations() const { return violations_; }
    bool ok() const { return violations_.empty(); }

  private:
    struct Seen {
        Epoch current = 0, vote = 0, config = 0;
    };

    void monotonic(const NodeId& node, const char* what, Epoch& last, Epoch now_value) {
        if (now_value < last)
            violate(fmt::format("{} of {} went back from {} to {}", what, node.view(), last,
                                now_value));
        last = now_value;
    }

    void on_event(std::size_t node, Instant, const Event& e) {
        if (!sim_.alive(node)) return;
        auto& st = sim_.core(node).state();
        if (const auto* v = std::get_if<event::VoteGranted>(&e)) {
            if (!votes_.insert({st.myself_id(), v->epoch}).second)
                violate(fmt::format("{} voted twice in epoch {}", st.myself_id().view(), v->epoch));
        } else if (const auto* w = std::get_if<event::ElectionWon>(&e)) {
            auto [it, inserted] =
                winners_.emplace(std::pair{w->epoch, w->old_master}, st.myself_id());
            if (!inserted && it->second != st.myself_id())
                violate(fmt::format("two winners for {} in epoch {}: {} and {}",
                                    w->old_master.view(), w->epoch, it->second.view(),
                                    st.myself_id().view()));
            const std::size_t size = slot_masters(st);
            // The winner already took the failed master's slots; count the shard it replaced.
            if (w->votes < (size) / 2 + 1)
                violate(fmt::format("{} won epoch {} with {} votes of {} masters",
                                    st.myself_id().view(), w->epoch, w->votes, size));
        } else if (const auto* f = std::get_if<event::NodeFailed>(&e); f && !f->by_message) {
            const std::size_t count = report_count(node, f->node);
            const auto& me = st.myself();
            const std::size_t mine = (me.is_master() && me.slot_count > 0) ? 1 : 0;
            const std::size_t size = slot_masters(st);
            if (count + mine < size / 2 + 1)
                violate(fmt::format("{} marked {} FAIL with {} reports (+{} own) of {} masters",
                                    me.id.view(), f->node.view(), count, mine, size));
        }
    }

    std::size_t report_count(std::size_t node, const NodeId& failed) {
        auto& core = sim_.core(node);
        return core.state().valid_failure_reports(core.now(), failed);
    }

    static std::size_t slot_masters(const ClusterState& st) {
        std::size_t size = 0;
        st.for_each_node([&](const detail::Node& n) {
            if (n.is_master() && n.slot_count > 0) ++size;
        });
        return size;
    }

    void violate(std::string what) {
        violations_.push_back(fmt::format("t={} ms: {}", sim_.now().ms, std::move(what)));
    }

    SimCluster& sim_;
    std::map<NodeId, Seen> seen_;
    std::set<std::pair<NodeId, Epoch>> votes_;
    std::map<std::pair<Epoch, NodeId>, NodeId> winners_;  // (epoch, failed master) -> winner
    std::vector<std::string> violations_;
};

}  // namespace gossipcluster::testing
