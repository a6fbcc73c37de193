// Definitions of the text and JSON message renderings (src/message_format.cpp, or
// message_format.hpp in header-only mode).
#pragma once

#include "gossipcluster/message_format.hpp"

namespace gossipcluster {

namespace detail {

inline std::string type_label(MessageType t) {
    std::string_view name = message_type_name(t);
    if (name == "UNKNOWN") return fmt::format("TYPE_{}", static_cast<unsigned>(t));
    return std::string(name);
}

// "master,myself" or "(none)", with the parentheses the listings use.
inline void append_node_flag_names(std::string& out, std::uint16_t flags) {
    out.push_back('(');
    if (flags == 0) {
        out += "none";
    } else {
        bool first = true;
        for_each_flag_name(flags, 16, kNodeFlagNames, "bit", [&](std::string_view n) {
            if (!first) out.push_back(',');
            out += n;
            first = false;
        });
    }
    out.push_back(')');
}

inline void append_message_flags(std::string& out, const std::array<std::uint8_t, 3>& mflags) {
    for (std::size_t i = 0; i < mflags.size(); ++i) {
        if (i != 0) out.push_back(' ');
        append_hex_byte(out, mflags[i]);
    }
    out += " (";
    if (mflags[0] == 0) {
        out += "none";
    } else {
        bool first = true;
        for_each_flag_name(mflags[0], 8, kMessageFlagNames, "BIT", [&](std::string_view n) {
            if (!first) out.push_back(',');
            out += n;
            first = false;
        });
    }
    out.push_back(')');
}

// "ok", "fail", or the raw number for a value outside the protocol.
inline void append_cluster_state(std::string& out, BusClusterState s) {
    if (s == BusClusterState::Ok) {
        out += "ok";
    } else if (s == BusClusterState::Fail) {
        out += "fail";
    } else {
        fmt::format_to(std::back_inserter(out), "{}", static_cast<unsigned>(s));
    }
}

// "0-5460,5462,6000-6001" or "(none)".
inline void append_slot_ranges(std::string& out, const SlotBitmap& slots) {
    bool any = false;
    slots.for_each_range([&](std::size_t first, std::size_t last) {
        if (any) out.push_back(',');
        if (first == last) {
            fmt::format_to(std::back_inserter(out), "{}", first);
        } else {
            fmt::format_to(std::back_inserter(out), "{}-{}", first, last);
        }
        any = true;
    });
    if (!any) out += "(none)";
}

// A node name field: "(none)" for the all-NUL name, escaped otherwise (hostile bytes included).
inline void append_node_id(std::string& out, const NodeId& id) {
    if (id.is_null()) {
        out += "(none)";
    } else {
        append_escaped(out, id.view());
    }
}

inline void append_hex(std::string& out, std::string_view bytes) {
    for (char c : bytes)
        append_hex_byte(out, static_cast<std::uint8_t>(c));
}

inline void append_extension_text(std::string& out, const PingExtension& ext) {
    auto it = std::back_inserter(out);
    fmt::format_to(it, "  ext {{'length': {}, 'type': {}, 'unused': 0, ",
                   extension_record_length(ext), extension_type_id(ext));
    std::visit(
        [&](const auto& e) {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, HostnameExt>) {
                out += "'hostname': ";
                append_quoted(out, e.hostname);
            } else if constexpr (std::is_same_v<T, HumanNodenameExt>) {
                out += "'human_nodename': ";
                append_quoted(out, e.name);
            } else if constexpr (std::is_same_v<T, ForgottenNodeExt>) {
                out += "'name': ";
                append_quoted(out, e.node.view());
                fmt::format_to(std::back_inserter(out), ", 'ttl': {}", e.ttl_seconds);
            } else if constexpr (std::is_same_v<T, ShardIdExt>) {
                out += "'shard_id': ";
                append_quoted(out, e.shard_id.view());
            } else {
                out += "'payload': '";
                append_hex(out, std::string_view(reinterpret_cast<const char*>(e.payload.data()),
                                                 e.payload.size()));
                out.push_back('\'');
            }
        },
        ext);
    out += "}\n";
}

inline void append_gossip_text(std::string& out, const GossipEntry& g) {
    out += "  gossip ";
    append_node_id(out, g.node);
    out.push_back(' ');
    append_escaped(out, g.ip.view());
    fmt::format_to(std::back_inserter(out), ":{}@{} pport={} flags={} ", g.port, g.cport, g.pport,
                   g.flags);
    append_node_flag_names(out, g.flags);
    fmt::format_to(std::back_inserter(out), " ping_sent={} pong_received={}\n", g.ping_sent,
                   g.pong_received);
}

inline void append_body_text(std::string& out, const Message& m, std::size_t totlen) {
    auto it = std::back_inserter(out);
    std::visit(
        [&](const auto& b) {
            using T = std::decay_t<decltype(b)>;
            if constexpr (std::is_same_v<T, EmptyBody>) {
                fmt::format_to(it, "  totlen == {} (header only)\n", kHeaderSize);
            } else if constexpr (std::is_same_v<T, GossipBody>) {
                for (const auto& g : b.gossip)
                    append_gossip_text(out, g);
                std::size_t ext_bytes = 0;
                for (const auto& e : b.extensions) {
                    append_extension_text(out, e);
                    ext_bytes += extension_record_length(e);
                }
                fmt::format_to(it, "  totlen == {} + {}*{} + ext {}\n", kHeaderSize,
                               b.gossip.size(), kGossipEntrySize, ext_bytes);
            } else if constexpr (std::is_same_v<T, FailBody>) {
                out += "  fail_nodename=";
                append_node_id(out, b.node);
                fmt::format_to(it, "\n  totlen == {} + {}\n", kHeaderSize, kNodeNameLen);
            } else if constexpr (std::is_same_v<T, PublishBody>) {
                out += "  channel=";
                append_escaped(out, b.channel);
                out += "\n  message=";
                append_escaped(out, b.message);
                fmt::format_to(it, "\n  totlen {} (= {} + 8 + {} + {})\n", totlen, kHeaderSize,
                               b.channel.size(), b.message.size());
            } else if constexpr (std::is_same_v<T, UpdateBody>) {
                fmt::format_to(it, "  update_configEpoch={}\n  update_nodename=", b.config_epoch);
                append_node_id(out, b.node);
                out += "\n  update_slots=";
                append_slot_ranges(out, b.slots);
                fmt::format_to(it, "\n  totlen == {} + 8 + {} + {}\n", kHeaderSize, kNodeNameLen,
                               kSlotBitmapBytes);
            } else {
                static_assert(std::is_same_v<T, ModuleBody>);
                fmt::format_to(it, "  module_id={:016x} module_type={}\n  payload=", b.module_id,
                               b.module_type);
                append_escaped(out, b.payload);
                fmt::format_to(it, "\n  totlen {} (= {} + 8 + 4 + 1 + {})\n", totlen, kHeaderSize,
                               b.payload.size());
            }
        },
        m.body);
}

// JSON helpers: each appends one `"key":value` member preceded by a comma.
inline void json_key(std::string& out, std::string_view key) {
    out.push_back(',');
    append_json_string(out, key);
    out.push_back(':');
}

inline void json_node_id(std::string& out, std::string_view key, const NodeId& id) {
    json_key(out, key);
    if (id.is_null()) {
        out += "null";
    } else {
        append_json_string(out, id.view());
    }
}

inline void json_slot_ranges(std::string& out, std::string_view key, const SlotBitmap& slots) {
    json_key(out, key);
    out.push_back('[');
    bool first = true;
    slots.for_each_range([&](std::size_t a, std::size_t b) {
        if (!first) out.push_back(',');
        fmt::format_to(std::back_inserter(out), "[{},{}]", a, b);
        first = false;
    });
    out.push_back(']');
}

inline void json_flag_names(std::string& out, std::string_view key, std::uint16_t flags) {
    json_key(out, key);
    out.push_back('[');
    bool first = true;
    for_each_flag_name(flags, 16, kNodeFlagNames, "bit", [&](std::string_view n) {
        if (!first) out.push_back(',');
        append_json_string(out, n);
        first = false;
    });
    out.push_back(']');
}

inline void append_extension_json(std::string& out, const PingExtension& ext) {
    fmt::format_to(std::back_inserter(out), "{{\"length\":{},\"type\":{}",
                   extension_record_length(ext), extension_type_id(ext));
    std::visit(
        [&](const auto& e) {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, HostnameExt>) {
                json_key(out, "hostname");
                append_json_string(out, e.hostname);
            } else if constexpr (std::is_same_v<T, HumanNodenameExt>) {
                json_key(out, "human_nodename");
                append_json_string(out, e.name);
            } else if constexpr (std::is_same_v<T, ForgottenNodeExt>) {
                json_key(out, "name");
                append_json_string(out, e.node.view());
                json_key(out, "ttl");
                fmt::format_to(std::back_inserter(out), "{}", e.ttl_seconds);
            } else if constexpr (std::is_same_v<T, ShardIdExt>) {
                json_key(out, "shard_id");
                append_json_string(out, e.shard_id.view());
            } else {
                json_key(out, "payload_hex");
                out.push_back('"');
                append_hex(out, std::string_view(reinterpret_cast<const char*>(e.payload.data()),
                                                 e.payload.size()));
                out.push_back('"');
            }
        },
        ext);
    out.push_back('}');
}

inline void append_gossip_json(std::string& out, const GossipEntry& g) {
    out += "{\"node\":";
    if (g.node.is_null()) {
        out += "null";
    } else {
        append_json_string(out, g.node.view());
    }
    json_key(out, "ip");
    append_json_string(out, g.ip.view());
    fmt::format_to(std::back_inserter(out), ",\"port\":{},\"cport\":{},\"pport\":{},\"flags\":{}",
                   g.port, g.cport, g.pport, g.flags);
    json_flag_names(out, "flag_names", g.flags);
    fmt::format_to(std::back_inserter(out), ",\"ping_sent\":{},\"pong_received\":{}}}", g.ping_sent,
                   g.pong_received);
}

inline void append_body_json(std::string& out, const Message& m) {
    std::visit(
        [&](const auto& b) {
            using T = std::decay_t<decltype(b)>;
            if constexpr (std::is_same_v<T, EmptyBody>) {
                // Header only: nothing more to say.
            } else if constexpr (std::is_same_v<T, GossipBody>) {
                json_key(out, "gossip");
                out.push_back('[');
                for (std::size_t i = 0; i < b.gossip.size(); ++i) {
                    if (i != 0) out.push_back(',');
                    append_gossip_json(out, b.gossip[i]);
                }
                out += "]";
                json_key(out, "ext");
                out.push_back('[');
                for (std::size_t i = 0; i < b.extensions.size(); ++i) {
                    if (i != 0) out.push_back(',');
                    append_extension_json(out, b.extensions[i]);
                }
                out += "]";
            } else if constexpr (std::is_same_v<T, FailBody>) {
                json_node_id(out, "fail_nodename", b.node);
            } else if constexpr (std::is_same_v<T, PublishBody>) {
                json_key(out, "channel");
                append_json_string(out, b.channel);
                json_key(out, "message");
                append_json_string(out, b.message);
            } else if constexpr (std::is_same_v<T, UpdateBody>) {
                json_key(out, "update_configEpoch");
                fmt::format_to(std::back_inserter(out), "{}", b.config_epoch);
                json_node_id(out, "update_nodename", b.node);
                json_slot_ranges(out, "update_slots", b.slots);
            } else {
                static_assert(std::is_same_v<T, ModuleBody>);
                fmt::format_to(std::back_inserter(out), ",\"module_id\":\"{:016x}\"", b.module_id);
                fmt::format_to(std::back_inserter(out), ",\"module_type\":{}", b.module_type);
                json_key(out, "payload");
                append_json_string(out, b.payload);
            }
        },
        m.body);
}

}  // namespace detail

GOSSIPCLUSTER_INLINE std::string format_message_text(const Message& m, std::size_t totlen) {
    const Header& h = m.header;
    std::string out;
    out.reserve(512 + 160 * detail::gossip_count(m));
    auto it = std::back_inserter(out);
    fmt::format_to(it,
                   "{}  totlen={} ver={} port={} count={} currentEpoch={} configEpoch={} "
                   "offset={}\n  sender=",
                   detail::type_label(h.type), totlen, kProtocolVersion, h.port,
                   detail::gossip_count(m), h.current_epoch, h.config_epoch, h.offset);
    detail::append_node_id(out, h.sender);
    out += " myip=";
    detail::append_quoted(out, h.myip.view());
    fmt::format_to(it, " pport={} cport={} flags={} ", h.pport, h.cport, h.flags);
    detail::append_node_flag_names(out, h.flags);
    out += " state=";
    detail::append_cluster_state(out, h.state);
    out += " mflags=";
    detail::append_message_flags(out, h.mflags);
    fmt::format_to(it, " extensions={}\n  slaveof=", detail::extension_count(m));
    detail::append_node_id(out, h.slaveof);
    out += " myslots=";
    detail::append_slot_ranges(out, h.myslots);
    out.push_back('\n');
    detail::append_body_text(out, m, totlen);
    return out;
}

GOSSIPCLUSTER_INLINE std::string format_message_json(const Message& m, std::size_t totlen) {
    const Header& h = m.header;
    std::string out;
    out.reserve(768 + 220 * detail::gossip_count(m));
    auto it = std::back_inserter(out);
    out += "{\"type\":";
    detail::append_json_string(out, detail::type_label(h.type));
    fmt::format_to(it,
                   ",\"type_id\":{},\"totlen\":{},\"ver\":{},\"port\":{},\"count\":{},"
                   "\"currentEpoch\":{},\"configEpoch\":{},\"offset\":{}",
                   static_cast<unsigned>(h.type), totlen, kProtocolVersion, h.port,
                   detail::gossip_count(m), h.current_epoch, h.config_epoch, h.offset);
    detail::json_node_id(out, "sender", h.sender);
    detail::json_key(out, "myip");
    detail::append_json_string(out, h.myip.view());
    fmt::format_to(it, ",\"pport\":{},\"cport\":{},\"flags\":{}", h.pport, h.cport, h.flags);
    detail::json_flag_names(out, "flag_names", h.flags);
    detail::json_key(out, "state");
    out.push_back('"');
    detail::append_cluster_state(out, h.state);
    out.push_back('"');
    fmt::format_to(it, ",\"mflags\":[{},{},{}]", h.mflags[0], h.mflags[1], h.mflags[2]);
    detail::json_key(out, "mflag_names");
    out.push_back('[');
    bool first = true;
    detail::for_each_flag_name(h.mflags[0], 8, detail::kMessageFlagNames, "BIT",
                               [&](std::string_view n) {
                                   if (!first) out.push_back(',');
                                   detail::append_json_string(out, n);
                                   first = false;
                               });
    out.push_back(']');
    fmt::format_to(it, ",\"extensions\":{}", detail::extension_count(m));
    detail::json_node_id(out, "slaveof", h.slaveof);
    detail::json_slot_ranges(out, "myslots", h.myslots);
    detail::append_body_json(out, m);
    out.push_back('}');
    return out;
}

}  // namespace gossipcluster
