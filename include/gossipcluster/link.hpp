// Links between nodes as the core names them, and the endpoints transports connect to.
#pragma once

#include <compare>
#include <cstdint>
#include <string>

namespace gossipcluster {

// Names one bus connection. The core numbers the outbound links it asks for; a transport numbers
// the inbound links it accepts, with the top bit set (LinkId::inbound) so the two never collide.
struct LinkId {
    std::uint64_t value = 0;

    static constexpr std::uint64_t kInboundBit = 1ull << 63;
    static constexpr LinkId inbound(std::uint64_t n) { return {n | kInboundBit}; }
    constexpr bool is_inbound() const { return (value & kInboundBit) != 0; }
    constexpr bool valid() const { return value != 0; }
    friend constexpr auto operator<=>(LinkId, LinkId) = default;
};

struct Endpoint {
    std::string ip;
    std::uint16_t port = 0;  // bus port
    friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

}  // namespace gossipcluster
