// Malformed cluster-bus frames: each class of damage is rejected with its own reason and action.
#include <catch2/catch.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "codec_test_support.hpp"
#include "gossipcluster/codec.hpp"
#include "malformed_frames.hpp"

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
