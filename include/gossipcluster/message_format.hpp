// Text and JSON renderings of bus messages, for logs and the busdump tool.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include <fmt/format.h>

#include "gossipcluster/detail/linkage.hpp"
#include "gossipcluster/detail/text_escape.hpp"
#include "gossipcluster/message.hpp"
#include "gossipcluster/types.hpp"

namespace gossipcluster {

namespace detail {

// Names of the node flag bits, lowest bit first (the order the listings print them in).
inline constexpr std::array<std::string_view, 11> kNodeFlagNames = {
    "master",
    "slave",
    "pfail",
    "fail",
    "myself",
    "handshake",
    "noaddr",
    "meet",
    "migrate_to",
    "nofailover",
    "extensions_supported",
};
inline constexpr std::array<std::string_view, 3> kMessageFlagNames = {"PAUSED", "FORCEACK",
                                                                      "EXT_DATA"};

// Calls f(name) for each set bit; bits without a name come out as "bitN".
template <std::size_t N, typename F>
void for_each_flag_name(unsigned value, unsigned width,
                        const std::array<std::string_view, N>& names, const char* unnamed_prefix,
                        F&& f) {
    for (unsigned bit = 0; bit < width; ++bit) {
        if (((value >> bit) & 1u) == 0) continue;
        if (bit < N) {
            f(names[bit]);
        } else {
            const std::string unnamed = fmt::format("{}{}", unnamed_prefix, bit);
            f(std::string_view(unnamed));
        }
    }
}

inline std::size_t round_up8(std::size_t n) {
    return (n + 7) & ~std::size_t{7};
}

// Record length on the wire, 8-byte record header included.
inline std::size_t extension_record_length(const PingExtension& ext) {
    return std::visit(
        [](const auto& e) -> std::size_t {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, HostnameExt>) {
                return 8 + round_up8(e.hostname.size() + 1);
            } else if constexpr (std::is_same_v<T, HumanNodenameExt>) {
                return 8 + round_up8(e.name.size() + 1);
            } else if constexpr (std::is_same_v<T, ForgottenNodeExt>) {
                return 8 + kNodeNameLen + 8;
            } else if constexpr (std::is_same_v<T, ShardIdExt>) {
                return 8 + kNodeNameLen;
            } else {
                return 8 + e.payload.size();
            }
        },
        ext);
}

inline std::uint16_t extension_type_id(const PingExtension& ext) {
    return std::visit(
        [](const auto& e) -> std::uint16_t {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, HostnameExt>) {
                return static_cast<std::uint16_t>(ExtensionType::Hostname);
            } else if constexpr (std::is_same_v<T, HumanNodenameExt>) {
                return static_cast<std::uint16_t>(ExtensionType::HumanNodename);
            } else if constexpr (std::is_same_v<T, ForgottenNodeExt>) {
                return static_cast<std::uint16_t>(ExtensionType::ForgottenNode);
            } else if constexpr (std::is_same_v<T, ShardIdExt>) {
                return static_cast<std::uint16_t>(ExtensionType::ShardId);
            } else {
                return e.type;
            }
        },
        ext);
}

inline std::size_t gossip_count(const Message& m) {
    const auto* g = std::get_if<GossipBody>(&m.body);
    return g ? g->gossip.size() : 0;
}
inline std::size_t extension_count(const Message& m) {
    const auto* g = std::get_if<GossipBody>(&m.body);
    return g ? g->extensions.size() : 0;
}

}  // namespace detail

// The multi-line listing of one message, every line ending in '\n', in the layout of the capture
// listings in the project's test vectors. `totlen` is the frame length as received or encoded.
GOSSIPCLUSTER_INLINE std::string format_message_text(const Message& m, std::size_t totlen);

// One JSON object on one line (no trailing newline) with every field of the message. Byte strings
// are escaped so that the output is valid JSON whatever the peer sent.
GOSSIPCLUSTER_INLINE std::string format_message_json(const Message& m, std::size_t totlen);

}  // namespace gossipcluster

// The definitions: compiled once into the library (src/message_format.cpp), or included here in
// header-only mode.
#ifdef GOSSIPCLUSTER_HEADER_ONLY
#include "gossipcluster/impl/message_format.ipp"
#endif
