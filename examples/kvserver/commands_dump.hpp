// DUMP, RESTORE and RESTORE-ASKING, with redis-server 7.0's payloads, options and errors.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <variant>

#include "command_context.hpp"
#include "dump_payload.hpp"
#include "gossipcluster/commands/arguments.hpp"

namespace kvserver {

inline RespValue cmd_dump(CommandContext& c) {
    const std::string* v = c.server.keyspace.peek(c.args[1], ServerContext::now_ms());
    return v ? RespValue::bulk(encode_dump_payload(*v)) : RespValue::null();
}

// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]. The checks run
// in redis-server's order: options, busy key, TTL, payload. IDLETIME and FREQ are checked and
// then ignored: this server keeps no access statistics. RESTORE-ASKING is the same command that
// MIGRATE sends; routing lets it into an importing slot as if ASKING had come first.
inline RespValue cmd_restore(CommandContext& c) {
    const auto& a = c.args;
    bool replace = false, absttl = false, idletime = false, freq = false;
    for (std::size_t j = 4; j < a.size(); ++j) {
        const std::string opt = gossipcluster::to_lower_ascii(a[j]);
        const bool has_value = j + 1 < a.size();
        if (opt == "replace") {
            replace = true;
        } else if (opt == "absttl") {
            absttl = true;
        } else if (opt == "idletime" && has_value && !freq) {
            auto idle = gossipcluster::parse_int64_strict(a[++j]);
            if (!idle) return not_an_integer();
            if (*idle < 0) return RespValue::error("ERR Invalid IDLETIME value, must be >= 0");
            idletime = true;
        } else if (opt == "freq" && has_value && !idletime) {
            auto f = gossipcluster::parse_int64_strict(a[++j]);
            if (!f) return not_an_integer();
            if (*f < 0 || *f > 255)
                return RespValue::error("ERR Invalid FREQ value, must be >= 0 and <= 255");
            freq = true;
        } else {
            return syntax_error();
        }
    }

    Keyspace& ks = c.server.keyspace;
    const std::int64_t now = ServerContext::now_ms();
    const bool existed = ks.exists(a[1], now);
    if (!replace && existed) return RespValue::error("BUSYKEY Target key name already exists.");
    auto ttl = gossipcluster::parse_int64_strict(a[2]);
    if (!ttl) return not_an_integer();
    if (*ttl < 0) return RespValue::error("ERR Invalid TTL value, must be >= 0");

    auto decoded = decode_dump_payload(a[3]);
    if (const auto* err = std::get_if<DumpError>(&decoded))
        return RespValue::error(std::string(dump_error_text(*err)));

    std::int64_t expire_at = Keyspace::kNoExpiry;
    if (*ttl != 0) {
        if (!absttl && *ttl > std::numeric_limits<std::int64_t>::max() - now)
            return RespValue::error("ERR invalid expire time in 'restore' command");
        expire_at = absttl ? *ttl : *ttl + now;
        // Already past: the key is not created, and REPLACE still removes the old one.
        if (expire_at <= now) {
            if (existed) ks.erase(a[1], now);
            return RespValue::ok();
        }
    }
    ks.set(a[1], std::move(std::get<std::string>(decoded)), expire_at);
    return RespValue::ok();
}

}  // namespace kvserver
