// What a command handler receives, and the small helpers every handler uses for its replies.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "gossipcluster/commands/resp_value.hpp"
#include "server_context.hpp"

namespace kvserver {

using gossipcluster::RespValue;

struct CommandContext {
    ServerContext& server;
    ClientInfo& client;
    // The request as received: args[0] is the command name in the client's spelling.
    const std::vector<std::string>& args;
};

using CommandHandler = RespValue (*)(CommandContext&);

// Redis's texts for the errors most handlers share.
inline RespValue wrong_arity(std::string_view full_name) {
    return RespValue::error(
        fmt::format("ERR wrong number of arguments for '{}' command", full_name));
}
inline RespValue syntax_error() {
    return RespValue::error("ERR syntax error");
}
inline RespValue not_an_integer() {
    return RespValue::error("ERR value is not an integer or out of range");
}
inline RespValue unknown_subcommand(std::string_view given, std::string_view container) {
    return RespValue::error(
        fmt::format("ERR unknown subcommand '{:.128}'. Try {} HELP.", given, container));
}

// HELP replies: one simple string per line.
inline RespValue help_lines(std::initializer_list<std::string_view> lines) {
    std::vector<RespValue> out;
    for (auto line : lines)
        out.push_back(RespValue::simple(std::string(line)));
    return RespValue::array(std::move(out));
}

}  // namespace kvserver
