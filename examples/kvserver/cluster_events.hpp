// One log line for each event the cluster core reports, worded like redis-server's cluster log.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <fmt/format.h>

#include "gossipcluster/event.hpp"
#include "options.hpp"

namespace kvserver {

struct EventLine {
    LogLevel level = LogLevel::kNotice;
    std::string text;
};

namespace detail {

namespace ev = gossipcluster::event;

inline std::string_view name_or_unknown(const gossipcluster::NodeId& id) {
    return id.is_null() ? std::string_view("(unknown node)") : id.view();
}

struct EventDescriber {
    EventLine operator()(const ev::NodeAdded& e) const {
        if (e.handshake)
            return {LogLevel::kNotice,
                    fmt::format("Starting handshake with {}:{} (temporary name {})", e.ip, e.port,
                                e.node.view())};
        return {LogLevel::kNotice,
                fmt::format("Node {} ({}:{}) added to the cluster", e.node.view(), e.ip, e.port)};
    }
    EventLine operator()(const ev::HandshakeCompleted& e) const {
        return {LogLevel::kNotice, fmt::format("Handshake completed: {} is node {}",
                                               e.temporary.view(), e.node.view())};
    }
    EventLine operator()(const ev::HandshakeTimedOut& e) const {
        return {LogLevel::kWarning, fmt::format("Handshake with {}:{} timed out, node {} removed",
                                                e.ip, e.port, e.temporary.view())};
    }
    EventLine operator()(const ev::NodeAddressChanged& e) const {
        return {LogLevel::kNotice, fmt::format("Address updated for node {}, now {}:{}@{}",
                                               e.node.view(), e.ip, e.port, e.cport)};
    }
    EventLine operator()(const ev::NodeForgotten& e) const {
        return {LogLevel::kNotice, fmt::format("Node {} forgotten{}", e.node.view(),
                                               e.by_peer ? " (as told by a peer)" : "")};
    }
    EventLine operator()(const ev::NodeNoAddr& e) const {
        return {LogLevel::kWarning,
                fmt::format("Node {} has no known address (noaddr)", e.node.view())};
    }
    EventLine operator()(const ev::LinkError& e) const {
        return {LogLevel::kNotice, fmt::format("Cluster bus link with {} closed: {}",
                                               name_or_unknown(e.node), e.reason)};
    }
    EventLine operator()(const ev::NodePfail& e) const {
        return {LogLevel::kNotice,
                fmt::format("Node {} is possibly failing (no reply within the node timeout)",
                            e.node.view())};
    }
    EventLine operator()(const ev::NodeFailed& e) const {
        if (e.by_message)
            return {LogLevel::kWarning,
                    fmt::format("FAIL message received about {}: marking it as failing",
                                e.node.view())};
        return {LogLevel::kWarning,
                fmt::format("Marking node {} as failing (quorum reached)", e.node.view())};
    }
    EventLine operator()(const ev::NodeRecovered& e) const {
        return {LogLevel::kNotice,
                fmt::format("Clear FAIL state for node {}: it is reachable again", e.node.view())};
    }
    EventLine operator()(const ev::SlotsChanged& e) const {
        return {LogLevel::kNotice,
                fmt::format("{} slot(s) now served by node {}{}", e.moved.size(), e.owner.view(),
                            e.lost_by_me.empty()
                                ? std::string()
                                : fmt::format(" ({} of them were ours)", e.lost_by_me.size()))};
    }
    EventLine operator()(const ev::RoleChanged& e) const {
        if (e.is_master) return {LogLevel::kNotice, "This node is now a master"};
        return {LogLevel::kNotice,
                fmt::format("This node is now a replica of {}", e.master.view())};
    }
    EventLine operator()(const ev::ClusterStateChanged& e) const {
        return {LogLevel::kNotice, fmt::format("Cluster state changed: {}", e.ok ? "ok" : "fail")};
    }
    EventLine operator()(const ev::ElectionStarted& e) const {
        return {LogLevel::kNotice,
                fmt::format("Starting a failover election for epoch {} (rank {}) to replace {}",
                            e.epoch, e.rank, e.failed_master.view())};
    }
    EventLine operator()(const ev::ElectionWon& e) const {
        return {LogLevel::kNotice,
                fmt::format("Failover election won for epoch {} with {} vote(s), replacing {}",
                            e.epoch, e.votes, e.old_master.view())};
    }
    EventLine operator()(const ev::ElectionFailed& e) const {
        return {
            LogLevel::kWarning,
            fmt::format("Failover election for epoch {} failed with {} vote(s)", e.epoch, e.votes)};
    }
    EventLine operator()(const ev::ElectionRefused& e) const {
        return {LogLevel::kNotice, fmt::format("Not starting a failover election for {}: {}",
                                               e.failed_master.view(), e.reason)};
    }
    EventLine operator()(const ev::VoteGranted& e) const {
        return {LogLevel::kNotice,
                fmt::format("Failover auth granted to {} for epoch {} (replacing {})",
                            e.candidate.view(), e.epoch, e.failed_master.view())};
    }
    // Events added to the library later still get a line until they get their own wording.
    template <typename Other>
    EventLine operator()(const Other&) const {
        return {LogLevel::kVerbose, "Cluster event"};
    }
};

}  // namespace detail

inline EventLine describe_event(const gossipcluster::Event& e) {
    return std::visit(detail::EventDescriber{}, e);
}

}  // namespace kvserver
