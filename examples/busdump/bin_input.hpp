// Dumps a file of raw frames: one frame, or several written back to back.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include "dumper.hpp"
#include "frame_stream.hpp"
#include "stream_report.hpp"

namespace busdump {

// Reads in fixed chunks, so memory stays at one chunk plus one partial frame.
inline void dump_bin(std::string_view path, std::FILE* f, Dumper& dumper) {
    FrameStream stream(/*strict_start=*/true);
    StreamReport report{dumper, Origin{path, {}, {}}, /*strict=*/true};
    std::vector<std::uint8_t> chunk(64 * 1024);
    std::size_t total = 0;
    for (;;) {
        const std::size_t n = std::fread(chunk.data(), 1, chunk.size(), f);
        if (n == 0) break;
        total += n;
        stream.on_data(std::span<const std::uint8_t>(chunk.data(), n), report);
    }
    if (std::ferror(f)) {
        dumper.unreadable(path, std::strerror(errno));
        return;
    }
    if (total == 0) {
        dumper.malformed_input(report.origin, "the file is empty");
        return;
    }
    stream.finish(report);
}

}  // namespace busdump
