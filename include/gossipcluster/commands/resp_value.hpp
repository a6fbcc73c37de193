// RespValue: a command reply as a plain value, and its RESP2 encoding for any server to write.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace gossipcluster {

// The reply kinds of RESP2. Null is the null bulk string ($-1), NullArray the null array (*-1).
enum class RespKind { kSimple, kError, kInteger, kBulk, kNull, kArray, kNullArray };

struct RespValue {
    RespKind kind = RespKind::kNull;
    std::string text;  // simple string, error (with its code, e.g. "ERR ..."), bulk string
    std::int64_t integer = 0;
    std::vector<RespValue> items;  // array elements

    static RespValue simple(std::string s) { return {RespKind::kSimple, std::move(s), 0, {}}; }
    static RespValue ok() { return simple("OK"); }
    static RespValue error(std::string s) { return {RespKind::kError, std::move(s), 0, {}}; }
    static RespValue number(std::int64_t n) { return {RespKind::kInteger, {}, n, {}}; }
    static RespValue bulk(std::string s) { return {RespKind::kBulk, std::move(s), 0, {}}; }
    static RespValue null() { return {}; }
    static RespValue null_array() { return {RespKind::kNullArray, {}, 0, {}}; }
    static RespValue array(std::vector<RespValue> v = {}) {
        return {RespKind::kArray, {}, 0, std::move(v)};
    }

    bool is_error() const { return kind == RespKind::kError; }

    friend bool operator==(const RespValue&, const RespValue&) = default;
};

namespace detail {

// Simple strings and errors are one line: a CR or LF taken from user input (an unknown command
// name, say) would end the line early and desynchronise the client, so they become spaces.
inline void append_line_text(std::string_view text, std::string& out) {
    for (char c : text)
        out += (c == '\r' || c == '\n') ? ' ' : c;
}

}  // namespace detail

// Appends the RESP2 encoding of `v` to `out`. Arrays nest by recursion; replies are built by the
// server itself, never parsed from the network, so their depth is the server's own choice.
inline void write_resp2(const RespValue& v, std::string& out) {
    auto it = std::back_inserter(out);
    switch (v.kind) {
        case RespKind::kSimple:
            out += '+';
            detail::append_line_text(v.text, out);
            out += "\r\n";
            break;
        case RespKind::kError:
            out += '-';
            detail::append_line_text(v.text, out);
            out += "\r\n";
            break;
        case RespKind::kInteger:
            fmt::format_to(it, ":{}\r\n", v.integer);
            break;
        case RespKind::kBulk:
            fmt::format_to(it, "${}\r\n", v.text.size());
            out += v.text;
            out += "\r\n";
            break;
        case RespKind::kNull:
            out += "$-1\r\n";
            break;
        case RespKind::kArray:
            fmt::format_to(it, "*{}\r\n", v.items.size());
            for (const auto& item : v.items)
                write_resp2(item, out);
            break;
        case RespKind::kNullArray:
            out += "*-1\r\n";
            break;
    }
}

inline std::string to_resp2(const RespValue& v) {
    std::string out;
    write_resp2(v, out);
    return out;
}

}  // namespace gossipcluster
