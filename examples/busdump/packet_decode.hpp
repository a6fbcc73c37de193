// Link-layer, IPv4/IPv6 and TCP header parsing of captured packets, bounds-checked throughout.
#pragma once

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace busdump {

// Link-layer header types as libpcap reports them (pcap_datalink()).
namespace link_type {
inline constexpr int kNull = 0;         // BSD loopback: 4-byte address family, host byte order
inline constexpr int kEthernet = 1;     // DLT_EN10MB
inline constexpr int kRaw = 12;         // DLT_RAW on Linux (LINKTYPE_RAW 101 maps here)
inline constexpr int kRawOpenBsd = 14;  // DLT_RAW on OpenBSD
inline constexpr int kRawLinktype = 101;
inline constexpr int kLoop = 108;      // OpenBSD loopback: address family in network byte order
inline constexpr int kLinuxSll = 113;  // Linux cooked capture v1 (16-byte header)
inline constexpr int kIpv4 = 228;
inline constexpr int kIpv6 = 229;
inline constexpr int kLinuxSll2 = 276;  // Linux cooked capture v2 (20-byte header)
}  // namespace link_type

inline bool is_supported_link_type(int lt) {
    switch (lt) {
        case link_type::kNull:
        case link_type::kEthernet:
        case link_type::kRaw:
        case link_type::kRawOpenBsd:
        case link_type::kRawLinktype:
        case link_type::kLoop:
        case link_type::kLinuxSll:
        case link_type::kIpv4:
        case link_type::kIpv6:
        case link_type::kLinuxSll2:
            return true;
        default:
            return false;
    }
}

// One endpoint of a TCP connection; addresses of both families live in 16 bytes.
struct Endpoint {
    bool v6 = false;
    std::array<std::uint8_t, 16> addr{};
    std::uint16_t port = 0;

    friend auto operator<=>(const Endpoint&, const Endpoint&) = default;

    std::string str() const {
        char buf[INET6_ADDRSTRLEN] = {};
        inet_ntop(v6 ? AF_INET6 : AF_INET, addr.data(), buf, sizeof buf);
        return v6 ? "[" + std::string(buf) + "]:" + std::to_string(port)
                  : std::string(buf) + ":" + std::to_string(port);
    }
};

// One direction of a TCP connection.
struct FlowKey {
    Endpoint src;
    Endpoint dst;
    friend auto operator<=>(const FlowKey&, const FlowKey&) = default;
};

struct TcpSegment {
    FlowKey flow;
    std::uint32_t seq = 0;
    bool syn = false;
    bool fin = false;
    bool rst = false;
    std::span<const std::uint8_t> payload;  // the captured part of the payload
    std::size_t missing_tail = 0;           // payload bytes on the wire but cut by the snap length
};

// Why a packet yields no TCP segment; the dump counts these instead of failing.
enum class SkipReason : std::uint8_t {
    Truncated,  // headers cut short by the capture
    NotIp,      // another network protocol (ARP, ...)
    NotTcp,     // another transport (UDP, ICMP, ...)
    Fragment,   // an IP fragment: reassembly of fragments is out of scope
    BadHeader,  // a header length or version that cannot be right
    UnsupportedLink,
};

// The result of parsing one packet: a TCP segment, or the reason there is none.
struct ParsedPacket {
    std::optional<TcpSegment> segment;
    SkipReason skip = SkipReason::Truncated;
};

namespace detail {

inline std::uint16_t be16(std::span<const std::uint8_t> b, std::size_t off) {
    return static_cast<std::uint16_t>((b[off] << 8) | b[off + 1]);
}
inline std::uint32_t be32(std::span<const std::uint8_t> b, std::size_t off) {
    return (std::uint32_t{b[off]} << 24) | (std::uint32_t{b[off + 1]} << 16) |
           (std::uint32_t{b[off + 2]} << 8) | std::uint32_t{b[off + 3]};
}

inline ParsedPacket skip(SkipReason r) {
    return ParsedPacket{std::nullopt, r};
}

// `l4` is the captured rest of the packet, `l4_wire_len` its length on the wire per the IP header.
inline ParsedPacket parse_tcp(std::span<const std::uint8_t> l4, std::size_t l4_wire_len,
                              Endpoint src, Endpoint dst) {
    if (l4.size() < 20) return skip(SkipReason::Truncated);
    std::size_t doff = static_cast<std::size_t>(l4[12] >> 4) * 4;
    if (doff < 20 || doff > l4_wire_len) return skip(SkipReason::BadHeader);
    if (l4.size() < doff) return skip(SkipReason::Truncated);
    src.port = be16(l4, 0);
    dst.port = be16(l4, 2);
    TcpSegment seg;
    seg.flow = FlowKey{src, dst};
    seg.seq = be32(l4, 4);
    std::uint8_t flags = l4[13];
    seg.fin = (flags & 0x01) != 0;
    seg.syn = (flags & 0x02) != 0;
    seg.rst = (flags & 0x04) != 0;
    std::size_t captured_end = std::min(l4.size(), l4_wire_len);
    seg.payload = l4.subspan(doff, captured_end - doff);
    seg.missing_tail = l4_wire_len - captured_end;
    return ParsedPacket{seg, SkipReason::Truncated};
}

inline ParsedPacket parse_ipv4(std::span<const std::uint8_t> p) {
    if (p.size() < 20) return skip(SkipReason::Truncated);
    if ((p[0] >> 4) != 4) return skip(SkipReason::BadHeader);
    std::size_t ihl = static_cast<std::size_t>(p[0] & 0x0f) * 4;
    std::size_t total = be16(p, 2);
    // TSO captures report total length 0; then the captured length is all we know.
    if (total == 0) total = p.size();
    if (ihl < 20 || total < ihl) return skip(SkipReason::BadHeader);
    if (p.size() < ihl) return skip(SkipReason::Truncated);
    std::uint16_t frag = be16(p, 6);
    if ((frag & 0x3fff) != 0) return skip(SkipReason::Fragment);  // MF set or offset non-zero
    if (p[9] != 6) return skip(SkipReason::NotTcp);
    Endpoint src, dst;
    std::copy_n(p.begin() + 12, 4, src.addr.begin());
    std::copy_n(p.begin() + 16, 4, dst.addr.begin());
    // Ethernet pads short frames: the IP total length, not the capture, ends the packet.
    auto l4 = p.subspan(ihl, std::min(p.size(), total) - ihl);
    return parse_tcp(l4, total - ihl, src, dst);
}

inline ParsedPacket parse_ipv6(std::span<const std::uint8_t> p) {
    if (p.size() < 40) return skip(SkipReason::Truncated);
    if ((p[0] >> 4) != 6) return skip(SkipReason::BadHeader);
    std::size_t payload_len = be16(p, 4);
    if (payload_len == 0) payload_len = p.size() - 40;  // jumbogram or TSO: trust the capture
    std::uint8_t next = p[6];
    Endpoint src, dst;
    src.v6 = dst.v6 = true;
    std::copy_n(p.begin() + 8, 16, src.addr.begin());
    std::copy_n(p.begin() + 24, 16, dst.addr.begin());
    std::size_t off = 40;
    std::size_t wire_end = 40 + payload_len;
    // Walk extension headers; a bounded count keeps a hostile chain from looping long.
    for (int hops = 0; hops < 16; ++hops) {
        switch (next) {
            case 6: {
                if (off > wire_end) return skip(SkipReason::BadHeader);
                std::size_t cap_end = std::min(p.size(), wire_end);
                if (off > cap_end) return skip(SkipReason::Truncated);
                return parse_tcp(p.subspan(off, cap_end - off), wire_end - off, src, dst);
            }
            case 0:     // hop-by-hop options
            case 43:    // routing
            case 60:    // destination options
            case 51: {  // authentication header: length in 4-byte units minus 2
                if (p.size() < off + 2) return skip(SkipReason::Truncated);
                std::size_t len = next == 51 ? (static_cast<std::size_t>(p[off + 1]) + 2) * 4
                                             : (static_cast<std::size_t>(p[off + 1]) + 1) * 8;
                next = p[off];
                off += len;
                break;
            }
            case 44:
                return skip(SkipReason::Fragment);
            default:
                return skip(SkipReason::NotTcp);
        }
    }
    return skip(SkipReason::BadHeader);
}

inline ParsedPacket parse_ip_by_version(std::span<const std::uint8_t> p) {
    if (p.empty()) return skip(SkipReason::Truncated);
    switch (p[0] >> 4) {
        case 4:
            return parse_ipv4(p);
        case 6:
            return parse_ipv6(p);
        default:
            return skip(SkipReason::NotIp);
    }
}

inline ParsedPacket parse_ethertype(std::uint16_t ethertype, std::span<const std::uint8_t> p) {
    switch (ethertype) {
        case 0x0800:
            return parse_ipv4(p);
        case 0x86dd:
            return parse_ipv6(p);
        default:
            return skip(SkipReason::NotIp);
    }
}

// BSD loopback address families differ between systems: AF_INET is 2 everywhere, AF_INET6 is
// 10 (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD) or 30 (macOS).
inline ParsedPacket parse_loopback_family(std::uint32_t family, std::span<const std::uint8_t> p) {
    switch (family) {
        case 2:
            return parse_ipv4(p);
        case 10:
        case 24:
        case 28:
        case 30:
            return parse_ipv6(p);
        default:
            return skip(SkipReason::NotIp);
    }
}

}  // namespace detail

// Parses one captured packet down to its TCP segment. Never reads outside `packet`.
inline ParsedPacket parse_packet(int link, std::span<const std::uint8_t> packet) {
    using detail::be16;
    using detail::skip;
    switch (link) {
        case link_type::kEthernet: {
            std::size_t off = 12;
            if (packet.size() < off + 2) return skip(SkipReason::Truncated);
            std::uint16_t ethertype = be16(packet, off);
            // Up to two VLAN tags (802.1Q, 802.1ad).
            for (int tags = 0; tags < 2 && (ethertype == 0x8100 || ethertype == 0x88a8); ++tags) {
                off += 4;
                if (packet.size() < off + 2) return skip(SkipReason::Truncated);
                ethertype = be16(packet, off);
            }
            return detail::parse_ethertype(ethertype, packet.subspan(off + 2));
        }
        case link_type::kLinuxSll:
            if (packet.size() < 16) return skip(SkipReason::Truncated);
            return detail::parse_ethertype(be16(packet, 14), packet.subspan(16));
        case link_type::kLinuxSll2:
            if (packet.size() < 20) return skip(SkipReason::Truncated);
            return detail::parse_ethertype(be16(packet, 0), packet.subspan(20));
        case link_type::kRaw:
        case link_type::kRawOpenBsd:
        case link_type::kRawLinktype:
        case link_type::kIpv4:
        case link_type::kIpv6:
            return detail::parse_ip_by_version(packet);
        case link_type::kNull: {
            if (packet.size() < 4) return skip(SkipReason::Truncated);
            // Written in the capturing host's byte order: the small value is the right reading.
            std::uint32_t le = std::uint32_t{packet[0]} | (std::uint32_t{packet[1]} << 8) |
                               (std::uint32_t{packet[2]} << 16) | (std::uint32_t{packet[3]} << 24);
            std::uint32_t family = le < 256 ? le : detail::be32(packet, 0);
            return detail::parse_loopback_family(family, packet.subspan(4));
        }
        case link_type::kLoop:
            if (packet.size() < 4) return skip(SkipReason::Truncated);
            return detail::parse_loopback_family(detail::be32(packet, 0), packet.subspan(4));
        default:
            return skip(SkipReason::UnsupportedLink);
    }
}

}  // namespace busdump
