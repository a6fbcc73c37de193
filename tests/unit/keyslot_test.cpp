// Unit tests of the key hash slot function (CRC16-XMODEM and hash tags).
#include <catch2/catch.hpp>

#include <string_view>

#include "gossipcluster/keyslot.hpp"

namespace unit_keyslot_test {

using namespace gossipcluster;

TEST_CASE("[keyslot] CRC16-XMODEM matches the standard check value", "[unit][keyslot]") {
    // The published check value of CRC-16/XMODEM for the ASCII digits 1 to 9.
    CHECK(crc16_xmodem("123456789") == 0x31C3);
    CHECK(crc16_xmodem("") == 0);
}

TEST_CASE("[keyslot] slots agree with redis-server 7.0", "[unit][keyslot]") {
    // `CLUSTER KEYSLOT a3729`, `GET b5098` (-ASK 0) and `SET user:0` (-MOVED 14907) are in
    // shared/reference; the others were asked of redis-server 7.0.15 with CLUSTER KEYSLOT.
    CHECK(key_hash_slot("a3729") == 0);
    CHECK(key_hash_slot("b5098") == 0);
    CHECK(key_hash_slot("user:0") == 14907);
    CHECK(key_hash_slot("foo") == 12182);
    CHECK(key_hash_slot("c12298") == 5461);
    CHECK(key_hash_slot("123456789") == 12739);
    CHECK(key_hash_slot("") == 0);
    CHECK(key_hash_slot("{") == 4092);
    CHECK(key_hash_slot("}{") == 12793);
}

TEST_CASE("[keyslot] hash tags select the hashed part of a key", "[unit][keyslot]") {
    SECTION("keys with the same tag share a slot, the tag's own") {
        CHECK(key_hash_slot("{user1000}.following") == 3443);
        CHECK(key_hash_slot("{user1000}.followers") == 3443);
        CHECK(key_hash_slot("user1000") == 3443);
        CHECK(hash_tag("{user1000}.following") == "user1000");
    }
    SECTION("an empty tag makes the whole key count") {
        CHECK(hash_tag("foo{}{bar}") == "foo{}{bar}");
        CHECK(key_hash_slot("foo{}{bar}") == 8363);
        CHECK(key_hash_slot("foo{}{bar}") != key_hash_slot("bar"));
    }
    SECTION("the tag ends at the first closing brace after the first opening one") {
        CHECK(hash_tag("foo{{bar}}zap") == "{bar");
        CHECK(key_hash_slot("foo{{bar}}zap") == 4015);
        CHECK(key_hash_slot("{bar") == 4015);
        CHECK(hash_tag("foo{bar}{zap}") == "bar");
        CHECK(key_hash_slot("foo{bar}{zap}") == 5061);
    }
    SECTION("an unclosed or reversed pair is no tag") {
        CHECK(hash_tag("foo{bar") == "foo{bar");
        CHECK(hash_tag("foo}bar{") == "foo}bar{");
    }
    SECTION("bytes outside ASCII hash like any other") {
        constexpr std::string_view binary("\xff\x00{\x80}", 5);
        CHECK(hash_tag(binary) == std::string_view("\x80", 1));
        CHECK(key_hash_slot(binary) == key_hash_slot(std::string_view("\x80", 1)));
    }
}

TEST_CASE("[keyslot] usable at compile time", "[unit][keyslot]") {
    static_assert(key_hash_slot("a3729") == 0);
    static_assert(key_hash_slot("{user1000}.x") == key_hash_slot("user1000"));
    SUCCEED();
}

}  // namespace unit_keyslot_test
