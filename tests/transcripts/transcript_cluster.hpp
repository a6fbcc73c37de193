// Interpreter of transcript commands over a simulated cluster; each command returns what it saw.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <gossipcluster/commands/command_error_text.hpp>
#include <gossipcluster/testing/cluster_setup.hpp>

#include "datadriven.hpp"
#include "transcript_lines.hpp"

namespace transcripts {

namespace gc = gossipcluster;
namespace gt = gossipcluster::testing;

// Commands (arguments are key=value; lists are comma separated):
//   cluster masters=3 replicas=1 timeout=1000 seed=1 [epochs=1,1,1]
//       forms a cluster with slots (SimCluster + form_cluster); time 0 is when it has formed
//   advance ms=N | step [n=N]               run the simulation
//   run-until converged|failed-over|master|replica [node=I] [max=MS]
//   crash node=I | restart node=I | partition a=I,J b=K,L | heal
//   set-offset node=I offset=N | failover node=I [mode=force|takeover]
//   view node=I                             node I's view of every node
//   name-order                              the nodes ordered by their (random) names
//   trace [messages=TYPE,...|default|all|none|suspicions] [links=on|off] [reports=on|off]
//         [epochs=on|off]
//       what to show: message types (default: FAIL, FAILOVER_AUTH_*, UPDATE, MFSTART;
//       `suspicions` adds the PINGs and PONGs whose gossip flags a node PFAIL, which carry the
//       failure reports), link errors, changes of the failure reports a node holds, epochs
// Output lines are `+<ms> n<i>: <event>` for events and state changes seen at node i, and
// `+<ms> n<i> -> n<j>,...: <message>` for messages put on the wire (consecutive copies of one
// message to several nodes share a line). Within one input of a node, its messages come before
// its events, in the order ClusterCore applies them, and the changes of what the transcript
// watches in its state (epochs, failure reports held) just before its events.
class TranscriptCluster {
  public:
    std::string run(const Directive& d) {
        lines_.clear();
        check_keys(d);
        if (d.command == "cluster")
            form(d);
        else {
            if (!sim_) throw std::runtime_error("no cluster yet: start with `cluster`");
            if (d.command == "advance")
                sim_->run_for(gc::Duration{number(d, "ms")});
            else if (d.command == "step")
                for (std::int64_t i = 0, n = number(d, "n", 1); i < n; ++i)
                    sim_->step();
            else if (d.command == "run-until")
                run_until(d);
            else if (d.command == "crash") {
                sim_->crash(node(d));
                forget_watch(node(d));
            } else if (d.command == "restart") {
                sim_->restart(node(d));
                watch_quietly(node(d));
            } else if (d.command == "partition")
                sim_->partition(nodes(d, "a"), nodes(d, "b"));
            else if (d.command == "heal")
                sim_->heal();
            else if (d.command == "set-offset") {
                const auto offset = static_cast<std::uint64_t>(number(d, "offset"));
                sim_->core(node(d)).command([&](auto& st, gc::Now, gc::Output&) {
                    st.set_replication_offset(offset);
                    return gc::CommandResult::success();
                });
            } else if (d.command == "failover")
                failover(d);
            else if (d.command == "view")
                view(node(d));
            else if (d.command == "name-order")
                name_order();
            else if (d.command == "trace")
                trace(d);
            else
                throw std::runtime_error("unknown command " + d.command);
            flush_send();
            watch_state();
        }
        flush_send();
        std::string out;
        for (const auto& l : lines_)
            out += l + '\n';
        return out;
    }

  private:
    // A misspelt argument would otherwise fall back to its default without a word.
    static void check_keys(const Directive& d) {
        static const std::map<std::string, std::set<std::string>> known{
            {"cluster", {"masters", "replicas", "timeout", "seed", "epochs"}},
            {"advance", {"ms"}},
            {"step", {"n"}},
            {"run-until", {"converged", "failed-over", "master", "replica", "node", "max"}},
            {"crash", {"node"}},
            {"restart", {"node"}},
            {"partition", {"a", "b"}},
            {"heal", {}},
            {"set-offset", {"node", "offset"}},
            {"failover", {"node", "mode"}},
            {"view", {"node"}},
            {"name-order", {}},
            {"trace", {"messages", "links", "reports", "epochs"}},
        };
        auto it = known.find(d.command);
        if (it == known.end()) throw std::runtime_error("unknown command " + d.command);
        for (const auto& a : d.args)
            if (!it->second.contains(a.key))
                throw std::runtime_error(fmt::format("{}: unknown argument {}", d.command, a.key));
    }

    static std::int64_t number(const Directive& d, std::string_view key,
                               std::optional<std::int64_t> fallback = std::nullopt) {
        const Arg* a = d.find(key);
        if (!a || a->values.size() != 1) {
            if (fallback) return *fallback;
            throw std::runtime_error(fmt::format("{} needs {}=<number>", d.command, key));
        }
        return std::stoll(a->values[0]);
    }
    std::string text_arg(const Directive& d, std::string_view key, std::string fallback) const {
        const Arg* a = d.find(key);
        return a && a->values.size() == 1 ? a->values[0] : fallback;
    }
    std::size_t node(const Directive& d) const {
        const auto i = static_cast<std::size_t>(number(d, "node"));
        if (i >= ids_.size()) throw std::runtime_error(fmt::format("no node {}", i));
        return i;
    }
    std::vector<std::size_t> nodes(const Directive& d, std::string_view key) const {
        const Arg* a = d.find(key);
        if (!a || a->values.empty())
            throw std::runtime_error(fmt::format("{} needs {}=<nodes>", d.command, key));
        std::vector<std::size_t> out;
        for (const auto& v : a->values)
            out.push_back(static_cast<std::size_t>(std::stoul(v)));
        return out;
    }

    std::string name(const NodeId& id) const {
        for (std::size_t i = 0; i < ids_.size(); ++i)
            if (ids_[i] == id) return fmt::format("n{}", i);
        return fmt::format("?{}", id.view().substr(0, 8));
    }
    NameOf namer() const {
        return [this](const NodeId& id) { return name(id); };
    }
    std::int64_t rel(std::int64_t mono_ms) const { return mono_ms - start_ms_; }
    std::string stamp() const { return fmt::format("+{}ms", rel(sim_->now().ms)); }
    void line(std::string text) {
        flush_send();
        lines_.push_back(std::move(text));
    }

    void form(const Directive& d) {
        gt::ClusterShape shape;
        shape.masters = static_cast<std::size_t>(number(d, "masters", 3));
        shape.replicas_per_master = static_cast<std::size_t>(number(d, "replicas", 1));
        shape.config.node_timeout = gc::Duration{number(d, "timeout", 1000)};
        if (const Arg* e = d.find("epochs"))
            for (const auto& v : e->values)
                shape.config_epochs.push_back(std::stoull(v));
        sim_ = std::make_unique<gt::SimCluster>(
            gt::SimOptions{.seed = static_cast<std::uint64_t>(number(d, "seed", 1))});
        ids_.clear();
        watched_.clear();
        const bool formed = gt::form_cluster(*sim_, shape, gc::Duration{120000});
        for (std::size_t i = 0; i < sim_->size(); ++i)
            ids_.push_back(sim_->core(i).state().myself_id());
        start_ms_ = sim_->now().ms;
        if (!formed) {
            line("cluster did not form: " + gt::why_not_converged(*sim_));
            return;
        }
        sim_->set_observer([this](std::size_t i, gc::Instant, const gc::Event& e) {
            std::string text = event_text(
                e, namer(), [this](std::int64_t t) { return rel(t); }, show_links_);
            if (text.empty()) return;
            // What changed in the node's state by the same input reads best before the event.
            watch_node(i);
            if (auto* f = std::get_if<gc::event::NodeFailed>(&e); f && !f->by_message) {
                auto& core = sim_->core(i);
                const auto reports = core.state().valid_failure_reports(core.now(), f->node);
                text += fmt::format(" (quorum: {} failure report{}{})", reports,
                                    reports == 1 ? "" : "s",
                                    core.state().myself().is_master() ? " and its own view" : "");
            }
            line(fmt::format("{} n{}: {}", stamp(), i, text));
        });
        sim_->set_send_observer(
            [this](std::size_t from, std::size_t to, const gc::Message& m, bool lost) {
                if (!shown_.contains(m.type()) && !(show_suspicions_ && suspects_pfail(m))) return;
                std::string text = message_text(m, namer());
                if (lost) text += " (lost)";
                if (pending_ && pending_->at == sim_->now().ms && pending_->from == from &&
                    pending_->text == text) {
                    pending_->to.push_back(to);
                    return;
                }
                flush_send();
                pending_ = PendingSend{sim_->now().ms, from, {to}, std::move(text)};
            });
        sim_->set_step_hook([this] { watch_state(); });
        for (std::size_t i = 0; i < sim_->size(); ++i)
            watch_quietly(i);
        for (std::size_t i = 0; i < sim_->size(); ++i) {
            const auto me = sim_->core(i).state().myself();
            if (me.is_master())
                line(fmt::format("n{}: master slots={} config-epoch={}", i,
                                 ranges_text(sim_->core(i).state().slots_of(me)),
                                 me.config_epoch()));
            else
                line(fmt::format("n{}: replica of {}", i, me.master() ? name(*me.master()) : "?"));
        }
    }

    void run_until(const Directive& d) {
        const std::int64_t limit = number(d, "max", 30000);
        std::function<bool()> done;
        if (d.args.empty())
            throw std::runtime_error("run-until needs a condition: converged, failed-over, ...");
        const Arg& cond = d.args.front();
        if (cond.key == "converged") {
            done = [this] { return gt::cluster_converged(*sim_); };
        } else if (cond.key == "failed-over") {
            const NodeId old = ids_.at(node(d));
            done = [this, old] {
                for (std::size_t i = 0; i < sim_->size(); ++i) {
                    if (!sim_->alive(i)) continue;
                    const auto n = sim_->core(i).state().find(old);
                    if (n && n->is_master() && sim_->core(i).state().slots_of(*n).count() > 0)
                        return false;
                }
                return gt::cluster_converged(*sim_);
            };
        } else if (cond.key == "master" || cond.key == "replica") {
            const std::size_t i = node(d);
            const bool master = cond.key == "master";
            done = [this, i, master] {
                return sim_->alive(i) && sim_->core(i).state().myself().is_master() == master;
            };
        } else {
            throw std::runtime_error("run-until: unknown condition " + cond.key);
        }
        const bool held = sim_->run_until(done, gc::Duration{limit});
        line(fmt::format("{} {} {}", stamp(), cond.key, held ? "reached" : "NOT reached"));
    }

    void failover(const Directive& d) {
        const std::string mode = text_arg(d, "mode", "default");
        auto m = gc::ClusterState::FailoverMode::Default;
        if (mode == "force")
            m = gc::ClusterState::FailoverMode::Force;
        else if (mode == "takeover")
            m = gc::ClusterState::FailoverMode::Takeover;
        else if (mode != "default")
            throw std::runtime_error("failover: unknown mode " + mode);
        const auto r = sim_->core(node(d)).command(
            [&](auto& st, gc::Now n, gc::Output& o) { return st.failover(n, m, o); });
        line(r.ok ? std::string("OK") : "error: " + gc::error_text(r));
    }

    void view(std::size_t i) {
        const auto& st = sim_->core(i).state();
        line(fmt::format("current-epoch={} cluster={}", st.current_epoch(),
                         st.cluster_ok() ? "ok" : "fail"));
        std::map<std::string, std::string> rows;  // ordered by name: n0, n1, ...
        st.for_each_node([&](gc::NodeView n) {
            std::string row = name(n.id()) + ":";
            if (n.is_master())
                row += fmt::format(" master config-epoch={} slots={}", n.config_epoch(),
                                   ranges_text(st.slots_of(n)));
            else
                row += fmt::format(" replica of {}", n.master() ? name(*n.master()) : "?");
            if (n.failing()) row += " FAIL";
            if (n.timed_out()) row += " PFAIL";
            if (n.id() == st.myself_id()) row += " (myself)";
            rows[fmt::format("{:>8}", name(n.id()))] = row;
        });
        for (auto& [key, row] : rows)
            line(row);
    }

    // The nodes by name, smallest first: the order that settles config epoch collisions. The
    // names themselves are random, so the transcript shows only their order.
    void name_order() {
        std::vector<std::size_t> order(ids_.size());
        for (std::size_t i = 0; i < order.size(); ++i)
            order[i] = i;
        std::sort(order.begin(), order.end(),
                  [&](std::size_t a, std::size_t b) { return ids_[a].view() < ids_[b].view(); });
        std::string text;
        for (auto i : order)
            text += fmt::format("{}n{}", text.empty() ? "" : " < ", i);
        line(text);
    }

    void trace(const Directive& d) {
        if (const Arg* m = d.find("messages")) {
            shown_.clear();
            show_suspicions_ = false;
            for (const auto& v : m->values) {
                if (v == "suspicions")
                    show_suspicions_ = true;
                else if (v == "default")
                    shown_.insert(kDefaultShown.begin(), kDefaultShown.end());
                else if (v == "all")
                    for (std::uint16_t t = 0; t < gc::kMessageTypeCount; ++t)
                        shown_.insert(static_cast<gc::MessageType>(t));
                else if (v != "none") {
                    bool found = false;
                    for (std::uint16_t t = 0; t < gc::kMessageTypeCount; ++t)
                        if (gc::message_type_name(static_cast<gc::MessageType>(t)) == v) {
                            shown_.insert(static_cast<gc::MessageType>(t));
                            found = true;
                        }
                    if (!found) throw std::runtime_error("trace: unknown message type " + v);
                }
            }
        }
        auto flag = [&](std::string_view key, bool& value) {
            if (const Arg* a = d.find(key)) value = a->values.size() == 1 && a->values[0] == "on";
        };
        flag("links", show_links_);
        flag("reports", show_reports_);
        flag("epochs", show_epochs_);
    }

    // What the transcript watches in each live node besides events: its epochs and the failure
    // reports it holds about each node. Changes become lines.
    struct Watched {
        gc::Epoch current_epoch = 0;
        gc::Epoch config_epoch = 0;
        std::vector<std::size_t> reports;  // [node index]
    };
    Watched snapshot(std::size_t i) {
        auto& core = sim_->core(i);
        const auto& st = core.state();
        Watched w{st.current_epoch(), st.myself().config_epoch(), {}};
        for (const auto& id : ids_)
            w.reports.push_back(st.valid_failure_reports(core.now(), id));
        return w;
    }
    void watch_quietly(std::size_t i) { watched_[i] = snapshot(i); }
    void forget_watch(std::size_t i) { watched_.erase(i); }
    void watch_state() {
        for (const auto& entry : watched_)
            watch_node(entry.first);
    }
    void watch_node(std::size_t i) {
        auto it = watched_.find(i);
        if (it == watched_.end() || !sim_->alive(i)) return;
        Watched& old = it->second;
        Watched now = snapshot(i);
        if (show_epochs_ && now.current_epoch != old.current_epoch)
            line(fmt::format("{} n{}: current-epoch {} -> {}", stamp(), i, old.current_epoch,
                             now.current_epoch));
        if (show_epochs_ && now.config_epoch != old.config_epoch)
            line(fmt::format("{} n{}: config-epoch {} -> {}", stamp(), i, old.config_epoch,
                             now.config_epoch));
        for (std::size_t j = 0; show_reports_ && j < now.reports.size(); ++j)
            if (now.reports[j] != old.reports[j])
                line(fmt::format("{} n{}: holds {} failure report{} about n{}", stamp(), i,
                                 now.reports[j], now.reports[j] == 1 ? "" : "s", j));
        old = std::move(now);
    }

    // A PING, PONG or MEET that carries a failure report: a node flagged PFAIL in its gossip.
    static bool suspects_pfail(const gc::Message& m) {
        if (!gc::carries_gossip(m.type())) return false;
        for (const auto& g : std::get<gc::GossipBody>(m.body).gossip)
            if (g.flags & gc::node_flag::kPfail) return true;
        return false;
    }

    struct PendingSend {
        std::int64_t at;
        std::size_t from;
        std::vector<std::size_t> to;
        std::string text;
    };
    void flush_send() {
        if (!pending_) return;
        std::string to;
        for (auto j : pending_->to)
            to += fmt::format("{}n{}", to.empty() ? "" : ",", j);
        lines_.push_back(fmt::format("+{}ms n{} -> {}: {}", rel(pending_->at), pending_->from, to,
                                     pending_->text));
        pending_.reset();
    }

    static constexpr std::array kDefaultShown{
        gc::MessageType::Fail, gc::MessageType::FailoverAuthRequest,
        gc::MessageType::FailoverAuthAck, gc::MessageType::Update, gc::MessageType::MfStart};

    std::unique_ptr<gt::SimCluster> sim_;
    std::vector<NodeId> ids_;
    std::int64_t start_ms_ = 0;
    std::vector<std::string> lines_;
    std::optional<PendingSend> pending_;
    std::map<std::size_t, Watched> watched_;
    std::set<gc::MessageType> shown_{kDefaultShown.begin(), kDefaultShown.end()};
    bool show_suspicions_ = false;
    bool show_links_ = false;
    bool show_reports_ = true;
    bool show_epochs_ = true;
};

}  // namespace transcripts
