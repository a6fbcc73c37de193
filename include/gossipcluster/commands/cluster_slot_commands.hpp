// The slot, epoch and role subcommands of CLUSTER (ADDSLOTS ... FAILOVER), with Redis's errors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "gossipcluster/cluster_state.hpp"
#include "gossipcluster/commands/arguments.hpp"
#include "gossipcluster/commands/command_error_text.hpp"
#include "gossipcluster/commands/resp_value.hpp"

namespace gossipcluster {

// What the CLUSTER command needs to know about the host's keyspace. Unset callbacks mean "no
// keys", which suits a host that stores nothing.
struct ClusterHostKeys {
    std::function<std::size_t()> total;                       // keys held (FLUSHSLOTS, REPLICATE)
    std::function<std::size_t(std::uint16_t)> count_in_slot;  // COUNTKEYSINSLOT, SETSLOT NODE
    // Up to `limit` key names in a slot (GETKEYSINSLOT).
    std::function<std::vector<std::string>(std::uint16_t, std::size_t)> keys_in_slot;
    // Drops every key: a replica's copy of its master's data on CLUSTER RESET.
    std::function<void()> flush;

    std::size_t total_keys() const { return total ? total() : 0; }
    std::size_t keys_in(std::uint16_t slot) const {
        return count_in_slot ? count_in_slot(slot) : 0;
    }
};

namespace detail {

inline RespValue from_result(const CommandResult& r) {
    return r.ok ? RespValue::ok() : RespValue::error(error_text(r));
}

inline std::optional<std::uint16_t> parse_slot_arg(std::string_view text) {
    auto n = parse_int64_strict(text);
    if (!n || *n < 0 || *n >= static_cast<std::int64_t>(kSlotCount)) return std::nullopt;
    return static_cast<std::uint16_t>(*n);
}

inline RespValue invalid_slot() {
    return RespValue::error("ERR Invalid or out of range slot");
}

// ADDSLOTS / DELSLOTS <slot>...: every slot is checked before any is changed.
template <typename Core>
RespValue cluster_slot_list(Core& core, std::span<const std::string_view> args, bool add) {
    std::vector<std::uint16_t> slots;
    slots.reserve(args.size() - 1);
    for (std::size_t i = 1; i < args.size(); ++i) {
        auto slot = parse_slot_arg(args[i]);
        if (!slot) return invalid_slot();
        slots.push_back(*slot);
    }
    return from_result(add ? core.add_slots(slots) : core.del_slots(slots));
}

// ADDSLOTSRANGE / DELSLOTSRANGE <first> <last>...
template <typename Core>
RespValue cluster_slot_ranges(Core& core, std::span<const std::string_view> args, bool add) {
    if (args.size() % 2 == 0)
        return RespValue::error(
            fmt::format("ERR wrong number of arguments for 'cluster|{}' command",
                        add ? "addslotsrange" : "delslotsrange"));
    std::vector<std::uint16_t> slots;
    for (std::size_t i = 1; i + 1 < args.size(); i += 2) {
        auto first = parse_slot_arg(args[i]);
        auto last = parse_slot_arg(args[i + 1]);
        if (!first || !last) return invalid_slot();
        if (*first > *last)
            return RespValue::error(fmt::format(
                "ERR start slot number {} is greater than end slot number {}", *first, *last));
        // Past kSlotCount entries some slot repeats: refuse now, so memory stays bounded.
        if (slots.size() > kSlotCount) {
            std::vector<bool> seen(kSlotCount, false);
            for (auto s : slots) {
                if (seen[s])
                    return RespValue::error(fmt::format("ERR Slot {} specified multiple times", s));
                seen[s] = true;
            }
        }
        for (std::uint32_t s = *first; s <= *last; ++s)
            slots.push_back(static_cast<std::uint16_t>(s));
    }
    return from_result(add ? core.add_slots(slots) : core.del_slots(slots));
}

// SETSLOT <slot> IMPORTING|MIGRATING|NODE <id> | STABLE
template <typename Core>
RespValue cluster_setslot(Core& core, std::span<const std::string_view> args,
                          const ClusterHostKeys& keys) {
    if (core.state().myself().is_replica())
        return RespValue::error("ERR Please use SETSLOT only with masters.");
    auto slot = parse_slot_arg(args[1]);
    if (!slot) return invalid_slot();
    const std::string_view action = args[2];
    std::optional<SetSlotMode> mode;
    if (equals_ignore_case(action, "importing") && args.size() == 4)
        mode = SetSlotMode::Importing;
    else if (equals_ignore_case(action, "migrating") && args.size() == 4)
        mode = SetSlotMode::Migrating;
    else if (equals_ignore_case(action, "stable") && args.size() == 3)
        mode = SetSlotMode::Stable;
    else if (equals_ignore_case(action, "node") && args.size() == 4)
        mode = SetSlotMode::Node;
    if (!mode)
        return RespValue::error(
            "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP");
    const std::string_view id = args.size() == 4 ? args[3] : std::string_view{};
    if (*mode == SetSlotMode::Node) {
        auto parsed = NodeId::parse(id);
        if (!parsed || !core.state().find(*parsed))
            return RespValue::error(fmt::format("ERR Unknown node {}", id));
    }
    const std::size_t held = keys.keys_in(*slot);
    return from_result(core.set_slot(*slot, *mode, id, held));
}

// FAILOVER [FORCE|TAKEOVER]
template <typename Core>
RespValue cluster_failover(Core& core, std::span<const std::string_view> args) {
    using Mode = ClusterState::FailoverMode;
    Mode mode = Mode::Default;
    if (args.size() == 2) {
        if (equals_ignore_case(args[1], "force"))
            mode = Mode::Force;
        else if (equals_ignore_case(args[1], "takeover"))
            mode = Mode::Takeover;
        else
            return RespValue::error("ERR syntax error");
    } else if (args.size() > 2) {
        return RespValue::error("ERR syntax error");
    }
    return from_result(core.failover(mode));
}

// RESET [HARD|SOFT]: a master must hold no keys; a replica turns master and drops its data.
template <typename Core>
RespValue cluster_reset(Core& core, std::span<const std::string_view> args,
                        const ClusterHostKeys& keys) {
    if (args.size() > 2)
        return RespValue::error(fmt::format(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLUSTER HELP.",
            args[0]));
    bool hard = false;
    if (args.size() == 2) {
        if (equals_ignore_case(args[1], "hard"))
            hard = true;
        else if (!equals_ignore_case(args[1], "soft"))
            return RespValue::error("ERR syntax error");
    }
    const bool was_replica = core.state().myself().is_replica();
    if (!was_replica && keys.total_keys() != 0)
        return RespValue::error(
            "ERR CLUSTER RESET can't be called with master nodes containing keys");
    RespValue reply = from_result(core.reset(hard));
    if (was_replica && keys.flush) keys.flush();
    return reply;
}

// GETKEYSINSLOT <slot> <count>
inline RespValue cluster_getkeysinslot(std::span<const std::string_view> args,
                                       const ClusterHostKeys& keys) {
    auto slot = parse_int64_strict(args[1]);
    auto count = parse_int64_strict(args[2]);
    if (!slot || !count) return RespValue::error("ERR value is not an integer or out of range");
    if (*count < 0 || *slot < 0 || *slot >= static_cast<std::int64_t>(kSlotCount))
        return RespValue::error("ERR Invalid slot or number of keys");
    std::vector<RespValue> out;
    if (keys.keys_in_slot && *count > 0)
        for (auto& k :
             keys.keys_in_slot(static_cast<std::uint16_t>(*slot), static_cast<std::size_t>(*count)))
            out.push_back(RespValue::bulk(std::move(k)));
    return RespValue::array(std::move(out));
}

// The slot, epoch and role subcommands; nullopt for a name this part does not handle. `name`
// is the lower-case subcommand, arity already checked.
template <typename Core>
std::optional<RespValue> cluster_slot_subcommand(Core& core, std::string_view name,
                                                 std::span<const std::string_view> args,
                                                 const ClusterHostKeys& keys) {
    if (name == "addslots" || name == "delslots")
        return cluster_slot_list(core, args, name == "addslots");
    if (name == "addslotsrange" || name == "delslotsrange")
        return cluster_slot_ranges(core, args, name == "addslotsrange");
    if (name == "flushslots") {
        if (keys.total_keys() != 0)
            return RespValue::error("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.");
        return from_result(core.flush_slots());
    }
    if (name == "setslot") return cluster_setslot(core, args, keys);
    if (name == "replicate") {
        const bool empty = keys.total_keys() == 0;
        return from_result(core.replicate(args[1], empty));
    }
    if (name == "set-config-epoch") {
        auto epoch = parse_int64_strict(args[1]);
        if (!epoch) return RespValue::error("ERR value is not an integer or out of range");
        return from_result(core.set_config_epoch(*epoch));
    }
    if (name == "bumpepoch") {
        bool bumped = false;
        core.bump_epoch(bumped);
        return RespValue::simple(fmt::format("{} {}", bumped ? "BUMPED" : "STILL",
                                             core.state().myself().config_epoch()));
    }
    if (name == "failover") return cluster_failover(core, args);
    if (name == "reset") return cluster_reset(core, args, keys);
    if (name == "countkeysinslot") {
        auto slot = parse_slot_arg(args[1]);
        if (!slot) return RespValue::error("ERR Invalid slot");
        return RespValue::number(static_cast<std::int64_t>(keys.keys_in(*slot)));
    }
    if (name == "getkeysinslot") return cluster_getkeysinslot(args, keys);
    return std::nullopt;
}

}  // namespace detail

}  // namespace gossipcluster
