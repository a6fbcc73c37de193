// Parsing and normalising IP text (IPv4 and IPv6) without any I/O.
#pragma once

#include <arpa/inet.h>

#include <optional>
#include <string>
#include <string_view>

namespace gossipcluster::detail {

// Returns the canonical text form of an IPv4 or IPv6 address, or nullopt if it is not one.
inline std::optional<std::string> normalize_ip(std::string_view text) {
    if (text.empty() || text.size() >= 64) return std::nullopt;
    std::string s(text);
    unsigned char buf[16];
    char out[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
        if (!inet_ntop(AF_INET, buf, out, sizeof out)) return std::nullopt;
        return std::string(out);
    }
    if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
        if (!inet_ntop(AF_INET6, buf, out, sizeof out)) return std::nullopt;
        return std::string(out);
    }
    return std::nullopt;
}

}  // namespace gossipcluster::detail
