// The string commands: GET, SET, DEL, EXISTS, INCR, INCRBY, DECR, DECRBY, MGET, MSET.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "command_context.hpp"
#include "gossipcluster/commands/arguments.hpp"

namespace kvserver {

inline RespValue cmd_get(CommandContext& c) {
    const std::string* v = c.server.keyspace.get(c.args[1], ServerContext::now_ms());
    return v ? RespValue::bulk(*v) : RespValue::null();
}

namespace detail {

enum class ExpireKind { kNone, kEx, kPx, kExAt, kPxAt, kKeepTtl };

// The absolute expiry time (unix ms) for SET's EX/PX/EXAT/PXAT value, or an error reply.
inline std::variant<std::int64_t, RespValue> set_expire_time(ExpireKind kind, std::string_view text,
                                                             std::int64_t now_ms) {
    auto n = gossipcluster::parse_int64_strict(text);
    if (!n) return not_an_integer();
    const RespValue invalid = RespValue::error("ERR invalid expire time in 'set' command");
    constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
    std::int64_t ms = *n;
    if (ms <= 0) return invalid;
    if (kind == ExpireKind::kEx || kind == ExpireKind::kExAt) {
        if (ms > kMax / 1000) return invalid;
        ms *= 1000;
    }
    if (kind == ExpireKind::kEx || kind == ExpireKind::kPx) {
        if (ms > kMax - now_ms) return invalid;
        ms += now_ms;
    }
    return ms;
}

}  // namespace detail

// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT unix-s|PXAT unix-ms|KEEPTTL]
inline RespValue cmd_set(CommandContext& c) {
    using detail::ExpireKind;
    bool nx = false, xx = false, get = false;
    ExpireKind expire = ExpireKind::kNone;
    std::string_view expire_arg;
    for (std::size_t i = 3; i < c.args.size(); ++i) {
        const std::string opt = gossipcluster::to_lower_ascii(c.args[i]);
        ExpireKind kind = opt == "ex"        ? ExpireKind::kEx
                          : opt == "px"      ? ExpireKind::kPx
                          : opt == "exat"    ? ExpireKind::kExAt
                          : opt == "pxat"    ? ExpireKind::kPxAt
                          : opt == "keepttl" ? ExpireKind::kKeepTtl
                                             : ExpireKind::kNone;
        if (opt == "nx" && !xx) {
            nx = true;
        } else if (opt == "xx" && !nx) {
            xx = true;
        } else if (opt == "get") {
            get = true;
        } else if (kind == ExpireKind::kKeepTtl &&
                   (expire == ExpireKind::kNone || expire == kind)) {
            expire = kind;
        } else if (kind != ExpireKind::kNone && kind != ExpireKind::kKeepTtl &&
                   (expire == ExpireKind::kNone || expire == kind) && i + 1 < c.args.size()) {
            expire = kind;
            expire_arg = c.args[++i];
        } else {
            return syntax_error();
        }
    }

    const std::int64_t now = ServerContext::now_ms();
    std::int64_t expire_at = Keyspace::kNoExpiry;
    if (expire != ExpireKind::kNone && expire != ExpireKind::kKeepTtl) {
        auto t = detail::set_expire_time(expire, expire_arg, now);
        if (auto* err = std::get_if<RespValue>(&t)) return *err;
        expire_at = std::get<std::int64_t>(t);
    }

    Keyspace& ks = c.server.keyspace;
    std::optional<std::string> old;
    if (const std::string* v = ks.peek(c.args[1], now)) old = *v;
    if ((nx && old) || (xx && !old)) return get && old ? RespValue::bulk(*old) : RespValue::null();
    if (expire == ExpireKind::kKeepTtl && old) expire_at = ks.expiry(c.args[1], now);
    ks.set(c.args[1], c.args[2], expire_at);
    if (get) return old ? RespValue::bulk(std::move(*old)) : RespValue::null();
    return RespValue::ok();
}

inline RespValue cmd_del(CommandContext& c) {
    std::int64_t removed = 0;
    const std::int64_t now = ServerContext::now_ms();
    for (std::size_t i = 1; i < c.args.size(); ++i)
        removed += c.server.keyspace.erase(c.args[i], now) ? 1 : 0;
    return RespValue::number(removed);
}

// Counts repeated keys each time, as Redis does.
inline RespValue cmd_exists(CommandContext& c) {
    std::int64_t found = 0;
    const std::int64_t now = ServerContext::now_ms();
    for (std::size_t i = 1; i < c.args.size(); ++i)
        found += c.server.keyspace.exists(c.args[i], now) ? 1 : 0;
    return RespValue::number(found);
}

namespace detail {

// INCR and friends: a missing key counts as 0; the key keeps its expiry time.
inline RespValue increment(CommandContext& c, std::int64_t delta) {
    Keyspace& ks = c.server.keyspace;
    const std::int64_t now = ServerContext::now_ms();
    std::int64_t value = 0;
    std::int64_t expire_at = Keyspace::kNoExpiry;
    if (const std::string* v = ks.peek(c.args[1], now)) {
        auto n = gossipcluster::parse_int64_strict(*v);
        if (!n) return not_an_integer();
        value = *n;
        expire_at = ks.expiry(c.args[1], now);
    }
    constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
    constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
    if ((delta > 0 && value > kMax - delta) || (delta < 0 && value < kMin - delta))
        return RespValue::error("ERR increment or decrement would overflow");
    value += delta;
    ks.set(c.args[1], std::to_string(value), expire_at);
    return RespValue::number(value);
}

}  // namespace detail

inline RespValue cmd_incr(CommandContext& c) {
    return detail::increment(c, 1);
}
inline RespValue cmd_decr(CommandContext& c) {
    return detail::increment(c, -1);
}
inline RespValue cmd_incrby(CommandContext& c) {
    auto delta = gossipcluster::parse_int64_strict(c.args[2]);
    if (!delta) return not_an_integer();
    return detail::increment(c, *delta);
}
inline RespValue cmd_decrby(CommandContext& c) {
    auto delta = gossipcluster::parse_int64_strict(c.args[2]);
    if (!delta) return not_an_integer();
    if (*delta == std::numeric_limits<std::int64_t>::min())
        return RespValue::error("ERR decrement would overflow");
    return detail::increment(c, -*delta);
}

inline RespValue cmd_mget(CommandContext& c) {
    std::vector<RespValue> values;
    values.reserve(c.args.size() - 1);
    const std::int64_t now = ServerContext::now_ms();
    for (std::size_t i = 1; i < c.args.size(); ++i) {
        const std::string* v = c.server.keyspace.get(c.args[i], now);
        values.push_back(v ? RespValue::bulk(*v) : RespValue::null());
    }
    return RespValue::array(std::move(values));
}

inline RespValue cmd_mset(CommandContext& c) {
    if (c.args.size() % 2 == 0) return wrong_arity("mset");
    for (std::size_t i = 1; i + 1 < c.args.size(); i += 2)
        c.server.keyspace.set(c.args[i], c.args[i + 1], Keyspace::kNoExpiry);
    return RespValue::ok();
}

}  // namespace kvserver
