// Text of transcript output lines: node names as n<index>, slot ranges, events and messages.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include <gossipcluster/event.hpp>
#include <gossipcluster/message.hpp>

namespace transcripts {

using gossipcluster::NodeId;

// Names nodes by their index in the simulated cluster; names it does not know (a node added by
// gossip only) by the first characters of the name.
using NameOf = std::function<std::string(const NodeId&)>;

inline std::string ranges_text(std::vector<std::uint16_t> slots) {
    if (slots.empty()) return "none";
    std::sort(slots.begin(), slots.end());
    std::string out;
    std::size_t i = 0;
    while (i < slots.size()) {
        std::size_t j = i;
        while (j + 1 < slots.size() && slots[j + 1] == slots[j] + 1)
            ++j;
        if (!out.empty()) out += ',';
        out += slots[i] == slots[j] ? fmt::format("{}", slots[i])
                                    : fmt::format("{}-{}", slots[i], slots[j]);
        i = j + 1;
    }
    return out;
}

inline std::string ranges_text(const gossipcluster::SlotBitmap& bitmap) {
    std::string out;
    bitmap.for_each_range([&](std::size_t first, std::size_t last) {
        if (!out.empty()) out += ',';
        out += first == last ? fmt::format("{}", first) : fmt::format("{}-{}", first, last);
    });
    return out.empty() ? "none" : out;
}

// The text of an event seen at a node, without the time and node prefix; empty for events a
// transcript does not show. `rel` turns a monotonic time into one relative to the cluster's start.
inline std::string event_text(const gossipcluster::Event& e, const NameOf& name,
                              const std::function<std::int64_t(std::int64_t)>& rel,
                              bool show_links) {
    namespace ev = gossipcluster::event;
    return std::visit(
        [&](const auto& x) -> std::string {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, ev::NodeAdded>)
                return fmt::format("adds node {}{}", name(x.node),
                                   x.handshake ? " (handshake)" : "");
            else if constexpr (std::is_same_v<T, ev::HandshakeCompleted>)
                return fmt::format("handshake done with {}", name(x.node));
            else if constexpr (std::is_same_v<T, ev::HandshakeTimedOut>)
                return fmt::format("handshake with {}:{} timed out", x.ip, x.port);
            else if constexpr (std::is_same_v<T, ev::NodeAddressChanged>)
                return fmt::format("{} changed address", name(x.node));
            else if constexpr (std::is_same_v<T, ev::NodeForgotten>)
                return fmt::format("forgets {}{}", name(x.node),
                                   x.by_peer ? " (told by a peer)" : "");
            else if constexpr (std::is_same_v<T, ev::NodeNoAddr>)
                return fmt::format("{} has no address", name(x.node));
            else if constexpr (std::is_same_v<T, ev::LinkError>)
                return show_links ? fmt::format("link to {} failed: {}",
                                                x.node.is_null() ? "?" : name(x.node), x.reason)
                                  : std::string{};
            else if constexpr (std::is_same_v<T, ev::NodePfail>)
                return fmt::format("marks {} PFAIL", name(x.node));
            else if constexpr (std::is_same_v<T, ev::NodeFailed>)
                return fmt::format("marks {} FAIL{}", name(x.node),
                                   x.by_message ? " (told by a FAIL message)" : "");
            else if constexpr (std::is_same_v<T, ev::NodeRecovered>)
                return fmt::format("clears the failure flag of {}", name(x.node));
            else if constexpr (std::is_same_v<T, ev::SlotsChanged>) {
                std::string s =
                    fmt::format("slots {} now owned by {}", ranges_text(x.moved), name(x.owner));
                if (!x.lost_by_me.empty())
                    s += fmt::format(" (lost by me: {})", ranges_text(x.lost_by_me));
                return s;
            } else if constexpr (std::is_same_v<T, ev::RoleChanged>)
                return x.is_master ? fmt::format("becomes master (was {})",
                                                 x.was_master ? "master" : "replica")
                                   : fmt::format("becomes replica of {} (was {})", name(x.master),
                                                 x.was_master ? "master" : "replica");
            else if constexpr (std::is_same_v<T, ev::ClusterStateChanged>)
                return fmt::format("cluster state {}", x.ok ? "ok" : "fail");
            else if constexpr (std::is_same_v<T, ev::ElectionStarted>)
                return fmt::format("asks for votes to replace {}: epoch {}, rank {}",
                                   name(x.failed_master), x.epoch, x.rank);
            else if constexpr (std::is_same_v<T, ev::ElectionWon>)
                return fmt::format("wins the election of epoch {} with {} votes, replacing {}",
                                   x.epoch, x.votes, name(x.old_master));
            else if constexpr (std::is_same_v<T, ev::ElectionFailed>)
                return fmt::format("election of epoch {} failed with {} votes", x.epoch, x.votes);
            else if constexpr (std::is_same_v<T, ev::ElectionRefused>)
                return fmt::format("will not replace {}: {}", name(x.failed_master), x.reason);
            else if constexpr (std::is_same_v<T, ev::VoteGranted>)
                return fmt::format("votes for {} to replace {} in epoch {}", name(x.candidate),
                                   name(x.failed_master), x.epoch);
            else if constexpr (std::is_same_v<T, ev::PublishReceived>)
                return fmt::format("receives {} {} from {}", x.shard ? "PUBLISHSHARD" : "PUBLISH",
                                   x.channel, name(x.sender));
            else if constexpr (std::is_same_v<T, ev::ModuleMessageReceived>)
                return fmt::format("receives a module message from {}", name(x.sender));
            else if constexpr (std::is_same_v<T, ev::PauseWrites>)
                return fmt::format("pauses writes for {} until +{}ms", name(x.replica),
                                   rel(x.until_ms));
            else if constexpr (std::is_same_v<T, ev::ResumeWrites>)
                return "resumes writes";
            else if constexpr (std::is_same_v<T, ev::ManualFailoverTimedOut>)
                return "manual failover timed out";
            else
                return "unknown event";
        },
        e);
}

// A message without its sender and receivers: type and the header fields that matter to it.
inline std::string message_text(const gossipcluster::Message& m, const NameOf& name) {
    using gossipcluster::MessageType;
    namespace flag = gossipcluster::message_flag;
    const auto& h = m.header;
    std::string s(gossipcluster::message_type_name(h.type));
    switch (h.type) {
        case MessageType::Fail:
            s += fmt::format(" {}", name(std::get<gossipcluster::FailBody>(m.body).node));
            break;
        case MessageType::FailoverAuthRequest:
            s += fmt::format(" current-epoch={} config-epoch={} offset={}", h.current_epoch,
                             h.config_epoch, h.offset);
            if (h.mflags[0] & flag::kForceAck) s += " force-ack";
            break;
        case MessageType::FailoverAuthAck:
            s += fmt::format(" current-epoch={}", h.current_epoch);
            break;
        case MessageType::Update: {
            const auto& u = std::get<gossipcluster::UpdateBody>(m.body);
            s += fmt::format(" {} config-epoch={} slots={}", name(u.node), u.config_epoch,
                             ranges_text(u.slots));
            break;
        }
        case MessageType::Ping:
        case MessageType::Pong:
        case MessageType::Meet: {
            s += fmt::format(" current-epoch={} config-epoch={} offset={}", h.current_epoch,
                             h.config_epoch, h.offset);
            if (h.mflags[0] & flag::kPaused) s += " paused";
            // The entries that are failure reports: what the sender suspects.
            std::string suspects;
            for (const auto& g : std::get<gossipcluster::GossipBody>(m.body).gossip) {
                const bool fail = g.flags & gossipcluster::node_flag::kFail;
                const bool pfail = g.flags & gossipcluster::node_flag::kPfail;
                if (!fail && !pfail) continue;
                suspects += fmt::format(" {}:{}", name(g.node), fail ? "fail" : "pfail");
            }
            if (!suspects.empty()) s += " suspects" + suspects;
            break;
        }
        default:
            break;
    }
    return s;
}

}  // namespace transcripts
