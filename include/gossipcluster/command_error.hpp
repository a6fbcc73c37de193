// CommandResult and CommandError: what an operator command returns, and why it was refused.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace gossipcluster {

// Why ClusterState refused an operator command. The core says only which rule was broken and with
// which values (CommandErrorArgs); the reply text a server sends is rendered outside the core
// (commands/command_error_text.hpp renders Redis's).
enum class CommandError : std::uint8_t {
    None,
    // MEET: an address that does not parse, a handshake already running, or max_nodes reached
    // (ip, port).
    InvalidNodeAddress,
    UnknownNode,  // FORGET, REPLICATE, a module message's target (node)
    ForgetMyself,
    ForgetMyMaster,
    MessageTooLarge,  // PUBLISH or a module message beyond max_publish_bytes
    InvalidSlot,      // a slot at or above 16384
    SlotRepeated,     // ADDSLOTS / DELSLOTS name a slot twice (slot)
    SlotBusy,         // ADDSLOTS of an owned slot (slot)
    SlotUnassigned,   // DELSLOTS of a slot no one owns (slot)
    SetSlotOnReplica,
    SetSlotUnknownNode,      // SETSLOT naming a node we do not know (node)
    SetSlotTargetNotMaster,  // SETSLOT naming a replica
    NotSlotOwner,            // SETSLOT MIGRATING a slot we do not own (slot)
    AlreadySlotOwner,        // SETSLOT IMPORTING a slot we own (slot)
    SlotHasKeys,             // SETSLOT NODE giving away a slot we still hold keys of (slot)
    InvalidConfigEpoch,      // SET-CONFIG-EPOCH out of range (epoch)
    ConfigEpochNotAlone,     // SET-CONFIG-EPOCH when other nodes are known
    ConfigEpochNonZero,      // SET-CONFIG-EPOCH when ours is already set
    ReplicateMyself,
    ReplicateReplica,   // REPLICATE naming a replica
    ReplicateNotEmpty,  // REPLICATE from a master with slots or keys
    FailoverOnMaster,
    FailoverMasterUnknown,  // a replica whose master is not in its view
    FailoverMasterDown,     // a default FAILOVER while the master is failing or unreachable
};

// The values an error's text names; each code sets only those it uses (see CommandError).
struct CommandErrorArgs {
    std::uint16_t slot = 0;
    std::string node;  // the node id as the caller wrote it (it may not be a valid id)
    std::string ip;    // as the caller wrote it
    std::uint16_t port = 0;
    std::int64_t epoch = 0;
};

// Result of an operator command: ok, or the error code with its values.
struct CommandResult {
    bool ok = true;
    CommandError error = CommandError::None;
    CommandErrorArgs args;

    static CommandResult success() { return {}; }
    static CommandResult failure(CommandError code) { return {false, code, {}}; }
    static CommandResult failure_slot(CommandError code, std::uint16_t slot) {
        CommandResult r = failure(code);
        r.args.slot = slot;
        return r;
    }
    static CommandResult failure_node(CommandError code, std::string_view node) {
        CommandResult r = failure(code);
        r.args.node = node;
        return r;
    }
    static CommandResult failure_address(CommandError code, std::string_view ip,
                                         std::uint16_t port) {
        CommandResult r = failure(code);
        r.args.ip = ip;
        r.args.port = port;
        return r;
    }
    static CommandResult failure_epoch(CommandError code, std::int64_t epoch) {
        CommandResult r = failure(code);
        r.args.epoch = epoch;
        return r;
    }
};

}  // namespace gossipcluster
