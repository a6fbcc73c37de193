// Frame splitting of a cluster-bus byte stream: arbitrary chunking, early prefix errors, memory.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include "codec_test_support.hpp"
#include "gossipcluster/codec.hpp"
#include "gossipcluster/frame_splitter.hpp"

namespace unit_frame_splitter_test {

using namespace gossipcluster;
using codec_test::Bytes;
using codec_test::put_u16;
using codec_test::put_u32;

namespace {

std::vector<Bytes> all_vectors() {
    std::vector<Bytes> frames;
    for (const auto& p : codec_test::vector_files())
        frames.push_back(codec_test::read_file(p));
    return frames;
}

Bytes concat(const std::vector<Bytes>& frames) {
    Bytes out;
    for (const auto& f : frames)
        out.insert(out.end(), f.begin(), f.end());
    return out;
}

// Feeds `stream` in random chunks of 1..max_chunk bytes, draining after every feed; returns the
// frames in the order they came out and checks the memory bound on the way.
std::vector<Bytes> split(const Bytes& stream, std::uint64_t seed, std::size_t max_chunk,
                         std::size_t largest_frame) {
    std::mt19937_64 gen(seed);
    FrameSplitter splitter;
    std::vector<Bytes> out;
    std::size_t pos = 0;
    while (pos < stream.size()) {
        const std::size_t chunk = std::min<std::size_t>(1 + gen() % max_chunk, stream.size() - pos);
        REQUIRE(splitter.feed(std::span<const std::uint8_t>(stream).subspan(pos, chunk)) ==
                DecodeError::None);
        pos += chunk;
        // What stays is one partial frame plus the chunk just fed.
        REQUIRE(splitter.buffered() <= largest_frame + chunk);
        while (auto f = splitter.next())
            out.emplace_back(f->begin(), f->end());
        REQUIRE(splitter.buffered() < largest_frame);
    }
    CHECK(splitter.buffered() == 0);
    CHECK_FALSE(splitter.next().has_value());
    return out;
}

Bytes meet() {
    return codec_test::vector_bytes("pair-meet-ping-pong-0-MEET.bin");
}

}  // namespace

TEST_CASE("[splitter] each vector fed in random chunks comes out whole", "[unit][splitter]") {
    const auto seed = GENERATE(as<std::uint64_t>{}, 1, 2, 3);
    CAPTURE(seed);
    for (const auto& frame : all_vectors()) {
        for (std::size_t max_chunk : {std::size_t{1}, std::size_t{7}, std::size_t{5000}}) {
            const auto frames = split(frame, seed * 31 + max_chunk, max_chunk, frame.size());
            REQUIRE(frames.size() == 1);
            CHECK(frames[0] == frame);
        }
    }
}

TEST_CASE("[splitter] a stream of all vectors splits back into the frames in order",
          "[unit][splitter]") {
    const auto seed = GENERATE(as<std::uint64_t>{}, 1, 2, 3, 4, 5, 6);
    CAPTURE(seed);
    const auto frames = all_vectors();
    std::size_t largest = 0;
    for (const auto& f : frames)
        largest = std::max(largest, f.size());
    Bytes stream = concat(frames);
    stream.insert(stream.end(), stream.begin(), stream.end());  // twice, to cross compactions
    const auto out = split(stream, seed, 5000, largest);
    REQUIRE(out.size() == 2 * frames.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        CAPTURE(i);
        CHECK(out[i] == frames[i % frames.size()]);
        Message m;
        CHECK(decode(out[i], m) == DecodeError::None);
    }
}

TEST_CASE("[splitter] a whole stream in one chunk yields every frame", "[unit][splitter]") {
    const auto frames = all_vectors();
    const Bytes stream = concat(frames);
    FrameSplitter splitter;
    REQUIRE(splitter.feed(stream) == DecodeError::None);
    CHECK(splitter.buffered() == stream.size());
    for (const auto& f : frames) {
        auto got = splitter.next();
        REQUIRE(got.has_value());
        CHECK(Bytes(got->begin(), got->end()) == f);
    }
    CHECK_FALSE(splitter.next().has_value());
    CHECK(splitter.buffered() == 0);
}

TEST_CASE("[splitter] a bad signature is reported from the prefix, before the body",
          "[unit][splitter]") {
    Bytes bad = meet();
    bad[1] = 'X';
    FrameSplitter splitter;
    const std::span<const std::uint8_t> s(bad);
    CHECK(splitter.feed(s.first(7)) == DecodeError::None);  // not enough to judge yet
    CHECK(splitter.feed(s.subspan(7, 1)) == DecodeError::BadSignature);
    CHECK(action_for(DecodeError::BadSignature) == DecodeAction::CloseLink);
    CHECK(splitter.buffered() == 0);
    CHECK_FALSE(splitter.next().has_value());
    // Sticky until reset.
    CHECK(splitter.feed(meet()) == DecodeError::BadSignature);
    CHECK(splitter.error() == DecodeError::BadSignature);
    CHECK_FALSE(splitter.next().has_value());
    splitter.reset();
    CHECK(splitter.feed(meet()) == DecodeError::None);
    CHECK(splitter.next().has_value());
}

TEST_CASE("[splitter] a totlen below the minimum is reported before the body", "[unit][splitter]") {
    SECTION("below even a light header: judged from 8 bytes") {
        Bytes b = meet();
        put_u32(b, 4, 15);
        FrameSplitter splitter;
        CHECK(splitter.feed(std::span<const std::uint8_t>(b).first(8)) ==
              DecodeError::TotlenTooSmall);
        CHECK(splitter.buffered() == 0);
    }
    SECTION("below the full header, not a light header: judged once the type is visible") {
        Bytes b = meet();
        put_u32(b, 4, 2000);
        FrameSplitter splitter;
        CHECK(splitter.feed(std::span<const std::uint8_t>(b).first(8)) == DecodeError::None);
        CHECK(splitter.feed(std::span<const std::uint8_t>(b).subspan(8, 6)) ==
              DecodeError::TotlenTooSmall);
        CHECK(splitter.buffered() == 0);
    }
    SECTION("a light header of 29 bytes passes the splitter and is refused by decode") {
        Bytes light = {'R', 'C', 'm', 'b', 0, 0, 0, 29, 0, 1,   0,   0,   0x80, 4,  0,
                       0,   0,   0,   0,   2, 0, 0, 0,  3, 'c', 'h', 'm', 's',  'g'};
        Bytes stream = light;
        const Bytes m = meet();
        stream.insert(stream.end(), m.begin(), m.end());
        FrameSplitter splitter;
        CHECK(splitter.feed(stream) == DecodeError::None);
        auto first = splitter.next();
        REQUIRE(first.has_value());
        CHECK(Bytes(first->begin(), first->end()) == light);
        Message msg;
        CHECK(decode(*first, msg) == DecodeError::LightHeaderUnsupported);
        auto second = splitter.next();
        REQUIRE(second.has_value());
        CHECK(Bytes(second->begin(), second->end()) == m);
    }
}

TEST_CASE("[splitter] a totlen above the maximum is reported before the body", "[unit][splitter]") {
    Bytes b = meet();
    put_u32(b, 4, static_cast<std::uint32_t>(kDefaultMaxFrameBytes) + 1);
    FrameSplitter splitter;
    CHECK(splitter.feed(std::span<const std::uint8_t>(b).first(8)) == DecodeError::TotlenTooLarge);
    CHECK(splitter.buffered() == 0);

    // A smaller configured cap applies too.
    FrameSplitter small(3000);
    const Bytes update = codec_test::vector_bytes("failover-update-0-UPDATE.bin");  // 4352 bytes
    CHECK(small.feed(std::span<const std::uint8_t>(update).first(8)) ==
          DecodeError::TotlenTooLarge);
}

TEST_CASE("[splitter] frames before a bad prefix are still delivered", "[unit][splitter]") {
    Bytes stream = meet();
    Bytes bad = meet();
    bad[0] = 'r';
    stream.insert(stream.end(), bad.begin(), bad.end());
    FrameSplitter splitter;
    CHECK(splitter.feed(stream) == DecodeError::BadSignature);
    CHECK(splitter.buffered() == meet().size());  // the rejected body is not kept
    auto got = splitter.next();
    REQUIRE(got.has_value());
    CHECK(Bytes(got->begin(), got->end()) == meet());
    CHECK_FALSE(splitter.next().has_value());
    CHECK(splitter.feed(meet()) == DecodeError::BadSignature);
}

TEST_CASE("[splitter] a bad prefix later in a chunk is found in the same feed",
          "[unit][splitter]") {
    Bytes stream = meet();
    Bytes bad = meet();
    put_u16(bad, 12, 3);
    put_u32(bad, 4, 100);  // not light, below 2256
    stream.insert(stream.end(), bad.begin(), bad.begin() + 20);
    FrameSplitter splitter;
    CHECK(splitter.feed(stream) == DecodeError::TotlenTooSmall);
    CHECK(splitter.next().has_value());
    CHECK_FALSE(splitter.next().has_value());
}

TEST_CASE("[splitter] a large frame dribbled in byte by byte is buffered once",
          "[unit][splitter]") {
    // 600 gossip entries: a 64 KiB frame, fed one byte at a time without any copy blow-up.
    Message m;
    m.header.type = MessageType::Ping;
    m.header.sender = *NodeId::parse("5cee1bca382103a455881a008b4f8a81161c651e");
    GossipBody body;
    body.gossip.resize(600);
    for (auto& g : body.gossip)
        g.node = m.header.sender;
    m.body = body;
    const Bytes frame = encode(m);
    Bytes stream = frame;
    stream.insert(stream.end(), frame.begin(), frame.end());

    FrameSplitter splitter;
    std::size_t frames = 0;
    for (std::size_t i = 0; i < stream.size(); ++i) {
        REQUIRE(splitter.feed(std::span<const std::uint8_t>(stream).subspan(i, 1)) ==
                DecodeError::None);
        REQUIRE(splitter.buffered() <= frame.size());
        while (auto f = splitter.next()) {
            CHECK(std::equal(f->begin(), f->end(), frame.begin(), frame.end()));
            ++frames;
        }
    }
    CHECK(frames == 2);
}

}  // namespace unit_frame_splitter_test
