// Key hash slots of Redis Cluster: CRC16-XMODEM of the key (or of its {hash tag}) mod 16384.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gossipcluster/types.hpp"

namespace gossipcluster {

namespace detail {

// CRC16-XMODEM (CCITT polynomial 0x1021, initial value 0, no reflection), one byte at a time.
constexpr std::array<std::uint16_t, 256> make_crc16_table() {
    std::array<std::uint16_t, 256> table{};
    for (std::uint32_t byte = 0; byte < 256; ++byte) {
        std::uint32_t crc = byte << 8;
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc & 0x8000u) != 0 ? (crc << 1) ^ 0x1021u : crc << 1;
        table[byte] = static_cast<std::uint16_t>(crc & 0xffffu);
    }
    return table;
}

inline constexpr std::array<std::uint16_t, 256> kCrc16Table = make_crc16_table();

}  // namespace detail

constexpr std::uint16_t crc16_xmodem(std::string_view data) {
    std::uint16_t crc = 0;
    for (char c : data) {
        const auto index = static_cast<std::uint8_t>((crc >> 8) ^ static_cast<std::uint8_t>(c));
        crc = static_cast<std::uint16_t>((crc << 8) ^ detail::kCrc16Table[index]);
    }
    return crc;
}

// The part of `key` that decides its slot: the text between the first '{' and the first '}'
// after it, when that text is not empty; otherwise the whole key. So "{user1000}.following" and
// "{user1000}.followers" share a slot, while "foo{}{bar}" hashes as a whole.
constexpr std::string_view hash_tag(std::string_view key) {
    const std::size_t open = key.find('{');
    if (open == std::string_view::npos) return key;
    const std::size_t close = key.find('}', open + 1);
    if (close == std::string_view::npos || close == open + 1) return key;
    return key.substr(open + 1, close - open - 1);
}

constexpr std::uint16_t key_hash_slot(std::string_view key) {
    return static_cast<std::uint16_t>(crc16_xmodem(hash_tag(key)) % kSlotCount);
}

}  // namespace gossipcluster
