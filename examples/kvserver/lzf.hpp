// LZF decompression of the compressed strings redis-server puts in RDB data and DUMP payloads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kvserver {

// Every LZF instruction is at most 3 input bytes and produces at most 264 output bytes, so a
// payload can never claim more than this many output bytes per input byte.
inline constexpr std::size_t kLzfMaxExpansion = 88;

// Expands `in` into exactly `out_len` bytes; nullopt when the data is malformed: a literal run or
// a back reference that reads past the input, points before the start of the output or writes
// past `out_len`, or an output of another length. The caller bounds `out_len`.
//
// The format: a control byte below 32 starts a literal run of control + 1 bytes. Otherwise its top
// three bits are a length (7 meaning "7 plus the next byte"), and the low five bits with the next
// byte an offset: copy length + 2 bytes from offset + 1 bytes back in the output (overlapping
// copies repeat a pattern).
inline std::optional<std::string> lzf_decompress(std::string_view in, std::size_t out_len) {
    if (out_len > in.size() * kLzfMaxExpansion) return std::nullopt;
    std::string out;
    out.reserve(out_len);
    std::size_t ip = 0;
    while (ip < in.size()) {
        const auto ctrl = static_cast<std::uint8_t>(in[ip++]);
        if (ctrl < 32) {
            const std::size_t run = std::size_t{ctrl} + 1;
            if (run > in.size() - ip || run > out_len - out.size()) return std::nullopt;
            out.append(in.substr(ip, run));
            ip += run;
            continue;
        }
        std::size_t len = ctrl >> 5;
        if (len == 7) {
            if (ip >= in.size()) return std::nullopt;
            len += static_cast<std::uint8_t>(in[ip++]);
        }
        len += 2;
        if (ip >= in.size()) return std::nullopt;
        const std::size_t back =
            ((std::size_t{ctrl} & 0x1f) << 8) + static_cast<std::uint8_t>(in[ip++]) + 1;
        if (back > out.size() || len > out_len - out.size()) return std::nullopt;
        // Byte by byte: the source may overlap what this copy writes.
        std::size_t from = out.size() - back;
        for (std::size_t i = 0; i < len; ++i)
            out.push_back(out[from + i]);
    }
    if (out.size() != out_len) return std::nullopt;
    return out;
}

}  // namespace kvserver
