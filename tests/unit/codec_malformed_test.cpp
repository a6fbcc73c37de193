// Malformed cluster-bus frames: each class of damage is rejected with its own reason and action.
#include <catch2/catch.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "codec_test_support.hpp"
#include "gossipcluster/codec.hpp"
#include "malformed_frames.hpp"

namespace unit_codec_malformed_test {

using namespace gossipcluster;
using codec_test::Bytes;
using codec_test::fix_totlen;
using codec_test::put_u16;
using codec_test::put_u32;

using namespace codec_test::malformed;

namespace {

DecodeAction expected_action(DecodeError e) {
    switch (e) {
        case DecodeError::None:
            return DecodeAction::Accept;
        case DecodeError::BadSignature:
        case DecodeError::TotlenTooSmall:
        case DecodeError::TotlenTooLarge:
            return DecodeAction::CloseLink;
        default:
            return DecodeAction::DropFrame;
    }
}

}  // namespace

TEST_CASE("[codec] every malformation class is rejected with its own reason", "[unit][codec]") {
    const auto cases = malformed_cases();
    std::set<std::string> names;
    std::set<DecodeError> reasons;
    for (const auto& c : cases) {
        INFO("case: " << c.what);
        CHECK(names.insert(c.what).second);
        Message out;
        const DecodeError got = decode(c.frame, out, c.limits);
        INFO("got: " << describe(got));
        CHECK(got == c.expected);
        CHECK(action_for(got) == expected_action(c.expected));
        reasons.insert(c.expected);
    }
    CHECK(cases.size() >= 25);
    // Every reason the decoder has is exercised by at least one case.
    CHECK(reasons.size() == static_cast<std::size_t>(kLastDecodeError));
}

TEST_CASE("[codec] prefix errors close the link, all others drop the frame", "[unit][codec]") {
    std::set<std::string> descriptions;
    for (int i = 0; i <= static_cast<int>(kLastDecodeError); ++i) {
        const auto e = static_cast<DecodeError>(i);
        INFO("reason " << i << ": " << describe(e));
        CHECK(action_for(e) == expected_action(e));
        CHECK(describe(e) != "unknown decode error");
        CHECK(descriptions.insert(std::string(describe(e))).second);
    }
    static_assert(action_for(DecodeError::BadSignature) == DecodeAction::CloseLink);
    static_assert(action_for(DecodeError::BadVersion) == DecodeAction::DropFrame);
}

TEST_CASE("[codec] check_prefix judges sig and totlen from the first bytes", "[unit][codec]") {
    const Bytes meet = codec_test::vector_bytes(kMeet);
    std::uint32_t totlen = 0;
    const std::span<const std::uint8_t> all(meet);
    CHECK(check_prefix(all.first(8), kDefaultMaxFrameBytes, totlen) == DecodeError::None);
    CHECK(totlen == 2256);
    CHECK(check_prefix(all.first(7), kDefaultMaxFrameBytes, totlen) == DecodeError::Truncated);
    CHECK(check_prefix(all.first(8), 2255, totlen) == DecodeError::TotlenTooLarge);

    Bytes b = meet;
    put_u32(b, 4, 100);
    // With 8 bytes only, 100 could still be a light header; the type at byte 12 settles it.
    CHECK(check_prefix(std::span<const std::uint8_t>(b).first(8), kDefaultMaxFrameBytes, totlen) ==
          DecodeError::None);
    CHECK(check_prefix(std::span<const std::uint8_t>(b).first(14), kDefaultMaxFrameBytes, totlen) ==
          DecodeError::TotlenTooSmall);
    put_u16(b, 12, 0x8004);
    CHECK(check_prefix(std::span<const std::uint8_t>(b).first(14), kDefaultMaxFrameBytes, totlen) ==
          DecodeError::None);
    put_u32(b, 4, 15);
    CHECK(check_prefix(std::span<const std::uint8_t>(b).first(14), kDefaultMaxFrameBytes, totlen) ==
          DecodeError::TotlenTooSmall);
    b[3] = 'B';
    CHECK(check_prefix(std::span<const std::uint8_t>(b).first(8), kDefaultMaxFrameBytes, totlen) ==
          DecodeError::BadSignature);
}

// valid_name_at checks eight bytes at a time; every byte value at every position must be judged
// as the plain rule [a-z0-9] judges it.
TEST_CASE("a node name is valid exactly when every byte is a lowercase letter or a digit",
          "[codec]") {
    std::uint8_t name[kNodeNameLen];
    for (std::size_t i = 0; i < kNodeNameLen; ++i)
        name[i] = static_cast<std::uint8_t>("0123456789abcdefghijklmnopqrstuvwxyz"[i % 36]);
    REQUIRE(detail::valid_name_at(name));
    for (std::size_t pos = 0; pos < kNodeNameLen; ++pos) {
        const std::uint8_t saved = name[pos];
        for (unsigned b = 0; b < 256; ++b) {
            name[pos] = static_cast<std::uint8_t>(b);
            const bool expected = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z');
            if (detail::valid_name_at(name) != expected) FAIL("byte " << b << " at " << pos);
        }
        name[pos] = saved;
    }
}

TEST_CASE("names made of bytes next to the allowed ranges are judged as the plain rule does",
          "[codec]") {
    // Bytes at the edges of both ranges and of the top bit, in every lane at once; most bytes
    // are valid ones, so that names with a single bad byte are common.
    const std::uint8_t valid[] = {'0', '9', '5', 'a', 'z', 'm'};
    const std::uint8_t edges[] = {'/',  ':',  '`',  '{',  0x00, 0x7f,
                                  0x80, 0xb0, 0xd0, 0xe1, 0xfa, 0xff};
    std::uint64_t state = 0x9e3779b97f4a7c15ull;
    std::uint8_t name[kNodeNameLen];
    for (int round = 0; round < 20000; ++round) {
        bool expected = true;
        for (std::size_t i = 0; i < kNodeNameLen; ++i) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            const bool edge = (state >> 58) == 0;  // one byte in 64
            const std::uint8_t b =
                edge ? edges[(state >> 33) % sizeof edges] : valid[(state >> 33) % sizeof valid];
            name[i] = b;
            expected = expected && !edge;
        }
        if (detail::valid_name_at(name) != expected) FAIL("round " << round);
    }
}

// FixedText::terminated tests eight bytes at a time (the last word overlapping); a NUL anywhere,
// next to bytes that make the word arithmetic borrow or carry, must be found, and none invented.
TEST_CASE("an ip field is terminated exactly when it holds a NUL byte somewhere", "[codec]") {
    for (const char fill : {'\x01', '\x7f', '\x80', '\xff', '1'}) {
        IpText text;
        text.raw().fill(fill);
        CHECK_FALSE(text.terminated());
        for (std::size_t pos = 0; pos < kIpFieldLen; ++pos) {
            text.raw().fill(fill);
            text.raw()[pos] = 0;
            if (!text.terminated()) FAIL("NUL at " << pos << " missed among bytes " << int(fill));
        }
    }
}

}  // namespace unit_codec_malformed_test
