// CRC-64/Jones as redis-server checksums DUMP payloads and RDB files (reflected, init 0).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kvserver {

namespace detail {

// The reflected form of the Jones polynomial 0xad93d23594c935a9, one table entry per byte value.
inline constexpr std::array<std::uint64_t, 256> kCrc64Table = [] {
    constexpr std::uint64_t kReflectedPoly = 0x95ac9329ac4bc9b5ull;
    std::array<std::uint64_t, 256> table{};
    for (std::uint64_t i = 0; i < 256; ++i) {
        std::uint64_t crc = i;
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc & 1) != 0 ? (crc >> 1) ^ kReflectedPoly : crc >> 1;
        table[i] = crc;
    }
    return table;
}();

}  // namespace detail

// `crc` continues an earlier call over the preceding bytes (0 to start).
inline std::uint64_t crc64_jones(std::string_view bytes, std::uint64_t crc = 0) {
    for (unsigned char b : bytes)
        crc = detail::kCrc64Table[(crc ^ b) & 0xff] ^ (crc >> 8);
    return crc;
}

}  // namespace kvserver
