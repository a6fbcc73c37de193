// Checker: the safety invariants of the protocol, checked on a SimCluster after every step.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "gossipcluster/testing/sim_cluster.hpp"

namespace gossipcluster::testing {

// Invariants:
// - every live node's view is consistent with itself (ClusterState::check_invariants);
// - currentEpoch, lastVoteEpoch and a master's own configEpoch never decrease, across restarts;
// - a master grants at most one vote per epoch (across restarts: the vote is durable);
// - at most one election winner per failed master and epoch, each with a majority of the masters
//   it saw;
// - a node marks another FAIL by its own decision only with a majority of slot masters' reports;
// - after convergence (check_converged): masters that own slots have distinct configEpochs;
// - node timeout means unreachable that long: a node decides on its own that another is FAIL
//   only after that one was crashed, paused or cut off by a blocked direction for about the
//   node timeout (a quick restart, a short pause or a reset of links never FAILs a node).
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
        track_reachability();
        for (std::size_t i = 0; i < sim_.size(); ++i) {
            if (!sim_.alive(i)) continue;
            const auto& st = sim_.core(i).state();
            if (std::string broken = st.check_invariants(); !broken.empty())
                violate(fmt::format("node {}: {}", st.myself_id().view(), broken));
            Seen& s = seen_[st.myself_id()];
            monotonic(st.myself_id(), "currentEpoch", s.current, st.current_epoch());
            monotonic(st.myself_id(), "lastVoteEpoch", s.vote, st.last_vote_epoch());
            // A replica's own configEpoch means nothing (it is reloaded as 0); a master's must
            // never go back.
            if (st.myself().is_master())
                monotonic(st.myself_id(), "master configEpoch", s.config,
                          st.myself().config_epoch());
        }
    }

    void check_converged() {
        std::map<Epoch, NodeId> owners;
        for (std::size_t i = 0; i < sim_.size(); ++i) {
            if (!sim_.alive(i)) continue;
            const NodeView me = sim_.core(i).state().myself();
            if (!me.is_master() || me.slot_count() == 0) continue;
            auto [it, inserted] = owners.emplace(me.config_epoch(), me.id());
            if (!inserted)
                violate(fmt::format("masters {} and {} share configEpoch {} after convergence",
                                    it->second.view(), me.id().view(), me.config_epoch()));
        }
    }

    // Forged frames (a fuzzer's attacker) can make nodes suspect a reachable one: FAIL then says
    // nothing about timing, and only the quorum rule is checked.
    void allow_forged_reports() { check_timing_ = false; }

    const std::vector<std::string>& violations() const { return violations_; }
    bool ok() const { return violations_.empty(); }

  private:
    struct Seen {
        Epoch current = 0, vote = 0, config = 0;
    };

    // When node i was unreachable: crashed, paused, or at either end of a blocked direction.
    struct Reach {
        std::int64_t since = -1;  // start of the current stretch, -1 while reachable
        std::vector<std::pair<std::int64_t, std::int64_t>> past;  // recent stretches [from, to)
    };

    void track_reachability() {
        const std::int64_t t = sim_.now().ms;
        reach_.resize(sim_.size());
        for (std::size_t i = 0; i < sim_.size(); ++i) {
            const bool alive = sim_.alive(i);
            if (alive) index_of_[sim_.core(i).state().myself_id()] = i;
            const bool impaired = !alive || sim_.paused(i) || sim_.blocked_involving(i);
            Reach& r = reach_[i];
            if (impaired && r.since < 0) {
                r.since = t;
            } else if (!impaired && r.since >= 0) {
                r.past.emplace_back(r.since, t);
                r.since = -1;
                constexpr std::size_t kKept = 32;
                if (r.past.size() > kKept) r.past.erase(r.past.begin());
            }
        }
    }

    // Whether `failed` had been unreachable for about the timeout, in a stretch that ended
    // recently enough for it to still count: failure reports stay valid for
    // fail_report_validity_mult timeouts, and a suspicion may outlive a recovery by another
    // timeout when the first messages after it are lost.
    // The slack covers a ping sent a round trip before the crash, the wake-up granularity and
    // the steps between a fault and its first observation.
    std::string describe_reach(std::size_t i) const {
        const Reach& r = reach_.at(i);
        std::string s;
        for (const auto& [from, to] : r.past)
            s += fmt::format("[{}, {}) ", from, to);
        if (r.since >= 0) s += fmt::format("since {}", r.since);
        return s.empty() ? std::string("never") : s;
    }

    bool unreachable_long_enough(std::size_t failed, std::int64_t t, std::int64_t timeout) {
        track_reachability();
        const std::int64_t slack =
            timeout / 4 + 2 * sim_.max_delay().count() + 2 * Config{}.cron_period.count();
        const std::int64_t recent =
            timeout * static_cast<std::int64_t>(Config{}.fail_report_validity_mult + 1);
        // A reachable moment between two stretches can pass unseen: a probe that began in the
        // first (a connect that hangs, a ping that was lost) is given up and repeated only after
        // a quarter timeout or a connect timeout. Stretches closer than that count as one.
        const std::int64_t unseen_gap =
            std::max(timeout / 4, sim_.options().connect_timeout.count()) +
            2 * Config{}.cron_period.count() + 2 * sim_.max_delay().count();
        const Reach& r = reach_.at(failed);
        std::int64_t from = -1, to = -1;
        const auto long_enough = [&] {
            return from >= 0 && to - from >= timeout - slack && to >= t - recent;
        };
        for (const auto& [a, b] : r.past) {
            if (from < 0 || a - to > unseen_gap) {
                if (long_enough()) return true;
                from = a;
            }
            to = b;
        }
        if (r.since >= 0) {
            if (from < 0 || r.since - to > unseen_gap) {
                if (long_enough()) return true;
                from = r.since;
            }
            to = t;
        }
        return long_enough();
    }

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
            const NodeView me = st.myself();
            const std::size_t mine = (me.is_master() && me.slot_count() > 0) ? 1 : 0;
            const std::size_t size = slot_masters(st);
            if (count + mine < size / 2 + 1)
                violate(fmt::format("{} marked {} FAIL with {} reports (+{} own) of {} masters",
                                    me.id().view(), f->node.view(), count, mine, size));
            const auto known = index_of_.find(f->node);
            const std::int64_t timeout = sim_.node_config(node).node_timeout.count();
            if (check_timing_ && known != index_of_.end() &&
                !unreachable_long_enough(known->second, sim_.now().ms, timeout))
                violate(fmt::format(
                    "{} marked {} FAIL though it was not unreachable for about "
                    "the node timeout ({} ms; unreachable {})",
                    me.id().view(), f->node.view(), timeout, describe_reach(known->second)));
        }
    }

    std::size_t report_count(std::size_t node, const NodeId& failed) {
        auto& core = sim_.core(node);
        return core.state().valid_failure_reports(core.now(), failed);
    }

    static std::size_t slot_masters(const ClusterState& st) {
        std::size_t size = 0;
        st.for_each_node([&](NodeView n) {
            if (n.is_master() && n.slot_count() > 0) ++size;
        });
        return size;
    }

    void violate(std::string what) {
        // The first violations tell the story; a broken rule repeated on every step must not
        // grow the list without bound.
        if (violations_.size() >= kMaxViolations) return;
        violations_.push_back(fmt::format("t={} ms: {}", sim_.now().ms, std::move(what)));
    }

    static constexpr std::size_t kMaxViolations = 100;

    SimCluster& sim_;
    std::map<NodeId, Seen> seen_;
    std::vector<Reach> reach_;
    bool check_timing_ = true;
    std::map<NodeId, std::size_t> index_of_;
    std::set<std::pair<NodeId, Epoch>> votes_;
    std::map<std::pair<Epoch, NodeId>, NodeId> winners_;  // (epoch, failed master) -> winner
    std::vector<std::string> violations_;
};

}  // namespace gossipcluster::testing
