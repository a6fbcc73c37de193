// Glob matching for PSUBSCRIBE and PUBSUB CHANNELS, with the rules Redis documents for patterns.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace kvserver {

namespace detail {

// Matches one pattern element other than '*' (a literal, '?', "\x" or a "[...]" class) at
// `pos` against `ch`: the position after the element when it matches, nullopt otherwise.
//
// Redis's edge cases are kept: a '\' that ends the pattern is a literal backslash, an
// unterminated class ends with the pattern, "[^...]" negates, "[a-z]" and "[z-a]" are the same
// range, and "\x" inside a class is x itself.
inline std::optional<std::size_t> glob_match_one(std::string_view p, std::size_t pos, char ch) {
    const std::size_t n = p.size();
    switch (p[pos]) {
        case '?':
            return pos + 1;
        case '\\':
            if (pos + 1 < n) return p[pos + 1] == ch ? std::optional(pos + 2) : std::nullopt;
            return ch == '\\' ? std::optional(pos + 1) : std::nullopt;
        case '[': {
            std::size_t i = pos + 1;
            const bool negate = i < n && p[i] == '^';
            if (negate) ++i;
            bool hit = false;
            while (i < n) {
                if (p[i] == '\\' && i + 1 < n) {
                    hit = hit || p[i + 1] == ch;
                    i += 2;
                } else if (p[i] == ']') {
                    ++i;
                    break;
                } else if (n - i >= 3 && p[i + 1] == '-') {
                    // Bytes compare as signed chars, as redis-server on x86-64 compares them:
                    // "[a-\xff]" is the range from -1 to 'a'.
                    auto lo = static_cast<signed char>(p[i]);
                    auto hi = static_cast<signed char>(p[i + 2]);
                    if (lo > hi) std::swap(lo, hi);
                    const auto c = static_cast<signed char>(ch);
                    hit = hit || (c >= lo && c <= hi);
                    i += 3;
                } else {
                    hit = hit || p[i] == ch;
                    ++i;
                }
            }
            if (negate) hit = !hit;
            return hit ? std::optional(i) : std::nullopt;
        }
        default:
            return p[pos] == ch ? std::optional(pos + 1) : std::nullopt;
    }
}

}  // namespace detail

// True when `text` matches the whole of `pattern`: '*' any run of bytes, '?' one byte, "[...]"
// one byte of a class, "\x" the byte x; case-sensitive and byte-wise. Iterative, restarting only
// from the last '*' seen, so time is bounded by pattern length times text length and hostile
// patterns cannot exhaust the stack.
inline bool glob_match(std::string_view pattern, std::string_view text) {
    constexpr std::size_t kNone = std::string_view::npos;
    std::size_t p = 0;
    std::size_t t = 0;
    std::size_t star_p = kNone;  // pattern position just after the last '*' run
    std::size_t star_t = 0;      // text position that '*' run currently ends at
    while (t < text.size()) {
        if (p < pattern.size()) {
            if (pattern[p] == '*') {
                while (p < pattern.size() && pattern[p] == '*')
                    ++p;
                if (p == pattern.size()) return true;
                star_p = p;
                star_t = t;
                continue;
            }
            if (auto next = detail::glob_match_one(pattern, p, text[t])) {
                p = *next;
                ++t;
                continue;
            }
        }
        if (star_p == kNone) return false;
        p = star_p;
        t = ++star_t;
    }
    while (p < pattern.size() && pattern[p] == '*')
        ++p;
    return p == pattern.size();
}

}  // namespace kvserver
