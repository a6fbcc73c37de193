// Escaping of untrusted bytes for log text and JSON output.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace gossipcluster::detail {

inline constexpr char kHexDigits[] = "0123456789abcdef";

inline void append_hex_byte(std::string& out, std::uint8_t b) {
    out.push_back(kHexDigits[b >> 4]);
    out.push_back(kHexDigits[b & 0xf]);
}

inline bool is_printable_ascii(unsigned char c) {
    return c >= 0x20 && c < 0x7f;
}

// Unquoted text field: printable ASCII passes, everything else (and the backslash) becomes an
// escape, so a hostile peer cannot forge extra log lines or terminal control sequences.
inline void append_escaped(std::string& out, std::string_view s) {
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '\\') {
            out += "\\\\";
        } else if (is_printable_ascii(c)) {
            out.push_back(ch);
        } else {
            out += "\\x";
            append_hex_byte(out, c);
        }
    }
}

// Single-quoted text field in the style of the capture listings ('node-b.test').
inline void append_quoted(std::string& out, std::string_view s) {
    out.push_back('\'');
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '\'':
                out += "\\'";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                if (is_printable_ascii(c)) {
                    out.push_back(ch);
                } else {
                    out += "\\x";
                    append_hex_byte(out, c);
                }
        }
    }
    out.push_back('\'');
}

// A JSON string literal. Bytes are not assumed to be UTF-8: every byte outside printable ASCII
// becomes \u00XX (its Latin-1 code point), which keeps the output valid JSON and lossless.
inline void append_json_string(std::string& out, std::string_view s) {
    out.push_back('"');
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '"') {
            out += "\\\"";
        } else if (c == '\\') {
            out += "\\\\";
        } else if (is_printable_ascii(c)) {
            out.push_back(ch);
        } else {
            out += "\\u00";
            append_hex_byte(out, c);
        }
    }
    out.push_back('"');
}

}  // namespace gossipcluster::detail
