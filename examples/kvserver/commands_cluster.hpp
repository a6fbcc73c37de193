// The per-connection cluster commands: ASKING, READONLY, READWRITE.
#pragma once

#include "command_context.hpp"

namespace kvserver {

inline RespValue cluster_disabled() {
    return RespValue::error("ERR This instance has cluster support disabled");
}

// The next command may touch a slot this node is importing.
inline RespValue cmd_asking(CommandContext& c) {
    if (!c.server.cluster) return cluster_disabled();
    c.client.asking = true;
    return RespValue::ok();
}

// On a replica, serve this client's reads of its master's slots instead of redirecting them.
inline RespValue cmd_readonly(CommandContext& c) {
    if (!c.server.cluster) return cluster_disabled();
    c.client.readonly = true;
    return RespValue::ok();
}

inline RespValue cmd_readwrite(CommandContext& c) {
    if (!c.server.cluster) return cluster_disabled();
    c.client.readonly = false;
    return RespValue::ok();
}

}  // namespace kvserver
