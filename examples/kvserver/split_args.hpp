// Splits a line into words the way redis-server reads config lines and inline commands.
#pragma once

#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvserver {

namespace detail {

inline bool is_blank(char c) {
    return std::isspace(static_cast<unsigned char>(c)) != 0;
}

inline int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace detail

// Words are separated by blanks. "double quotes" allow \n \r \t \b \a \\ \" and \xHH escapes;
// 'single quotes' allow only \'. A closing quote must end the word. Returns nullopt for
// unbalanced quotes or text glued to a closing quote.
inline std::optional<std::vector<std::string>> split_args(std::string_view line) {
    std::vector<std::string> words;
    std::size_t i = 0;
    const std::size_t n = line.size();
    while (true) {
        while (i < n && detail::is_blank(line[i]))
            ++i;
        if (i == n) return words;
        std::string word;
        bool in_double = false, in_single = false, done = false;
        while (!done) {
            if (in_double) {
                if (i == n) return std::nullopt;
                const char c = line[i];
                if (c == '\\' && i + 3 < n && line[i + 1] == 'x' &&
                    detail::hex_value(line[i + 2]) >= 0 && detail::hex_value(line[i + 3]) >= 0) {
                    word += static_cast<char>(detail::hex_value(line[i + 2]) * 16 +
                                              detail::hex_value(line[i + 3]));
                    i += 4;
                } else if (c == '\\' && i + 1 < n) {
                    const char e = line[i + 1];
                    word += e == 'n'   ? '\n'
                            : e == 'r' ? '\r'
                            : e == 't' ? '\t'
                            : e == 'b' ? '\b'
                            : e == 'a' ? '\a'
                                       : e;
                    i += 2;
                } else if (c == '"') {
                    ++i;
                    if (i < n && !detail::is_blank(line[i])) return std::nullopt;
                    done = true;
                } else {
                    word += c;
                    ++i;
                }
            } else if (in_single) {
                if (i == n) return std::nullopt;
                const char c = line[i];
                if (c == '\\' && i + 1 < n && line[i + 1] == '\'') {
                    word += '\'';
                    i += 2;
                } else if (c == '\'') {
                    ++i;
                    if (i < n && !detail::is_blank(line[i])) return std::nullopt;
                    done = true;
                } else {
                    word += c;
                    ++i;
                }
            } else if (i == n || detail::is_blank(line[i])) {
                done = true;
            } else if (line[i] == '"') {
                in_double = true;
                ++i;
            } else if (line[i] == '\'') {
                in_single = true;
                ++i;
            } else {
                word += line[i];
                ++i;
            }
        }
        words.push_back(std::move(word));
    }
}

}  // namespace kvserver
