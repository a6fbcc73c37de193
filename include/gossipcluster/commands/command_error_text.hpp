// Redis 7.0's reply text for each CommandError: what a Redis-compatible server answers.
#pragma once

#include <string>

#include <fmt/format.h>

#include "gossipcluster/command_error.hpp"

namespace gossipcluster {

// The error text for a refused command (without RESP's leading '-'), byte for byte what
// redis-server 7.0 replies in the same situation; empty for a command that succeeded. Where Redis
// has no such refusal (a message too large for the bus), the text follows its wording.
inline std::string error_text(CommandError code, const CommandErrorArgs& a) {
    switch (code) {
        case CommandError::None:
            return {};
        case CommandError::InvalidNodeAddress:
            return fmt::format("ERR Invalid node address specified: {}:{}", a.ip, a.port);
        case CommandError::UnknownNode:
            return fmt::format("ERR Unknown node {}", a.node);
        case CommandError::ForgetMyself:
            return "ERR I tried hard but I can't forget myself...";
        case CommandError::ForgetMyMaster:
            return "ERR Can't forget my master!";
        case CommandError::MessageTooLarge:
            return "ERR message is larger than the cluster bus allows";
        case CommandError::InvalidSlot:
            return "ERR Invalid or out of range slot";
        case CommandError::SlotRepeated:
            return fmt::format("ERR Slot {} specified multiple times", a.slot);
        case CommandError::SlotBusy:
            return fmt::format("ERR Slot {} is already busy", a.slot);
        case CommandError::SlotUnassigned:
            return fmt::format("ERR Slot {} is already unassigned", a.slot);
        case CommandError::SetSlotOnReplica:
            return "ERR Please use SETSLOT only with masters.";
        case CommandError::SetSlotUnknownNode:
            return fmt::format("ERR I don't know about node {}", a.node);
        case CommandError::SetSlotTargetNotMaster:
            return "ERR Target node is not a master";
        case CommandError::NotSlotOwner:
            return fmt::format("ERR I'm not the owner of hash slot {}", a.slot);
        case CommandError::AlreadySlotOwner:
            return fmt::format("ERR I'm already the owner of hash slot {}", a.slot);
        case CommandError::SlotHasKeys:
            return fmt::format(
                "ERR Can't assign hashslot {} to a different node while I still hold keys for "
                "this hash slot.",
                a.slot);
        case CommandError::InvalidConfigEpoch:
            return fmt::format("ERR Invalid config epoch specified: {}", a.epoch);
        case CommandError::ConfigEpochNotAlone:
            return "ERR The user can assign a config epoch only when the node does not know any "
                   "other node.";
        case CommandError::ConfigEpochNonZero:
            return "ERR Node config epoch is already non-zero";
        case CommandError::ReplicateMyself:
            return "ERR Can't replicate myself";
        case CommandError::ReplicateReplica:
            return "ERR I can only replicate a master, not a replica.";
        case CommandError::ReplicateNotEmpty:
            return "ERR To set a master the node must be empty and without assigned slots.";
        case CommandError::FailoverOnMaster:
            return "ERR You should send CLUSTER FAILOVER to a replica";
        case CommandError::FailoverMasterUnknown:
            return "ERR I'm a replica but my master is unknown to me";
        case CommandError::FailoverMasterDown:
            return "ERR Master is down or failed, please use CLUSTER FAILOVER FORCE";
    }
    // Not reached for a valid code; a value cast from outside the enum still gets a reply.
    return "ERR unknown error";
}

inline std::string error_text(const CommandResult& result) {
    return result.ok ? std::string() : error_text(result.error, result.args);
}

}  // namespace gossipcluster
