// Unit tests of the kvserver's DUMP payloads: CRC-64/Jones, LZF, encoding and decoding checked
// against payloads redis-server 7.0.15 returned, and hostile payloads.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <variant>

#include "../dump_payload.hpp"

using namespace kvserver;

namespace {

std::string from_hex(std::string_view hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    return out;
}

// `body` with a valid footer for `version`.
std::string with_footer(std::string body, std::uint16_t version = kRdbVersion) {
    body.push_back(static_cast<char>(version & 0xff));
    body.push_back(static_cast<char>(version >> 8));
    const std::uint64_t crc = crc64_jones(body);
    for (int i = 0; i < 8; ++i)
        body.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
    return body;
}

bool is_error(const std::variant<std::string, DumpError>& r, DumpError e) {
    const auto* got = std::get_if<DumpError>(&r);
    return got && *got == e;
}

std::string value_of(const std::variant<std::string, DumpError>& r) {
    REQUIRE(std::holds_alternative<std::string>(r));
    return std::get<std::string>(r);
}

// DUMP replies of redis-server 7.0.15 (hex), for SET <key> <value> then DUMP <key>.
struct Sample {
    std::string_view value;
    std::string_view payload;
};
constexpr Sample kRedisSamples[] = {
    {"hello", "000568656c6c6f0a006372df766534200a"},
    {"12345", "00c139300a009d94ea2793fc08b9"},
    {"", "00000a005d9b5c400f7fa2da"},
    {"-7", "00c0f90a005e26d130d7a242ab"},
    {"12345678901", "000b31323334353637383930310a00304e52d727176510"},
};

}  // namespace

TEST_CASE("[dump] CRC-64/Jones has the standard check value", "[kvserver]") {
    CHECK(crc64_jones("123456789") == 0xe9c6d914c4b8d9caull);
    CHECK(crc64_jones("") == 0);
    // Continuing over a split input gives the same sum.
    CHECK(crc64_jones("6789", crc64_jones("12345")) == crc64_jones("123456789"));
}

TEST_CASE("[dump] payloads are byte for byte redis-server's", "[kvserver]") {
    for (const auto& s : kRedisSamples) {
        CAPTURE(s.value);
        CHECK(encode_dump_payload(s.value) == from_hex(s.payload));
        CHECK(value_of(decode_dump_payload(from_hex(s.payload))) == s.value);
    }
    // Integer encodings at the edges of 8, 16 and 32 bits, and spellings that stay strings.
    for (std::string_view v :
         {"0", "127", "-128", "128", "-129", "32767", "-32768", "32768", "2147483647",
          "-2147483648", "2147483648", "007", "-0", "+1", " 1", "1 ", "99999999999"}) {
        CAPTURE(v);
        const std::string p = encode_dump_payload(v);
        CHECK(value_of(decode_dump_payload(p)) == v);
    }
    CHECK(encode_dump_payload("127").substr(0, 3) == from_hex("00c07f"));
    CHECK(encode_dump_payload("-129").substr(0, 4) == from_hex("00c17fff"));
    CHECK(encode_dump_payload("2147483647").substr(0, 6) == from_hex("00c2ffffff7f"));
    CHECK(encode_dump_payload("007").substr(0, 2) == from_hex("0003"));
    // Length prefixes: 6 bits, 14 bits big-endian, then 0x80 and 32 bits.
    CHECK(encode_dump_payload(std::string(63, 'x')).substr(0, 2) == from_hex("003f"));
    CHECK(encode_dump_payload(std::string(64, 'x')).substr(0, 3) == from_hex("004040"));
    CHECK(encode_dump_payload(std::string(20000, 'x')).substr(0, 6) == from_hex("008000004e20"));
    const std::string big(70000, 'y');
    CHECK(value_of(decode_dump_payload(encode_dump_payload(big))) == big);
}

TEST_CASE("[dump] LZF strings of redis-server's payloads are expanded", "[kvserver]") {
    // SET l <54 times 'a'>; DUMP l on redis-server 7.0.15.
    const std::string p = from_hex("00c30936016161e029000161610a00737e3c546de6af43");
    CHECK(value_of(decode_dump_payload(p)) == std::string(54, 'a'));
    // Literal runs, short and long back references, an overlapping copy.
    CHECK(lzf_decompress(from_hex("0261626320"
                                  "02"),
                         6) == std::string("abcabc"));
    CHECK(lzf_decompress(from_hex("0061e0ff00"), 1 + 264) == std::string(265, 'a'));
    CHECK_FALSE(lzf_decompress(from_hex("0061e0ff00"), 264));  // longer than announced
    CHECK_FALSE(lzf_decompress(from_hex("0061e0ff00"), 266));  // shorter than announced
    CHECK_FALSE(lzf_decompress(from_hex("0061200100"), 4));    // reference before the start
    CHECK_FALSE(lzf_decompress(from_hex("05616263"), 6));      // literal past the input
    CHECK_FALSE(lzf_decompress(from_hex("0061e0"), 10));       // reference cut short
    CHECK_FALSE(lzf_decompress(from_hex("0061"), 1000));       // more than LZF can expand to
    CHECK(lzf_decompress("", 0) == std::string());
}

TEST_CASE("[dump] refused payloads get redis-server's errors", "[kvserver]") {
    const std::string good = encode_dump_payload("hello");
    using E = DumpError;
    CHECK(is_error(decode_dump_payload(""), E::kVersionOrChecksum));
    CHECK(is_error(decode_dump_payload(std::string(9, '\0')), E::kVersionOrChecksum));
    std::string flipped = good;
    flipped[2] = static_cast<char>(flipped[2] ^ 1);
    CHECK(is_error(decode_dump_payload(flipped), E::kVersionOrChecksum));
    CHECK(is_error(decode_dump_payload(with_footer(from_hex("000568656c6c6f"), 11)),
                   E::kVersionOrChecksum));
    // Older versions load, as redis-server loads them.
    CHECK(value_of(decode_dump_payload(with_footer(from_hex("000568656c6c6f"), 9))) == "hello");
    // Other object types (a list, a set) and unknown ones: this server has strings only.
    CHECK(is_error(decode_dump_payload(with_footer(from_hex("0e0568656c6c6f"))), E::kBadFormat));
    CHECK(is_error(decode_dump_payload(with_footer(from_hex("020568656c6c6f"))), E::kBadFormat));
    CHECK(is_error(decode_dump_payload(with_footer("")), E::kBadFormat));
    // A length that runs into the footer, huge lengths, an unknown string encoding.
    CHECK(is_error(decode_dump_payload(with_footer(from_hex("000668656c6c6f"))), E::kBadFormat));
    CHECK(is_error(decode_dump_payload(with_footer(from_hex("0081ffffffffffffffff"))),
                   E::kBadFormat));
    CHECK(is_error(decode_dump_payload(with_footer(from_hex("0080ffffffff61"))), E::kBadFormat));
    CHECK(is_error(decode_dump_payload(with_footer(from_hex("00c4"))), E::kBadFormat));
    CHECK(is_error(decode_dump_payload(with_footer(from_hex("00c17f"))), E::kBadFormat));
    // LZF claiming 512 MiB from two bytes: refused before anything is allocated.
    CHECK(is_error(decode_dump_payload(with_footer(from_hex("00c30280200000006161"))),
                   E::kBadFormat));
    // Bytes after the object are ignored, as redis-server ignores them.
    CHECK(value_of(decode_dump_payload(with_footer(from_hex("000568656c6c6f7878")))) == "hello");
}

TEST_CASE("[dump] random, truncated and corrupted payloads never crash the decoder", "[kvserver]") {
    std::mt19937_64 rng(20261122);
    auto random_bytes = [&](std::size_t n) {
        std::string s(n, '\0');
        for (auto& c : s)
            c = static_cast<char>(rng() & 0xff);
        return s;
    };
    std::size_t decoded = 0;
    // Random bodies with a valid footer reach the object parser.
    for (int i = 0; i < 20000; ++i) {
        std::string body = random_bytes(rng() % 48);
        if (!body.empty() && rng() % 2 == 0) body[0] = 0;  // mostly the string type
        const auto r = decode_dump_payload(with_footer(body));
        if (const auto* v = std::get_if<std::string>(&r)) {
            ++decoded;
            CHECK(v->size() <= body.size() * kLzfMaxExpansion + 16);
        }
    }
    CHECK(decoded > 0);
    // Pure noise fails the checksum.
    for (int i = 0; i < 2000; ++i)
        CHECK(std::holds_alternative<DumpError>(decode_dump_payload(random_bytes(rng() % 64))));
    // Every truncation and every single-bit flip of real payloads is refused.
    const std::string samples[] = {encode_dump_payload("hello"), encode_dump_payload("-32768"),
                                   encode_dump_payload(random_bytes(300)),
                                   from_hex("00c30936016161e029000161610a00737e3c546de6af43")};
    for (const auto& p : samples) {
        for (std::size_t n = 0; n < p.size(); ++n)
            CHECK(std::holds_alternative<DumpError>(decode_dump_payload(p.substr(0, n))));
        for (std::size_t bit = 0; bit < p.size() * 8; ++bit) {
            std::string q = p;
            q[bit / 8] = static_cast<char>(q[bit / 8] ^ (1 << (bit % 8)));
            CHECK(std::holds_alternative<DumpError>(decode_dump_payload(q)));
        }
    }
    // Random LZF streams: a value of exactly the announced size, or a refusal.
    for (int i = 0; i < 20000; ++i) {
        const std::string in = random_bytes(rng() % 40);
        const std::size_t want = rng() % 400;
        if (auto out = lzf_decompress(in, want)) CHECK(out->size() == want);
    }
}
