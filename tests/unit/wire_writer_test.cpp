// WireWriter: big-endian fields into a fixed region; an overrun is refused, not written.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <span>

#include "gossipcluster/detail/wire.hpp"

namespace unit_wire_writer_test {

using gossipcluster::detail::WireWriter;

TEST_CASE("WireWriter writes big-endian fields in order", "[wire]") {
    std::array<std::uint8_t, 20> buf{};
    WireWriter w{std::span<std::uint8_t>(buf)};
    w.u8(0x01);
    w.u16(0x0203);
    w.u32(0x04050607);
    w.u64(0x08090a0b0c0d0e0full);
    const char tail[] = {'x', 'y'};
    w.bytes(tail, 2);
    w.zeros(3);
    REQUIRE(w.ok());
    REQUIRE(w.remaining() == 0);
    const std::array<std::uint8_t, 20> want{1,  2,  3,  4,  5,  6,   7,   8, 9, 10,
                                            11, 12, 13, 14, 15, 'x', 'y', 0, 0, 0};
    REQUIRE(buf == want);
}

TEST_CASE("WireWriter refuses a field that would run past its region", "[wire]") {
    std::array<std::uint8_t, 8> buf{};
    buf.fill(0xee);
    WireWriter w{std::span<std::uint8_t>(buf.data(), 5)};
    w.u32(0x01020304);
    w.u16(0xaaaa);  // needs 2, 1 left: dropped
    REQUIRE_FALSE(w.ok());
    REQUIRE(w.remaining() == 1);
    w.u8(0x05);  // still fits, but the writer stays failed
    REQUIRE_FALSE(w.ok());
    REQUIRE(buf[4] == 0x05);
    REQUIRE(buf[5] == 0xee);  // nothing beyond the region was touched
    REQUIRE(buf[7] == 0xee);
}

}  // namespace unit_wire_writer_test
