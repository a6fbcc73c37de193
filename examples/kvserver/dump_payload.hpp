// DUMP payloads of string values in redis-server 7.0's format: RDB object, RDB version, CRC-64.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "crc64.hpp"
#include "lzf.hpp"

namespace kvserver {

// A payload is the object as an RDB file stores it (a type byte, then the value), the RDB version
// as 2 bytes little-endian, and the CRC-64/Jones of all that as 8 bytes little-endian.
inline constexpr std::uint16_t kRdbVersion = 10;  // redis-server 7.0
inline constexpr std::uint8_t kRdbTypeString = 0;
inline constexpr std::size_t kDumpFooterSize = 10;
// The largest value a payload may carry, as redis-server's default proto-max-bulk-len.
inline constexpr std::size_t kMaxDumpValue = std::size_t{512} << 20;

enum class DumpError {
    kVersionOrChecksum,  // too short, a newer RDB version, or a checksum that does not match
    kBadFormat,          // not a string object, or a malformed one
};

// redis-server's reply texts for each error.
inline std::string_view dump_error_text(DumpError e) {
    return e == DumpError::kVersionOrChecksum ? "ERR DUMP payload version or checksum are wrong"
                                              : "ERR Bad data format";
}

namespace detail {

// RDB length prefixes: the top two bits of the first byte pick 6 bits, 14 bits (big-endian over
// two bytes), or a 32/64-bit big-endian length after the byte 0x80/0x81; 11 marks an encoded
// string whose kind is in the low six bits.
inline constexpr std::uint8_t kRdbEncInt8 = 0;
inline constexpr std::uint8_t kRdbEncInt16 = 1;
inline constexpr std::uint8_t kRdbEncInt32 = 2;
inline constexpr std::uint8_t kRdbEncLzf = 3;

inline void put_rdb_length(std::string& out, std::uint64_t len) {
    if (len < (1u << 6)) {
        out.push_back(static_cast<char>(len));
    } else if (len < (1u << 14)) {
        out.push_back(static_cast<char>(0x40 | (len >> 8)));
        out.push_back(static_cast<char>(len & 0xff));
    } else if (len <= 0xffffffffull) {
        out.push_back(static_cast<char>(0x80));
        for (int shift = 24; shift >= 0; shift -= 8)
            out.push_back(static_cast<char>((len >> shift) & 0xff));
    } else {
        out.push_back(static_cast<char>(0x81));
        for (int shift = 56; shift >= 0; shift -= 8)
            out.push_back(static_cast<char>((len >> shift) & 0xff));
    }
}

inline void put_le(std::string& out, std::uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i)
        out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// The integer `text` spells exactly (no sign but '-', no leading zero, no "-0"), if it fits
// 32 bits: redis-server stores such short strings as integers.
inline std::optional<std::int32_t> exact_int32(std::string_view text) {
    if (text.empty() || text.size() > 11) return std::nullopt;
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    if (value < INT32_MIN || value > INT32_MAX) return std::nullopt;
    // Only the canonical spelling round-trips: "007", "-0" and "+1" stay strings.
    char canonical[16];
    auto [cend, cec] = std::to_chars(canonical, canonical + sizeof canonical, value);
    if (cec != std::errc{} ||
        std::string_view(canonical, static_cast<std::size_t>(cend - canonical)) != text)
        return std::nullopt;
    return static_cast<std::int32_t>(value);
}

// Reads the RDB fields of one string object from `in`, bounds-checked at every step.
class RdbReader {
  public:
    explicit RdbReader(std::string_view in) : in_(in) {}

    std::size_t left() const { return in_.size() - pos_; }

    std::optional<std::uint8_t> byte() {
        if (pos_ >= in_.size()) return std::nullopt;
        return static_cast<std::uint8_t>(in_[pos_++]);
    }

    std::optional<std::uint64_t> big_endian(int bytes) {
        std::uint64_t v = 0;
        for (int i = 0; i < bytes; ++i) {
            auto b = byte();
            if (!b) return std::nullopt;
            v = (v << 8) | *b;
        }
        return v;
    }

    std::optional<std::int64_t> little_endian_signed(int bytes) {
        std::uint64_t v = 0;
        for (int i = 0; i < bytes; ++i) {
            auto b = byte();
            if (!b) return std::nullopt;
            v |= std::uint64_t{*b} << (8 * i);
        }
        // Sign-extend from the top bit of the last byte.
        const std::uint64_t sign = std::uint64_t{1} << (8 * bytes - 1);
        return static_cast<std::int64_t>((v ^ sign) - sign);
    }

    // A length, or with `encoded` set, the kind of an encoded string.
    std::optional<std::uint64_t> length(bool& encoded) {
        encoded = false;
        auto first = byte();
        if (!first) return std::nullopt;
        switch (*first >> 6) {
            case 0:
                return *first & 0x3f;
            case 1: {
                auto second = byte();
                if (!second) return std::nullopt;
                return (std::uint64_t{*first & 0x3fu} << 8) | *second;
            }
            case 2:
                if (*first == 0x80) return big_endian(4);
                if (*first == 0x81) return big_endian(8);
                return std::nullopt;
            default:
                encoded = true;
                return *first & 0x3f;
        }
    }

    std::optional<std::string_view> take(std::uint64_t n) {
        if (n > left()) return std::nullopt;
        auto out = in_.substr(pos_, static_cast<std::size_t>(n));
        pos_ += static_cast<std::size_t>(n);
        return out;
    }

    std::optional<std::string> string() {
        bool encoded = false;
        auto len = length(encoded);
        if (!len) return std::nullopt;
        if (!encoded) {
            if (*len > kMaxDumpValue) return std::nullopt;
            auto raw = take(*len);
            if (!raw) return std::nullopt;
            return std::string(*raw);
        }
        switch (*len) {
            case kRdbEncInt8:
            case kRdbEncInt16:
            case kRdbEncInt32: {
                auto v = little_endian_signed(1 << *len);
                if (!v) return std::nullopt;
                return std::to_string(*v);
            }
            case kRdbEncLzf: {
                bool enc_c = false, enc_u = false;
                auto clen = length(enc_c);
                auto ulen = clen ? length(enc_u) : std::nullopt;
                if (!clen || !ulen || enc_c || enc_u || *ulen > kMaxDumpValue) return std::nullopt;
                auto packed = take(*clen);
                if (!packed) return std::nullopt;
                return lzf_decompress(*packed, static_cast<std::size_t>(*ulen));
            }
            default:
                return std::nullopt;
        }
    }

  private:
    std::string_view in_;
    std::size_t pos_ = 0;
};

}  // namespace detail

// The payload DUMP returns for a string value, byte for byte what redis-server 7.0 returns, except
// that long strings are stored as they are where redis-server may LZF-compress them (as it does
// with rdbcompression off); both forms load everywhere.
inline std::string encode_dump_payload(std::string_view value) {
    std::string out;
    out.reserve(value.size() + 24);
    out.push_back(static_cast<char>(kRdbTypeString));
    if (auto n = detail::exact_int32(value)) {
        if (*n >= INT8_MIN && *n <= INT8_MAX) {
            out.push_back(static_cast<char>(0xc0 | detail::kRdbEncInt8));
            detail::put_le(out, static_cast<std::uint64_t>(*n), 1);
        } else if (*n >= INT16_MIN && *n <= INT16_MAX) {
            out.push_back(static_cast<char>(0xc0 | detail::kRdbEncInt16));
            detail::put_le(out, static_cast<std::uint64_t>(*n), 2);
        } else {
            out.push_back(static_cast<char>(0xc0 | detail::kRdbEncInt32));
            detail::put_le(out, static_cast<std::uint64_t>(*n), 4);
        }
    } else {
        detail::put_rdb_length(out, value.size());
        out.append(value);
    }
    detail::put_le(out, kRdbVersion, 2);
    detail::put_le(out, crc64_jones(out), 8);
    return out;
}

// The string value in `payload`, or why it cannot be restored. Checked in redis-server's order:
// size, version and checksum first, then the object. Bytes between the object and the footer are
// ignored, as redis-server ignores them; an object running into the footer is malformed.
inline std::variant<std::string, DumpError> decode_dump_payload(std::string_view payload) {
    if (payload.size() < kDumpFooterSize) return DumpError::kVersionOrChecksum;
    const std::size_t body_size = payload.size() - kDumpFooterSize;
    const auto at = [&](std::size_t i) {
        return std::uint64_t{static_cast<std::uint8_t>(payload[i])};
    };
    const std::uint64_t version = at(body_size) | (at(body_size + 1) << 8);
    if (version > kRdbVersion) return DumpError::kVersionOrChecksum;
    std::uint64_t crc = 0;
    for (int i = 7; i >= 0; --i)
        crc = (crc << 8) | at(body_size + 2 + static_cast<std::size_t>(i));
    if (crc != crc64_jones(payload.substr(0, payload.size() - 8)))
        return DumpError::kVersionOrChecksum;

    detail::RdbReader reader(payload.substr(0, body_size));
    auto type = reader.byte();
    if (!type || *type != kRdbTypeString) return DumpError::kBadFormat;
    auto value = reader.string();
    if (!value) return DumpError::kBadFormat;
    return std::move(*value);
}

}  // namespace kvserver
