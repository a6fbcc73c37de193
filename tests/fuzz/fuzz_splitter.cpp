// Fuzz target: a byte stream cut into chunks chosen by the input must split exactly as when fed
// whole; every frame is decoded; the splitter's memory and error rules hold.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_check.hpp"
#include "gossipcluster/codec.hpp"
#include "gossipcluster/frame_splitter.hpp"

using namespace gossipcluster;

namespace {

struct Split {
    std::vector<std::vector<std::uint8_t>> frames;
    DecodeError error = DecodeError::None;
};

void check_frame(std::span<const std::uint8_t> f, std::size_t max_frame) {
    FUZZ_CHECK(f.size() >= 16 && f.size() <= max_frame);
    FUZZ_CHECK(f[0] == 'R' && f[1] == 'C' && f[2] == 'm' && f[3] == 'b');
    const std::size_t totlen = (std::size_t{f[4]} << 24) | (std::size_t{f[5]} << 16) |
                               (std::size_t{f[6]} << 8) | std::size_t{f[7]};
    FUZZ_CHECK(totlen == f.size());
    Message m;
    CodecLimits limits;
    limits.max_frame_bytes = max_frame;
    const DecodeError e = decode(f, m, limits);
    // The splitter already vetted the prefix: only body-level reasons remain.
    FUZZ_CHECK(action_for(e) != DecodeAction::CloseLink);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    // Byte 0 picks the frame size limit, byte 1 how chunk sizes are drawn; the rest is the stream.
    const std::size_t max_frame = kHeaderSize + std::size_t{data[0]} * 256;
    const std::uint8_t chunk_mode = data[1];
    const std::span<const std::uint8_t> stream(data + 2, size - 2);

    Split whole;
    {
        FrameSplitter s(max_frame);
        whole.error = s.feed(stream);
        while (auto f = s.next())
            whole.frames.emplace_back(f->begin(), f->end());
        FUZZ_CHECK(!s.next().has_value());
        if (whole.error == DecodeError::None) {
            std::size_t framed = 0;
            for (const auto& f : whole.frames)
                framed += f.size();
            FUZZ_CHECK(framed + s.buffered() == stream.size());
        }
    }

    // Chunk sizes come from the stream bytes themselves, scaled by the mode byte.
    FrameSplitter s(max_frame);
    Split chunked;
    std::size_t off = 0;
    std::size_t draw = 0;
    while (off < stream.size()) {
        const std::size_t unit = 1 + (chunk_mode & 0x3f);
        std::size_t n = 1 + (stream[draw++ % stream.size()] % 16) * unit;
        if (chunk_mode & 0x80) n *= 64;
        n = std::min(n, stream.size() - off);
        const DecodeError e = s.feed(stream.subspan(off, n));
        off += n;
        while (auto f = s.next()) {
            check_frame(*f, max_frame);
            chunked.frames.emplace_back(f->begin(), f->end());
        }
        FUZZ_CHECK(s.buffered() <= max_frame + n);
        if (e != DecodeError::None) {
            FUZZ_CHECK(action_for(e) == DecodeAction::CloseLink);
            FUZZ_CHECK(chunked.error == DecodeError::None || chunked.error == e);
            chunked.error = e;
            // Sticky until reset().
            FUZZ_CHECK(s.feed(stream.subspan(0, std::min<std::size_t>(8, stream.size()))) == e);
            FUZZ_CHECK(s.error() == e);
        } else {
            FUZZ_CHECK(chunked.error == DecodeError::None);
        }
    }
    FUZZ_CHECK(chunked.frames == whole.frames);
    FUZZ_CHECK(chunked.error == whole.error);

    s.reset();
    FUZZ_CHECK(s.buffered() == 0 && s.error() == DecodeError::None);
    return 0;
}
