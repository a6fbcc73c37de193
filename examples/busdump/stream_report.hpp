// Turns the events of one FrameStream into dumped frames, errors and notes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include <fmt/format.h>

#include "dumper.hpp"
#include "frame_stream.hpp"

namespace busdump {

inline const char* describe(ResyncReason r) {
    switch (r) {
        case ResyncReason::MidStreamStart:
            return "the stream starts inside a frame";
        case ResyncReason::Gap:
            return "after bytes missing from the capture";
        case ResyncReason::BadPrefix:
            return "after a rejected frame prefix";
        case ResyncReason::Restart:
            return "the new connection starts inside a frame";
    }
    return "resynchronised";
}

// Handler for FrameStream. A strict stream (a .bin file) treats a truncated last frame as an
// error; a capture may simply have stopped in the middle of one, which is only a note.
struct StreamReport {
    Dumper& dumper;
    Origin origin;
    bool strict = false;

    void frame(std::span<const std::uint8_t> bytes, std::uint64_t /*offset*/) {
        dumper.frame(origin, bytes);
    }
    void bad_prefix(gossipcluster::DecodeError e, std::uint64_t offset) {
        dumper.bad_prefix(origin, e, offset);
    }
    void resynced(ResyncReason why, std::uint64_t skipped, std::uint64_t offset) {
        dumper.note(origin, fmt::format("{}: skipped {} bytes to the RCmb signature at stream "
                                        "offset {}",
                                        describe(why), skipped, offset));
    }
    void lost(std::uint64_t missing, std::size_t partial_dropped) {
        if (partial_dropped != 0) {
            dumper.note(origin, fmt::format("{} bytes missing from the capture; dropped the {} "
                                            "bytes of the frame they interrupt",
                                            missing, partial_dropped));
        } else {
            dumper.note(origin, fmt::format("{} bytes missing from the capture", missing));
        }
    }
    void ended_inside_frame(std::size_t buffered) {
        if (strict) {
            dumper.malformed_input(
                origin,
                buffered < 8
                    ? std::string(gossipcluster::describe(gossipcluster::DecodeError::Truncated))
                    : fmt::format("the input ends inside a frame ({} bytes of "
                                  "it present, fewer than its totlen)",
                                  buffered));
        } else {
            dumper.note(origin, fmt::format("the capture ends inside a frame ({} bytes of it "
                                            "present)",
                                            buffered));
        }
    }
    void ended_unsynced(ResyncReason why, std::uint64_t skipped) {
        dumper.note(origin, fmt::format("{}: no frame signature found in the last {} bytes",
                                        describe(why), skipped));
    }
};

}  // namespace busdump
