// Unit tests of the kvserver's glob matcher (PSUBSCRIBE, PUBSUB CHANNELS patterns).
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <string_view>

#include "../glob_match.hpp"

namespace {

struct GlobCase {
    std::string_view pattern;
    std::string_view text;
    bool matches;
};

// Each expectation was checked against redis-server 7.0.15: the texts were subscribed as
// channels and PUBSUB CHANNELS <pattern> listed exactly the ones marked true.
constexpr GlobCase kRedisChecked[] = {
    {"*", "x", true},
    {"*", "hello", true},
    {"h?llo", "hello", true},
    {"h?llo", "hallo", true},
    {"h?llo", "hllo", false},
    {"h?llo", "heello", false},
    {"h*llo", "hllo", true},
    {"h*llo", "heeeello", true},
    {"h*llo", "hello", true},
    {"h*llo", "helo", false},
    {"h[ae]llo", "hello", true},
    {"h[ae]llo", "hallo", true},
    {"h[ae]llo", "hillo", false},
    {"h[^e]llo", "hallo", true},
    {"h[^e]llo", "hbllo", true},
    {"h[^e]llo", "hello", false},
    {"h[a-b]llo", "hallo", true},
    {"h[a-b]llo", "hbllo", true},
    {"h[a-b]llo", "hcllo", false},
    {"h[b-a]llo", "hallo", true},
    {"h[b-a]llo", "hbllo", true},
    {"h[b-a]llo", "hcllo", false},
    {"h\\*llo", "h*llo", true},
    {"h\\*llo", "hello", false},
    {"news.*", "news.1", true},
    {"news.*", "news.", true},
    {"news.*", "news", false},
    {"news.*", "xnews.1", false},
    {"*.*", "a.b", true},
    {"*.*", "ab", false},
    {"*.*", ".", true},
    {"*.*", "a.", true},
    {"a*b*c", "abc", true},
    {"a*b*c", "aXbYc", true},
    {"a*b*c", "acb", false},
    {"a*b*c", "abcc", true},
    {"a*b*c", "ab", false},
    {"**a", "a", true},
    {"**a", "ba", true},
    {"**a", "ab", false},
    {"[abc", "a", true},
    {"[abc", "c", true},
    {"[abc", "[", false},
    {"[abc", "b", true},
    {"[a-", "a", true},
    {"[a-", "-", true},
    {"[a-", "b", false},
    {"[]]", "]", false},
    {"[]]", "a", false},
    {"[]a]", "]", false},
    {"[]a]", "a", false},
    {"[]a]", "]a", false},
    {"[\\]]", "]", true},
    {"[\\]]", "\\", false},
    {"[\\a]", "a", true},
    {"[\\a]", "\\", false},
    {"\\", "\\", true},
    {"\\", "a", false},
    {"a\\", "a\\", true},
    {"a\\", "a", false},
    {"[", "[", false},
    {"[", "a", false},
    {"[^", "^", true},
    {"[^", "a", true},
    {"[a-c-e]", "b", true},
    {"[a-c-e]", "-", true},
    {"[a-c-e]", "d", false},
    {"[a-c-e]", "e", true},
    {"?", "a", true},
    {"??", "ab", true},
    {"??", "a", false},
    {"??", "abc", false},
    {"*?", "a", true},
    {"*?", "ab", true},
    {"[*]", "*", true},
    {"[*]", "a", false},
    {"[?]", "?", true},
    {"[?]", "a", false},
    {"\\?", "?", true},
    {"\\?", "a", false},
    {"a[-]b", "a-b", true},
    {"a[-]b", "ab", false},
    {"[!a]", "!", true},
    {"[!a]", "b", false},
    {"[!a]", "a", true},
    {"*[0-9]", "abc1", true},
    {"*[0-9]", "abc", false},
    {"*[0-9]", "9", true},
    {"[0-9]*[0-9]", "1", false},
    {"[0-9]*[0-9]", "12", true},
    {"[0-9]*[0-9]", "1a2", true},
    {"A*", "abc", false},
    {"A*", "Abc", true},
    {"[^a-c]*", "abc", false},
    {"[^a-c]*", "dbc", true},
};

}  // namespace

TEST_CASE("[glob] matches as redis-server's PUBSUB CHANNELS does", "[kvserver][glob]") {
    for (const auto& c : kRedisChecked) {
        CAPTURE(c.pattern, c.text);
        CHECK(kvserver::glob_match(c.pattern, c.text) == c.matches);
    }
}

TEST_CASE("[glob] empty texts and patterns follow the documented rules", "[kvserver][glob]") {
    // '*' is any run of bytes, the empty one included; every other element needs one byte.
    CHECK(kvserver::glob_match("*", ""));
    CHECK(kvserver::glob_match("***", ""));
    CHECK(kvserver::glob_match("", ""));
    CHECK_FALSE(kvserver::glob_match("", "a"));
    CHECK_FALSE(kvserver::glob_match("?", ""));
    CHECK_FALSE(kvserver::glob_match("[a]", ""));
    CHECK_FALSE(kvserver::glob_match("a", ""));
}

TEST_CASE("[glob] bytes outside ASCII and NUL are plain bytes", "[kvserver][glob]") {
    const std::string with_nul("a\0b", 3);
    CHECK(kvserver::glob_match("a?b", with_nul));
    CHECK(kvserver::glob_match(with_nul, with_nul));
    CHECK_FALSE(kvserver::glob_match("ab", with_nul));
    CHECK(kvserver::glob_match("\xc3*", "\xc3\xa9t\xc3\xa9"));
    CHECK(kvserver::glob_match("[\x80-\xff]", "\xe9"));
    CHECK_FALSE(kvserver::glob_match("[a-z]", "\xe9"));
    // Checked against redis-server 7.0.15: range ends compare as signed bytes.
    CHECK(kvserver::glob_match("[a-\xff]", "0"));
    CHECK_FALSE(kvserver::glob_match("[a-\xff]", "z"));
    CHECK_FALSE(kvserver::glob_match("[a-\xff]", "\xe9"));
    CHECK_FALSE(kvserver::glob_match("[a-\xff]", "\x7f"));
    const std::string_view low_half("[\x00-\x7f]", 5);
    CHECK(kvserver::glob_match(low_half, "\x7f"));
    CHECK_FALSE(kvserver::glob_match(low_half, "\xe9"));
    for (std::string_view t : {"z", "0", "\xe9", "\x7f"})
        CHECK(kvserver::glob_match("[\x7f-\x80]", t));
}

TEST_CASE("[glob] hostile patterns finish quickly", "[kvserver][glob]") {
    // Many stars against a long text that almost matches: a backtracking matcher that retries
    // every star would take exponential time here.
    std::string pattern;
    for (int i = 0; i < 200; ++i)
        pattern += "*a";
    pattern += "b";
    const std::string text(5000, 'a');
    const auto start = std::chrono::steady_clock::now();
    CHECK_FALSE(kvserver::glob_match(pattern, text));
    CHECK(kvserver::glob_match(pattern, text + "b"));
    const std::string deep(100000, '[');
    CHECK_FALSE(kvserver::glob_match(deep, "a"));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}
