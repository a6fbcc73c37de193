// Definitions of the nodes.conf renderer and parser (src/nodes_conf.cpp, or nodes_conf.hpp in
// header-only mode).
#pragma once

#include "gossipcluster/storage/nodes_conf.hpp"

namespace gossipcluster {

namespace detail {

inline std::optional<std::uint16_t> parse_port(std::string_view text) {
    auto v = parse_u64(text);
    if (!v || *v > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(*v);
}

inline std::optional<std::uint16_t> parse_slot(std::string_view text) {
    auto v = parse_u64(text);
    if (!v || *v >= kSlotCount) return std::nullopt;
    return static_cast<std::uint16_t>(*v);
}

inline bool visible_ascii(char c) {
    return c > 0x20 && c < 0x7f;
}

inline bool valid_ip_text(std::string_view ip) {
    return ip.size() <= kMaxIpTextLen && std::all_of(ip.begin(), ip.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      c == '.' || c == ':' || c == '%' || c == '-' || c == '_';
           });
}

// `ip:port[@cport][,hostname[,key=value...]]`. IPv6 addresses contain ':' themselves, so the
// port starts after the last ':' before '@'. Aux fields (7.2+) are checked for shape and dropped.
inline bool parse_address(std::string_view addr, NodeRecord& rec, std::string& err) {
    std::size_t comma = addr.find(',');
    std::string_view hostport = addr.substr(0, comma);
    if (comma != std::string_view::npos) {
        std::string_view rest = addr.substr(comma + 1);
        std::size_t index = 0;
        while (true) {
            std::size_t next = rest.find(',');
            std::string_view item = rest.substr(0, next);
            if (!std::all_of(item.begin(), item.end(), visible_ascii)) {
                err = fmt::format("bad character in address {}", show(addr));
                return false;
            }
            if (index == 0) {
                if (item.size() > kHostnameMaxLen) {
                    err = fmt::format("hostname longer than {} characters in address {}",
                                      kHostnameMaxLen, show(addr));
                    return false;
                }
                rec.hostname = std::string(item);
            } else {
                std::size_t eq = item.find('=');
                if (eq == std::string_view::npos || eq == 0) {
                    err = fmt::format("bad aux field {} in address {} (need key=value)", show(item),
                                      show(addr));
                    return false;
                }
            }
            if (next == std::string_view::npos) break;
            rest = rest.substr(next + 1);
            ++index;
        }
    }

    std::size_t at = hostport.find('@');
    std::string_view ipport = hostport.substr(0, at);
    std::size_t colon = ipport.rfind(':');
    if (colon == std::string_view::npos) {
        err = fmt::format("address {} has no ':port'", show(addr));
        return false;
    }
    std::string_view ip = ipport.substr(0, colon);
    if (!valid_ip_text(ip)) {
        err = fmt::format("bad ip {} in address {}", show(ip), show(addr));
        return false;
    }
    auto port = parse_port(ipport.substr(colon + 1));
    if (!port) {
        err = fmt::format("bad port {} in address {} (need 0-65535)",
                          show(ipport.substr(colon + 1)), show(addr));
        return false;
    }
    std::uint16_t cport = 0;
    if (at == std::string_view::npos) {
        // Files written before the bus port was recorded: the default offset applies.
        if (*port > 65535 - kBusPortIncrement) {
            err = fmt::format("address {} has no @cport and port+{} exceeds 65535", show(addr),
                              kBusPortIncrement);
            return false;
        }
        cport = static_cast<std::uint16_t>(*port + kBusPortIncrement);
    } else {
        auto c = parse_port(hostport.substr(at + 1));
        if (!c) {
            err = fmt::format("bad bus port {} in address {} (need 0-65535)",
                              show(hostport.substr(at + 1)), show(addr));
            return false;
        }
        cport = *c;
    }
    rec.ip = std::string(ip);
    rec.port = *port;
    rec.cport = cport;
    return true;
}

// Open slots already seen on the line being parsed, per direction.
struct OpenSlotsSeen {
    SlotBitmap migrating;
    SlotBitmap importing;
};

// `N`, `A-B`, `[N->-id]` (migrating to id) or `[N-<-id]` (importing from id). A slot may appear
// only once per line (Redis never writes it twice); this also bounds the work per line to one
// pass over the slot space, whatever the input.
inline bool parse_slot_field(std::string_view field, NodeRecord& rec, OpenSlotsSeen& seen,
                             std::string& err) {
    if (field.front() == '[') {
        if (!(rec.flags & node_flag::kMyself)) {
            err = fmt::format("open slot {} on a line without the myself flag", show(field));
            return false;
        }
        std::size_t dash = field.find('-');
        if (field.back() != ']' || dash == std::string_view::npos || field.size() < dash + 4) {
            err = fmt::format("bad open slot {} (need [slot->-id] or [slot-<-id])", show(field));
            return false;
        }
        auto slot = parse_slot(field.substr(1, dash - 1));
        std::string_view arrow = field.substr(dash, 3);
        auto peer = NodeId::parse(field.substr(dash + 3, field.size() - 1 - (dash + 3)));
        if (!slot || !peer || (arrow != "->-" && arrow != "-<-")) {
            err = fmt::format("bad open slot {} (need [slot->-id] or [slot-<-id], slot 0-16383)",
                              show(field));
            return false;
        }
        const bool migrating = arrow == "->-";
        auto& seen_here = migrating ? seen.migrating : seen.importing;
        if (seen_here.test(*slot)) {
            err = fmt::format("open slot {} is listed twice on this line", *slot);
            return false;
        }
        // Redis prints one entry per slot, so a slot open both ways would not save back as read.
        if ((migrating ? seen.importing : seen.migrating).test(*slot)) {
            err = fmt::format("open slot {} is both migrating and importing", *slot);
            return false;
        }
        seen_here.set(*slot);
        (migrating ? rec.migrating : rec.importing).push_back(OpenSlot{*slot, *peer});
        return true;
    }
    std::size_t dash = field.find('-');
    auto first = parse_slot(field.substr(0, dash));
    auto last = dash == std::string_view::npos ? first : parse_slot(field.substr(dash + 1));
    if (!first || !last) {
        err = fmt::format("bad slot {} (need N or A-B with 0 <= N <= 16383)", show(field));
        return false;
    }
    if (*first > *last) {
        err = fmt::format("reversed slot range {}", show(field));
        return false;
    }
    for (std::size_t s = *first; s <= *last; ++s) {
        if (rec.slots.test(s)) {
            err = fmt::format("slot {} is listed twice on this line", s);
            return false;
        }
        rec.slots.set(s);
    }
    return true;
}

inline bool parse_node_line(std::string_view line, NodeRecord& rec, std::string& err) {
    FieldReader reader(line);
    std::array<std::string_view, 8> f;
    for (std::size_t i = 0; i < f.size(); ++i) {
        auto field = reader.next();
        if (!field) {
            err = fmt::format("node line has {} fields, at least 8 are needed", i);
            return false;
        }
        f[i] = *field;
    }
    auto id = NodeId::parse(f[0]);
    if (!id) {
        err = fmt::format("bad node id {} (need 40 characters a-z0-9)", show(f[0]));
        return false;
    }
    rec.id = *id;
    if (!parse_address(f[1], rec, err)) return false;
    auto flags = parse_flags(f[2]);
    if (!flags) {
        err = fmt::format(
            "bad flags {} (known: myself,master,slave,fail?,fail,handshake,"
            "noaddr,nofailover,noflags)",
            show(f[2]));
        return false;
    }
    rec.flags = *flags;
    if (f[3] != "-") {
        auto master = NodeId::parse(f[3]);
        if (!master) {
            err = fmt::format("bad master id {} (need - or 40 characters a-z0-9)", show(f[3]));
            return false;
        }
        rec.master = *master;
    }
    auto ping = parse_u64(f[4]);
    auto pong = parse_u64(f[5]);
    auto epoch = parse_u64(f[6]);
    if (!ping || !pong || !epoch) {
        std::size_t bad = !ping ? 4 : (!pong ? 5 : 6);
        static constexpr std::array<std::string_view, 7> kNames{
            "", "", "", "", "ping_sent", "pong_received", "configEpoch"};
        err = fmt::format("bad {} {} (need an unsigned 64-bit number)", kNames[bad], show(f[bad]));
        return false;
    }
    rec.ping_sent_ms = *ping;
    rec.pong_received_ms = *pong;
    rec.config_epoch = *epoch;
    if (f[7] == "connected") {
        rec.connected = true;
    } else if (f[7] == "disconnected") {
        rec.connected = false;
    } else {
        err = fmt::format("bad link state {} (need connected or disconnected)", show(f[7]));
        return false;
    }
    OpenSlotsSeen seen;
    while (auto field = reader.next())
        if (!parse_slot_field(*field, rec, seen, err)) return false;
    return true;
}

inline void append_open_slots(const NodeRecord& n, std::string& out) {
    struct Open {
        std::uint16_t slot;
        bool migrating;
        const NodeId* peer;
    };
    std::vector<Open> open;
    open.reserve(n.migrating.size() + n.importing.size());
    for (const auto& m : n.migrating)
        open.push_back({m.slot, true, &m.peer});
    for (const auto& m : n.importing)
        open.push_back({m.slot, false, &m.peer});
    std::stable_sort(open.begin(), open.end(), [](const Open& a, const Open& b) {
        return a.slot != b.slot ? a.slot < b.slot : (a.migrating && !b.migrating);
    });
    // Redis keeps one entry per slot and prints migrating in preference to importing.
    std::optional<std::uint16_t> previous;
    for (const auto& o : open) {
        if (previous == o.slot) continue;
        previous = o.slot;
        fmt::format_to(std::back_inserter(out), " [{}{}{}]", o.slot, o.migrating ? "->-" : "-<-",
                       o.peer->view());
    }
}

}  // namespace detail

GOSSIPCLUSTER_INLINE std::string render_flags(std::uint16_t flags) {
    std::string out;
    for (const auto& f : detail::kPrintedFlags) {
        if (!(flags & f.bit)) continue;
        if (!out.empty()) out += ',';
        out += f.name;
    }
    if (out.empty()) out = "noflags";
    return out;
}

GOSSIPCLUSTER_INLINE std::optional<std::uint16_t> parse_flags(std::string_view text) {
    std::uint16_t flags = 0;
    while (true) {
        std::size_t comma = text.find(',');
        std::string_view name = text.substr(0, comma);
        if (name != "noflags") {
            auto it = std::find_if(detail::kPrintedFlags.begin(), detail::kPrintedFlags.end(),
                                   [&](const detail::FlagName& f) { return f.name == name; });
            if (it == detail::kPrintedFlags.end()) return std::nullopt;
            flags = static_cast<std::uint16_t>(flags | it->bit);
        }
        if (comma == std::string_view::npos) return flags;
        text = text.substr(comma + 1);
    }
}

GOSSIPCLUSTER_INLINE std::string render_node_line(const NodeRecord& n, const NodeLineOptions&) {
    std::string out;
    out.reserve(160);
    out.append(n.id.view());
    fmt::format_to(std::back_inserter(out), " {}:{}@{}", n.ip, n.port, n.cport);
    if (!n.hostname.empty()) {
        out += ',';
        out += n.hostname;
    }
    out += ' ';
    out += render_flags(n.flags);
    out += ' ';
    if (n.master)
        out.append(n.master->view());
    else
        out += '-';
    fmt::format_to(std::back_inserter(out), " {} {} {} {}", n.ping_sent_ms, n.pong_received_ms,
                   n.config_epoch, n.connected ? "connected" : "disconnected");
    n.slots.for_each_range([&](std::size_t first, std::size_t last) {
        if (first == last)
            fmt::format_to(std::back_inserter(out), " {}", first);
        else
            fmt::format_to(std::back_inserter(out), " {}-{}", first, last);
    });
    if (n.flags & node_flag::kMyself) detail::append_open_slots(n, out);
    return out;
}

GOSSIPCLUSTER_INLINE std::string render_nodes_conf(const PersistedState& state) {
    std::string out;
    const NodeLineOptions options{NodeLineTarget::kNodesConf};
    for (const auto& n : state.nodes) {
        if (n.flags & node_flag::kHandshake) continue;
        out += render_node_line(n, options);
        out += '\n';
    }
    fmt::format_to(std::back_inserter(out), "vars currentEpoch {} lastVoteEpoch {}\n",
                   state.current_epoch, state.last_vote_epoch);
    return out;
}

GOSSIPCLUSTER_INLINE ParseResult parse_nodes_conf(std::string_view text, NodeLineTarget source) {
    auto fail = [](std::size_t line, std::string reason) {
        ParseResult r;
        r.error = NodesConfError{line, std::move(reason)};
        return r;
    };
    const bool file = source == NodeLineTarget::kNodesConf;
    PersistedState state;
    std::unordered_set<NodeId> seen;
    std::size_t myself_line = 0;
    std::size_t vars_line = 0;
    std::size_t line_no = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        ++line_no;
        std::size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos)
            return fail(line_no, "last line has no terminating newline (truncated file?)");
        std::string_view line = text.substr(pos, nl - pos);
        pos = nl + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        detail::FieldReader reader(line);
        auto first = reader.next();
        if (!first) continue;

        if (*first == "vars") {
            if (vars_line != 0)
                return fail(line_no,
                            fmt::format("second vars line (the first is line {})", vars_line));
            vars_line = line_no;
            bool has_current = false;
            bool has_last_vote = false;
            // Name/value pairs; an odd count of fields in all, as Redis requires.
            while (auto name = reader.next()) {
                auto value = reader.next();
                if (!value)
                    return fail(line_no,
                                fmt::format("vars line has no value for {}", detail::show(*name)));
                Epoch* target = nullptr;
                if (*name == "currentEpoch") {
                    target = &state.current_epoch;
                    has_current = true;
                } else if (*name == "lastVoteEpoch") {
                    target = &state.last_vote_epoch;
                    has_last_vote = true;
                }
                if (!target) continue;  // newer versions may add variables
                auto number = detail::parse_u64(*value);
                if (!number)
                    return fail(line_no, fmt::format("bad {} value {} (need an unsigned 64-bit "
                                                     "number)",
                                                     *name, detail::show(*value)));
                *target = *number;
            }
            if (file && (!has_current || !has_last_vote))
                return fail(line_no, fmt::format("vars line lacks {}",
                                                 has_current ? "lastVoteEpoch" : "currentEpoch"));
            continue;
        }

        if (file && vars_line != 0)
            return fail(line_no, fmt::format("node line after the vars line (line {}), which "
                                             "is always the last one",
                                             vars_line));
        if (state.nodes.size() == kMaxConfNodes)
            return fail(line_no, fmt::format("more than {} nodes", kMaxConfNodes));
        NodeRecord rec;
        std::string err;
        if (!detail::parse_node_line(line, rec, err)) return fail(line_no, std::move(err));
        if (file && (rec.flags & node_flag::kHandshake))
            return fail(line_no, "node in handshake (never written to nodes.conf)");
        if (!seen.insert(rec.id).second)
            return fail(line_no, fmt::format("duplicate node id {}", rec.id.view()));
        if (rec.flags & node_flag::kMyself) {
            if (myself_line != 0)
                return fail(line_no,
                            fmt::format("second myself line (the first is line {})", myself_line));
            myself_line = line_no;
        }
        state.nodes.push_back(std::move(rec));
    }
    if (myself_line == 0) return fail(line_no + 1, "no node line carries the myself flag");
    if (file && vars_line == 0)
        return fail(line_no + 1,
                    "no vars line (currentEpoch, lastVoteEpoch): the file lost its end");
    for (const auto& n : state.nodes)
        state.current_epoch = std::max(state.current_epoch, n.config_epoch);
    ParseResult r;
    r.state = std::move(state);
    return r;
}

}  // namespace gossipcluster
